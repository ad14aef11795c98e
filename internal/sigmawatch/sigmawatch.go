// Package sigmawatch is the Sigma detector: a component (New → Start →
// Close) that consumes the committed event stream through a durable
// cursor, runs every record through the loaded Sigma rule set
// (internal/sigma: plain rules and correlation rules) and reports each
// match to a findings.Sink as a Signal. Delivery is at least once; the
// signals are keyed (the event id, or a correlation's group and window),
// so a replay after a crash records nothing twice.
//
// Rule sets are loaded from a directory at start (detection.sigma_dir) and
// through Load (the native API's PUT /v1/sigma/rules); they are kept in
// the store's DuckDB (tables sw_*), so they survive restarts. A loaded set
// applies to the events committed after the load; the consumer finishes
// the events before it with the set it replaced; Run applies the current
// set to stored history on demand (POST /v1/detections/runs). It is not the rule
// language (internal/sigma) nor the findings store (internal/findings).
package sigmawatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/poll"
	"github.com/opentrail/opentrail/internal/sigma"
	"github.com/opentrail/opentrail/internal/store"
)

// Stream is the part of the event store the detector reads (*store.Store
// implements it).
type Stream interface {
	ReadAfter(ctx context.Context, seq int64, limit int) ([]store.Event, error)
	CommittedSeq() int64
	// SeqBefore is the newest sequence number ingested before t (a
	// retroactive run starts there).
	SeqBefore(ctx context.Context, t time.Time) (int64, error)
	Cursor(ctx context.Context, name string) (int64, error)
	SetCursor(ctx context.Context, name string, seq int64) error
	DB() *sql.DB
}

// Config is what New needs.
type Config struct {
	Stream Stream        // required
	Sink   findings.Sink // required
	Clock  clock.Clock   // nil means the system clock
	Logger *slog.Logger
	// Dir, when set, is a directory of Sigma rule files (*.yml, *.yaml,
	// searched recursively) loaded at Start, replacing the stored set.
	Dir string
	// Builtin are rule files always part of the set, beside the loaded
	// ones (opentrail's own pack; named builtin/…). They are not stored:
	// each start uses the binary's.
	Builtin []File
	// Poll is how often the consumer looks for new events (default
	// 200ms).
	Poll time.Duration
}

// cursorName is the detector's durable cursor in the store.
const cursorName = "sigmawatch"

// Read sizes of one consumer step.
var readBatch = 5000

// File is one rule file as loaded: its name and its YAML text.
type File struct {
	File string `json:"File"`
	Text string `json:"Text"`
}

// LoadedRule is a rule of the active set.
type LoadedRule struct {
	ID, Title, Author, Level, Status, File string
}

// Report says what a load made of the files: the rules loaded and, by name
// and reason, those that were not.
type Report struct {
	Generation  int64
	LoadedAt    time.Time
	FromSeq     int64 // the set applies to events after this sequence number
	Files       int
	Loaded      []LoadedRule
	Unsupported []sigma.LoadError
}

// generation is one loaded rule set.
type generation struct {
	gen     int64
	fromSeq int64
	rs      *sigma.Ruleset
	corr    *correlator
	report  *Report
	files   []File // sorted by name
}

// Watch is the component.
type Watch struct {
	cfg Config
	st  Stream
	db  *sql.DB
	clk clock.Clock
	log *slog.Logger

	mu   sync.Mutex    // guards gens
	gens []*generation // oldest first; at most two

	syncMu   sync.Mutex // serialises Sync
	loaded   bool
	cur      int64 // every event through cur is reported
	saved    int64 // the cursor as last written
	savedAt  time.Time
	lazy     bool  // the sync in progress writes the cursor lazily
	observed int64 // the correlators have seen every event through observed
	advanced time.Time
	pending  []findings.Signal // correlation signals not yet recorded

	loop *poll.Loop
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS sw_sets (gen BIGINT PRIMARY KEY, from_seq BIGINT, loaded_at BIGINT)`,
	`CREATE TABLE IF NOT EXISTS sw_files (gen BIGINT, file VARCHAR, text VARCHAR)`,
}

// New creates the tables and loads the stored rule sets; Start loads
// Config.Dir and runs the consumer.
func New(cfg Config) (*Watch, error) {
	if cfg.Stream == nil || cfg.Sink == nil {
		return nil, errors.New("sigmawatch.New: Config.Stream and Config.Sink are required")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &Watch{cfg: cfg, st: cfg.Stream, db: cfg.Stream.DB(), clk: clock.Or(cfg.Clock), log: cfg.Logger}
	w.loop = poll.New(poll.Config{Name: "sigmawatch", Clock: w.clk, Every: cfg.Poll, Step: func(ctx context.Context) error { return w.sync(ctx, true) },
		OnError: func(err error) { w.log.Error("sigma: consume the event stream", slog.Any("err", err)) },
		OnStop:  w.flushCursor})
	ctx := context.Background()
	for _, q := range schema {
		if _, err := w.db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("sigmawatch: create tables: %w", err)
		}
	}
	if err := w.loadStored(ctx); err != nil {
		return nil, err
	}
	if len(w.gens) == 0 && len(cfg.Builtin) > 0 {
		// The built-in pack alone, from the events after this start.
		if _, err := w.Load(ctx, nil); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// loadStored builds the stored generations.
func (w *Watch) loadStored(ctx context.Context) error {
	rows, err := w.db.QueryContext(ctx, `SELECT gen, from_seq, loaded_at FROM sw_sets ORDER BY gen`)
	if err != nil {
		return fmt.Errorf("sigmawatch: read rule sets: %w", err)
	}
	type set struct{ gen, from, at int64 }
	var sets []set
	for rows.Next() {
		var s set
		if err := rows.Scan(&s.gen, &s.from, &s.at); err != nil {
			rows.Close()
			return fmt.Errorf("sigmawatch: read rule sets: %w", err)
		}
		sets = append(sets, s)
	}
	rows.Close()
	var gens []*generation
	for _, s := range sets {
		files, err := w.files(ctx, s.gen)
		if err != nil {
			return err
		}
		g := w.build(files)
		g.files = files
		g.gen, g.fromSeq = s.gen, s.from
		g.report.Generation, g.report.FromSeq, g.report.LoadedAt = s.gen, s.from, time.UnixMilli(s.at).UTC()
		gens = append(gens, g)
	}
	w.mu.Lock()
	w.gens = gens
	w.mu.Unlock()
	return nil
}

func (w *Watch) files(ctx context.Context, gen int64) ([]File, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT file, text FROM sw_files WHERE gen = ? ORDER BY file`, gen)
	if err != nil {
		return nil, fmt.Errorf("sigmawatch: read rule files: %w", err)
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		var f File
		if err := rows.Scan(&f.File, &f.Text); err != nil {
			return nil, fmt.Errorf("sigmawatch: read rule files: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// build parses the built-in files and files into a generation: every
// rule that loads, and every file or rule that does not, by name and
// reason.
func (w *Watch) build(files []File) *generation {
	files = append(slices.Clone(w.cfg.Builtin), files...)
	var (
		rules []*sigma.Rule
		errs  []sigma.LoadError
	)
	for _, f := range files {
		rs, err := sigma.ParseRules([]byte(f.Text), f.File)
		var les sigma.LoadErrors
		switch {
		case errors.As(err, &les):
			errs = append(errs, les...)
		case err != nil:
			errs = append(errs, sigma.LoadError{File: f.File, Reason: err.Error()})
		}
		rules = append(rules, rs...)
	}
	rs, lerrs := sigma.NewRuleset(rules)
	errs = append(errs, lerrs...)
	rep := &Report{Files: len(files), Loaded: []LoadedRule{}, Unsupported: errs}
	if rep.Unsupported == nil {
		rep.Unsupported = []sigma.LoadError{}
	}
	for _, r := range rs.Rules() {
		rep.Loaded = append(rep.Loaded, LoadedRule{ID: r.ID, Title: r.Title, Author: r.Author, Level: r.Level,
			Status: r.Status, File: r.File})
	}
	sort.Slice(rep.Loaded, func(i, j int) bool {
		if rep.Loaded[i].File != rep.Loaded[j].File {
			return rep.Loaded[i].File < rep.Loaded[j].File
		}
		return rep.Loaded[i].Title < rep.Loaded[j].Title
	})
	return &generation{rs: rs, corr: newCorrelator(rs), report: rep}
}

// LoadError is a load Load refuses as a whole (no file, a file named
// twice, an empty name); rules that do not load are in the Report instead.
type LoadError struct{ Reason string }

func (e *LoadError) Error() string { return e.Reason }

// Load replaces the rule set with the rules of files and returns the
// load report. The new set applies to the events committed after it; it
// is durable when Load returns.
func (w *Watch) Load(ctx context.Context, files []File) (*Report, error) {
	seen := map[string]bool{}
	for _, f := range files {
		if strings.TrimSpace(f.File) == "" {
			return nil, &LoadError{"every rule file needs a File name"}
		}
		if seen[f.File] {
			return nil, &LoadError{fmt.Sprintf("rule file %q is given twice", f.File)}
		}
		seen[f.File] = true
	}
	files = slices.Clone(files)
	for i := range files {
		// The database keeps text as UTF-8.
		files[i].File = strings.ToValidUTF8(files[i].File, "\uFFFD")
		files[i].Text = strings.ToValidUTF8(files[i].Text, "\uFFFD")
	}
	sort.Slice(files, func(i, j int) bool { return files[i].File < files[j].File })
	w.mu.Lock()
	defer w.mu.Unlock()
	var gen int64 = 1
	if n := len(w.gens); n > 0 {
		if slices.Equal(w.gens[n-1].files, files) {
			// The same files again (a restart with detection.sigma_dir):
			// the active set, and its correlations' state, stay.
			return w.gens[n-1].report, nil
		}
		gen = w.gens[n-1].gen + 1
	}
	g := w.build(files)
	g.files = files
	now := w.clk.Now().UTC().Truncate(time.Millisecond)
	from := w.st.CommittedSeq()
	g.gen, g.fromSeq = gen, from
	g.report.Generation, g.report.FromSeq, g.report.LoadedAt = gen, from, now
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store rule set: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO sw_sets VALUES (?, ?, ?)`, gen, from, now.UnixMilli()); err != nil {
		return nil, fmt.Errorf("store rule set: %w", err)
	}
	for _, f := range files {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sw_files VALUES (?, ?, ?)`, gen, f.File, f.Text); err != nil {
			return nil, fmt.Errorf("store rule set: %w", err)
		}
	}
	// Keep this set and the one before (the consumer may still be
	// working through events committed before the load).
	if _, err := tx.ExecContext(ctx, `DELETE FROM sw_files WHERE gen < ?`, gen-1); err != nil {
		return nil, fmt.Errorf("store rule set: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sw_sets WHERE gen < ?`, gen-1); err != nil {
		return nil, fmt.Errorf("store rule set: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store rule set: %w", err)
	}
	w.gens = append(w.gens, g)
	if len(w.gens) > 2 {
		w.gens = w.gens[len(w.gens)-2:]
	}
	w.log.Info("sigma: rule set loaded", slog.Int64("generation", gen), slog.Int("rules", len(g.report.Loaded)),
		slog.Int("unsupported", len(g.report.Unsupported)))
	return g.report, nil
}

// LoadDir loads every *.yml and *.yaml file under dir (recursively) as
// Load does; the files are named by their paths relative to dir.
func (w *Watch) LoadDir(ctx context.Context, dir string) (*Report, error) {
	files, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	return w.Load(ctx, files)
}

// ReadDir reads every *.yml and *.yaml file under dir (recursively),
// named by their paths relative to dir, in name order.
func ReadDir(dir string) ([]File, error) {
	var files []File
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if ext := strings.ToLower(filepath.Ext(path)); ext != ".yml" && ext != ".yaml" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			rel = path
		}
		files = append(files, File{File: filepath.ToSlash(rel), Text: string(b)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read sigma rules: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("read sigma rules: no .yml or .yaml files under %s", dir)
	}
	return files, nil
}

// Current returns the report of the active rule set (an empty one before
// any load).
func (w *Watch) Current() *Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.gens); n > 0 {
		return w.gens[n-1].report
	}
	return &Report{Loaded: []LoadedRule{}, Unsupported: []sigma.LoadError{}}
}

// Start loads Config.Dir (if set) and runs the consumer until Close.
func (w *Watch) Start(ctx context.Context) error {
	if w.cfg.Dir != "" {
		rep, err := w.LoadDir(ctx, w.cfg.Dir)
		if err != nil {
			return fmt.Errorf("detection.sigma_dir: %w", err)
		}
		for _, e := range rep.Unsupported {
			w.log.Warn("sigma: rule not loaded", slog.String("file", e.File), slog.String("rule", e.Rule), slog.String("reason", e.Reason))
		}
	}
	w.loop.Start()
	return nil
}

// Close stops the consumer and saves its cursor. Events not yet
// consumed are consumed after the next start.
func (w *Watch) Close(ctx context.Context) error { return w.loop.Close(ctx) }

// Wake makes the consumer look at the stream now.
func (w *Watch) Wake() { w.loop.Wake() }

// Sync consumes the committed stream up to its end. The background loop
// calls it; tests call it directly. Calls are serialised.
func (w *Watch) Sync(ctx context.Context) error { return w.sync(ctx, false) }

// sync is Sync; a lazy one (the loop's) writes the cursor only
// cursorEvery after the last write. A stream of small commits (a capture
// gateway's, one per call) would otherwise cost a cursor write per commit;
// the flush on stop saves the rest, and a replay after a crash reports
// nothing twice (the sink drops signals it has).
func (w *Watch) sync(ctx context.Context, lazy bool) error {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	w.lazy = lazy
	for {
		n, err := w.step(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// step consumes one batch: match, report the signals (the sink drops
// keys it has), then move the durable cursor. A failed step forgets the
// position, so the next one starts from the saved cursor.
func (w *Watch) step(ctx context.Context) (n int, err error) {
	defer func() {
		if err != nil {
			w.loaded = false
		}
	}()
	if !w.loaded {
		cur, err := w.st.Cursor(ctx, cursorName)
		if err != nil {
			return 0, err
		}
		w.cur, w.loaded = cur, true
		w.saved, w.savedAt = cur, w.clk.Now()
	}
	last := w.st.CommittedSeq()
	w.mu.Lock()
	gens := w.gens
	w.mu.Unlock()
	if w.cur >= last {
		return 0, w.advance(ctx, gens)
	}
	if len(gens) == 0 {
		// No rules: nothing to match; skip the stream.
		w.cur = last
		return 0, w.saveCursor(ctx, false)
	}
	evs, err := w.st.ReadAfter(ctx, w.cur, readBatch)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	var (
		sigs    []findings.Signal
		matched []*sigma.Rule
	)
	for i := range evs {
		ev := &evs[i]
		g := pick(gens, ev.Seq)
		if g == nil {
			continue
		}
		matched = g.rs.Match(ev.Rec.Raw, matched[:0])
		if len(matched) > 0 {
			facts := factsOf(ev)
			for _, r := range matched {
				if !r.Suppressed { // it only feeds a correlation
					sigs = append(sigs, eventSignal(r, facts))
				}
			}
		}
		if ev.Seq > w.observed {
			// A correlator sees each event once per process, even when a
			// failed step reads it again; its signals are kept until
			// they are recorded.
			w.pending = g.corr.observe(ev, matched, w.pending)
			w.observed = ev.Seq
		}
	}
	sigs = append(sigs, w.pending...)
	if len(sigs) > 0 {
		if err := w.cfg.Sink.Record(ctx, sigs); err != nil {
			return 0, fmt.Errorf("record sigma signals: %w", err)
		}
	}
	w.pending = nil
	seq := evs[len(evs)-1].Seq
	w.cur = seq
	if err := w.saveCursor(ctx, false); err != nil {
		return 0, err
	}
	return len(evs), nil
}

// advanceEvery is how often an idle consumer closes the correlation
// windows that have ended by the clock.
const advanceEvery = 10 * time.Second

// advance closes, now and then while the stream is idle, the correlation
// windows that ended before now and reports their hits (a condition such
// as "fewer than 3 in 10 minutes" is decided only when its window ends).
func (w *Watch) advance(ctx context.Context, gens []*generation) error {
	now := w.clk.Now()
	if now.Sub(w.advanced) < advanceEvery {
		return nil
	}
	w.advanced = now
	for _, g := range gens {
		w.pending = g.corr.advance(now, w.pending)
	}
	if len(w.pending) == 0 {
		return nil
	}
	if err := w.cfg.Sink.Record(ctx, w.pending); err != nil {
		return fmt.Errorf("record sigma signals: %w", err)
	}
	w.pending = nil
	return nil
}

// saveCursor writes the cursor if it moved: at once, unless the sync in
// progress is lazy and the last write is less than cursorEvery ago (force
// writes anyway).
func (w *Watch) saveCursor(ctx context.Context, force bool) error {
	if !w.loaded || w.cur <= w.saved || !force && w.lazy && w.clk.Now().Sub(w.savedAt) < cursorEvery {
		return nil
	}
	if err := w.st.SetCursor(ctx, cursorName, w.cur); err != nil {
		return err
	}
	w.saved, w.savedAt = w.cur, w.clk.Now()
	return nil
}

// flushCursor saves the cursor held in memory when the loop stops, so
// that a clean stop replays nothing after the next start.
func (w *Watch) flushCursor() {
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.saveCursor(ctx, true); err != nil {
		w.log.Error("sigma: save the consumer's cursor", slog.Any("err", err))
	}
}

// cursorEvery bounds how often a lazy sync writes the cursor.
const cursorEvery = time.Second

// pick returns the generation that applies to the event at seq: the
// newest loaded before it was committed; nil for an event committed
// before every kept load.
func pick(gens []*generation, seq int64) *generation {
	for i := len(gens) - 1; i >= 0; i-- {
		if seq > gens[i].fromSeq {
			return gens[i]
		}
	}
	return nil
}
