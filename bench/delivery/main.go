// Command delivery measures trail delivery: how fast stored events become
// gzip log files in trail buckets, and how long an event waits between its
// acknowledgement and its delivered file.
//
//	go run ./bench/delivery --mode throughput --events 1000000
//	go run ./bench/delivery --mode steady --rate 20000 --duration 60s --interval 10s
//
// Both modes use three trails in the built-in filesystem store: an
// organisation trail for every region (all management events), a
// single-region trail (management events in us-east-1), and a trail of
// write management events plus every S3 data event. Records come from the
// project's realistic generator (internal/demo, ~1.5 KB each).
//
// throughput: the events are stored first, then delivery starts with every
// window already closed; it reports events/s written as gzip files (counted
// once per trail that selects them) and MB/s of JSON.
//
// steady: a server runs in this process and clients POST events at a
// steady rate for the duration; afterwards every delivered file is read and
// each event's lag is the file's write time minus the time its request was
// acknowledged. It reports lag p50/p99/max and whether delivery kept up.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/keys"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/server"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

const (
	mgmtAccount = "000000000000"
	orgID       = "o-benchmark01"
)

var members = []string{"111122223333", "444455556666"}

// trails are the three benchmark trails: name, bucket and CreateTrail /
// PutEventSelectors settings.
var trails = []struct {
	name string
	set  trail.Settings
}{
	{"org-all", trail.Settings{S3BucketName: "bench-org", IsMultiRegionTrail: true, IsOrganizationTrail: true}},
	{"home-mgmt", trail.Settings{S3BucketName: "bench-home"}},
	{"s3-data", trail.Settings{S3BucketName: "bench-data", IsMultiRegionTrail: true, EventSelectors: []trail.EventSelector{{
		ReadWriteType: "WriteOnly", IncludeManagementEvents: ptr(true),
		DataResources: []trail.DataResource{{Type: "AWS::S3::Object", Values: []string{"arn:aws:s3"}}},
	}}}},
}

func ptr[T any](v T) *T { return &v }

func main() {
	var (
		mode, data         string
		events, rate       int
		duration, interval time.Duration
		seed               int64
	)
	flag.StringVar(&mode, "mode", "steady", "throughput or steady")
	flag.IntVar(&events, "events", 1000000, "throughput: events stored before delivery starts")
	flag.IntVar(&rate, "rate", 20000, "steady: events per second sent")
	flag.DurationVar(&duration, "duration", 60*time.Second, "steady: how long to send")
	flag.DurationVar(&interval, "interval", 10*time.Second, "delivery interval")
	flag.StringVar(&data, "data", "", "data directory (default: a new temporary directory, removed afterwards)")
	flag.Int64Var(&seed, "seed", 11, "generator seed")
	flag.Parse()
	if data == "" {
		d, err := os.MkdirTemp("", "opentrail-delivery-bench-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		data = d
	}
	var err error
	switch mode {
	case "throughput":
		err = throughput(data, events, interval, seed)
	case "steady":
		err = steady(data, rate, duration, interval, seed)
	default:
		err = fmt.Errorf("unknown --mode %q (throughput or steady)", mode)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "delivery bench:", err)
	os.Exit(1)
}

func createBuckets(data string) (*objstore.FSBuckets, error) {
	b, err := objstore.OpenFSBuckets(data + "/buckets")
	if err != nil {
		return nil, err
	}
	for _, t := range trails {
		if err := b.CreateBucket(context.Background(), t.set.S3BucketName, mgmtAccount, "us-east-1"); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func generate(n int, seed int64, fn func(rec []byte) error) error {
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	return demo.Generate(demo.Options{Seed: seed, Events: n, Start: start, Duration: 24 * time.Hour}, fn)
}

// throughput stores events, then times delivery of the backlog.
func throughput(data string, n int, interval time.Duration, seed int64) error {
	ctx := context.Background()
	bk, err := createBuckets(data)
	if err != nil {
		return err
	}
	// Ingest times sit in the past, so every window is closed when
	// delivery starts.
	ingestAt := time.Now().Add(-time.Hour)
	st, err := store.Open(ctx, data, store.Options{Now: func() time.Time { return ingestAt }})
	if err != nil {
		return err
	}
	defer st.Close()
	for _, t := range trails {
		set := t.set
		set.IsLogging = true
		start := ingestAt.Add(-time.Minute)
		set.StartLoggingTime = &start
		doc, _ := json.Marshal(set)
		arn := trail.ARN{Region: "us-east-1", Account: mgmtAccount, Name: t.name}.String()
		if err := st.CreateTrail(ctx, store.Trail{ARN: arn, Name: t.name, Account: mgmtAccount, HomeRegion: "us-east-1", Doc: doc, Created: start, Updated: start}); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "storing %d events...\n", n)
	var batch []*event.Record
	var jsonBytes int64
	flush := func() error {
		if _, err := st.Append(ctx, batch, ingestAt); err != nil {
			return err
		}
		ingestAt = ingestAt.Add(100 * time.Millisecond)
		batch = batch[:0]
		return nil
	}
	err = generate(n, seed, func(raw []byte) error {
		r, err := event.Parse(raw)
		if err != nil {
			return err
		}
		jsonBytes += int64(len(raw))
		batch = append(batch, r)
		if len(batch) == 2000 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return err
	}
	end := ingestAt.Add(interval)
	fmt.Fprintf(os.Stderr, "delivering with 3 trails (GOMAXPROCS %d)...\n", runtime.GOMAXPROCS(0))
	d := delivery.New(st, delivery.Options{
		Interval: interval, Buckets: bk, Org: &trail.Organization{ID: orgID, Management: mgmtAccount, Members: members},
		Keys:   keys.New(st, keys.Options{}),
		Logger: slog.New(slog.DiscardHandler),
	})
	t0 := time.Now()
	d.Start()
	defer d.Close(ctx)
	var total int64
	for {
		total = 0
		done := true
		for _, t := range trails {
			s, err := d.Status(ctx, trail.ARN{Region: "us-east-1", Account: mgmtAccount, Name: t.name}.String())
			if err != nil {
				return err
			}
			total += s.Events
			if s.DeliveredThrough.Before(end) {
				done = false
			}
		}
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	el := time.Since(t0)
	fmt.Printf("| events stored | trails | events written (all trails) | seconds | events/s written | stored events/s | JSON MB/s read |\n|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | 3 | %d | %.1f | %.0f | %.0f | %.1f |\n", n, total, el.Seconds(),
		float64(total)/el.Seconds(), float64(n)/el.Seconds(), float64(jsonBytes)*3/el.Seconds()/1e6)
	return nil
}

// steady sends events at a fixed rate to a server in this process and
// measures ack-to-file lag.
func steady(data string, rate int, duration, interval time.Duration, seed int64) error {
	ctx := context.Background()
	bk, err := createBuckets(data)
	if err != nil {
		return err
	}
	const batch = 500
	n := rate * int(duration/time.Second)
	fmt.Fprintf(os.Stderr, "generating %d events...\n", n)
	var bodies [][]byte
	var ids [][]string
	var cur [][]byte
	var curIDs []string
	err = generate(n, seed, func(raw []byte) error {
		cur = append(cur, append([]byte(nil), raw...))
		curIDs = append(curIDs, fastjson.GetString(raw, "eventID"))
		if len(cur) == batch {
			bodies = append(bodies, bytes.Join(cur, []byte{'\n'}))
			ids = append(ids, curIDs)
			cur, curIDs = nil, nil
		}
		return nil
	})
	if err != nil {
		return err
	}

	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = data
	cfg.Delivery.Interval = interval
	cfg.Organization = &config.Organization{ID: orgID, ManagementAccount: mgmtAccount, Members: members}
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	<-srv.Ready()
	defer func() { stop(); <-done }()
	endpoint := "http://" + srv.Addr()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	signer := v4.NewSigner()
	call := func(service, target string, body []byte, path string) error {
		r, _ := http.NewRequest("POST", endpoint+path, bytes.NewReader(body))
		if target != "" {
			r.Header.Set("X-Amz-Target", "CloudTrail_20131101."+target)
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		}
		sum := sha256.Sum256(body)
		if err := signer.SignHTTP(ctx, creds, r, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
			return err
		}
		resp, err := hc.Do(r)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s %s: %d %s", path, target, resp.StatusCode, b)
		}
		return nil
	}
	for _, t := range trails {
		in, _ := json.Marshal(map[string]any{"Name": t.name, "S3BucketName": t.set.S3BucketName,
			"IsMultiRegionTrail": t.set.IsMultiRegionTrail, "IsOrganizationTrail": t.set.IsOrganizationTrail})
		if err := call("cloudtrail", "CreateTrail", in, "/"); err != nil {
			return err
		}
		if t.set.EventSelectors != nil {
			in, _ := json.Marshal(map[string]any{"TrailName": t.name, "EventSelectors": t.set.EventSelectors})
			if err := call("cloudtrail", "PutEventSelectors", in, "/"); err != nil {
				return err
			}
		}
		if err := call("cloudtrail", "StartLogging", []byte(fmt.Sprintf(`{"Name":%q}`, t.name)), "/"); err != nil {
			return err
		}
	}

	fmt.Fprintf(os.Stderr, "sending %d events/s for %s (interval %s, GOMAXPROCS %d)...\n", rate, duration, interval, runtime.GOMAXPROCS(0))
	acked := make([]time.Time, len(bodies))
	perReq := time.Second * batch / time.Duration(rate)
	t0 := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sendErr error
	behind := 0
	sem := make(chan struct{}, 16)
	for i := range bodies {
		due := t0.Add(time.Duration(i) * perReq)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else if d < -time.Second {
			behind++
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := call("opentrail", "", bodies[i], "/v1/events"); err != nil {
				mu.Lock()
				sendErr = err
				mu.Unlock()
			}
			acked[i] = time.Now()
		}()
	}
	wg.Wait()
	sent := time.Since(t0)
	if sendErr != nil {
		return sendErr
	}
	lastAck := time.Now()
	fmt.Fprintf(os.Stderr, "sent in %.1fs; waiting for delivery...\n", sent.Seconds())
	for {
		ok := true
		for _, t := range trails {
			s, err := srv.Deliverer().Status(ctx, trail.ARN{Region: "us-east-1", Account: mgmtAccount, Name: t.name}.String())
			if err != nil {
				return err
			}
			if s.DeliveredThrough.Before(lastAck) {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Since(lastAck) > 10*interval+time.Minute {
			return fmt.Errorf("delivery did not catch up within %s of the last ack", 10*interval+time.Minute)
		}
		time.Sleep(50 * time.Millisecond)
	}
	caughtUp := time.Since(lastAck)

	ackOf := make(map[string]time.Time, n)
	for i, batchIDs := range ids {
		for _, id := range batchIDs {
			ackOf[id] = acked[i]
		}
	}
	var lags []time.Duration
	files, written := 0, 0
	for _, t := range trails {
		b, err := bk.Bucket(ctx, t.set.S3BucketName)
		if err != nil {
			return err
		}
		for in, err := range objstore.All(ctx, b, "") {
			if err != nil {
				return err
			}
			body, _, err := b.Get(ctx, in.Key)
			if err != nil {
				return err
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				return err
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				return err
			}
			v, err := fastjson.ParseBytes(plain)
			if err != nil {
				return fmt.Errorf("%s: %w", in.Key, err)
			}
			files++
			for _, r := range v.GetArray("Records") {
				written++
				if a, ok := ackOf[string(r.GetStringBytes("eventID"))]; ok {
					lags = append(lags, max(0, in.Modified.Sub(a)))
				}
			}
		}
	}
	if len(lags) == 0 {
		return fmt.Errorf("no delivered events")
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	pct := func(p float64) time.Duration { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
	fmt.Printf("| rate (events/s) | sent in | interval | trails | files | events delivered (all trails) | lag p50 | lag p99 | lag max | caught up after last ack | requests > 1 s late |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %.1f s | %s | 3 | %d | %d | %.2f s | %.2f s | %.2f s | %.2f s | %d |\n", rate, sent.Seconds(), interval,
		files, written, pct(0.5).Seconds(), pct(0.99).Seconds(), lags[len(lags)-1].Seconds(), caughtUp.Seconds(), behind)
	return nil
}
