// Package compact is the component that moves sealed events from the
// store's hot tail (events table and record segments) into its columnar
// tier (zstd Parquet files, internal/store Compact): New → Start →
// Close(ctx), driven by the store's committed stream, never on the ingest
// path.
//
// An event is sealed once it was ingested more than Options.After ago. A
// compaction runs when at least Options.MinEvents sealed events wait, or
// when the oldest waiting one is older than Options.MaxWait, and moves at
// most Options.MaxBatch events at once, so a store upgraded from the
// segments-only layout is brought over in steps, with progress logged.
// Compaction is idempotent: a run that stops anywhere leaves the store as
// it was before it, or as after it (internal/store Compact).
package compact

import (
	"context"
	"log/slog"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/poll"
	"github.com/opentrail/opentrail/internal/store"
)

// Store is what the compactor needs of the event store.
type Store interface {
	SealedThrough(ctx context.Context, t time.Time) (int64, error)
	ColdThrough() int64
	Compact(ctx context.Context, through int64) (store.CompactResult, error)
}

// Options tune a Compactor; zero values take the defaults.
type Options struct {
	After     time.Duration // events ingested longer ago are sealed (default 10m)
	MinEvents int64         // sealed events that make a run worthwhile (default 100,000)
	MaxWait   time.Duration // a sealed event waits at most this long (default 1h)
	MaxBatch  int64         // events moved by one run at most (default 1,000,000)
	Interval  time.Duration // how often to look (default 10s)
	Clock     clock.Clock
	Logger    *slog.Logger
}

// Compactor runs compactions in the background.
type Compactor struct {
	st   Store
	opts Options
	log  *slog.Logger

	loop *poll.Loop

	// draining is set while a round that found enough sealed events is
	// moving them in batches: its last batch goes even when smaller than
	// MinEvents.
	draining bool
}

// New returns a Compactor over st; Start starts it.
func New(st Store, opts Options) *Compactor {
	if opts.After <= 0 {
		opts.After = 10 * time.Minute
	}
	if opts.MinEvents <= 0 {
		opts.MinEvents = 100_000
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = time.Hour
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1_000_000
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Compactor{st: st, opts: opts, log: opts.Logger.With("component", "compact")}
	c.loop = poll.New(poll.Config{Clock: opts.Clock, Every: opts.Interval, Step: c.round,
		OnError: func(err error) { c.log.Error("compaction failed; it is retried at the next tick", "err", err) }})
	return c
}

// Start starts the background loop.
func (c *Compactor) Start() { c.loop.Start() }

// Kick makes the loop look now rather than at its next tick.
func (c *Compactor) Kick() { c.loop.Wake() }

// Close stops the loop, interrupting a compaction in progress (which
// leaves the store as it was before it), and waits for it. When ctx ends
// first it returns ctx's error.
func (c *Compactor) Close(ctx context.Context) error { return c.loop.Close(ctx) }

// round runs compactions while they are due, one after another: one round
// of the loop.
func (c *Compactor) round(ctx context.Context) error {
	for {
		more, err := c.Step(ctx)
		if err != nil || !more {
			return err
		}
	}
}

// Step runs one compaction if one is due, and reports whether another is
// due at once (more sealed events wait than one run moves). Step is not
// safe for concurrent use; the loop calls it.
func (c *Compactor) Step(ctx context.Context) (more bool, err error) {
	now := c.opts.Clock.Now()
	sealed, err := c.st.SealedThrough(ctx, now.Add(-c.opts.After))
	if err != nil {
		return false, err
	}
	cold := c.st.ColdThrough()
	waiting := sealed - cold
	if waiting <= 0 {
		c.draining = false
		return false, nil
	}
	if waiting < c.opts.MinEvents && !c.draining {
		overdue, err := c.st.SealedThrough(ctx, now.Add(-c.opts.MaxWait))
		if err != nil {
			return false, err
		}
		if overdue <= cold {
			return false, nil
		}
	}
	through := min(sealed, cold+c.opts.MaxBatch)
	start := c.opts.Clock.Now()
	res, err := c.st.Compact(ctx, through)
	if err != nil {
		return false, err
	}
	left := sealed - through
	c.draining = left > 0
	if left > 0 || res.Events >= 100_000 {
		c.log.Info("compacted events into columnar files", "events", res.Events, "files", res.Files, "bytes", res.Bytes,
			"through_seq", res.Through, "took", c.opts.Clock.Now().Sub(start).Round(time.Millisecond), "sealed_left", left)
	}
	return left > 0, nil
}
