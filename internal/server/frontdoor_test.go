package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/opentrail/opentrail/internal/metrics"
)

// TestFrontDoorDegradedWindow: refusals make the health report degraded
// for 30 s after the last one, and say how many there were.
func TestFrontDoorDegradedWindow(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	d := newFrontDoor(semaphore.NewWeighted(1<<20), 1<<20, 1<<10, metrics.NewRegistry())
	d.now = func() time.Time { return now }
	if got := d.degraded(); got != nil {
		t.Fatalf("fresh: %q", got)
	}
	d.note(refusedSlow)
	now = now.Add(20 * time.Second)
	d.note(refusedSlow)
	d.note(refusedBudget)
	got := d.degraded()
	if len(got) != 2 || !strings.HasPrefix(got[0], "1 requests throttled since 2026-12-01T12:00:20Z") ||
		!strings.HasPrefix(got[1], "2 requests cut off since 2026-12-01T12:00:00Z") {
		t.Fatalf("degraded = %q", got)
	}
	now = now.Add(31 * time.Second)
	if got := d.degraded(); got != nil {
		t.Fatalf("31 s after the last refusal: %q", got)
	}
	d.note(refusedSlow) // a new episode counts from 1
	if got := d.degraded(); len(got) != 1 || !strings.HasPrefix(got[0], "1 requests cut off since 2026-12-01T12:00:51Z") {
		t.Fatalf("new episode: %q", got)
	}
}

// TestFrontDoorShares: unauthenticated bytes are bounded per source and
// server-wide, and authenticating gives their share back.
func TestFrontDoorShares(t *testing.T) {
	const total = 8 << 20
	d := newFrontDoor(semaphore.NewWeighted(total), total, 1<<20, metrics.NewRegistry())
	if d.unauthBytes != total/2 || d.sourceBytes != 1<<20+bodyChunk {
		t.Fatalf("shares %d %d", d.unauthBytes, d.sourceBytes)
	}
	a := &bodyHold{d: d, src: "192.0.2.1"}
	if err := d.reserve(t.Context(), a, d.sourceBytes); err != nil {
		t.Fatal(err)
	}
	if err := d.reserve(t.Context(), a, 1); err == nil {
		t.Fatal("a source went past its share")
	}
	b := &bodyHold{d: d, src: "192.0.2.2"}
	if err := d.reserve(t.Context(), b, 1<<20); err != nil {
		t.Fatalf("another source was held back: %v", err)
	}
	a.authenticated()
	if d.heldUnauth.Load() != 1<<20 || d.heldAll.Load() != d.sourceBytes+1<<20 {
		t.Fatalf("held %d unauthenticated, %d in all", d.heldUnauth.Load(), d.heldAll.Load())
	}
	if err := d.reserve(t.Context(), &bodyHold{d: d, src: "192.0.2.1"}, 1<<20); err != nil {
		t.Fatalf("the source's share was not given back: %v", err)
	}
	// Authenticated requests may use what unauthenticated ones may not.
	if err := d.reserve(t.Context(), &bodyHold{d: d, authed: true}, total-2<<20-d.sourceBytes); err != nil {
		t.Fatal(err)
	}
	a.release()
	b.release()
	if d.heldAll.Load() != total-1<<20-d.sourceBytes || len(d.sources) != 1 {
		t.Fatalf("after release: held %d, sources %v", d.heldAll.Load(), d.sources)
	}
}

// TestFrontDoorBodyDeadlines: a body that stops arriving is cut off after
// the grace period, and the deadline is lifted once the body is in, so a
// request served for longer keeps its context.
func TestFrontDoorBodyDeadlines(t *testing.T) {
	d := newFrontDoor(semaphore.NewWeighted(1<<20), 1<<20, 1<<19, metrics.NewRegistry())
	d.grace, d.minRate = 200*time.Millisecond, 1<<30
	type result struct {
		n      int
		err    error
		ctxErr error
	}
	results := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, hold, err := d.readBody(w, r, 1<<19, false, "127.0.0.1")
		if err == nil {
			time.Sleep(3 * d.grace) // served for longer than the body deadline
		}
		hold.release()
		results <- result{len(body), err, r.Context().Err()}
	}))
	defer srv.Close()

	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(strings.Repeat("x", 100<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := <-results; r.err != nil || r.n != 100<<10 || r.ctxErr != nil {
		t.Fatalf("whole body: read %d, err %v, context %v", r.n, r.err, r.ctxErr)
	}

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly the start")
	r := <-results
	if !errors.As(r.err, new(errBodyTimeout)) {
		t.Fatalf("stalled body: err %v", r.err)
	}
	if el := time.Since(start); el < d.grace || el > 10*d.grace {
		t.Fatalf("stalled body cut off after %v, grace %v", el, d.grace)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.heldAll.Load() != 0 || len(d.sources) != 0 {
		t.Fatalf("after the requests: held %d, sources %v", d.heldAll.Load(), d.sources)
	}
}

// TestFrontDoorReadsWholeBodies: bodies of declared and undeclared length
// are read whole, and one past the limit is refused either way.
func TestFrontDoorReadsWholeBodies(t *testing.T) {
	const limit = 300 << 10
	d := newFrontDoor(semaphore.NewWeighted(1<<20), 1<<20, limit, metrics.NewRegistry())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, hold, err := d.readBody(w, r, limit, r.URL.Query().Has("authed"), "127.0.0.1")
		defer hold.release()
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		fmt.Fprintf(w, "%d %x", len(body), body[len(body)-4:])
	}))
	defer srv.Close()
	payload := strings.Repeat("0123456789abcdef", limit/16)
	for _, tc := range []struct {
		name, query string
		body        string
		chunked     bool
		want        string
	}{
		{"declared length", "", payload, false, fmt.Sprintf("%d 63646566", limit)},
		{"chunked", "", payload, true, fmt.Sprintf("%d 63646566", limit)},
		{"authenticated", "?authed", payload[:70000], false, "70000 63646566"},
		{"declared past the limit", "", payload + "x", false, "larger than"},
		{"chunked past the limit", "", payload + "x", true, "larger than"},
	} {
		var rd io.Reader = strings.NewReader(tc.body)
		if tc.chunked {
			rd = io.MultiReader(rd) // hides the length: sent chunked
		}
		resp, err := http.Post(srv.URL+tc.query, "application/octet-stream", rd)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %d %s, want %q", tc.name, resp.StatusCode, b, tc.want)
		}
	}
	time.Sleep(10 * time.Millisecond) // the handlers' deferred releases
	if d.heldAll.Load() != 0 || d.heldUnauth.Load() != 0 {
		t.Errorf("held %d, %d unauthenticated after the requests", d.heldAll.Load(), d.heldUnauth.Load())
	}
}
