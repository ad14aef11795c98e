package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/columnar"
	"github.com/opentrail/opentrail/internal/event"
)

// The cold tier (docs/storage.md "Columnar files"): events older than the
// hot tail live in zstd Parquet files under <data>/columnar, one directory
// per account, region and UTC day of eventTime (Hive partitions), written
// by Compact. Each row is the record shredded by internal/columnar plus the
// store's own columns (ColdColumns). The columnar_files table lists the
// live files; a file on disk that it does not list is a leftover of a
// compaction that did not commit and is deleted at Open.
//
// Every event with a sequence number at most ColdThrough is in a listed
// file (or was removed by retention); every later one is in the events
// table. Compact moves that line in one transaction that also deletes the
// hot rows, under tierMu, which readers of both tiers hold so that they
// never see an event twice or miss one.

// ColumnarDir is the directory of the columnar files inside the data
// directory.
const ColumnarDir = "columnar"

// ColdColumns are the store's own columns in every columnar file, before
// the record's (columnar.Columns). account, region and date are the Hive
// partition keys of the file's directory.
var ColdColumns = []columnar.Column{
	{Name: "_seq", Type: "BIGINT"},
	{Name: "_ingest_time", Type: "TIMESTAMP"},
	{Name: "_category", Type: "VARCHAR"},
	{Name: "_username", Type: "VARCHAR"},
	{Name: "_read_only", Type: "BOOLEAN"},
	{Name: "_resource_types", Type: "VARCHAR[]"},
	{Name: "_resource_names", Type: "VARCHAR[]"},
	{Name: "_imported", Type: "BOOLEAN"},
}

// storeFormat is the layout this release writes: 1 is the segments-only
// store, 2 adds the columnar tier, 3 the events table's failed column
// (failed.go) and the event locator (locator.go), which Open adds to an
// older store in place. A store marked with a newer format is refused:
// an older release's appender would not fill the failed column.
const storeFormat = 3

const coldSchema = `
CREATE TABLE IF NOT EXISTS columnar_files (
	path          VARCHAR PRIMARY KEY,
	account       VARCHAR NOT NULL,
	region        VARCHAR NOT NULL,
	day           DATE NOT NULL,
	min_seq       BIGINT NOT NULL,
	max_seq       BIGINT NOT NULL,
	min_time      TIMESTAMP NOT NULL,
	max_time      TIMESTAMP NOT NULL,
	min_ingest    TIMESTAMP NOT NULL,
	max_ingest    TIMESTAMP NOT NULL,
	rows          BIGINT NOT NULL,
	imported_rows BIGINT NOT NULL,
	bytes         BIGINT NOT NULL,
	created       TIMESTAMP NOT NULL
);
`

// Meta keys of the cold tier.
const (
	metaFormat      = "store-format"
	metaColdThrough = "columnar-through"
	metaBlockFloor  = "block-floor"
)

// ColdFile is one columnar file as the manifest lists it.
type ColdFile struct {
	Path                 string // relative to the columnar directory, with '/'
	Account, Region      string
	Day                  time.Time
	MinSeq, MaxSeq       int64
	MinTime, MaxTime     time.Time
	MinIngest, MaxIngest time.Time
	Rows, ImportedRows   int64
	Bytes                int64
}

// cold is the in-memory manifest and the line between the tiers. Readers
// hold mu shared while they read both tiers; Compact and retention hold it
// exclusively while they commit a change of tiers.
type cold struct {
	st      *Store
	mu      sync.RWMutex
	through int64 // every seq <= through is cold (or gone)
	files   []ColdFile

	// refs counts readers of each file (queries hold their files for
	// their whole run); retention defers removing a file in use.
	refMu   sync.Mutex
	refs    map[string]int
	doomed  map[string]bool
	dir     string
	compact sync.Mutex // one compaction or retention change at a time

	// gen counts compactions; genRefs the SQL snapshots taken in each
	// generation. Blocks and segments of compacted events are swept only
	// when no snapshot of an older generation is open.
	gen          int64
	genRefs      map[int64]int
	sweepPending bool
}

// oldReaders reports whether a snapshot taken before the last compaction
// is still open. The caller holds mu.
func (c *cold) oldReaders() bool {
	c.refMu.Lock()
	defer c.refMu.Unlock()
	for g, n := range c.genRefs {
		if g < c.gen && n > 0 {
			return true
		}
	}
	return false
}

// initCold creates the manifest table, checks the store's format, loads the
// manifest and removes files no committed compaction wrote.
func (s *Store) initCold(ctx context.Context) error {
	s.cold = &cold{st: s, refs: map[string]int{}, doomed: map[string]bool{}, genRefs: map[int64]int{}, dir: filepath.Join(s.dir, ColumnarDir)}
	if _, err := s.db.ExecContext(ctx, coldSchema); err != nil {
		return fmt.Errorf("create columnar manifest: %w", err)
	}
	v, err := s.Meta(ctx, metaFormat)
	if errors.Is(err, ErrNotFound) {
		v, err = nil, nil
	}
	if err != nil {
		return err
	}
	if v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("the data directory %s has an unreadable store format %q: it was not written by opentrail, or is damaged", s.dir, v)
		}
		if n > storeFormat {
			return fmt.Errorf("the data directory %s was written by a newer opentrail (store format %d; this release reads formats up to %d): run that release or a newer one, or restore a backup taken before the upgrade", s.dir, n, storeFormat)
		}
	}
	if string(v) != strconv.Itoa(storeFormat) {
		if err := s.SetMeta(ctx, metaFormat, []byte(strconv.Itoa(storeFormat))); err != nil {
			return err
		}
	}
	if s.cold.through, err = s.cold.metaInt(ctx, metaColdThrough); err != nil {
		return err
	}
	if s.cold.files, err = s.cold.loadManifest(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(s.cold.dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", s.cold.dir, err)
	}
	return s.cold.removeOrphans()
}

// metaInt reads a decimal meta value; absent is 0.
func (c *cold) metaInt(ctx context.Context, key string) (int64, error) {
	v, err := c.st.Meta(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("meta %s: %q is not a number: store is damaged", key, v)
	}
	return n, nil
}

func (c *cold) loadManifest(ctx context.Context) ([]ColdFile, error) {
	rows, err := c.st.db.QueryContext(ctx, `SELECT path, account, region, day, min_seq, max_seq, min_time, max_time, min_ingest, max_ingest, rows, imported_rows, bytes FROM columnar_files ORDER BY min_seq, path`)
	if err != nil {
		return nil, fmt.Errorf("read columnar manifest: %w", err)
	}
	defer rows.Close()
	var out []ColdFile
	for rows.Next() {
		var f ColdFile
		if err := rows.Scan(&f.Path, &f.Account, &f.Region, &f.Day, &f.MinSeq, &f.MaxSeq, &f.MinTime, &f.MaxTime, &f.MinIngest, &f.MaxIngest, &f.Rows, &f.ImportedRows, &f.Bytes); err != nil {
			return nil, fmt.Errorf("read columnar manifest: %w", err)
		}
		out = append(out, f.utc())
	}
	return out, rows.Err()
}

func (f ColdFile) utc() ColdFile {
	f.Day, f.MinTime, f.MaxTime = f.Day.UTC(), f.MinTime.UTC(), f.MaxTime.UTC()
	f.MinIngest, f.MaxIngest = f.MinIngest.UTC(), f.MaxIngest.UTC()
	return f
}

// removeOrphans deletes what a compaction that never committed left in
// the columnar directory: temporary files and files the manifest does not
// list.
func (c *cold) removeOrphans() error {
	listed := make(map[string]bool, len(c.files))
	for _, f := range c.files {
		listed[f.Path] = true
	}
	var n int
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(c.dir, p)
		if err != nil {
			return err
		}
		if listed[filepath.ToSlash(rel)] {
			return nil
		}
		n++
		return os.Remove(p)
	})
	if err != nil {
		return fmt.Errorf("remove unfinished columnar files: %w", err)
	}
	if n > 0 {
		c.st.log.Info("removed files of an unfinished compaction", "files", n)
	}
	return nil
}

// ColdThrough is the newest sequence number in the columnar tier: every
// event up to it is in a columnar file (or was removed by retention).
func (s *Store) ColdThrough() int64 {
	s.cold.mu.RLock()
	defer s.cold.mu.RUnlock()
	return s.cold.through
}

// ColdFiles returns the manifest: every live columnar file.
func (s *Store) ColdFiles() []ColdFile {
	s.cold.mu.RLock()
	defer s.cold.mu.RUnlock()
	return slices.Clone(s.cold.files)
}

// ColdSnapshot is a consistent view of the tiers for one reader: the
// columnar files to read beside the events table, held until Release so
// retention does not remove them while the reader uses them.
type ColdSnapshot struct {
	Files   []string // absolute paths
	Rows    int64    // events in Files
	Through int64
	s       *Store
	gen     int64
	once    sync.Once
}

// Release lets retention remove the snapshot's files, and compaction the
// hot blocks the snapshot could still read.
func (c *ColdSnapshot) Release() {
	c.once.Do(func() {
		c.drop()
		c.s.cold.mu.RLock()
		pending := c.s.cold.sweepPending
		c.s.cold.mu.RUnlock()
		if !pending {
			return
		}
		go func() {
			if err := c.s.cold.sweep(context.Background()); err != nil {
				c.s.log.Warn("could not remove compacted blocks", "err", err)
			}
		}()
	})
}

// drop gives up the snapshot's references without taking cold.mu.
func (c *ColdSnapshot) drop() {
	c.s.cold.unref(c.Files)
	c.s.cold.refMu.Lock()
	if c.s.cold.genRefs[c.gen]--; c.s.cold.genRefs[c.gen] <= 0 {
		delete(c.s.cold.genRefs, c.gen)
	}
	c.s.cold.refMu.Unlock()
}

// SnapshotCold runs begin while the tiers cannot change (no compaction
// commits and no retention removes files), with the columnar files of the
// given accounts (all when accounts is nil). SQL readers create their view
// over the files and begin their transaction inside begin, so the events
// table they see and the files they read are the same moment's. The files
// stay on disk until the snapshot is released.
func (s *Store) SnapshotCold(accounts []string, begin func(*ColdSnapshot) error) (*ColdSnapshot, error) {
	return s.SnapshotColdRange(accounts, time.Time{}, time.Time{}, begin)
}

// SnapshotColdRange is SnapshotCold with only the files that may hold
// events whose eventTime is in [start, end] (by the manifest's MinTime
// and MaxTime; a zero start or end leaves that side open). The files
// kept may still hold events outside the range: readers filter them.
func (s *Store) SnapshotColdRange(accounts []string, start, end time.Time, begin func(*ColdSnapshot) error) (*ColdSnapshot, error) {
	s.cold.mu.RLock()
	defer s.cold.mu.RUnlock()
	snap := &ColdSnapshot{Through: s.cold.through, s: s, gen: s.cold.gen}
	s.cold.refMu.Lock()
	s.cold.genRefs[snap.gen]++
	s.cold.refMu.Unlock()
	for _, f := range s.cold.files {
		if !start.IsZero() && f.MaxTime.Before(start) || !end.IsZero() && f.MinTime.After(end) {
			continue
		}
		if accounts == nil || slices.Contains(accounts, f.Account) {
			snap.Files = append(snap.Files, s.cold.path(f.Path))
			snap.Rows += f.Rows
		}
	}
	s.cold.ref(snap.Files)
	if err := begin(snap); err != nil {
		// cold.mu is held here: give the references back without it.
		snap.once.Do(snap.drop)
		return nil, err
	}
	return snap, nil
}

func (c *cold) path(rel string) string {
	return filepath.Join(c.dir, filepath.FromSlash(rel))
}

func (c *cold) ref(paths []string) {
	c.refMu.Lock()
	defer c.refMu.Unlock()
	for _, p := range paths {
		c.refs[p]++
	}
}

func (c *cold) unref(paths []string) {
	c.refMu.Lock()
	defer c.refMu.Unlock()
	for _, p := range paths {
		if c.refs[p]--; c.refs[p] <= 0 {
			delete(c.refs, p)
			if c.doomed[p] {
				delete(c.doomed, p)
				if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					c.st.log.Warn("could not remove a columnar file retention dropped", "file", p, "err", err)
				}
			}
		}
	}
}

// removeColdFile removes a file the manifest no longer lists, now or when
// its last reader releases it.
func (c *cold) removeColdFile(p string) {
	c.refMu.Lock()
	defer c.refMu.Unlock()
	if c.refs[p] > 0 {
		c.doomed[p] = true
		return
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.st.log.Warn("could not remove a columnar file retention dropped", "file", p, "err", err)
	}
}

// ParquetSource is the read_parquet call over files, with the Hive
// partition keys typed as opentrail writes them.
func ParquetSource(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = quoteLiteral(f)
	}
	return `read_parquet([` + strings.Join(q, ", ") + `], hive_partitioning = true, hive_types = {'account': VARCHAR, 'region': VARCHAR, 'date': DATE})`
}

func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// coldRel is a relation over files with the events table's column names
// (seq, ingest_time, event_time, …) beside the record's columns, so the
// predicates written for the events table apply to it unchanged.
func coldRel(files []string) string {
	return `(SELECT _seq AS seq, _ingest_time AS ingest_time, "eventTime" AS event_time, "eventID" AS event_id,
	account, region, _category AS category, "eventSource" AS event_source, "eventName" AS event_name,
	_username AS username, coalesce("userIdentity"."accessKeyId", '') AS access_key_id, _read_only AS read_only,
	coalesce("errorCode", '') AS error_code, coalesce("sourceIPAddress", '') AS source_ip,
	_resource_types AS resource_types, _resource_names AS resource_names, _imported AS imported,
	` + coldFailed + ` AS failed, filename AS _file,
	* EXCLUDE (_seq, _ingest_time, _category, _username, _read_only, _resource_types, _resource_names, _imported)
FROM ` + ParquetSource(files) + `)`
}

// events reads the events of files that match where (over coldRel's
// columns), ordered and limited by tail, rebuilding each record.
func (c *cold) events(ctx context.Context, files []ColdFile, where string, args []any, tail string) ([]Event, error) {
	if len(files) == 0 {
		return nil, nil
	}
	rows, err := c.query(ctx, files, `seq, ingest_time, `+columnar.SelectList(""), where, args, tail)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := len(columnar.Columns)
	vals := make([]any, 2+n)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []Event
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read columnar files: %w", err)
		}
		seq, _ := vals[0].(int64)
		ingest, _ := vals[1].(time.Time)
		raw, err := columnar.Rebuild(vals[2:])
		if err != nil {
			return nil, fmt.Errorf("rebuild event %d from its columnar file: %w", seq, err)
		}
		out = append(out, Event{Seq: seq, IngestTime: ingest.UTC(), Rec: decodeStored(raw)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columnar files: %w", err)
	}
	return out, nil
}

// query selects sel from coldRel over files, where where holds (if not
// empty), followed by tail.
func (c *cold) query(ctx context.Context, files []ColdFile, sel, where string, args []any, tail string) (*sql.Rows, error) {
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = c.path(f.Path)
	}
	q := `SELECT ` + sel + ` FROM ` + coldRel(paths)
	if where != "" {
		q += ` WHERE ` + where
	}
	rows, err := c.st.db.QueryContext(ctx, q+" "+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("read columnar files: %w", err)
	}
	return rows, nil
}

// briefEvents is events for a Brief lookup: it reads only the columns of
// a brief event (Event.Brief) and the stored outcome.
func (c *cold) briefEvents(ctx context.Context, files []ColdFile, where string, args []any, tail string) ([]Event, error) {
	if len(files) == 0 {
		return nil, nil
	}
	rows, err := c.query(ctx, files, `seq, ingest_time, event_id, event_time, event_source, event_name, coalesce("eventType", ''), category,
	coalesce("awsRegion", ''), source_ip, error_code, account, username, access_key_id, read_only, resources, failed`, where, args, tail)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var (
			e         = Event{Brief: true}
			r         event.Record
			t         time.Time
			readOnly  sql.NullBool
			resources sql.NullString
		)
		if err := rows.Scan(&e.Seq, &e.IngestTime, &r.EventID, &t, &r.EventSource, &r.EventName, &r.EventType, &r.EventCategory,
			&r.AWSRegion, &r.SourceIP, &r.ErrorCode, &r.AccountID, &r.Username, &r.AccessKeyID, &readOnly, &resources, &e.failed); err != nil {
			return nil, fmt.Errorf("read columnar files: %w", err)
		}
		e.IngestTime, r.EventTime = e.IngestTime.UTC(), t.UTC()
		r.ReadOnly, r.ReadOnlySet = readOnly.Bool, readOnly.Valid
		if resources.Valid {
			r.Resources = event.ParseResources([]byte(resources.String))
		}
		e.Rec = &r
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columnar files: %w", err)
	}
	return out, nil
}

// filesWhere returns the manifest's files for which keep is true. The
// caller holds cold.mu.
func (c *cold) filesWhere(keep func(ColdFile) bool) []ColdFile {
	var out []ColdFile
	for _, f := range c.files {
		if keep(f) {
			out = append(out, f)
		}
	}
	return out
}

// stored adds to into the stored bytes, by (account, eventID), of the
// cold events with one of these eventIDs. The caller holds cold.mu.
func (c *cold) stored(ctx context.Context, ids []string, into map[eventKey][]byte) error {
	if len(c.files) == 0 || len(ids) == 0 {
		return nil
	}
	places, err := c.locate(ctx, ids)
	if err != nil || len(places) == 0 {
		return err
	}
	files := c.filesWhere(func(f ColdFile) bool { return f.holds(places) })
	if len(files) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	evs, err := c.eventsWithAccount(ctx, files, `"eventID" IN (`+placeholders(len(args))+`)`, args)
	if err != nil {
		return fmt.Errorf("check event ids: %w", err)
	}
	for _, e := range evs {
		into[eventKey{e.account, e.Rec.EventID}] = e.Rec.Raw
	}
	return nil
}

type accountEvent struct {
	Event
	account string
}

// eventsWithAccount is events that also returns each event's
// account (the Hive partition it is stored under).
func (c *cold) eventsWithAccount(ctx context.Context, files []ColdFile, where string, args []any) ([]accountEvent, error) {
	rows, err := c.query(ctx, files, `account, seq, ingest_time, `+columnar.SelectList(""), where, args, "")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vals := make([]any, 3+len(columnar.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []accountEvent
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		raw, err := columnar.Rebuild(vals[3:])
		if err != nil {
			return nil, err
		}
		acct, _ := vals[0].(string)
		seq, _ := vals[1].(int64)
		out = append(out, accountEvent{Event{Seq: seq, Rec: decodeStored(raw)}, acct})
	}
	return out, rows.Err()
}

// idsAfter calls add with the eventID hash of every cold event with
// a sequence number above seq (every cold event for seq 0).
func (c *cold) idsAfter(ctx context.Context, seq int64, add func(uint64)) error {
	var paths []string
	for _, f := range c.files {
		if f.MaxSeq > seq {
			paths = append(paths, c.path(f.Path))
		}
	}
	if len(paths) == 0 {
		return nil
	}
	rows, err := c.st.db.QueryContext(ctx, `SELECT "eventID" FROM `+ParquetSource(paths)+` WHERE _seq > ?`, seq)
	if err != nil {
		return fmt.Errorf("load event ids of columnar files: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id sql.NullString
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("load event ids of columnar files: %w", err)
		}
		add(hashID(id.String))
	}
	return rows.Err()
}

// totals is the number of events in the columnar tier and the size of
// its files.
func (c *cold) totals() (events, bytes int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, f := range c.files {
		events += f.Rows
		bytes += f.Bytes
	}
	return events, bytes
}

// partitionDir is a file's directory: account=…/region=…/date=…, each
// value escaped as Hive escapes partition values.
func partitionDir(account, region string, day time.Time) string {
	return "account=" + hiveEscape(account) + "/region=" + hiveEscape(region) + "/date=" + day.UTC().Format(time.DateOnly)
}

// hiveEscape percent-encodes what may not stand in a path segment or a
// Hive partition value.
func hiveEscape(v string) string {
	if v == "" {
		return "__HIVE_DEFAULT_PARTITION__"
	}
	return strings.ReplaceAll(url.PathEscape(v), "=", "%3D")
}
