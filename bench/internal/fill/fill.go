// Package fill fills an empty store with demo activity the way a running
// server's store ends up: appended in group commits, compacted into the
// columnar tier as it grows, with an optional hot tail left in DuckDB.
// Benchmarks use it to build their stores in process, which is several
// times faster than sending the same records over HTTP.
package fill

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// Options says what to fill. Zero values take the defaults noted.
type Options struct {
	Events    int           // background demo events (required)
	Span      time.Duration // eventTime span, ending End; zero means 60 days
	End       time.Time     // end of the span; zero means now
	Every     int64         // compact after this many events; zero means 1,000,000
	Hot       int64         // events left uncompacted at the end (the hot tail)
	Incidents bool          // plant demo's incidents on top of the background
	Batch     int           // events per Append; zero means 10,000
	Progress  io.Writer     // progress lines; nil means none
}

// Store appends o.Events demo events (Seed 1) to st, which must be empty,
// compacting every o.Every events and, at the end, everything but the
// last o.Hot; then checkpoints. It returns the number of events stored.
func Store(ctx context.Context, st *store.Store, o Options) (int64, error) {
	if st.LastSeq() > 0 {
		return 0, fmt.Errorf("fill: the store is not empty (%d events)", st.LastSeq())
	}
	if o.Span == 0 {
		o.Span = 60 * 24 * time.Hour
	}
	if o.End.IsZero() {
		o.End = time.Now()
	}
	if o.Every == 0 {
		o.Every = 1_000_000
	}
	if o.Batch == 0 {
		o.Batch = 10_000
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	end := o.End.UTC().Truncate(time.Second)
	opts := demo.Options{Seed: 1, Events: o.Events, Start: end.Add(-o.Span), Duration: o.Span, Incidents: o.Incidents}
	batch := make([]*event.Record, 0, o.Batch)
	start := time.Now()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := st.Append(ctx, batch, time.Now()); err != nil {
			return err
		}
		batch = batch[:0]
		if last := st.LastSeq(); last-st.ColdThrough() >= o.Every {
			return compact(ctx, st, last, progress, start)
		}
		return nil
	}
	err := demo.Generate(opts, func(raw []byte) error {
		rec, err := event.Parse(bytes.Clone(raw))
		if err != nil {
			return fmt.Errorf("parse demo record: %w", err)
		}
		if batch = append(batch, rec); len(batch) == o.Batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		if through := st.LastSeq() - o.Hot; through > st.ColdThrough() {
			err = compact(ctx, st, through, progress, start)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("fill: %w", err)
	}
	if err := st.Checkpoint(ctx); err != nil {
		return 0, fmt.Errorf("fill: %w", err)
	}
	return st.LastSeq(), nil
}

func compact(ctx context.Context, st *store.Store, through int64, progress io.Writer, start time.Time) error {
	t := time.Now()
	res, err := st.Compact(ctx, through)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "fill: %d events; compacted %d in %s (%s so far)\n", st.LastSeq(), res.Events,
		time.Since(t).Round(time.Millisecond), time.Since(start).Round(time.Second))
	return nil
}
