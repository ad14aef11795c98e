// Package alarms is the metrics and alarms component behind the CloudWatch
// API: 1-minute metric aggregates per series, metric alarms evaluated on
// arrival of new points and on a clock tick, their state history, and the
// outbox of alarm notifications drained through a Publisher. Its state is
// kept in the event store's DuckDB in tables of its own (cw_*); the hot
// series are also held in memory in a compact form. It is a component:
// New → Start → Close(ctx). It is not the wire service: internal/cloudwatch
// speaks the API over it.
package alarms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

// Publisher sends an alarm notification to a topic. A second Publish with
// the same dedupID on the same topic must send nothing and return the
// first message id: an alarm transition replayed after a crash notifies
// once.
type Publisher interface {
	Publish(ctx context.Context, account, topicARN, subject, message string, dedupID string) (messageID string, err error)
}

// Config configures an Engine.
type Config struct {
	// DB is the event store's database (store.DB()); the engine creates
	// its cw_* tables in it.
	DB *sql.DB
	// Clock drives evaluation and timestamps (clock.Real when nil).
	Clock clock.Clock
	// Publisher receives alarm actions; nil keeps them in the outbox
	// until a Publisher is given.
	Publisher Publisher
	Logger    *slog.Logger
	// Retention is how long 1-minute aggregates are kept (15 days, as
	// CloudWatch keeps 1-minute data, when 0).
	Retention time.Duration
	// Tick is how often every alarm is evaluated even without new data
	// (10 s when 0).
	Tick time.Duration
	// RetryBase is the first wait before a failed publish is retried
	// (doubled per attempt up to 5 min; 2 s when 0).
	RetryBase time.Duration
	// OnTransition, when set, is called after each state change has
	// committed, with the engine's lock held (it must not call the
	// engine): the alarm as it now is, the state it left, the
	// transition's id (the dedup id of its notifications) and the events
	// behind the datapoints that decided it (nil for SetAlarmState).
	OnTransition func(ctx context.Context, a Alarm, oldState, transitionID string, eventIDs []string)
}

// Engine is the metrics and alarms component.
type Engine struct {
	cfg Config
	db  *sql.DB
	clk clock.Clock
	log *slog.Logger

	mu       sync.Mutex
	series   map[int64]*series
	byMetric map[string][]*series // metricKey → the series of every unit
	sources  map[string]int64     // PutSourced: highest Seq applied per source
	alarms   map[string]*Alarm    // alarmKey → alarm
	histID   int64
	pointVer int64           // the ver of the last cw_points row written
	pending  map[string]bool // metric keys with new points, to evaluate
	pruned   time.Time

	wake    chan struct{} // evaluator: new points
	outWake chan struct{} // publisher: new outbox rows
	stop    chan struct{}
	wg      sync.WaitGroup
	started bool
}

// New creates the engine's tables and returns it; Start loads the state
// and starts evaluation and publishing.
func New(cfg Config) (*Engine, error) {
	if cfg.DB == nil {
		return nil, errors.New("alarms: no database")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 15 * 24 * time.Hour
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 10 * time.Second
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 2 * time.Second
	}
	e := &Engine{cfg: cfg, db: cfg.DB, clk: clock.Or(cfg.Clock), log: cfg.Logger,
		series: map[int64]*series{}, byMetric: map[string][]*series{}, sources: map[string]int64{},
		alarms: map[string]*Alarm{}, pending: map[string]bool{},
		wake: make(chan struct{}, 1), outWake: make(chan struct{}, 1), stop: make(chan struct{})}
	for _, q := range schema {
		if _, err := e.db.Exec(q); err != nil {
			return nil, fmt.Errorf("alarms: create tables: %w", err)
		}
	}
	return e, nil
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS cw_series (id BIGINT PRIMARY KEY, account VARCHAR, region VARCHAR,
		namespace VARCHAR, metric VARCHAR, dims VARCHAR, unit VARCHAR)`,
	// cw_points is append-only: each write of a series-minute adds a row
	// with a higher ver, the latest row wins, and the hourly prune drops
	// the superseded ones (an upsert against a primary key cost DuckDB
	// ~70 µs a row).
	`CREATE TABLE IF NOT EXISTS cw_points (series BIGINT, minute INTEGER, cnt DOUBLE, total DOUBLE,
		lo DOUBLE, hi DOUBLE, events VARCHAR, ver BIGINT)`,
	`CREATE TABLE IF NOT EXISTS cw_sources (source VARCHAR PRIMARY KEY, seq BIGINT)`,
	`CREATE TABLE IF NOT EXISTS cw_alarms (account VARCHAR, region VARCHAR, name VARCHAR, body VARCHAR,
		PRIMARY KEY (account, region, name))`,
	`CREATE TABLE IF NOT EXISTS cw_history (id BIGINT PRIMARY KEY, account VARCHAR, region VARCHAR,
		alarm VARCHAR, ts TIMESTAMP, kind VARCHAR, summary VARCHAR, data VARCHAR)`,
	`CREATE TABLE IF NOT EXISTS cw_outbox (id VARCHAR, topic VARCHAR, account VARCHAR, region VARCHAR,
		alarm VARCHAR, subject VARCHAR, message VARCHAR, attempts INTEGER, next_at TIMESTAMP,
		PRIMARY KEY (id, topic))`,
}

// Start loads the stored series, alarms and cursors and starts the
// evaluator and the publisher.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.load(ctx); err != nil {
		return err
	}
	e.started = true
	e.wg.Add(2)
	go e.evaluator()
	go e.publisher()
	return nil
}

// Close stops the evaluator and the publisher. Everything acknowledged
// is already committed.
func (e *Engine) Close(ctx context.Context) error {
	if !e.started {
		return nil
	}
	e.started = false
	close(e.stop)
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) evaluator() {
	defer e.wg.Done()
	t := e.clk.NewTicker(e.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-e.wake:
			e.evaluatePending(context.Background())
		case <-t.C:
			e.evaluateAll(context.Background())
			e.prune(context.Background())
		}
	}
}

func (e *Engine) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
