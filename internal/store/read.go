package store

import (
	"bytes"
	"container/list"
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/event"
)

// Lookup returns the events q selects, newest first (eventTime, then
// sequence number, descending), at most q.Limit of them.
//
// A selective attribute (any but ReadOnly and EventId) is searched in
// slices of time, newest first: a day, then four times wider each round,
// until q.Limit events are found or q.Start is reached. DuckDB skips row
// groups by their event_time range, so a recent match is found without
// reading the whole history, and an old or absent one costs one scan in
// all.
func (s *Store) Lookup(ctx context.Context, q LookupQuery) ([]Event, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("lookup: limit must be positive")
	}
	var (
		where     []string
		args      []any
		eids      []string
		selective bool
		selAttr   Attr // the first attribute the day index knows
	)
	// Attribute predicates first: DuckDB evaluates pushed-down filters in
	// the order written, and these are the most selective.
	for _, a := range q.Attrs {
		if _, ok := dayAttr[a.Key]; ok && selAttr.Key == "" {
			selAttr = a
		}
		switch a.Key {
		case "EventId":
			where = append(where, "eid_hash = ?")
			args = append(args, int64(hashID(a.Value)))
			eids = append(eids, a.Value)
		case "EventName":
			where, args, selective = append(where, "event_name = ?"), append(args, a.Value), true
		case "EventSource":
			where, args, selective = append(where, "event_source = ?"), append(args, a.Value), true
		case "Username":
			where, args, selective = append(where, "username = ?"), append(args, a.Value), true
		case "AccessKeyId":
			where, args, selective = append(where, "access_key_id = ?"), append(args, a.Value), true
		case "ReadOnly":
			where = append(where, "coalesce(read_only, false) = ?")
			args = append(args, a.Value == "true")
		case "ResourceType":
			where, args, selective = append(where, "list_contains(resource_types, ?)"), append(args, a.Value), true
		case "ResourceName":
			where, args, selective = append(where, "list_contains(resource_names, ?)"), append(args, a.Value), true
		default:
			return nil, fmt.Errorf("lookup: unknown attribute %q", a.Key)
		}
	}
	if len(q.Accounts) > 0 {
		where = append(where, "account IN ("+placeholders(len(q.Accounts))+")")
		for _, a := range q.Accounts {
			args = append(args, a)
		}
	}
	if q.Region != "" {
		where = append(where, "region = ?")
		args = append(args, q.Region)
	}
	if len(q.Categories) > 0 {
		where = append(where, "category IN ("+placeholders(len(q.Categories))+")")
		for _, c := range q.Categories {
			args = append(args, c)
		}
	}
	if q.After != nil {
		t := q.After.Time.UTC()
		where = append(where, "(event_time < ? OR (event_time = ? AND seq < ?))")
		args = append(args, t, t, q.After.Seq)
	}

	start, end := q.Start, q.End
	if q.After != nil && (end.IsZero() || q.After.Time.Before(end)) {
		end = q.After.Time
	}
	var evs []Event
	if !selective {
		r, err := s.lookupSlice(ctx, where, args, start, end, true, q.Limit)
		if err != nil {
			return nil, err
		}
		evs = r
	} else {
		// The days on which the value occurs bound the search; a value
		// never seen in the range answers at once.
		loDay, hiDay := int32(math.MinInt32), int32(math.MaxInt32)
		if !start.IsZero() {
			loDay = dayOf(start)
		}
		if !end.IsZero() {
			hiDay = dayOf(end)
		}
		days, err := s.valueDays(ctx, dayAttr[selAttr.Key], q.Accounts, selAttr.Value, loDay, hiDay)
		if err != nil {
			return nil, err
		}
		if len(days) == 0 {
			return nil, nil
		}
		if oldest := dayStart(days[len(days)-1]); start.IsZero() || oldest.After(start) {
			start = oldest
		}
		if newest := dayStart(days[0]).Add(24 * time.Hour); end.IsZero() || newest.Before(end) {
			// Nothing with the value lies past its newest day; the first
			// slice starts there (exclusive: that instant is the next day).
			end = newest.Add(-time.Nanosecond)
		}
		hi, inclusive := end, true
		const maxWidth = 100 * 365 * 24 * time.Hour // time.Duration overflows near 292 years
		for width := 24 * time.Hour; ; width = min(width, maxWidth/4) * 4 {
			lo, last := start, true
			if width < hi.Sub(start) {
				lo, last = hi.Add(-width), false
			}
			// Narrow the slice to the value's days inside it, or skip it.
			var newest, oldest int32
			found := false
			for _, d := range days {
				ds := dayStart(d)
				if !ds.Add(24*time.Hour).After(lo) || ds.After(hi) {
					continue
				}
				if !found {
					newest = d
				}
				oldest, found = d, true
			}
			if found {
				qlo, qhi, qinc := lo, hi, inclusive
				if e := dayStart(newest).Add(24 * time.Hour); e.Before(qhi) {
					qhi, qinc = e, false
				}
				if b := dayStart(oldest); b.After(qlo) {
					qlo = b
				}
				r, err := s.lookupSlice(ctx, where, args, qlo, qhi, qinc, q.Limit-len(evs))
				if err != nil {
					return nil, err
				}
				evs = append(evs, r...)
			}
			if len(evs) >= q.Limit || last {
				break
			}
			hi, inclusive = lo, false
		}
	}
	if len(eids) > 0 {
		// eid_hash narrows; the IDs themselves decide.
		kept := evs[:0]
		for _, e := range evs {
			ok := true
			for _, id := range eids {
				if e.Rec.EventID != id {
					ok = false
				}
			}
			if ok {
				kept = append(kept, e)
			}
		}
		evs = kept
	}
	return evs, nil
}

// dayStart is the first instant of a day number.
func dayStart(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// lookupSlice runs one lookup query over event_time in [lo, hi] (hi
// exclusive unless inclusive; a zero bound is open).
func (s *Store) lookupSlice(ctx context.Context, where []string, args []any, lo, hi time.Time, inclusive bool, limit int) ([]Event, error) {
	w := append([]string(nil), where...)
	a := append([]any(nil), args...)
	if !lo.IsZero() {
		w = append(w, "event_time >= ?")
		a = append(a, lo.UTC())
	}
	if !hi.IsZero() {
		if inclusive {
			w = append(w, "event_time <= ?")
		} else {
			w = append(w, "event_time < ?")
		}
		a = append(a, hi.UTC())
	}
	q := "SELECT seq, ingest_time, block, idx FROM events"
	if len(w) > 0 {
		q += " WHERE " + strings.Join(w, " AND ")
	}
	q += " ORDER BY event_time DESC, seq DESC LIMIT ?"
	a = append(a, limit)
	evs, err := s.queryEvents(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("lookup: %w", err)
	}
	return evs, nil
}

// ReadAfter returns up to limit events with sequence numbers greater than
// seq, in sequence order. Consumers (trail delivery, detectors) read the
// committed stream with it.
func (s *Store) ReadAfter(ctx context.Context, seq int64, limit int) ([]Event, error) {
	evs, err := s.queryEvents(ctx, `SELECT seq, ingest_time, block, idx FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("read after %d: %w", seq, err)
	}
	return evs, nil
}

// LastSeq returns the sequence number of the newest committed event (0 when
// the store is empty).
func (s *Store) LastSeq() int64 {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.nextSeq - 1
}

func (s *Store) queryEvents(ctx context.Context, q string, args ...any) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	type loc struct {
		seq    int64
		ingest time.Time
		block  int64
		idx    uint16
	}
	var locs []loc
	for rows.Next() {
		var l loc
		if err := rows.Scan(&l.seq, &l.ingest, &l.block, &l.idx); err != nil {
			rows.Close()
			return nil, err
		}
		locs = append(locs, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	need := make(map[int64]struct{})
	for _, l := range locs {
		need[l.block] = struct{}{}
	}
	blocks, err := s.blocks(ctx, need)
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(locs))
	for _, l := range locs {
		recs := blocks[l.block]
		if int(l.idx) >= len(recs) {
			return nil, fmt.Errorf("block %d has %d records, want index %d: store is damaged", l.block, len(recs), l.idx)
		}
		out = append(out, Event{Seq: l.seq, IngestTime: l.ingest.UTC(), Rec: decodeStored(recs[l.idx])})
	}
	return out, nil
}

// decodeStored rebuilds the Record of a stored event. Stored records passed
// validation when they were written; a record stored under rules that have
// since changed still comes back, with its eventID and raw bytes.
func decodeStored(raw []byte) *event.Record {
	if r, err := event.Parse(raw); err == nil {
		return r
	}
	return &event.Record{Raw: raw, EventID: fastjson.GetString(raw, "eventID")}
}

// record returns one stored record's raw bytes.
func (s *Store) record(ctx context.Context, block int64, idx uint16) ([]byte, error) {
	bs, err := s.blocks(ctx, map[int64]struct{}{block: {}})
	if err != nil {
		return nil, err
	}
	recs := bs[block]
	if int(idx) >= len(recs) {
		return nil, fmt.Errorf("block %d has no record %d: store is damaged", block, idx)
	}
	return recs[idx], nil
}

// blocks returns the decompressed records of each wanted block, from the
// cache where it can.
func (s *Store) blocks(ctx context.Context, want map[int64]struct{}) (map[int64][][]byte, error) {
	out := make(map[int64][][]byte, len(want))
	var missing []any
	for b := range want {
		if recs, ok := s.cache.get(b); ok {
			out[b] = recs
		} else {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT block, seg, off, len FROM blocks WHERE block IN (`+placeholders(len(missing))+`)`, missing...)
	if err != nil {
		return nil, fmt.Errorf("read blocks: %w", err)
	}
	locs := make(map[int64]loc, len(missing))
	for rows.Next() {
		var (
			b int64
			l loc
		)
		if err := rows.Scan(&b, &l.seg, &l.off, &l.n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read blocks: %w", err)
		}
		locs[b] = l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read blocks: %w", err)
	}
	for _, bv := range missing {
		b := bv.(int64)
		l, ok := locs[b]
		if !ok {
			return nil, fmt.Errorf("block %d is missing: store is damaged", b)
		}
		frame, err := s.segs.read(l)
		if err != nil {
			return nil, err
		}
		plain, err := s.dec.DecodeAll(frame, nil)
		if err != nil {
			return nil, fmt.Errorf("decompress block %d (segment %d at %d): %w", b, l.seg, l.off, err)
		}
		recs := bytes.Split(plain, []byte{'\n'})
		s.cache.put(b, recs)
		out[b] = recs
	}
	return out, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// blockCache is a small LRU of decompressed blocks.
type blockCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[int64]*list.Element
}

type cacheEntry struct {
	block int64
	recs  [][]byte
}

func newBlockCache(max int) *blockCache {
	return &blockCache{max: max, ll: list.New(), items: make(map[int64]*list.Element)}
}

func (c *blockCache) get(b int64) ([][]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[b]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).recs, true
	}
	return nil, false
}

func (c *blockCache) put(b int64, recs [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[b]; ok {
		c.ll.MoveToFront(e)
		e.Value.(*cacheEntry).recs = recs
		return
	}
	c.items[b] = c.ll.PushFront(&cacheEntry{block: b, recs: recs})
	for c.ll.Len() > c.max {
		e := c.ll.Back()
		c.ll.Remove(e)
		delete(c.items, e.Value.(*cacheEntry).block)
	}
}

// SeqBefore returns the sequence number of the newest event ingested
// before t (0 when there is none): a consumer that starts at t resumes
// after it. Ingest times rise with sequence numbers.
func (s *Store) SeqBefore(ctx context.Context, t time.Time) (int64, error) {
	var seq sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(seq) FROM events WHERE ingest_time < ?`, t.UTC()).Scan(&seq); err != nil {
		return 0, fmt.Errorf("find sequence before %s: %w", t.UTC().Format(time.RFC3339Nano), err)
	}
	return seq.Int64, nil
}

// Block returns the records of one stored block, in order, through the
// block cache. Readers that follow events' (block, idx) places, such as
// SQL queries, use it.
func (s *Store) Block(ctx context.Context, block int64) ([][]byte, error) {
	bs, err := s.blocks(ctx, map[int64]struct{}{block: {}})
	if err != nil {
		return nil, err
	}
	recs, ok := bs[block]
	if !ok {
		return nil, fmt.Errorf("block %d is missing: store is damaged", block)
	}
	return recs, nil
}
