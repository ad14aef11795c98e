package cis

import (
	"context"
	"errors"
	"strings"
	"time"
)

// API is what the plan needs from a server: CloudTrail, CloudWatch Logs,
// CloudWatch, SNS and opentrail's native endpoints, in the plan's own
// small types. The command line implements it over HTTP; the server can
// implement it in-process.
//
// Errors: a missing resource is reported wrapping ErrNotFound, a log group
// that already exists wrapping ErrExists; anything else is returned as is.
type API interface {
	// Region is the region the API speaks to (the credential scope).
	Region() string

	// CloudTrail.
	DescribeTrails(ctx context.Context) ([]Trail, error) // shadow trails included
	GetTrailStatus(ctx context.Context, trailARN string) (TrailStatus, error)
	UpdateTrailLogs(ctx context.Context, trailName, logGroupARN, roleARN string) error

	// CloudWatch Logs.
	CreateLogGroup(ctx context.Context, name string) error
	DescribeLogGroups(ctx context.Context, prefix string) ([]LogGroup, error)
	DeleteLogGroup(ctx context.Context, name string) error
	PutMetricFilter(ctx context.Context, f MetricFilter) error
	DescribeMetricFilters(ctx context.Context, logGroup string) ([]MetricFilter, error)
	DeleteMetricFilter(ctx context.Context, logGroup, filterName string) error
	FilterLogEvents(ctx context.Context, logGroup, pattern string, start time.Time, limit int) ([]LogEvent, error)

	// CloudWatch.
	PutMetricAlarm(ctx context.Context, a Alarm) error
	DescribeAlarms(ctx context.Context) ([]Alarm, error) // every metric alarm of the region
	DeleteAlarms(ctx context.Context, names []string) error

	// SNS.
	CreateTopic(ctx context.Context, name string) (topicARN string, err error)
	Subscribe(ctx context.Context, topicARN, protocol, endpoint string) (subscriptionARN string, err error)
	ListSubscriptionsByTopic(ctx context.Context, topicARN string) ([]Subscription, error)
	DeleteTopic(ctx context.Context, topicARN string) error

	// Native: POST /v1/events and GET /v1/notifications.
	SendEvents(ctx context.Context, records [][]byte) error
	Deliveries(ctx context.Context, topicARN string, since time.Time) ([]Delivery, error)
}

// ErrNotFound and ErrExists classify API errors.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Trail is what the plan reads of a trail.
type Trail struct {
	Name, ARN, HomeRegion string
	MultiRegion           bool
	LogGroupARN           string // CloudWatchLogsLogGroupArn
	RoleARN               string // CloudWatchLogsRoleArn
}

// TrailStatus is what the plan reads of GetTrailStatus.
type TrailStatus struct{ IsLogging bool }

// LogGroup is one log group.
type LogGroup struct{ Name, ARN string }

// MetricFilter is one metric filter with its single transformation.
type MetricFilter struct {
	LogGroup, Name, Pattern     string
	MetricName, MetricNamespace string
	MetricValue                 string
}

// LogEvent is one event FilterLogEvents returned.
type LogEvent struct {
	Time    time.Time
	Message string
}

// Alarm is one metric alarm with the settings the pack uses.
type Alarm struct {
	Name, Description                string
	MetricName, Namespace, Statistic string
	Period, EvaluationPeriods        int
	Threshold                        float64
	ComparisonOperator               string
	TreatMissingData                 string
	Actions                          []string // AlarmActions
	State                            string   // StateValue (read only)
	StateReason                      string
	StateUpdated                     time.Time
}

// Subscription is one subscription of a topic; until the endpoint
// confirms, ARN is not an ARN ("PendingConfirmation", or "pending
// confirmation" as Subscribe answers).
type Subscription struct{ ARN, Protocol, Endpoint string }

// Confirmed reports whether the subscription can receive messages: its
// SubscriptionArn is an ARN.
func (s Subscription) Confirmed() bool { return strings.HasPrefix(s.ARN, "arn:") }

// Delivery is one delivery attempt of a notification (GET
// /v1/notifications).
type Delivery struct {
	MessageID, TopicARN, SubscriptionARN string
	Protocol, Endpoint, Subject          string
	Attempt                              int
	Status                               string // delivered, failed, retrying, dead
	StatusCode                           int
	Error                                string
	Time                                 time.Time
}
