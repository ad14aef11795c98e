// Package api implements opentrail's AWS-compatible operations as
// func(ctx, *In) (*Out, error) and registers them into the awsapi routers:
// CloudTrail's LookupEvents, channel and trail operations (AWS JSON 1.1),
// CloudTrail Data's PutAuditEvents (REST-JSON), and the native history
// lookup GET /v1/events.
//
// Operations read the authenticated caller from the context
// (awsapi.CallerFrom) and see only the caller's account and region. They
// reach storage through the Store and Ingester interfaces defined here.
//
// A Service is safe for concurrent use. The package is imported only by
// internal/server.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/objstore"
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

// Ingester commits events (*ingest.Ingester implements it). Submit returns
// after the batch is committed and synced to disk; Outcomes[i] tells
// whether recs[i] was stored now or was already stored (same eventID).
// source names the ingestion path for metrics. Implementations must be
// safe for concurrent use.
type Ingester interface {
	Submit(ctx context.Context, source string, recs []*event.Record) (ingest.Result, error)
}

// SourcePutAuditEvents is the source PutAuditEvents passes to
// Ingester.Submit.
const SourcePutAuditEvents = "PutAuditEvents"

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
	// StoreRetention is how long the store keeps events (0 = forever),
	// which GetEventDataStore reports as RetentionPeriod.
	StoreRetention time.Duration
}

// DefaultRetention is the LookupEvents window AWS uses.
const DefaultRetention = 90 * 24 * time.Hour

// MinTokenKeyLen is the shortest pagination-token key New accepts.
const MinTokenKeyLen = 16

// Config configures a Service.
type Config struct {
	Store    Store    // required
	Ingester Ingester // required for PutAuditEvents
	// TokenKey signs pagination tokens (HMAC-SHA256); at least
	// MinTokenKeyLen bytes. Tokens stay valid across restarts only if the
	// key does.
	TokenKey []byte
	Options  Options
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger // nil means slog.Default()
	// CanWrite reports whether a principal may record events for an
	// account (PutAuditEvents' recipientAccountId). nil means its own
	// account, or any account for the organisation's management account.
	CanWrite func(p *auth.Principal, account string) bool
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
	// ImportSink, when set with Buckets and a *store.Store, stores the
	// events of Lake imports (StartImport), which run from StartImports
	// until its context ends.
	ImportSink importer.Sink
}

// Delivery is the part of trail delivery the control plane talks to
// (*trail.Deliverer implements it).
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
	ingester Ingester
	tokens   tokenSigner
	opts     Options
	now      func() time.Time
	logger   *slog.Logger
	limiter  *limiter // nil when Options.RateLimit is 0
	canWrite func(p *auth.Principal, account string) bool
	buckets  objstore.Buckets
	delivery Delivery
	org      *trail.Organization
	keys     KeySource
	status   *ingestionLog // channel ingestion status, in memory
	// trailMu serialises trail changes, which read, check and rewrite a
	// trail's settings document.
	trailMu sync.Mutex
	queries lakeQueries // CloudTrail Lake queries (lake_query.go)
	eds     edsCache    // the one event data store's identity (lake_eds.go)
	imports lakeImports // Lake imports (lake_import.go)

	importSink importer.Sink
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("new api service: Store is required")
	}
	if len(cfg.TokenKey) < MinTokenKeyLen {
		return nil, fmt.Errorf("new api service: TokenKey has %d bytes, want at least %d", len(cfg.TokenKey), MinTokenKeyLen)
	}
	if cfg.Options.RateLimit < 0 {
		return nil, fmt.Errorf("new api service: RateLimit %v is negative", cfg.Options.RateLimit)
	}
	if cfg.Options.Retention < 0 {
		return nil, fmt.Errorf("new api service: Retention %v is negative", cfg.Options.Retention)
	}
	s := &Service{
		store:    cfg.Store,
		ingester: cfg.Ingester,
		tokens:   tokenSigner{key: append([]byte(nil), cfg.TokenKey...)},
		opts:     cfg.Options,
		now:      cfg.Now,
		logger:   cfg.Logger,
		status:   newIngestionLog(),
		canWrite: cfg.CanWrite,
		buckets:  cfg.Buckets,
		delivery: cfg.Delivery,
		org:      cfg.Org,
		keys:     cfg.Keys,

		importSink: cfg.ImportSink,
	}
	if s.canWrite == nil {
		s.canWrite = func(p *auth.Principal, account string) bool { return account == p.AccountID || p.Management }
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
	return s, nil
}

// Register adds the CloudTrail (JSON 1.1) operations to r.
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
	awsapi.Register(r, "AddTags", false, s.AddTags)
	awsapi.Register(r, "RemoveTags", false, s.RemoveTags)
	awsapi.Register(r, "ListTags", true, s.ListTags)
	awsapi.Register(r, "ListPublicKeys", true, s.ListPublicKeys)
	awsapi.Register(r, "StartQuery", false, s.StartQuery)
	awsapi.Register(r, "DescribeQuery", true, s.DescribeQuery)
	awsapi.Register(r, "GetQueryResults", true, s.GetQueryResults)
	awsapi.Register(r, "ListQueries", true, s.ListQueries)
	awsapi.Register(r, "CancelQuery", false, s.CancelQuery)
	awsapi.Register(r, "ListEventDataStores", true, s.ListEventDataStores)
	awsapi.Register(r, "GetEventDataStore", true, s.GetEventDataStore)
	awsapi.Register(r, "StartImport", false, s.StartImport)
	awsapi.Register(r, "GetImport", true, s.GetImport)
	awsapi.Register(r, "ListImports", true, s.ListImports)
	awsapi.Register(r, "ListImportFailures", true, s.ListImportFailures)
	awsapi.Register(r, "StopImport", false, s.StopImport)
}

// RegisterData adds the CloudTrail Data (REST-JSON) operations to r.
func (s *Service) RegisterData(r *awsapi.RESTRouter) {
	awsapi.RegisterREST(r, "POST", "/PutAuditEvents", "PutAuditEvents", false, s.PutAuditEvents)
}

// errNoCaller is an internal error: the server must put a Caller with a
// Principal into every request context.
var errNoCaller = errors.New("no authenticated caller in request context")

func callerOf(ctx context.Context) (*awsapi.Caller, *auth.Principal, error) {
	c := awsapi.CallerFrom(ctx)
	if c == nil || c.Principal == nil {
		return nil, nil, errNoCaller
	}
	return c, c.Principal, nil
}
