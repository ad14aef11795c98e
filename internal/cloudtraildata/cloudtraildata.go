// Package cloudtraildata is CloudTrail Data, the REST-JSON service of
// PutAuditEvents: events from outside AWS, recorded through a channel. Its
// one operation is a func(ctx, *In) (*Out, error) registered into an
// awsapi.RESTRouter.
//
// It is not the channel operations themselves (CreateChannel …
// DeleteChannel are CloudTrail JSON operations, in internal/cloudtrail,
// which also reports each channel's ingestion status), nor the native
// POST /v1/events. It finds channels, reports ingestion and commits
// events through the interfaces declared here. A Service is safe for
// concurrent use. Only internal/server imports it.
package cloudtraildata

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/store"
)

// Channels finds the channel a request names (*store.Store implements
// it).
type Channels interface {
	// GetChannel returns the channel with this ARN, or an error wrapping
	// store.ErrNotFound.
	GetChannel(ctx context.Context, arn string) (store.Channel, error)
}

// IngestionStatus is told about every PutAuditEvents call on a channel,
// for GetChannel's IngestionStatus (*cloudtrail.Service implements it).
type IngestionStatus interface {
	// RecordIngestion notes one call on channel arn at t: lastID is the
	// eventID of the request's last valid event ("" if none), okID that of
	// its last stored event ("" if none), errCode a failure code of the
	// request ("" if every event succeeded).
	RecordIngestion(arn string, t time.Time, lastID, okID, errCode string)
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

// Config configures a Service.
type Config struct {
	Channels Channels // required
	Ingester Ingester // required
	// Status, when set, is told about every call (GetChannel reports it).
	Status IngestionStatus
	// CanWrite reports whether a principal may record events for an
	// account (PutAuditEvents' recipientAccountId). nil means its own
	// account, or any account for the organisation's management account.
	CanWrite func(p *auth.Principal, account string) bool
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger // nil means slog.Default()
}

// Service implements PutAuditEvents. Create it with New.
type Service struct {
	channels Channels
	ingester Ingester
	status   IngestionStatus
	canWrite func(p *auth.Principal, account string) bool
	now      func() time.Time
	logger   *slog.Logger
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Channels == nil {
		return nil, errors.New("new cloudtrail-data service: Channels is required")
	}
	s := &Service{
		channels: cfg.Channels,
		ingester: cfg.Ingester,
		status:   cfg.Status,
		canWrite: cfg.CanWrite,
		now:      cfg.Now,
		logger:   cfg.Logger,
	}
	if s.status == nil {
		s.status = noStatus{}
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
	return s, nil
}

// noStatus is the IngestionStatus of a Service configured without one.
type noStatus struct{}

func (noStatus) RecordIngestion(string, time.Time, string, string, string) {}

// Register adds the CloudTrail Data (REST-JSON) operations to r.
func (s *Service) Register(r *awsapi.RESTRouter) {
	awsapi.RegisterREST(r, "POST", "/PutAuditEvents", "PutAuditEvents", false, s.PutAuditEvents)
}

func allRunes(s string, ok func(rune) bool) bool {
	for _, r := range s {
		if !ok(r) {
			return false
		}
	}
	return true
}
