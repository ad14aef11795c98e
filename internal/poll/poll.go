// Package poll is the background loop of opentrail's stream consumers:
// a goroutine that runs a step at once, then every period of an
// injectable clock and whenever it is woken, until it is closed.
//
// A component (logwatch, eventrules, sigmawatch, aggregate, insights,
// delivery, compact) makes a [Loop] in New and delegates its Start, Wake and
// Close to it; the step is the component's own (usually its Sync). Step
// errors go to a callback, except those of a step cut short by Close,
// and the loop goes on. The package knows nothing of the store or of
// what a step does; it imports only internal/clock.
package poll

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

// Config is what New needs.
type Config struct {
	// Name names the loop in Close's error ("stop <Name>: …"); when it
	// is empty, that error is ctx's as it is.
	Name string
	// Clock makes the loop's ticker; nil means the system clock.
	Clock clock.Clock
	// Every is the period between steps when nothing wakes the loop; it
	// must be > 0.
	Every time.Duration
	// Step is one round of work. It is given a context that ends at
	// Close, and is never called concurrently with itself.
	Step func(ctx context.Context) error
	// OnError receives Step's errors, except those returned after Close
	// began (a step cut short); nil drops them.
	OnError func(err error)
	// OnStop, when set, runs in the loop's goroutine once the loop has
	// stopped stepping, before Close returns (to save state kept in
	// memory, say).
	OnStop func()
	// Beside, when set, runs in a goroutine of its own from Start, with
	// the context Step gets; Close waits for it too (a worker that the
	// steps feed, say).
	Beside func(ctx context.Context)
}

// Loop runs Config.Step in its own goroutine between Start and Close.
// Create it with New.
type Loop struct {
	cfg  Config
	clk  clock.Clock
	wake chan struct{}
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns a loop that is not running yet. It panics if cfg.Step is
// nil or cfg.Every <= 0, which are programming errors.
func New(cfg Config) *Loop {
	if cfg.Step == nil {
		panic("poll.New: Config.Step is nil")
	}
	if cfg.Every <= 0 {
		panic(fmt.Sprintf("poll.New: Config.Every is %v; it must be > 0", cfg.Every))
	}
	return &Loop{cfg: cfg, clk: clock.Or(cfg.Clock), wake: make(chan struct{}, 1)}
}

// Start runs the loop in a new goroutine: a step at once, then one every
// Config.Every and one after each Wake, until Close.
func (l *Loop) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.stop = cancel
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.run(ctx)
	}()
	if l.cfg.Beside != nil {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.cfg.Beside(ctx)
		}()
	}
}

// Wake makes the loop step now rather than at its next tick. It never
// blocks: wakes that come while one is pending are one wake. A Wake
// before Start makes the loop's second step come at once.
func (l *Loop) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Close stops the loop and waits for its step in progress, OnStop and
// Beside. If ctx ends first it returns "stop <Name>: " and ctx's error
// (ctx's error alone when Name is empty); the loop still stops on its
// own. Close before Start does nothing.
func (l *Loop) Close(ctx context.Context) error {
	if l.stop == nil {
		return nil
	}
	l.stop()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		if l.cfg.Name == "" {
			return ctx.Err()
		}
		return fmt.Errorf("stop %s: %w", l.cfg.Name, ctx.Err())
	}
}

func (l *Loop) run(ctx context.Context) {
	t := l.clk.NewTicker(l.cfg.Every)
	defer t.Stop()
	for {
		if err := l.cfg.Step(ctx); err != nil && ctx.Err() == nil && l.cfg.OnError != nil {
			l.cfg.OnError(err)
		}
		select {
		case <-ctx.Done():
			if l.cfg.OnStop != nil {
				l.cfg.OnStop()
			}
			return
		case <-t.C:
		case <-l.wake:
		}
	}
}
