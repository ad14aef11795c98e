package store

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/event"
)

// Batch is a group of records made ready for Append: compressed into
// blocks ahead of the commit, so that the work runs in the submitting
// goroutine, in parallel with other submissions, rather than in the single
// committer. A Batch is not safe for concurrent use.
type Batch struct {
	recs   []*event.Record
	blocks []prepBlock
	rows   []rowPrep // one per record, or nil until AppendBatches fills it

	imported bool
}

// MarkImported marks the batch's events as imported from existing
// CloudTrail logs rather than recorded as they happened: retention spares
// them (Options.RetentionCoversImported). It returns b.
func (b *Batch) MarkImported() *Batch {
	b.imported = true
	return b
}

// rowPrep is what the commit needs of one record beyond its fields, worked
// out ahead of the store's write lock.
type rowPrep struct {
	hash         uint64   // hashID(EventID): eid_hash
	types, names []string // resourceColumns
	days         []dayRow // the record's day index rows
}

type dayRow struct {
	key int64
	day int32
}

// prepRows fills b.rows.
func (b *Batch) prepRows() {
	if b.rows != nil {
		return
	}
	b.rows = make([]rowPrep, len(b.recs))
	for i, r := range b.recs {
		rp := &b.rows[i]
		rp.hash = hashID(r.EventID)
		rp.types, rp.names = resourceColumns(r.Resources)
		dayRows(r, rp.types, rp.names, func(key int64, day int32) {
			rp.days = append(rp.days, dayRow{key, day})
		})
	}
}

type prepBlock struct {
	data  []byte   // zstd frame of the records joined by '\n'
	raws  [][]byte // the records, for the block cache
	first int      // index in recs of the block's first record
}

// smallBatch is the size under which Prepare leaves compression to Append,
// which packs small batches together into shared blocks.
const smallBatch = 32

// Prepare compresses recs into blocks for a later Append. It is safe to call
// from many goroutines at once.
func (s *Store) Prepare(recs []*event.Record) *Batch {
	b := &Batch{recs: recs}
	if len(recs) >= smallBatch {
		b.blocks = s.compress(recs, 0)
		b.prepRows()
	}
	return b
}

// NewBatch wraps records without compressing them (Append does it).
func NewBatch(recs []*event.Record) *Batch { return &Batch{recs: recs} }

// Records returns the batch's records.
func (b *Batch) Records() []*event.Record { return b.recs }

func (s *Store) compress(recs []*event.Record, first int) []prepBlock {
	n := (len(recs) + BlockSize - 1) / BlockSize
	blocks := make([]prepBlock, n)
	var wg sync.WaitGroup
	for i := range blocks {
		lo, hi := i*BlockSize, min((i+1)*BlockSize, len(recs))
		raws := make([][]byte, 0, hi-lo)
		for _, r := range recs[lo:hi] {
			raws = append(raws, r.Raw)
		}
		blocks[i] = prepBlock{raws: raws, first: first + lo}
		if n == 1 {
			blocks[i].data = s.enc.EncodeAll(bytes.Join(raws, []byte{'\n'}), nil)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			blocks[i].data = s.enc.EncodeAll(bytes.Join(raws, []byte{'\n'}), nil)
		}()
	}
	wg.Wait()
	return blocks
}

// Outcome is what Append did with one record.
type Outcome uint8

const (
	// Stored: the record is stored now.
	Stored Outcome = iota
	// Duplicate: an event with the record's account and eventID is
	// already stored (or comes earlier in the same call) with the same
	// content (event.SameEvent); nothing is written, so retries are
	// idempotent.
	Duplicate
	// Conflict: an event with the record's account and eventID is already
	// stored (or comes earlier in the same call) with different content.
	// The first one is kept; this one is not stored.
	Conflict
)

func (o Outcome) String() string {
	switch o {
	case Stored:
		return "stored"
	case Duplicate:
		return "duplicate"
	case Conflict:
		return "conflict"
	}
	return "unknown"
}

// eventKey is an event's identity: its account and its eventID. Two
// accounts may hold the same eventID; neither suppresses the other.
type eventKey struct{ account, id string }

// Append stores recs in one transaction and returns once it is committed
// and fsynced. out[i] says whether recs[i] was stored, or was not because
// an event with its account and eventID is already stored or appears
// earlier in recs (Duplicate when the two are the same event, Conflict
// when they differ). On error nothing from recs is stored.
//
// The events' ingest time is ingestTime, or the store's clock read under
// its write lock when ingestTime is zero; either way it is raised to the
// newest stored ingest time if it is older, so ingest times never fall as
// sequence numbers rise.
func (s *Store) Append(ctx context.Context, recs []*event.Record, ingestTime time.Time) (out []Outcome, err error) {
	return s.AppendBatches(ctx, []*Batch{NewBatch(recs)}, ingestTime)
}

// AppendBatches stores every batch in one transaction, as Append does;
// out covers the batches' records in order.
func (s *Store) AppendBatches(ctx context.Context, batches []*Batch, ingestTime time.Time) (out []Outcome, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.wconn == nil {
		return nil, fmt.Errorf("append: store is closed")
	}

	// One list of every record; small batches are compressed together.
	var (
		recs     []*event.Record
		rows     []rowPrep
		imported []bool
		blocks   []prepBlock
		small    []*event.Record
		smallI   []int
	)
	for _, b := range batches {
		off := len(recs)
		recs = append(recs, b.recs...)
		b.prepRows()
		rows = append(rows, b.rows...)
		for range b.recs {
			imported = append(imported, b.imported)
		}
		if b.blocks == nil {
			for i, r := range b.recs {
				small = append(small, r)
				smallI = append(smallI, off+i)
			}
			continue
		}
		for _, pb := range b.blocks {
			pb.first += off
			blocks = append(blocks, pb)
		}
	}
	// Records of small batches go into shared blocks; blockOf maps every
	// record to its block and index.
	type place struct{ block, idx int }
	where := make([]place, len(recs))
	for bi, pb := range blocks {
		for k := range pb.raws {
			where[pb.first+k] = place{bi, k}
		}
	}
	if len(small) > 0 {
		sb := s.compress(small, 0)
		for _, pb := range sb {
			bi := len(blocks)
			for k := range pb.raws {
				where[smallI[pb.first+k]] = place{bi, k}
			}
			blocks = append(blocks, pb)
		}
	}

	out = make([]Outcome, len(recs))
	hashes := make([]uint64, len(recs))
	accepted := make([]int, 0, len(recs))
	used := make([]bool, len(blocks))
	var hits []int // records whose eventID hash is already stored
	for i := range recs {
		h := rows[i].hash
		hashes[i] = h
		if s.ids.has(h) {
			hits = append(hits, i)
		}
	}
	var stored map[eventKey][]byte
	if len(hits) > 0 {
		// One query settles every hash hit: a retried batch is all hits.
		var err error
		if stored, err = s.storedEvents(ctx, hashes, hits); err != nil {
			return nil, err
		}
	}
	// first holds, per key, the record the others are compared with: the
	// stored one, else the first of this call.
	first := make(map[eventKey][]byte, len(recs))
	for i, r := range recs {
		k := eventKey{r.AccountID, r.EventID}
		prev, ok := first[k]
		if !ok {
			if prev, ok = stored[k]; ok {
				first[k] = prev
			}
		}
		if !ok {
			first[k] = r.Raw
			accepted = append(accepted, i)
			used[where[i].block] = true
			continue
		}
		if event.SameEvent(prev, r) {
			out[i] = Duplicate
		} else {
			out[i] = Conflict
		}
	}
	if len(accepted) == 0 {
		return out, nil
	}
	// Blocks that hold only duplicates are not written. A block with some
	// duplicates keeps their bytes; no event row points at them.
	blockID := make([]int64, len(blocks))
	next := s.nextBlock
	for bi := range blocks {
		if used[bi] {
			blockID[bi] = next
			next++
		}
	}

	// The frames are durable before the transaction that points at them.
	var frames [][]byte
	for bi, pb := range blocks {
		if used[bi] {
			frames = append(frames, pb.data)
		}
	}
	locs, err := s.segs.write(frames)
	if err != nil {
		return nil, err
	}
	// The segment's fsync runs while the rows are appended; COMMIT waits
	// for it.
	synced := make(chan error, 1)
	go func() { synced <- s.segs.sync(locs) }()
	syncWait := func() error {
		if synced == nil {
			return nil
		}
		err := <-synced
		synced = nil
		return err
	}

	// The ingest time is read under the write lock and never goes back, so
	// ingest times rise with sequence numbers and a reader that has seen
	// LastSeq at time t has seen every event ingested before t.
	if ingestTime.IsZero() {
		ingestTime = s.opts.Now()
	}
	ingestTime = ingestTime.UTC()
	if ingestTime.Before(s.lastIngest) {
		ingestTime = s.lastIngest
	}
	commit := false
	defer func() {
		syncWait()
		if !commit {
			s.segs.undo(locs)
		}
	}()
	// ctx does not interrupt BEGIN either (see COMMIT below): a BEGIN that
	// took effect but was reported as interrupted would leave the
	// connection inside a transaction that nothing rolls back.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.exec(context.Background(), "BEGIN TRANSACTION"); err != nil {
		return nil, err
	}
	inTx := true
	defer func() {
		if !commit {
			if inTx {
				if rerr := s.exec(context.Background(), "ROLLBACK"); rerr != nil {
					s.log.Error("rollback failed", "err", rerr)
				}
			}
			s.resetAppenders()
		}
	}()

	seq := s.nextSeq
	li := 0
	for bi, pb := range blocks {
		if !used[bi] {
			continue
		}
		l := locs[li]
		li++
		if err := s.blkApp.AppendRow(blockID[bi], seq, int32(len(pb.raws)), l.seg, l.off, l.n); err != nil {
			return nil, fmt.Errorf("append block: %w", err)
		}
	}
	for k, i := range accepted {
		r := recs[i]
		var ro any
		if r.ReadOnlySet {
			ro = r.ReadOnly
		}
		types, names := rows[i].types, rows[i].names
		w := where[i]
		if err := s.evApp.AppendRow(
			seq+int64(k), ingestTime, r.EventTime.UTC(), int64(hashes[i]),
			r.AccountID, r.AWSRegion, r.EventCategory, r.EventSource, r.EventName,
			r.Username, r.AccessKeyID, ro, r.ErrorCode, r.SourceIP,
			types, names,
			blockID[w.block], uint16(w.idx), imported[i],
		); err != nil {
			return nil, fmt.Errorf("append event: %w", err)
		}
	}
	// New (value, day) pairs for the day index.
	var newDays []uint64
	pending := map[uint64]bool{}
	for _, i := range accepted {
		for _, d := range rows[i].days {
			p := dayPair(d.key, d.day)
			if pending[p] || s.days.has(p) {
				continue
			}
			pending[p] = true
			newDays = append(newDays, p)
			if err := s.dayApp.AppendRow(d.key, d.day); err != nil {
				return nil, fmt.Errorf("append day index: %w", err)
			}
		}
	}
	if err := s.dayApp.Flush(); err != nil {
		return nil, fmt.Errorf("flush day index: %w", err)
	}
	if err := s.blkApp.Flush(); err != nil {
		return nil, fmt.Errorf("flush blocks: %w", err)
	}
	if err := s.evApp.Flush(); err != nil {
		return nil, fmt.Errorf("flush events: %w", err)
	}
	if err := syncWait(); err != nil {
		return nil, err
	}
	// COMMIT is not interrupted by ctx: once it starts it may complete
	// even when ctx ends, and a commit taken for failed would have its
	// segment bytes cut off below. A cancelled import hit exactly that.
	// A COMMIT that fails has already rolled the transaction back (DuckDB
	// ends it either way), so there is nothing left to roll back: the
	// caller logs the failure, once.
	inTx = false
	if err := s.exec(context.Background(), "COMMIT"); err != nil {
		return nil, err
	}
	commit = true

	for _, i := range accepted {
		s.ids.add(hashes[i])
	}
	for _, p := range newDays {
		s.days.add(p)
	}
	for bi, pb := range blocks {
		if used[bi] {
			s.cache.put(blockID[bi], pb.raws)
		}
	}
	s.nextSeq += int64(len(accepted))
	s.nextBlock = next
	if len(accepted) > 0 {
		s.lastIngest = ingestTime
	}
	return out, nil
}

func (s *Store) exec(ctx context.Context, q string) error {
	if _, err := s.wconn.(driver.ExecerContext).ExecContext(ctx, q, nil); err != nil {
		return fmt.Errorf("%s: %w", strings.ToLower(q), err)
	}
	return nil
}

// resetAppenders replaces the appenders after a failed transaction, whose
// buffered rows must not leak into the next one.
func (s *Store) resetAppenders() {
	s.evApp.Close()
	s.blkApp.Close()
	var err error
	if s.evApp, err = duckdb.NewAppenderFromConn(s.wconn, "", "events"); err != nil {
		s.log.Error("recreate events appender", "err", err)
	}
	if s.blkApp, err = duckdb.NewAppenderFromConn(s.wconn, "", "blocks"); err != nil {
		s.log.Error("recreate blocks appender", "err", err)
	}
	s.dayApp.Close()
	if s.dayApp, err = duckdb.NewAppenderFromConn(s.wconn, "", "lookup_days"); err != nil {
		s.log.Error("recreate day index appender", "err", err)
	}
}

// storedEvents resolves hash hits: it reads the stored records whose
// eventIDs hash like the hit records' and returns them by account and
// eventID. The records alias the block cache and must not be changed.
func (s *Store) storedEvents(ctx context.Context, hashes []uint64, hits []int) (map[eventKey][]byte, error) {
	args := make([]any, 0, len(hits))
	for _, i := range hits {
		args = append(args, int64(hashes[i]))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT block, idx, account FROM events WHERE eid_hash IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("check event ids: %w", err)
	}
	type place struct {
		block   int64
		idx     uint16
		account string
	}
	var places []place
	need := map[int64]struct{}{}
	for rows.Next() {
		var p place
		if err := rows.Scan(&p.block, &p.idx, &p.account); err != nil {
			rows.Close()
			return nil, fmt.Errorf("check event ids: %w", err)
		}
		places = append(places, p)
		need[p.block] = struct{}{}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check event ids: %w", err)
	}
	blocks, err := s.blocks(ctx, need)
	if err != nil {
		return nil, err
	}
	stored := make(map[eventKey][]byte, len(places))
	for _, p := range places {
		b := blocks[p.block]
		if int(p.idx) < len(b) {
			raw := b[p.idx]
			stored[eventKey{p.account, fastjson.GetString(raw, "eventID")}] = raw
		}
	}
	return stored, nil
}

// resourceColumns gives the values LookupEvents matches ResourceType and
// ResourceName against: each resource's type, and its name both as given
// (usually an ARN) and as the ARN's last element.
func resourceColumns(rs []event.Resource) (types, names []string) {
	if len(rs) == 0 {
		return nil, nil
	}
	for _, r := range rs {
		if r.Type != "" {
			types = append(types, r.Type)
		}
		if r.Name != "" {
			names = append(names, r.Name)
			if short := shortName(r.Name); short != r.Name {
				names = append(names, short)
			}
		}
	}
	return types, names
}

func shortName(arn string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return arn
	}
	i := strings.LastIndexAny(arn, "/:")
	if i < 0 || i == len(arn)-1 {
		return arn
	}
	return arn[i+1:]
}
