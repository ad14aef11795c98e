package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// ckptBatch is the records of batch b of the checkpoint tests.
func ckptBatch(t *testing.T, b, n int) []*event.Record {
	at := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	recs := make([]*event.Record, n)
	for i := range recs {
		recs[i] = dayRec(t, b*n+i, "111111111111", fmt.Sprintf("user-%d", i%50), at.Add(time.Duration(b)*time.Minute))
	}
	return recs
}

// The WAL is folded by the store's checkpointer, not inside a commit:
// DuckDB's own threshold is out of reach, and the WAL still comes back
// under the store's threshold while appends go on.
func TestBackgroundCheckpointBoundsWAL(t *testing.T) {
	ctx := context.Background()
	const threshold = 256 << 10
	s, err := Open(ctx, t.TempDir(), Options{CheckpointThreshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var duck string
	if err := s.db.QueryRowContext(ctx, `SELECT current_setting('checkpoint_threshold')`).Scan(&duck); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(duck, "GiB") && !strings.Contains(duck, "GB") {
		t.Errorf("DuckDB checkpoint_threshold %s: want the backstop (1 GiB), not a size DuckDB reaches inside commits", duck)
	}
	var hooks atomic.Int64
	ran := make(chan struct{}, 1)
	hook := func() {
		hooks.Add(1)
		select {
		case ran <- struct{}{}:
		default:
		}
	}
	checkpointHook.Store(&hook)
	defer checkpointHook.Store(nil)
	maxWAL := int64(0)
	for b := 0; b < 60; b++ {
		if _, err := s.Append(ctx, ckptBatch(t, b, 200), time.Time{}); err != nil {
			t.Fatal(err)
		}
		maxWAL = max(maxWAL, s.ck.walSize())
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("no background checkpoint ran")
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.ck.walSize() >= threshold && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.ck.walSize(); n >= threshold {
		t.Errorf("WAL %d bytes after the appends, want it folded under %d", n, threshold)
	}
	t.Logf("largest WAL seen %d bytes; %d checkpoints started", maxWAL, hooks.Load())
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 60*200 {
		t.Fatalf("events %d (%v), want %d", n, err, 60*200)
	}
}

// ckptChildEnv names the data directory of the child process that
// TestKillDuringBackgroundCheckpoint kills.
const ckptChildEnv = "OPENTRAIL_STORE_CKPT_CHILD"

// A SIGKILL while a background checkpoint runs loses no acknowledged
// event and stores none twice. A child process appends batches with a
// small checkpoint threshold, printing each batch once Append has returned
// and each checkpoint as it starts; it is killed as its third checkpoint
// starts (the CHECKPOINT itself runs for milliseconds after that line).
func TestKillDuringBackgroundCheckpoint(t *testing.T) {
	if dir := os.Getenv(ckptChildEnv); dir != "" {
		ckptChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringBackgroundCheckpoint$", "-test.count=1")
	cmd.Env = append(os.Environ(), ckptChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1 // the last batch acknowledged
	checkpoints := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if b, ok := strings.CutPrefix(line, "acked "); ok {
			acked, _ = strconv.Atoi(b)
		}
		if line == "checkpoint" {
			checkpoints++
			if checkpoints == 3 {
				cmd.Process.Kill()
				break
			}
		}
	}
	cmd.Wait()
	if checkpoints < 3 || acked < 0 {
		t.Fatalf("the child saw %d checkpoints and acknowledged up to batch %d before it ended; the test needs it killed during its third checkpoint", checkpoints, acked)
	}

	ctx := context.Background()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := map[string]int{}
	for seq := int64(0); ; {
		evs, err := s.ReadAfter(ctx, seq, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			count[e.Rec.EventID]++
		}
		seq = evs[len(evs)-1].Seq
	}
	for id, n := range count {
		if n != 1 {
			t.Fatalf("event %s stored %d times", id, n)
		}
	}
	for b := 0; b <= acked; b++ {
		for _, r := range ckptBatch(t, b, ckptBatchSize) {
			if count[r.EventID] != 1 {
				t.Fatalf("acknowledged event %s (batch %d of %d) is missing after the kill", r.EventID, b, acked)
			}
		}
	}
	t.Logf("%d batches acknowledged, %d events stored after the kill", acked+1, len(count))
}

const ckptBatchSize = 200

// ckptChild is the child process: it appends until killed.
func ckptChild(t *testing.T, dir string) {
	s, err := Open(context.Background(), dir, Options{CheckpointThreshold: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // the checkpointer's lines and the appender's
	say := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(line + "\n")
	}
	hook := func() { say("checkpoint") }
	checkpointHook.Store(&hook)
	for b := 0; b < 100000; b++ {
		recs := ckptBatch(t, b, ckptBatchSize)
		if _, err := s.Append(context.Background(), recs, time.Time{}); err != nil {
			t.Fatal(err)
		}
		say(fmt.Sprintf("acked %d", b))
	}
}
