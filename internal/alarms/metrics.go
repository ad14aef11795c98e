package alarms

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"time"
)

// Dimension is a metric dimension.
type Dimension struct{ Name, Value string }

// Sample is one validated datum of PutMetricData: a statistic set (a
// single value v is Count 1, Sum v, Min v, Max v).
type Sample struct {
	Namespace, MetricName string
	Dimensions            []Dimension
	Unit                  string // "" means None
	Time                  time.Time
	Count, Sum, Min, Max  float64
	// EventIDs name the events the sample came from (kept, the last
	// few per series-minute, for alarm notifications).
	EventIDs []string
}

// Datapoint is a point from a metric filter, pushed by PutSourced. Seq is
// the store sequence number of the event that produced it.
type Datapoint struct {
	Account, Region       string
	Namespace, MetricName string
	Dimensions            map[string]string
	Unit                  string
	Time                  time.Time
	Value                 float64
	Seq                   int64
	EventIDs              []string
}

// maxEventIDs is how many event ids a series-minute keeps (the latest).
const maxEventIDs = 5

// bucket is one minute of one series: 40 bytes.
type bucket struct {
	minute             int32 // minutes since the Unix epoch
	cnt, sum, min, max float64
}

// series is one metric series of one unit.
type series struct {
	id                        int64
	account, region, ns, name string
	dims                      []Dimension // sorted by name
	unit                      string
	mkey                      string
	buckets                   []bucket           // ascending minute
	events                    map[int32][]string // minute → event ids (rare)
}

func canonDims(d []Dimension) []Dimension {
	out := append([]Dimension(nil), d...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func dimsText(d []Dimension) string {
	pairs := make([][2]string, len(d))
	for i, x := range d {
		pairs[i] = [2]string{x.Name, x.Value}
	}
	b, _ := json.Marshal(pairs)
	return string(b)
}

func parseDims(s string) []Dimension {
	var pairs [][2]string
	_ = json.Unmarshal([]byte(s), &pairs)
	out := make([]Dimension, len(pairs))
	for i, p := range pairs {
		out[i] = Dimension{p[0], p[1]}
	}
	return out
}

// metricKey names a metric (every unit) of an account and region.
func metricKey(account, region, ns, name string, dims []Dimension) string {
	return strings.Join([]string{account, region, ns, name, dimsText(canonDims(dims))}, "\x00")
}

func seriesID(mkey, unit string) int64 {
	h := fnv.New64a()
	h.Write([]byte(mkey))
	h.Write([]byte{0})
	h.Write([]byte(unit))
	return int64(h.Sum64() >> 1)
}

func minuteOf(t time.Time) int32 { return int32(t.Unix() / 60) }

func (s *series) find(m int32) int {
	return sort.Search(len(s.buckets), func(i int) bool { return s.buckets[i].minute >= m })
}

// Put stores samples for account and region, committed before it returns.
func (e *Engine) Put(ctx context.Context, account, region string, samples []Sample) error {
	return e.put(ctx, account, region, "", 0, samples)
}

// PutSourced stores metric-filter points idempotently: per source it keeps
// the highest Seq applied, in the same transaction as the points, and
// ignores points with a Seq at or below it.
func (e *Engine) PutSourced(ctx context.Context, source string, pts []Datapoint) error {
	if source == "" {
		return fmt.Errorf("alarms: PutSourced needs a source name")
	}
	type acct struct{ a, r string }
	groups := map[acct][]Sample{}
	var order []acct
	var maxSeq int64
	e.mu.Lock()
	last := e.sources[source]
	e.mu.Unlock()
	for _, p := range pts {
		if p.Seq <= last {
			continue
		}
		if p.Seq > maxSeq {
			maxSeq = p.Seq
		}
		dims := make([]Dimension, 0, len(p.Dimensions))
		for k, v := range p.Dimensions {
			dims = append(dims, Dimension{k, v})
		}
		k := acct{p.Account, p.Region}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], Sample{Namespace: p.Namespace, MetricName: p.MetricName, Dimensions: dims, Unit: p.Unit,
			Time: p.Time, Count: 1, Sum: p.Value, Min: p.Value, Max: p.Value, EventIDs: p.EventIDs})
	}
	if maxSeq == 0 {
		return nil
	}
	var all []taggedSample
	for _, k := range order {
		for _, s := range groups[k] {
			all = append(all, taggedSample{k.a, k.r, s})
		}
	}
	return e.commitSamples(ctx, source, maxSeq, all)
}

type taggedSample struct {
	account, region string
	Sample
}

func (e *Engine) put(ctx context.Context, account, region, source string, seq int64, samples []Sample) error {
	all := make([]taggedSample, len(samples))
	for i, s := range samples {
		all[i] = taggedSample{account, region, s}
	}
	return e.commitSamples(ctx, source, seq, all)
}

type bucketKey struct {
	id     int64
	minute int32
}

// commitSamples merges samples into their minutes, writes the merged
// minutes (and the source's cursor) in one transaction, then applies them
// in memory and wakes the evaluator.
func (e *Engine) commitSamples(ctx context.Context, source string, seq int64, all []taggedSample) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if source != "" && seq <= e.sources[source] {
		return nil // a concurrent replay got there first
	}
	newSeries := map[int64]*series{}
	merged := map[bucketKey]bucket{}
	evs := map[bucketKey][]string{}
	var keys []bucketKey
	for _, s := range all {
		dims := canonDims(s.Dimensions)
		mk := metricKey(s.account, s.region, s.Namespace, s.MetricName, dims)
		unit := s.Unit
		if unit == "" {
			unit = "None"
		}
		id := seriesID(mk, unit)
		sr := e.series[id]
		if sr == nil {
			sr = newSeries[id]
		}
		if sr == nil {
			sr = &series{id: id, account: s.account, region: s.region, ns: s.Namespace, name: s.MetricName, dims: dims, unit: unit, mkey: mk}
			newSeries[id] = sr
		}
		k := bucketKey{id, minuteOf(s.Time)}
		b, ok := merged[k]
		if !ok {
			keys = append(keys, k)
			if i := sr.find(k.minute); i < len(sr.buckets) && sr.buckets[i].minute == k.minute {
				b, ok = sr.buckets[i], true
			}
			if ev := sr.events[k.minute]; ev != nil {
				evs[k] = append([]string(nil), ev...)
			}
		}
		if !ok {
			b = bucket{minute: k.minute, min: math.Inf(1), max: math.Inf(-1)}
		}
		b.cnt += s.Count
		b.sum += s.Sum
		b.min = math.Min(b.min, s.Min)
		b.max = math.Max(b.max, s.Max)
		merged[k] = b
		if len(s.EventIDs) > 0 {
			ev := append(evs[k], s.EventIDs...)
			if len(ev) > maxEventIDs {
				ev = ev[len(ev)-maxEventIDs:]
			}
			evs[k] = ev
		}
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alarms: begin: %w", err)
	}
	defer tx.Rollback()
	for id, sr := range newSeries {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO cw_series VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, sr.account, sr.region, sr.ns, sr.name, dimsText(sr.dims), sr.unit); err != nil {
			return fmt.Errorf("alarms: store series: %w", err)
		}
	}
	// The minutes go in one statement as column lists: a statement per
	// row, or rows of parameters, cost DuckDB ~50 µs a row.
	n := len(keys)
	ids, mins, vers := make([]int64, n), make([]int32, n), make([]int64, n)
	cnts, sums, los, his := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	evcol := make([]string, n) // "" when the minute has no event ids
	for i, k := range keys {
		b := merged[k]
		ids[i], mins[i], vers[i] = k.id, k.minute, e.pointVer+1+int64(i)
		cnts[i], sums[i], los[i], his[i] = b.cnt, b.sum, b.min, b.max
		if len(evs[k]) > 0 {
			j, _ := json.Marshal(evs[k])
			evcol[i] = string(j)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cw_points SELECT unnest(?::BIGINT[]), unnest(?::INTEGER[]),
		unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), unnest(?::VARCHAR[]), unnest(?::BIGINT[])`,
		ids, mins, cnts, sums, los, his, evcol, vers); err != nil {
		return fmt.Errorf("alarms: store points: %w", err)
	}
	if source != "" {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO cw_sources VALUES (?, ?)`, source, seq); err != nil {
			return fmt.Errorf("alarms: store source cursor: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("alarms: commit points: %w", err)
	}
	e.pointVer += int64(len(keys))
	for id, sr := range newSeries {
		e.addSeries(sr)
		_ = id
	}
	for _, k := range keys {
		sr := e.series[k.id]
		sr.set(merged[k])
		if ev := evs[k]; len(ev) > 0 {
			if sr.events == nil {
				sr.events = map[int32][]string{}
			}
			sr.events[k.minute] = ev
		}
		e.pending[sr.mkey] = true
	}
	if source != "" {
		e.sources[source] = seq
	}
	e.signal(e.wake)
	return nil
}

func (e *Engine) addSeries(sr *series) {
	e.series[sr.id] = sr
	e.byMetric[sr.mkey] = append(e.byMetric[sr.mkey], sr)
}

func (s *series) set(b bucket) {
	i := s.find(b.minute)
	if i < len(s.buckets) && s.buckets[i].minute == b.minute {
		s.buckets[i] = b
		return
	}
	s.buckets = append(s.buckets, bucket{})
	copy(s.buckets[i+1:], s.buckets[i:])
	s.buckets[i] = b
}

// MetricQuery names a metric: dimensions must match exactly; Unit ""
// means every unit.
type MetricQuery struct {
	Account, Region, Namespace, MetricName string
	Dimensions                             []Dimension
	Unit                                   string
}

// Aggregate is one period's statistics.
type Aggregate struct {
	Time                 time.Time
	Count, Sum, Min, Max float64
	Unit                 string
	EventIDs             []string
}

// Value is the named statistic of a (Sum, Average, Minimum, Maximum,
// SampleCount).
func (a Aggregate) Value(stat string) float64 {
	switch stat {
	case "Sum":
		return a.Sum
	case "Average":
		if a.Count == 0 {
			return 0
		}
		return a.Sum / a.Count
	case "Minimum":
		return a.Min
	case "Maximum":
		return a.Max
	case "SampleCount":
		return a.Count
	}
	return math.NaN()
}

// Aggregates returns q's statistics for each period of length period
// starting at start (periods with data only, ascending), up to end.
func (e *Engine) Aggregates(q MetricQuery, start, end time.Time, period time.Duration) []Aggregate {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.aggregates(q, start, end, period, false)
}

func (e *Engine) aggregates(q MetricQuery, start, end time.Time, period time.Duration, withEvents bool) []Aggregate {
	mk := metricKey(q.Account, q.Region, q.Namespace, q.MetricName, q.Dimensions)
	pm := int32(period / time.Minute)
	if pm < 1 {
		pm = 1
	}
	first := minuteOf(start.Add(59*time.Second - time.Nanosecond)) // a partial first minute is not in range
	if start.Unix()%60 == 0 {
		first = minuteOf(start)
	}
	last := minuteOf(end.Add(-time.Nanosecond)) // end is exclusive
	byPeriod := map[int32]*Aggregate{}
	units := map[int32]map[string]bool{}
	for _, sr := range e.byMetric[mk] {
		if q.Unit != "" && sr.unit != q.Unit {
			continue
		}
		for i := sr.find(first); i < len(sr.buckets) && sr.buckets[i].minute <= last; i++ {
			b := sr.buckets[i]
			p := minuteOf(start) + (b.minute-minuteOf(start))/pm*pm
			a := byPeriod[p]
			if a == nil {
				a = &Aggregate{Time: time.Unix(int64(p)*60, 0).UTC(), Min: math.Inf(1), Max: math.Inf(-1)}
				byPeriod[p] = a
				units[p] = map[string]bool{}
			}
			a.Count += b.cnt
			a.Sum += b.sum
			a.Min = math.Min(a.Min, b.min)
			a.Max = math.Max(a.Max, b.max)
			units[p][sr.unit] = true
			if withEvents {
				a.EventIDs = append(a.EventIDs, sr.events[b.minute]...)
			}
		}
	}
	out := make([]Aggregate, 0, len(byPeriod))
	for p, a := range byPeriod {
		a.Unit = "None"
		if len(units[p]) == 1 {
			for u := range units[p] {
				a.Unit = u
			}
		}
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Metric is a metric ListMetrics names.
type Metric struct {
	Namespace, MetricName string
	Dimensions            []Dimension
}

// ListMetrics returns the metrics of account and region with data within
// retention (with data since activeSince when it is not zero), sorted by
// namespace, name and dimensions.
func (e *Engine) ListMetrics(account, region string, activeSince time.Time) []Metric {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Metric
	seen := map[string]bool{}
	for mk, ss := range e.byMetric {
		if seen[mk] {
			continue
		}
		for _, sr := range ss {
			if sr.account != account || sr.region != region || len(sr.buckets) == 0 {
				continue
			}
			if !activeSince.IsZero() && time.Unix(int64(sr.buckets[len(sr.buckets)-1].minute)*60+59, 0).Before(activeSince) {
				continue
			}
			seen[mk] = true
			out = append(out, Metric{Namespace: sr.ns, MetricName: sr.name, Dimensions: sr.dims})
			break
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.MetricName != b.MetricName {
			return a.MetricName < b.MetricName
		}
		return dimsText(a.Dimensions) < dimsText(b.Dimensions)
	})
	return out
}

// prune drops minutes older than the retention, once an hour.
func (e *Engine) prune(ctx context.Context) {
	now := e.clk.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if now.Sub(e.pruned) < time.Hour {
		return
	}
	e.pruned = now
	cut := minuteOf(now.Add(-e.cfg.Retention))
	if _, err := e.db.ExecContext(ctx, `DELETE FROM cw_points WHERE minute < ?`, cut); err != nil {
		e.log.Warn("alarms: prune old minutes", "err", err)
		return
	}
	if _, err := e.db.ExecContext(ctx, `DELETE FROM cw_points WHERE (series, minute, ver) NOT IN
		(SELECT series, minute, max(ver) FROM cw_points GROUP BY series, minute)`); err != nil {
		e.log.Warn("alarms: drop superseded minutes", "err", err)
	}
	for _, sr := range e.series {
		i := sr.find(cut)
		if i > 0 {
			sr.buckets = append([]bucket(nil), sr.buckets[i:]...)
			for m := range sr.events {
				if m < cut {
					delete(sr.events, m)
				}
			}
		}
	}
}

// load reads the stored state into memory.
func (e *Engine) load(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	rows, err := e.db.QueryContext(ctx, `SELECT id, account, region, namespace, metric, dims, unit FROM cw_series`)
	if err != nil {
		return fmt.Errorf("alarms: load series: %w", err)
	}
	for rows.Next() {
		sr := &series{}
		var dims string
		if err := rows.Scan(&sr.id, &sr.account, &sr.region, &sr.ns, &sr.name, &dims, &sr.unit); err != nil {
			rows.Close()
			return fmt.Errorf("alarms: load series: %w", err)
		}
		sr.dims = parseDims(dims)
		sr.mkey = metricKey(sr.account, sr.region, sr.ns, sr.name, sr.dims)
		e.addSeries(sr)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("alarms: load series: %w", err)
	}
	cut := minuteOf(e.clk.Now().Add(-e.cfg.Retention))
	if err := e.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(ver), 0) FROM cw_points`).Scan(&e.pointVer); err != nil {
		return fmt.Errorf("alarms: load points: %w", err)
	}
	rows, err = e.db.QueryContext(ctx, `SELECT series, minute, cnt, total, lo, hi, events FROM cw_points
		WHERE minute >= ? QUALIFY row_number() OVER (PARTITION BY series, minute ORDER BY ver DESC) = 1
		ORDER BY series, minute`, cut)
	if err != nil {
		return fmt.Errorf("alarms: load points: %w", err)
	}
	for rows.Next() {
		var id int64
		var b bucket
		var ev *string
		if err := rows.Scan(&id, &b.minute, &b.cnt, &b.sum, &b.min, &b.max, &ev); err != nil {
			rows.Close()
			return fmt.Errorf("alarms: load points: %w", err)
		}
		sr := e.series[id]
		if sr == nil {
			continue
		}
		sr.buckets = append(sr.buckets, b)
		if ev != nil && *ev != "" {
			var ids []string
			if json.Unmarshal([]byte(*ev), &ids) == nil && len(ids) > 0 {
				if sr.events == nil {
					sr.events = map[int32][]string{}
				}
				sr.events[b.minute] = ids
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("alarms: load points: %w", err)
	}
	rows, err = e.db.QueryContext(ctx, `SELECT source, seq FROM cw_sources`)
	if err != nil {
		return fmt.Errorf("alarms: load sources: %w", err)
	}
	for rows.Next() {
		var s string
		var q int64
		if err := rows.Scan(&s, &q); err != nil {
			rows.Close()
			return err
		}
		e.sources[s] = q
	}
	rows.Close()
	if err := e.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM cw_history`).Scan(&e.histID); err != nil {
		return fmt.Errorf("alarms: load history position: %w", err)
	}
	return e.loadAlarms(ctx)
}
