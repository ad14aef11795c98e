// ListInsightsMetricData and ListInsightsData: the per-minute series
// Insights analyses and the Insights events of data-event trails.

package cloudtrail

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
)

// InsightsMetrics answers the per-minute counts behind Insights
// (internal/insights): the sums over period-second buckets of the series
// of one account, region, insight type, event category, source, name and
// error code, for buckets in [start, end), in time order, zero buckets
// left out.
// It also answers ListInsightsData: the Insights records made for an
// account and region on events of a category, newest first.
type InsightsMetrics interface {
	InsightsMetricData(ctx context.Context, account, region, insightType, category, source, name, errorCode string,
		start, end time.Time, period int) ([]time.Time, []float64, error)
	InsightsEvents(ctx context.Context, account, region, category, dim, value string, start, end time.Time,
		offset, limit int) ([][]byte, bool, error)
}

// ListInsightsMetricDataInput is the ListInsightsMetricData request.
type ListInsightsMetricDataInput struct {
	TrailName   *string
	EventSource *string
	EventName   *string
	InsightType *string
	ErrorCode   *string
	StartTime   *awsapi.Time
	EndTime     *awsapi.Time
	Period      *int
	DataType    *string
	MaxResults  *int
	NextToken   *string
}

// ListInsightsMetricDataOutput is its response.
type ListInsightsMetricDataOutput struct {
	TrailARN    string `json:",omitempty"`
	EventSource string
	EventName   string
	InsightType string
	ErrorCode   string `json:",omitempty"`
	Timestamps  []awsapi.Time
	Values      doubles
	NextToken   string `json:",omitempty"`
}

// doubles encodes as AWS encodes a list of Double: whole numbers with a
// ".0" (30.0, not 30), so clients read floats.
type doubles []float64

func (d doubles) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, v := range d {
		if i > 0 {
			b = append(b, ',')
		}
		n := len(b)
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
		if !bytes.ContainsAny(b[n:], ".eE") {
			b = append(b, ".0"...)
		}
	}
	return append(b, ']'), nil
}

const maxMetricPoints = 21600

// ListInsightsMetricData returns the per-minute call (or error) counts
// Insights analyses for one API in the caller's account and region, as
// sums over 60, 300 or 3600 seconds. With TrailName, the series of data
// events the trail's Insights analyse.
func (s *Service) ListInsightsMetricData(ctx context.Context, in *ListInsightsMetricDataInput) (*ListInsightsMetricDataOutput, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	str := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	src, name, typ, ecode := str(in.EventSource), str(in.EventName), str(in.InsightType), str(in.ErrorCode)
	switch {
	case src == "":
		return nil, awsapi.NewError(codeInvalidParameter, "EventSource is required.")
	case name == "":
		return nil, awsapi.NewError(codeInvalidParameter, "EventName is required.")
	case typ == "":
		return nil, awsapi.NewError(codeInvalidParameter, "InsightType is required.")
	case typ != insightCallRate && typ != insightErrorRate:
		return nil, awsapi.Errorf(codeInvalidParameter,
			"InsightType %q is not valid; use ApiCallRateInsight or ApiErrorRateInsight.", awsapi.Clip(typ, 64))
	case typ == insightErrorRate && ecode == "":
		return nil, awsapi.NewError(codeInvalidParameter, "ErrorCode is required when InsightType is ApiErrorRateInsight.")
	case typ == insightCallRate && ecode != "":
		return nil, awsapi.NewError(codeInvalidParameter, "ErrorCode is only valid when InsightType is ApiErrorRateInsight.")
	}
	period := 3600
	if in.Period != nil {
		period = *in.Period
	}
	if period != 60 && period != 300 && period != 3600 {
		return nil, awsapi.Errorf(codeInvalidParameter, "Period %d is not valid; use 60, 300 or 3600.", period)
	}
	fill := false
	switch dt := str(in.DataType); dt {
	case "", "NonZeroData":
	case "FillWithZeros":
		fill = true
	default:
		return nil, awsapi.Errorf(codeInvalidParameter, "DataType %q is not valid; use FillWithZeros or NonZeroData.", awsapi.Clip(dt, 64))
	}
	limit := maxMetricPoints
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxMetricPoints {
			return nil, awsapi.Errorf(codeInvalidParameter, "MaxResults %d is not valid; use 1 to %d.", *in.MaxResults, maxMetricPoints)
		}
		limit = *in.MaxResults
	}
	now := s.now().UTC()
	end := now
	if in.EndTime != nil {
		end = in.EndTime.UTC()
	}
	start := now.Add(-90 * 24 * time.Hour)
	if in.StartTime != nil {
		start = in.StartTime.UTC()
	}
	if !start.Before(end) {
		return nil, awsapi.NewError(codeInvalidParameter, "StartTime must be before EndTime.")
	}
	step := time.Duration(period) * time.Second
	start = start.Truncate(step)
	if start.Before(end) && in.StartTime != nil && start.Before(in.StartTime.UTC()) {
		start = start.Add(step) // StartTime is inclusive: buckets start at or after it
	}
	if in.NextToken != nil {
		sec, err := strconv.ParseInt(*in.NextToken, 10, 64)
		if err != nil || sec < start.Unix() || sec > end.Unix() || sec%int64(period) != 0 {
			return nil, awsapi.NewError(codeInvalidParameter, "NextToken is not valid for this request.")
		}
		start = time.Unix(sec, 0).UTC()
	}
	out := &ListInsightsMetricDataOutput{EventSource: src, EventName: name, InsightType: typ, ErrorCode: ecode,
		Timestamps: []awsapi.Time{}, Values: doubles{}}
	category := "Management"
	if in.TrailName != nil {
		t, err := s.ownTrail(ctx, "TrailName", in.TrailName, false)
		if err != nil {
			return nil, err
		}
		out.TrailARN, category = t.row.ARN, "Data"
	}
	var ts []time.Time
	var vs []float64
	if s.insights != nil && start.Before(end) {
		if ts, vs, err = s.insights.InsightsMetricData(ctx, p.AccountID, c.Region, typ, category, src, name, ecode, start, end, period); err != nil {
			return nil, err
		}
	}
	add := func(t time.Time, v float64) bool {
		if len(out.Timestamps) == limit {
			out.NextToken = strconv.FormatInt(t.Unix(), 10)
			return false
		}
		out.Timestamps, out.Values = append(out.Timestamps, awsapi.Time{Time: t}), append(out.Values, v)
		return true
	}
	if !fill {
		for i := range ts {
			if !add(ts[i], vs[i]) {
				break
			}
		}
		return out, nil
	}
	i := 0
	for t := start; t.Before(end); t = t.Add(step) {
		v := 0.0
		for i < len(ts) && ts[i].Before(t) {
			i++
		}
		if i < len(ts) && ts[i].Equal(t) {
			v = vs[i]
		}
		if !add(t, v) {
			break
		}
	}
	return out, nil
}

// ListInsightsDataInput is the ListInsightsData request.
type ListInsightsDataInput struct {
	InsightSource *string
	DataType      *string
	Dimensions    map[string]string
	StartTime     *awsapi.Time
	EndTime       *awsapi.Time
	MaxResults    *int
	NextToken     *string
}

// ListInsightsDataOutput is its response.
type ListInsightsDataOutput struct {
	Events    []Event
	NextToken string `json:",omitempty"`
}

// ListInsightsData returns the Insights events made on the data events of
// a trail (InsightSource, its ARN) in the caller's region, newest first,
// 1–50 a page, filtered by one dimension (EventId, EventName or
// EventSource) and a time range.
func (s *Service) ListInsightsData(ctx context.Context, in *ListInsightsDataInput) (*ListInsightsDataOutput, error) {
	c, _, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if in.InsightSource == nil || *in.InsightSource == "" {
		return nil, awsapi.NewError(codeInvalidParameter, "InsightSource is required.")
	}
	switch {
	case in.DataType == nil || *in.DataType == "":
		return nil, awsapi.NewError(codeInvalidParameter, "DataType is required.")
	case *in.DataType != "InsightsEvents":
		return nil, awsapi.Errorf(codeInvalidParameter, "DataType %q is not valid; use InsightsEvents.", awsapi.Clip(*in.DataType, 64))
	}
	var dim, value string
	if in.Dimensions != nil {
		if len(in.Dimensions) != 1 {
			return nil, awsapi.Errorf(codeInvalidParameter, "Dimensions must hold exactly one entry; got %d.", len(in.Dimensions))
		}
		for k, v := range in.Dimensions {
			if k != "EventId" && k != "EventName" && k != "EventSource" {
				return nil, awsapi.Errorf(codeInvalidParameter,
					"Dimensions key %q is not valid; use EventId, EventName or EventSource.", awsapi.Clip(k, 64))
			}
			dim, value = k, v
		}
	}
	limit := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, awsapi.Errorf(codeInvalidParameter, "MaxResults %d is not valid; use 1 to 50.", *in.MaxResults)
		}
		limit = *in.MaxResults
	}
	var start, end time.Time
	if in.StartTime != nil {
		start = in.StartTime.UTC()
	}
	if in.EndTime != nil {
		end = in.EndTime.UTC()
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return nil, awsapi.NewError(codeInvalidParameter, "StartTime must not be after EndTime.")
	}
	offset := 0
	if in.NextToken != nil {
		n, err := strconv.Atoi(strings.TrimPrefix(*in.NextToken, insightsDataToken))
		if err != nil || n <= 0 || !strings.HasPrefix(*in.NextToken, insightsDataToken) {
			return nil, awsapi.NewError(codeInvalidParameter, "NextToken is not valid for this request.")
		}
		offset = n
	}
	t, err := s.ownTrailNamed(ctx, "InsightSource", in.InsightSource, false, true)
	if err != nil {
		return nil, err
	}
	out := &ListInsightsDataOutput{Events: []Event{}}
	if s.insights == nil {
		return out, nil
	}
	raws, more, err := s.insights.InsightsEvents(ctx, t.row.Account, c.Region, "Data", dim, value, start, end, offset, limit)
	if err != nil {
		return nil, err
	}
	for _, raw := range raws {
		rec, err := event.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("read an Insights record: %w", err)
		}
		out.Events = append(out.Events, lookupEvent(rec))
	}
	if more {
		out.NextToken = insightsDataToken + strconv.Itoa(offset+len(raws))
	}
	return out, nil
}

// insightsDataToken prefixes ListInsightsData's NextToken (the number of
// events already returned; the model wants at least 4 characters).
const insightsDataToken = "insights-"
