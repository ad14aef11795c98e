// Package importer reads existing CloudTrail logs — a local directory or
// file, or an S3 bucket prefix — and stores their events through a Sink:
// a running server's POST /v1/events or a store opened directly.
//
// It understands CloudTrail's bucket layouts (see ClassifyKey), log files
// as CloudTrail writes them ({"Records":[...]}, gzip or not), NDJSON and
// bare JSON arrays. Insights files are imported too (their events have the
// Insight category); digest files are skipped; files and events
// are filtered by account, region and eventTime (Filter). Records are
// parsed with event.ParseLenient, so records that the strict validator
// would refuse (hand-made or anonymised logs) are repaired and imported,
// their repairs kept in the record.
//
// Imports are idempotent — the store keeps one event per eventID, so
// re-importing adds nothing, and a later record that reuses an eventID is
// counted as a duplicate, not stored — and resumable: a State records each
// file once all its events are stored, and a later run skips it.
//
// A bad file (unreadable, corrupt gzip, invalid JSON) or record (one that
// even ParseLenient refuses) is reported through Options.Report, counted
// and skipped; it never stops the import. Only a failing Sink does.
package importer

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/opentrail/opentrail/internal/event"
)

// Sink stores events. Write stores recs durably (it returns only when
// they are) and reports how many were new and how many were duplicates of
// stored events. It must be safe for concurrent use and idempotent: the
// importer retries a failed Write.
type Sink interface {
	Write(ctx context.Context, recs []*event.Record) (added, duplicates int, err error)
}

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
	FilesDone     atomic.Int64 // files read (good or bad)
	BytesDone     atomic.Int64
	FilesResumed  atomic.Int64 // finished by an earlier run
	FilesSkipped  atomic.Int64 // digest files
	FilesFiltered atomic.Int64 // skipped by their key (account, region, day)
	FilesIgnored  atomic.Int64 // not data files
	FilesBad      atomic.Int64
	Events        atomic.Int64 // records read
	Added         atomic.Int64
	Duplicates    atomic.Int64
	Filtered      atomic.Int64 // events outside the filter
	Rejected      atomic.Int64
	Repaired      atomic.Int64 // events ParseLenient changed
}

// Snapshot is a copy of Stats.
type Snapshot struct {
	FilesListed, BytesListed, FilesDone, BytesDone                    int64
	FilesResumed, FilesSkipped, FilesFiltered, FilesIgnored, FilesBad int64
	Events, Added, Duplicates, Filtered, Rejected, Repaired           int64
	ListingDone                                                       bool
}

// Snapshot returns the current counts.
func (s *Stats) Snapshot() Snapshot {
	return Snapshot{
		FilesListed: s.FilesListed.Load(), BytesListed: s.BytesListed.Load(),
		FilesDone: s.FilesDone.Load(), BytesDone: s.BytesDone.Load(),
		FilesResumed: s.FilesResumed.Load(), FilesSkipped: s.FilesSkipped.Load(),
		FilesFiltered: s.FilesFiltered.Load(), FilesIgnored: s.FilesIgnored.Load(),
		FilesBad: s.FilesBad.Load(), Events: s.Events.Load(), Added: s.Added.Load(),
		Duplicates: s.Duplicates.Load(), Filtered: s.Filtered.Load(),
		Rejected: s.Rejected.Load(), Repaired: s.Repaired.Load(), ListingDone: s.ListingDone.Load(),
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
				st.FilesSkipped.Add(1)
				return nil
			case im.opts.Filter.SkipFile(info):
				st.FilesFiltered.Add(1)
				return nil
			case im.opts.State != nil && im.opts.State.Done(src.Name(), o):
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
			added, dups, err := im.write(ctx, recs)
			if err != nil {
				return err
			}
			im.Stats.Added.Add(int64(added))
			im.Stats.Duplicates.Add(int64(dups))
			clear(recs)
			recs, size = recs[:0], 0
		}
		if im.opts.State != nil {
			if err := im.opts.State.MarkDone(im.opts.Source.Name(), files); err != nil {
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
func (im *Importer) write(ctx context.Context, recs []*event.Record) (int, int, error) {
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt*attempt) * 500 * time.Millisecond):
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			}
		}
		var added, dups int
		if added, dups, err = im.opts.Sink.Write(ctx, recs); err == nil {
			return added, dups, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrPermanent) {
			break
		}
	}
	return 0, 0, fmt.Errorf("store events: %w", err)
}

// ErrPermanent marks Sink errors that retrying cannot fix.
var ErrPermanent = errors.New("permanent failure")

// readFile reads one file and calls emit with each of its selected
// events. clean is false when the file or one of its records was bad (and
// reported); err is emit's error.
func (im *Importer) readFile(ctx context.Context, j job, buf *reader, emit func(*event.Record) error) (clean bool, err error) {
	path := im.opts.Source.Path(j.obj)
	bad := func(where string, err error) {
		im.opts.Report(Problem{Path: path, Where: where, Err: err})
	}
	data, err := im.load(ctx, j.obj, buf)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		im.Stats.FilesBad.Add(1)
		bad("", err)
		return false, nil
	}
	lopts := event.LenientOptions{Account: j.info.Account, Region: j.info.Region, Time: j.info.Day}
	if lopts.Time.IsZero() {
		lopts.Time = j.obj.ModTime
	}
	var (
		recs []*event.Record
		n    int
	)
	clean = true
	err = parseFile(data, lopts, func(rec *event.Record, repairs []event.Repair, err error) error {
		n++
		if err != nil {
			im.Stats.Rejected.Add(1)
			clean = false
			bad(fmt.Sprintf("record %d", n), err)
			return nil
		}
		if len(repairs) > 0 {
			im.Stats.Repaired.Add(1)
		}
		if !im.opts.Filter.Match(rec.AccountID, rec.AWSRegion, rec.EventTime) {
			im.Stats.Filtered.Add(1)
			return nil
		}
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		// The file could not be split: nothing of it is imported.
		im.Stats.FilesBad.Add(1)
		bad("", err)
		return false, nil
	}
	im.Stats.Events.Add(int64(n))
	for _, r := range recs {
		if err := emit(r); err != nil {
			return false, err
		}
	}
	return clean, nil
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

// parseFile calls fn with each record of a log file — {"Records":[...]},
// NDJSON, or a bare JSON array of records — parsed by event.ParseLenient.
func parseFile(data []byte, opts event.LenientOptions, fn func(*event.Record, []event.Repair, error) error) error {
	i := 0
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	if i < len(data) && data[i] == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			return fmt.Errorf("invalid JSON array: %w", err)
		}
		for _, e := range elems {
			if err := fn(event.ParseLenient(e, opts)); err != nil {
				return err
			}
		}
		return nil
	}
	return event.ParseBody(data, 1<<30, opts, fn)
}
