package store

import (
	"context"
	"time"
)

// HistoryReader is what ReadHistory reads (*Store implements it).
type HistoryReader interface {
	ReadAfter(ctx context.Context, seq int64, limit int) ([]Event, error)
	CommittedSeq() int64
	SeqBefore(ctx context.Context, t time.Time) (int64, error)
}

// ReadHistory reads the stored events, both tiers, whose eventTime lies
// in [since, until) (until zero: no end), for a run over history. Events
// are found by ingest time: it reads with ReadAfter from the newest event
// ingested before since minus slack (an event is normally stored after
// its eventTime; slack allows for a clock ahead of the store's) through
// the last event committed when it is called, batch events at a time.
// After each batch it calls fn with that batch's events in the range
// (maybe none) and how many events it has read so far. It stops at the
// first error of fn, of the store or of ctx, and returns how many events
// it read.
func ReadHistory(ctx context.Context, r HistoryReader, since, until time.Time, slack time.Duration, batch int,
	fn func(inRange []*Event, read int64) error) (int64, error) {
	cur, err := r.SeqBefore(ctx, since.Add(-slack))
	if err != nil {
		return 0, err
	}
	last := r.CommittedSeq()
	var (
		read    int64
		inRange []*Event
	)
	for cur < last {
		evs, err := r.ReadAfter(ctx, cur, batch)
		if err != nil {
			return read, err
		}
		if len(evs) == 0 {
			break
		}
		inRange = inRange[:0]
		for i := range evs {
			ev := &evs[i]
			if ev.Seq > last {
				break
			}
			read++
			t := ev.Rec.EventTime
			if t.Before(since) || (!until.IsZero() && !t.Before(until)) {
				continue
			}
			inRange = append(inRange, ev)
		}
		if err := fn(inRange, read); err != nil {
			return read, err
		}
		cur = evs[len(evs)-1].Seq
		if err := ctx.Err(); err != nil {
			return read, err
		}
	}
	return read, nil
}
