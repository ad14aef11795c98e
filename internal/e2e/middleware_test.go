package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/testserver"
	"github.com/opentrail/opentrail/middleware"
)

// TestMiddlewareThroughServer runs the public middleware against a real
// opentrail server (Options.Endpoint): calls are recorded once each and
// found in history; with the server stopped, a mutating call is refused
// with 503 and never reaches the handler (fail-closed), or runs and is
// recorded late with a CaptureGap record once the server is back
// (fail-open).
func TestMiddlewareThroughServer(t *testing.T) {
	t.Parallel()
	const acct, region = "123456789012", "eu-west-1"
	s := testserver.Start(t, testserver.Options{Env: []string{"OPENTRAIL_E2E_AS_COMMAND=1"}})

	var handled atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux.HandleFunc("POST /orders/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		io.Copy(io.Discard, r.Body)
		if r.PathValue("id") == "shipped" {
			http.Error(w, "order already shipped", http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	newApp := func(failOpen bool) *httptest.Server {
		m, err := middleware.New(middleware.Options{
			Endpoint: s.URL, AccessKeyID: acct, SecretAccessKey: "test",
			Service: "orders.example.com", Account: acct, Region: region,
			FailOpen: failOpen, CommitTimeout: 3 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		app := httptest.NewServer(m.Wrap(mux))
		t.Cleanup(func() {
			app.Close()
			_ = m.Close(context.Background())
		})
		return app
	}
	closed, open := newApp(false), newApp(true)
	call := func(app *httptest.Server, method, path string) int {
		t.Helper()
		req, _ := http.NewRequest(method, app.URL+path, strings.NewReader(`{"note":"x"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	if got := call(closed, "POST", "/orders/42/cancel?reason=late"); got != http.StatusAccepted {
		t.Fatalf("cancel: %d", got)
	}
	if got := call(closed, "POST", "/orders/shipped/cancel"); got != http.StatusConflict {
		t.Fatalf("cancel shipped: %d", got)
	}
	if got := call(closed, "GET", "/orders/42"); got != http.StatusOK {
		t.Fatalf("get: %d", got)
	}
	ct := cloudtrail.New(cloudtrail.Options{Region: region, BaseEndpoint: &s.URL, Credentials: credProvider(acct)})
	recs := waitMiddlewareRecords(t, ct, "orders.example.com", 3)
	byName := map[string][]map[string]any{}
	for _, r := range recs {
		byName[fmt.Sprint(r["eventName"])] = append(byName[fmt.Sprint(r["eventName"])], r)
	}
	if len(byName["PostOrdersByIdCancel"]) != 2 || len(byName["GetOrdersById"]) != 1 {
		t.Fatalf("records %v, want two cancels and one get: one record per call", names(recs))
	}
	for _, r := range recs {
		if ad, _ := r["additionalEventData"].(map[string]any); ad["outcome"] != nil {
			t.Errorf("%s: the intent (outcome unknown) was stored instead of the final record", r["eventName"])
		}
		if r["recipientAccountId"] != acct || r["awsRegion"] != region || r["eventSource"] != "orders.example.com" {
			t.Errorf("record %v", r)
		}
	}
	codes := []string{fmt.Sprint(byName["PostOrdersByIdCancel"][0]["errorCode"]), fmt.Sprint(byName["PostOrdersByIdCancel"][1]["errorCode"])}
	slices.Sort(codes)
	if codes[0] != "<nil>" || codes[1] != "Conflict" {
		t.Errorf("errorCodes %v, want none and Conflict", codes)
	}

	// The store is gone: fail-closed refuses writes before the handler,
	// fail-open lets them through, reads run either way.
	s.Stop()
	before := handled.Load()
	if got := call(closed, "POST", "/orders/7/cancel"); got != http.StatusServiceUnavailable {
		t.Fatalf("fail-closed with the server stopped: %d, want 503", got)
	}
	if handled.Load() != before {
		t.Fatal("a refused call reached the handler")
	}
	if got := call(open, "POST", "/orders/8/cancel"); got != http.StatusAccepted {
		t.Fatalf("fail-open with the server stopped: %d, want the handler's 202", got)
	}
	s.Restart()
	gap := waitMiddlewareRecords(t, ct, "capture.opentrail", 1)[0]
	d, _ := gap["serviceEventDetails"].(map[string]any)
	if gap["eventName"] != "CaptureGap" || fmt.Sprint(d["callsForwarded"]) != "1" || fmt.Sprint(d["recordsRecoveredLate"]) != "1" ||
		fmt.Sprint(d["recordsLost"]) != "0" || !strings.Contains(fmt.Sprint(d["reason"]), s.URL) {
		t.Errorf("gap record %v", gap)
	}
	late := waitMiddlewareRecords(t, ct, "orders.example.com", 4)
	found := false
	for _, r := range late {
		if p, _ := r["requestParameters"].(map[string]any); p["id"] == "8" {
			found = true
		}
		if p, _ := r["requestParameters"].(map[string]any); p["id"] == "7" {
			t.Errorf("the refused call was recorded as made: %v", r)
		}
	}
	if !found {
		t.Errorf("the call let through while the server was down was not recorded late: %v", names(late))
	}
}

// BenchmarkMiddlewareThroughServer measures what the middleware adds to a
// call when records go to a real server (intent and final record, each
// fsynced there): the same handler bare and wrapped, in the same run, one
// call at a time and 64 at once (the remote recorder's group commit).
//
//	go test -run - -bench MiddlewareThroughServer -benchtime 2000x ./internal/e2e
func BenchmarkMiddlewareThroughServer(b *testing.B) {
	const acct = "123456789012"
	s := testserver.Start(b, testserver.Options{Env: []string{"OPENTRAIL_E2E_AS_COMMAND=1"}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"id":"1"}`) })
	mux.HandleFunc("POST /orders/{id}/cancel", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	m, err := middleware.New(middleware.Options{Endpoint: s.URL, AccessKeyID: acct, SecretAccessKey: "test",
		Service: "orders.example.com", Account: acct})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	bare, wrapped := httptest.NewServer(mux), httptest.NewServer(m.Wrap(mux))
	defer bare.Close()
	defer wrapped.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	call := func(url, method string) time.Duration {
		began := time.Now()
		var resp *http.Response
		var err error
		if method == "GET" {
			resp, err = hc.Get(url)
		} else {
			resp, err = hc.Post(url, "application/json", strings.NewReader(`{}`))
		}
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(began)
	}
	// What the store itself takes: one intent, one final record, through
	// the remote recorder the middleware uses.
	rec := capture.NewRemote(client.NewStatic(s.URL, "us-east-1", acct, "test"), capture.RemoteOptions{})
	defer rec.Close(context.Background())
	for _, op := range []string{"intend", "complete"} {
		b.Run("store/"+op, func(b *testing.B) {
			lat := make([]time.Duration, b.N)
			for i := range b.N {
				r := testserver.Record(testserver.Rec{ID: awsapi.NewUUID(), Account: acct, Name: "CancelOrder", Source: "orders.example.com", Time: time.Now()})
				began := time.Now()
				var err error
				if op == "intend" {
					err = rec.Intend(context.Background(), r, time.Minute)
				} else {
					err = rec.Complete(context.Background(), r)
				}
				if err != nil {
					b.Fatal(err)
				}
				lat[i] = time.Since(began)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
	for _, c := range []struct {
		name, method, path string
		parallel           int
	}{
		{"read", "GET", "/orders/1", 1}, {"write", "POST", "/orders/1/cancel", 1}, {"write-64", "POST", "/orders/1/cancel", 64},
	} {
		for _, srv := range []struct {
			name string
			url  string
		}{{"bare", bare.URL}, {"wrapped", wrapped.URL}} {
			b.Run(c.name+"/"+srv.name, func(b *testing.B) {
				lat := make([]time.Duration, b.N)
				var next atomic.Int64
				var wg sync.WaitGroup
				for range c.parallel {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
							lat[i] = call(srv.url+c.path, c.method)
						}
					}()
				}
				wg.Wait()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			})
		}
	}
}

// waitMiddlewareRecords waits until history holds n records of source and returns
// them, decoded.
func waitMiddlewareRecords(t *testing.T, ct *cloudtrail.Client, source string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := ct.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{
			LookupAttributes: attr(types.LookupAttributeKeyEventSource, source),
		})
		if err == nil && len(out.Events) >= n {
			var recs []map[string]any
			for _, e := range out.Events {
				var r map[string]any
				if err := json.Unmarshal([]byte(*e.CloudTrailEvent), &r); err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
			}
			if len(recs) > n {
				t.Fatalf("%d records of %s, want %d: %v", len(recs), source, n, names(recs))
			}
			return recs
		}
		if time.Now().After(deadline) {
			got := 0
			if out != nil {
				got = len(out.Events)
			}
			t.Fatalf("%d records of %s after 15 s, want %d (err %v)", got, source, n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
