// Package store is opentrail's durable event store: embedded DuckDB for
// the lookup columns, and append-only segment files for the records.
//
// Every committed event gets a monotonic sequence number. Lookup columns
// (times, account, region, source, name, user, access key, read-only,
// category, error code, resources, source IP) are real DuckDB columns; the
// records themselves are kept losslessly in zstd-compressed blocks of up
// to BlockSize records in segment files (see docs/storage.md): ~1.5 KB
// records take ~170 bytes each there (docs/benchmarks.md), and a record is
// read with one pread and one block decompression.
//
// A Store is safe for concurrent use. Append calls are serialised (the
// ingest package batches them into group commits); reads run concurrently
// with appends. Append returns only after DuckDB has committed and fsynced
// its write-ahead log.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/klauspost/compress/zstd"
)

// BlockSize is the largest number of records compressed together.
const BlockSize = 256

// Options tune a Store. The zero value is usable.
type Options struct {
	// Retention is how long events stay in the history, judged by both
	// eventTime and ingestion time; 0 keeps them forever. It spares
	// imported events (Batch.MarkImported) unless RetentionCoversImported.
	Retention time.Duration
	// RetentionCoversImported makes retention delete imported events too.
	RetentionCoversImported bool
	// BlockCache is how many decompressed blocks are kept in memory
	// (default 256).
	BlockCache int
	// CheckpointThreshold is the WAL size in bytes past which the store's
	// background checkpointer folds the WAL into the database file
	// (default 64 MiB; see checkpoint.go).
	CheckpointThreshold int64
	// LockWait is how long Open waits for another process to release the
	// store (a server just killed or stopping still holds DuckDB's lock
	// for a moment); 0 fails at once. Past it, Open fails with a
	// *LockedError naming the holder.
	LockWait time.Duration
	// MemoryLimit caps DuckDB's memory (its memory_limit) in bytes; 0
	// leaves DuckDB's default (80% of the machine's memory).
	MemoryLimit int64
	Logger      *slog.Logger
	Now         func() time.Time
}

// Store is the event store. Create it with Open.
type Store struct {
	dir  string
	opts Options
	log  *slog.Logger

	connector *duckdb.Connector
	db        *sql.DB

	// The writer connection and its appenders; guarded by wmu.
	wmu sync.Mutex
	// txMu is held from BEGIN to COMMIT of every append transaction, and
	// by the background checkpointer while its CHECKPOINT starts (which
	// DuckDB refuses while a write transaction is open).
	txMu      sync.Mutex
	ck        checkpoints // the background checkpointer (checkpoint.go)
	wconn     driver.Conn
	evApp     *duckdb.Appender
	dayApp    *duckdb.Appender
	days      *idSet // (key, day) pairs in lookup_days
	blkApp    *duckdb.Appender
	nextSeq   int64
	nextBlock int64
	// lastSeq is nextSeq-1 as of the last commit, readable without wmu
	// (which an append holds through its fsync and COMMIT).
	lastSeq atomic.Int64
	// lastIngest is the ingest time of the newest committed event; ingest
	// times never go backwards in sequence order.
	lastIngest time.Time
	ids        *idSet
	snap       snapState // snapshots of ids and days (snapshot.go)
	enc        *zstd.Encoder

	dec   *zstd.Decoder
	cache *blockCache
	segs  *segments

	// cold is the columnar tier (cold.go).
	cold *cold

	// Catalog holds the small tables beside the events: trails,
	// channels, cursors and meta values (catalog.go).
	*Catalog

	closeOnce sync.Once
}

// DBFile is the name of the DuckDB file inside the data directory.
const DBFile = "events.duckdb"

const schema = `
CREATE TABLE IF NOT EXISTS events (
	seq            BIGINT NOT NULL,
	ingest_time    TIMESTAMP NOT NULL,
	event_time     TIMESTAMP NOT NULL,
	eid_hash       BIGINT NOT NULL,
	account        VARCHAR NOT NULL,
	region         VARCHAR NOT NULL,
	category       VARCHAR NOT NULL,
	event_source   VARCHAR NOT NULL,
	event_name     VARCHAR NOT NULL,
	username       VARCHAR NOT NULL,
	access_key_id  VARCHAR NOT NULL,
	read_only      BOOLEAN,
	error_code     VARCHAR NOT NULL,
	source_ip      VARCHAR NOT NULL,
	resource_types VARCHAR[],
	resource_names VARCHAR[],
	block          BIGINT NOT NULL,
	idx            USMALLINT NOT NULL,
	imported       BOOLEAN
);
-- Stores made before imports were marked.
ALTER TABLE events ADD COLUMN IF NOT EXISTS imported BOOLEAN;
-- Whether the event is a failed call (event.Record.Failed); NULL in rows
-- stored before it was kept, until Open fills them (upgradeFailed).
ALTER TABLE events ADD COLUMN IF NOT EXISTS failed BOOLEAN;
CREATE TABLE IF NOT EXISTS blocks (
	block     BIGINT NOT NULL,
	first_seq BIGINT NOT NULL,
	n         INTEGER NOT NULL,
	seg       BIGINT NOT NULL,
	off       BIGINT NOT NULL,
	len       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lookup_days (
	key BIGINT NOT NULL,
	day INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
	name    VARCHAR PRIMARY KEY,
	seq     BIGINT NOT NULL,
	updated TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS channels (
	arn          VARCHAR PRIMARY KEY,
	name         VARCHAR NOT NULL,
	source       VARCHAR NOT NULL,
	account      VARCHAR NOT NULL,
	region       VARCHAR NOT NULL,
	destinations VARCHAR NOT NULL,
	tags         VARCHAR NOT NULL,
	created      TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS trails (
	arn         VARCHAR PRIMARY KEY,
	name        VARCHAR NOT NULL,
	account     VARCHAR NOT NULL,
	home_region VARCHAR NOT NULL,
	doc         VARCHAR NOT NULL,
	created     TIMESTAMP NOT NULL,
	updated     TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
	key   VARCHAR PRIMARY KEY,
	value BLOB NOT NULL
);
`

// umaskOnce sets the process umask on the first Open.
var umaskOnce sync.Once

// Open opens (creating if needed) the store in dir. It makes dir and
// everything in it owner-only, and sets the process umask to 077 so that
// every file created afterwards is too.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.BlockCache <= 0 {
		opts.BlockCache = 256
	}
	if opts.CheckpointThreshold <= 0 {
		opts.CheckpointThreshold = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// Files are created owner-only. DuckDB creates its WAL anew after
	// every checkpoint with the process umask's mode, so the umask is the
	// one place that covers it.
	umaskOnce.Do(func() { syscall.Umask(0o077) })
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// The directory holds secrets (the digest-signing keys and the
	// NextToken key are in the DuckDB file and its WAL; the built-in
	// buckets hold every account's logs), so it is owner-only whatever
	// it was before.
	n, err := tightenPermissions(dir)
	if err != nil {
		return nil, err
	}
	log := opts.Logger.With("component", "store")
	if n > 0 {
		log.Warn("made the data directory owner-only: some of its files or directories could be read by other users", "dir", dir, "entries", n)
	}
	path := filepath.Join(dir, DBFile)
	settings := []string{
		"SET TimeZone='UTC'",
		// Queries over the columnar tier open every file's footer; kept
		// in memory, a count over 1,000 files took 27 ms rather than 123.
		"SET parquet_metadata_cache = true",
		// DuckDB checkpoints inside the commit that takes its WAL past
		// this size, holding up every request in that group commit; the
		// store's checkpointer runs them instead (checkpoint.go), and this
		// is only a backstop should it fall behind.
		fmt.Sprintf("SET checkpoint_threshold='%dB'", max(duckdbCheckpointBackstop, 4*opts.CheckpointThreshold)),
	}
	if opts.MemoryLimit > 0 {
		settings = append(settings, fmt.Sprintf("SET memory_limit='%dB'", opts.MemoryLimit))
	}
	connect := func() (*duckdb.Connector, error) {
		return duckdb.NewConnector(path, func(execer driver.ExecerContext) error {
			for _, q := range settings {
				if _, err := execer.ExecContext(ctx, q, nil); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}
			return nil
		})
	}
	opening := time.Now()
	connector, err := connect()
	deadline := time.Now().Add(opts.LockWait)
	for waited := false; err != nil && IsLocked(err) && time.Now().Before(deadline); {
		if !waited {
			log.Info("the store is locked by another process; waiting for it", "dir", dir, "wait", opts.LockWait)
			waited = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		connector, err = connect()
	}
	if err != nil {
		if IsLocked(err) {
			return nil, newLockedError(dir, opts.LockWait, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// After a crash this includes DuckDB replaying its write-ahead log.
	log.Debug("opened the database", "took", time.Since(opening).Round(time.Millisecond))
	s := &Store{
		dir:       dir,
		opts:      opts,
		log:       log,
		connector: connector,
		db:        sql.OpenDB(connector),
		cache:     newBlockCache(opts.BlockCache),
	}
	s.Catalog = &Catalog{db: s.db, now: opts.Now}
	s.snap.st = s
	s.ck.st = s
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// tightenPermissions makes dir and everything under it owner-only
// (directories 0700, files 0600) and reports how many entries it changed.
// Symbolic links are left alone, and not followed.
func tightenPermissions(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		want := mode.Perm() &^ 0o077
		if d.IsDir() {
			want = 0o700
		}
		if mode.Perm() == want {
			return nil
		}
		if err := os.Chmod(p, want); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("make the data directory %s owner-only: %w (opentrail keeps signing keys and every account's logs there; fix its ownership or permissions)", dir, err)
	}
	return n, nil
}

func (s *Store) init(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if err := s.initCold(ctx); err != nil {
		return err
	}
	if err := (lookups{s}).upgradeLocator(ctx); err != nil {
		return err
	}
	var maxSeq, maxBlock sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(seq) FROM events`).Scan(&maxSeq); err != nil {
		return fmt.Errorf("read last sequence: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT max(block) FROM blocks`).Scan(&maxBlock); err != nil {
		return fmt.Errorf("read last block: %w", err)
	}
	// Compacted events have left the events table and their blocks the
	// blocks table: the columnar tier's line and the block floor in meta
	// keep numbers from being used twice.
	blockFloor, err := s.cold.metaInt(ctx, metaBlockFloor)
	if err != nil {
		return err
	}
	last := max(maxSeq.Int64, s.cold.through)
	s.nextSeq = last + 1
	s.lastSeq.Store(last)
	s.nextBlock = max(maxBlock.Int64, blockFloor) + 1
	var lastIngest sql.NullTime
	if err := s.db.QueryRowContext(ctx, `SELECT max(ingest_time) FROM events`).Scan(&lastIngest); err != nil {
		return fmt.Errorf("read last ingest time: %w", err)
	}
	if lastIngest.Valid {
		s.lastIngest = lastIngest.Time.UTC()
	}
	for _, f := range s.cold.files {
		if f.MaxIngest.After(s.lastIngest) {
			s.lastIngest = f.MaxIngest
		}
	}

	committed := map[int64]int64{}
	rows, err := s.db.QueryContext(ctx, `SELECT seg, max(off + len) FROM blocks GROUP BY seg`)
	if err != nil {
		return fmt.Errorf("read segment ends: %w", err)
	}
	for rows.Next() {
		var seg, end int64
		if err := rows.Scan(&seg, &end); err != nil {
			rows.Close()
			return fmt.Errorf("read segment ends: %w", err)
		}
		committed[seg] = end
	}
	rows.Close()
	if s.segs, err = openSegments(s.dir, committed); err != nil {
		return err
	}

	ids, err := s.snap.openIDs(ctx)
	if err != nil {
		return err
	}
	s.ids = ids
	if err := (lookups{s}).upgradeDayIndex(ctx); err != nil {
		return err
	}
	if s.days, err = s.snap.openDays(ctx); err != nil {
		return err
	}

	s.enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("zstd encoder: %w", err)
	}
	s.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(64<<20))
	if err != nil {
		return fmt.Errorf("zstd decoder: %w", err)
	}
	if err := (lookups{s}).upgradeFailed(ctx); err != nil {
		return err
	}

	conn, err := s.connector.Connect(ctx)
	if err != nil {
		return fmt.Errorf("writer connection: %w", err)
	}
	s.wconn = conn
	if s.evApp, err = duckdb.NewAppenderFromConn(conn, "", "events"); err != nil {
		return fmt.Errorf("events appender: %w", err)
	}
	if s.blkApp, err = duckdb.NewAppenderFromConn(conn, "", "blocks"); err != nil {
		return fmt.Errorf("blocks appender: %w", err)
	}
	if s.dayApp, err = duckdb.NewAppenderFromConn(conn, "", "lookup_days"); err != nil {
		return fmt.Errorf("day index appender: %w", err)
	}
	s.ck.startCheckpointer()
	s.snap.startSnapshots()
	return nil
}

func (s *Store) loadIDs(ctx context.Context) (*idSet, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return nil, fmt.Errorf("count events: %w", err)
	}
	for _, f := range s.cold.files {
		n += f.Rows
	}
	ids := newIDSet(int(n))
	if err := s.cold.idsAfter(ctx, 0, ids.add); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT eid_hash FROM events`)
	if err != nil {
		return nil, fmt.Errorf("load event ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("load event ids: %w", err)
		}
		ids.add(uint64(h))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load event ids: %w", err)
	}
	return ids, nil
}

// Close flushes nothing (every Append is already durable) and closes the
// database. It is safe to call more than once.
func (s *Store) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		s.snap.stopSnapshots()
		s.ck.stopCheckpointer()
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if s.evApp != nil {
			errs = append(errs, s.evApp.Close())
		}
		if s.blkApp != nil {
			errs = append(errs, s.blkApp.Close())
		}
		if s.dayApp != nil {
			errs = append(errs, s.dayApp.Close())
		}
		if s.wconn != nil {
			errs = append(errs, s.wconn.Close())
		}
		if s.db != nil {
			errs = append(errs, s.db.Close())
		}
		if s.connector != nil {
			errs = append(errs, s.connector.Close())
		}
		if s.enc != nil {
			s.enc.Close()
		}
		if s.segs != nil {
			errs = append(errs, s.segs.close())
		}
		if s.dec != nil {
			s.dec.Close()
		}
	})
	return errors.Join(errs...)
}

// DB returns the underlying database for read-only SQL by other packages
// (queries, dashboards). Callers must not write through it.
func (s *Store) DB() *sql.DB { return s.db }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// hashID is the stable 64-bit hash of an eventID; eid_hash keeps it as a
// signed BIGINT (database/sql refuses uint64 with the high bit set).
func hashID(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// IsLocked reports whether err, from Open, means another process holds
// the data directory (DuckDB's lock on the database file).
func IsLocked(err error) bool {
	var le *LockedError
	return err != nil && (errors.As(err, &le) || strings.Contains(err.Error(), "Could not set lock on file"))
}

// LockedError is Open's error when another process holds the store.
type LockedError struct {
	Dir string
	// PID is the holder's process id, and Command its command line, as far
	// as they could be learned (0 and "" otherwise).
	PID     int
	Command string
	Waited  time.Duration
	Err     error // DuckDB's own report
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = fmt.Sprintf("process %d", e.PID)
		if e.Command != "" {
			holder += fmt.Sprintf(" (%s)", e.Command)
		}
	}
	waited := ""
	if e.Waited > 0 {
		waited = fmt.Sprintf(" after waiting %s", e.Waited)
	}
	return fmt.Sprintf("the data directory %s is in use by %s%s; stop that process, or give this one another --data directory: %v", e.Dir, holder, waited, e.Err)
}

func (e *LockedError) Unwrap() error { return e.Err }

// lockPID finds the holder's PID in DuckDB's lock error ("... (PID 123)").
var lockPID = regexp.MustCompile(`\(PID (\d+)\)`)

func newLockedError(dir string, waited time.Duration, err error) *LockedError {
	e := &LockedError{Dir: dir, Waited: waited, Err: err}
	if m := lockPID.FindStringSubmatch(err.Error()); m != nil {
		e.PID, _ = strconv.Atoi(m[1])
		if b, rerr := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", e.PID)); rerr == nil {
			args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
			e.Command = cut(strings.Join(args, " "), 200)
		}
	}
	return e
}

// cut shortens s to at most n bytes.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
