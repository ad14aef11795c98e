package capture_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/server"
)

// startServer runs a real opentrail server (local mode) in this process
// until the test ends.
func startServer(t testing.TB) (*server.Server, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	s, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	<-s.Ready()
	return s, "http://" + s.Addr()
}

// putObject is a record of PutObject in account; outcome "unknown"
// makes it an intent.
func putObject(id, account, outcome string) []byte {
	extra := `"responseElements":null`
	if outcome != "" {
		extra += `,"additionalEventData":{"outcome":"` + outcome + `"}`
	}
	return []byte(`{"eventVersion":"1.10","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::` + account +
		`:user/alice","accountId":"` + account + `","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"` +
		time.Now().UTC().Format(time.RFC3339) + `","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1",` +
		`"sourceIPAddress":"192.0.2.1","userAgent":"aws-cli","requestParameters":{"bucketName":"b","key":"k"},` + extra +
		`,"requestID":"R1","eventID":"` + id + `","readOnly":false,"eventType":"AwsApiCall","managementEvent":false,` +
		`"recipientAccountId":"` + account + `","eventCategory":"Data"}`)
}

func eventID(i int) string { return fmt.Sprintf("7e3a0000-0000-4000-8000-%012d", i) }

// events returns the records the server holds matching query (a /v1/events
// query string).
func events(t testing.TB, c *client.Client, query string) []map[string]any {
	t.Helper()
	out, err := c.Do(context.Background(), "opentrail", http.MethodGet, "/v1/events?category=all&limit=1000&"+query, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Events []map[string]any }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res.Events
}

func TestRemoteRecordsIntoServer(t *testing.T) {
	_, url := startServer(t)
	c := client.NewStatic(url, "us-east-1", "test", "test")
	r := capture.NewRemote(c, capture.RemoteOptions{})
	defer r.Close(context.Background())
	ctx := context.Background()

	id := eventID(1)
	if err := r.Intend(ctx, putObject(id, "111111111111", "unknown"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := r.Renew(ctx, []string{id}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := r.Complete(ctx, putObject(id, "111111111111", "")); err != nil {
		t.Fatal(err)
	}
	evs := events(t, c, "account=111111111111&EventId="+id)
	if len(evs) != 1 || evs[0]["additionalEventData"] != nil {
		t.Errorf("stored: %v; want the final record", evs)
	}
}

// TestRemoteGroupCommit: 64 concurrent Intends (and Completes) share a
// few requests; the server's own records of the capture calls count
// them.
func TestRemoteGroupCommit(t *testing.T) {
	_, url := startServer(t)
	c := client.NewStatic(url, "us-east-1", "test", "test")
	r := capture.NewRemote(c, capture.RemoteOptions{})
	defer r.Close(context.Background())
	ctx := context.Background()
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			id := eventID(100 + i)
			errs <- r.Intend(ctx, putObject(id, "111111111111", "unknown"), time.Minute)
			errs <- r.Complete(ctx, putObject(id, "111111111111", ""))
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	stored := events(t, c, "account=111111111111&EventName=PutObject")
	if len(stored) != n {
		t.Fatalf("%d records stored, want %d", len(stored), n)
	}
	for _, name := range []string{"PutCaptureIntents", "CompleteCaptureRecords"} {
		// PutCaptureIntents' own records are ingested from the intent
		// journal just after the calls return.
		var calls []map[string]any
		total := 0
		for deadline := time.Now().Add(10 * time.Second); total < n && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			calls = events(t, c, "EventName="+name)
			total = 0
			for _, e := range calls {
				total += int(e["requestParameters"].(map[string]any)["recordCount"].(float64))
			}
		}
		if total != n || len(calls) > 8 {
			t.Errorf("%s: %d requests carried %d records; want %d records in at most 8 requests", name, len(calls), total, n)
		}
		t.Logf("%s: %d concurrent calls in %d requests", name, n, len(calls))
	}
}

// TestRemoteIsolatesBadRecord: a record the server refuses fails its own
// caller only, not those batched with it.
func TestRemoteIsolatesBadRecord(t *testing.T) {
	_, url := startServer(t)
	c := client.NewStatic(url, "us-east-1", "111111111111", "test") // acts for 111111111111 only
	r := capture.NewRemote(c, capture.RemoteOptions{Workers: 1})
	defer r.Close(context.Background())
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make([]error, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			account := "111111111111"
			if i == 7 {
				account = "222222222222" // not the caller's to write
			}
			results[i] = r.Intend(ctx, putObject(eventID(200+i), account, "unknown"), time.Minute)
		}()
	}
	wg.Wait()
	for i, err := range results {
		var ae *client.APIError
		switch {
		case i == 7 && (!errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(err.Error(), "records cannot be stored at "+url)):
			t.Errorf("the other account's record: %v; want a 403 saying where records cannot be stored", err)
		case i != 7 && err != nil:
			t.Errorf("record %d failed with the bad one: %v", i, err)
		}
	}
}

func TestRemoteServerDown(t *testing.T) {
	c := client.NewStatic("http://127.0.0.1:1", "us-east-1", "test", "test")
	r := capture.NewRemote(c, capture.RemoteOptions{Timeout: 2 * time.Second})
	err := r.Intend(context.Background(), putObject(eventID(1), "111111111111", "unknown"), time.Minute)
	var ce *client.ConnError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "records cannot be stored at http://127.0.0.1:1") ||
		!strings.Contains(err.Error(), "is the server running?") {
		t.Errorf("Intend with the server down: %v", err)
	}
	if err := r.Complete(context.Background(), []byte("not json")); err == nil {
		t.Error("Complete took a record that is not JSON")
	}
	r.Close(context.Background())
	if err := r.Intend(context.Background(), putObject(eventID(1), "111111111111", "unknown"), time.Minute); !errors.Is(err, capture.ErrRemoteClosed) {
		t.Errorf("Intend after Close: %v", err)
	}
}

// BenchmarkRemoteIntend measures Intend through a real server from many
// concurrent callers (as a busy gateway calls it), and reports the
// commit latency's median and 99th percentile.
func BenchmarkRemoteIntend(b *testing.B) {
	_, url := startServer(b)
	c := client.NewStatic(url, "us-east-1", "test", "test")
	r := capture.NewRemote(c, capture.RemoteOptions{})
	defer r.Close(context.Background())
	benchRecorder(b, r)
}

// BenchmarkLocalIntend is BenchmarkRemoteIntend for the server's own
// Recorder, which a gateway run by serve records through: no HTTP.
func BenchmarkLocalIntend(b *testing.B) {
	s, _ := startServer(b)
	benchRecorder(b, s.CaptureRecorder())
}

// benchRecorder runs Intend from 64 goroutines per GOMAXPROCS.
func benchRecorder(b *testing.B, r capture.Recorder) {
	var mu sync.Mutex
	var lat []time.Duration
	var seq int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			mu.Lock()
			seq++
			id := eventID(int(seq))
			mu.Unlock()
			t0 := time.Now()
			if err := r.Intend(context.Background(), putObject(id, "111111111111", "unknown"), time.Minute); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "intents/s")
}
