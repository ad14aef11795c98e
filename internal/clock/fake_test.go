package clock_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

var start = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// The interface is met by both clocks.
var _ = []clock.Clock{clock.Real{}, clock.NewFake(start)}

func received(c <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-c:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeTimerFiresAtItsDeadline(t *testing.T) {
	f := clock.NewFake(start)
	tm := f.NewTimer(time.Minute)
	f.Advance(59 * time.Second)
	if v, ok := received(tm.C); ok {
		t.Fatalf("fired early, at %v", v)
	}
	f.Advance(time.Second)
	if v, ok := received(tm.C); !ok || !v.Equal(start.Add(time.Minute)) {
		t.Fatalf("at the deadline: got %v, %v; want the deadline", v, ok)
	}
	if tm.Stop() {
		t.Error("Stop after firing reported an armed timer")
	}
	if f.Waiters() != 0 {
		t.Errorf("%d waiters after the timer fired", f.Waiters())
	}
	f.Advance(time.Hour)
	if _, ok := received(tm.C); ok {
		t.Error("a timer fired twice")
	}
}

func TestFakeStopAndResetDropPendingValues(t *testing.T) {
	f := clock.NewFake(start)
	tm := f.NewTimer(time.Second)
	if !tm.Stop() {
		t.Error("Stop of an armed timer reported false")
	}
	f.Advance(time.Hour)
	if _, ok := received(tm.C); ok {
		t.Error("a stopped timer fired")
	}

	// A value sent but not received is gone after Reset, as with
	// time.Timer since Go 1.23.
	tm.Reset(time.Second)
	f.Advance(time.Second)
	if tm.Reset(time.Minute) {
		t.Error("Reset of a fired timer reported it armed")
	}
	if _, ok := received(tm.C); ok {
		t.Error("a value from before Reset was received after it")
	}
	f.Advance(time.Minute)
	if v, ok := received(tm.C); !ok || !v.Equal(start.Add(time.Hour+time.Second+time.Minute)) {
		t.Errorf("after Reset: %v, %v", v, ok)
	}

	// d <= 0 fires at once, without a move.
	tm.Reset(0)
	if v, ok := received(tm.C); !ok || !v.Equal(f.Now()) {
		t.Errorf("Reset(0): %v, %v", v, ok)
	}
	if v, ok := received(f.NewTimer(-time.Second).C); !ok || !v.Equal(f.Now()) {
		t.Errorf("NewTimer(-1s): %v, %v", v, ok)
	}
}

func TestFakeTickerDropsMissedTicksAndKeepsItsGrid(t *testing.T) {
	f := clock.NewFake(start)
	tk := f.NewTicker(10 * time.Second)
	defer tk.Stop()
	f.Advance(35 * time.Second) // three ticks due; the channel holds one
	if v, ok := received(tk.C); !ok || !v.Equal(start.Add(10*time.Second)) {
		t.Fatalf("first tick: %v, %v", v, ok)
	}
	if _, ok := received(tk.C); ok {
		t.Fatal("missed ticks were queued")
	}
	f.Advance(4 * time.Second) // 10:00:39: the next tick is 10:00:40
	if v, ok := received(tk.C); ok {
		t.Fatalf("tick off the grid at %v", v)
	}
	f.Advance(time.Second)
	if v, ok := received(tk.C); !ok || !v.Equal(start.Add(40*time.Second)) {
		t.Fatalf("tick at 10:00:40: %v, %v", v, ok)
	}
	tk.Reset(time.Minute) // from 10:00:40
	f.Advance(59 * time.Second)
	if _, ok := received(tk.C); ok {
		t.Fatal("tick before the reset period passed")
	}
	f.Advance(time.Second)
	if v, ok := received(tk.C); !ok || !v.Equal(start.Add(100*time.Second)) {
		t.Fatalf("tick after Reset: %v, %v", v, ok)
	}
	tk.Stop()
	f.Advance(time.Hour)
	if _, ok := received(tk.C); ok || f.Waiters() != 0 {
		t.Fatalf("stopped ticker ticked (%v) or is still armed (%d)", ok, f.Waiters())
	}
}

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	f := clock.NewFake(start)
	var order []int
	f.AfterFunc(3*time.Second, func() { order = append(order, 3) })
	f.AfterFunc(time.Second, func() { order = append(order, 1) })
	f.AfterFunc(2*time.Second, func() { order = append(order, 2) })
	f.AfterFunc(time.Second, func() { order = append(order, 11) }) // same deadline: creation order
	never := f.AfterFunc(time.Second, func() { order = append(order, -1) })
	never.Stop()
	f.Advance(3 * time.Second)
	if want := []int{1, 11, 2, 3}; !equal(order, want) {
		t.Errorf("AfterFunc order %v, want %v", order, want)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFakeSetBackwardsFiresNothing(t *testing.T) {
	f := clock.NewFake(start)
	tm := f.NewTimer(time.Minute)
	f.Set(start.Add(-time.Hour))
	if _, ok := received(tm.C); ok || !f.Now().Equal(start.Add(-time.Hour)) {
		t.Fatalf("moving back: fired %v, now %v", ok, f.Now())
	}
	f.Set(start.Add(time.Minute))
	if _, ok := received(tm.C); !ok {
		t.Fatal("the timer kept its deadline but did not fire at it")
	}
}

func TestFakeBlockUntil(t *testing.T) {
	f := clock.NewFake(start)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := f.BlockUntil(ctx, 1); err == nil {
		t.Fatal("BlockUntil returned with no timer armed")
	}
	go func() {
		time.Sleep(5 * time.Millisecond) // arm a little later than the wait starts
		f.NewTimer(time.Second)
	}()
	if err := f.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
}

// A loop that waits on a timer after each step runs once per move, and a
// test that waits for it to arm its timer again sees every step's result
// without sleeping.
func TestFakeDrivesALoopDeterministically(t *testing.T) {
	f := clock.NewFake(start)
	ctx, cancel := context.WithCancel(context.Background())
	var steps atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			steps.Add(1)
			tm := f.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				tm.Stop()
				return
			case <-tm.C:
			}
		}
	}()
	for i := int64(1); i <= 100; i++ {
		if err := f.BlockUntil(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		if got := steps.Load(); got != i {
			t.Fatalf("after %d moves: %d steps", i-1, got)
		}
		f.Advance(time.Second)
	}
	cancel()
	<-done
	if f.Waiters() != 0 {
		t.Errorf("%d timers left armed after the loop stopped", f.Waiters())
	}
}

// Many goroutines make, stop, reset and wait on timers while others move
// the clock; run with -race.
func TestFakeConcurrentUse(t *testing.T) {
	f := clock.NewFake(start)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tm := f.NewTimer(time.Millisecond)
				tk := f.NewTicker(time.Millisecond)
				af := f.AfterFunc(time.Millisecond, func() {})
				_ = f.Now()
				tm.Reset(2 * time.Millisecond)
				select {
				case <-tm.C:
				case <-tk.C:
				case <-stop:
				}
				tm.Stop()
				tk.Stop()
				af.Stop()
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 2000 {
				f.Advance(time.Millisecond)
				_ = f.Waiters()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if f.Waiters() != 0 {
		t.Errorf("%d timers left armed", f.Waiters())
	}
}

func TestRealAndHelpers(t *testing.T) {
	var c clock.Clock = clock.Real{}
	if d := clock.Since(c, time.Now()); d < 0 || d > time.Minute {
		t.Errorf("Since = %v", d)
	}
	tm := c.NewTimer(time.Millisecond)
	<-tm.C
	tk := c.NewTicker(time.Millisecond)
	<-tk.C
	tk.Stop()
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	if _, ok := clock.Or(nil).(clock.Real); !ok {
		t.Error("Or(nil) is not Real")
	}
	f := clock.NewFake(start)
	if clock.Or(f) != f {
		t.Error("Or(f) is not f")
	}
	if clock.Until(f, start.Add(time.Hour)) != time.Hour || clock.Since(f, start.Add(-time.Hour)) != time.Hour {
		t.Error("Since or Until on a Fake")
	}
}
