package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/store"
)

// memStore is an Appender that remembers eventIDs and counts commits.
type memStore struct {
	mu      sync.Mutex
	ids     map[string]bool
	commits int
	fail    error
	delay   time.Duration
}

func (m *memStore) Prepare(recs []*event.Record) *store.Batch { return store.NewBatch(recs) }

func (m *memStore) AppendBatchesThen(ctx context.Context, batches []*store.Batch, _ time.Time, then func([]store.Outcome) []*event.Record) ([]store.Outcome, error) {
	var recs []*event.Record
	for _, b := range batches {
		recs = append(recs, b.Records()...)
	}
	time.Sleep(m.delay)
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	out := make([]store.Outcome, len(recs))
	for i, r := range recs {
		if m.ids[r.EventID] || seen[r.EventID] {
			out[i] = store.Duplicate
		}
		seen[r.EventID] = true
	}
	if then != nil {
		for _, r := range then(out) {
			seen[r.EventID] = true
		}
	}
	if m.fail != nil {
		return nil, m.fail
	}
	m.commits++
	for id := range seen {
		m.ids[id] = true
	}
	return out, nil
}

func recs(prefix string, n int) []*event.Record {
	out := make([]*event.Record, n)
	for i := range out {
		out[i] = &event.Record{EventID: fmt.Sprintf("%s-%d", prefix, i)}
	}
	return out
}

func TestGroupCommitSharesCommits(t *testing.T) {
	st := &memStore{ids: map[string]bool{}, delay: 2 * time.Millisecond}
	in := ingest.New(st, ingest.Options{})
	in.Start()
	const clients, perClient = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perClient; j++ {
				res, err := in.Submit(context.Background(), "test", recs(fmt.Sprintf("c%d-%d", c, j), 5))
				if err != nil {
					errs <- err
					return
				}
				if res.Accepted != 5 || res.Duplicates != 0 {
					errs <- fmt.Errorf("result %+v", res)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.ids) != clients*perClient*5 {
		t.Fatalf("stored %d events", len(st.ids))
	}
	if st.commits >= clients*perClient {
		t.Fatalf("%d commits for %d requests: no grouping", st.commits, clients*perClient)
	}
}

func TestDuplicatesAndFailures(t *testing.T) {
	st := &memStore{ids: map[string]bool{}}
	in := ingest.New(st, ingest.Options{})
	in.Start()
	defer in.Close(context.Background())
	ctx := context.Background()
	if _, err := in.Submit(ctx, "test", recs("a", 3)); err != nil {
		t.Fatal(err)
	}
	res, err := in.Submit(ctx, "test", append(recs("a", 2), recs("b", 1)...))
	if err != nil {
		t.Fatal(err)
	}
	want := []ingest.Outcome{ingest.Duplicate, ingest.Duplicate, ingest.Accepted}
	for i, o := range res.Outcomes {
		if o != want[i] {
			t.Fatalf("outcomes = %v, want %v", res.Outcomes, want)
		}
	}
	st.mu.Lock()
	st.fail = errors.New("disk full")
	st.mu.Unlock()
	if _, err := in.Submit(ctx, "test", recs("c", 1)); !errors.Is(err, ingest.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestCloseDrainsAndRefuses(t *testing.T) {
	st := &memStore{ids: map[string]bool{}}
	in := ingest.New(st, ingest.Options{})
	in.Start()
	if err := in.SubmitAsync("audit", recs("x", 4)); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.ids) != 4 {
		t.Fatalf("async records not committed before Close returned: %d", len(st.ids))
	}
	if _, err := in.Submit(context.Background(), "test", recs("y", 1)); !errors.Is(err, ingest.ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
}

// SubmitAudited commits the call's own record, made from the result,
// before it returns; a record that cannot be stored is ErrAuditNotStored
// with the events' result.
func TestSubmitAuditedCommitsRecordBeforeReturning(t *testing.T) {
	st := &memStore{ids: map[string]bool{}}
	in := ingest.New(st, ingest.Options{})
	in.Start()
	defer in.Close(context.Background())
	var made ingest.Result
	audit := func(res ingest.Result) (*event.Record, error) {
		made = res
		return &event.Record{EventID: "audit-1"}, nil
	}
	res, err := in.SubmitAudited(context.Background(), "test", recs("a", 3), false, audit)
	if err != nil || res.Accepted != 3 {
		t.Fatalf("SubmitAudited: %+v, %v", res, err)
	}
	st.mu.Lock()
	stored, commits := st.ids["audit-1"], st.commits
	st.mu.Unlock()
	if !stored || made.Accepted != 3 {
		t.Errorf("audit record stored before return: %v; made from %+v", stored, made)
	}
	if commits != 1 {
		t.Errorf("%d commits, want 1 (the events and the record together)", commits)
	}

	// The record cannot be made: the events are stored, and their result
	// comes back with ErrAuditNotStored.
	badAudit := func(ingest.Result) (*event.Record, error) { return nil, errors.New("no key") }
	res, err = in.SubmitAudited(context.Background(), "test", recs("b", 2), false, badAudit)
	st.mu.Lock()
	stored = st.ids["b-0"] && st.ids["b-1"]
	st.mu.Unlock()
	if !errors.Is(err, ingest.ErrAuditNotStored) || res.Accepted != 2 || !stored {
		t.Errorf("record not made: %+v, %v (events stored: %v); want the result and ErrAuditNotStored", res, err, stored)
	}

	// The commit fails: neither the events nor the record are stored, and
	// the call fails as unavailable.
	failing := &memStore{ids: map[string]bool{}, fail: errors.New("disk full")}
	in2 := ingest.New(failing, ingest.Options{})
	in2.Start()
	defer in2.Close(context.Background())
	_, err = in2.SubmitAudited(context.Background(), "test", recs("c", 2), false, audit)
	if !errors.Is(err, ingest.ErrUnavailable) || len(failing.ids) != 0 {
		t.Errorf("failed commit: %v, stored %v; want ErrUnavailable and nothing stored", err, failing.ids)
	}
}
