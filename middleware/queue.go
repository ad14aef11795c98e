package middleware

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/capture"
)

// inflight holds the eventIDs of calls whose intents are stored and whose
// handlers are still running: their leases are renewed.
type inflight struct {
	mu  sync.Mutex
	set map[string]struct{}
}

func newInflight() *inflight { return &inflight{set: map[string]struct{}{}} }

func (f *inflight) add(id string) {
	f.mu.Lock()
	f.set[id] = struct{}{}
	f.mu.Unlock()
}

func (f *inflight) remove(id string) {
	f.mu.Lock()
	delete(f.set, id)
	f.mu.Unlock()
}

func (f *inflight) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.set))
	for id := range f.set {
		ids = append(ids, id)
	}
	return ids
}

// gapQueue holds the final records that could not be stored when their
// calls were answered, and the gaps they belong to.
//
// A record is queued in two cases: a call let through without a stored
// intent (FailOpen), and a call recorded after the fact (a read) whose
// record could not be stored. Both were answered unrecorded: they belong
// to their account's open gap. A call whose intent is stored but whose
// final record failed is queued too, without a gap: its intent records it
// already.
type gapQueue struct {
	mu   sync.Mutex
	max  int
	recs []*queued
	open map[string]*gap // the gap collecting each account's calls
	gaps []*gap          // every gap not yet recorded, oldest first
	err  error           // the last store error
}

type queued struct {
	rec     []byte
	gap     *gap // nil for a call whose intent is stored
	dropped bool // dropped from a full queue (counted lost)
}

// gap is a run of calls of one account answered while their records could
// not be stored. Its record is written once none of its records is queued.
type gap struct {
	account         string
	first, last     time.Time
	forwarded, late int
	lost, queued    int
	reason          string
	rec             []byte // the gap record, once made (the gap is then closed)
}

func newGapQueue(max int) *gapQueue {
	return &gapQueue{max: max, open: map[string]*gap{}}
}

// add queues rec, a call's final record that could not be stored because
// of err; unrecorded says no intent of the call is stored. The oldest
// record is dropped when the queue is full.
func (q *gapQueue) add(account string, rec []byte, unrecorded bool, t time.Time, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.err = err
	e := &queued{rec: rec}
	if unrecorded {
		g := q.open[account]
		if g == nil {
			g = &gap{account: account, first: t, last: t, reason: err.Error()}
			q.open[account] = g
			q.gaps = append(q.gaps, g)
		}
		g.first = minTime(g.first, t)
		g.last = maxTime(g.last, t)
		g.forwarded++
		g.queued++
		e.gap = g
	}
	if len(q.recs) >= q.max {
		old := q.recs[0]
		old.dropped = true
		if old.gap != nil {
			old.gap.queued--
			old.gap.lost++
		}
		q.recs[0] = nil
		q.recs = q.recs[1:]
	}
	q.recs = append(q.recs, e)
}

// pending counts the records and gap records not stored yet.
func (q *gapQueue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.recs) + len(q.gaps)
}

func (q *gapQueue) lastErr() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

func (q *gapQueue) failed(err error) {
	q.mu.Lock()
	q.err = err
	q.mu.Unlock()
}

// flushBatch is how many queued records are written at once (the
// Recorder batches concurrent callers into one commit).
const flushBatch = 64

// flush stores the queued records, then the record of every gap none of
// whose records is still queued; it stops at the first failure, keeping
// the rest for the next attempt.
func (m *Middleware) flush(ctx context.Context) {
	q := m.gap
	for {
		q.mu.Lock()
		batch := append([]*queued(nil), q.recs[:min(flushBatch, len(q.recs))]...)
		q.mu.Unlock()
		if len(batch) == 0 {
			break
		}
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, e := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = m.rec.Complete(ctx, e.rec)
			}()
		}
		wg.Wait()
		q.mu.Lock()
		stored := map[*queued]bool{}
		var failed error
		for i, e := range batch {
			if errs[i] != nil {
				failed = errs[i]
				continue
			}
			stored[e] = true
			if g := e.gap; g != nil {
				g.late++
				if e.dropped {
					g.lost-- // dropped from the queue while being stored: not lost after all
				} else {
					g.queued--
				}
			}
		}
		q.recs = slices.DeleteFunc(q.recs, func(e *queued) bool { return stored[e] })
		if failed != nil {
			q.err = failed
		}
		q.mu.Unlock()
		if failed != nil {
			return
		}
	}
	for {
		q.mu.Lock()
		var g *gap
		if len(q.gaps) > 0 && q.gaps[0].queued == 0 {
			g = q.gaps[0]
			if g.rec == nil {
				if q.open[g.account] == g {
					delete(q.open, g.account) // later calls start a new gap
				}
				g.rec = capture.GapRecord(capture.Gap{
					Account: g.account, Region: m.o.Region, First: g.first, Last: g.last,
					CallsForwarded: g.forwarded, RecordsRecoveredLate: g.late, RecordsLost: g.lost,
					Reason: g.reason,
				}, awsapi.NewUUID(), m.o.Now())
			}
		}
		q.mu.Unlock()
		if g == nil {
			return
		}
		if err := m.rec.Complete(ctx, g.rec); err != nil {
			q.failed(err)
			return
		}
		q.mu.Lock()
		q.gaps[0] = nil
		q.gaps = q.gaps[1:]
		q.mu.Unlock()
		m.log.Info("capture: the store commits again; the gap is recorded", "account", g.account,
			"callsForwarded", g.forwarded, "recordsRecoveredLate", g.late, "recordsLost", g.lost)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
