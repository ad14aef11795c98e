// Package aggregate makes CloudTrail's aggregated events: 5-minute
// summaries of the data events of trails that have AggregationConfigurations
// (PutEventConfiguration), one AwsAggregatedEvent record per account,
// region, event source, template and primary value, appended to the event
// store so that they are stored, selectable in SQL and delivered like any
// record.
//
// It is a component (New → Start → Close(ctx)) that consumes the committed
// stream from a durable cursor, never on the ingest path, with its time
// from internal/clock. Open windows live in DuckDB (tables prefixed agg_),
// committed in one transaction with the cursor; a window is closed when
// the newest data event time seen, or (once the stream is caught up) the
// clock, passes its end plus Config.Lateness. Its records are built only
// from committed state and their eventId is a name-based UUID of the
// window's identity, so a replay after a crash re-appends identical bytes,
// which the store's dedupe drops.
//
// # The record
//
// The shape follows CloudTrail's documentation (user guide "Aggregating
// data events", examples for API_ACTIVITY and RESOURCE_ACCESS, and "CloudTrail
// record contents for aggregated events", read through the search tool's
// docs corpus): members in the order eventVersion "1.0", accountId,
// eventId, eventCategory "Aggregated", eventType "AwsAggregatedEvent",
// awsRegion, eventSource, timeWindow {windowStart, windowEnd (exclusive),
// windowSize "PT5M"}, summary {primaryDimension {dimension, statistics
// [{name, value}], aggregationType "Count"}, details [{dimension,
// statistics, aggregationType}]}. The primary dimension is eventName
// (API_ACTIVITY), resourceARN (RESOURCE_ACCESS) or userIdentity
// (USER_ACTIONS), with one statistic, as in the documented examples. The
// documentation names the detail dimensions only by example (resourceARN,
// eventName; "userAgent, sourceIpAddress, errorCodes"); which details each
// template carries, and that each lists at most MaxStatistics values (by
// count, then name), is this package's choice, documented in
// docs/detections.md#aggregated-events.
//
// When several trails of an account aggregate, they share one summary
// built from the data events any of them selects; delivery gives each
// aggregating trail the records of its templates.
package aggregate

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
	"github.com/opentrail/opentrail/internal/poll"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// Appender stores generated records; the records are fsynced when Append
// returns nil. A record whose (account, eventId) is stored already with
// the same content must be accepted as a no-op.
type Appender interface {
	Append(ctx context.Context, source string, recs []*event.Record) error
}

// Source is the source name the component appends its records under.
const Source = "aggregate"

// Store is the part of the event store the component reads
// (*store.Store implements it).
type Store interface {
	ReadAfter(ctx context.Context, seq int64, limit int) ([]store.Event, error)
	CommittedSeq() int64
	AllTrails(ctx context.Context) ([]store.Trail, error)
	TrailsGeneration() int64
}

// Config configures an Aggregator.
type Config struct {
	Store    Store       // required
	DB       *sql.DB     // required: where the agg_ tables live
	Appender Appender    // required
	Clock    clock.Clock // nil means the system clock
	Logger   *slog.Logger
	Org      *trail.Organization
	// Lateness is how long after a window's end events of it are still
	// awaited (default 5 minutes).
	Lateness time.Duration
	// Poll is how often the stream is looked at (default one second).
	Poll time.Duration
}

// Window is the aggregation window.
const Window = 5 * time.Minute

// readBatch is how many committed events one step reads at most.
var readBatch = 5000

// Aggregator is the component. Create it with New.
type Aggregator struct {
	cfg Config
	st  Store
	db  *sql.DB
	clk clock.Clock
	log *slog.Logger

	syncMu sync.Mutex // serialises Sync
	state  *state     // nil until loaded; reset after a failed step
	snap   *trailSnap

	loop *poll.Loop
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS agg_counts (account VARCHAR, region VARCHAR, source VARCHAR, template VARCHAR,
		window_start BIGINT, primary_value VARCHAR, dimension VARCHAR, name VARCHAR, n BIGINT)`,
	`CREATE TABLE IF NOT EXISTS agg_closed (window_start BIGINT PRIMARY KEY)`,
	`CREATE TABLE IF NOT EXISTS agg_state (name VARCHAR PRIMARY KEY, value BIGINT)`,
}

// New checks cfg and creates the component's tables.
func New(cfg Config) (*Aggregator, error) {
	if cfg.Store == nil || cfg.DB == nil || cfg.Appender == nil {
		return nil, errors.New("aggregate.New: Config.Store, Config.DB and Config.Appender are required")
	}
	if cfg.Lateness <= 0 {
		cfg.Lateness = 5 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Aggregator{cfg: cfg, st: cfg.Store, db: cfg.DB, clk: clock.Or(cfg.Clock), log: cfg.Logger}
	a.loop = poll.New(poll.Config{Name: "aggregate", Clock: a.clk, Every: cfg.Poll, Step: a.Sync,
		OnError: func(err error) { a.log.Error("aggregate: consume the event stream", "err", err) }})
	for _, q := range schema {
		if _, err := a.db.ExecContext(context.Background(), q); err != nil {
			return nil, fmt.Errorf("aggregate: create tables: %w", err)
		}
	}
	return a, nil
}

// Start runs the consumer until Close.
func (a *Aggregator) Start() { a.loop.Start() }

// Wake makes the consumer look at the stream now.
func (a *Aggregator) Wake() { a.loop.Wake() }

// Close stops the consumer; what it has not consumed is consumed after the
// next start.
func (a *Aggregator) Close(ctx context.Context) error { return a.loop.Close(ctx) }

// Sync closes the windows that are due and folds the committed stream up
// to its end into the open ones. The background loop calls it; tests call
// it directly.
func (a *Aggregator) Sync(ctx context.Context) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	for {
		n, err := a.step(ctx)
		if err != nil {
			a.state = nil // reload from the database next time
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// step first closes the windows that are due (from committed state only,
// so a replay re-emits identical records), then folds one batch of events
// and commits the counts with the cursor. It returns how many events it
// read.
func (a *Aggregator) step(ctx context.Context) (int, error) {
	if a.state == nil {
		s, err := loadState(ctx, a.db)
		if err != nil {
			return 0, err
		}
		a.state = s
	}
	s := a.state
	last := a.st.CommittedSeq()
	caughtUp := s.cursor >= last
	if err := a.closeDue(ctx, caughtUp); err != nil {
		return 0, err
	}
	if caughtUp {
		return 0, nil
	}
	snap, err := a.trails(ctx)
	if err != nil {
		return 0, err
	}
	if len(snap.trails) == 0 {
		// No trail aggregates: skip the stream without reading it.
		return 0, s.commit(ctx, a.db, last, nil)
	}
	evs, err := a.st.ReadAfter(ctx, s.cursor, readBatch)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	touched := map[int64]bool{}
	for i := range evs {
		ev := &evs[i]
		if ev.Rec.EventCategory != event.CategoryData {
			continue
		}
		tpls := snap.templates(a.cfg.Org, ev)
		if len(tpls) == 0 {
			continue
		}
		ws := windowStart(ev.Rec.EventTime)
		if s.closed[ws] {
			s.late++
			continue
		}
		s.fold(ev.Rec, ws, tpls)
		touched[ws] = true
		if t := ev.Rec.EventTime.UnixMilli(); t > s.watermark {
			s.watermark = t
		}
	}
	if s.late > 0 {
		a.log.Warn("aggregate: data events arrived after their window closed and are not in its summary", "count", s.late)
		s.late = 0
	}
	if err := s.commit(ctx, a.db, evs[len(evs)-1].Seq, touched); err != nil {
		return 0, err
	}
	return len(evs), nil
}

func windowStart(t time.Time) int64 {
	return t.UTC().Truncate(Window).UnixMilli()
}

// closeDue appends the records of every open window that is due and then
// marks the windows closed. A window is due when the newest data event
// time seen passes its end plus the lateness, or, when the stream is
// caught up, the clock does.
func (a *Aggregator) closeDue(ctx context.Context, caughtUp bool) error {
	s := a.state
	lateness := a.cfg.Lateness.Milliseconds()
	now := a.clk.Now().UnixMilli()
	var due []int64
	for ws := range s.open {
		end := ws + Window.Milliseconds() + lateness
		if s.watermark >= end || caughtUp && now >= end {
			due = append(due, ws)
		}
	}
	if len(due) == 0 {
		return nil
	}
	recs, err := s.records(due)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		if err := a.cfg.Appender.Append(ctx, Source, recs); err != nil {
			return fmt.Errorf("append aggregated events: %w", err)
		}
	}
	return s.close(ctx, a.db, due)
}
