package store

import (
	"bytes"
	"container/list"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// ReadAfter returns up to limit events with sequence numbers greater than
// seq, in sequence order. Consumers (trail delivery, detectors) read the
// committed stream with it; a consumer behind the columnar tier's line
// reads the compacted events back from their files.
func (s *Store) ReadAfter(ctx context.Context, seq int64, limit int) ([]Event, error) {
	s.cold.mu.RLock()
	defer s.cold.mu.RUnlock()
	var evs []Event
	// Sequence numbers are dense, so the next limit events of the
	// columnar tier lie in (seq, seq+limit] unless retention removed
	// some: each query is bounded to such a window (a file's rows are not
	// in sequence order, so an unbounded ORDER BY seq LIMIT would sort
	// every later file), and windows are read until one holds events.
	for len(evs) == 0 && seq < s.cold.through {
		hi := min(seq+int64(limit), s.cold.through)
		lo := seq
		files := s.cold.filesWhere(func(f ColdFile) bool { return f.MaxSeq > lo && f.MinSeq <= hi })
		var err error
		if evs, err = s.cold.events(ctx, files, `seq > ? AND seq <= ?`, []any{lo, hi}, `ORDER BY seq`); err != nil {
			return nil, fmt.Errorf("read after %d: %w", seq, err)
		}
		seq = hi
	}
	if len(evs) >= limit || seq < s.cold.through {
		return evs, nil
	}
	hot, err := s.queryEvents(ctx, `SELECT seq, ingest_time, block, idx FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, seq, limit-len(evs))
	if err != nil {
		return nil, fmt.Errorf("read after %d: %w", seq, err)
	}
	return append(evs, hot...), nil
}

// ReadSeqs returns the stored events with these sequence numbers, in
// sequence order; numbers with no event (never stored, or removed by
// retention) are left out. Consumers that keep references to events
// (the log groups of internal/logwatch) read them back with it.
func (s *Store) ReadSeqs(ctx context.Context, seqs []int64) ([]Event, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	s.cold.mu.RLock()
	defer s.cold.mu.RUnlock()
	var coldArgs, hotArgs []any
	for _, v := range seqs {
		if v <= s.cold.through {
			coldArgs = append(coldArgs, v)
		} else {
			hotArgs = append(hotArgs, v)
		}
	}
	var evs []Event
	if len(coldArgs) > 0 {
		files := s.cold.filesWhere(func(f ColdFile) bool {
			for _, a := range coldArgs {
				if v := a.(int64); v >= f.MinSeq && v <= f.MaxSeq {
					return true
				}
			}
			return false
		})
		var err error
		if evs, err = s.cold.events(ctx, files, `seq IN (`+placeholders(len(coldArgs))+`)`, coldArgs, `ORDER BY seq`); err != nil {
			return nil, fmt.Errorf("read %d events by sequence number: %w", len(seqs), err)
		}
	}
	if len(hotArgs) > 0 {
		hot, err := s.queryEvents(ctx, `SELECT seq, ingest_time, block, idx FROM events WHERE seq IN (`+placeholders(len(hotArgs))+`) ORDER BY seq`, hotArgs...)
		if err != nil {
			return nil, fmt.Errorf("read %d events by sequence number: %w", len(seqs), err)
		}
		evs = append(evs, hot...)
	}
	return evs, nil
}

// LastSeq returns the sequence number of the newest committed event (0 when
// the store is empty). It takes the writer lock, so it waits for an append
// in progress: after reading the clock and then LastSeq, every event
// received before the clock reading has a sequence number at most LastSeq
// (delivery closes its windows on that).
func (s *Store) LastSeq() int64 {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.nextSeq - 1
}

// CommittedSeq is LastSeq without waiting for an append in progress (which
// holds the writer lock through its fsync and COMMIT): the newest event
// committed so far, without LastSeq's guarantee about the clock. The
// log-group consumer asks it at every step.
func (s *Store) CommittedSeq() int64 {
	return s.lastSeq.Load()
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
	return &event.Record{Raw: raw, EventID: event.IDOf(raw)}
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
		recs, err := s.readBlock(b, l)
		if err != nil {
			return nil, err
		}
		s.cache.put(b, recs)
		out[b] = recs
	}
	return out, nil
}

// readBlock reads and decompresses one block's frame into its records.
func (s *Store) readBlock(b int64, l loc) ([][]byte, error) {
	frame, err := s.segs.read(l)
	if err != nil {
		return nil, err
	}
	plain, err := s.dec.DecodeAll(frame, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress block %d (segment %d at %d): %w", b, l.seg, l.off, err)
	}
	return bytes.Split(plain, []byte{'\n'}), nil
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
	s.cold.mu.RLock()
	defer s.cold.mu.RUnlock()
	var seq sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(seq) FROM events WHERE ingest_time < ?`, t.UTC()).Scan(&seq); err != nil {
		return 0, fmt.Errorf("find sequence before %s: %w", t.UTC().Format(time.RFC3339Nano), err)
	}
	if seq.Valid {
		return seq.Int64, nil
	}
	// Every hot event was ingested at or after t: the answer is in the
	// columnar tier, if anywhere.
	var best int64
	var straddle []ColdFile
	for _, f := range s.cold.files {
		switch {
		case f.MaxIngest.Before(t):
			best = max(best, f.MaxSeq)
		case f.MinIngest.Before(t):
			straddle = append(straddle, f)
		}
	}
	if len(straddle) > 0 {
		paths := make([]string, len(straddle))
		for i, f := range straddle {
			paths[i] = s.cold.path(f.Path)
		}
		var cs sql.NullInt64
		if err := s.db.QueryRowContext(ctx, `SELECT max(_seq) FROM `+ParquetSource(paths)+` WHERE _ingest_time < ?`, t.UTC()).Scan(&cs); err != nil {
			return 0, fmt.Errorf("find sequence before %s: %w", t.UTC().Format(time.RFC3339Nano), err)
		}
		best = max(best, cs.Int64)
	}
	return best, nil
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
