package console

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// alarmGraph is an alarm's metric over a time range, laid out for the
// alarms_detail template's SVG: the metric line with its datapoints, the
// threshold line or the anomaly band, and the periods the alarm was in
// ALARM shaded. It is small on purpose (one chart, drawn on the server);
// a shared chart package may replace it.
type alarmGraph struct {
	W, H                     int
	Left, Right, Top, Bottom int // the plot area
	Label                    string
	Line                     string // path data of the metric
	Points                   []graphPoint
	Threshold                *graphThreshold
	Band                     string // polygon points of the anomaly band
	Alarm                    []graphSpan
	YTicks, XTicks           []graphTick
	Empty                    bool
	Period                   string
}

type graphPoint struct {
	X, Y  float64
	Title string
}

type graphThreshold struct {
	Y     float64
	Label string
}

type graphSpan struct {
	X, W  float64
	Title string
}

type graphTick struct {
	Pos   float64
	Label string
}

// maxGraphPoints bounds the datapoints of one graph: the period grows (in
// multiples of the alarm's) until the range holds at most this many.
const maxGraphPoints = 480

// alarmGraphData reads the alarm's metric from start to end through
// GetMetricData and lays the graph out; hist (newest first) gives the
// ALARM periods.
func (c alarmPages) alarmGraphData(r *http.Request, s *Session, a cwAlarm, start, end time.Time, hist []historyEntry) (*alarmGraph, error) {
	period := alarmPeriod(a)
	if period <= 0 {
		period = 60
	}
	span := int32(end.Sub(start) / time.Second)
	if n := span / period; n > maxGraphPoints {
		period *= (n + maxGraphPoints - 1) / maxGraphPoints
	}
	in := cwDataIn{StartTime: &awsapi.Time{Time: start}, EndTime: &awsapi.Time{Time: end}, ScanBy: "TimestampAscending"}
	metricID := "m1"
	switch {
	case a.MetricName != "":
		stat := a.Statistic
		if stat == "" {
			return nil, fmt.Errorf("the alarm uses the extended statistic %s, which opentrail does not keep", a.ExtendedStatistic)
		}
		in.MetricDataQueries = []cwQuery{{Id: metricID, MetricStat: &cwMetricStat{
			Metric: &cwMetric{Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions},
			Period: &period, Stat: stat, Unit: a.Unit}}}
	case len(a.Metrics) > 0:
		in.MetricDataQueries = a.Metrics
		metricID = ""
		for _, q := range a.Metrics {
			if q.Id != a.ThresholdMetricId && (q.ReturnData == nil || *q.ReturnData) {
				metricID = q.Id
				break
			}
		}
		if p := alarmPeriod(a); p > 0 {
			period = p
		}
	default:
		return nil, fmt.Errorf("the alarm names no metric")
	}
	var out cwDataOut
	if err := c.callIn(r, s, a.Region, "monitoring", "GetMetricData", in, &out); err != nil {
		return nil, err
	}
	g := &alarmGraph{W: 960, H: 260, Left: 56, Right: 944, Top: 12, Bottom: 226, Period: durationText(time.Duration(period) * time.Second)}
	var (
		pts          []tv
		lower, upper []tv
	)
	for _, res := range out.MetricDataResults {
		series := make([]tv, 0, len(res.Values))
		for i, v := range res.Values {
			if i < len(res.Timestamps) && res.Timestamps[i] != nil {
				series = append(series, tv{res.Timestamps[i].Time, v})
			}
		}
		sort.Slice(series, func(i, j int) bool { return series[i].t.Before(series[j].t) })
		switch {
		case res.Id == metricID && pts == nil:
			pts, g.Label = series, res.Label
		case res.Id == a.ThresholdMetricId && strings.HasSuffix(res.Label, " Lower"):
			lower = series
		case res.Id == a.ThresholdMetricId && strings.HasSuffix(res.Label, " Upper"):
			upper = series
		}
	}
	if g.Label == "" {
		g.Label = metricOf(a)
	}
	g.layout(a, start, end, pts, lower, upper, alarmSpans(a, hist, start, end))
	return g, nil
}

type tv struct {
	t time.Time
	v float64
}

// alarmSpans are the intervals within [start, end] in which the alarm was
// in ALARM, from its state updates (hist newest first).
func alarmSpans(a cwAlarm, hist []historyEntry, start, end time.Time) [][2]time.Time {
	var ups []historyEntry
	for _, h := range hist {
		if h.Type == "StateUpdate" && h.State != "" && !h.Time.Before(start) && !h.Time.After(end) {
			ups = append(ups, h)
		}
	}
	sort.SliceStable(ups, func(i, j int) bool { return ups[i].Time.Before(ups[j].Time) })
	cur := a.StateValue
	if len(ups) > 0 {
		cur = ups[0].OldState
	}
	var out [][2]time.Time
	from := start
	for _, u := range ups {
		if cur == "ALARM" {
			out = append(out, [2]time.Time{from, u.Time})
		}
		cur, from = u.State, u.Time
	}
	if cur == "ALARM" {
		out = append(out, [2]time.Time{from, end})
	}
	return out
}

// layout scales the series into the plot area and makes the ticks.
func (g *alarmGraph) layout(a cwAlarm, start, end time.Time, pts, lower, upper []tv, spans [][2]time.Time) {
	lo, hi := 0.0, 0.0
	grow := func(v float64) {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	for _, p := range pts {
		grow(p.v)
	}
	for _, p := range lower {
		grow(p.v)
	}
	for _, p := range upper {
		grow(p.v)
	}
	if a.Threshold != nil {
		grow(*a.Threshold)
	}
	if hi == lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 4)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi*1.05/step) * step
	w, h := float64(g.Right-g.Left), float64(g.Bottom-g.Top)
	x := func(t time.Time) float64 {
		return float64(g.Left) + w*float64(t.Sub(start))/float64(end.Sub(start))
	}
	y := func(v float64) float64 { return float64(g.Bottom) - h*(v-lo)/(hi-lo) }
	for v := lo; v <= hi+step/2; v += step {
		g.YTicks = append(g.YTicks, graphTick{Pos: round1(y(v)), Label: strconv.FormatFloat(v, 'g', 6, 64)})
	}
	layoutFmt := "15:04"
	if end.Sub(start) > 24*time.Hour {
		layoutFmt = "Jan 2 15:04"
	}
	every := tickEvery(end.Sub(start))
	for t := start.Truncate(every); !t.After(end); t = t.Add(every) {
		if t.Before(start) {
			continue
		}
		g.XTicks = append(g.XTicks, graphTick{Pos: round1(x(t)), Label: t.UTC().Format(layoutFmt)})
	}
	var b strings.Builder
	for i, p := range pts {
		px, py := round1(x(p.t)), round1(y(p.v))
		if i == 0 {
			fmt.Fprintf(&b, "M%g %g", px, py)
		} else {
			fmt.Fprintf(&b, " L%g %g", px, py)
		}
		g.Points = append(g.Points, graphPoint{X: px, Y: py, Title: p.t.UTC().Format("2006-01-02 15:04 UTC") + ": " + strconv.FormatFloat(p.v, 'g', 6, 64)})
	}
	g.Line = b.String()
	g.Empty = len(pts) == 0
	if a.Threshold != nil {
		g.Threshold = &graphThreshold{Y: round1(y(*a.Threshold)), Label: "threshold " + strconv.FormatFloat(*a.Threshold, 'g', -1, 64)}
	}
	if len(lower) > 0 && len(lower) == len(upper) {
		var pb strings.Builder
		for _, p := range upper {
			fmt.Fprintf(&pb, "%g,%g ", round1(x(p.t)), round1(y(p.v)))
		}
		for i := len(lower) - 1; i >= 0; i-- {
			fmt.Fprintf(&pb, "%g,%g ", round1(x(lower[i].t)), round1(y(lower[i].v)))
		}
		g.Band = strings.TrimSpace(pb.String())
	}
	for _, sp := range spans {
		x0, x1 := round1(x(sp[0])), round1(x(sp[1]))
		if x1-x0 < 2 {
			x1 = x0 + 2
		}
		g.Alarm = append(g.Alarm, graphSpan{X: x0, W: round1(x1 - x0),
			Title: "ALARM " + sp[0].UTC().Format("2006-01-02 15:04:05") + " – " + sp[1].UTC().Format("15:04:05 UTC")})
	}
}

// tickEvery is the time between the x axis' ticks: the shortest of a
// few round steps that gives at most 8 ticks.
func tickEvery(span time.Duration) time.Duration {
	for _, d := range []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
		2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour} {
		if span/d <= 8 {
			return d
		}
	}
	return 7 * 24 * time.Hour
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
