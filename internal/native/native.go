// Package native is opentrail's own HTTP API under /v1, for clients that
// want more than CloudTrail's: POST /v1/events (ingest NDJSON or
// {"Records":[...]}, gzip accepted), GET /v1/events (history beyond
// LookupEvents: several attributes at once, data events, all regions,
// RFC 3339 times, up to 1000 events a page, no retention window),
// GET /v1/trails (every trail of the account with its delivery status and
// delivered-through watermark), GET /v1/keys and POST /v1/keys/rotate (the
// digest signing keys), GET /v1/findings, GET /v1/findings/{id} and
// POST /v1/findings/{id}/state (the findings every detector reports, and
// their states), PUT and GET /v1/sigma/rules (the Sigma rule set), and
// /v1/console/users (the web console's users: list, add, remove, set a
// password, enrol or remove an MFA device).
//
// Its operations are registered on an awsapi.PathRouter (Register), so
// they take the same decode → call → error mapping → self-audit path as
// the AWS operations; each reads the authenticated caller from the context
// (awsapi.CallerFrom) and reaches storage, ingestion, delivery and keys
// through the interfaces declared here. It is not the AWS operations
// (internal/cloudtrail and its siblings), nor the front door, nor S3 event
// notifications (POST /v1/s3-notifications), which internal/server serves
// itself because their token authentication replaces SigV4 at the front
// door. Only internal/server imports it.
package native

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/cloudtrailwire"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// Store is the part of the event store the native API reads
// (*store.Store implements it).
type Store interface {
	// Lookup returns events matching q, newest first (eventTime
	// descending, then sequence number descending), at most q.Limit.
	Lookup(ctx context.Context, q store.LookupQuery) ([]store.Event, error)
	// ListTrails returns every trail of account, in all regions.
	ListTrails(ctx context.Context, account string) ([]store.Trail, error)
}

// Delivery reports trail delivery status (*delivery.Deliverer implements
// it).
type Delivery interface {
	Status(ctx context.Context, arn string) (trail.Status, error)
}

// Ingester stores events (*ingest.Ingester implements it).
type Ingester interface {
	// SubmitAudited stores recs and commits the call's own record, made
	// by audit from the result, before returning.
	SubmitAudited(ctx context.Context, source string, recs []*event.Record, imported bool, audit ingest.AuditFunc) (ingest.Result, error)
}

// Config configures a Native.
type Config struct {
	Store Store // required
	// TokenKey signs the next-page tokens (HMAC-SHA256); at least
	// pagetoken.MinKeyLen bytes.
	TokenKey []byte
	// Delivery, when set, adds delivery status to GET /v1/trails.
	Delivery Delivery
	// Ingester, when set, serves POST /v1/events; CanWrite (required with
	// it) says whether a principal may write an account's events, and
	// MaxBodyBytes and MaxEventsPerRequest bound a request's body once
	// decompressed and its events.
	Ingester            Ingester
	CanWrite            func(p *auth.Principal, account string) bool
	MaxBodyBytes        int64
	MaxEventsPerRequest int
	// Keys, when set, serves GET /v1/keys and POST /v1/keys/rotate.
	Keys Keys
	// Notifications, when set, serves GET /v1/notifications.
	Notifications Notifications
	// Findings, when set, serves GET /v1/findings, GET /v1/findings/{id}
	// and POST /v1/findings/{id}/state.
	Findings Findings
	// Sigma, when set, serves PUT and GET /v1/sigma/rules.
	Sigma Sigma
	// Insights, when set, serves POST /v1/insights/runs.
	Insights InsightsRunner
	// Detections, when one is set, serves POST /v1/detections/runs.
	Detections Detections
	// Users, when set, serves /v1/console/users (the console's users);
	// MayManageUsers (required with it) says whether a principal may
	// manage the users of an account ("": any account at all).
	Users          Users
	MayManageUsers func(p *auth.Principal, account string) bool
	// Capture, when set, serves POST /v1/capture/intents, /v1/capture/renew
	// and /v1/capture/complete (capture gateways and middleware record
	// through them); it needs CanWrite and MaxEventsPerRequest.
	Capture Capture
	Logger  *slog.Logger // nil means slog.Default()
}

// Native is the native API's operations. Create it with New and register
// them on a router with Register.
type Native struct {
	store     Store
	tokens    pagetoken.Signer
	delivery  Delivery
	ingester  Ingester
	canWrite  func(p *auth.Principal, account string) bool
	maxBody   int64
	maxEvents int
	keys      Keys
	// notifications serves GET /v1/notifications when set.
	notifications  Notifications
	findings       Findings
	sigma          Sigma
	detections     Detections
	logger         *slog.Logger
	insights       InsightsRunner
	service        string
	users          Users
	mayManageUsers func(p *auth.Principal, account string) bool
	capture        Capture
}

// Service is the credential scope service of the native API, and the
// eventSource (opentrail.amazonaws.com) of its calls' records.
const Service = "opentrail"

// New checks cfg and returns a Native.
func New(cfg Config) (*Native, error) {
	if cfg.Store == nil {
		return nil, errors.New("new native API: Store is required")
	}
	if len(cfg.TokenKey) < pagetoken.MinKeyLen {
		return nil, fmt.Errorf("new native API: TokenKey has %d bytes, want at least %d", len(cfg.TokenKey), pagetoken.MinKeyLen)
	}
	if cfg.Users != nil && cfg.MayManageUsers == nil {
		return nil, errors.New("new native API: Users needs MayManageUsers")
	}
	if cfg.Ingester != nil && (cfg.CanWrite == nil || cfg.MaxBodyBytes <= 0 || cfg.MaxEventsPerRequest <= 0) {
		return nil, errors.New("new native API: an Ingester needs CanWrite, MaxBodyBytes and MaxEventsPerRequest")
	}
	if cfg.Capture != nil && (cfg.CanWrite == nil || cfg.MaxEventsPerRequest <= 0) {
		return nil, errors.New("new native API: Capture needs CanWrite and MaxEventsPerRequest")
	}
	n := &Native{store: cfg.Store, tokens: pagetoken.NewSigner(cfg.TokenKey), delivery: cfg.Delivery,
		ingester: cfg.Ingester, canWrite: cfg.CanWrite, maxBody: cfg.MaxBodyBytes, maxEvents: cfg.MaxEventsPerRequest,
		keys: cfg.Keys, notifications: cfg.Notifications, findings: cfg.Findings, sigma: cfg.Sigma, logger: cfg.Logger, service: Service,
		insights: cfg.Insights, detections: cfg.Detections, users: cfg.Users, mayManageUsers: cfg.MayManageUsers, capture: cfg.Capture}
	if n.logger == nil {
		n.logger = slog.Default()
	}
	return n, nil
}

// Register binds the native operations to r, each under the eventName its
// self-audit record has always carried.
func (h *Native) Register(r *awsapi.PathRouter) {
	r.RegisterRawResources("GET /v1/events", "LookupEvents", true, nil, h.lookup)
	r.RegisterRawResources("GET /v1/trails", "ListTrails", true, nil, h.listTrails)
	if h.ingester != nil {
		r.RegisterRawResources("POST /v1/events", "PutEvents", false, nil, h.putEvents)
	}
	if h.keys != nil {
		r.RegisterRawResources("GET /v1/keys", "ListKeys", true, nil, h.listKeys)
		r.RegisterRawResources("POST /v1/keys/rotate", "RotateKey", false, nil, h.rotateKey)
	}
	if h.notifications != nil {
		r.RegisterRawResources("GET /v1/notifications", "ListNotifications", true, nil, h.listNotifications)
	}
	if h.findings != nil {
		r.RegisterRawResources("GET /v1/findings", "ListFindings", true, nil, h.listFindings)
		r.RegisterRawResources("GET /v1/findings/{id}", "GetFinding", true, findingResource, h.getFinding)
		r.RegisterRawResources("POST /v1/findings/{id}/state", "SetFindingState", false, findingResource, h.setFindingState)
	}
	if h.sigma != nil {
		r.RegisterRawResources("PUT /v1/sigma/rules", "PutSigmaRules", false, nil, h.putSigmaRules)
		r.RegisterRawResources("GET /v1/sigma/rules", "GetSigmaRules", true, nil, h.getSigmaRules)
	}
	if h.insights != nil {
		r.RegisterRawResources("POST /v1/insights/runs", "RunInsights", false, nil, h.runInsights)
	}
	if h.detections.Sigma != nil || h.detections.EventRules != nil {
		r.RegisterRawResources("POST /v1/detections/runs", "RunDetections", false, nil, h.runDetections)
	}
	if h.users != nil {
		h.registerUsers(r)
	}
	if h.capture != nil {
		h.registerCapture(r)
	}
}

// NotFound is the native router's answer to a request no operation
// matches; notifications names the path S3 event notifications are
// posted to.
func NotFound(notifications string) func(req *http.Request) *awsapi.Error {
	return func(req *http.Request) *awsapi.Error {
		return &awsapi.Error{Code: "ResourceNotFoundException", Status: http.StatusNotFound,
			Message: fmt.Sprintf("no endpoint %s %s; the native API has POST /v1/events, GET /v1/events, GET /v1/trails, GET /v1/keys, POST /v1/keys/rotate, GET /v1/notifications, GET /v1/findings, GET /v1/findings/{id}, POST /v1/findings/{id}/state, PUT and GET /v1/sigma/rules, GET and POST /v1/console/users, DELETE /v1/console/users/{name}, PUT /v1/console/users/{name}/password, POST and DELETE /v1/console/users/{name}/mfa, POST /v1/console/users/{name}/mfa/confirm, PUT /v1/console/users/{name}/policies, POST /v1/capture/intents, /v1/capture/renew and /v1/capture/complete (and POST %s for S3 event notifications)", req.Method, req.URL.Path, notifications)}
	}
}

// lookupKeys are the LookupEvents attribute keys, which GET /v1/events
// takes too.
var lookupKeys = cloudtrailwire.LookupAttributeKeys

const maxAttributeValueLen = cloudtrailwire.MaxAttributeValueLen

// marshalNoEscape encodes v as JSON without escaping <, > and &.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Native lookup limits.
const (
	nativeDefaultLimit = 50
	nativeMaxLimit     = 1000
)

// nativeCategories maps the category parameter to store categories; nil
// means every category.
var nativeCategories = map[string][]string{
	"management": {event.CategoryManagement, event.CategoryActivityAuditLog},
	"activity":   {event.CategoryActivityAuditLog},
	"data":       {event.CategoryData},
	"insight":    {event.CategoryInsight},
	"all":        nil,
}

// nativeOutput is the response body: the records as JSON objects, and the
// token for the next page when there is one.
type nativeOutput struct {
	Events []rawJSON `json:"events"`
	Next   string    `json:"next,omitempty"`
}

// rawJSON is a stored record emitted verbatim.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// nativeQuery is a validated native lookup.
type nativeQuery struct {
	q     store.LookupQuery
	limit int
	next  string
	hash  [pagetoken.HashLen]byte
}

func badParam(format string, args ...any) error {
	return awsapi.Errorf(awsapi.CodeValidation, format, args...)
}

func parseNative(c *awsapi.Caller, vals url.Values) (*nativeQuery, error) {
	p := c.Principal
	n := &nativeQuery{limit: nativeDefaultLimit}
	n.q.Region = c.Region
	n.q.Categories = nativeCategories["management"]
	account := p.AccountID
	category := "management"
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := vals[k]
		if lookupKeys[k] {
			for _, v := range vs {
				if v == "" || len(v) > 4*maxAttributeValueLen {
					return nil, badParam("Parameter %s needs a value of 1 to %d characters.", k, maxAttributeValueLen)
				}
				if k == "ReadOnly" && v != "true" && v != "false" {
					return nil, badParam("Parameter ReadOnly must be true or false; got %q.", awsapi.Clip(v, 64))
				}
				n.q.Attrs = append(n.q.Attrs, store.Attr{Key: k, Value: v})
			}
			continue
		}
		if strings.HasPrefix(k, "X-Amz-") {
			continue // query-string signing parameters
		}
		if len(vs) != 1 {
			return nil, badParam("Parameter %s may be given only once.", awsapi.Clip(k, 64))
		}
		v := vs[0]
		switch k {
		case "start", "end":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, badParam("Parameter %s must be an RFC 3339 time such as 2024-05-06T07:00:00Z; got %q.", k, awsapi.Clip(v, 64))
			}
			if k == "start" {
				n.q.Start = t.UTC()
			} else {
				n.q.End = t.UTC()
			}
		case "category":
			cats, ok := nativeCategories[v]
			if !ok {
				return nil, badParam("Parameter category must be management, data, insight or all; got %q.", awsapi.Clip(v, 64))
			}
			category = v
			n.q.Categories = cats
		case "region":
			if v == "*" {
				n.q.Region = ""
			} else {
				n.q.Region = v
			}
		case "account":
			if !cloudtrailarn.IsAccountID(v) {
				return nil, badParam("Parameter account must be a 12-digit account ID; got %q.", awsapi.Clip(v, 64))
			}
			if v != p.AccountID && !p.Management {
				return nil, &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
					Message: fmt.Sprintf("Account %s may not read the events of account %s.", p.AccountID, v)}
			}
			account = v
		case "limit":
			l, err := strconv.Atoi(v)
			if err != nil || l < 1 || l > nativeMaxLimit {
				return nil, badParam("Parameter limit must be an integer from 1 to %d; got %q.", nativeMaxLimit, awsapi.Clip(v, 64))
			}
			n.limit = l
		case "next":
			n.next = v
		default:
			return nil, badParam("Unknown parameter %q.", awsapi.Clip(k, 64))
		}
	}
	if !n.q.Start.IsZero() && !n.q.End.IsZero() && n.q.Start.After(n.q.End) {
		return nil, badParam("Parameter start must not be after end.")
	}
	// The management account reads every account unless it names one.
	if !p.Management || vals.Has("account") {
		n.q.Accounts = []string{account}
	}
	h := pagetoken.NewHasher().Str(p.AccountID).Str(strings.Join(n.q.Accounts, ",")).Str(n.q.Region).Str(category)
	h.Int(int64(len(n.q.Attrs)))
	for _, a := range n.q.Attrs {
		h.Str(a.Key).Str(a.Value)
	}
	h.Time(n.q.Start).Time(n.q.End)
	n.hash = h.Sum()
	n.q.Limit = n.limit + 1
	return n, nil
}

// lookup serves GET (and HEAD) /v1/events for the Caller in the context.
// Query parameters: any of the eight LookupEvents attribute keys (several,
// and repeated, are ANDed), start and end (RFC 3339, inclusive), category
// (management, data, insight or all; default management), region (default
// the caller's; * for all), account (the management account may name any
// account and reads all by default), limit (1–1000, default 50) and next
// (the token of the previous page). It answers {"events":[...],"next":...}
// with the records newest first, each byte for byte as stored.
func (h *Native) lookup(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	vals := req.HTTP.URL.Query()
	params := map[string]any{}
	for k, v := range vals {
		if k != "next" {
			params[k] = strings.Join(v, ",")
		}
	}
	req.Params = params
	c, _, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	n, err := parseNative(c, vals)
	if err != nil {
		return nil, err
	}
	if n.next != "" {
		pos, err := h.openPosition(n.hash, n.next)
		if err != nil {
			return nil, err
		}
		n.q.After = pos
	}
	evs, err := h.store.Lookup(ctx, n.q)
	if err != nil {
		return nil, fmt.Errorf("native lookup: %w", err)
	}
	out := nativeOutput{Events: make([]rawJSON, 0, min(len(evs), n.limit))}
	if len(evs) > n.limit {
		evs = evs[:n.limit]
		out.Next = h.issuePosition(n.hash, evs[len(evs)-1])
	}
	for _, e := range evs {
		out.Events = append(out.Events, rawJSON(e.Rec.Raw))
	}
	body, err := marshalNoEscape(out)
	if err != nil {
		return nil, fmt.Errorf("encode native lookup: %w", err)
	}
	return &awsapi.RawResponse{Body: body}, nil
}

// issuePosition returns a token resuming after e.
func (h *Native) issuePosition(qh [pagetoken.HashLen]byte, e store.Event) string {
	return h.tokens.Issue(pagetoken.KindNative, qh, pagetoken.Position(e.Rec.EventTime, e.Seq))
}

func (h *Native) openPosition(qh [pagetoken.HashLen]byte, tok string) (*store.Position, error) {
	t, seq, err := h.tokens.OpenPosition(pagetoken.KindNative, qh, tok)
	if err != nil {
		return nil, err
	}
	return &store.Position{Time: t, Seq: seq}, nil
}
