package importer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// StoreSink writes into a store opened in this process. An Importer given
// a StoreSink shares commits between its workers (see groupSink); called
// directly, each Write is one commit.
type StoreSink struct{ Store *store.Store }

// Write appends recs, marked imported; the store dedupes on account and
// eventID. The records are
// compressed (Store.Prepare) in the calling goroutine, before the store's
// write lock is taken, so that concurrent Writes compress in parallel and
// the lock is held only for the commit.
func (s StoreSink) Write(ctx context.Context, recs []*event.Record) (WriteResult, error) {
	outs, err := s.Store.AppendBatches(ctx, []*store.Batch{s.Store.Prepare(recs).MarkImported()}, time.Time{})
	if err != nil {
		return WriteResult{}, err
	}
	return tally(recs, outs), nil
}

// tally counts the store's outcomes for recs.
func tally(recs []*event.Record, outs []store.Outcome) WriteResult {
	var r WriteResult
	for i, o := range outs {
		switch o {
		case store.Stored:
			r.Added++
		case store.Duplicate:
			r.Duplicates++
		default:
			r.Conflicts++
			if len(r.ConflictIDs) < MaxConflictIDs {
				r.ConflictIDs = append(r.ConflictIDs, recs[i].EventID)
			}
		}
	}
	return r
}

// groupSink is a StoreSink whose concurrent Writes share commits (group
// commit): each Write compresses its records and queues them; whichever
// writer then holds the commit lock stores everything queued in one
// transaction, so the store's fixed cost per commit (fsyncs, DuckDB's
// commit) is paid once for several batches. A failed commit fails every
// Write in it; the importer retries them, which the eventID dedupe makes
// safe. It is safe for concurrent use.
type groupSink struct {
	st     *store.Store
	commit sync.Mutex // held by the writer committing for the group

	mu    sync.Mutex // guards queue
	queue []*groupWrite
}

// groupWrite is one queued Write; its results are set, by the writer that
// committed it, before that writer releases the commit lock.
type groupWrite struct {
	batch *store.Batch
	done  bool
	res   WriteResult
	err   error
}

func (g *groupSink) Write(ctx context.Context, recs []*event.Record) (WriteResult, error) {
	w := &groupWrite{batch: g.st.Prepare(recs).MarkImported()}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	g.mu.Unlock()

	g.commit.Lock()
	defer g.commit.Unlock()
	if w.done {
		// An earlier holder of the lock committed w with its group.
		return w.res, w.err
	}
	g.mu.Lock()
	group := g.queue
	g.queue = nil
	g.mu.Unlock()
	batches := make([]*store.Batch, len(group))
	for i, gw := range group {
		batches[i] = gw.batch
	}
	outs, err := g.st.AppendBatches(ctx, batches, time.Time{})
	for _, gw := range group {
		n := len(gw.batch.Records())
		gw.done = true
		if err != nil {
			gw.err = err
		} else {
			gw.res = tally(gw.batch.Records(), outs[:n])
			outs = outs[n:]
		}
	}
	return w.res, w.err
}

// ErrStoreInUse means another process — usually `opentrail serve` — holds
// the data directory.
var ErrStoreInUse = errors.New("the data directory is in use by another process")

// OpenStore opens the store in dir for an import with no retention (an
// import keeps every event it is given), turning DuckDB's lock conflict
// into ErrStoreInUse.
func OpenStore(ctx context.Context, dir string) (*store.Store, error) {
	s, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		if store.IsLocked(err) {
			return nil, fmt.Errorf("open store %s: %w (is `opentrail serve` running on it? stop it, or import through it with --endpoint): %v", dir, ErrStoreInUse, err)
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return s, nil
}
