package logwatch

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// PutLogEvents limits (AWS's).
const (
	MaxBatchEvents   = 10000
	MaxBatchBytes    = 1048576
	eventOverhead    = 26
	maxBatchSpanMsec = 24 * 60 * 60 * 1000
)

// InputEvent is one PutLogEvents event.
type InputEvent struct {
	Timestamp int64 // ms
	Message   string
}

// Rejected tells which events PutLogEvents refused, by index (-1 = none):
// the first too-new event and every later one, the last too-old or
// expired event and every earlier one.
type Rejected struct {
	TooNewStart, TooOldEnd, ExpiredEnd int
}

// PutLogEvents appends messages to a stream. They run through the
// group's metric filters (datapoints pushed with source SourceMessages)
// and subscription filters once committed.
func (w *Watch) PutLogEvents(ctx context.Context, account, region, group, stream string, evs []InputEvent) (Rejected, error) {
	rej := Rejected{-1, -1, -1}
	if len(evs) == 0 {
		return rej, validation("logEvents", "[]", "Member must have length greater than or equal to 1")
	}
	if len(evs) > MaxBatchEvents {
		return rej, validation("logEvents", fmt.Sprintf("[%d events]", len(evs)), "Member must have length less than or equal to 10000")
	}
	size := 0
	for i, e := range evs {
		if e.Message == "" {
			return rej, validation(fmt.Sprintf("logEvents.%d.member.message", i+1), "", "Member must have length greater than or equal to 1")
		}
		if !utf8.ValidString(e.Message) {
			return rej, errf(CodeInvalid, "Log event %d is not valid UTF-8.", i+1)
		}
		size += len(e.Message) + eventOverhead
		if i > 0 && e.Timestamp < evs[i-1].Timestamp {
			return rej, errf(CodeInvalid, "Log events in a single PutLogEvents request must be in chronological order.")
		}
	}
	if size > MaxBatchBytes {
		return rej, errf(CodeInvalid, "Upload too large: %d bytes exceeds limit of %d", size, MaxBatchBytes)
	}
	if evs[len(evs)-1].Timestamp-evs[0].Timestamp > maxBatchSpanMsec {
		return rej, errf(CodeInvalid, "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	snap, err := w.filters.current(ctx)
	if err != nil {
		return rej, err
	}
	now := w.clk.Now()
	w.mu.Lock()
	gid, err := w.groupID(ctx, account, region, group)
	if err != nil {
		w.mu.Unlock()
		return rej, err
	}
	var n int
	if err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM lw_streams WHERE gid = ? AND name = ?`, gid, stream).Scan(&n); err != nil {
		w.mu.Unlock()
		return rej, fmt.Errorf("put log events: %w", err)
	}
	if n == 0 {
		w.mu.Unlock()
		return rej, errStreamMissing
	}
	var retention sql.NullInt64
	if err := w.db.QueryRowContext(ctx, `SELECT retention FROM lw_groups WHERE id = ?`, gid).Scan(&retention); err != nil {
		w.mu.Unlock()
		return rej, fmt.Errorf("put log events: %w", err)
	}
	tooOld, tooNew := now.Add(-maxAge).UnixMilli(), now.Add(maxAhead).UnixMilli()
	expired := int64(math.MinInt64)
	if retention.Valid {
		expired = now.Add(-time.Duration(retention.Int64) * 24 * time.Hour).UnixMilli()
	}
	var keep []int
	for i, e := range evs {
		switch {
		case e.Timestamp > tooNew:
			if rej.TooNewStart < 0 {
				rej.TooNewStart = i
			}
		case e.Timestamp < expired && expired > tooOld:
			rej.ExpiredEnd = i
		case e.Timestamp < tooOld:
			rej.TooOldEnd = i
		default:
			keep = append(keep, i)
		}
	}
	rows := make([]row, 0, len(keep))
	if len(keep) > 0 {
		ids, err := w.newIDs(ctx, len(keep))
		if err != nil {
			w.mu.Unlock()
			return rej, err
		}
		for j, i := range keep {
			rows = append(rows, row{k: 2*ids[j] + 1, gid: gid, stream: stream, ts: evs[i].Timestamp, ingest: now.UnixMilli(),
				msg: evs[i].Message, size: len(evs[i].Message), seq: ids[j]})
		}
		if err := inTx(ctx, w.db, func(conn *sql.Conn) error { return insertRows(ctx, conn, rows) }); err != nil {
			w.mu.Unlock()
			return rej, err
		}
	}
	w.mu.Unlock()
	g := snap.groups[gid]
	if g == nil || len(rows) == 0 {
		return rej, nil
	}
	var (
		pts  []Point
		pubs []publication
		hits = make([]bool, len(g.mfs))
	)
	for _, r := range rows {
		pts, pubs = w.filters.evaluate(g, logEvent{stream: stream, ts: time.UnixMilli(r.ts).UTC(), seq: r.seq, k: r.k, msg: []byte(r.msg)}, hits, pts, pubs)
	}
	return rej, w.filters.deliver(ctx, SourceMessages, pts, pubs)
}

func (w *Watch) newIDs(ctx context.Context, n int) ([]int64, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT nextval('lw_ids') FROM range(?)`, n)
	if err != nil {
		return nil, fmt.Errorf("allocate event ids: %w", err)
	}
	defer rows.Close()
	ids := make([]int64, 0, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("allocate event ids: %w", err)
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, rows.Err()
}

// OutEvent is a log event as GetLogEvents and FilterLogEvents return it.
type OutEvent struct {
	Stream            string
	Timestamp, Ingest int64
	Message           string
	ID                string
}

// pos is a position in a group's event order (timestamp, row key).
type pos struct{ ts, k int64 }

// GetQuery selects events of one stream for GetLogEvents. Token is a
// nextForwardToken or nextBackwardToken from an earlier answer.
type GetQuery struct {
	Start, End *int64
	Limit      int
	FromHead   bool
	Token      string
}

// GetResult is GetLogEvents' answer.
type GetResult struct {
	Events            []OutEvent
	Forward, Backward string
}

var errToken = &Error{CodeInvalid, "The specified nextToken is invalid."}

// GetLogEvents reads a stream's events in timestamp order.
func (w *Watch) GetLogEvents(ctx context.Context, account, region, group, stream string, q GetQuery) (GetResult, error) {
	forward := q.FromHead
	from := pos{-1, -1}
	if q.Token != "" {
		dir, digits, ok := strings.Cut(q.Token, "/")
		ts, k, okID := parseEventID(digits)
		if !ok || !okID || (dir != "f" && dir != "b") {
			return GetResult{}, errToken
		}
		forward, from = dir == "f", pos{ts, k}
	} else if !forward {
		from = pos{math.MaxInt64, math.MaxInt64}
	}
	if q.Limit <= 0 || q.Limit > 10000 {
		q.Limit = 10000
	}
	gid, cutoff, err := w.groupCutoff(ctx, account, region, group)
	if err != nil {
		return GetResult{}, err
	}
	var n int
	if err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM lw_streams WHERE gid = ? AND name = ?`, gid, stream).Scan(&n); err != nil {
		return GetResult{}, fmt.Errorf("get log events: %w", err)
	}
	if n == 0 {
		return GetResult{}, errStreamMissing
	}
	lo, hi := cutoff, int64(math.MaxInt64)
	if q.Start != nil {
		lo = max(lo, *q.Start)
	}
	if q.End != nil {
		hi = *q.End
	}
	cond, order := `(ts > ? OR (ts = ? AND k > ?))`, `ts, k`
	if !forward {
		cond, order = `(ts < ? OR (ts = ? AND k < ?))`, `ts DESC, k DESC`
	}
	evs, err := w.readRows(ctx, `WHERE gid = ? AND stream = ? AND ts >= ? AND ts < ? AND `+cond+` ORDER BY `+order+` LIMIT ?`,
		gid, stream, lo, hi, from.ts, from.ts, from.k, q.Limit)
	if err != nil {
		return GetResult{}, err
	}
	if !forward {
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
	}
	res := GetResult{Events: evs}
	switch {
	case len(evs) > 0:
		res.Forward, res.Backward = "f/"+evs[len(evs)-1].ID, "b/"+evs[0].ID
	case q.Token != "":
		_, digits, _ := strings.Cut(q.Token, "/")
		res.Forward, res.Backward = "f/"+digits, "b/"+digits
	default:
		zero := eventID(0, 0)
		res.Forward, res.Backward = "f/"+zero, "b/"+zero
	}
	return res, nil
}

// groupCutoff returns the group's id and the oldest timestamp its
// retention still shows (math.MinInt64 without retention).
func (w *Watch) groupCutoff(ctx context.Context, account, region, group string) (int64, int64, error) {
	gid, err := w.groupID(ctx, account, region, group)
	if err != nil {
		return 0, 0, err
	}
	var ret sql.NullInt64
	if err := w.db.QueryRowContext(ctx, `SELECT retention FROM lw_groups WHERE id = ?`, gid).Scan(&ret); err != nil {
		return 0, 0, fmt.Errorf("read log group: %w", err)
	}
	cutoff := int64(math.MinInt64)
	if ret.Valid {
		cutoff = w.clk.Now().UnixMilli() - ret.Int64*dayMillis
	}
	return gid, cutoff, nil
}

// readRows reads event rows and their messages: a trail event's message
// is its stored record, read back from the store by sequence number (an
// event the store no longer holds is left out).
func (w *Watch) readRows(ctx context.Context, where string, args ...any) ([]OutEvent, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT stream, ts, ingest, k, seq, msg FROM lw_events `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read log events: %w", err)
	}
	type r struct {
		ev  OutEvent
		seq sql.NullInt64
	}
	var rs []r
	for rows.Next() {
		var (
			x   r
			k   int64
			msg sql.NullString
		)
		if err := rows.Scan(&x.ev.Stream, &x.ev.Timestamp, &x.ev.Ingest, &k, &x.seq, &msg); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read log events: %w", err)
		}
		x.ev.Message, x.ev.ID = msg.String, eventID(x.ev.Timestamp, k)
		rs = append(rs, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read log events: %w", err)
	}
	var seqs []int64
	for _, x := range rs {
		if x.seq.Valid {
			seqs = append(seqs, x.seq.Int64)
		}
	}
	recs := map[int64]string{}
	for i := 0; i < len(seqs); i += 1000 {
		stored, err := w.st.ReadSeqs(ctx, seqs[i:min(i+1000, len(seqs))])
		if err != nil {
			return nil, err
		}
		for _, e := range stored {
			recs[e.Seq] = string(e.Rec.Raw)
		}
	}
	out := make([]OutEvent, 0, len(rs))
	for _, x := range rs {
		if x.seq.Valid {
			m, ok := recs[x.seq.Int64]
			if !ok {
				continue
			}
			x.ev.Message = m
		}
		out = append(out, x.ev)
	}
	return out, nil
}

// FilterQuery selects events of a group for FilterLogEvents. After is the
// ID of the last event of the previous page ("" for the first page).
type FilterQuery struct {
	Pattern      string
	Start, End   *int64
	Streams      []string
	StreamPrefix string
	Limit        int
	After        string
}

// FilterResult is FilterLogEvents' answer: Next is the ID to resume after,
// "" when the search is complete.
type FilterResult struct {
	Events   []OutEvent
	Searched []string
	Next     string
}

// maxScan bounds the rows one FilterLogEvents call reads; a search that
// stops there returns what it found with a Next to go on from.
const maxScan = 100000

// FilterLogEvents searches a group's events with a filter pattern, in
// timestamp order across its streams.
func (w *Watch) FilterLogEvents(ctx context.Context, account, region, group string, q FilterQuery) (FilterResult, error) {
	pat, err := compile(q.Pattern)
	if err != nil {
		return FilterResult{}, err
	}
	from := pos{math.MinInt64, math.MinInt64}
	if q.After != "" {
		ts, k, ok := parseEventID(q.After)
		if !ok {
			return FilterResult{}, errToken
		}
		from = pos{ts, k}
	}
	if q.Limit <= 0 || q.Limit > 10000 {
		q.Limit = 10000
	}
	gid, cutoff, err := w.groupCutoff(ctx, account, region, group)
	if err != nil {
		return FilterResult{}, err
	}
	streams, err := w.LogStreams(ctx, account, region, group, StreamQuery{Prefix: q.StreamPrefix})
	if err != nil {
		return FilterResult{}, err
	}
	var names []string
	for _, s := range streams {
		if len(q.Streams) == 0 || containsString(q.Streams, s.Name) {
			names = append(names, s.Name)
		}
	}
	res := FilterResult{Searched: names, Events: []OutEvent{}}
	if len(names) == 0 {
		return res, nil
	}
	lo, hi := cutoff, int64(math.MaxInt64)
	if q.Start != nil {
		lo = max(lo, *q.Start)
	}
	if q.End != nil {
		hi = *q.End
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
	scanned := 0
	for {
		args := []any{gid, lo, hi, from.ts, from.ts, from.k}
		for _, n := range names {
			args = append(args, n)
		}
		const page = 1000
		args = append(args, page)
		evs, err := w.readRowsKeyed(ctx, `WHERE gid = ? AND ts >= ? AND ts < ? AND (ts > ? OR (ts = ? AND k > ?))
			AND stream IN (`+ph+`) ORDER BY ts, k LIMIT ?`, args...)
		if err != nil {
			return FilterResult{}, err
		}
		for _, e := range evs.events {
			if pat.Match([]byte(e.Message)) {
				res.Events = append(res.Events, e)
				if len(res.Events) == q.Limit {
					res.Next = e.ID
					return res, nil
				}
			}
		}
		scanned += evs.rows
		if evs.rows < page {
			return res, nil
		}
		from = evs.last
		if scanned >= maxScan {
			res.Next = eventID(from.ts, from.k)
			return res, nil
		}
	}
}

type keyedRows struct {
	events []OutEvent
	rows   int
	last   pos
}

// readRowsKeyed is readRows that also reports how many rows it read and
// the position of the last (messages of events gone from the store are
// skipped, so the two can differ).
func (w *Watch) readRowsKeyed(ctx context.Context, where string, args ...any) (keyedRows, error) {
	var kr keyedRows
	rows, err := w.db.QueryContext(ctx, `SELECT ts, k FROM lw_events `+where, args...)
	if err != nil {
		return kr, fmt.Errorf("read log events: %w", err)
	}
	for rows.Next() {
		if err := rows.Scan(&kr.last.ts, &kr.last.k); err != nil {
			rows.Close()
			return kr, fmt.Errorf("read log events: %w", err)
		}
		kr.rows++
	}
	rows.Close()
	if kr.rows == 0 {
		return kr, nil
	}
	kr.events, err = w.readRows(ctx, where, args...)
	return kr, err
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
