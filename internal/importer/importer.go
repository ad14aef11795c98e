// Package importer reads existing CloudTrail logs — a local directory or
// file, or an S3 bucket prefix — and stores their events through a Sink:
// a running server's POST /v1/events or a store opened directly.
//
// It understands CloudTrail's bucket layouts (see ClassifyKey) and judges
// what a file is by its content as well (see parseFile): log files as
// CloudTrail writes them ({"Records":[...]}, gzip or not, pretty-printed
// or not), NDJSON, a single record, bare JSON arrays; digest files, by key
// or by their members, are counted and skipped; a file that is none of
// these is one bad file. Insights files are imported too (their events
// have the Insight category); files and events are filtered by account,
// region and eventTime (Filter). Records are parsed with
// event.ParseLenient, so records that the strict validator would refuse
// (hand-made or anonymised logs) are repaired and imported, their repairs
// kept in the record; a record's missing time is taken from @timestamp or
// the file's date folder, never the clock, and a JSON object that is no
// record at all is rejected.
//
// Imports are idempotent — an event is its account and eventID, so
// re-importing adds nothing — and report, never fold away, a record that
// reuses a stored account and eventID with other content (a conflicting
// duplicate, not stored). They are resumable: a State records each file
// once all its events are stored, and a later run skips it.
//
// A bad file (unreadable, corrupt gzip, not a log) or record (one that
// even ParseLenient refuses) is reported through Options.Report, counted
// and skipped; it never stops the import. Only a failing Sink does.
package importer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/opentrail/opentrail/internal/event"
)

// Sink stores events. Write stores recs durably (it returns only when
// they are) and reports what became of them. It must be safe for
// concurrent use and idempotent: the importer retries a failed Write.
type Sink interface {
	Write(ctx context.Context, recs []*event.Record) (WriteResult, error)
}

// WriteResult is what a Sink did with a batch. An event is identified by
// its account and eventID: Duplicates were stored already, exactly so;
// Conflicts share their account and eventID with a stored event of other
// content and were not stored. ConflictIDs holds the eventIDs of the
// first few conflicts (at most MaxConflictIDs).
type WriteResult struct {
	Added, Duplicates, Conflicts int
	ConflictIDs                  []string
}

// MaxConflictIDs is how many eventIDs of conflicting duplicates an import
// keeps to report.
const MaxConflictIDs = 10

// Problem is a bad file or record, reported and skipped.
type Problem struct {
	Path  string // the file
	Where string // "record 7" for one record; "" for the file as a whole
	Err   error
}

func (p Problem) String() string {
	if p.Where == "" {
		return p.Path + ": " + p.Err.Error()
	}
	return p.Path + ": " + p.Where + ": " + p.Err.Error()
}

// Options configure an import. Source and Sink are required.
type Options struct {
	Source Source
	Sink   Sink
	// State, when set, records finished files and skips those an earlier
	// run finished.
	State  *State
	Filter Filter
	// Parallel is how many files are read and batches sent at once
	// (default 4).
	Parallel int
	// BatchSize is the most events one Sink.Write carries (default 1000);
	// BatchBytes caps its records' total size (default 4 MiB).
	BatchSize  int
	BatchBytes int
	// Report receives every bad file and record; it may be called
	// concurrently. nil discards them (they are still counted).
	Report func(Problem)
	// Listed, when set, is called in listing order with every file the
	// import selects, with done set for those an earlier run finished
	// (which it does not read again). Read is called with every file once
	// it has been read (good or bad), possibly concurrently.
	Listed func(o Object, done bool)
	Read   func(Object)
}

// Stats counts an import's progress. Read it with Snapshot while the
// import runs.
type Stats struct {
	FilesListed   atomic.Int64 // files to read (after skips)
	BytesListed   atomic.Int64
	ListingDone   atomic.Bool
	FilesDone     atomic.Int64 // files read (logs, Insights, digests by content, bad)
	BytesDone     atomic.Int64
	FilesResumed  atomic.Int64 // finished by an earlier run
	FilesLog      atomic.Int64 // log files read
	FilesInsight  atomic.Int64 // Insights files read
	FilesDigest   atomic.Int64 // digest files, by key (not read) or by content
	FilesFiltered atomic.Int64 // skipped by their key (account, region, day)
	FilesIgnored  atomic.Int64 // not data files
	FilesBad      atomic.Int64
	Events        atomic.Int64 // records read
	Added         atomic.Int64
	Duplicates    atomic.Int64 // already stored, exactly so
	Conflicts     atomic.Int64 // account and eventID stored with other content
	Filtered      atomic.Int64 // events outside the filter
	Rejected      atomic.Int64
	Repaired      atomic.Int64 // events ParseLenient changed

	mu          sync.Mutex
	conflictIDs []string // the first MaxConflictIDs
}

// Snapshot is a copy of Stats.
type Snapshot struct {
	FilesListed, BytesListed, FilesDone, BytesDone                   int64
	FilesResumed, FilesLog, FilesInsight, FilesDigest, FilesFiltered int64
	FilesIgnored, FilesBad                                           int64
	Events, Added, Duplicates, Conflicts, Filtered, Rejected         int64
	Repaired                                                         int64
	// ConflictIDs are the eventIDs of the first conflicting duplicates
	// (at most MaxConflictIDs).
	ConflictIDs []string
	ListingDone bool
}

// Snapshot returns the current counts.
func (s *Stats) Snapshot() Snapshot {
	s.mu.Lock()
	ids := append([]string(nil), s.conflictIDs...)
	s.mu.Unlock()
	return Snapshot{
		FilesListed: s.FilesListed.Load(), BytesListed: s.BytesListed.Load(),
		FilesDone: s.FilesDone.Load(), BytesDone: s.BytesDone.Load(),
		FilesResumed: s.FilesResumed.Load(), FilesLog: s.FilesLog.Load(),
		FilesInsight: s.FilesInsight.Load(), FilesDigest: s.FilesDigest.Load(),
		FilesFiltered: s.FilesFiltered.Load(), FilesIgnored: s.FilesIgnored.Load(),
		FilesBad: s.FilesBad.Load(), Events: s.Events.Load(), Added: s.Added.Load(),
		Duplicates: s.Duplicates.Load(), Conflicts: s.Conflicts.Load(), Filtered: s.Filtered.Load(),
		Rejected: s.Rejected.Load(), Repaired: s.Repaired.Load(), ConflictIDs: ids,
		ListingDone: s.ListingDone.Load(),
	}
}

// count adds a Sink's result.
func (s *Stats) count(r WriteResult) {
	s.Added.Add(int64(r.Added))
	s.Duplicates.Add(int64(r.Duplicates))
	s.Conflicts.Add(int64(r.Conflicts))
	if len(r.ConflictIDs) > 0 {
		s.mu.Lock()
		for _, id := range r.ConflictIDs {
			if len(s.conflictIDs) < MaxConflictIDs {
				s.conflictIDs = append(s.conflictIDs, id)
			}
		}
		s.mu.Unlock()
	}
}

// Importer runs one import. Create it with New, read Stats at any time,
// and call Run once.
type Importer struct {
	opts  Options
	Stats Stats
}

// New returns an Importer with opts' defaults filled in.
func New(opts Options) *Importer {
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 4 << 20
	}
	if opts.Report == nil {
		opts.Report = func(Problem) {}
	}
	if s, ok := opts.Sink.(StoreSink); ok {
		opts.Sink = &groupSink{st: s.Store}
	}
	return &Importer{opts: opts}
}

type job struct {
	obj  Object
	info KeyInfo
}

// Run imports every selected file. It returns nil when all files were
// read, however many were bad; an error means the Sink, the State or the
// listing failed, or ctx ended — the files finished by then are in the
// State, and a new run resumes after them.
func (im *Importer) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	jobs := make(chan job, 4*im.opts.Parallel)
	src := im.opts.Source
	st := &im.Stats
	g.Go(func() error {
		defer close(jobs)
		defer st.ListingDone.Store(true)
		return src.List(ctx, func(o Object) error {
			info := ClassifyKey(o.Key)
			switch {
			case info.Kind == KindOther:
				st.FilesIgnored.Add(1)
				return nil
			case !info.Kind.Imported():
				st.FilesDigest.Add(1)
				return nil
			case im.opts.Filter.SkipFile(info):
				st.FilesFiltered.Add(1)
				return nil
			case im.opts.State != nil && im.done(o):
				st.FilesResumed.Add(1)
				if im.opts.Listed != nil {
					im.opts.Listed(o, true)
				}
				return nil
			}
			st.FilesListed.Add(1)
			st.BytesListed.Add(o.Size)
			if im.opts.Listed != nil {
				im.opts.Listed(o, false)
			}
			select {
			case jobs <- job{obj: o, info: info}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	for range im.opts.Parallel {
		g.Go(func() error { return im.work(ctx, jobs) })
	}
	return g.Wait()
}

// stateSource is the source name the State records a finished file
// under: the source's, with the filter's description when there is a
// filter. A file finished under one filter is not finished under another:
// the events that filter left out were never read into the store.
func (im *Importer) stateSource() string {
	if k := im.opts.Filter.Key(); k != "" {
		return im.opts.Source.Name() + "\x00" + k
	}
	return im.opts.Source.Name()
}

// done reports whether an earlier run finished o with no filter or with
// this run's.
func (im *Importer) done(o Object) bool {
	name := im.opts.Source.Name()
	return im.opts.State.Done(name, o) || (im.stateSource() != name && im.opts.State.Done(im.stateSource(), o))
}

// work reads files and sends their events in batches that may span files;
// a file is marked done once the batch holding its last events is stored.
func (im *Importer) work(ctx context.Context, jobs <-chan job) error {
	var (
		recs    []*event.Record
		size    int
		files   []Object // fully read, waiting for the next flush
		scratch reader
	)
	flush := func() error {
		if len(recs) > 0 {
			res, err := im.write(ctx, recs)
			if err != nil {
				return err
			}
			im.Stats.count(res)
			clear(recs)
			recs, size = recs[:0], 0
		}
		if im.opts.State != nil {
			if err := im.opts.State.MarkDone(im.stateSource(), files); err != nil {
				return err
			}
		}
		files = files[:0]
		return nil
	}
	for {
		var (
			j  job
			ok bool
		)
		select {
		case j, ok = <-jobs:
		default:
			// Nothing queued: store what is pending rather than wait.
			if err := flush(); err != nil {
				return err
			}
			select {
			case j, ok = <-jobs:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			return flush()
		}
		clean, err := im.readFile(ctx, j, &scratch, func(r *event.Record) error {
			recs = append(recs, r)
			size += len(r.Raw)
			if len(recs) >= im.opts.BatchSize || size >= im.opts.BatchBytes {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		im.Stats.FilesDone.Add(1)
		im.Stats.BytesDone.Add(j.obj.Size)
		if im.opts.Read != nil {
			im.opts.Read(j.obj)
		}
		if clean {
			// Files with problems are read again by the next run.
			files = append(files, j.obj)
		}
		if len(recs) == 0 && len(files) > 0 {
			// Every event read so far is stored: record the files now.
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// write calls the Sink, retrying failures a few times.
func (im *Importer) write(ctx context.Context, recs []*event.Record) (WriteResult, error) {
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt*attempt) * 500 * time.Millisecond):
			case <-ctx.Done():
				return WriteResult{}, ctx.Err()
			}
		}
		var res WriteResult
		if res, err = im.opts.Sink.Write(ctx, recs); err == nil {
			return res, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrPermanent) {
			break
		}
	}
	return WriteResult{}, fmt.Errorf("store events: %w", err)
}

// ErrPermanent marks Sink errors that retrying cannot fix.
var ErrPermanent = errors.New("permanent failure")

// readFile reads one file and calls emit with each of its selected
// events. clean is false when the file or one of its records was bad (and
// reported); err is emit's error.
func (im *Importer) readFile(ctx context.Context, j job, buf *reader, emit func(*event.Record) error) (clean bool, err error) {
	path := im.opts.Source.Path(j.obj)
	badFile := func(err error) (bool, error) {
		im.Stats.FilesBad.Add(1)
		im.opts.Report(Problem{Path: path, Err: err})
		return false, nil
	}
	data, err := im.load(ctx, j.obj, buf)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return badFile(err)
	}
	// A record without a time takes the day of the file's date folder, and
	// without one is rejected: never the time of the import.
	lopts := event.LenientOptions{Account: j.info.Account, Region: j.info.Region, Time: j.info.Day}
	var (
		recs      []*event.Record
		rejected  []Problem
		repaired  int64
		n         int
		notRecord int
	)
	digest, err := parseFile(data, lopts, func(rec *event.Record, repairs []event.Repair, err error) error {
		n++
		if err != nil {
			if errors.Is(err, event.ErrNotRecord) {
				notRecord++
			}
			rejected = append(rejected, Problem{Path: path, Where: fmt.Sprintf("record %d", n), Err: err})
			return nil
		}
		if len(repairs) > 0 {
			repaired++
		}
		if !im.opts.Filter.Match(rec.AccountID, rec.AWSRegion, rec.EventTime) {
			im.Stats.Filtered.Add(1)
			return nil
		}
		recs = append(recs, rec)
		return nil
	})
	switch {
	case err != nil:
		// The file could not be read as records: nothing of it is imported.
		return badFile(err)
	case digest:
		im.Stats.FilesDigest.Add(1)
		return true, nil
	case n > 0 && notRecord == n:
		return badFile(fmt.Errorf("%w: it is JSON but holds no CloudTrail record (%s: %v)", ErrNotLog, rejected[0].Where, rejected[0].Err))
	}
	if j.info.Kind == KindInsight {
		im.Stats.FilesInsight.Add(1)
	} else {
		im.Stats.FilesLog.Add(1)
	}
	im.Stats.Events.Add(int64(n))
	im.Stats.Repaired.Add(repaired)
	im.Stats.Rejected.Add(int64(len(rejected)))
	for _, p := range rejected {
		im.opts.Report(p)
	}
	for _, r := range recs {
		if err := emit(r); err != nil {
			return false, err
		}
	}
	return len(rejected) == 0, nil
}

// reader holds one worker's buffers and gzip reader, reused from file to
// file.
type reader struct {
	raw, plain bytes.Buffer
	zr         *gzip.Reader
}

// load reads an object, gunzipping it when it starts with gzip's magic
// bytes. The result aliases buf and is valid until the next load.
func (im *Importer) load(ctx context.Context, o Object, buf *reader) ([]byte, error) {
	rc, err := im.opts.Source.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf.raw.Reset()
	if o.Size > 0 && o.Size < 1<<30 {
		buf.raw.Grow(int(o.Size) + bytes.MinRead)
	}
	if _, err := buf.raw.ReadFrom(rc); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	raw := buf.raw.Bytes()
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw, nil
	}
	if buf.zr == nil {
		buf.zr, err = gzip.NewReader(bytes.NewReader(raw))
	} else {
		err = buf.zr.Reset(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	buf.plain.Reset()
	if len(raw) >= 4 {
		// The trailer's ISIZE is the uncompressed size mod 2^32: a good
		// first guess for the buffer, capped against corrupt trailers.
		if n := int(binary.LittleEndian.Uint32(raw[len(raw)-4:])); n < 64*len(raw) {
			buf.plain.Grow(n + bytes.MinRead)
		}
	}
	if _, err := buf.plain.ReadFrom(buf.zr); err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	return buf.plain.Bytes(), nil
}
