// Package cloudwatch is the CloudWatch API (signing name monitoring):
// metric data, statistics and metric alarms, as operations
// func(ctx, *In) (*Out, error) over the Engine interface it declares
// (satisfied by *alarms.Engine), registered into an awsapi.Router that
// speaks CloudWatch's protocols (RPC v2 CBOR, JSON 1.0 and query). Every
// metric and alarm belongs to the caller's account and the request's
// region. It validates requests and answers with CloudWatch's error codes;
// it stores and evaluates nothing itself.
package cloudwatch

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/alarms"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
)

// Engine is what the operations need from the metrics and alarms
// component (*alarms.Engine).
type Engine interface {
	Put(ctx context.Context, account, region string, samples []alarms.Sample) error
	Aggregates(q alarms.MetricQuery, start, end time.Time, period time.Duration) []alarms.Aggregate
	Bands(q alarms.MetricQuery, stat string, times []time.Time, period time.Duration, k float64) (lower, upper []float64, ok []bool)
	ListMetrics(account, region string, activeSince time.Time) []alarms.Metric
	PutAlarm(ctx context.Context, a alarms.Alarm) error
	Alarms(account, region string) []alarms.Alarm
	DeleteAlarms(ctx context.Context, account, region string, names []string) error
	SetState(ctx context.Context, account, region, name, state, reason, reasonData string) error
	SetActionsEnabled(ctx context.Context, account, region string, names []string, enabled bool) error
	SetTags(ctx context.Context, account, region, name string, f func([]alarms.Tag) []alarms.Tag) error
	History(ctx context.Context, f alarms.HistoryFilter) ([]alarms.HistoryItem, error)
}

var _ Engine = (*alarms.Engine)(nil)

// Config configures the service.
type Config struct {
	Engine Engine
	Clock  clock.Clock
	Logger *slog.Logger
}

// Service is the CloudWatch API.
type Service struct {
	e   Engine
	clk clock.Clock
	log *slog.Logger
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Engine == nil {
		return nil, errors.New("cloudwatch: no engine")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{e: cfg.Engine, clk: clock.Or(cfg.Clock), log: cfg.Logger}, nil
}

// Register adds the operations to r (a router speaking
// awsapi.CloudWatchProtocols()).
func (s *Service) Register(r *awsapi.Router) {
	awsapi.Register(r, "PutMetricData", false, s.PutMetricData)
	awsapi.Register(r, "GetMetricStatistics", true, s.GetMetricStatistics)
	awsapi.Register(r, "GetMetricData", true, s.GetMetricData)
	awsapi.Register(r, "ListMetrics", true, s.ListMetrics)
	awsapi.Register(r, "PutMetricAlarm", false, s.PutMetricAlarm)
	awsapi.Register(r, "DescribeAlarms", true, s.DescribeAlarms)
	awsapi.Register(r, "DescribeAlarmsForMetric", true, s.DescribeAlarmsForMetric)
	awsapi.Register(r, "DeleteAlarms", false, s.DeleteAlarms)
	awsapi.Register(r, "SetAlarmState", false, s.SetAlarmState)
	awsapi.Register(r, "DescribeAlarmHistory", true, s.DescribeAlarmHistory)
	awsapi.Register(r, "EnableAlarmActions", false, s.EnableAlarmActions)
	awsapi.Register(r, "DisableAlarmActions", false, s.DisableAlarmActions)
	awsapi.Register(r, "TagResource", false, s.TagResource)
	awsapi.Register(r, "UntagResource", false, s.UntagResource)
	awsapi.Register(r, "ListTagsForResource", true, s.ListTagsForResource)
}

// Error codes CloudWatch answers with (the query codes; the router maps
// them to the shapes' names for JSON and CBOR).
const (
	codeInvalidValue       = "InvalidParameterValue"
	codeInvalidCombination = "InvalidParameterCombination"
	codeMissing            = "MissingParameter"
	codeNotFound           = "ResourceNotFound"
	codeNotFoundException  = "ResourceNotFoundException"
	codeInvalidNextToken   = "InvalidNextToken"
	codeInvalidFormat      = "InvalidFormat"
	codeValidation         = "ValidationError"
)

func invalid(format string, args ...any) *awsapi.Error {
	return awsapi.Errorf(codeInvalidValue, format, args...)
}

func missing(param string) *awsapi.Error {
	return awsapi.Errorf(codeMissing, "The parameter %s is required.", param)
}

// caller returns the caller's account and the request's region.
func caller(ctx context.Context) (account, region string, err error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return "", "", err
	}
	return p.AccountID, c.Region, nil
}

// Dimension is a metric dimension.
type Dimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

func toDims(ds []Dimension) []alarms.Dimension {
	out := make([]alarms.Dimension, len(ds))
	for i, d := range ds {
		out[i] = alarms.Dimension{Name: d.Name, Value: d.Value}
	}
	return out
}

func fromDims(ds []alarms.Dimension) []Dimension {
	out := make([]Dimension, len(ds))
	for i, d := range ds {
		out[i] = Dimension{Name: d.Name, Value: d.Value}
	}
	return out
}

func checkDims(ds []Dimension, param string) error {
	if len(ds) > 30 {
		return invalid("The collection %s must not have a size greater than 30.", param)
	}
	seen := map[string]bool{}
	for i, d := range ds {
		p := param + ".member." + strconv.Itoa(i+1)
		if d.Name == "" {
			return missing(p + ".Name")
		}
		if d.Value == "" {
			return missing(p + ".Value")
		}
		if len(d.Name) > 255 || len(d.Value) > 1024 {
			return invalid("The value %s for parameter %s is invalid.", awsapi.Clip(d.Name, 64), p)
		}
		if seen[d.Name] {
			return invalid("No Metric may specify the same dimension name twice: %s.", awsapi.Clip(d.Name, 64))
		}
		seen[d.Name] = true
	}
	return nil
}

var units = map[string]bool{}

func init() {
	for _, u := range strings.Split("Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|Kilobits|Megabits|Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|Megabytes/Second|Gigabytes/Second|Terabytes/Second|Bits/Second|Kilobits/Second|Megabits/Second|Gigabits/Second|Terabits/Second|Count/Second|None", "|") {
		units[u] = true
	}
}

func checkUnit(u, param string) error {
	if u != "" && !units[u] {
		return invalid("The parameter %s must be a value in the set [ Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes, Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count, Bytes/Second, Kilobytes/Second, Megabytes/Second, Gigabytes/Second, Terabytes/Second, Bits/Second, Kilobits/Second, Megabits/Second, Gigabits/Second, Terabits/Second, Count/Second, None ].", param)
	}
	return nil
}

var statistics = map[string]bool{"SampleCount": true, "Average": true, "Sum": true, "Minimum": true, "Maximum": true}

// checkPeriod accepts what 1-minute aggregates can answer.
func checkPeriod(p int32, param string) error {
	if p <= 0 {
		return invalid("The parameter %s must be greater than 0.", param)
	}
	if p < 60 {
		return invalid("The parameter %s must be a multiple of 60: opentrail keeps 1-minute aggregates, so high-resolution periods (%d s) are not supported.", param, p)
	}
	if p%60 != 0 {
		return invalid("The parameter %s must be a multiple of 60.", param)
	}
	return nil
}

// token is a NextToken: an opaque position.
func token(kind, pos string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("cw1:" + kind + ":" + pos))
}

func openToken(kind, tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), "cw1:"+kind+":") {
		return "", awsapi.NewError(codeInvalidNextToken, "The NextToken is not valid: pass the NextToken of the previous response unchanged.")
	}
	return strings.TrimPrefix(string(b), "cw1:"+kind+":"), nil
}

func tokenInt(kind, tok string) (int, error) {
	s, err := openToken(kind, tok)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, awsapi.NewError(codeInvalidNextToken, "The NextToken is not valid: pass the NextToken of the previous response unchanged.")
	}
	return n, nil
}

func ptime(t time.Time) *awsapi.Time { return &awsapi.Time{Time: t} }
