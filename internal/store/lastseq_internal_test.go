package store

import (
	"context"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// LastSeq answers while an append holds the writer (through its fsync and
// COMMIT, which under load take up to hundreds of milliseconds): the
// stream's consumers ask it every step. It gives the last committed
// sequence number, after appends and after a reopen.
func TestLastSeqDoesNotWaitForAppend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	if got := s.LastSeq(); got != 0 {
		t.Fatalf("LastSeq of an empty store %d, want 0", got)
	}
	if _, err := s.Append(ctx, []*event.Record{dayRec(t, 1, "111111111111", "alice", at), dayRec(t, 2, "111111111111", "bob", at)}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock() // an append in progress
	got := make(chan int64, 1)
	go func() { got <- s.LastSeq() }()
	select {
	case n := <-got:
		if n != 2 {
			t.Errorf("LastSeq during an append %d, want 2", n)
		}
		s.wmu.Unlock()
	case <-time.After(2 * time.Second):
		t.Error("LastSeq waited for the append in progress")
		s.wmu.Unlock()
		<-got
	}
	if _, err := s.Append(ctx, []*event.Record{dayRec(t, 3, "111111111111", "carol", at)}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := s.LastSeq(); got != 3 {
		t.Errorf("LastSeq after a second append %d, want 3", got)
	}
	s.Close()
	if s, err = Open(ctx, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.LastSeq(); got != 3 {
		t.Errorf("LastSeq after reopening %d, want 3", got)
	}
}
