package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// fakeHistory holds events with seq 1..n, eventTime minute seq after
// base and ingested at eventTime; committed is the committed seq (events
// after it are returned by ReadAfter too, as they may be mid-commit).
type fakeHistory struct {
	evs       []store.Event
	committed int64
	before    time.Time // SeqBefore's argument
	reads     int
}

func newFakeHistory(n int, committed int64) *fakeHistory {
	h := &fakeHistory{committed: committed}
	for i := 1; i <= n; i++ {
		t := base.Add(time.Duration(i) * time.Minute)
		h.evs = append(h.evs, store.Event{Seq: int64(i), IngestTime: t, Rec: &event.Record{EventTime: t}})
	}
	return h
}

func (h *fakeHistory) ReadAfter(_ context.Context, seq int64, limit int) ([]store.Event, error) {
	h.reads++
	var out []store.Event
	for _, e := range h.evs {
		if e.Seq > seq && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (h *fakeHistory) CommittedSeq() int64 { return h.committed }

func (h *fakeHistory) SeqBefore(_ context.Context, t time.Time) (int64, error) {
	h.before = t
	var seq int64
	for _, e := range h.evs {
		if e.IngestTime.Before(t) {
			seq = e.Seq
		}
	}
	return seq, nil
}

func TestReadHistoryReadsTheRangeInBatchesUpToTheCommittedEnd(t *testing.T) {
	h := newFakeHistory(20, 17)
	since, until := base.Add(5*time.Minute), base.Add(15*time.Minute)
	var got []int64
	var reads []int64
	read, err := store.ReadHistory(context.Background(), h, since, until, 2*time.Minute, 4,
		func(in []*store.Event, n int64) error {
			for _, e := range in {
				got = append(got, e.Seq)
			}
			reads = append(reads, n)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !h.before.Equal(base.Add(3 * time.Minute)) {
		t.Errorf("SeqBefore(%v); want since minus slack", h.before)
	}
	// From seq 2 (the newest ingested before minute 3) to 17 (committed):
	// seqs 3..17 are read, 5..14 are in [since, until).
	if want := []int64{5, 6, 7, 8, 9, 10, 11, 12, 13, 14}; !slices.Equal(got, want) {
		t.Errorf("in range %v; want %v", got, want)
	}
	if want := []int64{4, 8, 12, 15}; !slices.Equal(reads, want) {
		t.Errorf("read counts per batch %v; want %v", reads, want)
	}
	if read != 15 {
		t.Errorf("read %d; want 15 (seqs 3..17, none past the committed end)", read)
	}
}

func TestReadHistoryOpenEndAndErrors(t *testing.T) {
	h := newFakeHistory(10, 10)
	var got int
	read, err := store.ReadHistory(context.Background(), h, base, time.Time{}, 0, 3,
		func(in []*store.Event, _ int64) error { got += len(in); return nil })
	if err != nil || read != 10 || got != 10 {
		t.Fatalf("open end: read %d, in range %d, err %v; want 10, 10, nil", read, got, err)
	}

	boom := errors.New("boom")
	h.reads = 0
	if _, err := store.ReadHistory(context.Background(), h, base, time.Time{}, 0, 3,
		func([]*store.Event, int64) error { return boom }); !errors.Is(err, boom) || h.reads != 1 {
		t.Fatalf("fn's error: err %v after %d reads; want boom after 1", err, h.reads)
	}

	ctx, cancel := context.WithCancel(context.Background())
	h.reads = 0
	if _, err := store.ReadHistory(ctx, h, base, time.Time{}, 0, 3,
		func([]*store.Event, int64) error { cancel(); return nil }); !errors.Is(err, context.Canceled) || h.reads != 1 {
		t.Fatalf("cancelled: err %v after %d reads; want context.Canceled after 1", err, h.reads)
	}
}
