package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

// pattern is an endless reader of a repeating pattern: a body that is
// never in memory.
type pattern struct{ n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	m := min(int64(len(b)), p.n)
	for i := range b[:m] {
		b[i] = byte('a' + i%26)
	}
	p.n -= m
	return int(m), nil
}

// peakHeap samples the heap in use until stop is called and returns the
// largest sample.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

// TestStreamingBoundedMemory: a 1 GiB upload and a 1 GiB download pass
// through the gateway (and the test's client and upstream, all in this
// process) with the heap bounded far below the body.
func TestStreamingBoundedMemory(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 256 << 20
	}
	up := newUpstream(t)
	up.stream = true
	rec := newRecorder()
	_, gw := testGateway(t, up, rec, nil)
	runtime.GC()
	stop := peakHeap()
	start := time.Now()
	r := signed(t, "PUT", gw.URL+"/bucket/big", "s3", nil, "UNSIGNED-PAYLOAD", nil, "test", "test")
	r.Body, r.ContentLength = io.NopCloser(&pattern{n: size}), size
	resp, body := do(t, r)
	up1 := time.Since(start)
	if resp.StatusCode != 200 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	if s := up.requests()[0]; s.n != size || s.readErr != nil || s.authErr != nil {
		t.Fatalf("upstream read %d bytes (%v, %v)", s.n, s.readErr, s.authErr)
	}
	start = time.Now()
	resp2, err := http.DefaultClient.Do(signed(t, "GET", gw.URL+"/big/"+strconv.FormatInt(size, 10), "s3", nil, "", nil, "test", "test"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp2.Body)
	resp2.Body.Close()
	down := time.Since(start)
	peak := stop()
	if err != nil || n != size {
		t.Fatalf("GET: %d bytes, %v", n, err)
	}
	t.Logf("%d MiB up in %v (%.0f MiB/s), down in %v (%.0f MiB/s); peak heap %d MiB", size>>20,
		up1.Round(time.Millisecond), float64(size>>20)/up1.Seconds(), down.Round(time.Millisecond), float64(size>>20)/down.Seconds(), peak>>20)
	if peak > 64<<20 {
		t.Errorf("peak heap %d MiB while streaming %d MiB: bodies are buffered", peak>>20, size>>20)
	}
	recs := rec.wait(t, 2)
	for _, r := range recs {
		in, out := field(r, "additionalEventData", "bytesTransferredIn"), field(r, "additionalEventData", "bytesTransferredOut")
		if r["eventName"] == "PutObject" && in != float64(size) || r["eventName"] == "GetObject" && out != float64(size) {
			t.Errorf("%v: in %v, out %v", r["eventName"], in, out)
		}
	}
}

// TestClientDisconnectMidBody: a client that goes away mid-upload leaves
// the upstream with an incomplete body (nothing stored) and the call's
// record says its outcome is unknown and why.
func TestClientDisconnectMidBody(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	_, gw := testGateway(t, up, rec, nil)
	r := signed(t, "PUT", gw.URL+"/bucket/cut", "s3", nil, "UNSIGNED-PAYLOAD", nil, "test", "test")
	r.ContentLength = 10 << 20
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), errAfter{}))
	if _, err := http.DefaultClient.Do(r); err == nil {
		t.Fatal("the client's request succeeded")
	}
	got := rec.wait(t, 1)[0]
	if got["eventName"] != "PutObject" || field(got, "additionalEventData", "outcome") != "unknown" ||
		!strings.Contains(field(got, "additionalEventData", "upstreamError").(string), "client closed") {
		t.Errorf("record: %v", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(up.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := up.requests(); len(s) != 1 || s[0].readErr == nil {
		t.Errorf("upstream: %+v", s)
	}
	up.mu.Lock()
	_, stored := up.objects["/bucket/cut"]
	up.mu.Unlock()
	if stored {
		t.Error("the upstream stored a cut-off upload")
	}
}

type errAfter struct{}

func (errAfter) Read([]byte) (int, error) { return 0, errors.New("client gone") }

// TestLeaseRenewal: the lease of a call still in flight is renewed every
// lease/3, and no longer once the call is complete.
func TestLeaseRenewal(t *testing.T) {
	up := newUpstream(t)
	up.block = make(chan struct{})
	rec := newRecorder()
	fake := clock.NewFake(time.Now())
	_, gw := testGateway(t, up, rec, func(o *Options) { o.Clock = fake; o.Lease = 3 * time.Second })
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, signed(t, "PUT", gw.URL+"/bucket/slow", "s3", strings.NewReader("x"), "", nil, "test", "test"))
	}()
	var id string
	for deadline := time.Now().Add(5 * time.Second); id == ""; {
		rec.mu.Lock()
		for k := range rec.intents {
			id = k
		}
		rec.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("no intent")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fake.BlockUntil(ctx, 2); err != nil { // the renew and flush tickers
		t.Fatal(err)
	}
	renewed := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.renewed[id]
	}
	for i := 1; i <= 3; i++ {
		fake.Advance(time.Second)
		for deadline := time.Now().Add(5 * time.Second); renewed() < i; {
			if time.Now().After(deadline) {
				t.Fatalf("after %ds the lease was renewed %d times, want %d", i, renewed(), i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(up.block)
	<-done
	rec.wait(t, 1)
	n := renewed()
	fake.Advance(time.Second)
	time.Sleep(50 * time.Millisecond)
	if renewed() != n {
		t.Error("a completed call's lease is still renewed")
	}
}
