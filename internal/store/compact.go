package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/columnar"
)

// CompactResult describes one compaction.
type CompactResult struct {
	From, Through int64 // the sequence numbers moved: (From, Through]
	Events        int64 // events moved
	Files         int   // columnar files written
	Bytes         int64 // their size
	// How long each step took.
	Stage, Write, Commit time.Duration
}

// compactHook, when set by a test, is called at each step of Compact; an
// error stops the compaction there, as a crash would.
var compactHook func(step string) error

func hook(step string) error {
	if compactHook == nil {
		return nil
	}
	return compactHook(step)
}

// SealedThrough returns the newest sequence number of an event ingested
// before t (0 when none): events up to it may be compacted.
func (s *Store) SealedThrough(ctx context.Context, t time.Time) (int64, error) {
	return s.SeqBefore(ctx, t)
}

// Compact moves the events with sequence numbers above ColdThrough and at
// most through from the events table and the segment files into columnar
// files.
//
// The steps, each safe to stop at:
//
//	stage    the events' store columns and shredded records are appended
//	         to a temporary table on a connection of their own
//	write    one Parquet file per account, region and day, written as a
//	         dot-file, fsynced, renamed into place, its directory fsynced
//	commit   one transaction lists the files in the manifest, deletes the
//	         events and the blocks no remaining event points into, and
//	         moves ColdThrough; readers of both tiers wait for it
//	sweep    the blocks no event points into and the segment files no block
//	         points into are removed, once no SQL query that began before
//	         the commit still runs
//
// Stopped before commit, the files are orphans that Open removes, and the
// events are still hot; after it, nothing but unreferenced segment files
// is left, which sweep removes. Ingest is held up only by sweep, which
// takes the writer lock to delete block rows and segment files.
func (s *Store) Compact(ctx context.Context, through int64) (CompactResult, error) {
	s.cold.compact.Lock()
	defer s.cold.compact.Unlock()
	res := CompactResult{From: s.ColdThrough()}
	if through > s.CommittedSeq() {
		through = s.CommittedSeq()
	}
	if through <= res.From {
		return res, nil
	}
	res.Through = through
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return res, fmt.Errorf("compact: connection: %w", err)
	}
	defer conn.Close()
	stage := "compact_stage"
	defer conn.ExecContext(context.Background(), `DROP TABLE IF EXISTS temp.`+stage)
	t0 := time.Now()
	n, err := s.cold.stage(ctx, conn, stage, res.From, through)
	if err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	res.Events = n
	res.Stage = time.Since(t0)
	if err := hook("staged"); err != nil {
		return res, err
	}
	t0 = time.Now()
	files, err := s.cold.writeColdFiles(ctx, conn, stage, res.From, through)
	if err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	for _, f := range files {
		res.Bytes += f.Bytes
	}
	res.Files = len(files)
	res.Write = time.Since(t0)
	if err := hook("written"); err != nil {
		return res, err
	}
	t0 = time.Now()
	if err := s.cold.commitCold(ctx, files, through); err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	res.Commit = time.Since(t0)
	if err := hook("committed"); err != nil {
		return res, err
	}
	if err := s.cold.sweep(ctx); err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	return res, nil
}

// stage appends the events in (from, through] to a temporary table:
// partition keys, the store's columns and the shredded record.
func (c *cold) stage(ctx context.Context, conn *sql.Conn, stage string, from, through int64) (int64, error) {
	names := []string{"account", "region", "day"}
	typs := []string{"VARCHAR", "VARCHAR", "DATE"}
	for _, c := range append(slices.Clone(ColdColumns), columnar.Columns...) {
		names, typs = append(names, c.Name), append(typs, c.Type)
	}
	cols := make([]string, len(names))
	for i := range names {
		cols[i] = quoteIdent(names[i]) + " " + typs[i]
	}
	if _, err := conn.ExecContext(ctx, `DROP TABLE IF EXISTS temp.`+stage+`; DROP TABLE IF EXISTS temp.`+stage+`_sorted`); err != nil {
		return 0, err
	}
	if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE `+stage+` (`+strings.Join(cols, ", ")+`)`); err != nil {
		return 0, fmt.Errorf("create stage table: %w", err)
	}
	var app *duckdb.Appender
	if err := conn.Raw(func(dc any) error {
		var err error
		app, err = duckdb.NewAppender(dc.(driver.Conn), "temp", "main", stage)
		return err
	}); err != nil {
		return 0, fmt.Errorf("stage appender: %w", err)
	}
	defer app.Close()

	// Reading and shredding (one goroutine) run beside the Appender
	// (this one), which costs about half a microsecond a value. The
	// events are read in slices of sequence numbers, so memory holds a
	// few slices' records at a time. (Staging through newline-delimited
	// JSON that DuckDB loads in parallel measured slower: the staging
	// file's writes, not the parsing, dominated on this machine's disk.)
	const slice = 8192
	batches := make(chan [][]driver.Value, 2)
	errc := make(chan error, 1)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(batches)
		for lo := from; lo < through; lo += slice {
			var batch [][]driver.Value
			_, err := c.stageSlice(sctx, func(vals []any) error {
				row := make([]driver.Value, len(vals))
				for i, v := range vals {
					row[i] = v
				}
				batch = append(batch, row)
				return nil
			}, lo, min(lo+slice, through))
			if err != nil {
				errc <- err
				return
			}
			select {
			case batches <- batch:
			case <-sctx.Done():
				errc <- sctx.Err()
				return
			}
		}
	}()
	var n int64
	for batch := range batches {
		for _, row := range batch {
			if err := app.AppendRow(row...); err != nil {
				cancel()
				for range batches {
				}
				return n, fmt.Errorf("stage event %v: %w", row[3], err)
			}
		}
		n += int64(len(batch))
	}
	select {
	case err := <-errc:
		return n, err
	default:
	}
	if err := app.Flush(); err != nil {
		return n, fmt.Errorf("stage events: %w", err)
	}
	// Sorted once by partition, then by source and name (like records
	// compress best together: measured 81 against 89 bytes an event
	// sorted by time alone, docs/benchmarks.md) and time, each
	// partition's COPY reads only its own row groups. _seq last makes the
	// files the same every time.
	if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE `+stage+`_sorted AS SELECT * FROM temp.`+stage+` ORDER BY account, region, day, "eventSource", "eventName", "eventTime", _seq`); err != nil {
		return n, fmt.Errorf("sort staged events: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `DROP TABLE temp.`+stage+`; ALTER TABLE temp.`+stage+`_sorted RENAME TO `+stage); err != nil {
		return n, fmt.Errorf("sort staged events: %w", err)
	}
	return n, nil
}

// stageSlice appends the events in (lo, hi].
func (c *cold) stageSlice(ctx context.Context, sink func([]any) error, lo, hi int64) (int64, error) {
	rows, err := c.st.db.QueryContext(ctx, `SELECT seq, ingest_time, event_time, account, region, category,
	username, read_only, resource_types, resource_names, imported, block, idx
FROM events WHERE seq > ? AND seq <= ? ORDER BY seq`, lo, hi)
	if err != nil {
		return 0, fmt.Errorf("read events to compact: %w", err)
	}
	type hotRow struct {
		seq                               int64
		ingest, etime                     time.Time
		hash                              int64
		account, region, category         string
		username, akid, errCode, sourceIP string
		readOnly, imported                sql.NullBool
		types, names                      any
		block                             int64
		idx                               uint16
	}
	var hot []hotRow
	need := map[int64]struct{}{}
	for rows.Next() {
		var r hotRow
		if err := rows.Scan(&r.seq, &r.ingest, &r.etime, &r.account, &r.region, &r.category,
			&r.username, &r.readOnly, &r.types, &r.names, &r.imported, &r.block, &r.idx); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read events to compact: %w", err)
		}
		hot = append(hot, r)
		need[r.block] = struct{}{}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read events to compact: %w", err)
	}
	blocks, err := c.readBlocksUncached(ctx, need)
	if err != nil {
		return 0, err
	}
	vals := make([]any, 0, 3+len(ColdColumns)+len(columnar.Columns))
	for _, r := range hot {
		recs := blocks[r.block]
		if int(r.idx) >= len(recs) {
			return 0, fmt.Errorf("block %d has %d records, want index %d: store is damaged", r.block, len(recs), r.idx)
		}
		etime := r.etime.UTC()
		day := time.Date(etime.Year(), etime.Month(), etime.Day(), 0, 0, 0, 0, time.UTC)
		vals = append(vals[:0], r.account, r.region, day,
			r.seq, r.ingest.UTC(), r.category, r.username, nullable(r.readOnly),
			stringList(r.types), stringList(r.names), nullable(r.imported))
		vals = append(vals, columnar.Shred(recs[r.idx], etime).Values()...)
		if err := sink(vals); err != nil {
			return 0, fmt.Errorf("stage event %d: %w", r.seq, err)
		}
	}
	return int64(len(hot)), nil
}

func nullable(b sql.NullBool) any {
	if !b.Valid {
		return nil
	}
	return b.Bool
}

// stringList turns a scanned VARCHAR[] into what the appender takes.
func stringList(v any) any {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// readBlocksUncached reads and decompresses blocks without filling the
// block cache, which lookups need more than a compaction does.
func (c *cold) readBlocksUncached(ctx context.Context, want map[int64]struct{}) (map[int64][][]byte, error) {
	out := make(map[int64][][]byte, len(want))
	if len(want) == 0 {
		return out, nil
	}
	ids := make([]any, 0, len(want))
	for b := range want {
		ids = append(ids, b)
	}
	rows, err := c.st.db.QueryContext(ctx, `SELECT block, seg, off, len FROM blocks WHERE block IN (`+placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("read blocks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			b int64
			l loc
		)
		if err := rows.Scan(&b, &l.seg, &l.off, &l.n); err != nil {
			return nil, fmt.Errorf("read blocks: %w", err)
		}
		if recs, ok := c.st.cache.get(b); ok {
			out[b] = recs
			continue
		}
		recs, err := c.st.readBlock(b, l)
		if err != nil {
			return nil, err
		}
		out[b] = recs
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read blocks: %w", err)
	}
	for b := range want {
		if _, ok := out[b]; !ok {
			return nil, fmt.Errorf("block %d is missing: store is damaged", b)
		}
	}
	return out, nil
}

// writeColdFiles writes the staged events as one Parquet file per
// partition, sorted by eventTime, and returns the files' manifest rows.
func (c *cold) writeColdFiles(ctx context.Context, conn *sql.Conn, stage string, from, through int64) ([]ColdFile, error) {
	rows, err := conn.QueryContext(ctx, `SELECT account, region, day, count(*), min(_seq), max(_seq), min("eventTime"), max("eventTime"),
	min(_ingest_time), max(_ingest_time), count(*) FILTER (WHERE _imported)
FROM temp.`+stage+` GROUP BY ALL ORDER BY ALL`)
	if err != nil {
		return nil, fmt.Errorf("partition staged events: %w", err)
	}
	var files []ColdFile
	for rows.Next() {
		var f ColdFile
		if err := rows.Scan(&f.Account, &f.Region, &f.Day, &f.Rows, &f.MinSeq, &f.MaxSeq, &f.MinTime, &f.MaxTime, &f.MinIngest, &f.MaxIngest, &f.ImportedRows); err != nil {
			rows.Close()
			return nil, fmt.Errorf("partition staged events: %w", err)
		}
		f = f.utc()
		f.Path = partitionDir(f.Account, f.Region, f.Day) + fmt.Sprintf("/part-%019d-%019d.parquet", from+1, through)
		files = append(files, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("partition staged events: %w", err)
	}
	cols := make([]string, 0, len(ColdColumns)+len(columnar.Columns))
	for _, c := range ColdColumns {
		cols = append(cols, quoteIdent(c.Name))
	}
	for _, c := range columnar.Columns {
		cols = append(cols, quoteIdent(c.Name))
	}
	for i := range files {
		f := &files[i]
		final := c.path(f.Path)
		dir := filepath.Dir(final)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
		tmp := filepath.Join(dir, "."+filepath.Base(final)+".tmp")
		q := `COPY (SELECT ` + strings.Join(cols, ", ") + ` FROM temp.` + stage +
			` WHERE account = ` + quoteLiteral(f.Account) + ` AND region = ` + quoteLiteral(f.Region) +
			` AND day = DATE '` + f.Day.Format(time.DateOnly) + `' ORDER BY "eventSource", "eventName", "eventTime", _seq) TO ` + quoteLiteral(tmp) +
			` (FORMAT parquet, PARQUET_VERSION V2, COMPRESSION zstd, COMPRESSION_LEVEL 9, ROW_GROUP_SIZE 122880)`
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.Path, err)
		}
		if err := fsyncFile(tmp); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, final); err != nil {
			return nil, fmt.Errorf("put %s in place: %w", f.Path, err)
		}
		for d := dir; ; d = filepath.Dir(d) {
			if err := syncDir(d); err != nil {
				return nil, err
			}
			if d == c.dir || len(d) <= len(c.dir) {
				break
			}
		}
		fi, err := os.Stat(final)
		if err != nil {
			return nil, err
		}
		f.Bytes = fi.Size()
	}
	return files, nil
}

func fsyncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", p, err)
	}
	return nil
}

// commitCold lists files in the manifest and deletes the events up to
// through from the hot tier, in one transaction, while no reader is
// between the tiers. The blocks and segment files of those events are
// removed later by sweep, once no SQL query that began before this commit
// (and so still sees the events rows) is running.
func (c *cold) commitCold(ctx context.Context, files []ColdFile, through int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A cancelled context must not stop COMMIT halfway through its
	// bookkeeping.
	ctx = context.WithoutCancel(ctx)
	tx, err := c.st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := c.st.opts.Now().UTC()
	for _, f := range files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO columnar_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.Path, f.Account, f.Region, f.Day, f.MinSeq, f.MaxSeq, f.MinTime, f.MaxTime, f.MinIngest, f.MaxIngest,
			f.Rows, f.ImportedRows, f.Bytes, now); err != nil {
			return fmt.Errorf("list %s: %w", f.Path, err)
		}
	}
	if err := locateCompacted(ctx, tx, through); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq <= ?`, through); err != nil {
		return fmt.Errorf("delete compacted events: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta VALUES (?, ?)`, metaColdThrough, []byte(strconv.FormatInt(through, 10))); err != nil {
		return err
	}
	if err := hook("before-commit"); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	c.files = append(c.files, files...)
	c.through = through
	c.gen++
	c.sweepPending = true
	return nil
}

// sweep deletes the blocks no event points into any more and the segment
// files no block points into (never the active one), unless an SQL query
// that began before the last compaction still runs: it may still read
// those blocks. It is retried when such a query ends.
func (c *cold) sweep(ctx context.Context) error {
	c.st.wmu.Lock()
	defer c.st.wmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sweepPending || c.oldReaders() {
		return nil
	}
	var maxBlock sql.NullInt64
	if err := c.st.db.QueryRowContext(ctx, `SELECT max(block) FROM blocks`).Scan(&maxBlock); err != nil {
		return fmt.Errorf("sweep blocks: %w", err)
	}
	floor, err := c.metaInt(ctx, metaBlockFloor)
	if err != nil {
		return err
	}
	// Block numbers are never reused (the block cache is keyed by them):
	// the highest one is kept in meta before its row may go.
	if maxBlock.Int64 > floor {
		if err := c.st.SetMeta(ctx, metaBlockFloor, []byte(strconv.FormatInt(maxBlock.Int64, 10))); err != nil {
			return err
		}
	}
	if _, err := c.st.db.ExecContext(ctx, `DELETE FROM blocks WHERE first_seq <= ? AND block NOT IN (SELECT block FROM events)`, c.through); err != nil {
		return fmt.Errorf("sweep blocks: %w", err)
	}
	if err := c.dropDeadSegments(ctx); err != nil {
		return err
	}
	c.sweepPending = false
	return nil
}

// dropDeadSegments removes segment files no block points into, never the
// active one. The caller holds wmu.
func (c *cold) dropDeadSegments(ctx context.Context) error {
	rows, err := c.st.db.QueryContext(ctx, `SELECT DISTINCT seg FROM blocks`)
	if err != nil {
		return fmt.Errorf("list live segments: %w", err)
	}
	live := map[int64]bool{}
	for rows.Next() {
		var seg int64
		if err := rows.Scan(&seg); err != nil {
			rows.Close()
			return fmt.Errorf("list live segments: %w", err)
		}
		live[seg] = true
	}
	rows.Close()
	ids, err := segmentIDs(c.st.segs.dir)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if live[id] {
			continue
		}
		if err := c.st.segs.remove(id); err != nil {
			return err
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
