package logwatch

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/duckdb/duckdb-go/v2"
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

// consumerState is the consumer's position, kept in memory between steps
// (guarded by Watch.syncMu). It is read from the database on the first
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
func (w *Watch) Sync(ctx context.Context) error { return w.sync(ctx, false) }

// sync is Sync; a lazy one (the loop's) saves a caught-up consumer's
// cursor only cursorEvery after the last save. A stream of small commits
// (a capture gateway's, one per call) would otherwise cost a cursor write
// per commit; a tick once idle, or the flush on stop, saves the rest, and
// a replay after a crash repeats nothing.
func (w *Watch) sync(ctx context.Context, lazy bool) error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	w.lazy = lazy
	for {
		n, err := w.step(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// load reads the consumer's position from the database if it is not in
// memory.
func (w *Watch) load(ctx context.Context) error {
	if w.cs.loaded {
		return nil
	}
	cur, err := w.st.Cursor(ctx, cursorName)
	if err != nil {
		return err
	}
	indexed, err := w.indexedThrough(ctx)
	if err != nil {
		return err
	}
	w.cs = consumerState{loaded: true, cur: cur, indexed: indexed, saved: cur, savedAt: w.clk.Now()}
	return nil
}

// saveCaughtUp saves the cursor of a consumer that has caught up: at
// once, or in a lazy sync only cursorEvery after the last save.
func (w *Watch) saveCaughtUp(ctx context.Context) error {
	if w.lazy && w.clk.Now().Sub(w.cs.savedAt) < cursorEvery {
		return nil
	}
	return w.saveCursor(ctx)
}

// saveCursor makes the in-memory cursor durable if it is ahead of the
// saved one.
func (w *Watch) saveCursor(ctx context.Context) error {
	if !w.cs.loaded || w.cs.cur <= w.cs.saved {
		return nil
	}
	if err := w.st.SetCursor(ctx, cursorName, w.cs.cur); err != nil {
		return err
	}
	w.cs.saved, w.cs.savedAt = w.cs.cur, w.clk.Now()
	return nil
}

// step consumes one batch. The order makes a replay harmless: the rows
// and the indexed-through mark commit together; then the datapoints are
// pushed (the sink drops Seqs it has) and the messages published (the
// publisher drops dedup ids it has); only then does the cursor move (in
// memory; durably when caught up or cursorEvery after the last save).
// A failed step forgets the position in memory, so the next one starts
// again from what the database holds.
func (w *Watch) step(ctx context.Context) (n int, err error) {
	defer func() {
		if err != nil {
			w.cs.loaded = false
		}
	}()
	if err := w.load(ctx); err != nil {
		return 0, err
	}
	cur := w.cs.cur
	last := w.st.CommittedSeq()
	if cur >= last {
		return 0, w.saveCaughtUp(ctx)
	}
	// The configuration is read after CommittedSeq: a trail wired to a
	// group later was wired after every event up to last was committed.
	snap, err := w.current(ctx)
	if err != nil {
		return 0, err
	}
	if len(snap.trails) == 0 {
		// No trail feeds a log group: skip the stream without reading it.
		w.cs.cur = last
		return 0, w.saveCaughtUp(ctx)
	}
	evs, err := w.st.ReadAfter(ctx, cur, int(min(max(last-cur, readBatch), maxReadBatch)))
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	indexed := w.cs.indexed
	now := w.clk.Now()
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
			if containsGroup(seen, r.g) || !(r.set.Selects(r.t.Account, r.t.HomeRegion, w.cfg.Org, ev.Rec, ev.IngestTime) ||
				r.set.SelectsOwnStop(r.t.Account, r.t.HomeRegion, w.cfg.Org, ev.Rec) ||
				r.set.SelectsInsight(r.t.Account, r.t.HomeRegion, w.cfg.Org, ev.Rec, ev.IngestTime, r.insights)) {
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
			pts, pubs = w.evaluate(r.g, le, hits, pts, pubs)
		}
	}
	last = evs[len(evs)-1].Seq
	if last > indexed {
		if err := w.index(ctx, snap, rows, last); err != nil {
			return 0, err
		}
		w.cs.indexed = last
	}
	if err := w.deliver(ctx, SourceStream, pts, pubs); err != nil {
		return 0, err
	}
	w.cs.cur = last
	if last >= w.st.CommittedSeq() {
		if err := w.saveCaughtUp(ctx); err != nil {
			return 0, err
		}
	} else if w.clk.Now().Sub(w.cs.savedAt) >= cursorEvery {
		if err := w.saveCursor(ctx); err != nil {
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

func (w *Watch) indexedThrough(ctx context.Context) (int64, error) {
	var seq int64
	err := w.db.QueryRowContext(ctx, `SELECT seq FROM lw_state WHERE name = 'indexed'`).Scan(&seq)
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
func (w *Watch) index(ctx context.Context, snap *snapshot, rows []row, through int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inTx(ctx, func(conn *sql.Conn) error {
		if len(rows) > 0 {
			live := func(gid int64) bool { return snap.groups[gid] != nil }
			if w.gen != snap.gen {
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

// inTx runs fn on one connection inside a transaction, committed when fn
// returns nil. Appenders made on that connection write in the
// transaction.
func (w *Watch) inTx(ctx context.Context, fn func(conn *sql.Conn) error) error {
	conn, err := w.db.Conn(ctx)
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
