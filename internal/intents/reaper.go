package intents

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/poll"
)

// ReaperOptions configure a Reaper.
type ReaperOptions struct {
	Table    *Table   // required
	Ingester Ingester // required
	// Every is the time between passes (default 2 s).
	Every time.Duration
	// Batch is the most intents one submission takes (default 1000).
	Batch  int
	Clock  clock.Clock  // nil means the system clock
	Logger *slog.Logger // nil means slog.Default()
}

// Reaper ingests the intents whose lease ran out as their calls' records
// (and the records queued in the table, see Local.PutIntents)
// (their outcome unknown: "additionalEventData.outcome" says so, as the
// gateway wrote it) and then drops them. Submitting is idempotent: an
// intent whose final record (or whose own copy, after a crash between
// the two steps) is stored already comes back as a duplicate or a
// conflict, and the stored record is kept. Create it with NewReaper, then
// Start; Close stops it.
type Reaper struct {
	opts ReaperOptions
	clk  clock.Clock
	log  *slog.Logger
	loop *poll.Loop
}

// NewReaper returns a Reaper that is not running yet.
func NewReaper(opts ReaperOptions) *Reaper {
	if opts.Every <= 0 {
		opts.Every = 2 * time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 1000
	}
	r := &Reaper{opts: opts, clk: clock.Or(opts.Clock), log: opts.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.loop = poll.New(poll.Config{Name: "capture intent reaper", Clock: r.clk, Every: opts.Every,
		Step: func(ctx context.Context) error {
			_, err := r.Reap(ctx)
			return err
		},
		OnError: func(err error) { r.log.Error("capture intent reaper", "err", err) },
	})
	return r
}

// Start runs a pass at once, then one every Every.
func (r *Reaper) Start() { r.loop.Start() }

// Wake makes the reaper pass now.
func (r *Reaper) Wake() { r.loop.Wake() }

// Close stops the reaper, waiting for a pass in progress.
func (r *Reaper) Close(ctx context.Context) error { return r.loop.Close(ctx) }

// Reap ingests every intent expired by now and drops it, returning how
// many it ingested; an error leaves the rest for the next pass.
func (r *Reaper) Reap(ctx context.Context) (int, error) {
	total := 0
	for {
		ins, err := r.opts.Table.Expired(r.clk.Now(), r.opts.Batch)
		if err != nil {
			return total, err
		}
		if len(ins) == 0 {
			return total, nil
		}
		recs := make([]*event.Record, 0, len(ins))
		ids := make([]string, 0, len(ins))
		for _, in := range ins {
			ids = append(ids, in.EventID)
			rec, err := event.Parse(in.Record)
			if err != nil {
				// Put takes only parsed records; this is damage.
				r.log.Error("capture intent reaper: an intent's record does not parse; dropping it",
					"eventId", in.EventID, "account", in.Account, "err", err)
				continue
			}
			recs = append(recs, rec)
		}
		lapsed := 0
		for _, in := range ins {
			if !in.Expires.Equal(Queued) {
				lapsed++
			}
		}
		res, err := r.opts.Ingester.Submit(ctx, SourceReaper, recs)
		if err != nil {
			return total, fmt.Errorf("ingest %d expired intents: %w", len(recs), err)
		}
		if err := r.opts.Table.Delete(ctx, ids); err != nil {
			return total, fmt.Errorf("drop %d ingested intents: %w", len(ids), err)
		}
		total += res.Accepted
		if lapsed > 0 {
			r.log.Info("capture: intents whose lease ran out recorded as their calls' records (outcome unknown)",
				"intents", lapsed, "accepted", res.Accepted, "duplicates", res.Duplicates, "conflicts", res.Conflicts)
		}
		if len(ins) < r.opts.Batch {
			return total, nil
		}
	}
}
