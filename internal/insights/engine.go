package insights

import (
	"context"
	"slices"
	"time"

	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// analysed is one trail with Insights selectors: which types it runs over
// which event categories.
type analysed struct {
	t     store.Trail
	set   trail.Settings
	types map[string][]string // insight type → event categories
}

// insightDoc is the part of a stored trail document that holds its
// Insights selectors (as PutInsightSelectors stores them).
type insightDoc struct {
	InsightSelectors []struct {
		InsightType     string
		EventCategories []string
	}
}

// analysedTrails returns the trails with Insights enabled. With anyTime,
// a trail's logging state is ignored (a retroactive run covers history
// from before the trail existed).
func analysedTrails(ctx context.Context, st *store.Store, anyTime bool) ([]analysed, error) {
	trails, err := st.AllTrails(ctx)
	if err != nil {
		return nil, err
	}
	var out []analysed
	for _, t := range trails {
		set, err := trail.DecodeSettings(t.Doc)
		if err != nil {
			continue
		}
		var d insightDoc
		if err := jsonUnmarshal(t.Doc, &d); err != nil || len(d.InsightSelectors) == 0 {
			continue
		}
		a := analysed{t: t, set: set, types: map[string][]string{}}
		for _, is := range d.InsightSelectors {
			cats := is.EventCategories
			if len(cats) == 0 {
				cats = []string{event.CategoryManagement}
			}
			a.types[is.InsightType] = cats
		}
		if anyTime {
			a.set.IsLogging, a.set.StartLoggingTime = true, &time.Time{}
		}
		out = append(out, a)
	}
	return out, nil
}

// keysOf appends the series rec counts in, given the analysed trails.
func keysOf(trails []analysed, org *trail.Organization, rec *event.Record, ingest time.Time, dst []key) []key {
	cat := rec.EventCategory
	if cat != event.CategoryManagement && cat != event.CategoryData {
		return dst
	}
	for i := range trails {
		a := &trails[i]
		if !a.set.Selects(a.t.Account, a.t.HomeRegion, org, rec, ingest) {
			continue
		}
		for _, typ := range [...]string{TypeCallRate, TypeErrorRate} {
			cats, ok := a.types[typ]
			if !ok || !slices.Contains(cats, cat) {
				continue
			}
			k := key{Account: rec.AccountID, Region: rec.AWSRegion, Type: typ, Category: cat, Source: rec.EventSource, Name: rec.EventName}
			switch typ {
			case TypeCallRate:
				// Management: write calls only; data: reads and writes.
				if cat == event.CategoryManagement && rec.ReadOnlySet && rec.ReadOnly {
					continue
				}
			case TypeErrorRate:
				if rec.ErrorCode == "" {
					continue
				}
				k.ErrorCode = rec.ErrorCode
			}
			if !slices.Contains(dst, k) {
				dst = append(dst, k)
			}
		}
	}
	return dst
}

// attrValues returns rec's attribution values by kind.
func attrValues(rec *event.Record) [3]string {
	arn := fastjson.GetString(rec.Raw, "userIdentity", "arn")
	if arn == "" {
		arn = "null"
	}
	ua, ec := rec.UserAgent, rec.ErrorCode
	if ua == "" {
		ua = "null"
	}
	if ec == "" {
		ec = "null"
	}
	return [3]string{arn, ua, ec}
}

// attrSource answers attribution counts of a series over minutes
// [from, to).
type attrSource interface {
	attrs(ctx context.Context, sid int64, from, to int64) (attrCounts, error)
}

// engine is the detector's state: the series, the minutes not yet closed,
// the insights in progress.
type engine struct {
	p       Params
	series  map[key]*series
	byID    map[int64]*series
	nextID  int64
	hist    int64 // first minute of observed history; -1 before any
	closed  int64 // the latest minute closed
	pending map[int64]map[*series]float64
	actives map[*series]bool
	touched map[*series]bool // series evaluated since the last save
}

func newEngine(p Params) *engine {
	return &engine{p: p, series: map[key]*series{}, byID: map[int64]*series{}, nextID: 1, hist: -1, closed: -1,
		pending: map[int64]map[*series]float64{}, actives: map[*series]bool{}, touched: map[*series]bool{}}
}

// get returns k's series, creating it (fresh reports whether it did).
func (e *engine) get(k key) (s *series, fresh bool) {
	if s = e.series[k]; s != nil {
		return s, false
	}
	s = newSeries(e.nextID, k)
	e.nextID++
	e.series[k], e.byID[s.id] = s, s
	return s, true
}

func (e *engine) put(s *series) {
	e.series[s.k], e.byID[s.id] = s, s
	e.nextID = max(e.nextID, s.id+1)
}

// count adds n calls of minute m to s.
func (e *engine) count(s *series, m int64, n float64) {
	if e.hist < 0 || m < e.hist {
		e.hist = m
	}
	if m <= s.evaluated {
		// Late: the series was evaluated past this minute already; the
		// calls still count in the baseline.
		s.add(m, n, n*n)
		return
	}
	p := e.pending[m]
	if p == nil {
		p = map[*series]float64{}
		e.pending[m] = p
	}
	p[s] += n
}

// closeThrough evaluates every pending minute through c, in order, and
// returns the insights that started or ended. (A minute may be pending
// behind c's predecessors: calls that arrive long after their time, as
// imported or back-filled history does, wait for the minute to close
// again and are evaluated then, each series in time order.)
func (e *engine) closeThrough(c int64) []*transition {
	var ms []int64
	for m := range e.pending {
		if m <= c {
			ms = append(ms, m)
		}
	}
	slices.Sort(ms)
	var out []*transition
	end := func(at int64) {
		for s := range e.actives {
			if tr := e.p.ended(s, at); tr != nil {
				delete(e.actives, s)
				out = append(out, tr)
			}
		}
	}
	for _, m := range ms {
		end(m - 1)
		p := e.pending[m]
		ss := make([]*series, 0, len(p))
		for s := range p {
			ss = append(ss, s)
		}
		slices.SortFunc(ss, func(a, b *series) int { return int(a.id - b.id) })
		for _, s := range ss {
			n := p[s]
			if tr := e.p.evaluate(s, m, n, e.hist); tr != nil {
				e.actives[s] = true
				out = append(out, tr)
			}
			s.add(m, n, n*n)
			s.evaluated = m
			e.touched[s] = true
		}
		delete(e.pending, m)
	}
	e.closed = max(e.closed, c)
	end(e.closed)
	return out
}

// due reports whether closing through c would evaluate a minute or end
// an insight.
func (e *engine) due(c int64) bool {
	for m := range e.pending {
		if m <= c {
			return true
		}
	}
	for s := range e.actives {
		if c-s.active.Last >= e.p.EndQuiet {
			return true
		}
	}
	return false
}

// attributions computes the attributions of a transition.
func attributions(ctx context.Context, src attrSource, tr *transition) ([]attribution, error) {
	a := &tr.a
	to := a.Last + 1
	mins := a.Last - a.Start + 1
	if tr.state == "Start" {
		to, mins = a.Start+1, 1
	}
	ins, err := src.attrs(ctx, tr.s.id, a.Start, to)
	if err != nil {
		return nil, err
	}
	base, err := src.attrs(ctx, tr.s.id, a.Start-a.BaseMins, a.Start)
	if err != nil {
		return nil, err
	}
	kinds := []int{attrIdentity, attrAgent, attrError}
	if tr.s.k.Type == TypeErrorRate {
		kinds = kinds[:2]
	}
	out := make([]attribution, 0, len(kinds))
	for _, k := range kinds {
		bl := base.top(k, a.BaseMins)
		if bl == nil {
			bl = []valueAvg{}
		}
		out = append(out, attribution{kind: k, insight: ins.top(k, mins), baseline: bl})
	}
	return out, nil
}

// memAttrs is an attrSource over counts held in memory, by series.
type memAttrs map[int64]map[attrKey]float64

type attrKey struct {
	minute int64
	kind   int
	value  string
}

func (m memAttrs) add(sid int64, k attrKey, n float64) {
	x := m[sid]
	if x == nil {
		x = map[attrKey]float64{}
		m[sid] = x
	}
	x[k] += n
}

func (m memAttrs) attrs(_ context.Context, sid int64, from, to int64) (attrCounts, error) {
	var out attrCounts
	for k, n := range m[sid] {
		if k.minute >= from && k.minute < to {
			out.add(k.kind, k.value, n)
		}
	}
	return out, nil
}
