package intents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
)

// Ingest sources, as the ingester's metrics name them.
const (
	SourceComplete = "capture"        // final records (Complete)
	SourceReaper   = "capture-reaper" // intents whose lease ran out
)

// MaxLease is the longest lease an intent may be given.
const MaxLease = time.Hour

// Ingester stores final records (*ingest.Ingester implements it).
type Ingester interface {
	Submit(ctx context.Context, source string, recs []*event.Record) (ingest.Result, error)
	SubmitAudited(ctx context.Context, source string, recs []*event.Record, imported bool, audit ingest.AuditFunc) (ingest.Result, error)
}

// Local is a capture Recorder (internal/capture.Recorder) over a Table
// and the ingester of the same process: Intend puts the intent in the
// table (group-committed with every concurrent caller), Complete submits
// the final record to the ingester (group-committed too) and then drops
// the intent. It is safe for concurrent use.
type Local struct {
	table *Table
	in    Ingester
	clk   clock.Clock
	log   *slog.Logger
	wake  func() // the reaper's Wake, for records queued in the table
}

// NewLocal returns a Local over t and in; clk (nil: the system clock)
// dates the leases.
func NewLocal(t *Table, in Ingester, clk clock.Clock, logger *slog.Logger) *Local {
	if logger == nil {
		logger = slog.Default()
	}
	return &Local{table: t, in: in, clk: clock.Or(clk), log: logger}
}

// WakeOnQueued sets f (the Reaper's Wake) to be called after records
// queued through PutIntents' then are committed, so that they are
// ingested at once rather than at the reaper's next pass. Call it before
// use.
func (l *Local) WakeOnQueued(f func()) { l.wake = f }

// Queued is the lease expiry of a record queued in the table to be
// ingested as it is by the reaper's next pass (see PutIntents), which
// tells it from an intent whose lease ran out.
var Queued = time.Unix(0, 0).UTC()

// Table is the intent table the Local records into.
func (l *Local) Table() *Table { return l.table }

// Intend commits the intent record rec (compact CloudTrail JSON with its
// eventID and recipientAccountId) with a lease of lease, and returns once
// it is fsynced.
func (l *Local) Intend(ctx context.Context, rec []byte, lease time.Duration) error {
	r, err := event.Parse(rec)
	if err != nil {
		return fmt.Errorf("intent record is not a valid CloudTrail record: %w", err)
	}
	return l.PutIntents(ctx, []*event.Record{r}, lease, nil)
}

// PutIntents commits the intents recs, parsed already, with a lease of
// lease, and with them, in the same commit, the records of then (nil:
// none) queued to be ingested by the reaper as they are, at once (the
// self-audit record of the call that brings the intents: durable before
// the answer, at no commit of its own). It returns once they are
// fsynced, or with the reason they could not be (none is then stored).
// An eventID whose intent belongs to another account fails with
// ErrIDTaken.
func (l *Local) PutIntents(ctx context.Context, recs []*event.Record, lease time.Duration, then []*event.Record) error {
	if err := checkLease(lease); err != nil {
		return err
	}
	exp := l.clk.Now().Add(lease)
	ins := make([]Intent, 0, len(recs)+len(then))
	for i, r := range recs {
		if r.EventID == "" || r.AccountID == "" {
			return fmt.Errorf("intent record %d has no eventID or recipientAccountId; both are needed to replace it with the call's final record", i+1)
		}
		ins = append(ins, Intent{EventID: r.EventID, Account: r.AccountID, Expires: exp, Record: r.Raw})
	}
	for _, r := range then {
		ins = append(ins, Intent{EventID: r.EventID, Account: r.AccountID, Expires: Queued, Record: r.Raw})
	}
	if err := l.table.Put(ctx, ins); err != nil {
		return err
	}
	if len(then) > 0 && l.wake != nil {
		l.wake()
	}
	return nil
}

func checkLease(lease time.Duration) error {
	if lease < time.Second || lease > MaxLease {
		return fmt.Errorf("lease %v is out of range: give 1s to %v", lease, MaxLease)
	}
	return nil
}

// Renew extends the leases of the live intents among eventIDs to lease
// from now; unknown IDs (completed or reaped) are skipped.
func (l *Local) Renew(ctx context.Context, eventIDs []string, lease time.Duration) error {
	_, err := l.RenewIntents(ctx, eventIDs, lease, nil)
	return err
}

// RenewIntents is Renew with check (nil: none) asked about each intent's
// account first, and the number renewed.
func (l *Local) RenewIntents(ctx context.Context, eventIDs []string, lease time.Duration, check func(account string) error) (int, error) {
	if err := checkLease(lease); err != nil {
		return 0, err
	}
	return l.table.Renew(ctx, eventIDs, l.clk.Now().Add(lease), check)
}

// Complete commits the call's final record rec and then drops its intent
// (if it had one); it returns once the record is durable.
func (l *Local) Complete(ctx context.Context, rec []byte) error {
	r, err := event.Parse(rec)
	if err != nil {
		return fmt.Errorf("final record is not a valid CloudTrail record: %w", err)
	}
	_, err = l.CompleteRecords(ctx, []*event.Record{r}, nil)
	return err
}

// CompleteRecords submits the final records recs (with audit, the
// self-audit record of the call that brings them, committed with them;
// see ingest.Ingester.SubmitAudited) and then drops their intents. Once
// submitted, a record's (account, eventID) is stored whatever the
// outcome: a conflict means the reaper stored the intent first, which
// stays the call's record.
func (l *Local) CompleteRecords(ctx context.Context, recs []*event.Record, audit ingest.AuditFunc) (ingest.Result, error) {
	var res ingest.Result
	var err error
	if audit != nil {
		res, err = l.in.SubmitAudited(ctx, SourceComplete, recs, false, audit)
	} else {
		res, err = l.in.Submit(ctx, SourceComplete, recs)
	}
	if err != nil && !errors.Is(err, ingest.ErrAuditNotStored) {
		return res, err
	}
	if res.Conflicts > 0 {
		l.log.Warn("capture: final records arrived after their intents' leases ran out; the intents (outcome unknown) stay the calls' records",
			"conflicts", res.Conflicts, "eventIds", ingest.ConflictIDs(res, recs, 5))
	}
	// Drop the intents of those records, in their own account only.
	var ids []string
	for _, r := range recs {
		if acct, _, ok := l.table.Lookup(r.EventID); ok && acct == r.AccountID {
			ids = append(ids, r.EventID)
		}
	}
	if derr := l.table.Delete(context.WithoutCancel(ctx), ids); derr != nil {
		// The final records are stored; an intent left behind is ingested
		// by the reaper as a duplicate or conflict, which changes nothing.
		l.log.Warn("capture: intents not dropped after their final records; the reaper will", "err", derr)
	}
	return res, err
}
