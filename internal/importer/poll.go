package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/store"
)

// Ledger is the durable key-value table a Poller records its files in;
// *store.Store implements it. Meta returns store.ErrNotFound for a key
// that was never set.
type Ledger interface {
	Meta(ctx context.Context, key string) ([]byte, error)
	SetMeta(ctx context.Context, key string, value []byte) error
}

// PollOptions configure a Poller. Source, Sink and Ledger are required.
type PollOptions struct {
	Source Source
	Sink   Sink
	Ledger Ledger
	Filter Filter
	// Interval is the pause between two listings (default 1m).
	Interval time.Duration
	Logger   *slog.Logger
	// OnFile, when set, is called after each file is recorded.
	OnFile func(FileResult)
	// OnError, when set, is called when a poll fails (listing, Sink or
	// Ledger); the files it did not finish are tried again next poll.
	OnError func(error)
}

// FileResult is what one polled file gave.
type FileResult struct {
	Path       string
	Bad        bool   // the file, or one of its records, was bad
	Reason     string // the first problem, when Bad
	Events     int64  // records read
	Added      int64
	Duplicates int64
	Conflicts  int64 // account and eventID stored with other content: not stored
}

// PollResult counts what one poll did.
type PollResult struct {
	Files      int // log files imported cleanly
	Bad        int // log files recorded as bad
	Events     int64
	Added      int64
	Duplicates int64
	Conflicts  int64
}

// Poller imports the new log files of a source again and again, as they
// arrive — a continuous import of a CloudTrail bucket. Between polls it
// imports the files that event notifications name (Notify), so they need
// not wait for the next poll.
//
// Every file it finishes is recorded in the Ledger under
// LedgerKey(source, key) with its size and ETag, once all its events are
// stored, so that a restarted Poller reads no finished file again and
// misses none. A bad file (unreadable, corrupt, or with records that fail
// parsing) is reported through the log with its path and reason and
// recorded as bad: it is read again only once its size or ETag changes.
// Files the Sink failed on are not recorded and are retried next poll.
type Poller struct {
	opts PollOptions
	log  *slog.Logger

	notes chan []string // keys from Notify

	mu    sync.Mutex
	known map[string]ledgerEntry // ledger entries read or written
}

// ledgerEntry is the value stored for one file.
type ledgerEntry struct {
	Size   int64     `json:"size"`
	ETag   string    `json:"etag,omitempty"`
	Status string    `json:"status"` // "done" or "bad"
	Reason string    `json:"reason,omitempty"`
	Events int64     `json:"events"`
	At     time.Time `json:"at"`
}

func (e ledgerEntry) matches(o Object) bool { return e.Size == o.Size && e.ETag == o.ETag }

// LedgerKey is the Ledger key under which a Poller records one file of a
// source.
func LedgerKey(source, key string) string {
	return "import-source:" + source + "\x00" + key
}

// NewPoller returns a Poller with opts' defaults filled in.
func NewPoller(opts PollOptions) *Poller {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Poller{opts: opts, log: log.With("source", opts.Source.Name()), known: map[string]ledgerEntry{},
		notes: make(chan []string, NotifyQueue)}
}

// Run polls until ctx ends: at once, then every Interval. Failed
// polls are logged (and passed to OnError) and tried again next time.
// Between polls it imports the objects Notify names as they come.
func (p *Poller) Run(ctx context.Context) {
	p.log.Info("polling import source", "interval", p.opts.Interval)
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for poll := true; ; {
		if poll {
			p.pollAndLog(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			poll = true
		case keys := <-p.notes:
			poll = false
			p.importNotified(ctx, keys)
		}
	}
}

func (p *Poller) pollAndLog(ctx context.Context) {
	res, err := p.PollOnce(ctx)
	if err != nil && ctx.Err() == nil {
		p.log.Error("import source poll failed", "err", err)
		if p.opts.OnError != nil {
			p.opts.OnError(err)
		}
	}
	if res.Files > 0 || res.Bad > 0 {
		p.log.Info("import source poll", "files", res.Files, "bad_files", res.Bad,
			"events", res.Events, "added", res.Added, "duplicates", res.Duplicates, "conflicts", res.Conflicts)
	}
}

// NotifyQueue is how many notified objects a Poller holds before Notify
// refuses more; the refused ones wait for the next poll.
const NotifyQueue = 1024

// Notify asks Run to import an object an event notification named, now
// rather than at the next poll. keys are the keys it may have (see
// NotifiedObject.Keys); the first that exists is imported, unless it is
// not a log file, is filtered out, or is recorded already. Notify does not
// wait: it reports false when the queue is full or the source cannot look
// up single objects. Nothing is lost either way — the next poll lists
// every file not yet recorded.
func (p *Poller) Notify(keys []string) bool {
	if _, ok := p.opts.Source.(Stater); !ok || len(keys) == 0 {
		return false
	}
	select {
	case p.notes <- keys:
		return true
	default:
		return false
	}
}

// importNotified imports the first of keys that exists.
func (p *Poller) importNotified(ctx context.Context, keys []string) {
	st := p.opts.Source.(Stater)
	for _, k := range keys {
		info := ClassifyKey(k)
		if !info.Kind.Imported() || p.opts.Filter.SkipFile(info) {
			continue
		}
		o, err := st.Stat(ctx, k)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			var done bool
			if done, err = p.recorded(ctx, o); err == nil && done {
				return
			}
		}
		if err == nil {
			_, err = p.importFile(ctx, o)
		}
		if err != nil && ctx.Err() == nil {
			p.log.Error("import of a notified file failed; the next poll tries again", "key", k, "err", err)
			if p.opts.OnError != nil {
				p.opts.OnError(err)
			}
		}
		return
	}
	p.log.Debug("notified object is not a log file of this source, or is gone", "keys", keys)
}

// PollOnce lists the source and imports, one after another, the log files
// not yet recorded (or recorded with another size or ETag). It returns at
// the first listing, Sink or Ledger error; the files finished before it
// stay recorded.
func (p *Poller) PollOnce(ctx context.Context) (PollResult, error) {
	var (
		res  PollResult
		todo []Object
	)
	src := p.opts.Source
	err := src.List(ctx, func(o Object) error {
		info := ClassifyKey(o.Key)
		if !info.Kind.Imported() || p.opts.Filter.SkipFile(info) {
			return nil
		}
		done, err := p.recorded(ctx, o)
		if err != nil {
			return err
		}
		if !done {
			todo = append(todo, o)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for _, o := range todo {
		fr, err := p.importFile(ctx, o)
		if err != nil {
			return res, err
		}
		if fr.Bad {
			res.Bad++
		} else {
			res.Files++
		}
		res.Events += fr.Events
		res.Added += fr.Added
		res.Duplicates += fr.Duplicates
		res.Conflicts += fr.Conflicts
	}
	return res, nil
}

// recorded reports whether o, as it is now, is in the ledger.
func (p *Poller) recorded(ctx context.Context, o Object) (bool, error) {
	key := LedgerKey(p.opts.Source.Name(), o.Key)
	p.mu.Lock()
	e, ok := p.known[key]
	p.mu.Unlock()
	if ok {
		return e.matches(o), nil
	}
	b, err := p.opts.Ledger.Meta(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read import ledger: %w", err)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		// An unreadable entry: import the file again (dedupe makes it safe).
		return false, nil
	}
	p.mu.Lock()
	p.known[key] = e
	p.mu.Unlock()
	return e.matches(o), nil
}

// importFile imports one file and records it.
func (p *Poller) importFile(ctx context.Context, o Object) (FileResult, error) {
	src := p.opts.Source
	fr := FileResult{Path: src.Path(o)}
	var (
		mu       sync.Mutex
		problems []Problem
	)
	one := &oneObject{Source: src, obj: o}
	im := New(Options{
		Source:   one,
		Sink:     p.opts.Sink,
		Filter:   p.opts.Filter,
		Parallel: 1,
		Report: func(pr Problem) {
			mu.Lock()
			problems = append(problems, pr)
			mu.Unlock()
		},
	})
	if err := im.Run(ctx); err != nil {
		return fr, fmt.Errorf("import %s: %w", fr.Path, err)
	}
	if err := one.err(); err != nil {
		return fr, fmt.Errorf("read %s: %w", fr.Path, err)
	}
	st := im.Stats.Snapshot()
	fr.Events, fr.Added, fr.Duplicates, fr.Conflicts = st.Events, st.Added, st.Duplicates, st.Conflicts
	e := ledgerEntry{Size: o.Size, ETag: o.ETag, Status: "done", Events: st.Events, At: time.Now().UTC()}
	if len(problems) > 0 {
		fr.Bad = true
		fr.Reason = problems[0].Err.Error()
		if w := problems[0].Where; w != "" {
			fr.Reason = w + ": " + fr.Reason
		}
		if len(problems) > 1 {
			fr.Reason += fmt.Sprintf(" (and %d more problems)", len(problems)-1)
		}
		e.Status, e.Reason = "bad", fr.Reason
		p.log.Warn("bad file in import source, skipped until it changes", "path", fr.Path, "reason", fr.Reason,
			"events_stored", st.Added+st.Duplicates)
	} else {
		p.log.Info("imported file", "path", fr.Path, "events", st.Events, "added", st.Added, "duplicates", st.Duplicates)
	}
	if st.Conflicts > 0 {
		p.log.Warn("conflicting duplicates in import source: events whose account and eventID are stored with other content were not stored",
			"path", fr.Path, "conflicts", st.Conflicts, "eventIDs", st.ConflictIDs)
	}
	b, _ := json.Marshal(e)
	key := LedgerKey(src.Name(), o.Key)
	if err := p.opts.Ledger.SetMeta(ctx, key, b); err != nil {
		return fr, fmt.Errorf("record %s: %w", fr.Path, err)
	}
	p.mu.Lock()
	p.known[key] = e
	p.mu.Unlock()
	if p.opts.OnFile != nil {
		p.opts.OnFile(fr)
	}
	return fr, nil
}

// oneObject is a Source that lists one object of another and remembers
// whether opening or reading it failed — a fault of the source (network,
// permissions), to retry, not of the file.
type oneObject struct {
	Source
	obj Object

	mu    sync.Mutex
	ioErr error
}

func (s *oneObject) List(_ context.Context, fn func(Object) error) error { return fn(s.obj) }

func (s *oneObject) Open(ctx context.Context, o Object) (io.ReadCloser, error) {
	rc, err := s.Source.Open(ctx, o)
	if err != nil {
		s.fail(err)
		return nil, err
	}
	return &watchedReader{ReadCloser: rc, src: s}, nil
}

func (s *oneObject) fail(err error) {
	s.mu.Lock()
	if s.ioErr == nil {
		s.ioErr = err
	}
	s.mu.Unlock()
}

func (s *oneObject) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ioErr
}

type watchedReader struct {
	io.ReadCloser
	src *oneObject
}

func (r *watchedReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	if err != nil && err != io.EOF {
		r.src.fail(err)
	}
	return n, err
}
