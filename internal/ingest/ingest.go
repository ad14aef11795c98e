// Package ingest turns validated records into durable, acknowledged events.
//
// An Ingester runs one committer goroutine that takes every request waiting
// at the moment it becomes free and stores them in one transaction (group
// commit): under load, thousands of events from many concurrent requests
// share one fsync. Submit returns only after its records are committed and
// fsynced. An event is identified by its account and eventID: a record
// whose account and eventID are already stored is not stored again, and is
// reported as a duplicate when it is the same event (so retries are
// idempotent) or as a conflict when its content differs.
//
// Ingester is safe for concurrent use.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/metrics"
	"github.com/opentrail/opentrail/internal/store"
)

// ErrClosed is returned by Submit after Close has begun.
var ErrClosed = errors.New("ingest: shutting down")

// ErrUnavailable wraps store failures: nothing from the request was stored.
var ErrUnavailable = errors.New("event store unavailable")

// Appender is the store side of ingestion. Prepare runs in the submitting
// goroutine (so compression runs in parallel across requests); the single
// committer calls AppendBatchesThen with every batch waiting, and with the
// self-audit records of the calls that wait for theirs made by then from
// the outcome, so that they commit in the same transaction
// (store.Store.AppendBatchesThen).
type Appender interface {
	Prepare(recs []*event.Record) *store.Batch
	AppendBatchesThen(ctx context.Context, batches []*store.Batch, ingestTime time.Time, then func([]store.Outcome) []*event.Record) ([]store.Outcome, error)
}

// Options tune an Ingester. The zero value is usable.
type Options struct {
	// MaxBatch is the most records one commit takes (default 20,000); a
	// single larger request still commits whole.
	MaxBatch int
	// Queue is how many requests may wait for the committer (default 4096).
	Queue  int
	Logger *slog.Logger
	// Now, when set, gives the ingest time of each commit; by default the
	// store reads its own clock under its write lock.
	Now     func() time.Time
	Metrics *metrics.Registry // nil: metrics are not exported
}

// Ingester batches submissions into group commits.
type Ingester struct {
	app  Appender
	opts Options
	log  *slog.Logger

	reqs chan *request

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	done   chan struct{}

	accepted, duplicates, conflicts, rejected *metrics.Counter
	commits                                   *metrics.Counter
	commitLatency, batchSize                  *metrics.Histogram
	sourceEvents                              *metrics.CounterVec
}

type request struct {
	batch  *store.Batch
	source string
	reply  chan reply // nil for fire-and-forget submissions
	// audit, when set, makes the self-audit record of the call that
	// submitted the batch, from its result (SubmitAudited).
	audit AuditFunc
}

// AuditFunc makes the self-audit record of the call that submitted a
// batch, from what the commit did with it. It runs in the committer and
// must be quick.
type AuditFunc func(Result) (*event.Record, error)

// ErrAuditNotStored is SubmitAudited's error when the events were
// committed but the call's own record could not be: the call must not be
// acknowledged as a success (fail-closed).
var ErrAuditNotStored = errors.New("the call's self-audit record could not be stored")

type reply struct {
	res Result
	err error
}

// New returns an Ingester writing to app. Call Start before Submit.
func New(app Appender, opts Options) *Ingester {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 20000
	}
	if opts.Queue <= 0 {
		opts.Queue = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	reg := opts.Metrics
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	return &Ingester{
		app:           app,
		opts:          opts,
		log:           opts.Logger.With("component", "ingest"),
		reqs:          make(chan *request, opts.Queue),
		done:          make(chan struct{}),
		accepted:      reg.NewCounter("opentrail_ingest_events_accepted_total", "Events committed to the store."),
		duplicates:    reg.NewCounter("opentrail_ingest_events_duplicate_total", "Submitted events already stored (same account, eventID and content)."),
		conflicts:     reg.NewCounter("opentrail_ingest_events_conflict_total", "Submitted events not stored because another event with their account and eventID was."),
		rejected:      reg.NewCounter("opentrail_ingest_events_failed_total", "Submitted events not stored because the store failed."),
		commits:       reg.NewCounter("opentrail_ingest_commits_total", "Group commits."),
		commitLatency: reg.NewHistogram("opentrail_ingest_commit_seconds", "Time to commit and fsync one group of events.", metrics.LatencyBuckets),
		batchSize:     reg.NewHistogram("opentrail_ingest_commit_events", "Events per group commit.", []float64{1, 10, 100, 1000, 10000, 100000}),
		sourceEvents:  reg.NewCounterVec("opentrail_ingest_events_received_total", "Events received, by source.", "source"),
	}
}

// Start runs the committer.
func (in *Ingester) Start() { go in.run() }

// Submit stores recs durably and reports, per record, whether it was
// stored, a duplicate or a conflict. source names the ingestion path for metrics.
// If ctx ends first, Submit returns ctx's error; the records may still be
// committed, and a retry will then see them as duplicates.
func (in *Ingester) Submit(ctx context.Context, source string, recs []*event.Record) (Result, error) {
	if len(recs) == 0 {
		return Result{}, nil
	}
	return in.submit(ctx, source, in.app.Prepare(recs))
}

// SubmitImported is Submit for events imported from existing CloudTrail
// logs, which retention spares (store.Batch.MarkImported).
func (in *Ingester) SubmitImported(ctx context.Context, source string, recs []*event.Record) (Result, error) {
	if len(recs) == 0 {
		return Result{}, nil
	}
	return in.submit(ctx, source, in.app.Prepare(recs).MarkImported())
}

// SubmitAudited is Submit (SubmitImported when imported) for a call whose
// own self-audit record must be committed before it is answered: the
// committer makes the record with audit once the events' outcome is
// decided, and commits it in the same transaction as the events, with the
// records of every other such call in the group. That costs no commit of
// its own, nor a second trip through the queue per call. If audit cannot
// make the record, the events are stored and the result comes back with
// ErrAuditNotStored; if the commit fails, neither is stored.
func (in *Ingester) SubmitAudited(ctx context.Context, source string, recs []*event.Record, imported bool, audit AuditFunc) (Result, error) {
	if len(recs) == 0 {
		return Result{}, nil
	}
	b := in.app.Prepare(recs)
	if imported {
		b.MarkImported()
	}
	return in.submitReq(ctx, &request{batch: b, source: source, reply: make(chan reply, 1), audit: audit})
}

func (in *Ingester) submit(ctx context.Context, source string, batch *store.Batch) (Result, error) {
	return in.submitReq(ctx, &request{batch: batch, source: source, reply: make(chan reply, 1)})
}

func (in *Ingester) submitReq(ctx context.Context, req *request) (Result, error) {
	if err := in.enqueue(ctx, req); err != nil {
		return Result{}, err
	}
	select {
	case r := <-req.reply:
		return r.res, r.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// SubmitAsync queues recs for the next group commit without waiting for it
// (self-audit records: the audited call must not wait on its own record).
// It blocks only while the queue is full.
func (in *Ingester) SubmitAsync(source string, recs []*event.Record) error {
	return in.enqueue(context.Background(), &request{batch: store.NewBatch(recs), source: source})
}

func (in *Ingester) enqueue(ctx context.Context, req *request) error {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.closed {
		return ErrClosed
	}
	in.sourceEvents.Add(req.source, uint64(len(req.batch.Records())))
	select {
	case in.reqs <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops taking submissions, commits everything already queued, and
// returns when the committer has finished or ctx ends.
func (in *Ingester) Close(ctx context.Context) error {
	in.mu.Lock()
	if !in.closed {
		in.closed = true
		close(in.reqs)
	}
	in.mu.Unlock()
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ingest: close: %w", ctx.Err())
	}
}

func (in *Ingester) run() {
	defer close(in.done)
	var batch []*request
	for first := range in.reqs {
		batch = append(batch[:0], first)
		n := len(first.batch.Records())
	drain:
		for n < in.opts.MaxBatch {
			select {
			case r, ok := <-in.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				n += len(r.batch.Records())
			default:
				break drain
			}
		}
		in.commit(batch, n)
	}
}

func (in *Ingester) commit(batch []*request, n int) {
	batches := make([]*store.Batch, len(batch))
	audited := false
	for i, r := range batch {
		batches[i] = r.batch
		audited = audited || r.audit != nil
	}
	results := make([]Result, len(batch))
	auditErrs := make([]error, len(batch))
	auditRecs := 0
	var then func([]store.Outcome) []*event.Record
	if audited {
		// The records are made from the outcome, under the store's write
		// lock, and committed with the events.
		then = func(outs []store.Outcome) []*event.Record {
			fillResults(batch, outs, results)
			var recs []*event.Record
			for i, r := range batch {
				if r.audit == nil {
					continue
				}
				rec, err := r.audit(results[i])
				if err != nil {
					auditErrs[i] = err
					continue
				}
				recs = append(recs, rec)
			}
			auditRecs = len(recs)
			return recs
		}
	}
	start := time.Now()
	var ingestTime time.Time // zero: the store reads its clock under its write lock
	if in.opts.Now != nil {
		ingestTime = in.opts.Now()
	}
	outs, err := in.app.AppendBatchesThen(context.Background(), batches, ingestTime, then)
	in.commitLatency.Observe(time.Since(start).Seconds())
	in.commits.Add(1)
	in.batchSize.Observe(float64(n))
	if auditRecs > 0 {
		in.sourceEvents.Add("self-audit", uint64(auditRecs))
	}
	if err != nil {
		in.log.Error("commit failed", "events", n, "self-audit records", auditRecs, "requests", len(batch), "err", err)
		in.rejected.Add(uint64(n + auditRecs))
		err = fmt.Errorf("%w: %v", ErrUnavailable, err)
		for _, r := range batch {
			if r.reply != nil {
				r.reply <- reply{err: err}
			}
		}
		return
	}
	if !audited {
		fillResults(batch, outs, results)
	}
	in.accepted.Add(uint64(auditRecs))
	for i, r := range batch {
		res := results[i]
		in.accepted.Add(uint64(res.Accepted))
		in.duplicates.Add(uint64(res.Duplicates))
		in.conflicts.Add(uint64(res.Conflicts))
		if res.Conflicts > 0 {
			in.log.Warn("conflicting duplicates not stored", "source", r.source, "events", res.Conflicts,
				"eventIDs", ConflictIDs(res, r.batch.Records(), MaxConflictIDs))
		}
		if err := auditErrs[i]; err != nil {
			in.log.Error("self-audit record could not be made", "source", r.source, "err", err)
			r.reply <- reply{res: res, err: fmt.Errorf("%w: %v", ErrAuditNotStored, err)}
			continue
		}
		if r.reply != nil {
			r.reply <- reply{res: res}
		}
	}
}

// fillResults sets results[i] to what the commit did with batch[i]'s
// records, from outs, which covers every request's records in order.
func fillResults(batch []*request, outs []store.Outcome, results []Result) {
	off := 0
	for i, r := range batch {
		recs := r.batch.Records()
		res := Result{Outcomes: make([]Outcome, len(recs))}
		for k := range recs {
			switch outs[off+k] {
			case store.Stored:
				res.Outcomes[k] = Accepted
				res.Accepted++
			case store.Duplicate:
				res.Outcomes[k] = Duplicate
				res.Duplicates++
			default:
				res.Outcomes[k] = Conflict
				res.Conflicts++
			}
		}
		off += len(recs)
		results[i] = res
	}
}

// MaxConflictIDs is how many eventIDs of conflicting duplicates responses
// and logs list.
const MaxConflictIDs = 10

// ConflictIDs returns the eventIDs of the first max records of recs, the
// records res reports on, that were conflicts.
func ConflictIDs(res Result, recs []*event.Record, max int) []string {
	var ids []string
	for i, o := range res.Outcomes {
		if o == Conflict && i < len(recs) {
			if len(ids) == max {
				break
			}
			ids = append(ids, recs[i].EventID)
		}
	}
	return ids
}
