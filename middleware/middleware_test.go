package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// memRecorder is a Recorder in memory whose store can be made to fail.
type memRecorder struct {
	mu       sync.Mutex
	intents  map[string][]byte // by eventID, until completed
	records  [][]byte          // completed records, in order
	renewed  map[string]int
	down     error // Intend and Complete fail with it while set
	intended atomic.Int64
	// settle, when set, waits for the records a middleware writes after
	// its answers.
	settle func()
}

func newMem() *memRecorder {
	return &memRecorder{intents: map[string][]byte{}, renewed: map[string]int{}}
}

func (r *memRecorder) setDown(err error) {
	r.mu.Lock()
	r.down = err
	r.mu.Unlock()
}

// storable fails a test for a record the server would refuse: it parses
// records with event.Parse, as POST /v1/capture/* does.
func storable(rec []byte) {
	if _, err := event.Parse(rec); err != nil {
		panic(fmt.Sprintf("the server would refuse the record: %v\n%s", err, rec))
	}
}

func (r *memRecorder) Intend(_ context.Context, rec []byte, lease time.Duration) error {
	storable(rec)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down != nil {
		return r.down
	}
	r.intents[eventID(rec)] = rec
	r.intended.Add(1)
	return nil
}

func (r *memRecorder) Renew(_ context.Context, ids []string, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down != nil {
		return r.down
	}
	for _, id := range ids {
		r.renewed[id]++
	}
	return nil
}

func (r *memRecorder) Complete(_ context.Context, rec []byte) error {
	storable(rec)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down != nil {
		return r.down
	}
	delete(r.intents, eventID(rec))
	r.records = append(r.records, rec)
	return nil
}

func (r *memRecorder) all() []map[string]any {
	if r.settle != nil {
		r.settle()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, b := range r.records {
		out = append(out, decode(b))
	}
	return out
}

func eventID(rec []byte) string {
	var v struct {
		EventID string `json:"eventID"`
	}
	_ = json.Unmarshal(rec, &v)
	return v.EventID
}

func decode(b []byte) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		panic(fmt.Sprintf("record is not JSON: %v: %s", err, b))
	}
	return m
}

const account = "123456789012"

func newTest(t *testing.T, rec Recorder, o Options) *Middleware {
	t.Helper()
	o.Recorder = rec
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Service == "" {
		o.Service = "orders.example.com"
	}
	if o.Account == "" {
		o.Account = account
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if mem, ok := rec.(*memRecorder); ok {
		mem.settle = m.pending.Wait
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// get walks a dotted path through a decoded record.
func get(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func want(t *testing.T, rec map[string]any, fields map[string]any) {
	t.Helper()
	for path, w := range fields {
		if got := get(rec, path); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s = %v (%T), want %v", path, got, got, w)
		}
	}
}

func TestMutatingCallIntentThenFinalRecord(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{Region: "eu-west-1"})
	var seen map[string]any
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		// The intent is durable before the handler runs.
		mem.mu.Lock()
		for _, rec := range mem.intents {
			seen = decode(rec)
		}
		mem.mu.Unlock()
		w.Header().Set("X-Request-Id", "req-1")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "cancelled %s (%d bytes)", r.PathValue("id"), len(b))
	})
	srv := httptest.NewServer(m.Wrap(mux))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/orders/42/cancel?reason=late&password=hunter2", strings.NewReader("0123456789"))
	req.Header.Set("User-Agent", "orders-cli/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if seen == nil {
		t.Fatal("the handler ran before the call's intent was stored")
	}
	want(t, seen, map[string]any{
		"eventSource":                            "orders.example.com",
		"eventName":                              "PostOrdersByIdCancel",
		"readOnly":                               false,
		"eventType":                              "AwsApiCall",
		"managementEvent":                        true,
		"eventCategory":                          "Management",
		"awsRegion":                              "eu-west-1",
		"sourceIPAddress":                        "127.0.0.1",
		"userAgent":                              "orders-cli/1.0",
		"recipientAccountId":                     account,
		"userIdentity.type":                      "AWSAccount",
		"requestParameters.id":                   "42",
		"requestParameters.reason":               "late",
		"requestParameters.password":             "HIDDEN_DUE_TO_SECURITY_REASONS",
		"additionalEventData.outcome":            "unknown",
		"responseElements":                       nil,
		"errorCode":                              nil,
		"eventVersion":                           "1.09",
		"additionalEventData.bytesTransferredIn": nil,
	})
	recs := mem.all()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	final := recs[0]
	if final["eventID"] != seen["eventID"] {
		t.Errorf("final eventID %v, intent's %v: one record per call needs the same eventID", final["eventID"], seen["eventID"])
	}
	want(t, final, map[string]any{
		"eventName":                              "PostOrdersByIdCancel",
		"eventTime":                              seen["eventTime"],
		"requestID":                              "req-1",
		"errorCode":                              nil,
		"recipientAccountId":                     account,
		"additionalEventData.bytesTransferredIn": 10,
		"additionalEventData.bytesTransferredOut": len(body),
		"additionalEventData.outcome":             nil,
	})
	if n := len(mem.intents); n != 0 {
		t.Errorf("%d intents left after the call completed", n)
	}
}

func TestReadRecordedAfterTheAnswer(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mem.intended.Load() != 0 {
			t.Error("a read's intent was stored before it ran; reads are recorded after the fact by default")
		}
		io.WriteString(w, "[]")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/orders/42?limit=5", nil))
	recs := mem.all()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	want(t, recs[0], map[string]any{
		"eventName":               "GetOrders", // no pattern: method and first segment
		"readOnly":                true,
		"requestParameters.limit": "5",
		"errorCode":               nil,
	})

	// ReadOnlyBefore treats reads like writes.
	mem2 := newMem()
	m2 := newTest(t, mem2, Options{ReadOnlyBefore: true})
	m2.Wrap(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	if mem2.intended.Load() != 1 {
		t.Errorf("ReadOnlyBefore: %d intents, want 1", mem2.intended.Load())
	}
	want(t, mem2.all()[0], map[string]any{"errorCode": "NotFound", "eventName": "GetX"})
}

func TestFailClosed(t *testing.T) {
	mem := newMem()
	mem.setDown(errors.New("records cannot be stored at http://127.0.0.1:4747: connection refused"))
	m := newTest(t, mem, Options{})
	called := false
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("DELETE", "/orders/42", nil))
	if called {
		t.Fatal("the handler ran although the call's intent could not be stored")
	}
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Type != "ServiceUnavailableException" || e.Message == "" {
		t.Errorf("body %s, want {__type: ServiceUnavailableException, message}", w.Body)
	}
	if got := w.Header().Get("x-amzn-ErrorType"); got != "ServiceUnavailableException" {
		t.Errorf("x-amzn-ErrorType %q", got)
	}
	if w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
	}
	// A read still runs and is recorded once the store is back.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/orders", nil))
	if !called {
		t.Error("a read was refused: reads are recorded after the fact")
	}
	m.pending.Wait() // the read's record has failed and is queued
	mem.setDown(nil)
	m.flush(context.Background())
	recs := mem.all()
	if len(recs) != 2 || recs[0]["eventName"] != "GetOrders" || recs[1]["eventName"] != "CaptureGap" {
		t.Fatalf("records %v, want the read's and a gap", recs)
	}
	want(t, recs[1], map[string]any{"serviceEventDetails.callsForwarded": 1, "serviceEventDetails.recordsRecoveredLate": 1})
}

func TestFailOpenRecordsTheGap(t *testing.T) {
	mem := newMem()
	now := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	m := newTest(t, mem, Options{FailOpen: true, QueueSize: 3, Now: func() time.Time {
		return now.Add(time.Duration(clock.Add(1)) * time.Second)
	}})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }))
	mem.setDown(errors.New("store: disk full"))
	for i := range 5 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("PUT", fmt.Sprintf("/items/%d", i), nil))
		if w.Code != http.StatusCreated {
			t.Fatalf("call %d: status %d, want the handler's 201 (fail_open)", i, w.Code)
		}
	}
	m.flush(context.Background()) // the store is still down: nothing moves
	if len(mem.all()) != 0 {
		t.Fatal("records stored while the store is down")
	}
	mem.setDown(nil)
	m.flush(context.Background())
	recs := mem.all()
	if len(recs) != 4 {
		t.Fatalf("%d records, want the 3 queued and the gap", len(recs))
	}
	for _, r := range recs[:3] {
		if r["eventName"] != "PutItems" || get(r, "additionalEventData.outcome") != nil {
			t.Errorf("queued record %v", r)
		}
	}
	want(t, recs[3], map[string]any{
		"eventSource":                        "capture.opentrail",
		"eventName":                          "CaptureGap",
		"eventType":                          "AwsServiceEvent",
		"readOnly":                           false,
		"managementEvent":                    true,
		"recipientAccountId":                 account,
		"serviceEventDetails.callsForwarded": 5,
		"serviceEventDetails.recordsRecoveredLate": 3,
		"serviceEventDetails.recordsLost":          2,
		"serviceEventDetails.reason":               "store: disk full",
		"serviceEventDetails.firstUnrecordedTime":  "2026-12-05T14:00:01Z",
		"serviceEventDetails.lastUnrecordedTime":   "2026-12-05T14:00:05Z",
	})
	// A second outage is a second gap.
	mem.setDown(errors.New("store: closed"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/items/9", nil))
	mem.setDown(nil)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs = mem.all()
	if len(recs) != 6 {
		t.Fatalf("%d records after the second outage, want 6", len(recs))
	}
	want(t, recs[5], map[string]any{"serviceEventDetails.callsForwarded": 1, "serviceEventDetails.recordsLost": 0,
		"serviceEventDetails.reason": "store: closed"})
}

func TestPanickingHandlerIsRecorded(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/orders", "application/json", strings.NewReader(`{}`))
	if err == nil {
		resp.Body.Close() // net/http drops the connection of a panicking handler
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(mem.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	recs := mem.all()
	if len(recs) != 1 {
		t.Fatalf("%d records, want the panicking call's", len(recs))
	}
	want(t, recs[0], map[string]any{
		"eventName":    "PostOrders",
		"errorCode":    "InternalError",
		"errorMessage": "The handler panicked: boom",
	})
}

func TestErrorCodes(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"__type":"OrderConflictException","message":"order 42 is shipped"}`)
	})
	mux.HandleFunc("POST /b", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such order", http.StatusNotFound)
	})
	mux.HandleFunc("POST /c", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	})
	mux.HandleFunc("POST /d", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/a", http.StatusSeeOther)
	})
	h := m.Wrap(mux)
	for _, p := range []string{"/a", "/b", "/c", "/d"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", p, nil))
	}
	recs := map[string]map[string]any{}
	for _, r := range mem.all() {
		recs[r["eventName"].(string)] = r
	}
	want(t, recs["PostA"], map[string]any{"errorCode": "OrderConflictException", "errorMessage": "order 42 is shipped"})
	want(t, recs["PostB"], map[string]any{"errorCode": "NotFound"})
	want(t, recs["PostC"], map[string]any{"errorCode": "TooManyRequests"})
	want(t, recs["PostD"], map[string]any{"errorCode": nil, "errorMessage": nil})
}

func TestResponseElements(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{ResponseElements: 1024})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"tokenId":"t-1","accessToken":"s3cr3t"}`)
	})
	mux.HandleFunc("POST /big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"blob":"`+strings.Repeat("x", 2000)+`"}`)
	})
	mux.HandleFunc("GET /tokens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"tokenId":"t-1"}`)
	})
	h := m.Wrap(mux)
	for _, c := range []struct{ method, path string }{{"POST", "/tokens"}, {"POST", "/big"}, {"GET", "/tokens"}} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.path, nil))
		mem.all() // records in the order of the calls
	}
	recs := mem.all()
	want(t, recs[0], map[string]any{"responseElements.tokenId": "t-1", "responseElements.accessToken": "HIDDEN_DUE_TO_SECURITY_REASONS"})
	want(t, recs[1], map[string]any{"responseElements": nil}) // longer than ResponseElements
	want(t, recs[2], map[string]any{"responseElements": nil}) // reads record none
}

func TestConcurrentCalls(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, r.PathValue("id"))
	})
	srv := httptest.NewServer(m.Wrap(mux))
	defer srv.Close()
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/items/%d", srv.URL, i), strings.NewReader(strings.Repeat("a", i)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	recs := mem.all()
	if len(recs) != n || int(mem.intended.Load()) != n {
		t.Fatalf("%d records and %d intents, want %d of each", len(recs), mem.intended.Load(), n)
	}
	ids := map[string]bool{}
	for _, r := range recs {
		id := fmt.Sprint(get(r, "requestParameters.id"))
		if in := fmt.Sprint(get(r, "additionalEventData.bytesTransferredIn")); in != id {
			t.Errorf("item %s: bytesTransferredIn %s: records mixed up between calls", id, in)
		}
		ids[r["eventID"].(string)] = true
	}
	if len(ids) != n || len(mem.intents) != 0 {
		t.Errorf("%d distinct eventIDs, %d intents left", len(ids), len(mem.intents))
	}
}

func TestLeasesOfCallsInFlightAreRenewed(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{Lease: 90 * time.Millisecond})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(400 * time.Millisecond) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/slow", nil))
	id := mem.all()[0]["eventID"].(string)
	mem.mu.Lock()
	n := mem.renewed[id]
	mem.mu.Unlock()
	if n < 2 {
		t.Errorf("lease renewed %d times during a 400 ms call with a 90 ms lease, want at least 2", n)
	}
	// Once done, the call's lease is no longer renewed.
	time.Sleep(100 * time.Millisecond)
	mem.mu.Lock()
	after := mem.renewed[id]
	mem.mu.Unlock()
	time.Sleep(150 * time.Millisecond)
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if mem.renewed[id] != after {
		t.Errorf("lease still renewed after the call completed")
	}
}

func TestTrustedProxyHeader(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: []string{"10.0.0.0/8", "192.0.2.1"}})
	h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, c := range []struct{ peer, xff, want string }{
		{"10.1.2.3:5000", "203.0.113.7", "203.0.113.7"},
		{"10.1.2.3:5000", "198.51.100.1, 203.0.113.7, 10.9.9.9", "203.0.113.7"}, // rightmost untrusted hop
		{"192.0.2.1:80", "203.0.113.8", "203.0.113.8"},
		{"198.51.100.9:5000", "203.0.113.7", "198.51.100.9"}, // not a trusted proxy: header ignored
		{"10.1.2.3:5000", "", "10.1.2.3"},
		{"10.1.2.3:5000", "junk", "10.1.2.3"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		recs := mem.all()
		if got := recs[len(recs)-1]["sourceIPAddress"]; got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: sourceIPAddress %v, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

func TestIdentity(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{Identity: func(r *http.Request) *Principal {
		if u := r.Header.Get("X-User"); u != "" {
			return &Principal{Type: "IAMUser", UserName: u, AccountID: "210987654321", ARN: "arn:aws:iam::210987654321:user/" + u, PrincipalID: "AIDA" + u}
		}
		return nil
	}})
	h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-User", "alice")
	h.ServeHTTP(httptest.NewRecorder(), r)
	want(t, mem.all()[0], map[string]any{
		"userIdentity.type":      "IAMUser",
		"userIdentity.userName":  "alice",
		"userIdentity.accountId": "210987654321",
		"userIdentity.arn":       "arn:aws:iam::210987654321:user/alice",
		"recipientAccountId":     account, // the service's account, not the caller's
		"eventName":              "GetRoot",
	})
}

// TestBodiesStream checks that neither the request nor the answer is held
// whole: the handler reads the request's first bytes before the client has
// sent the rest, the client reads the answer's first bytes before the
// handler has written the rest, and 64 MiB each way allocate far less.
func TestBodiesStream(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{})
	const size = 64 << 20
	firstIn, firstOut := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /blob", func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 32<<10)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			t.Error(err)
		}
		close(firstIn) // the client sends the rest only after this
		n, _ := io.Copy(io.Discard, r.Body)
		w.Write(buf)
		w.(http.Flusher).Flush()
		<-firstOut // the client has the answer's first bytes
		chunk := bytes.Repeat([]byte("y"), 32<<10)
		for sent := int64(len(buf)); sent < size; sent += int64(len(chunk)) {
			w.Write(chunk)
		}
		_ = n
	})
	srv := httptest.NewServer(m.Wrap(mux))
	defer srv.Close()
	pr, pw := io.Pipe()
	go func() {
		pw.Write(make([]byte, 32<<10))
		<-firstIn
		chunk := make([]byte, 32<<10)
		for sent := 32 << 10; sent < size; sent += len(chunk) {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	req, _ := http.NewRequest("PUT", srv.URL+"/blob", pr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 32<<10)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	close(firstOut)
	rest, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if got := rest + int64(len(first)); got < size {
		t.Fatalf("answer %d bytes, want %d", got, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("streaming 2×64 MiB allocated %d MiB: a body is being held", alloc>>20)
	}
	recs := mem.all()
	want(t, recs[0], map[string]any{
		"additionalEventData.bytesTransferredIn":  fmt.Sprint(size),
		"additionalEventData.bytesTransferredOut": fmt.Sprint(rest + int64(len(first))),
	})
}

func TestNewChecksOptions(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Account: account, Recorder: newMem()}, "Options.Service"},
		{Options{Service: "a.example.com", Account: "12", Recorder: newMem()}, "Options.Account"},
		{Options{Service: "a.example.com", Account: account}, "Options.Endpoint"},
		{Options{Service: "a.example.com", Account: account, Recorder: newMem(), TrustedProxies: []string{"10.0.0.0/99"}}, "TrustedProxies"},
	} {
		_, err := New(c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", c.o, err, c.want)
		}
	}
}

func TestOperationName(t *testing.T) {
	for _, c := range []struct{ method, pattern, path, want string }{
		{"GET", "GET /orders", "/orders", "GetOrders"},
		{"GET", "GET /orders/{id}", "/orders/1", "GetOrdersById"},
		{"POST", "POST /orders/{id}/cancel", "/orders/1/cancel", "PostOrdersByIdCancel"},
		{"DELETE", "/files/{path...}", "/files/a/b", "DeleteFilesByPath"},
		{"GET", "GET /{$}", "/", "GetRoot"},
		{"GET", "example.com/api/v2/line-items", "/api/v2/line-items", "GetApiV2LineItems"},
		{"PATCH", "", "/users/42/name", "PatchUsers"},
		{"GET", "", "/", "GetRoot"},
		{"GET", "/static/", "/static/app.js", "GetStatic"},
	} {
		if got := OperationName(c.method, c.pattern, c.path); got != c.want {
			t.Errorf("OperationName(%q, %q, %q) = %q, want %q", c.method, c.pattern, c.path, got, c.want)
		}
	}
}

func TestCloseReportsRecordsNotStored(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{FailOpen: true})
	mem.setDown(errors.New("store: gone"))
	m.Wrap(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/x", nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := m.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 records could not be stored") || !strings.Contains(err.Error(), "store: gone") {
		t.Errorf("Close = %v, want the call's record and its gap record counted, and the store's error", err)
	}
}

func TestHijackedConnectionIsRecorded(t *testing.T) {
	mem := newMem()
	m := newTest(t, mem, Options{})
	srv := httptest.NewServer(m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		buf.Flush()
	})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The client has the 101 before the handler returns, so the record may
	// not be on its way yet (settle's WaitGroup cannot wait for it): poll.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mem.mu.Lock()
		n := len(mem.records)
		mem.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no record of the hijacked call after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mem.mu.Lock()
	rec := decode(mem.records[0])
	mem.mu.Unlock()
	want(t, rec, map[string]any{"eventName": "GetWs", "errorCode": nil})
}
