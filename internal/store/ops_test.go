package store_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A commit DuckDB refuses (here: its WAL cannot be opened) fails the
// append with the reason, logs nothing of its own (the ingester logs the
// failure once), and leaves the store usable.
func TestFailedCommitLogsNoRollbackError(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	s, err := store.Open(context.Background(), dir, store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Append(ctx, []*event.Record{rec(t, 1, nil)}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// After a checkpoint the WAL file is gone; a directory in its place
	// makes the next COMMIT fail.
	if _, err := s.DB().ExecContext(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, store.DBFile+".wal")
	if err := os.Mkdir(wal, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = s.Append(ctx, []*event.Record{rec(t, 2, nil)}, time.Time{})
	if err == nil || !strings.Contains(err.Error(), "Failed to commit") {
		t.Fatalf("append with an unwritable WAL: err = %v, want the commit failure", err)
	}
	if strings.HasPrefix(err.Error(), "commit: commit:") {
		t.Errorf("error repeats its prefix: %v", err)
	}
	if got := logs.String(); got != "" {
		t.Errorf("a failed commit logged from the store:\n%s", got)
	}
	if err := os.Remove(wal); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []*event.Record{rec(t, 3, nil)}, time.Time{}); err != nil {
		t.Fatalf("append after the failure: %v", err)
	}
	if got := s.LastSeq(); got != 2 {
		t.Errorf("LastSeq = %d, want 2 (the failed event not stored)", got)
	}
}
