package insights

import (
	"context"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// Progress is how far a retroactive run is.
type Progress struct {
	Read     int64 // stored events read
	Analysed int64 // of those, events counted in a series
	Insights int   // Start and End records made
	Done     bool
}

// RunResult is the outcome of a retroactive run.
type RunResult struct {
	Read, Analysed int64
	Starts, Ends   int
	Records        []*event.Record // the records made (appended when the Appender is set)
}

// Run recomputes Insights over stored events whose eventTime lies in
// [since, until) (until zero: no end), with the baseline taken from the
// window before since as well, and appends the Start/End records of the
// insights that start in the range. It reads the stored events (both
// tiers) from the newest one ingested before since minus the baseline
// window; events imported later are read as well. It keeps its state in
// memory and does not touch the live consumer's; the records have the ids
// the live consumer would give them, so running twice appends nothing
// new. progress (may be nil) is called as it goes.
func (d *Detector) Run(ctx context.Context, since, until time.Time, progress func(Progress)) (*RunResult, error) {
	trails, err := analysedTrails(ctx, d.st, true)
	if err != nil {
		return nil, err
	}
	if len(trails) == 0 {
		return nil, fmt.Errorf("no trail has Insights enabled: run `aws cloudtrail put-insight-selectors` on a trail first")
	}
	window := time.Duration(d.p.BaselineMinutes) * time.Minute
	lo := since.Add(-window)
	cur, err := d.st.SeqBefore(ctx, lo.Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	last := d.st.CommittedSeq()
	e := newEngine(d.p)
	attrs := memAttrs{}
	res := &RunResult{}
	var keys []key
	maxMin := int64(-1)
	tick := time.Now()
	for cur < last {
		evs, err := d.st.ReadAfter(ctx, cur, readBatch)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			break
		}
		for i := range evs {
			rec := evs[i].Rec
			res.Read++
			if rec.EventTime.Before(lo) || (!until.IsZero() && !rec.EventTime.Before(until)) {
				continue
			}
			keys = keysOf(trails, d.cfg.Org, rec, evs[i].IngestTime, keys[:0])
			if len(keys) == 0 {
				continue
			}
			res.Analysed++
			m := floorDiv(rec.EventTime.Unix(), 60)
			maxMin = max(maxMin, m)
			vals := attrValues(rec)
			for _, k := range keys {
				s, _ := e.get(k)
				e.count(s, m, 1)
				for kind, v := range vals {
					if kind == attrError && k.Type == TypeErrorRate {
						continue
					}
					attrs.add(s.id, attrKey{m, kind, v}, 1)
				}
			}
		}
		cur = evs[len(evs)-1].Seq
		if progress != nil && time.Since(tick) >= time.Second {
			tick = time.Now()
			progress(Progress{Read: res.Read, Analysed: res.Analysed})
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	// Every minute is closed: the run covers history, not the live edge
	// (an insight still unusual at the last minute ends EndQuiet minutes
	// after it, as no call follows).
	trs := e.closeThrough(maxMin + d.p.EndQuiet)
	sinceMin := floorDiv(since.Unix(), 60)
	kept := trs[:0]
	for _, tr := range trs {
		if tr.a.Start >= sinceMin {
			kept = append(kept, tr)
		}
	}
	recs, sigs, err := d.render(ctx, attrs, kept)
	if err != nil {
		return nil, err
	}
	for _, tr := range kept {
		if tr.state == "Start" {
			res.Starts++
		} else {
			res.Ends++
		}
	}
	res.Records = recs
	if len(recs) > 0 && d.cfg.Appender != nil {
		if err := d.cfg.Appender.Append(ctx, Source, recs); err != nil {
			return nil, fmt.Errorf("append insights records: %w", err)
		}
	}
	if err := saveRecords(ctx, d.db, kept, recs); err != nil {
		return nil, err
	}
	if len(sigs) > 0 && d.cfg.Sink != nil {
		if err := d.cfg.Sink.Record(ctx, sigs); err != nil {
			return nil, fmt.Errorf("report insights: %w", err)
		}
	}
	if progress != nil {
		progress(Progress{Read: res.Read, Analysed: res.Analysed, Insights: len(recs), Done: true})
	}
	return res, nil
}
