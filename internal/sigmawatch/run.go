package sigmawatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/sigma"
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
	Signals int   // signals reported: plain matches and correlation hits
	New     int   // of those, signals the findings store had not recorded
	Created int   // findings the run opened
}

// CountingSink is a Sink that says what each Record added
// (*findings.Store implements it). With another Sink, a run counts every
// signal as new and no finding as created.
type CountingSink = findings.CountingSink

// ErrNoRules is Run's error when no rule is loaded.
var ErrNoRules = errors.New("no Sigma rules are loaded: load some first (opentrail sigma load DIR)")

// runSlack is how long before since a run starts reading by ingest time:
// an event is normally stored after its eventTime, but a clock ahead of
// the store's may make it look earlier.
const runSlack = 24 * time.Hour

// corrObs is an event that fed a correlation rule, kept until the run
// feeds the correlator in event-time order.
type corrObs struct {
	ev      store.Event
	matched []*sigma.Rule
}

// Run runs the current rule set (loaded and built-in, plain and
// correlation rules) over the stored events whose eventTime lies in
// [since, until) (until zero: no end) and records the signals in the
// findings Sink. It reads both tiers of the store (store.ReadAfter, from
// the last event ingested a day before since), so history imported
// before the set was loaded is scanned too. Correlations run in a fresh
// correlator fed in event-time order, their windows closed at the end.
// The signals carry the keys the live consumer gives them (the event id;
// a correlation's rule, group and window), so a second run, or a run over
// events the consumer already matched, records nothing new. It does not
// touch the consumer's cursor or state. progress (may be nil) is called
// about every second and once at the end.
func (w *Watch) Run(ctx context.Context, since, until time.Time, progress func(Progress)) (*RunResult, error) {
	if !until.IsZero() && !until.After(since) {
		return nil, fmt.Errorf("until %s is not after since %s", until.UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339))
	}
	w.mu.Lock()
	var g *generation
	if n := len(w.gens); n > 0 {
		g = w.gens[n-1]
	}
	w.mu.Unlock()
	if g == nil || len(g.rs.Rules()) == 0 {
		return nil, ErrNoRules
	}
	bases := correlated(g.rs)
	res := &RunResult{}
	record := func(sigs []findings.Signal) error {
		if len(sigs) == 0 {
			return nil
		}
		res.Signals += len(sigs)
		r, err := findings.RecordCounting(ctx, w.cfg.Sink, sigs)
		if err != nil {
			return fmt.Errorf("record sigma signals: %w", err)
		}
		res.New += r.Signals
		res.Created += r.Findings
		return nil
	}
	var (
		obs     []corrObs
		matched []*sigma.Rule
		tick    = time.Now()
	)
	_, err := store.ReadHistory(ctx, w.st, since, until, runSlack, readBatch, func(inRange []*store.Event, read int64) error {
		res.Read = read
		var sigs []findings.Signal
		for _, ev := range inRange {
			res.InRange++
			matched = g.rs.Match(ev.Rec.Raw, matched[:0])
			if len(matched) == 0 {
				continue
			}
			facts := factsOf(ev)
			feeds := false
			for _, r := range matched {
				if !r.Suppressed {
					sigs = append(sigs, eventSignal(r, facts))
				}
				feeds = feeds || bases[r]
			}
			if feeds {
				obs = append(obs, corrObs{ev: *ev, matched: slices.Clone(matched)})
			}
		}
		if err := record(sigs); err != nil {
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
	if err := record(correlate(g.rs, obs)); err != nil {
		return nil, err
	}
	if progress != nil {
		progress(Progress{Read: res.Read, InRange: res.InRange, Signals: res.Signals, Done: true})
	}
	return res, nil
}

// correlated returns the plain rules that some correlation rule of rs
// names (by id or name).
func correlated(rs *sigma.Ruleset) map[*sigma.Rule]bool {
	names := map[string]bool{}
	for _, r := range rs.Rules() {
		if r.Correlation != nil {
			for _, n := range r.Correlation.Rules {
				names[n] = true
			}
		}
	}
	out := map[*sigma.Rule]bool{}
	for _, r := range rs.Rules() {
		if r.Correlation == nil && ((r.ID != "" && names[r.ID]) || (r.Name != "" && names[r.Name])) {
			out[r] = true
		}
	}
	return out
}

// correlate feeds the observations to a fresh correlator in event-time
// order (ties in store order), then closes every window, and returns the
// signals of the hits.
func correlate(rs *sigma.Ruleset, obs []corrObs) []findings.Signal {
	if len(obs) == 0 {
		return nil
	}
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].ev.Rec.EventTime.Before(obs[j].ev.Rec.EventTime) })
	c := newCorrelator(rs)
	var sigs []findings.Signal
	for i := range obs {
		sigs = c.observe(&obs[i].ev, obs[i].matched, sigs)
	}
	// Close every window: the run covers history, not the live edge.
	end := obs[len(obs)-1].ev.Rec.EventTime.Add(365 * 24 * time.Hour)
	return c.advance(end, sigs)
}
