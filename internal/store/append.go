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
	failed       bool     // Record.Failed
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
		rp.failed = r.Failed()
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
			blocks[i].data = s.compressBlock(raws)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			blocks[i].data = s.compressBlock(raws)
		}()
	}
	wg.Wait()
	return blocks
}

// blockBufs holds the scratch buffers of compressBlock: the records joined
// (~400 KB for a full block of 1.5 KB records) and the frame before it is
// copied out. Allocated afresh, the two cost more than the compression's
// own allocations and clearing, and EncodeAll sizes a new frame's buffer
// to its input, which the block cache and the commit would then keep for
// a frame an eighth of that.
var blockBufs sync.Pool

// compressBlock returns the zstd frame of raws joined by '\n', in a slice
// of its own size.
func (s *Store) compressBlock(raws [][]byte) []byte {
	bufs, _ := blockBufs.Get().(*[2][]byte)
	if bufs == nil {
		bufs = new([2][]byte)
	}
	joined := bufs[0][:0]
	for i, r := range raws {
		if i > 0 {
			joined = append(joined, '\n')
		}
		joined = append(joined, r...)
	}
	frame := s.enc.EncodeAll(joined, bufs[1][:0])
	out := bytes.Clone(frame)
	bufs[0], bufs[1] = joined, frame
	blockBufs.Put(bufs)
	return out
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
//
// It runs in phases over one appendPlan, under the write lock:
//
//	gather      every batch's records in one list; small batches compressed
//	            into shared blocks
//	dedupe      each record Stored, Duplicate or Conflict; blocks holding no
//	            stored record dropped
//	writeFrames the kept blocks' frames appended to the active segment, and
//	            their fsync started
//	commitRows  BEGIN; block, event and day-index rows; wait for the fsync;
//	            COMMIT
//	publish     the in-memory state (eventID and day sets, block cache,
//	            next sequence and block numbers, last ingest time) moved on
//
// The order is the durability argument, stated once here:
//
//   - Frames are fsynced before the rows that point at them commit, so a
//     committed block is always readable. A crash between the two leaves
//     bytes past the last committed frame, which Open cuts off; it never
//     leaves a row pointing at bytes that are not on disk.
//   - COMMIT is the point of no return: the call succeeds exactly when it
//     does, and DuckDB has made its WAL durable by then, so a caller that
//     acknowledges after AppendBatches returns acknowledges only what is
//     durable.
//   - publish runs only after COMMIT, so nothing in memory (the dedupe
//     sets, the block cache, LastSeq) ever names an event that is not
//     committed, and a failed call leaves the memory as it found it.
//   - ctx interrupts nothing from BEGIN on: a BEGIN taken for failed would
//     leave the connection in a transaction nothing ends, and a COMMIT that
//     completed while taken for failed would have its segment bytes cut
//     off below.
//
// On failure: gather cannot fail; a failed dedupe or writeFrames leaves
// nothing written (write cuts its own partial frames back); a failed
// commitRows has rolled the transaction back (a failed COMMIT has ended it
// already; the caller logs the failure, once), reset the appenders and
// waited for the fsync, and AppendBatches then cuts the frames back off the
// segment. In every case nothing from batches is stored and out is nil.
func (s *Store) AppendBatches(ctx context.Context, batches []*Batch, ingestTime time.Time) (out []Outcome, err error) {
	return s.AppendBatchesThen(ctx, batches, ingestTime, nil)
}

// AppendBatchesThen is AppendBatches with records made from the outcome:
// once the batches' records are deduplicated, then (when not nil) is
// called with their outcomes, and the records it returns are stored in
// the same transaction, after them (the ingester's self-audit records of
// the calls that submitted the batches: one commit, and one fsync of each
// file, per group instead of two). then runs once, under the write lock,
// and must be quick. out covers the batches' records only. On error nothing is stored,
// neither the batches' records nor then's.
func (s *Store) AppendBatchesThen(ctx context.Context, batches []*Batch, ingestTime time.Time, then func(out []Outcome) []*event.Record) (out []Outcome, err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.wconn == nil {
		return nil, fmt.Errorf("append: store is closed")
	}
	p := s.gather(batches)
	if err := s.dedupe(ctx, p, 0); err != nil {
		return nil, err
	}
	n := len(p.recs)
	if then != nil {
		if more := then(p.out); len(more) > 0 {
			s.extend(p, NewBatch(more))
			if err := s.dedupe(ctx, p, n); err != nil {
				return nil, err
			}
		}
	}
	if len(p.accepted) == 0 {
		return p.out[:n], nil
	}
	if err := s.writeFrames(p); err != nil {
		return nil, err
	}
	if err := s.commitRows(ctx, p, ingestTime); err != nil {
		s.segs.undo(p.locs)
		return nil, err
	}
	s.publish(p)
	return p.out[:n], nil
}

// appendPlan is one AppendBatches call worked out: what each phase needs of
// the earlier ones. Indexes i run over recs, bi over blocks.
type appendPlan struct {
	// gather
	recs     []*event.Record
	rows     []rowPrep // per record
	imported []bool    // per record: its batch is MarkImported
	blocks   []prepBlock
	where    []place // per record: its block and its index in the block

	// dedupe
	out      []Outcome // per record
	accepted []int     // the records to store, in order
	used     []bool    // per block: holds an accepted record, so is written
	// first holds, per key, the record the others are compared with: the
	// stored one, else the first of this call.
	first map[eventKey][]byte

	// writeFrames
	blockID   []int64 // per used block: its number
	nextBlock int64   // the store's next block number once committed
	locs      []loc   // per used block, in order: where its frame is
	synced    chan error

	// commitRows
	seq        int64     // the first accepted record's sequence number
	ingestTime time.Time // the rows' ingest time
	newDays    []uint64  // (key, day) pairs new to the day index
}

// place is where a record is: its block, and its index in the block.
type place struct{ block, idx int }

// gather makes the plan's one list of every record, with their row
// preparations, import marks and blocks. Batches that Prepare compressed
// bring their blocks; the records of the others are compressed here
// together, into shared blocks. It cannot fail and changes nothing.
func (s *Store) gather(batches []*Batch) *appendPlan {
	p := &appendPlan{}
	var (
		small  []*event.Record
		smallI []int // small[k] is p.recs[smallI[k]]
	)
	for _, b := range batches {
		off := len(p.recs)
		p.recs = append(p.recs, b.recs...)
		b.prepRows()
		p.rows = append(p.rows, b.rows...)
		for range b.recs {
			p.imported = append(p.imported, b.imported)
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
			p.blocks = append(p.blocks, pb)
		}
	}
	p.where = make([]place, len(p.recs))
	for bi, pb := range p.blocks {
		for k := range pb.raws {
			p.where[pb.first+k] = place{bi, k}
		}
	}
	if len(small) > 0 {
		for _, pb := range s.compress(small, 0) {
			bi := len(p.blocks)
			for k := range pb.raws {
				p.where[smallI[pb.first+k]] = place{bi, k}
			}
			p.blocks = append(p.blocks, pb)
		}
	}
	return p
}

// extend adds b's records to the plan after gather, in blocks of their
// own (compressed here unless Prepare did).
func (s *Store) extend(p *appendPlan, b *Batch) {
	off := len(p.recs)
	p.recs = append(p.recs, b.recs...)
	b.prepRows()
	p.rows = append(p.rows, b.rows...)
	for range b.recs {
		p.imported = append(p.imported, b.imported)
		p.where = append(p.where, place{})
	}
	blocks := b.blocks
	if blocks == nil {
		blocks = s.compress(b.recs, 0)
	}
	for _, pb := range blocks {
		bi := len(p.blocks)
		for k := range pb.raws {
			p.where[off+pb.first+k] = place{bi, k}
		}
		pb.first += off
		p.blocks = append(p.blocks, pb)
	}
}

// dedupe decides each record's Outcome by its (account, eventID): the
// first of a key, stored or earlier in this call, is kept and the others
// are compared with it (Duplicate when event.SameEvent, else Conflict). A
// record whose eventID hash is not in the in-memory set has no stored
// twin; the hits are settled against the stored records in one query, so
// a hash collision never drops an event and a retried batch costs one
// query. It fills out, accepted and
// used, and writes nothing; on error (the query failed) nothing is decided.
// It decides the records from index from on: a later call, after extend,
// decides the records added, against the earlier ones too.
func (s *Store) dedupe(ctx context.Context, p *appendPlan, from int) error {
	if from == 0 {
		p.out = make([]Outcome, 0, len(p.recs))
		p.accepted = make([]int, 0, len(p.recs))
		p.first = make(map[eventKey][]byte, len(p.recs))
	}
	p.out = append(p.out, make([]Outcome, len(p.recs)-from)...)
	p.used = append(p.used, make([]bool, len(p.blocks)-len(p.used))...)
	var hits []uint64   // hashes already stored
	var hitIDs []string // their records' eventIDs
	for i := from; i < len(p.recs); i++ {
		if h := p.rows[i].hash; s.ids.has(h) {
			hits = append(hits, h)
			hitIDs = append(hitIDs, p.recs[i].EventID)
		}
	}
	var stored map[eventKey][]byte
	if len(hits) > 0 {
		var err error
		if stored, err = s.storedEvents(ctx, hits, hitIDs); err != nil {
			return err
		}
	}
	first := p.first
	for i := from; i < len(p.recs); i++ {
		r := p.recs[i]
		k := eventKey{r.AccountID, r.EventID}
		prev, ok := first[k]
		if !ok {
			if prev, ok = stored[k]; ok {
				first[k] = prev
			}
		}
		if !ok {
			first[k] = r.Raw
			p.accepted = append(p.accepted, i)
			p.used[p.where[i].block] = true
			continue
		}
		if event.SameEvent(prev, r) {
			p.out[i] = Duplicate
		} else {
			p.out[i] = Conflict
		}
	}
	return nil
}

// writeFrames numbers the used blocks and appends their frames to the
// active segment, then starts their fsync, which runs while commitRows
// appends the rows (commitRows waits for it before COMMIT). Blocks that
// hold only duplicates are not written; a block with some duplicates keeps
// their bytes, and no event row points at them. On error nothing is left
// in the segment (write cuts it back) and no fsync runs.
func (s *Store) writeFrames(p *appendPlan) error {
	p.blockID = make([]int64, len(p.blocks))
	p.nextBlock = s.nextBlock
	var frames [][]byte
	for bi, pb := range p.blocks {
		if p.used[bi] {
			p.blockID[bi] = p.nextBlock
			p.nextBlock++
			frames = append(frames, pb.data)
		}
	}
	locs, err := s.segs.write(frames)
	if err != nil {
		return err
	}
	p.locs = locs
	p.synced = make(chan error, 1)
	go func() { p.synced <- s.segs.sync(locs) }()
	return nil
}

// waitSync waits for the fsync writeFrames started and returns its error;
// later calls return nil.
func (p *appendPlan) waitSync() error {
	if p.synced == nil {
		return nil
	}
	err := <-p.synced
	p.synced = nil
	return err
}

// commitRows commits the plan's rows in one transaction: a blocks row per
// written frame, an events row per accepted record, and the day-index
// pairs not yet present. COMMIT runs only once the frames' fsync has
// succeeded. The rows' ingest time is ingestTime, or the store's clock,
// never older than the newest stored one.
//
// Neither BEGIN nor COMMIT takes ctx (see AppendBatches); ctx is checked
// once before BEGIN. It returns only once the fsync is done. On error the
// transaction is over (rolled back here, or ended by the failed COMMIT),
// the appenders are reset so that no buffered row leaks into the next
// transaction, and the caller cuts the frames back.
func (s *Store) commitRows(ctx context.Context, p *appendPlan, ingestTime time.Time) (err error) {
	defer p.waitSync()
	// The ingest time is read under the write lock and never goes back, so
	// ingest times rise with sequence numbers and a reader that has seen
	// LastSeq at time t has seen every event ingested before t.
	if ingestTime.IsZero() {
		ingestTime = s.opts.Now()
	}
	p.ingestTime = ingestTime.UTC()
	if p.ingestTime.Before(s.lastIngest) {
		p.ingestTime = s.lastIngest
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The background checkpointer cannot start while the transaction is
	// open (checkpoint.go).
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if err := s.exec(context.Background(), "BEGIN TRANSACTION"); err != nil {
		return err
	}
	inTx := true
	defer func() {
		if err == nil {
			return
		}
		// A COMMIT that failed has usually ended the transaction, but
		// not always: one that ran out of memory left the connection in
		// an aborted transaction ("Current transaction is aborted (please
		// ROLLBACK)"), and every later BEGIN on it failed, so no event or
		// self-audit record could be stored until a restart. So the
		// transaction is rolled back after a failed COMMIT as well; that
		// there was none to roll back is no error.
		if rerr := s.exec(context.Background(), "ROLLBACK"); rerr != nil && (inTx || !strings.Contains(rerr.Error(), "no transaction is active")) {
			s.log.Error("rollback failed", "err", rerr)
		}
		s.resetAppenders()
	}()
	if err := s.appendRows(p); err != nil {
		return err
	}
	if err := p.waitSync(); err != nil {
		return err
	}
	// The caller logs a failed COMMIT, once; the deferred ROLLBACK ends
	// the transaction if DuckDB did not.
	inTx = false
	return s.exec(context.Background(), "COMMIT")
}

// appendRows appends and flushes the plan's rows inside commitRows'
// transaction. It notes the new day-index pairs in p.newDays.
func (s *Store) appendRows(p *appendPlan) error {
	p.seq = s.nextSeq
	li := 0
	for bi, pb := range p.blocks {
		if !p.used[bi] {
			continue
		}
		l := p.locs[li]
		li++
		if err := s.blkApp.AppendRow(p.blockID[bi], p.seq, int32(len(pb.raws)), l.seg, l.off, l.n); err != nil {
			return fmt.Errorf("append block: %w", err)
		}
	}
	for k, i := range p.accepted {
		r := p.recs[i]
		var ro any
		if r.ReadOnlySet {
			ro = r.ReadOnly
		}
		rp, w := &p.rows[i], p.where[i]
		if err := s.evApp.AppendRow(
			p.seq+int64(k), p.ingestTime, r.EventTime.UTC(), int64(rp.hash),
			r.AccountID, r.AWSRegion, r.EventCategory, r.EventSource, r.EventName,
			r.Username, r.AccessKeyID, ro, r.ErrorCode, r.SourceIP,
			rp.types, rp.names,
			p.blockID[w.block], uint16(w.idx), p.imported[i], rp.failed,
		); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
	}
	pending := map[uint64]bool{}
	for _, i := range p.accepted {
		for _, d := range p.rows[i].days {
			pair := dayPair(d.key, d.day)
			if pending[pair] || s.days.has(pair) {
				continue
			}
			pending[pair] = true
			p.newDays = append(p.newDays, pair)
			if err := s.dayApp.AppendRow(d.key, d.day); err != nil {
				return fmt.Errorf("append day index: %w", err)
			}
		}
	}
	if err := s.dayApp.Flush(); err != nil {
		return fmt.Errorf("flush day index: %w", err)
	}
	if err := s.blkApp.Flush(); err != nil {
		return fmt.Errorf("flush blocks: %w", err)
	}
	if err := s.evApp.Flush(); err != nil {
		return fmt.Errorf("flush events: %w", err)
	}
	return nil
}

// publish moves the in-memory state on past a committed plan: the eventID
// hashes and day pairs join their sets, the written blocks enter the block
// cache, and the next sequence number (LastSeq), next block number and last
// ingest time advance. It runs only after COMMIT and cannot fail; the
// caller then answers and wakes readers.
func (s *Store) publish(p *appendPlan) {
	for _, i := range p.accepted {
		s.ids.add(p.rows[i].hash)
	}
	for _, pair := range p.newDays {
		s.days.add(pair)
	}
	for bi, pb := range p.blocks {
		if p.used[bi] {
			s.cache.put(p.blockID[bi], pb.raws)
		}
	}
	s.nextSeq += int64(len(p.accepted))
	s.lastSeq.Store(s.nextSeq - 1)
	s.nextBlock = p.nextBlock
	s.lastIngest = p.ingestTime
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
// eventIDs hash to one of hits and returns them by account and eventID.
// The records alias the block cache and must not be changed.
func (s *Store) storedEvents(ctx context.Context, hits []uint64, ids []string) (map[eventKey][]byte, error) {
	args := make([]any, 0, len(hits))
	for _, h := range hits {
		args = append(args, int64(h))
	}
	// The hot rows and the columnar files are read as one moment's.
	s.cold.mu.RLock()
	defer s.cold.mu.RUnlock()
	rows, err := s.db.QueryContext(ctx, `SELECT block, idx, account FROM events WHERE eid_hash IN (`+placeholders(len(args))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("check event ids: %w", err)
	}
	type storedAt struct {
		block   int64
		idx     uint16
		account string
	}
	var places []storedAt
	need := map[int64]struct{}{}
	for rows.Next() {
		var p storedAt
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
			stored[eventKey{p.account, event.IDOf(raw)}] = raw
		}
	}
	if err := s.cold.stored(ctx, ids, stored); err != nil {
		return nil, err
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
