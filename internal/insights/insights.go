// Package insights is CloudTrail Insights over the committed stream: per
// account, region, event source and event name (and error code), the
// per-minute count of the calls a trail's Insights selectors analyse, a
// baseline of that rate over a trailing window, and Start/End Insights
// records in CloudTrail's shape when a closed minute leaves it. The
// records go back into the stream through an Appender; each Start is also
// reported as a findings.Signal. It runs as a component consuming the
// stream by a durable cursor, and retroactively over stored history
// (Run). The method is described in docs/detections.md, Insights.
package insights

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/poll"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// Appender takes the Insights records into the stream; the records are
// durable when it returns. Records already stored (same eventID) are
// dropped by the store, so appending a record twice is harmless.
type Appender interface {
	Append(ctx context.Context, source string, recs []*event.Record) error
}

// Source names the records this package appends.
const Source = "insights"

// Config configures the detector. Zero values take the defaults.
type Config struct {
	Store    *store.Store
	Clock    clock.Clock
	Org      *trail.Organization
	Logger   *slog.Logger
	Appender Appender      // where the records go; nil: records are not appended
	Sink     findings.Sink // where each Start is reported; may be nil

	BaselineDays   int           // trailing baseline window (7)
	MinHistoryDays float64       // observed history needed before any insight (1)
	Factor         float64       // see Params (3)
	Spread         float64       // see Params (8)
	MinCount       float64       // see Params (7)
	EndQuiet       int           // minutes below the threshold that end an insight (5)
	Lateness       time.Duration // how long a minute stays open for late events (1m)
	Poll           time.Duration // how often the stream is read (1s)
}

func (c *Config) params() Params {
	if c.BaselineDays <= 0 {
		c.BaselineDays = 7
	}
	if c.MinHistoryDays <= 0 {
		c.MinHistoryDays = 1
	}
	if c.Factor <= 0 {
		c.Factor = 3
	}
	if c.Spread <= 0 {
		c.Spread = 8
	}
	if c.MinCount <= 0 {
		c.MinCount = 7
	}
	if c.EndQuiet <= 0 {
		c.EndQuiet = 5
	}
	if c.Lateness <= 0 {
		c.Lateness = time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	return Params{BaselineMinutes: int64(c.BaselineDays) * 1440, MinHistory: int64(c.MinHistoryDays * 1440),
		Factor: c.Factor, Spread: c.Spread, MinCount: c.MinCount, EndQuiet: int64(c.EndQuiet)}
}

// Detector is the Insights component.
type Detector struct {
	cfg Config
	p   Params
	st  *store.Store
	db  *sql.DB
	clk clock.Clock
	log *slog.Logger

	mu     sync.Mutex // serialises Sync, Run and the metric queries' view
	e      *engine
	cur    int64
	loaded bool

	trailsGen int64
	trails    []analysed
	lastPrune time.Time

	loop *poll.Loop
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS ins_series (id BIGINT PRIMARY KEY, account VARCHAR, region VARCHAR, itype VARCHAR,
		category VARCHAR, source VARCHAR, name VARCHAR, ecode VARCHAR)`,
	`CREATE TABLE IF NOT EXISTS ins_minutes (sid BIGINT, minute BIGINT, n BIGINT)`,
	`CREATE TABLE IF NOT EXISTS ins_attrs (sid BIGINT, minute BIGINT, kind TINYINT, value VARCHAR, n BIGINT)`,
	`CREATE TABLE IF NOT EXISTS ins_eval (sid BIGINT, minute BIGINT)`,
	`CREATE TABLE IF NOT EXISTS ins_state (name VARCHAR PRIMARY KEY, v BIGINT)`,
	`CREATE TABLE IF NOT EXISTS ins_records (event_id VARCHAR PRIMARY KEY, account VARCHAR, region VARCHAR, category VARCHAR,
		source VARCHAR, name VARCHAR, t BIGINT, raw VARCHAR)`,
	`CREATE TABLE IF NOT EXISTS ins_active (sid BIGINT PRIMARY KEY, doc VARCHAR)`,
}

// New makes the detector and its tables.
func New(cfg Config) (*Detector, error) {
	if cfg.Store == nil {
		return nil, errors.New("insights.New: Config.Store is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := cfg.params() // fills cfg's defaults too
	d := &Detector{cfg: cfg, p: p, st: cfg.Store, db: cfg.Store.DB(), clk: clock.Or(cfg.Clock), log: cfg.Logger,
		trailsGen: -1}
	d.loop = poll.New(poll.Config{Name: "insights", Clock: d.clk, Every: cfg.Poll, Step: d.Sync,
		OnError: func(err error) { d.log.Error("insights: consume the event stream", "err", err) }})
	for _, q := range schema {
		if _, err := d.db.ExecContext(context.Background(), q); err != nil {
			return nil, fmt.Errorf("insights: create tables: %w", err)
		}
	}
	return d, nil
}

// Start runs the consumer until Close.
func (d *Detector) Start() { d.loop.Start() }

// Wake makes the consumer look at the stream now.
func (d *Detector) Wake() { d.loop.Wake() }

// Close stops the consumer; what it has not consumed is consumed after
// the next start.
func (d *Detector) Close(ctx context.Context) error { return d.loop.Close(ctx) }

// readBatch is how many events a step reads at most.
var readBatch = 20000

// Sync consumes the committed stream to its end and closes the minutes
// that are due. The background loop calls it; tests call it directly.
func (d *Detector) Sync(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		n, err := d.step(ctx)
		if err != nil {
			d.loaded = false
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

func (d *Detector) currentTrails(ctx context.Context) ([]analysed, error) {
	if g := d.st.TrailsGeneration(); g != d.trailsGen {
		ts, err := analysedTrails(ctx, d.st, false)
		if err != nil {
			return nil, err
		}
		d.trails, d.trailsGen = ts, g
	}
	return d.trails, nil
}

// step consumes one batch (or, caught up, closes the minutes the clock
// says are over). The counts, new series, insights in progress and the
// cursor commit in one transaction; the records are appended before it
// commits, so a failed step replays into identical records.
func (d *Detector) step(ctx context.Context) (int, error) {
	if err := d.load(ctx); err != nil {
		return 0, err
	}
	last := d.st.CommittedSeq()
	trails, err := d.currentTrails(ctx)
	if err != nil {
		return 0, err
	}
	var evs []store.Event
	if d.cur < last {
		if len(trails) == 0 {
			d.cur = last // nothing is analysed: skip the stream unread
		} else if evs, err = d.st.ReadAfter(ctx, d.cur, readBatch); err != nil {
			return 0, err
		}
	}
	e := d.e
	counts := map[minuteKey]int64{}
	attrs := map[int64]map[attrKey]float64{}
	var fresh []*series
	var keys []key
	watermark := int64(-1)
	for i := range evs {
		rec := evs[i].Rec
		keys = keysOf(trails, d.cfg.Org, rec, evs[i].IngestTime, keys[:0])
		if len(keys) == 0 {
			continue
		}
		m := floorDiv(rec.EventTime.Unix(), 60)
		watermark = max(watermark, m)
		vals := attrValues(rec)
		for _, k := range keys {
			s, isNew := e.get(k)
			if isNew {
				fresh = append(fresh, s)
			}
			e.count(s, m, 1)
			counts[minuteKey{s.id, m}]++
			for kind, v := range vals {
				if kind == attrError && k.Type == TypeErrorRate {
					continue
				}
				memAttrs(attrs).add(s.id, attrKey{m, kind, v}, 1)
			}
		}
	}
	newCur := d.cur
	if len(evs) > 0 {
		newCur = evs[len(evs)-1].Seq
	}
	lateMin := int64(d.cfg.Lateness / time.Minute)
	if d.cfg.Lateness%time.Minute != 0 {
		lateMin++
	}
	closeAt := max(e.closed, watermark-1-lateMin)
	if newCur >= last {
		// Caught up: the clock closes minutes no call arrives for.
		closeAt = max(closeAt, floorDiv(d.clk.Now().Add(-d.cfg.Lateness).Unix(), 60)-1)
	}
	if len(evs) == 0 && newCur == d.cur && closeAt <= e.closed && !e.due(closeAt) {
		return 0, nil
	}
	trs := e.closeThrough(closeAt)
	err = d.inTx(ctx, func(conn *sql.Conn) error {
		if err := writeBatch(ctx, conn, fresh, counts2rows(counts), attrs); err != nil {
			return err
		}
		recs, sigs, err := d.render(ctx, dbAttrs{conn}, trs)
		if err != nil {
			return err
		}
		if len(recs) > 0 && d.cfg.Appender != nil {
			if err := d.cfg.Appender.Append(ctx, Source, recs); err != nil {
				return fmt.Errorf("append insights records: %w", err)
			}
		}
		if err := saveRecords(ctx, conn, trs, recs); err != nil {
			return err
		}
		if err := d.saveState(ctx, conn, newCur); err != nil {
			return err
		}
		if len(sigs) > 0 && d.cfg.Sink != nil {
			// Recorded before the commit: a replay records the same
			// signals again, which changes nothing.
			if err := d.cfg.Sink.Record(ctx, sigs); err != nil {
				return fmt.Errorf("report insights: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	d.cur = newCur
	clear(e.touched)
	if now := d.clk.Now(); now.Sub(d.lastPrune) >= time.Hour {
		d.lastPrune = now
		if err := d.prune(ctx); err != nil {
			d.log.Error("insights: drop counts older than the baseline window", "err", err)
		}
	}
	if len(evs) == 0 {
		return 0, nil
	}
	return len(evs), nil
}

type minuteKey struct{ sid, minute int64 }

type minuteRow struct{ sid, minute, n int64 }

func counts2rows(m map[minuteKey]int64) []minuteRow {
	out := make([]minuteRow, 0, len(m))
	for k, n := range m {
		out = append(out, minuteRow{k.sid, k.minute, n})
	}
	return out
}

// render builds the records and signals of transitions.
func (d *Detector) render(ctx context.Context, src attrSource, trs []*transition) ([]*event.Record, []findings.Signal, error) {
	var recs []*event.Record
	var sigs []findings.Signal
	for _, tr := range trs {
		attrs, err := attributions(ctx, src, tr)
		if err != nil {
			return nil, nil, err
		}
		rec, err := insightRecord(tr.s.k, tr, attrs)
		if err != nil {
			return nil, nil, fmt.Errorf("build insights record: %w", err)
		}
		recs = append(recs, rec)
		d.log.Info("insights: "+tr.state, "type", tr.s.k.Type, "account", tr.s.k.Account, "region", tr.s.k.Region,
			"eventSource", tr.s.k.Source, "eventName", tr.s.k.Name, "errorCode", tr.s.k.ErrorCode, "start", minuteTime(tr.a.Start),
			"baseline", num(tr.a.Baseline), "rate", num(tr.a.First))
		if tr.state == "Start" {
			sigs = append(sigs, signalOf(tr, rec, attrs))
		}
	}
	return recs, sigs, nil
}

// signalOf is the finding a Start reports.
func signalOf(tr *transition, rec *event.Record, attrs []attribution) findings.Signal {
	k, a := tr.s.k, &tr.a
	what := "call rate"
	if k.Type == TypeErrorRate {
		what = k.ErrorCode + " error rate"
	}
	sev := findings.SeverityMedium
	if a.First >= 10*a.Threshold {
		sev = findings.SeverityHigh
	}
	sig := findings.Signal{
		Detector: findings.DetectorInsight, RuleID: k.Type,
		Title:    fmt.Sprintf("Unusual %s %s (%s)", k.Name, what, k.Source),
		Severity: sev,
		Description: fmt.Sprintf("%s %s in %s/%s: %s per minute against a baseline of %s per minute over %d minutes",
			k.Source, k.Name, k.Account, k.Region, num(a.First), num(a.Baseline), a.BaseMins),
		Account: k.Account, Region: k.Region, EventIDs: []string{rec.EventID}, EventTime: minuteTime(a.Start),
		GroupKey: k.Source + " " + k.Name + " " + k.ErrorCode, Key: fastSharedID(rec),
	}
	for _, at := range attrs {
		if at.kind == attrIdentity && len(at.insight) > 0 && at.insight[0].Value != "null" {
			sig.Principal = at.insight[0].Value
		}
	}
	return sig
}

func fastSharedID(rec *event.Record) string {
	var v struct{ SharedEventID string }
	json.Unmarshal(rec.Raw, &v)
	return v.SharedEventID
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// inTx runs fn in a transaction on one connection.
func (d *Detector) inTx(ctx context.Context, fn func(conn *sql.Conn) error) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("insights: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("insights: %w", err)
	}
	if err := fn(conn); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("insights: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("insights: %w", err)
	}
	return nil
}

// writeBatch stores new series, minute counts and attribution counts.
func writeBatch(ctx context.Context, conn *sql.Conn, fresh []*series, mins []minuteRow, attrs map[int64]map[attrKey]float64) error {
	for _, s := range fresh {
		k := s.k
		if _, err := conn.ExecContext(ctx, `INSERT INTO ins_series VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			s.id, k.Account, k.Region, k.Type, k.Category, k.Source, k.Name, k.ErrorCode); err != nil {
			return fmt.Errorf("store series: %w", err)
		}
	}
	if len(mins) == 0 && len(attrs) == 0 {
		return nil
	}
	return conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		app, err := duckdb.NewAppenderFromConn(dconn, "", "ins_minutes")
		if err != nil {
			return err
		}
		for _, r := range mins {
			if err := app.AppendRow(r.sid, r.minute, r.n); err != nil {
				app.Close()
				return err
			}
		}
		if err := app.Close(); err != nil {
			return err
		}
		app, err = duckdb.NewAppenderFromConn(dconn, "", "ins_attrs")
		if err != nil {
			return err
		}
		for sid, m := range attrs {
			for k, n := range m {
				if err := app.AppendRow(sid, k.minute, int8(k.kind), k.value, int64(n)); err != nil {
					app.Close()
					return err
				}
			}
		}
		return app.Close()
	})
}

// dbAttrs answers attribution counts from ins_attrs.
type dbAttrs struct{ conn *sql.Conn }

func (a dbAttrs) attrs(ctx context.Context, sid int64, from, to int64) (attrCounts, error) {
	var out attrCounts
	rows, err := a.conn.QueryContext(ctx, `SELECT kind, value, sum(n) FROM ins_attrs WHERE sid = ? AND minute >= ? AND minute < ?
		GROUP BY kind, value`, sid, from, to)
	if err != nil {
		return out, fmt.Errorf("read attributions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind int
		var v string
		var n float64
		if err := rows.Scan(&kind, &v, &n); err != nil {
			return out, err
		}
		out.add(kind, v, n)
	}
	return out, rows.Err()
}

// saveState writes the cursor, the closed minute, the history start and
// the insights in progress.
func (d *Detector) saveState(ctx context.Context, conn *sql.Conn, cur int64) error {
	for name, v := range map[string]int64{"cursor": cur, "closed": d.e.closed, "hist": d.e.hist} {
		if _, err := conn.ExecContext(ctx, `INSERT OR REPLACE INTO ins_state VALUES (?, ?)`, name, v); err != nil {
			return fmt.Errorf("save insights state: %w", err)
		}
	}
	for s := range d.e.touched {
		if _, err := conn.ExecContext(ctx, `INSERT INTO ins_eval VALUES (?, ?)`, s.id, s.evaluated); err != nil {
			return fmt.Errorf("save insights state: %w", err)
		}
	}
	// The insights in progress: rows of those still active are updated in
	// place, the others deleted, new ones inserted. A row is never deleted
	// and inserted again in one transaction: DuckDB keeps such a key twice
	// in the primary-key index until no older reader needs it, and a later
	// commit inserting the key meanwhile invalidates the whole database
	// ("Corrupted unique ART index").
	stored := map[int64]bool{}
	rows, err := conn.QueryContext(ctx, `SELECT sid FROM ins_active`)
	if err != nil {
		return fmt.Errorf("save insights in progress: %w", err)
	}
	for rows.Next() {
		var sid int64
		if err := rows.Scan(&sid); err != nil {
			rows.Close()
			return fmt.Errorf("save insights in progress: %w", err)
		}
		stored[sid] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("save insights in progress: %w", err)
	}
	active := map[int64]bool{}
	for s := range d.e.actives {
		active[s.id] = true
		doc, _ := json.Marshal(s.active)
		q := `INSERT INTO ins_active VALUES (?, ?)`
		args := []any{s.id, string(doc)}
		if stored[s.id] {
			q, args = `UPDATE ins_active SET doc = ? WHERE sid = ?`, []any{string(doc), s.id}
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("save insights in progress: %w", err)
		}
	}
	for sid := range stored {
		if !active[sid] {
			if _, err := conn.ExecContext(ctx, `DELETE FROM ins_active WHERE sid = ?`, sid); err != nil {
				return fmt.Errorf("save insights in progress: %w", err)
			}
		}
	}
	return nil
}

// load rebuilds the in-memory state from the tables.
func (d *Detector) load(ctx context.Context) error {
	if d.loaded {
		return nil
	}
	e := newEngine(d.p)
	state := map[string]int64{"cursor": 0, "closed": -1, "hist": -1}
	rows, err := d.db.QueryContext(ctx, `SELECT name, v FROM ins_state`)
	if err != nil {
		return fmt.Errorf("read insights state: %w", err)
	}
	for rows.Next() {
		var n string
		var v int64
		if err := rows.Scan(&n, &v); err != nil {
			rows.Close()
			return err
		}
		state[n] = v
	}
	rows.Close()
	e.closed, e.hist = state["closed"], state["hist"]
	rows, err = d.db.QueryContext(ctx, `SELECT id, account, region, itype, category, source, name, ecode FROM ins_series`)
	if err != nil {
		return fmt.Errorf("read insights series: %w", err)
	}
	for rows.Next() {
		var id int64
		var k key
		if err := rows.Scan(&id, &k.Account, &k.Region, &k.Type, &k.Category, &k.Source, &k.Name, &k.ErrorCode); err != nil {
			rows.Close()
			return err
		}
		e.put(newSeries(id, k))
	}
	rows.Close()
	rows, err = d.db.QueryContext(ctx, `SELECT sid, max(minute) FROM ins_eval GROUP BY sid`)
	if err != nil {
		return fmt.Errorf("read insights state: %w", err)
	}
	for rows.Next() {
		var sid, m int64
		if err := rows.Scan(&sid, &m); err != nil {
			rows.Close()
			return err
		}
		if s := e.byID[sid]; s != nil {
			s.evaluated = m
		}
	}
	rows.Close()
	rows, err = d.db.QueryContext(ctx, `SELECT sid, minute, sum(n) FROM ins_minutes GROUP BY sid, minute`)
	if err != nil {
		return fmt.Errorf("read insights counts: %w", err)
	}
	for rows.Next() {
		var sid, m int64
		var n float64
		if err := rows.Scan(&sid, &m, &n); err != nil {
			rows.Close()
			return err
		}
		s := e.byID[sid]
		if s == nil {
			continue
		}
		if m <= s.evaluated {
			s.add(m, n, n*n)
		} else {
			p := e.pending[m]
			if p == nil {
				p = map[*series]float64{}
				e.pending[m] = p
			}
			p[s] += n
		}
	}
	rows.Close()
	rows, err = d.db.QueryContext(ctx, `SELECT sid, doc FROM ins_active`)
	if err != nil {
		return fmt.Errorf("read insights in progress: %w", err)
	}
	for rows.Next() {
		var sid int64
		var doc string
		if err := rows.Scan(&sid, &doc); err != nil {
			rows.Close()
			return err
		}
		s := e.byID[sid]
		a := &active{}
		if s == nil || json.Unmarshal([]byte(doc), a) != nil {
			continue
		}
		s.active, e.actives[s] = a, true
	}
	rows.Close()
	d.e, d.cur, d.loaded = e, state["cursor"], true
	return nil
}

// prune drops counts older than the baseline window (and a day).
func (d *Detector) prune(ctx context.Context) error {
	cut := d.e.closed - d.p.BaselineMinutes - 1440
	if cut <= 0 {
		return nil
	}
	for _, t := range []string{"ins_minutes", "ins_attrs"} {
		if _, err := d.db.ExecContext(ctx, `DELETE FROM `+t+` WHERE minute < ?`, cut); err != nil {
			return err
		}
	}
	// Only each series' latest evaluated minute matters.
	_, err := d.db.ExecContext(ctx, `DELETE FROM ins_eval WHERE (sid, minute) NOT IN (SELECT sid, max(minute) FROM ins_eval GROUP BY sid)`)
	return err
}

// InsightsMetricData returns the sums of a series' per-minute counts over
// period-second buckets in [start, end), zero buckets left out
// (ListInsightsMetricData). Counts are kept for the baseline window and a
// day more.
func (d *Detector) InsightsMetricData(ctx context.Context, account, region, insightType, category, source, name, errorCode string,
	start, end time.Time, period int) ([]time.Time, []float64, error) {
	pm := int64(period / 60)
	rows, err := d.db.QueryContext(ctx, `SELECT (m.minute // ?) * ? AS b, sum(m.n) FROM ins_minutes m JOIN ins_series s ON s.id = m.sid
		WHERE s.account = ? AND s.region = ? AND s.itype = ? AND s.category = ? AND s.source = ? AND s.name = ? AND s.ecode = ?
		AND m.minute >= ? AND m.minute < ? GROUP BY b ORDER BY b`,
		pm, pm, account, region, insightType, category, source, name, errorCode, floorDiv(start.Unix(), 60), floorDiv(end.Unix()+59, 60))
	if err != nil {
		return nil, nil, fmt.Errorf("read insights metric data: %w", err)
	}
	defer rows.Close()
	var ts []time.Time
	var vs []float64
	for rows.Next() {
		var b int64
		var v float64
		if err := rows.Scan(&b, &v); err != nil {
			return nil, nil, err
		}
		if t := minuteTime(b); !t.Before(end) {
			continue
		} else if v != 0 {
			ts, vs = append(ts, t), append(vs, v)
		}
	}
	return ts, vs, rows.Err()
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// saveRecords keeps the records made (ListInsightsData), once each.
func saveRecords(ctx context.Context, db execer, trs []*transition, recs []*event.Record) error {
	for i, r := range recs {
		k := trs[i].s.k
		if _, err := db.ExecContext(ctx, `INSERT OR IGNORE INTO ins_records VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			r.EventID, k.Account, k.Region, k.Category, k.Source, k.Name, r.EventTime.Unix(), string(r.Raw)); err != nil {
			return fmt.Errorf("keep insights record: %w", err)
		}
	}
	return nil
}

// InsightsEvents returns the Insights records made for account and region
// on events of category, newest first, with eventTime in [start, end]
// (zero: open), matching one dimension when dim is set (EventId,
// EventName or EventSource), skipping offset and at most limit; more
// reports whether others follow (ListInsightsData).
func (d *Detector) InsightsEvents(ctx context.Context, account, region, category, dim, value string, start, end time.Time,
	offset, limit int) (raws [][]byte, more bool, err error) {
	q := `SELECT raw FROM ins_records WHERE account = ? AND region = ? AND category = ?`
	args := []any{account, region, category}
	switch dim {
	case "EventId":
		q += ` AND event_id = ?`
	case "EventName":
		q += ` AND name = ?`
	case "EventSource":
		q += ` AND source = ?`
	}
	if dim != "" {
		args = append(args, value)
	}
	if !start.IsZero() {
		q, args = q+` AND t >= ?`, append(args, start.Unix())
	}
	if !end.IsZero() {
		q, args = q+` AND t <= ?`, append(args, end.Unix())
	}
	q += ` ORDER BY t DESC, event_id DESC LIMIT ? OFFSET ?`
	args = append(args, limit+1, offset)
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("read insights records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, false, err
		}
		raws = append(raws, []byte(raw))
	}
	if len(raws) > limit {
		raws, more = raws[:limit], true
	}
	return raws, more, rows.Err()
}
