package store

import (
	"context"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// CommittedSeq answers while an append holds the writer (through its fsync
// and COMMIT, which under load take up to hundreds of milliseconds): the
// log-group consumer asks it every step. It gives the last committed
// sequence number, as LastSeq does, after appends and after a reopen.
func TestCommittedSeqDoesNotWaitForAppend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	if got := s.CommittedSeq(); got != 0 {
		t.Fatalf("CommittedSeq of an empty store %d, want 0", got)
	}
	if _, err := s.Append(ctx, []*event.Record{dayRec(t, 1, "111111111111", "alice", at), dayRec(t, 2, "111111111111", "bob", at)}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock() // an append in progress
	got := make(chan int64, 1)
	go func() { got <- s.CommittedSeq() }()
	select {
	case n := <-got:
		if n != 2 {
			t.Errorf("CommittedSeq during an append %d, want 2", n)
		}
		s.wmu.Unlock()
	case <-time.After(2 * time.Second):
		t.Error("CommittedSeq waited for the append in progress")
		s.wmu.Unlock()
		<-got
	}
	if _, err := s.Append(ctx, []*event.Record{dayRec(t, 3, "111111111111", "carol", at)}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, want := s.CommittedSeq(), s.LastSeq(); got != 3 || want != 3 {
		t.Errorf("CommittedSeq after a second append %d, LastSeq %d, want 3", got, want)
	}
	s.Close()
	if s, err = Open(ctx, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.CommittedSeq(); got != 3 {
		t.Errorf("CommittedSeq after reopening %d, want 3", got)
	}
}
