package sigma

import (
	"sort"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// CorrelationHit is a correlation rule's condition met by one group of
// events within one window.
type CorrelationHit struct {
	Rule        *Rule
	Group       map[string]string // group-by field -> value ("" when the record lacks it)
	First, Last time.Time         // event times of the first and last event counted
	EventIDs    []string          // the events counted (at most MaxHitEvents, the latest)
	Count       int               // events (event_count, temporal) or distinct values (value_count)
}

// MaxHitEvents bounds the event ids one hit carries and the events one
// group keeps; a count condition above it cannot be met.
const MaxHitEvents = 10000

// Correlator keeps the windowed, grouped state of a ruleset's correlation
// rules. Windows are in event time; a group is forgotten once the newest
// event time seen is a timespan past its last event, so memory is bounded
// by the events of one timespan. A Correlator is not safe for concurrent
// use.
type Correlator struct {
	states    []*corrState
	byBase    map[*Rule][]*corrState
	p         fastjson.Parser
	e         evalCtx
	maxT      time.Time
	lastSweep time.Time
	minSpan   time.Duration
	observed  int
	touched   []*corrState
}

type corrState struct {
	rule   *Rule
	c      *Correlation
	eager  bool // only gt/gte: a hit as soon as the count crosses
	groups map[string]*group
	bases  []*Rule // scratch: the correlated rules the current event matched
}

type obs struct {
	t   time.Time
	id  string
	val string // value_count: the field's value; temporal: unused
	has bool   // value_count: the record has the field
}

type group struct {
	key   map[string]string
	evs   []obs   // event_count, value_count
	seen  [][]obs // temporal: per correlated rule
	start time.Time
	last  time.Time
}

// NewCorrelator returns empty correlation state for the ruleset's
// correlation rules.
func (rs *Ruleset) NewCorrelator() *Correlator {
	c := &Correlator{byBase: map[*Rule][]*corrState{}}
	for _, r := range rs.corrs {
		st := &corrState{rule: r, c: r.Correlation, eager: true, groups: map[string]*group{}}
		for op := range r.Correlation.Condition {
			if op != "gt" && op != "gte" {
				st.eager = false
			}
		}
		c.states = append(c.states, st)
		seen := map[*Rule]bool{}
		for _, b := range r.Correlation.rules {
			if !seen[b] {
				seen[b] = true
				c.byBase[b] = append(c.byBase[b], st)
			}
		}
		if c.minSpan == 0 || r.Correlation.Timespan < c.minSpan {
			c.minSpan = r.Correlation.Timespan
		}
	}
	return c
}

// Observe feeds one record (raw CloudTrail JSON, its event time t, and the
// plain rules Ruleset.Match found for it) to the correlations and returns
// the hits it completes, including windows it closes by advancing time.
func (c *Correlator) Observe(raw []byte, t time.Time, matched []*Rule) []CorrelationHit {
	var hits []CorrelationHit
	if t.After(c.maxT) {
		c.maxT = t
	}
	// Each correlation sees the event once, with every one of its rules
	// the event matched.
	c.touched = c.touched[:0]
	for _, r := range matched {
		for _, st := range c.byBase[r] {
			if len(st.bases) == 0 {
				c.touched = append(c.touched, st)
			}
			st.bases = append(st.bases, r)
		}
	}
	if len(c.touched) > 0 {
		root, err := c.p.ParseBytes(raw)
		for _, st := range c.touched {
			if err == nil {
				hits = st.observe(c, root, t, st.bases, hits)
			}
			st.bases = st.bases[:0]
		}
	}
	c.observed++
	if c.minSpan > 0 && (c.maxT.Sub(c.lastSweep) >= c.minSpan/4 || c.observed >= 4096) {
		hits = c.sweep(hits)
	}
	return hits
}

// Advance closes the windows that end before t (as if an event at t had
// been observed) and returns their hits; call it when time passes with no
// events, so conditions like "lt" are decided.
func (c *Correlator) Advance(t time.Time) []CorrelationHit {
	if t.After(c.maxT) {
		c.maxT = t
	}
	return c.sweep(nil)
}

// sweep decides and forgets the groups whose windows have ended.
func (c *Correlator) sweep(hits []CorrelationHit) []CorrelationHit {
	c.lastSweep, c.observed = c.maxT, 0
	for _, st := range c.states {
		span := st.c.Timespan
		var done []string
		for k, g := range st.groups {
			if !st.eager && !g.start.IsZero() && !c.maxT.Before(g.start.Add(span)) {
				hits = st.closeWindow(g, hits)
			}
			if c.maxT.Sub(g.last) > span {
				done = append(done, k)
			}
		}
		sort.Strings(done)
		for _, k := range done {
			delete(st.groups, k)
		}
	}
	return hits
}

// textOf is the first string form of a field of the record, "" if none.
func (c *Correlator) textOf(root *fastjson.Value, path []string) (string, bool) {
	c.e.vals = lookup(c.e.vals[:0], root, path)
	var scratch [64]byte
	for _, v := range c.e.vals {
		if v.Type() == fastjson.TypeObject {
			return string(v.MarshalTo(nil)), true
		}
		if b, ok := c.e.text(v, scratch[:]); ok {
			return string(b), true
		}
	}
	return "", false
}

func (st *corrState) observe(c *Correlator, root *fastjson.Value, t time.Time, bases []*Rule, hits []CorrelationHit) []CorrelationHit {
	cor := st.c
	var kb strings.Builder
	var key map[string]string
	if len(cor.GroupBy) > 0 {
		key = make(map[string]string, len(cor.GroupBy))
	}
	for _, f := range cor.GroupBy {
		v, _ := c.textOf(root, strings.Split(f, "."))
		key[f] = v
		kb.WriteString(v)
		kb.WriteByte(0)
	}
	g := st.groups[kb.String()]
	if g == nil {
		g = &group{key: key}
		if cor.Type == "temporal" || cor.Type == "temporal_ordered" {
			g.seen = make([][]obs, len(cor.rules))
		}
		st.groups[kb.String()] = g
	}
	o := obs{t: t, id: string(root.GetStringBytes("eventID"))}
	if cor.Type == "value_count" {
		o.val, o.has = c.textOf(root, strings.Split(cor.Field, "."))
	}
	if !st.eager {
		// Tumbling windows from the group's first event, decided when
		// they end.
		if !g.start.IsZero() && !t.Before(g.start.Add(cor.Timespan)) {
			hits = st.closeWindow(g, hits)
		}
		if g.start.IsZero() {
			g.start = t
		}
	}
	if t.After(g.last) {
		g.last = t
	}
	switch cor.Type {
	case "event_count", "value_count":
		g.evs = appendBounded(g.evs, o)
		if st.eager {
			g.evs = evict(g.evs, g.last.Add(-cor.Timespan))
			if n := st.count(g); conditionHolds(cor.Condition, n) {
				hits = append(hits, st.hit(g, g.evs, n))
				g.evs = g.evs[:0]
			}
		}
	default: // temporal, temporal_ordered
		for i, b := range cor.rules {
			for _, m := range bases {
				if b == m {
					g.seen[i] = appendBounded(g.seen[i], o)
					break
				}
			}
		}
		from := g.last.Add(-cor.Timespan)
		for i := range g.seen {
			g.seen[i] = evict(g.seen[i], from)
		}
		if evs, ok := st.temporalMet(g); ok {
			hits = append(hits, st.hit(g, evs, len(evs)))
			for i := range g.seen {
				g.seen[i] = g.seen[i][:0]
			}
		}
	}
	return hits
}

// closeWindow decides a tumbling window and starts the group afresh.
func (st *corrState) closeWindow(g *group, hits []CorrelationHit) []CorrelationHit {
	if n := st.count(g); len(g.evs) > 0 && conditionHolds(st.c.Condition, n) {
		hits = append(hits, st.hit(g, g.evs, n))
	}
	g.evs = g.evs[:0]
	g.start = time.Time{}
	return hits
}

func (st *corrState) count(g *group) int {
	if st.c.Type != "value_count" {
		return len(g.evs)
	}
	distinct := map[string]bool{}
	for _, o := range g.evs {
		if o.has {
			distinct[foldString(o.val)] = true
		}
	}
	return len(distinct)
}

// temporalMet reports whether every correlated rule has matched in the
// window (in the rules' order for temporal_ordered), and the events.
func (st *corrState) temporalMet(g *group) ([]obs, bool) {
	var evs []obs
	if st.c.Type == "temporal" {
		for _, s := range g.seen {
			if len(s) == 0 {
				return nil, false
			}
			evs = append(evs, s...)
		}
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].t.Before(evs[j].t) })
		return evs, true
	}
	var prev time.Time
	for i, s := range g.seen {
		found := false
		for _, o := range s {
			if i == 0 || !o.t.Before(prev) {
				evs = append(evs, o)
				prev, found = o.t, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return evs, true
}

func (st *corrState) hit(g *group, evs []obs, n int) CorrelationHit {
	h := CorrelationHit{Rule: st.rule, Count: n}
	if g.key != nil {
		h.Group = make(map[string]string, len(g.key))
		for k, v := range g.key {
			h.Group[k] = v
		}
	}
	for i, o := range evs {
		if i == 0 || o.t.Before(h.First) {
			h.First = o.t
		}
		if o.t.After(h.Last) {
			h.Last = o.t
		}
		h.EventIDs = append(h.EventIDs, o.id)
	}
	return h
}

func appendBounded(s []obs, o obs) []obs {
	if len(s) >= MaxHitEvents {
		copy(s, s[1:])
		s = s[:len(s)-1]
	}
	return append(s, o)
}

// evict drops the events before from (they may be out of order).
func evict(s []obs, from time.Time) []obs {
	out := s[:0]
	for _, o := range s {
		if !o.t.Before(from) {
			out = append(out, o)
		}
	}
	return out
}

func conditionHolds(cond map[string]float64, n int) bool {
	f := float64(n)
	for op, v := range cond {
		var ok bool
		switch op {
		case "gt":
			ok = f > v
		case "gte":
			ok = f >= v
		case "lt":
			ok = f < v
		case "lte":
			ok = f <= v
		case "eq":
			ok = f == v
		}
		if !ok {
			return false
		}
	}
	return len(cond) > 0
}
