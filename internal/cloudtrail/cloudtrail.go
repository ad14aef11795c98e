// Package cloudtrail is the CloudTrail control plane and event history
// as AWS JSON 1.1 operations, func(ctx, *In) (*Out, error), registered
// into an awsapi.Router: LookupEvents (with its NextToken and rate limit),
// trails and their event and Insights selectors and event configuration
// (aggregated events), tags, logging and status,
// channels (CreateChannel … DeleteChannel) and ListPublicKeys.
//
// It is not CloudTrail Data's PutAuditEvents (internal/cloudtraildata),
// CloudTrail Lake's queries, imports and event data stores
// (internal/lake, which registers into the same router), nor the native
// /v1 endpoints (internal/native). Trail rules (names, ARNs, settings,
// selectors) are internal/trail's; this package applies them to requests.
//
// Operations read the authenticated caller from the context
// (awsapi.CallerFrom) and see only the caller's account and region. They
// reach storage, delivery and keys through the interfaces declared here.
// A Service is safe for concurrent use. internal/server imports it (and
// bench/lookup, which measures LookupEvents); no other package does.
package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// Store is the part of the event store the operations use. Implementations
// must be safe for concurrent use.
type Store interface {
	// Lookup returns events matching q, newest first (eventTime
	// descending, then sequence number descending), at most q.Limit.
	Lookup(ctx context.Context, q store.LookupQuery) ([]store.Event, error)
	// CreateChannel stores c; an error wrapping store.ErrExists means the
	// ARN, or the name within c's account and region, is taken.
	CreateChannel(ctx context.Context, c store.Channel) error
	// GetChannel returns the channel with this ARN, or an error wrapping
	// store.ErrNotFound.
	GetChannel(ctx context.Context, arn string) (store.Channel, error)
	// ListChannels returns every channel of account, in all regions.
	ListChannels(ctx context.Context, account string) ([]store.Channel, error)
	// DeleteChannel removes the channel with this ARN, or returns an error
	// wrapping store.ErrNotFound.
	DeleteChannel(ctx context.Context, arn string) error
	// CreateTrail stores t; an error wrapping store.ErrExists means the
	// ARN is taken.
	CreateTrail(ctx context.Context, t store.Trail) error
	// GetTrail returns the trail with this ARN, or an error wrapping
	// store.ErrNotFound.
	GetTrail(ctx context.Context, arn string) (store.Trail, error)
	// ListTrails returns every trail of account, in all regions.
	ListTrails(ctx context.Context, account string) ([]store.Trail, error)
	// UpdateTrail replaces the settings document (and update time) of the
	// trail with t.ARN, or returns an error wrapping store.ErrNotFound.
	UpdateTrail(ctx context.Context, t store.Trail) error
	// DeleteTrail removes the trail with this ARN, or returns an error
	// wrapping store.ErrNotFound.
	DeleteTrail(ctx context.Context, arn string) error
}

// Options change behaviour beyond what AWS does. The zero value behaves as
// AWS.
type Options struct {
	// IncludeDataEvents makes LookupEvents return data events as well as
	// management events when no EventCategory is given.
	IncludeDataEvents bool
	// RateLimit caps LookupEvents calls per second per account and region
	// (AWS allows 2); excess calls get ThrottlingException. 0 means no
	// limit.
	RateLimit float64
	// Retention is how far back LookupEvents looks. 0 means 90 days, as
	// AWS.
	Retention time.Duration
}

// DefaultRetention is the LookupEvents window AWS uses.
const DefaultRetention = 90 * 24 * time.Hour

// MinTokenKeyLen is the shortest pagination-token key New accepts.
const MinTokenKeyLen = pagetoken.MinKeyLen

// Config configures a Service.
type Config struct {
	Store Store // required
	// TokenKey signs pagination tokens (HMAC-SHA256); at least
	// MinTokenKeyLen bytes. Tokens stay valid across restarts only if the
	// key does.
	TokenKey []byte
	Options  Options
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger // nil means slog.Default()
	// Buckets, when set, is where trails deliver: CreateTrail and
	// UpdateTrail check that the named bucket exists there.
	Buckets objstore.Buckets
	// Delivery, when set, reports delivery status to GetTrailStatus and is
	// told about trail changes.
	Delivery Delivery
	// Org is the configured organisation, nil for none: an organisation
	// trail of its management account delivers under AWSLogs/<org id>/,
	// which a bucket policy must then grant.
	Org *trail.Organization
	// Keys, when set, serves ListPublicKeys.
	Keys KeySource
	// LogGroups, when set, is where CreateTrail and UpdateTrail check that
	// a CloudWatchLogsLogGroupArn names an existing log group.
	LogGroups LogGroups
	// Topics, when set, is where CreateTrail and UpdateTrail check that a
	// trail's SnsTopicName exists in the caller's account.
	Topics Topics
	// Insights, when set, answers ListInsightsMetricData (the series the
	// Insights detector counts); without it the series are empty.
	Insights InsightsMetrics
}

// Topics tells whether an SNS topic exists in an account
// (*topics.Topics implements it).
type Topics interface {
	TopicExists(ctx context.Context, account, topicARN string) (bool, error)
}

// Delivery is the part of trail delivery the control plane talks to
// (*delivery.Deliverer implements it).
type Delivery interface {
	// Status returns a trail's delivery status.
	Status(ctx context.Context, arn string) (trail.Status, error)
	// Forget drops the delivery state of a deleted trail.
	Forget(ctx context.Context, arn string) error
	// Wake makes delivery notice a trail change now.
	Wake()
}

// Service implements the operations. Create it with New.
type Service struct {
	store    Store
	tokens   pagetoken.Signer
	opts     Options
	now      func() time.Time
	logger   *slog.Logger
	limiter  *limiter // nil when Options.RateLimit is 0
	buckets  objstore.Buckets
	delivery Delivery
	org      *trail.Organization
	keys     KeySource
	topics   Topics
	status   *ingestionLog // channel ingestion status, in memory
	// logGroups checks trails' CloudWatch Logs wiring; may be nil.
	logGroups LogGroups
	// insights answers ListInsightsMetricData; may be nil (no data).
	insights InsightsMetrics
	// trailMu serialises trail changes, which read, check and rewrite a
	// trail's settings document.
	trailMu sync.Mutex
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("new cloudtrail service: Store is required")
	}
	if len(cfg.TokenKey) < MinTokenKeyLen {
		return nil, fmt.Errorf("new cloudtrail service: TokenKey has %d bytes, want at least %d", len(cfg.TokenKey), MinTokenKeyLen)
	}
	if cfg.Options.RateLimit < 0 {
		return nil, fmt.Errorf("new cloudtrail service: RateLimit %v is negative", cfg.Options.RateLimit)
	}
	if cfg.Options.Retention < 0 {
		return nil, fmt.Errorf("new cloudtrail service: Retention %v is negative", cfg.Options.Retention)
	}
	s := &Service{
		store:    cfg.Store,
		tokens:   pagetoken.NewSigner(cfg.TokenKey),
		opts:     cfg.Options,
		now:      cfg.Now,
		logger:   cfg.Logger,
		status:   newIngestionLog(),
		buckets:  cfg.Buckets,
		delivery: cfg.Delivery,
		org:      cfg.Org,
		keys:     cfg.Keys,
		topics:   cfg.Topics,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.opts.Retention == 0 {
		s.opts.Retention = DefaultRetention
	}
	if s.opts.RateLimit > 0 {
		s.limiter = newLimiter(s.opts.RateLimit, s.now)
	}
	s.logGroups = cfg.LogGroups
	s.insights = cfg.Insights
	return s, nil
}

// Register adds the CloudTrail (JSON 1.1) control-plane and history
// operations to r.
func (s *Service) Register(r *awsapi.Router) {
	awsapi.Register(r, "LookupEvents", true, s.LookupEvents)
	awsapi.Register(r, "CreateChannel", false, s.CreateChannel)
	awsapi.Register(r, "GetChannel", true, s.GetChannel)
	awsapi.Register(r, "ListChannels", true, s.ListChannels)
	awsapi.Register(r, "DeleteChannel", false, s.DeleteChannel)
	awsapi.Register(r, "CreateTrail", false, s.CreateTrail)
	awsapi.Register(r, "UpdateTrail", false, s.UpdateTrail)
	awsapi.Register(r, "DeleteTrail", false, s.DeleteTrail)
	awsapi.Register(r, "GetTrail", true, s.GetTrail)
	awsapi.Register(r, "DescribeTrails", true, s.DescribeTrails)
	awsapi.Register(r, "ListTrails", true, s.ListTrails)
	awsapi.Register(r, "GetTrailStatus", true, s.GetTrailStatus)
	awsapi.Register(r, "StartLogging", false, s.StartLogging)
	awsapi.Register(r, "StopLogging", false, s.StopLogging)
	awsapi.Register(r, "PutEventSelectors", false, s.PutEventSelectors)
	awsapi.Register(r, "GetEventSelectors", true, s.GetEventSelectors)
	awsapi.Register(r, "PutInsightSelectors", false, s.PutInsightSelectors)
	awsapi.Register(r, "GetInsightSelectors", true, s.GetInsightSelectors)
	awsapi.Register(r, "PutEventConfiguration", false, s.PutEventConfiguration)
	awsapi.Register(r, "GetEventConfiguration", true, s.GetEventConfiguration)
	awsapi.Register(r, "ListInsightsMetricData", true, s.ListInsightsMetricData)
	awsapi.Register(r, "ListInsightsData", true, s.ListInsightsData)
	awsapi.Register(r, "AddTags", false, s.AddTags)
	awsapi.Register(r, "RemoveTags", false, s.RemoveTags)
	awsapi.Register(r, "ListTags", true, s.ListTags)
	awsapi.Register(r, "ListPublicKeys", true, s.ListPublicKeys)
}
