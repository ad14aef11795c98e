// Package logs serves the CloudWatch Logs API (signing name logs, AWS JSON
// 1.1, target prefix Logs_20140328) over the log groups of
// internal/logwatch: log groups, retention, tags, streams, PutLogEvents,
// GetLogEvents, FilterLogEvents, metric and subscription filters, and
// Logs Insights queries (StartQuery, GetQueryResults, StopQuery,
// DescribeQueries: the language compiled by internal/logsinsights, run by
// internal/query), with AWS's member names, errors and limits. Its only
// state is the Logs Insights queries it runs, kept in memory; Groups is
// what it needs of the component. It is not the filter pattern language
// (internal/filterpattern) nor the consumer that feeds log groups from
// trails (internal/logwatch).
package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/filterpattern"
	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/store"
)

// Groups is what the service needs of the log-group component
// (*logwatch.Watch implements it).
type Groups interface {
	CreateLogGroup(ctx context.Context, account, region, name, kmsKeyID, class string, tags map[string]string) error
	DeleteLogGroup(ctx context.Context, account, region, name string) error
	LogGroups(ctx context.Context, account, region string, q logwatch.GroupQuery) ([]logwatch.Group, error)
	PutRetentionPolicy(ctx context.Context, account, region, name string, days int) error
	DeleteRetentionPolicy(ctx context.Context, account, region, name string) error
	TagLogGroup(ctx context.Context, account, region, name string, tags map[string]string) error
	UntagLogGroup(ctx context.Context, account, region, name string, keys []string) error
	Tags(ctx context.Context, account, region, name string) (map[string]string, error)
	CreateLogStream(ctx context.Context, account, region, group, name string) error
	LogStreams(ctx context.Context, account, region, group string, q logwatch.StreamQuery) ([]logwatch.Stream, error)
	PutLogEvents(ctx context.Context, account, region, group, stream string, evs []logwatch.InputEvent) (logwatch.Rejected, error)
	GetLogEvents(ctx context.Context, account, region, group, stream string, q logwatch.GetQuery) (logwatch.GetResult, error)
	FilterLogEvents(ctx context.Context, account, region, group string, q logwatch.FilterQuery) (logwatch.FilterResult, error)
}

// Filters is what the service needs of the log groups' metric and
// subscription filters (*logwatch.Filters, from Watch.Filters,
// implements it).
type Filters interface {
	PutMetricFilter(ctx context.Context, account, region, group, name, pattern string, t filterpattern.Transformation) error
	MetricFilters(ctx context.Context, account, region string, q logwatch.MetricFilterQuery) ([]logwatch.MetricFilter, error)
	DeleteMetricFilter(ctx context.Context, account, region, group, name string) error
	PutSubscriptionFilter(ctx context.Context, account, region, group, name, pattern, dest, role, dist string) error
	SubscriptionFilters(ctx context.Context, account, region, group, prefix string) ([]logwatch.SubscriptionFilter, error)
	DeleteSubscriptionFilter(ctx context.Context, account, region, group, name string) error
}

// Config is what New needs.
type Config struct {
	Groups   Groups
	Filters  Filters
	TokenKey []byte // signs nextToken values; at least pagetoken.MinKeyLen bytes
	Logger   *slog.Logger
	// Store and Insights serve Logs Insights queries (StartQuery …);
	// without them those operations answer ServiceUnavailableException.
	Store    *store.Store
	Insights Insights
	// QueryTimeout bounds a Logs Insights query's run time (default 15
	// minutes); a query that runs longer ends with status Timeout.
	QueryTimeout time.Duration
}

// Service implements the operations.
type Service struct {
	groups  Groups
	filters Filters
	tokens  pagetoken.Signer
	log     *slog.Logger

	store        *store.Store
	insights     Insights
	queryTimeout time.Duration
	now          func() time.Time
	q            queries
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Groups == nil {
		return nil, errors.New("logs.New: Config.Groups is nil")
	}
	if cfg.Filters == nil {
		return nil, errors.New("logs.New: Config.Filters is nil")
	}
	if len(cfg.TokenKey) < pagetoken.MinKeyLen {
		return nil, fmt.Errorf("logs.New: the token key must be at least %d bytes", pagetoken.MinKeyLen)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = defaultQueryTimeout
	}
	return &Service{groups: cfg.Groups, filters: cfg.Filters, tokens: pagetoken.NewSigner(cfg.TokenKey), log: cfg.Logger,
		store: cfg.Store, insights: cfg.Insights, queryTimeout: cfg.QueryTimeout, now: time.Now,
		q: queries{byID: map[string]*insightsQuery{}}}, nil
}

// Register adds the operations to r (a JSON 1.1 router for signing name
// logs).
func (s *Service) Register(r *awsapi.Router) {
	awsapi.Register(r, "CreateLogGroup", false, s.CreateLogGroup)
	awsapi.Register(r, "DeleteLogGroup", false, s.DeleteLogGroup)
	awsapi.Register(r, "DescribeLogGroups", true, s.DescribeLogGroups)
	awsapi.Register(r, "PutRetentionPolicy", false, s.PutRetentionPolicy)
	awsapi.Register(r, "DeleteRetentionPolicy", false, s.DeleteRetentionPolicy)
	awsapi.Register(r, "TagLogGroup", false, s.TagLogGroup)
	awsapi.Register(r, "UntagLogGroup", false, s.UntagLogGroup)
	awsapi.Register(r, "ListTagsLogGroup", true, s.ListTagsLogGroup)
	awsapi.Register(r, "TagResource", false, s.TagResource)
	awsapi.Register(r, "UntagResource", false, s.UntagResource)
	awsapi.Register(r, "ListTagsForResource", true, s.ListTagsForResource)
	awsapi.Register(r, "CreateLogStream", false, s.CreateLogStream)
	awsapi.Register(r, "DescribeLogStreams", true, s.DescribeLogStreams)
	awsapi.Register(r, "PutLogEvents", false, s.PutLogEvents)
	awsapi.Register(r, "GetLogEvents", true, s.GetLogEvents)
	awsapi.Register(r, "FilterLogEvents", true, s.FilterLogEvents)
	awsapi.Register(r, "PutMetricFilter", false, s.PutMetricFilter)
	awsapi.Register(r, "DescribeMetricFilters", true, s.DescribeMetricFilters)
	awsapi.Register(r, "DeleteMetricFilter", false, s.DeleteMetricFilter)
	awsapi.Register(r, "TestMetricFilter", true, s.TestMetricFilter)
	awsapi.Register(r, "PutSubscriptionFilter", false, s.PutSubscriptionFilter)
	awsapi.Register(r, "DescribeSubscriptionFilters", true, s.DescribeSubscriptionFilters)
	awsapi.Register(r, "DeleteSubscriptionFilter", false, s.DeleteSubscriptionFilter)
	awsapi.Register(r, "StartQuery", true, s.StartQuery)
	awsapi.Register(r, "GetQueryResults", true, s.GetQueryResults)
	awsapi.Register(r, "StopQuery", false, s.StopQuery)
	awsapi.Register(r, "DescribeQueries", true, s.DescribeQueries)
}

// wire maps a component error to what the client sees.
func wire(err error) error {
	var e *logwatch.Error
	if errors.As(err, &e) {
		return awsapi.NewError(e.Code, e.Message)
	}
	return err
}

// caller returns the caller's account and the request's region.
func caller(ctx context.Context) (account, region string, err error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return "", "", err
	}
	return p.AccountID, c.Region, nil
}

func invalidf(format string, args ...any) error {
	return awsapi.Errorf(logwatch.CodeInvalid, format, args...)
}

// validation is the model-validation error Logs sends as
// InvalidParameterException.
func validation(member, value, constraint string) error {
	return invalidf("1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", value, member, constraint)
}

func required(member, v string) error {
	if v == "" {
		return validation(member, "null", "Member must not be null")
	}
	return nil
}

// limit checks an optional limit member against [1, max].
func limit(member string, v *int32, max int) (int, error) {
	if v == nil {
		return max, nil
	}
	if *v < 1 {
		return 0, validation(member, "'"+strconv.Itoa(int(*v))+"'", "Member must have value greater than or equal to 1")
	}
	if int(*v) > max {
		return 0, validation(member, "'"+strconv.Itoa(int(*v))+"'", "Member must have value less than or equal to "+strconv.Itoa(max))
	}
	return int(*v), nil
}

// groupName resolves logGroupName / logGroupIdentifier (a name or an ARN).
func groupName(name, identifier *string) (string, error) {
	switch {
	case name != nil && identifier != nil:
		return "", invalidf("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != nil:
		return *name, nil
	case identifier != nil:
		if _, _, n, ok := logwatch.ParseGroupARN(*identifier); ok {
			return n, nil
		}
		return *identifier, nil
	}
	return "", invalidf("Should provide either name or ARN of the log group.")
}

// page opens an offset token of kind for request hash qh.
func (s *Service) page(kind byte, qh [pagetoken.HashLen]byte, tok *string) (int, error) {
	if tok == nil {
		return 0, nil
	}
	b, err := s.tokens.Open(kind, qh, *tok)
	if err != nil {
		return 0, invalidf("The specified nextToken is invalid.")
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return 0, invalidf("The specified nextToken is invalid.")
	}
	return n, nil
}

// window returns items [off, off+lim) of a list of n and the next offset
// (0 = none).
func window(n, off, lim int) (lo, hi, next int) {
	lo = min(off, n)
	hi = min(lo+lim, n)
	if hi < n {
		next = hi
	}
	return lo, hi, next
}

func (s *Service) issue(kind byte, qh [pagetoken.HashLen]byte, next int) *string {
	if next == 0 {
		return nil
	}
	t := s.tokens.Issue(kind, qh, []byte(strconv.Itoa(next)))
	return &t
}
