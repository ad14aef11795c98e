// Package delivery writes every logging trail's events to its bucket as
// CloudTrail log files and, for trails with log file validation, the
// signed digest chain over them (hourly by default); a background
// verifier can re-check each digest after writing it. A [Deliverer] is a
// component: New, then Start (one goroutine per trail, plus the
// verifier), then Close(ctx). It reads the committed event stream and
// keeps each trail's cursor and chain in the event store's meta table,
// signs digests with the keys of an [Options.Keys] store (internal/keys),
// and reads the time and makes its poll and retry timers through
// [Options.Clock], so tests move a clock.Fake through delivery windows and
// digest periods instead of sleeping.
//
// It is not the rules of a trail (names, ARNs, settings and selectors are
// internal/trail, which this package calls), where its files go (object
// keys are internal/layout), the digest format and signature
// (internal/digest), or the key store itself.
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/metrics"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/poll"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// Delivery defaults.
const (
	DefaultInterval     = 5 * time.Minute
	MinInterval         = time.Second
	DefaultMaxFileBytes = 16 << 20
	DefaultMaxFileRecs  = 20000
	readBatch           = 4096
	stateKeyPrefix      = "delivery:"
)

// Options configure a Deliverer.
type Options struct {
	// Interval is the delivery window (default 5 minutes, at least 1 s).
	Interval time.Duration
	// Buckets resolves a trail's S3BucketName.
	Buckets objstore.Buckets
	// Org is the configured organisation, for organisation trails.
	Org *trail.Organization
	// MaxFileBytes and MaxFileRecords bound one log file's uncompressed
	// JSON and its records; a busier (account, region) gets several files
	// in one window.
	MaxFileBytes   int
	MaxFileRecords int
	// DigestInterval is the digest period of trails with log file
	// validation (default 1 hour; a multiple of Interval).
	DigestInterval time.Duration
	// Keys signs digests and gives the verifier the public keys; required
	// (the server passes its one keys.Keys, which ListPublicKeys and
	// /v1/keys share).
	Keys Keys
	// VerifyDigests re-validates every digest after writing it, with its
	// log files and its link to the digest before, and counts failures in
	// opentrail_digest_verify_failures_total.
	VerifyDigests bool
	// RetryMax caps the wait between attempts while the destination fails
	// (default: the interval, at most 30 s).
	RetryMax time.Duration
	Logger   *slog.Logger
	// Clock is the time delivery reads (to close windows and end digest
	// periods, and in the status) and makes its poll and retry timers
	// with; nil means clock.Real. Tests pass a clock.Fake and share it
	// with the store's Now, so windows and periods pass when the test
	// moves it.
	Clock   clock.Clock
	Metrics *metrics.Registry
	// Notices, when set, receives CloudTrail's notice for every log file
	// a trail with an SnsTopicName delivers; the file counts as delivered
	// only once the notice is accepted, and the notice's dedup id (the
	// file's bucket and key) makes one written again after a crash
	// notify once.
	Notices Publisher
}

// Publisher publishes a notification to an SNS topic of account; a second
// Publish with the same dedupID on the topic sends nothing
// (*topics.Topics implements it).
type Publisher interface {
	Publish(ctx context.Context, account, topicARN, subject, message, dedupID string) (messageID string, err error)
}

// state is a trail's durable delivery state, stored as JSON in the store's
// meta table under "delivery:<trail ARN>".
type state struct {
	// Created is the creation time of the trail this state belongs to; a
	// trail deleted and created again under the same ARN starts afresh.
	Created time.Time
	// Cursor: every event with a sequence number <= Cursor is in a
	// delivered file or not selected.
	Cursor int64
	// Window is the end of the open delivery window: the events ingested
	// before it and after the previous window go to its files. Zero when
	// no event has opened one.
	Window time.Time `json:",omitzero"`
	// Parts counts, per "account/region" group, the files written in the
	// open window; Done is the sequence number through which each group's
	// events are written.
	Parts map[string]int   `json:",omitempty"`
	Done  map[string]int64 `json:",omitempty"`
	// Chains are the trail's digest chains, by "account/region".
	Chains map[string]*chain `json:",omitempty"`
	trail.Status
}

// A Deliverer writes every logging trail's selected events to its bucket,
// one gzip file {"Records":[...]} per (account, region) and delivery
// window, under CloudTrail's keys. Each trail has a durable cursor over the
// committed stream; a replay after a crash writes byte-identical files to
// the same keys, which write-once storage turns into no-ops, so no event is
// lost or duplicated within a trail.
type Deliverer struct {
	st   *store.Store
	opts Options
	log  *slog.Logger
	poll time.Duration

	mu      sync.Mutex
	workers map[string]*worker // by trail ARN
	loop    *poll.Loop

	verifyJobs chan verifyJob // nil unless VerifyDigests

	filesTotal, eventsTotal, errorsTotal, digestsTotal *metrics.Counter
	verified, verifyFailures                           *metrics.Counter
}

// Keys is the signing-key store delivery uses (*keys.Keys implements it).
type Keys interface {
	// Signer returns the signer of region's key whose window holds t.
	Signer(ctx context.Context, region string, t time.Time) (digest.Signer, error)
	// PublicKeys returns region's public keys valid in [start, end].
	PublicKeys(ctx context.Context, region string, start, end time.Time) ([]digest.PublicKey, error)
}

// New returns a Deliverer reading from st; Start runs it. opts.Keys must
// be set.
func New(st *store.Store, opts Options) *Deliverer {
	if opts.Keys == nil {
		panic("delivery.New: Options.Keys is nil; pass the server's keys.Keys")
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	opts.Interval = max(opts.Interval, MinInterval)
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.MaxFileRecords <= 0 {
		opts.MaxFileRecords = DefaultMaxFileRecs
	}
	if opts.DigestInterval <= 0 {
		opts.DigestInterval = DefaultDigestInterval
	}
	if opts.DigestInterval%opts.Interval != 0 {
		// Digest periods must not split a delivery window.
		opts.DigestInterval = max(opts.Interval, opts.DigestInterval/opts.Interval*opts.Interval)
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = min(opts.Interval, 30*time.Second)
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	reg := opts.Metrics
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	d := &Deliverer{
		st:           st,
		opts:         opts,
		log:          opts.Logger,
		poll:         min(max(opts.Interval/5, 100*time.Millisecond), time.Second),
		workers:      make(map[string]*worker),
		filesTotal:   reg.NewCounter("opentrail_delivery_files_total", "Log files written to trail buckets."),
		eventsTotal:  reg.NewCounter("opentrail_delivery_events_total", "Events written to trail buckets."),
		errorsTotal:  reg.NewCounter("opentrail_delivery_errors_total", "Failed attempts to write a log file or a digest."),
		digestsTotal: reg.NewCounter("opentrail_delivery_digests_total", "Digest files written to trail buckets."),
		verified:     reg.NewCounter("opentrail_digest_verifications_total", "Digest chain checks run by the background verifier."),
		verifyFailures: reg.NewCounter("opentrail_digest_verify_failures_total",
			"Background checks that found a delivered log or digest file changed or missing."),
	}
	lc := poll.Config{Name: "delivery", Clock: opts.Clock, Every: d.poll, Step: d.sync,
		OnError: func(err error) { d.log.Error("delivery: read trails", "err", err) },
		OnStop:  d.stopWorkers}
	if opts.VerifyDigests {
		d.verifyJobs = make(chan verifyJob, 64)
		lc.Beside = d.verifyLoop
	}
	d.loop = poll.New(lc)
	return d
}

// Interval is the delivery window in use.
func (d *Deliverer) Interval() time.Duration { return d.opts.Interval }

// Start runs delivery in the background until Close: a loop that keeps
// one worker per trail, started and stopped as trails come and go, and
// the digest verifier when VerifyDigests is set.
func (d *Deliverer) Start() { d.loop.Start() }

// Close stops delivery and waits for in-flight writes. Events not yet
// delivered are delivered after the next start.
func (d *Deliverer) Close(ctx context.Context) error { return d.loop.Close(ctx) }

// Wake makes delivery look at the trails and the stream now rather than at
// its next poll (after a trail changes, for instance).
func (d *Deliverer) Wake() { d.loop.Wake() }

// Status returns a trail's delivery status; the zero Status if the trail
// has not delivered yet.
func (d *Deliverer) Status(ctx context.Context, arn string) (trail.Status, error) {
	d.mu.Lock()
	w := d.workers[arn]
	d.mu.Unlock()
	if w != nil {
		return w.status(), nil
	}
	st, err := d.loadState(ctx, arn)
	if err != nil {
		return trail.Status{}, err
	}
	return st.Status, nil
}

// Forget drops a deleted trail's delivery state.
func (d *Deliverer) Forget(ctx context.Context, arn string) error {
	d.mu.Lock()
	w := d.workers[arn]
	delete(d.workers, arn)
	d.mu.Unlock()
	if w != nil {
		w.cancel()
		<-w.done
	}
	return d.st.DeleteMeta(ctx, stateKeyPrefix+arn)
}

func (d *Deliverer) loadState(ctx context.Context, arn string) (state, error) {
	b, err := d.st.Meta(ctx, stateKeyPrefix+arn)
	if errors.Is(err, store.ErrNotFound) {
		return state{}, nil
	}
	if err != nil {
		return state{}, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, fmt.Errorf("decode delivery state of %s: %w", arn, err)
	}
	return st, nil
}

// stopWorkers stops every trail's worker and waits for them, as the
// loop stops.
func (d *Deliverer) stopWorkers() {
	d.mu.Lock()
	ws := make([]*worker, 0, len(d.workers))
	for _, w := range d.workers {
		ws = append(ws, w)
	}
	d.mu.Unlock()
	for _, w := range ws {
		w.cancel()
		<-w.done
	}
}

func (d *Deliverer) sync(ctx context.Context) error {
	gen := d.st.TrailsGeneration()
	trails, err := d.st.AllTrails(ctx)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(trails))
	for _, t := range trails {
		seen[t.ARN] = true
		set, err := trail.DecodeSettings(t.Doc)
		if err != nil {
			d.log.Error("delivery: trail settings", "trail", t.ARN, "err", err)
			continue
		}
		d.mu.Lock()
		w := d.workers[t.ARN]
		if w != nil && !w.created.Equal(t.Created) {
			d.mu.Unlock()
			w.cancel()
			<-w.done
			d.mu.Lock()
			w = nil
		}
		if w == nil {
			w = d.newWorker(ctx, t, set, gen)
			d.workers[t.ARN] = w
		} else {
			w.update(t, set, gen)
		}
		d.mu.Unlock()
	}
	d.mu.Lock()
	var gone []*worker
	for arn, w := range d.workers {
		if !seen[arn] {
			gone = append(gone, w)
			delete(d.workers, arn)
		}
	}
	d.mu.Unlock()
	for _, w := range gone {
		w.cancel()
		<-w.done
	}
	return nil
}

// group is one (account, region) of a trail's open window: the records
// not yet written.
type group struct {
	account, region string
	// insight: the group's records are Insights events, written as
	// CloudTrail-Insight/ files and listed in no digest.
	insight     bool
	recs        [][]byte
	bytes       int
	firstSeq    int64
	firstIngest time.Time
	lastSeq     int64
	lastIngest  time.Time
	// oldest and newest eventTime of the buffered records
	oldest, newest time.Time
}

func (g *group) reset() {
	g.recs, g.bytes = g.recs[:0], 0
	g.oldest, g.newest = time.Time{}, time.Time{}
}

type worker struct {
	d      *Deliverer
	cancel context.CancelFunc
	done   chan struct{}

	arn     string    // the trail's ARN
	created time.Time // the trail's creation time

	mu    sync.Mutex // guards trail, set, gen and st for readers
	trail store.Trail
	set   trail.Settings
	gen   int64 // the store's trails generation trail was read at or after

	st     state
	pos    int64 // the newest event read into the groups
	groups map[string]*group
	dirty  bool // st changed since it was saved
	fails  int
}

func (d *Deliverer) newWorker(parent context.Context, t store.Trail, set trail.Settings, gen int64) *worker {
	ctx, cancel := context.WithCancel(parent)
	w := &worker{d: d, cancel: cancel, done: make(chan struct{}), arn: t.ARN, created: t.Created, trail: t, set: set, gen: gen, groups: map[string]*group{}}
	go func() {
		defer close(w.done)
		w.run(ctx)
	}()
	return w
}

// update replaces the settings with a copy read at or after generation
// gen, unless the worker holds a newer one.
func (w *worker) update(t store.Trail, set trail.Settings, gen int64) {
	w.mu.Lock()
	if gen >= w.gen {
		w.trail, w.set, w.gen = t, set, gen
	}
	w.mu.Unlock()
}

func (w *worker) status() trail.Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st.Status
}

func (w *worker) settings() (store.Trail, trail.Settings) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.trail, w.set
}

func (w *worker) run(ctx context.Context) {
	log := w.d.log.With("trail", w.arn)
	if err := w.open(ctx); err != nil {
		if ctx.Err() == nil {
			log.Error("delivery: load state", "err", err)
		}
		return
	}
	for {
		wait := w.d.poll
		if err := w.step(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.fails++
			wait = min(w.d.opts.RetryMax, time.Duration(1<<min(w.fails-1, 16))*time.Second/2)
			wait = wait/2 + rand.N(wait/2+1)
			log.Warn("delivery failed; will retry", "err", err, "retry_in", wait.Round(time.Millisecond))
		} else {
			w.fails = 0
		}
		t := w.d.opts.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// open loads the trail's state, or starts it at the trail's creation.
func (w *worker) open(ctx context.Context) error {
	st, err := w.d.loadState(ctx, w.arn)
	if err != nil {
		return err
	}
	if !st.Created.Equal(w.created) {
		cur, err := w.d.st.SeqBefore(ctx, w.created)
		if err != nil {
			return err
		}
		st = state{Created: w.created, Cursor: cur}
		w.dirty = true
	}
	w.mu.Lock()
	w.st = st
	w.mu.Unlock()
	w.pos = st.Cursor
	return nil
}

// windowEnd is the end of the delivery window holding ingest time t.
func (w *worker) windowEnd(t time.Time) time.Time {
	iv := w.d.opts.Interval
	return t.Truncate(iv).Add(iv).UTC()
}

// step reads what was committed since the last step, writes the files
// that are due, and saves the state. On error, the groups read so far are
// kept for the next step.
func (w *worker) step(ctx context.Context) error {
	now := w.d.opts.Clock.Now().UTC()
	// Every event ingested before now has a sequence number <= last: the
	// store assigns ingest times under the lock LastSeq takes.
	last := w.d.st.LastSeq()
	// The settings must be at least as new as the events up to last: an
	// event ingested after StopLogging committed must meet the stopped
	// trail, not the copy the last sync left here.
	if err := w.refresh(ctx); err != nil {
		return err
	}
	t, set := w.settings()

	if !set.IsLogging && w.pendingRecs() == 0 {
		// Skip what was ingested after logging stopped (or everything, for
		// a trail that never logged) without reading it.
		var skipTo int64
		if set.StopLoggingTime != nil {
			var err error
			if skipTo, err = w.d.st.SeqBefore(ctx, *set.StopLoggingTime); err != nil {
				return err
			}
		}
		if w.pos >= skipTo {
			w.pos = max(w.pos, last)
			w.mu.Lock()
			w.st.Window, w.st.Parts, w.st.Done = time.Time{}, nil, nil
			if w.pos > w.st.Cursor {
				w.st.Cursor = w.pos
				w.dirty = true
			}
			if set.StartLoggingTime != nil {
				w.st.DeliveredThrough = later(w.st.DeliveredThrough, now)
			}
			w.mu.Unlock()
			clear(w.groups)
			if err := w.save(ctx); err != nil {
				return err
			}
			return w.emitDigests(ctx, t, set, now)
		}
	}

	for w.pos < last {
		evs, err := w.d.st.ReadAfter(ctx, w.pos, min(readBatch, int(last-w.pos)))
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		for i := range evs {
			ev := &evs[i]
			if ev.Seq > last {
				break
			}
			if !w.st.Window.IsZero() && !ev.IngestTime.Before(w.st.Window) {
				if err := w.closeWindow(ctx, t, set); err != nil {
					return err
				}
			}
			if w.st.Window.IsZero() {
				w.setWindow(w.windowEnd(ev.IngestTime))
			}
			if err := w.take(ctx, t, set, ev); err != nil {
				return err
			}
			w.pos = ev.Seq
		}
		if err := w.checkpoint(ctx, now, last); err != nil {
			return err
		}
	}
	// Every event ingested before the window's end has been read.
	if !w.st.Window.IsZero() && !now.Before(w.st.Window) {
		if err := w.closeWindow(ctx, t, set); err != nil {
			return err
		}
	}
	if err := w.checkpoint(ctx, now, last); err != nil {
		return err
	}
	return w.emitDigests(ctx, t, set, now)
}

// refresh rereads the trail's settings if any trail changed since they
// were read. A trail that is gone or was recreated is left to sync.
func (w *worker) refresh(ctx context.Context) error {
	gen := w.d.st.TrailsGeneration()
	w.mu.Lock()
	fresh := gen == w.gen
	w.mu.Unlock()
	if fresh {
		return nil
	}
	t, err := w.d.st.GetTrail(ctx, w.arn)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !t.Created.Equal(w.created) {
		return nil
	}
	set, err := trail.DecodeSettings(t.Doc)
	if err != nil {
		return fmt.Errorf("trail settings: %w", err)
	}
	w.update(t, set, gen)
	return nil
}

func (w *worker) setWindow(end time.Time) {
	w.mu.Lock()
	w.st.Window = end
	w.mu.Unlock()
	w.dirty = true
}

func (w *worker) pendingRecs() int {
	n := 0
	for _, g := range w.groups {
		n += len(g.recs)
	}
	return n
}

// selects reports whether the trail delivers rec, ingested at ingest,
// and whether into its Insights files: events the selectors take and the
// aggregated events of its templates go to its log files; Insights events
// of its Insights types to its CloudTrail-Insight/ files.
func (w *worker) selects(t store.Trail, set trail.Settings, rec *event.Record, ingest time.Time) (ok, insight bool) {
	org := w.d.opts.Org
	switch rec.EventCategory {
	case event.CategoryInsight:
		return set.SelectsInsight(t.Account, t.HomeRegion, org, rec, ingest, trail.InsightTypes(t.Doc)), true
	case event.CategoryAggregated:
		return set.SelectsAggregated(t.Account, t.HomeRegion, org, rec, ingest), false
	}
	return set.Selects(t.Account, t.HomeRegion, org, rec, ingest), false
}

// take adds one event of the open window to its group, writing the
// group's file when it is full.
func (w *worker) take(ctx context.Context, t store.Trail, set trail.Settings, ev *store.Event) error {
	rec := ev.Rec
	ok, insight := w.selects(t, set, rec, ev.IngestTime)
	if !ok {
		return nil
	}
	key := rec.AccountID + "/" + rec.AWSRegion
	if insight {
		key = layout.InsightTree + "/" + key
	}
	if done, ok := w.st.Done[key]; ok && ev.Seq <= done {
		return nil // written before a restart
	}
	g := w.groups[key]
	if g == nil {
		g = &group{account: rec.AccountID, region: rec.AWSRegion, insight: insight}
		w.groups[key] = g
	}
	if len(g.recs) > 0 && (g.bytes+len(rec.Raw)+1 > w.d.opts.MaxFileBytes || len(g.recs) >= w.d.opts.MaxFileRecords) {
		if err := w.write(ctx, t, set, key, g, false); err != nil {
			return err
		}
	}
	if len(g.recs) == 0 {
		g.firstSeq, g.firstIngest = ev.Seq, ev.IngestTime
	}
	g.recs = append(g.recs, rec.Raw)
	g.bytes += len(rec.Raw) + 1
	if g.oldest.IsZero() || rec.EventTime.Before(g.oldest) {
		g.oldest = rec.EventTime
	}
	if rec.EventTime.After(g.newest) {
		g.newest = rec.EventTime
	}
	g.lastSeq, g.lastIngest = ev.Seq, ev.IngestTime
	return nil
}

// closeWindow writes every group's last file of the open window.
func (w *worker) closeWindow(ctx context.Context, t store.Trail, set trail.Settings) error {
	keys := make([]string, 0, len(w.groups))
	for k, g := range w.groups {
		if len(g.recs) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := w.write(ctx, t, set, k, w.groups[k], true); err != nil {
			return err
		}
	}
	w.mu.Lock()
	w.st.DeliveredThrough = later(w.st.DeliveredThrough, w.st.Window)
	w.st.Cursor = max(w.st.Cursor, w.pos)
	w.st.Window, w.st.Parts, w.st.Done = time.Time{}, nil, nil
	w.mu.Unlock()
	clear(w.groups)
	w.dirty = true
	return w.save(ctx)
}

// checkpoint advances the cursor past everything written and saves the
// state when it changed.
func (w *worker) checkpoint(ctx context.Context, now time.Time, last int64) error {
	cur := w.pos
	var oldest time.Time
	for _, g := range w.groups {
		if len(g.recs) > 0 {
			cur = min(cur, g.firstSeq-1)
			if oldest.IsZero() || g.firstIngest.Before(oldest) {
				oldest = g.firstIngest
			}
		}
	}
	w.mu.Lock()
	if cur > w.st.Cursor {
		w.st.Cursor = cur
		w.dirty = true
	}
	through := oldest
	if oldest.IsZero() && w.pos >= last {
		through = now // everything ingested before now is read and written
	}
	if through.After(w.st.DeliveredThrough) {
		w.st.DeliveredThrough = through
		// The watermark alone is not worth a write; it is saved with the
		// next change and recomputed after a restart.
	}
	w.mu.Unlock()
	return w.save(ctx)
}

func (w *worker) save(ctx context.Context) error {
	if !w.dirty {
		return nil
	}
	w.mu.Lock()
	b, err := json.Marshal(&w.st)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	if err := w.d.st.SetMeta(ctx, stateKeyPrefix+w.arn, b); err != nil {
		return err
	}
	w.dirty = false
	return nil
}

// deliveryErrorText is what GetTrailStatus shows for a failed delivery.
func deliveryErrorText(err error) string {
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return "NoSuchBucket"
	case errors.Is(err, objstore.ErrAccessDenied):
		return "AccessDenied"
	}
	// For a destination that does not answer, the network error says it
	// best; the SDK's retry wrapping around it does not help.
	var op *net.OpError
	if errors.As(err, &op) {
		return "destination unreachable: " + op.Error()
	}
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
