// Package clock is the time source of opentrail's time-driven work:
// delivery windows, digest periods, retention and alarms read the time and
// make their timers and tickers through a [Clock], so that tests can run
// them on a [Fake] that moves only when told instead of sleeping.
//
// [Real] is the system clock. [Fake] is for tests of any package: it
// starts at a given instant, fires timers and tickers only in [Fake.Set]
// and [Fake.Advance], and reports with [Fake.BlockUntil] when the code
// under test has armed its timers, so a test knows that code is idle
// before it moves time on.
//
// The package imports nothing of opentrail's; any package may import it.
package clock

import "time"

// A Clock tells the time and makes timers and tickers. Implementations are
// safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a Timer that sends the time on its channel once d
	// has passed (at once for d <= 0), as time.NewTimer.
	NewTimer(d time.Duration) *Timer
	// NewTicker returns a Ticker that sends the time on its channel every
	// d, dropping ticks a slow receiver misses, as time.NewTicker. It
	// panics if d <= 0.
	NewTicker(d time.Duration) *Ticker
	// AfterFunc calls f once d has passed, as time.AfterFunc (Real calls
	// it in its own goroutine; Fake says where it calls it); the Timer's C
	// is nil.
	AfterFunc(d time.Duration, f func()) *Timer
}

// Since returns the time elapsed on c since t.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Until returns the duration on c until t.
func Until(c Clock, t time.Time) time.Duration { return t.Sub(c.Now()) }

// Or returns c, or Real when c is nil: what a component does with a
// Clock option left unset.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// A Timer is a single event of a Clock, like time.Timer: C (nil for
// AfterFunc) receives the time when it fires. After Stop or Reset returns,
// no value from before the call is received on C.
type Timer struct {
	C   <-chan time.Time
	ctl timerControl
}

type timerControl interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// Stop prevents the Timer from firing. It returns false if the Timer had
// already fired or been stopped.
func (t *Timer) Stop() bool { return t.ctl.Stop() }

// Reset makes the Timer fire once d has passed from now. It returns
// whether the Timer had been active.
func (t *Timer) Reset(d time.Duration) bool { return t.ctl.Reset(d) }

// A Ticker delivers ticks of a Clock on C, like time.Ticker.
type Ticker struct {
	C   <-chan time.Time
	ctl tickerControl
}

type tickerControl interface {
	Stop()
	Reset(d time.Duration)
}

// Stop turns the Ticker off; no tick from before the call is received
// after it.
func (t *Ticker) Stop() { t.ctl.Stop() }

// Reset stops the Ticker and restarts it with period d from now. It
// panics if d <= 0.
func (t *Ticker) Reset(d time.Duration) { t.ctl.Reset(d) }

// Real is the system clock: the functions of package time. The zero value
// is ready to use.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer returns a time.NewTimer.
func (Real) NewTimer(d time.Duration) *Timer {
	t := time.NewTimer(d)
	return &Timer{C: t.C, ctl: t}
}

// NewTicker returns a time.NewTicker.
func (Real) NewTicker(d time.Duration) *Ticker {
	t := time.NewTicker(d)
	return &Ticker{C: t.C, ctl: t}
}

// AfterFunc returns a time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) *Timer {
	return &Timer{ctl: time.AfterFunc(d, f)}
}
