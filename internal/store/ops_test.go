package store_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
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
	if got := logs.String(); strings.Contains(got, "level=ERROR") {
		t.Errorf("a failed commit logged an error from the store:\n%s", got)
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

// TestMain lets a test start this binary as a second process that holds
// a store (OPENTRAIL_TEST_HOLD_STORE=dir) until its stdin closes.
func TestMain(m *testing.M) {
	if dir := os.Getenv("OPENTRAIL_TEST_HOLD_STORE"); dir != "" {
		s, err := store.Open(context.Background(), dir, store.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("holding")
		io.Copy(io.Discard, os.Stdin)
		s.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdStore starts a second process holding the store in dir; closing the
// returned pipe makes it close the store and exit.
func holdStore(t *testing.T, dir string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OPENTRAIL_TEST_HOLD_STORE="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "holding\n" {
		t.Fatalf("holder process: %q, %v", line, err)
	}
	return cmd, stdin
}

// A store held by another process is waited for, then refused with an
// error naming the holder's PID and command line.
func TestOpenLockedNamesHolder(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := holdStore(t, dir)
	start := time.Now()
	_, err := store.Open(context.Background(), dir, store.Options{LockWait: 700 * time.Millisecond})
	if waited := time.Since(start); waited < 700*time.Millisecond {
		t.Errorf("Open gave up after %s, want it to wait 700ms", waited)
	}
	var le *store.LockedError
	if !errors.As(err, &le) || !store.IsLocked(err) {
		t.Fatalf("Open of a held store: %v, want a LockedError", err)
	}
	if le.PID != cmd.Process.Pid {
		t.Errorf("PID = %d, want the holder's %d", le.PID, cmd.Process.Pid)
	}
	msg := err.Error()
	for _, want := range []string{fmt.Sprintf("process %d (%s -test.run=^$)", cmd.Process.Pid, os.Args[0]), "after waiting 700ms", dir} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

// A holder that exits within the wait (a server just stopped) lets Open
// through.
func TestOpenWaitsForLock(t *testing.T) {
	dir := t.TempDir()
	_, stdin := holdStore(t, dir)
	go func() {
		time.Sleep(300 * time.Millisecond)
		stdin.Close()
	}()
	s, err := store.Open(context.Background(), dir, store.Options{LockWait: 10 * time.Second})
	if err != nil {
		t.Fatalf("Open while the holder exits: %v", err)
	}
	s.Close()
}

// Open makes the data directory owner-only whatever its modes were, and
// says so once.
func TestOpenTightensPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "buckets", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "buckets"), filepath.Join(dir, "buckets", "b")} {
		os.Chmod(p, 0o755)
	}
	if err := os.WriteFile(filepath.Join(dir, "buckets", "b", "log.json.gz"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "buckets", "b", "log.json.gz"), 0o644)
	var logs syncBuffer
	s, err := store.Open(context.Background(), dir, store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := strings.Count(logs.String(), "owner-only"); got != 1 {
		t.Errorf("logged %d lines about permissions, want 1:\n%s", got, logs.String())
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v after Open, want owner-only", p, info.Mode().Perm())
		}
		return nil
	})
	// A second Open has nothing to tighten and says nothing.
	logs = syncBuffer{}
	s, err = store.Open(context.Background(), dir, store.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if strings.Contains(logs.String(), "owner-only") {
		t.Errorf("second Open logged about permissions:\n%s", logs.String())
	}
}

// AppendBatchesThen stores the records then makes from the outcome in the
// same transaction, after the batches' records: then sees a duplicate as
// one, its records are numbered after the batches', and out covers only
// the batches. When the COMMIT fails, neither is stored.
func TestAppendBatchesThen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Append(ctx, []*event.Record{rec(t, 1, nil)}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var seen []store.Outcome
	then := func(out []store.Outcome) []*event.Record {
		seen = append([]store.Outcome(nil), out...)
		return []*event.Record{rec(t, 10, nil)}
	}
	out, err := s.AppendBatchesThen(ctx, []*store.Batch{s.Prepare([]*event.Record{rec(t, 1, nil), rec(t, 2, nil)})}, time.Time{}, then)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Outcome{store.Duplicate, store.Stored}
	if fmt.Sprint(out) != fmt.Sprint(want) || fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("out %v, then saw %v; want %v for both", out, seen, want)
	}
	evs, err := s.ReadAfter(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, fmt.Sprintf("%d:%s", e.Seq, e.Rec.EventID))
	}
	if got := strings.Join(ids, " "); got != "1:ev-00000001 2:ev-00000002 3:ev-00000010" {
		t.Fatalf("stored %s; want the batch's new record, then then's", got)
	}

	// A failing COMMIT (the WAL made unwritable, as above) stores neither.
	if _, err := s.DB().ExecContext(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, store.DBFile+".wal")
	if err := os.Mkdir(wal, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = s.AppendBatchesThen(ctx, []*store.Batch{s.Prepare([]*event.Record{rec(t, 3, nil)})}, time.Time{}, func([]store.Outcome) []*event.Record {
		return []*event.Record{rec(t, 11, nil)}
	})
	if err == nil {
		t.Fatal("AppendBatchesThen with an unwritable WAL succeeded")
	}
	if err := os.Remove(wal); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.ReadAfter(ctx, 3, 10); err != nil || len(evs) != 0 {
		t.Fatalf("after the failed commit: %d events past seq 3 (%v), want none", len(evs), err)
	}
	if s.LastSeq() != 3 {
		t.Errorf("LastSeq %d after the failed commit, want 3", s.LastSeq())
	}
}
