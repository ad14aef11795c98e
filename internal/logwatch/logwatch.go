// Package logwatch keeps CloudWatch Logs-compatible log groups over the
// event store: groups, streams, retention and tags; the stream consumer
// that puts each trail's selected events into the log group its
// CloudWatchLogsLogGroupArn names (as references to stored events, not
// copies); and the groups' metric filters and subscription filters, which
// emit datapoints to a MetricSink and messages to a Publisher.
//
// It is a component (New → Start → Close) fed from the committed stream
// through a durable cursor, never on the ingest path. A replay after a
// crash re-sends only what the sink and the publisher drop as duplicates:
// datapoints carry the sequence number of the event that produced them, and
// published messages a dedup id derived from (filter, event). It is not the
// wire API: internal/logs speaks that over this package.
package logwatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// Point is one metric datapoint a metric filter emits.
type Point struct {
	Account, Region       string // the log group's
	Namespace, MetricName string
	Dimensions            map[string]string // nil for none
	Unit                  string            // "" when the filter sets none
	Time                  time.Time         // the log event's timestamp
	Value                 float64
	// Seq orders points for idempotent replay: for trail events the store
	// sequence number of the event, for PutLogEvents messages their
	// position in the message log (source SourceMessages).
	Seq int64
	// EventIDs names the CloudTrail events behind the point (the record's
	// eventID); empty for PutLogEvents messages.
	EventIDs []string
	// Filter and LogGroup name the metric filter that emitted the point.
	Filter, LogGroup string
}

// Sources of the datapoints pushed to a MetricSink. Seq increases within
// each.
const (
	SourceStream   = "logwatch"          // trail events from the committed stream
	SourceMessages = "logwatch/messages" // PutLogEvents messages
)

// MetricSink receives metric filters' datapoints. PutPoints must be
// idempotent per source: points with a Seq at or below the highest Seq it
// already applied for that source are ignored. logwatch pushes a batch's
// points before it saves its cursor.
type MetricSink interface {
	PutPoints(ctx context.Context, source string, pts []Point) error
}

// Publisher publishes a subscription filter's message to a topic. A
// second Publish with the same dedupID (per topic) sends nothing and
// returns the first message id.
type Publisher interface {
	Publish(ctx context.Context, account, topicARN, subject, message string, dedupID string) (messageID string, err error)
}

// Suppression makes a metric filter ignore events: an event whose
// principal ARN, event source or userIdentity type is listed emits nothing
// for the filter (not even its default value). Empty lists match nothing.
type Suppression struct {
	Filter        string   // the metric filter's name
	Account       string   // "" = every account
	Principals    []string // userIdentity.arn values
	EventSources  []string // eventSource values
	IdentityTypes []string // userIdentity.type values (Root, AWSService, …)
}

// Config is what New needs.
type Config struct {
	Store  *store.Store
	Clock  clock.Clock // nil means the system clock
	Logger *slog.Logger
	// Sink receives metric filters' datapoints; nil drops them.
	Sink MetricSink
	// Publisher sends subscription filters' messages; nil refuses
	// PutSubscriptionFilter.
	Publisher Publisher
	// TopicExists, when set, is asked whether a subscription filter's
	// destination topic exists.
	TopicExists func(ctx context.Context, account, topicARN string) (bool, error)
	// Org is the configured organisation, for organisation trails.
	Org *trail.Organization
	// Suppress, when set, is asked for every (metric filter, trail event)
	// pair; true suppresses the event for the filter. Suppressions are the
	// declarative form; an event is suppressed if either says so.
	Suppress     func(account, filterName string, rec *event.Record) bool
	Suppressions []Suppression
	// Poll is how often the consumer looks for new events (default 100ms).
	Poll time.Duration
	// RetentionEvery is how often expired events' rows are deleted
	// (default one minute).
	RetentionEvery time.Duration
}

// cursorName is the consumer's durable cursor in the store.
const cursorName = "logwatch"

// Watch is the component. It keeps the log groups, their streams and
// events (groups.go, events.go); their metric and subscription filters
// are Filters (filters.go), and the stream consumer is a type of its own
// (consumer.go) that Start, Close, Wake and Sync drive.
type Watch struct {
	cfg Config
	st  *store.Store
	db  *sql.DB
	clk clock.Clock
	log *slog.Logger

	mu  sync.Mutex // serialises writes to the tables
	gen int64      // bumped on every configuration change; guarded by mu

	filters  *Filters
	consumer *consumer
}

var schema = []string{
	`CREATE SEQUENCE IF NOT EXISTS lw_ids START 1`,
	`CREATE TABLE IF NOT EXISTS lw_groups (id BIGINT, account VARCHAR, region VARCHAR, name VARCHAR,
		created BIGINT, retention INTEGER, kms VARCHAR, class VARCHAR, tags VARCHAR)`,
	`CREATE TABLE IF NOT EXISTS lw_streams (gid BIGINT, name VARCHAR, created BIGINT,
		first_ts BIGINT, last_ts BIGINT, last_ingest BIGINT, bytes BIGINT)`,
	`CREATE TABLE IF NOT EXISTS lw_events (k BIGINT, gid BIGINT, stream VARCHAR, ts BIGINT, ingest BIGINT,
		seq BIGINT, msg VARCHAR, size INTEGER)`,
	`CREATE TABLE IF NOT EXISTS lw_metric_filters (gid BIGINT, name VARCHAR, pattern VARCHAR, trans VARCHAR, created BIGINT)`,
	`CREATE TABLE IF NOT EXISTS lw_sub_filters (gid BIGINT, name VARCHAR, pattern VARCHAR, dest VARCHAR,
		role VARCHAR, dist VARCHAR, created BIGINT)`,
	`CREATE TABLE IF NOT EXISTS lw_state (name VARCHAR, seq BIGINT)`,
}

// New creates the component's tables if needed; Start runs the consumer.
func New(cfg Config) (*Watch, error) {
	if cfg.Store == nil {
		return nil, errors.New("logwatch.New: Config.Store is nil")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.RetentionEvery <= 0 {
		cfg.RetentionEvery = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Watch{cfg: cfg, st: cfg.Store, db: cfg.Store.DB(), clk: clock.Or(cfg.Clock), log: cfg.Logger}
	w.filters = &Filters{w: w}
	w.consumer = newConsumer(w)
	ctx := context.Background()
	for _, q := range schema {
		if _, err := w.db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("logwatch: create tables: %w", err)
		}
	}
	return w, nil
}

// Start runs the consumer and the retention sweep until Close.
func (w *Watch) Start() { w.consumer.start() }

// Close stops the consumer. Events not yet consumed are consumed after the
// next start.
func (w *Watch) Close(ctx context.Context) error { return w.consumer.loop.Close(ctx) }

// Wake makes the consumer look at the stream now rather than at its next
// poll.
func (w *Watch) Wake() { w.consumer.loop.Wake() }

// Filters returns the log groups' metric and subscription filters.
func (w *Watch) Filters() *Filters { return w.filters }

// Error is an error the API reports to its caller: Code is the AWS error
// code (ResourceNotFoundException, …), Message AWS's text.
type Error struct {
	Code, Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes.
const (
	CodeNotFound     = "ResourceNotFoundException"
	CodeExists       = "ResourceAlreadyExistsException"
	CodeInvalid      = "InvalidParameterException"
	CodeLimit        = "LimitExceededException"
	CodeUnrecognized = "UnrecognizedClientException"
)

func errf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Messages AWS sends.
var (
	errGroupMissing  = &Error{CodeNotFound, "The specified log group does not exist."}
	errGroupExists   = &Error{CodeExists, "The specified log group already exists"}
	errStreamMissing = &Error{CodeNotFound, "The specified log stream does not exist."}
	errStreamExists  = &Error{CodeExists, "The specified log stream already exists"}
	errFilterMissing = &Error{CodeNotFound, "The specified filter does not exist."}
	errLimit         = &Error{CodeLimit, "Resource limit exceeded."}
)

func ms(t time.Time) int64 { return t.UnixMilli() }
