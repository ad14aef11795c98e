package importer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

func testRecords(t *testing.T, ids []int) []*event.Record {
	t.Helper()
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	recs := make([]*event.Record, len(ids))
	for i, id := range ids {
		raw := fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","accountId":"111122223333","userName":"alice"},"eventTime":%q,"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","eventID":"group-%06d","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}`,
			at.Add(time.Duration(id)*time.Second).Format(time.RFC3339), id)
		r, err := event.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = r
	}
	return recs
}

// TestGroupSinkConcurrentWrites has writers whose batches overlap (each
// eventID is written by two writers, one batch also repeats an ID) share
// commits, and checks that every Write gets its own counts and that the
// store holds each event once.
func TestGroupSinkConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := &groupSink{st: st}

	const writers, batches, perBatch = 8, 15, 40
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		added, dups, all int
	)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				// Writers w and w^1 write the same IDs.
				base := ((w/2)*batches + b) * perBatch
				ids := make([]int, perBatch)
				for i := range ids {
					ids[i] = base + i
				}
				if w == 0 && b == 0 {
					ids[perBatch-1] = ids[0] // a repeat within one batch
				}
				r, err := g.Write(ctx, testRecords(t, ids))
				a, d := r.Added, r.Duplicates
				if err != nil {
					t.Error(err)
					return
				}
				if a+d != perBatch {
					t.Errorf("writer %d batch %d: %d added + %d duplicates, want %d", w, b, a, d, perBatch)
				}
				mu.Lock()
				added, dups, all = added+a, dups+d, all+perBatch
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	unique := writers / 2 * batches * perBatch
	if added != unique || dups != all-unique {
		t.Fatalf("added %d, duplicates %d; want %d and %d", added, dups, unique, all-unique)
	}

	// Every ID is now stored exactly once.
	ids := make([]int, unique)
	for i := range ids {
		ids[i] = i
	}
	r, err := StoreSink{Store: st}.Write(ctx, testRecords(t, ids))
	if err != nil {
		t.Fatal(err)
	}
	a, d := r.Added, r.Duplicates
	if a != 0 || d != unique {
		t.Fatalf("rewrite: %d added, %d duplicates; want 0 and %d", a, d, unique)
	}
}

// TestNewGroupsStoreSink checks that an Importer shares commits when given
// a StoreSink and leaves other sinks alone.
func TestNewGroupsStoreSink(t *testing.T) {
	if _, ok := New(Options{Sink: StoreSink{}}).opts.Sink.(*groupSink); !ok {
		t.Error("a StoreSink is not wrapped in a groupSink")
	}
	other := &countingSink{}
	if New(Options{Sink: other}).opts.Sink != Sink(other) {
		t.Error("another sink was replaced")
	}
}

type countingSink struct{ n int }

func (c *countingSink) Write(_ context.Context, recs []*event.Record) (WriteResult, error) {
	c.n += len(recs)
	return WriteResult{Added: len(recs)}, nil
}
