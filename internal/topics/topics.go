// Package topics is opentrail's notification component: SNS topics and
// their subscriptions per account and region, Publish with a durable
// queue, and delivery to HTTP/HTTPS endpoints in SNS's signed message
// shape (with the subscription confirmation handshake), Slack-compatible
// webhooks and e-mail over SMTP, with retries, a dead-letter record and
// every attempt recorded.
//
// State lives in the event store's DuckDB in the component's own tables
// (sns_*): a message is committed before Publish returns, and a delivery
// is a row that workers take, attempt and update in one transaction with
// the attempt's record, so a restart resumes where delivery stood. The
// component is New → Start → Close(ctx); its time comes from a
// clock.Clock. It knows nothing of the wire: package sns (floor 4) maps
// its *Error values to SNS's error codes. It imports only floor 0 and 1
// packages.
package topics

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

// Config configures a Topics component.
type Config struct {
	// DB is the event store's database (store.DB()); required.
	DB *sql.DB
	// PublicURL is the base URL subscribers reach opentrail at (e.g.
	// https://audit.example.com:8443); SigningCertURL, SubscribeURL and
	// UnsubscribeURL are built from it. Required by Start; a server that
	// learns its address only once listening sets it with SetPublicURL.
	PublicURL string
	// SMTP sends e-mail subscriptions' messages; its zero value (no Host)
	// refuses email and email-json subscriptions.
	SMTP SMTP
	// SlackHosts are the hosts whose https (or http) endpoints are
	// Slack-compatible incoming webhooks: they get {"text": …}, need no
	// confirmation and are confirmed at Subscribe. Default
	// ["hooks.slack.com"].
	SlackHosts []string
	// Retry is the delivery retry policy; zero fields take the defaults
	// of DefaultRetry.
	Retry RetryPolicy
	// Workers bounds concurrent deliveries (default 8); PerEndpoint bounds
	// concurrent deliveries to one endpoint (default 2), so that one slow
	// endpoint cannot take every worker.
	Workers     int
	PerEndpoint int
	// Timeout bounds one delivery attempt (default 15 s).
	Timeout time.Duration
	// HTTPClient sends HTTP/HTTPS deliveries; nil means a client with
	// Timeout and no redirects followed.
	HTTPClient *http.Client
	// Keep is how long messages, finished deliveries and attempt records
	// are kept (default 30 days); a message still being delivered is
	// kept until it is done. A publisher's deduplication id is
	// remembered as long as its message.
	Keep time.Duration
	// Clock is the component's time; nil means clock.Real.
	Clock  clock.Clock
	Logger *slog.Logger
}

// SMTP is the mail server e-mail subscriptions are delivered through.
type SMTP struct {
	Host     string
	Port     int // default 587
	From     string
	Username string
	Password string
	// StartTLS requires STARTTLS before authenticating and sending.
	StartTLS bool
}

// RetryPolicy says how often and when a failed delivery is tried again:
// NoDelayRetries at once, then BackoffRetries with a delay doubling from
// MinDelay up to MaxDelay. After the last, the delivery is dead.
type RetryPolicy struct {
	NoDelayRetries int
	BackoffRetries int
	MinDelay       time.Duration
	MaxDelay       time.Duration
}

// DefaultRetry is the retry policy of a Config that leaves Retry zero:
// three immediate retries, then ten with exponential backoff from 20 s to
// 20 min (about an hour in all).
var DefaultRetry = RetryPolicy{NoDelayRetries: 3, BackoffRetries: 10, MinDelay: 20 * time.Second, MaxDelay: 20 * time.Minute}

// Attempts is how many attempts a delivery gets in all.
func (p RetryPolicy) Attempts() int { return 1 + p.NoDelayRetries + p.BackoffRetries }

// Delay is the wait before attempt n+1 after attempt n (1-based) failed.
func (p RetryPolicy) Delay(n int) time.Duration {
	if n <= p.NoDelayRetries {
		return 0
	}
	d := p.MinDelay
	for i := p.NoDelayRetries + 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// Error is a refusal the caller sees: Code is SNS's error code
// (InvalidParameter, NotFound, AuthorizationError…), Message its text.
type Error struct {
	Code    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Permanent reports that the refusal does not go away by retrying the
// same call (every *Error is one: a missing topic, a bad parameter).
func (e *Error) Permanent() bool { return true }

func invalid(format string, args ...any) *Error {
	return &Error{Code: "InvalidParameter", Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func notFound(msg string) *Error {
	return &Error{Code: "NotFound", Message: msg, Status: http.StatusNotFound}
}

var errTopicNotFound = notFound("Topic does not exist")

// ErrClosed is what Publish returns after Close.
var ErrClosed = errors.New("topics: closed")

// Topics is the component. Its methods are safe for concurrent use.
type Topics struct {
	cfg   Config
	db    *sql.DB
	clk   clock.Clock
	log   *slog.Logger
	retry RetryPolicy

	mu sync.Mutex // serialises writes to the sns_* tables

	public atomic.Pointer[string]

	key     *rsa.PrivateKey
	cert    *x509.Certificate
	certPEM []byte

	// deliver takes due deliveries from the queue, attempts them and
	// records every attempt (deliver.go).
	deliver *deliveries
}

// New checks cfg, fills defaults and returns a Topics; Start creates its
// tables and starts delivery.
func New(cfg Config) (*Topics, error) {
	if cfg.DB == nil {
		return nil, errors.New("new topics: DB is required")
	}
	if cfg.SlackHosts == nil {
		cfg.SlackHosts = []string{"hooks.slack.com"}
	}
	r := cfg.Retry
	if r == (RetryPolicy{}) {
		r = DefaultRetry
	}
	if r.MinDelay <= 0 {
		r.MinDelay = DefaultRetry.MinDelay
	}
	if r.MaxDelay < r.MinDelay {
		r.MaxDelay = max(r.MinDelay, DefaultRetry.MaxDelay)
	}
	if r.NoDelayRetries < 0 || r.BackoffRetries < 0 {
		return nil, errors.New("new topics: retry counts must not be negative")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = 2
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 30 * 24 * time.Hour
	}
	if cfg.SMTP.Port == 0 {
		cfg.SMTP.Port = 587
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := &Topics{cfg: cfg, db: cfg.DB, clk: clock.Or(cfg.Clock), log: cfg.Logger, retry: r}
	t.deliver = newDeliveries(t)
	t.SetPublicURL(cfg.PublicURL)
	return t, nil
}

// schema is the component's tables. A delivery row is the durable queue:
// one per (message, subscription), taken when due, updated after every
// attempt together with the attempt's record.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS sns_topics (arn VARCHAR PRIMARY KEY, account VARCHAR, region VARCHAR, name VARCHAR,
		attrs VARCHAR, tags VARCHAR, deleted_subs BIGINT DEFAULT 0, created TIMESTAMP)`,
	`CREATE TABLE IF NOT EXISTS sns_subscriptions (arn VARCHAR PRIMARY KEY, topic_arn VARCHAR, account VARCHAR,
		protocol VARCHAR, endpoint VARCHAR, token VARCHAR, pending BOOLEAN, attrs VARCHAR, created TIMESTAMP)`,
	`CREATE TABLE IF NOT EXISTS sns_messages (id VARCHAR PRIMARY KEY, topic_arn VARCHAR, account VARCHAR,
		dedup_id VARCHAR, kind VARCHAR, subject VARCHAR, message VARCHAR, attrs VARCHAR, created TIMESTAMP,
		structured BOOLEAN DEFAULT false)`,
	`CREATE INDEX IF NOT EXISTS sns_messages_dedup ON sns_messages (topic_arn, dedup_id)`,
	`CREATE TABLE IF NOT EXISTS sns_deliveries (message_id VARCHAR, sub_arn VARCHAR, attempt INTEGER,
		next_at TIMESTAMP, state VARCHAR, PRIMARY KEY (message_id, sub_arn))`,
	`CREATE SEQUENCE IF NOT EXISTS sns_attempt_seq`,
	`CREATE TABLE IF NOT EXISTS sns_attempts (seq BIGINT DEFAULT nextval('sns_attempt_seq'), message_id VARCHAR,
		topic_arn VARCHAR, account VARCHAR, sub_arn VARCHAR, protocol VARCHAR, endpoint VARCHAR, subject VARCHAR,
		attempt INTEGER, status VARCHAR, status_code INTEGER, error VARCHAR, time TIMESTAMP)`,
	`CREATE TABLE IF NOT EXISTS sns_signing (id INTEGER PRIMARY KEY, key_pem VARCHAR, cert_pem VARCHAR)`,
}

// Start creates the tables, loads (or creates on first start) the
// signing key and certificate and starts delivery, which resumes every
// delivery left pending.
func (t *Topics) Start(ctx context.Context) error {
	if t.publicURL() == "" {
		return errors.New("start topics: no PublicURL (the URL subscribers reach opentrail at)")
	}
	for _, s := range schema {
		if _, err := t.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("start topics: create tables: %w", err)
		}
	}
	if err := t.loadSigner(ctx); err != nil {
		return fmt.Errorf("start topics: %w", err)
	}
	t.deliver.start()
	return nil
}

// Close stops delivery and waits for attempts in flight (bounded by the
// per-attempt timeout) or until ctx ends. Pending deliveries stay queued
// for the next Start.
func (t *Topics) Close(ctx context.Context) error { return t.deliver.close(ctx) }

// SetPublicURL sets the base URL of the links in messages (Config.PublicURL).
func (t *Topics) SetPublicURL(u string) {
	u = strings.TrimRight(u, "/")
	t.public.Store(&u)
}

func (t *Topics) publicURL() string { return *t.public.Load() }

func (t *Topics) now() time.Time { return t.clk.Now().UTC() }
