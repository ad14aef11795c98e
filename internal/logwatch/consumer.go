package logwatch

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/poll"
)

// A consumer step reads at least readBatch committed events and, when it
// is further behind, up to maxReadBatch: the step's fixed costs (its
// commits, which queue behind ingest's) are then shared by more events.
// (Variables so that tests can make them small.)
var (
	readBatch    int64 = 2000
	maxReadBatch int64 = 20000
)

// cursorEvery is how long the consumer may go without saving its durable
// cursor while it works through a backlog; it saves it whenever it has
// caught up. A restart replays from the saved cursor, which repeats
// nothing: the indexed-through mark skips rows already written, the sink
// drops points by Seq and the publisher messages by dedup id.
const cursorEvery = time.Second

// consumer is the component's stream consumer: it reads the committed
// stream after its durable cursor, puts each trail's selected events into
// the log group the trail names, runs the groups' filters over them
// (Filters.evaluate, Filters.deliver) and applies the groups' retention,
// in a background loop (Watch.Start) or on demand (Watch.Sync).
type consumer struct {
	w *Watch

	syncMu sync.Mutex // serialises sync
	lazy   bool       // the sync in progress saves a caught-up cursor lazily (guarded by syncMu)
	cs     consumerState

	loop      *poll.Loop
	lastSweep time.Time // when retention last ran; zero before the loop's first step
}

// newConsumer builds w's consumer; start runs it.
func newConsumer(w *Watch) *consumer {
	c := &consumer{w: w}
	c.loop = poll.New(poll.Config{Name: "logwatch", Clock: w.clk, Every: w.cfg.Poll, Step: c.round,
		OnError: func(err error) { w.log.Error("logwatch: consume the event stream", "err", err) },
		OnStop:  c.flushCursor})
	return c
}

// start runs the loop: the consumer and the retention sweep.
func (c *consumer) start() {
	c.lastSweep = time.Time{}
	c.loop.Start()
}

// consumerState is the consumer's position, kept in memory between steps
// (guarded by consumer.syncMu). It is read from the database on the first
// step and again after any failed step.
type consumerState struct {
	loaded  bool
	cur     int64     // every event through cur is indexed, pushed and published
	indexed int64     // the indexed-through mark as committed
	saved   int64     // the durable cursor
	savedAt time.Time // when the durable cursor was saved
}

// Accepted event times, as PutLogEvents takes them: at most 14 days old
// (or the group's retention, if shorter) and at most 2 hours ahead.
const (
	maxAge    = 14 * 24 * time.Hour
	maxAhead  = 2 * time.Hour
	dayMillis = 24 * 60 * 60 * 1000
)

// row is one lw_events row to insert.
type row struct {
	k, gid       int64
	stream       string
	ts, ingest   int64
	seq          int64 // 0 for PutLogEvents messages
	msg          string
	size         int
	hasSeq, isMs bool
}

// Sync consumes the committed stream up to its end: every trail's
// selected events go into the log group it names, and the groups'
// filters run over them. The background loop calls it; tests call it
// directly. Calls are serialised.
func (w *Watch) Sync(ctx context.Context) error { return w.consumer.sync(ctx, false) }

// sync is Sync; a lazy one (the loop's) saves a caught-up consumer's
// cursor only cursorEvery after the last save. A stream of small commits
// (a capture gateway's, one per call) would otherwise cost a cursor write
// per commit; a tick once idle, or the flush on stop, saves the rest, and
// a replay after a crash repeats nothing.
func (c *consumer) sync(ctx context.Context, lazy bool) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.lazy = lazy
	for {
		n, err := c.step(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// round is one round of the background loop: consume the stream, then
// apply retention when RetentionEvery has passed since the loop started
// or last applied it. The loop reports Sync's error.
func (c *consumer) round(ctx context.Context) error {
	if c.lastSweep.IsZero() {
		c.lastSweep = c.w.clk.Now()
	}
	err := c.sync(ctx, true)
	if now := c.w.clk.Now(); now.Sub(c.lastSweep) >= c.w.cfg.RetentionEvery {
		c.lastSweep = now
		if _, err := c.w.Sweep(ctx); err != nil && ctx.Err() == nil {
			c.w.log.Error("logwatch: apply log group retention", "err", err)
		}
	}
	return err
}

// flushCursor saves the cursor the consumer holds in memory, so that a
// clean stop replays nothing after the next start.
func (c *consumer) flushCursor() {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.saveCursor(ctx); err != nil {
		c.w.log.Error("logwatch: save the consumer's cursor", "err", err)
	}
}

// load reads the consumer's position from the database if it is not in
// memory.
func (c *consumer) load(ctx context.Context) error {
	if c.cs.loaded {
		return nil
	}
	cur, err := c.w.st.Cursor(ctx, cursorName)
	if err != nil {
		return err
	}
	indexed, err := c.indexedThrough(ctx)
	if err != nil {
		return err
	}
	c.cs = consumerState{loaded: true, cur: cur, indexed: indexed, saved: cur, savedAt: c.w.clk.Now()}
	return nil
}

// saveCaughtUp saves the cursor of a consumer that has caught up: at
// once, or in a lazy sync only cursorEvery after the last save.
func (c *consumer) saveCaughtUp(ctx context.Context) error {
	if c.lazy && c.w.clk.Now().Sub(c.cs.savedAt) < cursorEvery {
		return nil
	}
	return c.saveCursor(ctx)
}

// saveCursor makes the in-memory cursor durable if it is ahead of the
// saved one.
func (c *consumer) saveCursor(ctx context.Context) error {
	if !c.cs.loaded || c.cs.cur <= c.cs.saved {
		return nil
	}
	if err := c.w.st.SetCursor(ctx, cursorName, c.cs.cur); err != nil {
		return err
	}
	c.cs.saved, c.cs.savedAt = c.cs.cur, c.w.clk.Now()
	return nil
}

// step consumes one batch. The order makes a replay harmless: the rows
// and the indexed-through mark commit together; then the datapoints are
// pushed (the sink drops Seqs it has) and the messages published (the
// publisher drops dedup ids it has); only then does the cursor move (in
// memory; durably when caught up or cursorEvery after the last save).
// A failed step forgets the position in memory, so the next one starts
// again from what the database holds.
func (c *consumer) step(ctx context.Context) (n int, err error) {
	defer func() {
		if err != nil {
			c.cs.loaded = false
		}
	}()
	if err := c.load(ctx); err != nil {
		return 0, err
	}
	cur := c.cs.cur
	last := c.w.st.CommittedSeq()
	if cur >= last {
		return 0, c.saveCaughtUp(ctx)
	}
	// The configuration is read after CommittedSeq: a trail wired to a
	// group later was wired after every event up to last was committed.
	snap, err := c.w.filters.current(ctx)
	if err != nil {
		return 0, err
	}
	if len(snap.trails) == 0 {
		// No trail feeds a log group: skip the stream without reading it.
		c.cs.cur = last
		return 0, c.saveCaughtUp(ctx)
	}
	evs, err := c.w.st.ReadAfter(ctx, cur, int(min(max(last-cur, readBatch), maxReadBatch)))
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	indexed := c.cs.indexed
	now := c.w.clk.Now()
	var (
		rows []row
		pts  []Point
		pubs []publication
		hits []bool
		seen []*groupState
	)
	for i := range evs {
		ev := &evs[i]
		seen = seen[:0]
		for _, r := range snap.trails {
			if containsGroup(seen, r.g) || !(r.set.Selects(r.t.Account, r.t.HomeRegion, c.w.cfg.Org, ev.Rec, ev.IngestTime) ||
				r.set.SelectsOwnStop(r.t.Account, r.t.HomeRegion, c.w.cfg.Org, ev.Rec) ||
				r.set.SelectsInsight(r.t.Account, r.t.HomeRegion, c.w.cfg.Org, ev.Rec, ev.IngestTime, r.insights)) {
				continue
			}
			seen = append(seen, r.g)
			ts := ev.Rec.EventTime
			if !acceptable(ts, now, r.g.retention) {
				continue
			}
			le := logEvent{stream: ev.Rec.AccountID + "_CloudTrail_" + ev.Rec.AWSRegion, ts: ts, seq: ev.Seq, k: 2 * ev.Seq,
				msg: ev.Rec.Raw, rec: ev.Rec}
			if ev.Seq > indexed {
				rows = append(rows, row{k: le.k, gid: r.g.id, stream: le.stream, ts: ts.UnixMilli(), ingest: ev.IngestTime.UnixMilli(),
					seq: ev.Seq, hasSeq: true, size: len(ev.Rec.Raw)})
			}
			if n := len(r.g.mfs); cap(hits) < n {
				hits = make([]bool, n)
			}
			pts, pubs = c.w.filters.evaluate(r.g, le, hits, pts, pubs)
		}
	}
	last = evs[len(evs)-1].Seq
	if last > indexed {
		if err := c.index(ctx, snap, rows, last); err != nil {
			return 0, err
		}
		c.cs.indexed = last
	}
	if err := c.w.filters.deliver(ctx, SourceStream, pts, pubs); err != nil {
		return 0, err
	}
	c.cs.cur = last
	if last >= c.w.st.CommittedSeq() {
		if err := c.saveCaughtUp(ctx); err != nil {
			return 0, err
		}
	} else if c.w.clk.Now().Sub(c.cs.savedAt) >= cursorEvery {
		if err := c.saveCursor(ctx); err != nil {
			return 0, err
		}
	}
	return len(evs), nil
}

func containsGroup(gs []*groupState, g *groupState) bool {
	for _, x := range gs {
		if x == g {
			return true
		}
	}
	return false
}

// acceptable reports whether an event at ts may enter a group with that
// retention (days; 0 = none) at now.
func acceptable(ts, now time.Time, retention int) bool {
	if ts.Before(now.Add(-maxAge)) || ts.After(now.Add(maxAhead)) {
		return false
	}
	return retention == 0 || !ts.Before(now.Add(-time.Duration(retention)*24*time.Hour))
}

func (c *consumer) indexedThrough(ctx context.Context) (int64, error) {
	var seq int64
	err := c.w.db.QueryRowContext(ctx, `SELECT seq FROM lw_state WHERE name = 'indexed'`).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read logwatch state: %w", err)
	}
	return seq, nil
}

// index commits the rows of trail events and the indexed-through mark in
// one transaction. Rows of groups deleted meanwhile are dropped: when no
// configuration changed since snap was built, its groups are the live
// ones; otherwise the live groups are read in the transaction.
func (c *consumer) index(ctx context.Context, snap *snapshot, rows []row, through int64) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return inTx(ctx, c.w.db, func(conn *sql.Conn) error {
		if len(rows) > 0 {
			live := func(gid int64) bool { return snap.groups[gid] != nil }
			if c.w.gen != snap.gen {
				ids := map[int64]bool{}
				r, err := conn.QueryContext(ctx, `SELECT id FROM lw_groups`)
				if err != nil {
					return err
				}
				for r.Next() {
					var id int64
					if err := r.Scan(&id); err != nil {
						r.Close()
						return err
					}
					ids[id] = true
				}
				r.Close()
				live = func(gid int64) bool { return ids[gid] }
			}
			kept := rows[:0]
			for _, x := range rows {
				if live(x.gid) {
					kept = append(kept, x)
				}
			}
			if err := insertRows(ctx, conn, kept); err != nil {
				return err
			}
		}
		if _, err := conn.ExecContext(ctx, `DELETE FROM lw_state WHERE name = 'indexed'`); err != nil {
			return err
		}
		_, err := conn.ExecContext(ctx, `INSERT INTO lw_state VALUES ('indexed', ?)`, through)
		return err
	})
}

// inTx runs fn on one connection of db inside a transaction, committed
// when fn returns nil. Appenders made on that connection write in the
// transaction.
func inTx(ctx context.Context, db *sql.DB, fn func(conn *sql.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("index log events: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("index log events: %w", err)
	}
	if err := fn(conn); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("index log events: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("index log events: %w", err)
	}
	return nil
}

// insertRows appends event rows and updates their streams' statistics,
// creating streams that do not exist yet, on conn (in its transaction).
func insertRows(ctx context.Context, conn *sql.Conn, rows []row) error {
	if len(rows) > 0 {
		err := conn.Raw(func(dc any) error {
			dconn, ok := dc.(driver.Conn)
			if !ok {
				return fmt.Errorf("unexpected driver connection %T", dc)
			}
			app, err := duckdb.NewAppenderFromConn(dconn, "", "lw_events")
			if err != nil {
				return err
			}
			for _, r := range rows {
				var seq, msg any
				if r.hasSeq {
					seq = r.seq
				} else {
					msg = r.msg
				}
				if err := app.AppendRow(r.k, r.gid, r.stream, r.ts, r.ingest, seq, msg, int32(r.size)); err != nil {
					app.Close()
					return err
				}
			}
			return app.Close() // flushes
		})
		if err != nil {
			return fmt.Errorf("append log events: %w", err)
		}
	}
	type key struct {
		gid    int64
		stream string
	}
	type stat struct{ first, last, ingest, bytes int64 }
	stats := map[key]*stat{}
	var order []key
	for _, r := range rows {
		k := key{r.gid, r.stream}
		s := stats[k]
		if s == nil {
			s = &stat{first: r.ts, last: r.ts, ingest: r.ingest}
			stats[k] = s
			order = append(order, k)
		}
		s.first, s.last, s.ingest = min(s.first, r.ts), max(s.last, r.ts), max(s.ingest, r.ingest)
		s.bytes += int64(r.size)
	}
	for _, k := range order {
		s := stats[k]
		res, err := conn.ExecContext(ctx, `UPDATE lw_streams SET first_ts = least(coalesce(first_ts, ?), ?),
			last_ts = greatest(coalesce(last_ts, ?), ?), last_ingest = greatest(coalesce(last_ingest, ?), ?), bytes = bytes + ?
			WHERE gid = ? AND name = ?`, s.first, s.first, s.last, s.last, s.ingest, s.ingest, s.bytes, k.gid, k.stream)
		if err != nil {
			return fmt.Errorf("update log stream: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := conn.ExecContext(ctx, `INSERT INTO lw_streams VALUES (?, ?, ?, ?, ?, ?, ?)`,
				k.gid, k.stream, s.ingest, s.first, s.last, s.ingest, s.bytes); err != nil {
				return fmt.Errorf("create log stream: %w", err)
			}
		}
	}
	return nil
}
