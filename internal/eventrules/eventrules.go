// Package eventrules keeps EventBridge event rules and their targets over
// the event store (DuckDB tables prefixed er_, per account and region) and
// runs them: a stream consumer matches each committed CloudTrail record, as
// if wrapped in EventBridge's envelope (eventpattern.Set.MatchesCloudTrail,
// reading the record in place), against the enabled rules of the record's
// account and region (an eventpattern.Set per account and region, rebuilt
// when rules change), builds the envelope (eventpattern.CloudTrailEvent)
// only for a record some rule receives, publishes it (or the target's Input
// / InputPath) to each SNS topic target through a Publisher, and reports a
// findings.Signal for every match to a findings.Sink.
//
// It is a component (New → Start → Close) fed from the committed stream
// through a durable cursor, never on the ingest path. A replay after a
// crash repeats nothing: published messages carry a dedup id made of the
// rule, the target and the event, and signals a Key the findings store
// deduplicates. Run matches the enabled rules against stored history on
// demand (POST /v1/detections/runs), reporting signals only: targets are
// sent nothing for past events. It is not the wire API (internal/events speaks that) nor
// the pattern language (internal/eventpattern).
package eventrules

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/poll"
	"github.com/opentrail/opentrail/internal/store"
)

// Rule states, as EventBridge names them.
const (
	StateEnabled    = "ENABLED"
	StateDisabled   = "DISABLED"
	StateEnabledAll = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
)

// DefaultBus is the only event bus: CloudTrail's events arrive on it.
const DefaultBus = "default"

// MaxTargets is how many targets a rule may have (EventBridge's quota).
const MaxTargets = 5

// Rule is one event rule.
type Rule struct {
	Account, Region string
	Name            string
	ARN             string
	EventPattern    string // "" for none
	State           string // one of the State constants
	Description     string
	// ScheduleExpression and RoleARN are kept and returned; schedules
	// are not run.
	ScheduleExpression string
	RoleARN            string
	CreatedBy          string // the account that created it
	Tags               map[string]string
	// FromSeq is the committed sequence number when the rule was created:
	// the rule sees only events committed after it.
	FromSeq int64
}

// Target is one target of a rule. Spec is the target as the API was given
// it (JSON), returned as is by ListTargetsByRule; ARN, Input, InputPath
// and Transformer are what delivery uses (at most one of the three).
type Target struct {
	ID          string
	ARN         string
	Input       string       // a constant JSON text sent instead of the event; "" for none
	InputPath   string       // a JSONPath into the event selecting what is sent; "" for none
	Transformer *Transformer // nil for none
	Spec        string
}

// Transformer is a target's InputTransformer: PathsMap names JSONPaths
// into the event, and Template is the text sent, with <name> replaced by
// what the path of that name selects (see Render).
type Transformer struct {
	PathsMap map[string]string `json:"InputPathsMap,omitempty"`
	Template string            `json:"InputTemplate"`
}

// Publisher publishes a message to an SNS topic. A second Publish with the
// same dedupID on the topic sends nothing and returns the first message
// id. An error with a Permanent() method answering true is a refusal that
// retrying does not change (a deleted topic): the consumer logs it and
// goes on; any other error stops the step, which is retried.
type Publisher interface {
	Publish(ctx context.Context, account, topicARN, subject, message, dedupID string) (messageID string, err error)
}

// Config is what New needs.
type Config struct {
	Store  *store.Store
	Clock  clock.Clock // nil means the system clock
	Logger *slog.Logger
	// Publisher delivers to SNS topic targets; nil drops deliveries.
	Publisher Publisher
	// Sink receives a signal for every match; nil drops them.
	Sink findings.Sink
	// Poll is how often the consumer looks for new events (default 100ms).
	Poll time.Duration
}

// cursorName is the consumer's durable cursor in the store.
const cursorName = "eventrules"

// Rules is the component.
type Rules struct {
	cfg Config
	st  *store.Store
	db  *sql.DB
	clk clock.Clock
	log *slog.Logger

	mu     sync.Mutex // serialises writes to the tables
	gen    int64      // bumped on every change; guarded by mu
	snapMu sync.Mutex
	snap   *snapshot
	syncMu sync.Mutex // serialises Sync
	lazy   bool       // the sync in progress saves a caught-up cursor lazily (guarded by syncMu)
	cs     consumerState

	loop *poll.Loop
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS er_rules (account VARCHAR, region VARCHAR, name VARCHAR, arn VARCHAR,
		pattern VARCHAR, state VARCHAR, description VARCHAR, schedule VARCHAR, role VARCHAR, created_by VARCHAR,
		tags VARCHAR, from_seq BIGINT, created BIGINT)`,
	`CREATE TABLE IF NOT EXISTS er_targets (account VARCHAR, region VARCHAR, rule VARCHAR, id VARCHAR, arn VARCHAR,
		input VARCHAR, input_path VARCHAR, transformer VARCHAR, spec VARCHAR, pos BIGINT)`,
}

// New creates the component's tables if needed; Start runs the consumer.
func New(cfg Config) (*Rules, error) {
	if cfg.Store == nil {
		return nil, errors.New("eventrules.New: Config.Store is nil")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Rules{cfg: cfg, st: cfg.Store, db: cfg.Store.DB(), clk: clock.Or(cfg.Clock), log: cfg.Logger}
	r.loop = poll.New(poll.Config{Name: "eventrules", Clock: r.clk, Every: cfg.Poll, Step: r.syncLazy,
		OnError: func(err error) { r.log.Error("eventrules: consume the event stream", "err", err) },
		OnStop:  r.flushCursor})
	ctx := context.Background()
	for _, q := range schema {
		if _, err := r.db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("eventrules: create tables: %w", err)
		}
	}
	return r, nil
}

// SetSink sets where signals go; call it before Start.
func (r *Rules) SetSink(s findings.Sink) { r.cfg.Sink = s }

// Start runs the consumer until Close.
func (r *Rules) Start() { r.loop.Start() }

// Close stops the consumer. Events not yet consumed are consumed after the
// next start.
func (r *Rules) Close(ctx context.Context) error { return r.loop.Close(ctx) }

// Wake makes the consumer look at the stream now rather than at its next
// poll.
func (r *Rules) Wake() { r.loop.Wake() }

// flushCursor saves the cursor held in memory, so that a clean stop
// replays nothing after the next start.
func (r *Rules) flushCursor() {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.saveCursor(ctx); err != nil {
		r.log.Error("eventrules: save the consumer's cursor", "err", err)
	}
}

// Error is an error the API reports to its caller: Code is the AWS error
// code, Message AWS's text.
type Error struct {
	Code, Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes.
const (
	CodeNotFound   = "ResourceNotFoundException"
	CodeValidation = "ValidationException"
	CodeLimit      = "LimitExceededException"
)

func ruleMissing(name string) *Error {
	return &Error{CodeNotFound, "Rule " + name + " does not exist on EventBus " + DefaultBus + "."}
}
