package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/filterpattern"
	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/pagetoken"
)

// MetricTransformationIn is a metricTransformations element as sent.
// defaultValue is kept raw: AWS refuses a JSON string there with a
// SerializationException of its own wording.
type MetricTransformationIn struct {
	MetricName      string            `json:"metricName"`
	MetricNamespace string            `json:"metricNamespace"`
	MetricValue     string            `json:"metricValue"`
	DefaultValue    json.RawMessage   `json:"defaultValue,omitempty"`
	Dimensions      map[string]string `json:"dimensions,omitempty"`
	Unit            *string           `json:"unit,omitempty"`
}

// MetricTransformation is a metricTransformations element as answered.
type MetricTransformation struct {
	MetricName      string            `json:"metricName"`
	MetricNamespace string            `json:"metricNamespace"`
	MetricValue     string            `json:"metricValue"`
	DefaultValue    *Double           `json:"defaultValue,omitempty"`
	Dimensions      map[string]string `json:"dimensions,omitempty"`
	Unit            string            `json:"unit,omitempty"`
}

// Double is a model double as AWS writes it: a whole number keeps its
// ".0" (7.0), so clients decode a float, not an integer.
type Double float64

// MarshalJSON writes d with a fractional part.
func (d Double) MarshalJSON() ([]byte, error) {
	v := float64(d)
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, fmt.Errorf("double %v has no JSON form", v)
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return []byte(s), nil
}

func double(v *float64) *Double {
	if v == nil {
		return nil
	}
	d := Double(*v)
	return &d
}

// PutMetricFilterInput is PutMetricFilter's request.
type PutMetricFilterInput struct {
	LogGroupName           string                   `json:"logGroupName"`
	FilterName             string                   `json:"filterName"`
	FilterPattern          *string                  `json:"filterPattern"`
	MetricTransformations  []MetricTransformationIn `json:"metricTransformations"`
	ApplyOnTransformedLogs *bool                    `json:"applyOnTransformedLogs,omitempty"`
}

// StandardUnits are the CloudWatch units a metric transformation may name.
var StandardUnits = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
	"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
	"Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}

// defaultValue reads a raw defaultValue: nil when absent or null.
func defaultValue(raw json.RawMessage) (*float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	kind := ""
	switch raw[0] {
	case '"':
		kind = "STRING_VALUE"
	case 't', 'f':
		kind = "BOOLEAN_VALUE"
	case '{':
		kind = "START_OBJECT"
	case '[':
		kind = "START_ARRAY"
	}
	if kind != "" {
		return nil, awsapi.NewError(awsapi.CodeSerialization, kind+" cannot be converted to Double")
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return nil, awsapi.NewError(awsapi.CodeSerialization, "NUMBER_VALUE cannot be converted to Double")
	}
	return &v, nil
}

// PutMetricFilter creates or replaces a metric filter.
func (s *Service) PutMetricFilter(ctx context.Context, in *PutMetricFilterInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range [][2]string{{"logGroupName", in.LogGroupName}, {"filterName", in.FilterName}} {
		if err := required(r[0], r[1]); err != nil {
			return nil, err
		}
	}
	if in.FilterPattern == nil {
		return nil, validation("filterPattern", "null", "Member must not be null")
	}
	switch n := len(in.MetricTransformations); {
	case in.MetricTransformations == nil:
		return nil, validation("metricTransformations", "null", "Member must not be null")
	case n < 1:
		return nil, validation("metricTransformations", "'[]'", "Member must have length greater than or equal to 1")
	case n > 1:
		return nil, validation("metricTransformations", fmt.Sprintf("'[%d transformations]'", n), "Member must have length less than or equal to 1")
	}
	mt := in.MetricTransformations[0]
	dv, err := defaultValue(mt.DefaultValue)
	if err != nil {
		return nil, err
	}
	for _, r := range [][2]string{{"metricName", mt.MetricName}, {"metricNamespace", mt.MetricNamespace}, {"metricValue", mt.MetricValue}} {
		if err := required("metricTransformations.1.member."+r[0], r[1]); err != nil {
			return nil, err
		}
	}
	for _, r := range [][2]string{{"metricName", mt.MetricName}, {"metricNamespace", mt.MetricNamespace}} {
		if len(r[1]) > 255 {
			return nil, validation("metricTransformations.1.member."+r[0], "'"+awsapi.Clip(r[1], 256)+"'", "Member must have length less than or equal to 255")
		}
		if strings.ContainsAny(r[1], ":*$") {
			return nil, validation("metricTransformations.1.member."+r[0], "'"+awsapi.Clip(r[1], 256)+"'", "Member must satisfy regular expression pattern: [^:*$]*")
		}
	}
	if len(mt.MetricValue) > 100 {
		return nil, validation("metricTransformations.1.member.metricValue", "'"+awsapi.Clip(mt.MetricValue, 256)+"'", "Member must have length less than or equal to 100")
	}
	t := filterpattern.Transformation{MetricName: mt.MetricName, MetricNamespace: mt.MetricNamespace, MetricValue: mt.MetricValue,
		DefaultValue: dv, Dimensions: mt.Dimensions}
	if mt.Unit != nil {
		if !slices.Contains(StandardUnits, *mt.Unit) {
			return nil, validation("metricTransformations.1.member.unit", "'"+awsapi.Clip(*mt.Unit, 256)+"'",
				"Member must satisfy enum value set: ["+strings.Join(StandardUnits, ", ")+"]")
		}
		t.Unit = *mt.Unit
	}
	return nil, wire(s.filters.PutMetricFilter(ctx, acc, reg, in.LogGroupName, in.FilterName, *in.FilterPattern, t))
}

// DescribeMetricFiltersInput is DescribeMetricFilters' request.
type DescribeMetricFiltersInput struct {
	LogGroupName     *string `json:"logGroupName,omitempty"`
	FilterNamePrefix *string `json:"filterNamePrefix,omitempty"`
	NextToken        *string `json:"nextToken,omitempty"`
	Limit            *int32  `json:"limit,omitempty"`
	MetricName       *string `json:"metricName,omitempty"`
	MetricNamespace  *string `json:"metricNamespace,omitempty"`
}

// MetricFilterOut is one filter in DescribeMetricFilters' answer.
type MetricFilterOut struct {
	FilterName            string                 `json:"filterName"`
	FilterPattern         string                 `json:"filterPattern"`
	MetricTransformations []MetricTransformation `json:"metricTransformations"`
	CreationTime          int64                  `json:"creationTime"`
	LogGroupName          string                 `json:"logGroupName"`
	ApplyOnTransformed    bool                   `json:"applyOnTransformedLogs"`
}

// DescribeMetricFiltersOutput is DescribeMetricFilters' answer.
type DescribeMetricFiltersOutput struct {
	MetricFilters []MetricFilterOut `json:"metricFilters"`
	NextToken     *string           `json:"nextToken,omitempty"`
}

// DescribeMetricFilters lists metric filters.
func (s *Service) DescribeMetricFilters(ctx context.Context, in *DescribeMetricFiltersInput) (*DescribeMetricFiltersOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	lim, err := limit("limit", in.Limit, 50)
	if err != nil {
		return nil, err
	}
	var q logwatch.MetricFilterQuery
	if in.LogGroupName != nil {
		q.Group = *in.LogGroupName
	}
	if in.FilterNamePrefix != nil {
		if in.LogGroupName == nil {
			return nil, invalidf("If you are using filterNamePrefix, you must also specify logGroupName.")
		}
		q.Prefix = *in.FilterNamePrefix
	}
	if (in.MetricName == nil) != (in.MetricNamespace == nil) {
		return nil, invalidf("If you are using metricName or metricNamespace, you must specify both of them.")
	}
	if in.MetricName != nil {
		q.MetricName, q.Namespace = *in.MetricName, *in.MetricNamespace
	}
	qh := pagetoken.NewHasher().Str(acc).Str(reg).Str(q.Group).Str(q.Prefix).Str(q.MetricName).Str(q.Namespace).Sum()
	off, err := s.page(pagetoken.KindMetricFilters, qh, in.NextToken)
	if err != nil {
		return nil, err
	}
	all, err := s.filters.MetricFilters(ctx, acc, reg, q)
	if err != nil {
		return nil, wire(err)
	}
	lo, hi, next := window(len(all), off, lim)
	out := &DescribeMetricFiltersOutput{MetricFilters: []MetricFilterOut{}, NextToken: s.issue(pagetoken.KindMetricFilters, qh, next)}
	for _, f := range all[lo:hi] {
		t := f.Transformation
		out.MetricFilters = append(out.MetricFilters, MetricFilterOut{FilterName: f.Name, FilterPattern: f.Pattern,
			CreationTime: f.Created.UnixMilli(), LogGroupName: f.LogGroup,
			MetricTransformations: []MetricTransformation{{MetricName: t.MetricName, MetricNamespace: t.MetricNamespace,
				MetricValue: t.MetricValue, DefaultValue: double(t.DefaultValue), Dimensions: t.Dimensions, Unit: t.Unit}}})
	}
	return out, nil
}

// DeleteFilterInput names a filter of a group.
type DeleteFilterInput struct {
	LogGroupName string `json:"logGroupName"`
	FilterName   string `json:"filterName"`
}

// DeleteMetricFilter deletes a metric filter.
func (s *Service) DeleteMetricFilter(ctx context.Context, in *DeleteFilterInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return nil, wire(s.filters.DeleteMetricFilter(ctx, acc, reg, in.LogGroupName, in.FilterName))
}

// TestMetricFilterInput is TestMetricFilter's request.
type TestMetricFilterInput struct {
	FilterPattern    *string  `json:"filterPattern"`
	LogEventMessages []string `json:"logEventMessages"`
}

// MetricFilterMatchRecord is one TestMetricFilter match.
type MetricFilterMatchRecord struct {
	EventNumber     int64             `json:"eventNumber"`
	EventMessage    string            `json:"eventMessage"`
	ExtractedValues map[string]string `json:"extractedValues"`
}

// TestMetricFilterOutput is TestMetricFilter's answer.
type TestMetricFilterOutput struct {
	Matches []MetricFilterMatchRecord `json:"matches"`
}

// TestMetricFilter runs a pattern over sample messages.
func (s *Service) TestMetricFilter(ctx context.Context, in *TestMetricFilterInput) (*TestMetricFilterOutput, error) {
	if _, _, err := caller(ctx); err != nil {
		return nil, err
	}
	if in.FilterPattern == nil {
		return nil, validation("filterPattern", "null", "Member must not be null")
	}
	switch n := len(in.LogEventMessages); {
	case in.LogEventMessages == nil:
		return nil, validation("logEventMessages", "null", "Member must not be null")
	case n < 1:
		return nil, validation("logEventMessages", "'[]'", "Member must have length greater than or equal to 1")
	case n > 50:
		return nil, validation("logEventMessages", fmt.Sprintf("'[%d messages]'", n), "Member must have length less than or equal to 50")
	}
	ms, err := logwatch.TestPattern(*in.FilterPattern, in.LogEventMessages)
	if err != nil {
		return nil, wire(err)
	}
	out := &TestMetricFilterOutput{Matches: make([]MetricFilterMatchRecord, 0, len(ms))}
	for _, m := range ms {
		out.Matches = append(out.Matches, MetricFilterMatchRecord{EventNumber: m.Number, EventMessage: m.Message, ExtractedValues: m.Extracted})
	}
	return out, nil
}

// PutSubscriptionFilterInput is PutSubscriptionFilter's request.
type PutSubscriptionFilterInput struct {
	LogGroupName   string  `json:"logGroupName"`
	FilterName     string  `json:"filterName"`
	FilterPattern  *string `json:"filterPattern"`
	DestinationArn string  `json:"destinationArn"`
	RoleArn        *string `json:"roleArn,omitempty"`
	Distribution   *string `json:"distribution,omitempty"`
}

// PutSubscriptionFilter creates or replaces a subscription filter.
func (s *Service) PutSubscriptionFilter(ctx context.Context, in *PutSubscriptionFilterInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range [][2]string{{"logGroupName", in.LogGroupName}, {"filterName", in.FilterName}, {"destinationArn", in.DestinationArn}} {
		if err := required(r[0], r[1]); err != nil {
			return nil, err
		}
	}
	if in.FilterPattern == nil {
		return nil, validation("filterPattern", "null", "Member must not be null")
	}
	role, dist := "", ""
	if in.RoleArn != nil {
		role = *in.RoleArn
	}
	if in.Distribution != nil {
		dist = *in.Distribution
	}
	return nil, wire(s.filters.PutSubscriptionFilter(ctx, acc, reg, in.LogGroupName, in.FilterName, *in.FilterPattern, in.DestinationArn, role, dist))
}

// DescribeSubscriptionFiltersInput is DescribeSubscriptionFilters' request.
type DescribeSubscriptionFiltersInput struct {
	LogGroupName     string  `json:"logGroupName"`
	FilterNamePrefix *string `json:"filterNamePrefix,omitempty"`
	NextToken        *string `json:"nextToken,omitempty"`
	Limit            *int32  `json:"limit,omitempty"`
}

// SubscriptionFilterOut is one filter in DescribeSubscriptionFilters'
// answer.
type SubscriptionFilterOut struct {
	FilterName     string `json:"filterName"`
	LogGroupName   string `json:"logGroupName"`
	FilterPattern  string `json:"filterPattern"`
	DestinationArn string `json:"destinationArn"`
	RoleArn        string `json:"roleArn,omitempty"`
	Distribution   string `json:"distribution"`
	CreationTime   int64  `json:"creationTime"`
}

// DescribeSubscriptionFiltersOutput is DescribeSubscriptionFilters' answer.
type DescribeSubscriptionFiltersOutput struct {
	SubscriptionFilters []SubscriptionFilterOut `json:"subscriptionFilters"`
	NextToken           *string                 `json:"nextToken,omitempty"`
}

// DescribeSubscriptionFilters lists a group's subscription filters.
func (s *Service) DescribeSubscriptionFilters(ctx context.Context, in *DescribeSubscriptionFiltersInput) (*DescribeSubscriptionFiltersOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := required("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	lim, err := limit("limit", in.Limit, 50)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if in.FilterNamePrefix != nil {
		prefix = *in.FilterNamePrefix
	}
	qh := pagetoken.NewHasher().Str(acc).Str(reg).Str(in.LogGroupName).Str(prefix).Sum()
	off, err := s.page(pagetoken.KindSubscriptionFilters, qh, in.NextToken)
	if err != nil {
		return nil, err
	}
	all, err := s.filters.SubscriptionFilters(ctx, acc, reg, in.LogGroupName, prefix)
	if err != nil {
		return nil, wire(err)
	}
	lo, hi, next := window(len(all), off, lim)
	out := &DescribeSubscriptionFiltersOutput{SubscriptionFilters: []SubscriptionFilterOut{},
		NextToken: s.issue(pagetoken.KindSubscriptionFilters, qh, next)}
	for _, f := range all[lo:hi] {
		out.SubscriptionFilters = append(out.SubscriptionFilters, SubscriptionFilterOut{FilterName: f.Name, LogGroupName: f.LogGroup,
			FilterPattern: f.Pattern, DestinationArn: f.DestinationARN, RoleArn: f.RoleARN, Distribution: f.Distribution,
			CreationTime: f.Created.UnixMilli()})
	}
	return out, nil
}

// DeleteSubscriptionFilter deletes a subscription filter.
func (s *Service) DeleteSubscriptionFilter(ctx context.Context, in *DeleteFilterInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return nil, wire(s.filters.DeleteSubscriptionFilter(ctx, acc, reg, in.LogGroupName, in.FilterName))
}

// millis returns t in epoch milliseconds, or nil.
func millis(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

// sequenceToken is the (no longer enforced) upload sequence token
// DescribeLogStreams shows: digits that change with every upload.
func sequenceToken(lastIngest *time.Time) string {
	var v int64
	if lastIngest != nil {
		v = lastIngest.UnixMilli()
	}
	return fmt.Sprintf("%056d", v)
}
