package clock

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Fake is a Clock for tests whose time moves only in Set and Advance. Its
// timers and tickers fire there, in deadline order, so a test decides
// exactly which windows and periods have passed. Create it with NewFake;
// it is safe for concurrent use.
//
// Timers and tickers send their deadline on C. A ticker that misses
// several periods in one move fires once, then on its grid after the new
// time, as a time.Ticker drops ticks for a slow receiver. Functions of
// AfterFunc run on the goroutine that moves the clock, one after another,
// before Set or Advance returns; unlike time.AfterFunc, and so that a test
// knows they are done. One whose delay is <= 0 runs in its own goroutine
// at once, since no move is coming to run it.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64        // orders waiters with equal deadlines by creation
	waiters []*fakeTimer  // armed timers and tickers
	changed chan struct{} // closed and replaced when waiters grows
}

// NewFake returns a Fake reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// fakeTimer is a timer, ticker or AfterFunc of a Fake.
type fakeTimer struct {
	f      *Fake
	c      chan time.Time // nil for AfterFunc
	fn     func()         // AfterFunc's function
	period time.Duration  // a ticker's period; 0 for timers
	when   time.Time      // next deadline, while armed
	seq    uint64
	armed  bool
}

// Now returns the Fake's time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a Timer that fires when the Fake reaches Now()+d; with
// d <= 0, its channel holds the time at once.
func (f *Fake) NewTimer(d time.Duration) *Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	t.Reset(d)
	return &Timer{C: t.c, ctl: t}
}

// NewTicker returns a Ticker that fires each time the Fake passes a
// multiple of d after Now(). It panics if d <= 0.
func (f *Fake) NewTicker(d time.Duration) *Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	t := &fakeTimer{f: f, c: make(chan time.Time, 1), period: d}
	t.resetTicker(d)
	return &Ticker{C: t.c, ctl: tickerCtl{t}}
}

// AfterFunc returns a Timer that calls fn when the Fake reaches Now()+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) *Timer {
	t := &fakeTimer{f: f, fn: fn}
	t.Reset(d)
	return &Timer{ctl: t}
}

// Advance moves the Fake's time on by d and fires what fell due; see Set.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	to := f.now.Add(d)
	f.mu.Unlock()
	f.Set(to)
}

// Set sets the Fake's time to t and fires every timer and ticker due at or
// before t, in deadline order (creation order among equal deadlines). It
// returns once each due timer's value is on its channel and each due
// AfterFunc function has returned. Moving time back fires nothing; timers
// keep their deadlines.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.now = t
	var due []*fakeTimer
	for _, w := range f.waiters {
		if !w.when.After(t) {
			due = append(due, w)
		}
	}
	slices.SortFunc(due, func(a, b *fakeTimer) int {
		if c := a.when.Compare(b.when); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	var funcs []func()
	for _, w := range due {
		at := w.when
		if w.period > 0 {
			// Next tick on the ticker's grid, after t.
			n := t.Sub(w.when)/w.period + 1
			w.when = w.when.Add(n * w.period)
		} else {
			w.armed = false
			f.remove(w)
		}
		if w.fn != nil {
			funcs = append(funcs, w.fn)
			continue
		}
		select {
		case w.c <- at:
		default: // an unread value is pending, as with a slow receiver
		}
	}
	f.mu.Unlock()
	for _, fn := range funcs {
		fn()
	}
}

// Waiters returns how many timers and tickers are armed: created or reset
// and not yet fired (timers) or stopped.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// BlockUntil waits until at least n timers and tickers are armed, or ctx
// ends. Code under test that arms a timer and waits on it after each piece
// of work is idle once its timer is armed: a test that knows how many
// such loops run waits with BlockUntil before it moves the clock or looks
// at their results.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		have, changed := len(f.waiters), f.changed
		f.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("clock: %d timers armed, waited for %d: %w", have, n, ctx.Err())
		}
	}
}

// arm puts w among the waiters with deadline when. The caller holds f.mu.
func (f *Fake) arm(w *fakeTimer, when time.Time) {
	w.when = when
	if w.armed {
		return
	}
	w.armed = true
	f.seq++
	w.seq = f.seq
	f.waiters = append(f.waiters, w)
	close(f.changed)
	f.changed = make(chan struct{})
}

// remove takes w out of the waiters. The caller holds f.mu.
func (f *Fake) remove(w *fakeTimer) {
	if i := slices.Index(f.waiters, w); i >= 0 {
		f.waiters = slices.Delete(f.waiters, i, i+1)
	}
}

// drain drops a value waiting on w's channel, so that none from before a
// Stop or Reset is received after it. The caller holds f.mu.
func (w *fakeTimer) drain() {
	if w.c == nil {
		return
	}
	select {
	case <-w.c:
	default:
	}
}

func (w *fakeTimer) Stop() bool {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	was := w.armed
	if was {
		w.armed = false
		f.remove(w)
	}
	w.drain()
	return was
}

func (w *fakeTimer) Reset(d time.Duration) bool {
	f := w.f
	f.mu.Lock()
	was := w.armed
	w.drain()
	if d > 0 {
		f.arm(w, f.now.Add(d))
		f.mu.Unlock()
		return was
	}
	// Due now: fire without waiting for a move.
	if was {
		w.armed = false
		f.remove(w)
	}
	if w.fn != nil {
		go w.fn()
	} else {
		w.c <- f.now // drained above, under f.mu: the buffer has room
	}
	f.mu.Unlock()
	return was
}

func (w *fakeTimer) resetTicker(d time.Duration) {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	w.period = d
	w.drain()
	f.arm(w, f.now.Add(d))
}

// tickerCtl gives a ticker time.Ticker's Stop and Reset.
type tickerCtl struct{ w *fakeTimer }

func (t tickerCtl) Stop() { t.w.Stop() }

func (t tickerCtl) Reset(d time.Duration) {
	if d <= 0 {
		panic("clock: non-positive interval for Ticker.Reset")
	}
	t.w.resetTicker(d)
}
