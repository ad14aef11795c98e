package compact_test

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/compact"
	"github.com/opentrail/opentrail/internal/store"
)

// fakeStore has one event a second, ingested at t0 + seq seconds.
type fakeStore struct {
	mu    sync.Mutex
	t0    time.Time
	last  int64
	cold  int64
	calls []int64
}

func (f *fakeStore) SealedThrough(_ context.Context, t time.Time) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := int64(t.Sub(f.t0) / time.Second)
	if t.Sub(f.t0)%time.Second == 0 {
		n-- // ingested before t, strictly
	}
	return max(0, min(n, f.last)), nil
}

func (f *fakeStore) ColdThrough() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cold
}

func (f *fakeStore) Compact(_ context.Context, through int64) (store.CompactResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := store.CompactResult{From: f.cold, Through: through, Events: through - f.cold}
	f.cold = through
	f.calls = append(f.calls, through)
	return res, nil
}

func TestStepPolicy(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0.Add(1000 * time.Second))
	st := &fakeStore{t0: t0, last: 1000}
	c := compact.New(st, compact.Options{After: 100 * time.Second, MinEvents: 500, MaxWait: 600 * time.Second, MaxBatch: 300,
		Clock: clk, Logger: slog.New(slog.DiscardHandler)})

	// 899 sealed events wait: more than MinEvents, moved 300 at a time.
	for i, want := range []int64{300, 600, 899} {
		more, err := c.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.ColdThrough(); got != want {
			t.Fatalf("step %d: cold through %d, want %d", i, got, want)
		}
		if more != (want < 899) {
			t.Fatalf("step %d: more = %v", i, more)
		}
	}
	// 100 more sealed events: fewer than MinEvents and none has waited
	// MaxWait, so they wait.
	st.mu.Lock()
	st.last = 1100
	st.mu.Unlock()
	clk.Advance(100 * time.Second)
	if _, err := c.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := st.ColdThrough(); got != 899 {
		t.Fatalf("a small batch was compacted early: cold through %d", got)
	}
	// Once the oldest waiting one is older than MaxWait, they go.
	clk.Advance(600 * time.Second)
	if _, err := c.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := st.ColdThrough(); got != 1100 {
		t.Fatalf("overdue events not compacted: cold through %d", got)
	}
	if !sort.SliceIsSorted(st.calls, func(i, j int) bool { return st.calls[i] < st.calls[j] }) {
		t.Fatalf("compactions out of order: %v", st.calls)
	}
}

// TestLoopCompactsOnTheClock: the running component compacts when its
// clock ticks, and Close stops it.
func TestLoopCompactsOnTheClock(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0.Add(10 * time.Second))
	st := &fakeStore{t0: t0, last: 50}
	c := compact.New(st, compact.Options{After: time.Second, MinEvents: 1, Interval: time.Minute, Clock: clk, Logger: slog.New(slog.DiscardHandler)})
	c.Start()
	deadline := time.Now().Add(5 * time.Second)
	for st.ColdThrough() != 8 {
		if time.Now().After(deadline) {
			t.Fatalf("first compaction: cold through %d, want 8", st.ColdThrough())
		}
		time.Sleep(5 * time.Millisecond)
	}
	clk.Advance(time.Minute)
	for st.ColdThrough() != 50 {
		if time.Now().After(deadline) {
			t.Fatalf("after a tick: cold through %d, want 50", st.ColdThrough())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
