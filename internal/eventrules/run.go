package eventrules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/eventpattern"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/store"
)

// Progress is how far a retroactive run is.
type Progress struct {
	Read    int64 // stored events read
	InRange int64 // of those, events whose eventTime is in the range
	Signals int   // signals reported so far
	Done    bool
}

// RunResult is the outcome of a retroactive run.
type RunResult struct {
	Read    int64 // stored events read
	InRange int64 // of those, events whose eventTime is in the range
	Signals int   // signals reported (one per rule an event matched)
	New     int   // of those, signals the findings store had not recorded
	Created int   // findings the run opened
}

// CountingSink is a Sink that says what each Record added
// (*findings.Store implements it). With another Sink, a run counts every
// signal as new and no finding as created.
type CountingSink = findings.CountingSink

// ErrNoRules is Run's error when no enabled rule has an event pattern.
var ErrNoRules = errors.New("no enabled event rule has an event pattern: create one first (aws events put-rule --event-pattern …)")

// runSlack is how long before since a run starts reading by ingest time:
// an event is normally stored after its eventTime, but a clock ahead of
// the store's may make it look earlier.
const runSlack = 24 * time.Hour

// Run matches the enabled event rules against the stored events whose
// eventTime lies in [since, until) (until zero: no end), whenever the
// rules were created, and records a signal per match in the findings
// Sink. It reads both tiers of the store (store.ReadAfter, from the last
// event ingested a day before since). Targets are not sent anything: a
// run over history reports findings only. The signals carry the keys the
// live consumer gives them (the rule and the event id), so a second run,
// or a run over events the consumer already matched, records nothing new.
// It does not touch the consumer's cursor. progress (may be nil) is
// called about every second and once at the end.
func (r *Rules) Run(ctx context.Context, since, until time.Time, progress func(Progress)) (*RunResult, error) {
	if !until.IsZero() && !until.After(since) {
		return nil, fmt.Errorf("until %s is not after since %s", until.UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339))
	}
	if r.cfg.Sink == nil {
		return nil, errors.New("event rules have no findings sink to report to")
	}
	snap, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	if len(snap.sets) == 0 {
		return nil, ErrNoRules
	}
	res := &RunResult{}
	var (
		ids  []string
		tick = time.Now()
	)
	_, err = store.ReadHistory(ctx, r.st, since, until, runSlack, int(readBatch), func(inRange []*store.Event, read int64) error {
		res.Read = read
		var sigs []findings.Signal
		for _, ev := range inRange {
			res.InRange++
			rr := snap.sets[ev.Rec.AccountID+"/"+ev.Rec.AWSRegion]
			if rr == nil {
				continue
			}
			env, err := eventpattern.CloudTrailEvent(ev.Rec.Raw)
			if err != nil {
				continue // the live consumer logs it
			}
			if ids, err = rr.set.Matches(env, ids[:0]); err != nil {
				continue
			}
			for _, id := range ids {
				if lr := rr.rules[id]; lr != nil && receivesByState(lr, ev) {
					sigs = append(sigs, signal(lr, ev))
				}
			}
		}
		if err := r.record(ctx, sigs, res); err != nil {
			return err
		}
		if progress != nil && time.Since(tick) >= time.Second {
			tick = time.Now()
			progress(Progress{Read: res.Read, InRange: res.InRange, Signals: res.Signals})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(Progress{Read: res.Read, InRange: res.InRange, Signals: res.Signals, Done: true})
	}
	return res, nil
}

// record reports a run's signals and counts what they added.
func (r *Rules) record(ctx context.Context, sigs []findings.Signal, res *RunResult) error {
	if len(sigs) == 0 {
		return nil
	}
	res.Signals += len(sigs)
	rec, err := findings.RecordCounting(ctx, r.cfg.Sink, sigs)
	if err != nil {
		return fmt.Errorf("record %d event rule signals: %w", len(sigs), err)
	}
	res.New += rec.Signals
	res.Created += rec.Findings
	return nil
}

// receivesByState applies a rule's state to an event that matched its
// pattern (receives without the rule's creation point).
func receivesByState(lr *liveRule, ev *store.Event) bool {
	switch lr.State {
	case StateEnabledAll:
		return true
	case StateEnabled:
		return !(ev.Rec.ManagementEvent && ev.Rec.ReadOnlySet && ev.Rec.ReadOnly)
	}
	return false
}
