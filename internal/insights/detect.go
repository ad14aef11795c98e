package insights

import (
	"math"
	"sort"
)

// Insight types and the event categories they analyse.
const (
	TypeCallRate  = "ApiCallRateInsight"
	TypeErrorRate = "ApiErrorRateInsight"
)

// key is one analysed series: the per-minute count of one API (and, for
// the error rate, one error code) in one account and region.
type key struct {
	Account, Region, Type, Category, Source, Name, ErrorCode string
}

// hoursKept is how many hourly buckets a series keeps: the baseline
// window (at most 7 days) plus a margin, as a ring.
const hoursKept = 8 * 24

type hourStat struct {
	hour       int64 // unix hour the bucket holds; -1 when empty
	sum, sumsq float64
}

// series is a key's in-memory state: hourly sums of its per-minute counts
// over the baseline window (a ring by hour) and the insight in progress.
type series struct {
	id     int64
	k      key
	hours  [hoursKept]hourStat
	active *active
	// evaluated is the latest minute evaluated (-1: none). Calls of a
	// later minute wait to be evaluated; calls of an earlier one are late
	// and only count in the baseline.
	evaluated int64
}

// active is an insight in progress.
type active struct {
	Start     int64   // unix minute of the first unusual minute
	Last      int64   // unix minute of the latest unusual minute
	Sum       float64 // calls (or errors) from Start through Last
	First     float64 // the first minute's count
	Baseline  float64 // the expected per-minute rate at Start
	Threshold float64 // the rate that counts as unusual
	BaseMins  int64   // baselineDuration at Start
}

func newSeries(id int64, k key) *series {
	s := &series{id: id, k: k, evaluated: -1}
	for i := range s.hours {
		s.hours[i].hour = -1
	}
	return s
}

// add puts n calls of minute m into the hourly sums (d2 is the change in
// the minute's squared count).
func (s *series) add(m int64, n, d2 float64) {
	h := floorDiv(m, 60)
	b := &s.hours[mod(h, hoursKept)]
	if b.hour != h {
		*b = hourStat{hour: h}
	}
	b.sum += n
	b.sumsq += d2
}

func (s *series) bucket(h int64) *hourStat {
	b := &s.hours[mod(h, hoursKept)]
	if b.hour != h {
		return nil
	}
	return b
}

// Params are the detection thresholds (see docs/detections.md, Insights).
type Params struct {
	BaselineMinutes int64   // trailing window of the baseline (7 days)
	MinHistory      int64   // minutes of observed history before any insight
	Factor          float64 // an unusual minute is at least Factor × the expected rate
	Spread          float64 // … and the expected rate plus Spread standard deviations
	MinCount        float64 // … and at least MinCount calls
	EndQuiet        int64   // an insight ends after EndQuiet minutes below the threshold
}

// baseline returns, for series s at minute m, the expected per-minute
// rate, its spread (standard deviation) and the baseline's length in
// minutes. hist is the first minute of observed history.
//
// The expected rate is the largest of: the mean over the trailing window
// (whole hours before m's hour plus m's hour so far), the mean of the
// same hour of the day over the previous days in the window, and the mean
// of the same hour of the week. The spread is the standard deviation of
// the per-minute counts in those same hours of the day, and at least the
// Poisson spread sqrt(expected).
func (p *Params) baseline(s *series, m, hist int64) (exp, sd float64, mins int64) {
	mins = min(p.BaselineMinutes, m-hist)
	if mins <= 0 {
		return 0, 0, 0
	}
	h := floorDiv(m, 60)
	days := p.BaselineMinutes / 1440
	var total float64
	for x := h - days*24; x <= h; x++ {
		if b := s.bucket(x); b != nil && x*60 >= m-mins {
			total += b.sum
		}
	}
	mean := total / float64(mins)
	var hs, hq float64
	var nh int64
	for d := int64(1); d <= days; d++ {
		x := h - 24*d
		if x*60 < hist {
			break
		}
		nh++
		if b := s.bucket(x); b != nil {
			hs += b.sum
			hq += b.sumsq
		}
	}
	exp = mean
	if nh > 0 {
		n := float64(60 * nh)
		hm := hs / n
		exp = max(exp, hm)
		sd = math.Sqrt(max(hq/n-hm*hm, 0))
		if days >= 7 && nh >= 7 {
			if b := s.bucket(h - 24*7); b != nil {
				exp = max(exp, b.sum/60)
			}
		}
	}
	return exp, max(sd, math.Sqrt(exp)), mins
}

// threshold is the rate above which a minute is unusual.
func (p *Params) threshold(exp, sd float64) float64 {
	return max(p.Factor*exp, exp+p.Spread*sd, p.MinCount)
}

// transition is an insight starting or ending.
type transition struct {
	s     *series
	state string // Start | End
	a     active // the insight; for End, through its last unusual minute
}

// evaluate looks at series s's closed minute m with n calls: it may start
// an insight or extend the one in progress. hist is the first minute of
// observed history. The caller adds the minute to the hourly sums after.
func (p *Params) evaluate(s *series, m int64, n float64, hist int64) *transition {
	if a := s.active; a != nil {
		if n >= a.Threshold {
			a.Last, a.Sum = m, a.Sum+n
		}
		return nil
	}
	if m-hist < p.MinHistory || n < p.MinCount {
		return nil
	}
	exp, sd, mins := p.baseline(s, m, hist)
	t := p.threshold(exp, sd)
	if n < t {
		return nil
	}
	s.active = &active{Start: m, Last: m, Sum: n, First: n, Baseline: exp, Threshold: t, BaseMins: mins}
	return &transition{s: s, state: "Start", a: *s.active}
}

// ended reports and clears s's insight if minute closed is EndQuiet
// minutes past its last unusual minute.
func (p *Params) ended(s *series, closed int64) *transition {
	a := s.active
	if a == nil || closed-a.Last < p.EndQuiet {
		return nil
	}
	s.active = nil
	return &transition{s: s, state: "End", a: *a}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func mod(a, b int64) int64 { return ((a % b) + b) % b }

// attrKinds are the attributions an insight reports.
const (
	attrIdentity = 0 // userIdentityArn
	attrAgent    = 1 // userAgent
	attrError    = 2 // errorCode (call-rate insights only)
)

var attrNames = [...]string{"userIdentityArn", "userAgent", "errorCode"}

// attrCounts counts calls by attribution kind and value.
type attrCounts [3]map[string]float64

func (a *attrCounts) add(kind int, v string, n float64) {
	if a[kind] == nil {
		a[kind] = map[string]float64{}
	}
	a[kind][v] += n
}

type valueAvg struct {
	Value   string
	Average float64
}

// top returns the five values of kind with the most calls, as per-minute
// averages over mins minutes, largest first (ties by value).
func (a *attrCounts) top(kind int, mins int64) []valueAvg {
	out := make([]valueAvg, 0, len(a[kind]))
	for v, n := range a[kind] {
		out = append(out, valueAvg{v, n / float64(max(mins, 1))})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Average != out[j].Average {
			return out[i].Average > out[j].Average
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > 5 {
		out = out[:5]
	}
	return out
}
