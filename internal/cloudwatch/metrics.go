package cloudwatch

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/alarmrule"
	"github.com/opentrail/opentrail/internal/alarms"
	"github.com/opentrail/opentrail/internal/awsapi"
)

// StatisticSet is a MetricDatum's StatisticValues.
type StatisticSet struct {
	SampleCount *float64 `json:"SampleCount"`
	Sum         *float64 `json:"Sum"`
	Minimum     *float64 `json:"Minimum"`
	Maximum     *float64 `json:"Maximum"`
}

// MetricDatum is one datum of PutMetricData.
type MetricDatum struct {
	MetricName        string        `json:"MetricName"`
	Dimensions        []Dimension   `json:"Dimensions,omitempty"`
	Timestamp         *awsapi.Time  `json:"Timestamp,omitempty"`
	Value             *float64      `json:"Value,omitempty"`
	StatisticValues   *StatisticSet `json:"StatisticValues,omitempty"`
	Values            []float64     `json:"Values,omitempty"`
	Counts            []float64     `json:"Counts,omitempty"`
	Unit              string        `json:"Unit,omitempty"`
	StorageResolution *int32        `json:"StorageResolution,omitempty"`
}

// PutMetricDataInput is PutMetricData's request.
type PutMetricDataInput struct {
	Namespace  string        `json:"Namespace"`
	MetricData []MetricDatum `json:"MetricData"`
}

// PutMetricDataOutput is empty.
type PutMetricDataOutput struct{}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// PutMetricData stores datapoints in 1-minute aggregates.
func (s *Service) PutMetricData(ctx context.Context, in *PutMetricDataInput) (*PutMetricDataOutput, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if in.Namespace == "" {
		return nil, missing("Namespace")
	}
	if len(in.Namespace) > 255 || strings.HasPrefix(in.Namespace, "AWS/") || strings.HasPrefix(in.Namespace, ":") {
		return nil, invalid("The value %s for parameter Namespace is invalid.", awsapi.Clip(in.Namespace, 64))
	}
	if len(in.MetricData) == 0 {
		return nil, missing("MetricData")
	}
	if len(in.MetricData) > 1000 {
		return nil, invalid("The collection MetricData must not have a size greater than 1000.")
	}
	now := s.clk.Now().UTC()
	samples := make([]alarms.Sample, 0, len(in.MetricData))
	for i, d := range in.MetricData {
		p := "MetricData.member." + strconv.Itoa(i+1)
		if d.MetricName == "" {
			return nil, missing(p + ".MetricName")
		}
		if len(d.MetricName) > 255 {
			return nil, invalid("The value %s for parameter %s.MetricName is invalid.", awsapi.Clip(d.MetricName, 64), p)
		}
		if err := checkDims(d.Dimensions, p+".Dimensions"); err != nil {
			return nil, err
		}
		if err := checkUnit(d.Unit, p+".Unit"); err != nil {
			return nil, err
		}
		if d.StorageResolution != nil && *d.StorageResolution != 1 && *d.StorageResolution != 60 {
			return nil, invalid("The value %d for parameter %s.StorageResolution is invalid.", *d.StorageResolution, p)
		}
		t := now
		if d.Timestamp != nil {
			t = d.Timestamp.Time.UTC()
		}
		if t.Before(now.Add(-14 * 24 * time.Hour)) {
			return nil, invalid("The parameter %s.Timestamp must specify a time within the past two weeks.", p)
		}
		if t.After(now.Add(2 * time.Hour)) {
			return nil, invalid("The parameter %s.Timestamp must specify a time no more than two hours in the future.", p)
		}
		sm := alarms.Sample{Namespace: in.Namespace, MetricName: d.MetricName, Dimensions: toDims(d.Dimensions), Unit: d.Unit, Time: t}
		switch {
		case d.Value != nil && len(d.Values) > 0:
			return nil, invalid("The parameters %s.Value and %s.Values are mutually exclusive and you have specified both.", p, p)
		case d.Value != nil && d.StatisticValues != nil:
			return nil, awsapi.Errorf(codeInvalidCombination, "The parameters %s.Value and %s.StatisticValues are mutually exclusive and you have specified both.", p, p)
		case len(d.Values) > 0 && d.StatisticValues != nil:
			return nil, awsapi.Errorf(codeInvalidCombination, "The parameters %s.Values and %s.StatisticValues are mutually exclusive and you have specified both.", p, p)
		case d.Value != nil:
			if bad(*d.Value) {
				return nil, invalid("The value %s for parameter %s.Value is invalid.", fmtNum(*d.Value), p)
			}
			v := *d.Value
			sm.Count, sm.Sum, sm.Min, sm.Max = 1, v, v, v
		case len(d.Values) > 0:
			if len(d.Values) > 150 {
				return nil, invalid("The collection %s.Values must not have a size greater than 150.", p)
			}
			if len(d.Counts) > 0 && len(d.Counts) != len(d.Values) {
				return nil, invalid("The parameters %s.Values and %s.Counts must be of the same size.", p, p)
			}
			sm.Min, sm.Max = math.Inf(1), math.Inf(-1)
			for j, v := range d.Values {
				if bad(v) {
					return nil, invalid("The value %s for parameter %s.Values is invalid.", fmtNum(v), p)
				}
				c := 1.0
				if len(d.Counts) > 0 {
					c = d.Counts[j]
					if bad(c) || c < 0 {
						return nil, invalid("The value %s for parameter %s.Counts is invalid.", fmtNum(c), p)
					}
				}
				if c == 0 {
					continue
				}
				sm.Count += c
				sm.Sum += v * c
				sm.Min, sm.Max = math.Min(sm.Min, v), math.Max(sm.Max, v)
			}
			if sm.Count == 0 {
				continue
			}
		case d.StatisticValues != nil:
			sv := d.StatisticValues
			for _, m := range []struct {
				name string
				v    *float64
			}{{"SampleCount", sv.SampleCount}, {"Sum", sv.Sum}, {"Minimum", sv.Minimum}, {"Maximum", sv.Maximum}} {
				if m.v == nil {
					return nil, missing(p + ".StatisticValues." + m.name)
				}
				if bad(*m.v) {
					return nil, invalid("The value %s for parameter %s.StatisticValues.%s is invalid.", fmtNum(*m.v), p, m.name)
				}
			}
			if *sv.SampleCount <= 0 {
				return nil, invalid("The parameter %s.StatisticValues.SampleCount must be greater than 0.", p)
			}
			if *sv.Minimum > *sv.Maximum {
				return nil, invalid("The parameter %s.StatisticValues.Maximum must be greater than %s.StatisticValues.Minimum.", p, p)
			}
			sm.Count, sm.Sum, sm.Min, sm.Max = *sv.SampleCount, *sv.Sum, *sv.Minimum, *sv.Maximum
		default:
			return nil, awsapi.Errorf(codeMissing, "One of the parameters %s.Value, %s.Values and %s.StatisticValues is required.", p, p, p)
		}
		samples = append(samples, sm)
	}
	if len(samples) == 0 {
		return &PutMetricDataOutput{}, nil
	}
	if err := s.e.Put(ctx, account, region, samples); err != nil {
		return nil, awsapi.NotStored("the metric data was not stored", err)
	}
	return &PutMetricDataOutput{}, nil
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// GetMetricStatisticsInput is GetMetricStatistics' request.
type GetMetricStatisticsInput struct {
	Namespace          string       `json:"Namespace"`
	MetricName         string       `json:"MetricName"`
	Dimensions         []Dimension  `json:"Dimensions,omitempty"`
	StartTime          *awsapi.Time `json:"StartTime"`
	EndTime            *awsapi.Time `json:"EndTime"`
	Period             *int32       `json:"Period"`
	Statistics         []string     `json:"Statistics,omitempty"`
	ExtendedStatistics []string     `json:"ExtendedStatistics,omitempty"`
	Unit               string       `json:"Unit,omitempty"`
}

// Datapoint is one period's statistics.
type Datapoint struct {
	Timestamp   *awsapi.Time `json:"Timestamp,omitempty"`
	SampleCount *float64     `json:"SampleCount,omitempty"`
	Average     *float64     `json:"Average,omitempty"`
	Sum         *float64     `json:"Sum,omitempty"`
	Minimum     *float64     `json:"Minimum,omitempty"`
	Maximum     *float64     `json:"Maximum,omitempty"`
	Unit        string       `json:"Unit,omitempty"`
}

// GetMetricStatisticsOutput is GetMetricStatistics' answer.
type GetMetricStatisticsOutput struct {
	Label      string      `json:"Label"`
	Datapoints []Datapoint `json:"Datapoints"`
}

func checkRange(start, end *awsapi.Time) error {
	if start == nil {
		return missing("StartTime")
	}
	if end == nil {
		return missing("EndTime")
	}
	if !start.Time.Before(end.Time) {
		return invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	return nil
}

// GetMetricStatistics answers the statistics of one metric per period.
func (s *Service) GetMetricStatistics(ctx context.Context, in *GetMetricStatisticsInput) (*GetMetricStatisticsOutput, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case in.Namespace == "":
		return nil, missing("Namespace")
	case in.MetricName == "":
		return nil, missing("MetricName")
	case in.Period == nil:
		return nil, missing("Period")
	}
	if err := checkRange(in.StartTime, in.EndTime); err != nil {
		return nil, err
	}
	if err := checkPeriod(*in.Period, "Period"); err != nil {
		return nil, err
	}
	if err := checkDims(in.Dimensions, "Dimensions"); err != nil {
		return nil, err
	}
	if err := checkUnit(in.Unit, "Unit"); err != nil {
		return nil, err
	}
	if len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0 {
		return nil, awsapi.NewError(codeMissing, "Must specify either Statistics or ExtendedStatistics.")
	}
	if len(in.Statistics) > 5 {
		return nil, invalid("The collection Statistics must not have a size greater than 5.")
	}
	for i, st := range in.Statistics {
		if !statistics[st] {
			return nil, invalid("The parameter Statistics.member.%d must be a value in the set [ Minimum, Maximum, Sum, SampleCount, Average ].", i+1)
		}
	}
	if len(in.ExtendedStatistics) > 0 {
		return nil, invalid("The parameter ExtendedStatistics is not supported: opentrail keeps Sum, SampleCount, Minimum and Maximum per minute, not percentiles (%s).", awsapi.Clip(in.ExtendedStatistics[0], 32))
	}
	period := time.Duration(*in.Period) * time.Second
	start := in.StartTime.Time.UTC().Truncate(time.Minute)
	end := in.EndTime.Time.UTC()
	n := int64((end.Sub(start) + period - 1) / period)
	if n > 1440 {
		return nil, awsapi.Errorf(codeInvalidCombination, "You have requested up to %s datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", thousands(n))
	}
	q := alarms.MetricQuery{Account: account, Region: region, Namespace: in.Namespace, MetricName: in.MetricName,
		Dimensions: toDims(in.Dimensions), Unit: in.Unit}
	out := &GetMetricStatisticsOutput{Label: in.MetricName, Datapoints: []Datapoint{}}
	for _, a := range s.e.Aggregates(q, start, end, period) {
		dp := Datapoint{Timestamp: ptime(a.Time), Unit: a.Unit}
		for _, st := range in.Statistics {
			v := a.Value(st)
			switch st {
			case "SampleCount":
				dp.SampleCount = &v
			case "Average":
				dp.Average = &v
			case "Sum":
				dp.Sum = &v
			case "Minimum":
				dp.Minimum = &v
			case "Maximum":
				dp.Maximum = &v
			}
		}
		out.Datapoints = append(out.Datapoints, dp)
	}
	return out, nil
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Metric names a metric.
type Metric struct {
	Namespace  string      `json:"Namespace,omitempty"`
	MetricName string      `json:"MetricName,omitempty"`
	Dimensions []Dimension `json:"Dimensions,omitempty"`
}

// DimensionFilter is a ListMetrics dimension filter.
type DimensionFilter struct {
	Name  string  `json:"Name"`
	Value *string `json:"Value,omitempty"`
}

// ListMetricsInput is ListMetrics' request.
type ListMetricsInput struct {
	Namespace      string            `json:"Namespace,omitempty"`
	MetricName     string            `json:"MetricName,omitempty"`
	Dimensions     []DimensionFilter `json:"Dimensions,omitempty"`
	NextToken      *string           `json:"NextToken,omitempty"`
	RecentlyActive string            `json:"RecentlyActive,omitempty"`
}

// ListMetricsOutput is ListMetrics' answer.
type ListMetricsOutput struct {
	Metrics   []Metric `json:"Metrics"`
	NextToken *string  `json:"NextToken,omitempty"`
}

const listMetricsPage = 500

// ListMetrics lists the caller's metrics, 500 a page.
func (s *Service) ListMetrics(ctx context.Context, in *ListMetricsInput) (*ListMetricsOutput, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if len(in.Dimensions) > 10 {
		return nil, invalid("The collection Dimensions must not have a size greater than 10.")
	}
	for i, f := range in.Dimensions {
		if f.Name == "" {
			return nil, missing("Dimensions.member." + strconv.Itoa(i+1) + ".Name")
		}
	}
	var since time.Time
	switch in.RecentlyActive {
	case "":
	case "PT3H":
		since = s.clk.Now().Add(-3 * time.Hour)
	default:
		return nil, invalid("The parameter RecentlyActive must be a value in the set [ PT3H ].")
	}
	from := 0
	if in.NextToken != nil {
		if from, err = tokenInt("metrics", *in.NextToken); err != nil {
			return nil, err
		}
	}
	var all []Metric
	for _, m := range s.e.ListMetrics(account, region, since) {
		if in.Namespace != "" && m.Namespace != in.Namespace || in.MetricName != "" && m.MetricName != in.MetricName {
			continue
		}
		if !dimsMatch(m.Dimensions, in.Dimensions) {
			continue
		}
		all = append(all, Metric{Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: fromDims(m.Dimensions)})
	}
	out := &ListMetricsOutput{Metrics: []Metric{}}
	if from > len(all) {
		from = len(all)
	}
	end := min(from+listMetricsPage, len(all))
	out.Metrics = append(out.Metrics, all[from:end]...)
	if end < len(all) {
		t := token("metrics", strconv.Itoa(end))
		out.NextToken = &t
	}
	return out, nil
}

func dimsMatch(have []alarms.Dimension, filters []DimensionFilter) bool {
	for _, f := range filters {
		found := false
		for _, d := range have {
			if d.Name == f.Name && (f.Value == nil || *f.Value == d.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// MetricStat is a MetricDataQuery's MetricStat.
type MetricStat struct {
	Metric *Metric `json:"Metric"`
	Period *int32  `json:"Period"`
	Stat   string  `json:"Stat"`
	Unit   string  `json:"Unit,omitempty"`
}

// MetricDataQuery is one query of GetMetricData or of an alarm's Metrics.
type MetricDataQuery struct {
	ID         string      `json:"Id"`
	MetricStat *MetricStat `json:"MetricStat,omitempty"`
	Expression string      `json:"Expression,omitempty"`
	Label      string      `json:"Label,omitempty"`
	ReturnData *bool       `json:"ReturnData,omitempty"`
	Period     *int32      `json:"Period,omitempty"`
	AccountID  string      `json:"AccountId,omitempty"`
}

// GetMetricDataInput is GetMetricData's request.
type GetMetricDataInput struct {
	MetricDataQueries []MetricDataQuery `json:"MetricDataQueries"`
	StartTime         *awsapi.Time      `json:"StartTime"`
	EndTime           *awsapi.Time      `json:"EndTime"`
	NextToken         *string           `json:"NextToken,omitempty"`
	ScanBy            string            `json:"ScanBy,omitempty"`
	MaxDatapoints     *int32            `json:"MaxDatapoints,omitempty"`
}

// MessageData is a message of GetMetricData.
type MessageData struct {
	Code  string `json:"Code,omitempty"`
	Value string `json:"Value,omitempty"`
}

// MetricDataResult is one result of GetMetricData.
type MetricDataResult struct {
	ID         string         `json:"Id"`
	Label      string         `json:"Label"`
	Timestamps []*awsapi.Time `json:"Timestamps"`
	Values     []float64      `json:"Values"`
	StatusCode string         `json:"StatusCode"`
	Messages   []MessageData  `json:"Messages,omitempty"`
}

// GetMetricDataOutput is GetMetricData's answer.
type GetMetricDataOutput struct {
	MetricDataResults []MetricDataResult `json:"MetricDataResults"`
	NextToken         *string            `json:"NextToken,omitempty"`
	Messages          []MessageData      `json:"Messages"`
}

type series struct {
	id, label string
	times     []time.Time
	values    []float64
}

func checkMetricStat(ms *MetricStat, p string) error {
	if ms.Metric == nil {
		return missing(p + ".Metric")
	}
	if ms.Metric.Namespace == "" {
		return missing(p + ".Metric.Namespace")
	}
	if ms.Metric.MetricName == "" {
		return missing(p + ".Metric.MetricName")
	}
	if ms.Period == nil {
		return missing(p + ".Period")
	}
	if err := checkPeriod(*ms.Period, p+".Period"); err != nil {
		return err
	}
	if !statistics[ms.Stat] {
		return invalid("The value %s for parameter %s.Stat is not supported: opentrail keeps Sum, SampleCount, Minimum, Maximum and Average.", awsapi.Clip(ms.Stat, 32), p)
	}
	if err := checkDims(ms.Metric.Dimensions, p+".Metric.Dimensions"); err != nil {
		return err
	}
	return checkUnit(ms.Unit, p+".Unit")
}

func validID(id string) bool {
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkQueries validates MetricDataQueries (p names them in messages).
func checkQueries(qs []MetricDataQuery, p string) error {
	if len(qs) == 0 {
		return missing(p)
	}
	if len(qs) > 500 {
		return invalid("The collection %s must not have a size greater than 500.", p)
	}
	ids := map[string]bool{}
	for i, q := range qs {
		mp := p + ".member." + strconv.Itoa(i+1)
		if !validID(q.ID) {
			return invalid("The value %s for parameter %s.Id is invalid: an Id starts with a lowercase letter and holds letters, digits and underscores.", awsapi.Clip(q.ID, 64), mp)
		}
		if ids[q.ID] {
			return invalid("The value %s for parameter %s.Id is not unique.", q.ID, mp)
		}
		ids[q.ID] = true
		switch {
		case q.MetricStat != nil && q.Expression != "":
			return awsapi.Errorf(codeInvalidCombination, "The parameters %s.MetricStat and %s.Expression are mutually exclusive and you have specified both.", mp, mp)
		case q.MetricStat != nil:
			if err := checkMetricStat(q.MetricStat, mp+".MetricStat"); err != nil {
				return err
			}
		case q.Expression != "":
			refs, err := expressionRefs(q.Expression)
			if err != nil {
				return invalid("The expression %s in %s.Expression is not supported: %s. opentrail evaluates ANOMALY_DETECTION_BAND(id, k) and arithmetic (+ - * / and parentheses) over MetricStat queries.", awsapi.Clip(q.Expression, 64), mp, err)
			}
			for _, ref := range refs {
				found := false
				for _, o := range qs {
					if o.ID == ref && o.MetricStat != nil {
						found = true
					}
				}
				if !found {
					return invalid("The expression %s in %s.Expression refers to %s, which is not a MetricStat query of the request.", awsapi.Clip(q.Expression, 64), mp, ref)
				}
			}
		default:
			return awsapi.Errorf(codeMissing, "One of the parameters %s.MetricStat and %s.Expression is required.", mp, mp)
		}
	}
	return nil
}

// GetMetricData answers MetricStat queries and ANOMALY_DETECTION_BAND
// expressions, newest first unless ScanBy is TimestampAscending, paged by
// MaxDatapoints (100,800 by default).
func (s *Service) GetMetricData(ctx context.Context, in *GetMetricDataInput) (*GetMetricDataOutput, error) {
	account, region, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkQueries(in.MetricDataQueries, "MetricDataQueries"); err != nil {
		return nil, err
	}
	if err := checkRange(in.StartTime, in.EndTime); err != nil {
		return nil, err
	}
	asc := false
	switch in.ScanBy {
	case "", "TimestampDescending":
	case "TimestampAscending":
		asc = true
	default:
		return nil, invalid("The parameter ScanBy must be a value in the set [ TimestampDescending, TimestampAscending ].")
	}
	max := 100800
	if in.MaxDatapoints != nil {
		if *in.MaxDatapoints <= 0 {
			return nil, invalid("The parameter MaxDatapoints must be greater than 0.")
		}
		max = int(*in.MaxDatapoints)
	}
	skip := 0
	if in.NextToken != nil {
		if skip, err = tokenInt("data", *in.NextToken); err != nil {
			return nil, err
		}
	}
	start := in.StartTime.Time.UTC().Truncate(time.Minute)
	end := in.EndTime.Time.UTC()
	byID := map[string]MetricDataQuery{}
	for _, q := range in.MetricDataQueries {
		byID[q.ID] = q
	}
	// Every MetricStat query is computed (an expression may use one that
	// is not returned); expressions are computed from them.
	stats := map[string]series{}
	for _, q := range in.MetricDataQueries {
		if q.MetricStat == nil {
			continue
		}
		mq, period := metricQuery(account, region, q.MetricStat)
		sr := series{id: q.ID, label: q.Label}
		if sr.label == "" {
			sr.label = q.MetricStat.Metric.MetricName
		}
		for _, a := range s.e.Aggregates(mq, start, end, period) {
			sr.times = append(sr.times, a.Time)
			sr.values = append(sr.values, a.Value(q.MetricStat.Stat))
		}
		stats[q.ID] = sr
	}
	var results []series
	for _, q := range in.MetricDataQueries {
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		if q.MetricStat != nil {
			results = append(results, stats[q.ID])
			continue
		}
		label := q.Label
		if label == "" {
			label = q.ID
		}
		if ref, k, ok := alarms.ParseBand(q.Expression); ok {
			ms := byID[ref].MetricStat
			mq, period := metricQuery(account, region, ms)
			var times []time.Time
			for t := start; t.Before(end); t = t.Add(period) {
				times = append(times, t)
			}
			lo, hi, ok := s.e.Bands(mq, ms.Stat, times, period, k)
			lower, upper := series{id: q.ID, label: label + " Lower"}, series{id: q.ID, label: label + " Upper"}
			for i, t := range times {
				if ok[i] {
					lower.times, lower.values = append(lower.times, t), append(lower.values, lo[i])
					upper.times, upper.values = append(upper.times, t), append(upper.values, hi[i])
				}
			}
			results = append(results, lower, upper)
			continue
		}
		results = append(results, arithmetic(q.ID, label, q.Expression, stats))
	}
	out := &GetMetricDataOutput{MetricDataResults: []MetricDataResult{}, Messages: []MessageData{}}
	pos, taken := 0, 0
	more := false
	for _, sr := range results {
		idx := make([]int, len(sr.times))
		for i := range idx {
			idx[i] = i
		}
		if !asc {
			sort.Slice(idx, func(a, b int) bool { return idx[a] > idx[b] })
		}
		r := MetricDataResult{ID: sr.id, Label: sr.label, Timestamps: []*awsapi.Time{}, Values: []float64{}, StatusCode: "Complete"}
		for _, i := range idx {
			if pos >= skip {
				if taken == max {
					more = true
					r.StatusCode = "PartialData"
					break
				}
				r.Timestamps = append(r.Timestamps, ptime(sr.times[i]))
				r.Values = append(r.Values, sr.values[i])
				taken++
			}
			pos++
		}
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	if more {
		t := token("data", strconv.Itoa(skip+taken))
		out.NextToken = &t
	}
	return out, nil
}

// expressionRefs returns the queries an expression uses: the band's
// metric, or an arithmetic expression's ids.
func expressionRefs(expr string) ([]string, error) {
	if ref, _, ok := alarms.ParseBand(expr); ok {
		return []string{ref}, nil
	}
	if strings.Contains(expr, "ANOMALY_DETECTION_BAND") {
		return nil, fmt.Errorf("ANOMALY_DETECTION_BAND takes a query id and a number")
	}
	e, err := alarmrule.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	return e.Refs(), nil
}

func metricQuery(account, region string, ms *MetricStat) (alarms.MetricQuery, time.Duration) {
	return alarms.MetricQuery{Account: account, Region: region, Namespace: ms.Metric.Namespace, MetricName: ms.Metric.MetricName,
		Dimensions: toDims(ms.Metric.Dimensions), Unit: ms.Unit}, time.Duration(*ms.Period) * time.Second
}

// arithmetic evaluates an arithmetic expression at every timestamp where
// all the queries it uses have a value.
func arithmetic(id, label, expr string, stats map[string]series) series {
	e, _ := alarmrule.ParseExpr(expr) // checked by checkQueries
	refs := e.Refs()
	at := map[int64]map[string]float64{}
	for _, ref := range refs {
		sr := stats[ref]
		for i, t := range sr.times {
			if at[t.Unix()] == nil {
				at[t.Unix()] = map[string]float64{}
			}
			at[t.Unix()][ref] = sr.values[i]
		}
	}
	keys := make([]int64, 0, len(at))
	for k := range at {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	out := series{id: id, label: label}
	for _, k := range keys {
		if v, ok := e.Eval(at[k]); ok {
			out.times, out.values = append(out.times, time.Unix(k, 0).UTC()), append(out.values, v)
		}
	}
	return out
}
