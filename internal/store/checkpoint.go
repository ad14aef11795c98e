package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Checkpoints: DuckDB folds its WAL into the database file. Left to
// DuckDB, that happens inside the COMMIT that takes the WAL past its
// threshold, so every request of that group commit waits for it (a 64 MiB
// WAL took ~1 s to fold). The store instead checkpoints from a goroutine of
// its own, on another connection, once the WAL passes
// Options.CheckpointThreshold (or has waited CheckpointInterval), and sets
// DuckDB's own threshold to a backstop far above it.
//
// What DuckDB does, measured (docs/architecture.md "Storage"):
//
//   - A CHECKPOINT started while another connection has a write
//     transaction open fails at once ("there are other write transactions
//     active"); nothing is lost, it can be tried again.
//   - Once a CHECKPOINT has started, other connections' transactions that
//     only append to tables without indexes go on, but an append to a table
//     waits while the checkpoint writes that table; their COMMITs are made
//     durable in DuckDB's WAL as before.
//
// So the checkpointer takes txMu, which commitRows holds from BEGIN to
// COMMIT, only for the moment the CHECKPOINT needs to start, then lets
// commits go on; the group commits that wait are those that append while
// the checkpoint writes the events table, and what they wait is bounded by
// the threshold (the checkpoint's work grows with the WAL). The writer lock
// wmu is never held, so deduplication, segment writes and fsyncs go on
// throughout. A CHECKPOINT that failed to start is tried again at the next
// poll.

// CheckpointInterval is how long a WAL below the threshold may wait for a
// checkpoint, so that a quiet store's WAL (replayed at every start-up) is
// folded too.
const CheckpointInterval = 5 * time.Minute

const (
	// checkpointPoll is how often the checkpointer looks at the WAL's size.
	checkpointPoll = 50 * time.Millisecond
	// checkpointStart is how long the checkpointer keeps commits from
	// beginning while its CHECKPOINT starts.
	checkpointStart = 10 * time.Millisecond
	// duckdbCheckpointBackstop is DuckDB's own checkpoint_threshold: the
	// WAL size at which DuckDB checkpoints inside a commit, should the
	// checkpointer fall that far behind.
	duckdbCheckpointBackstop = 1 << 30
)

// checkpoints is the background checkpointer's state.
type checkpoints struct {
	st         *Store
	stop, done chan struct{}
}

// startCheckpointer runs the background checkpointer until Close.
func (ck *checkpoints) startCheckpointer() {
	ck.stop = make(chan struct{})
	ck.done = make(chan struct{})
	go ck.checkpointer()
}

// stopCheckpointer stops the checkpointer and waits for a running
// CHECKPOINT to end. It is safe to call when none was started.
func (ck *checkpoints) stopCheckpointer() {
	if ck.stop == nil {
		return
	}
	close(ck.stop)
	<-ck.done
}

func (ck *checkpoints) checkpointer() {
	defer close(ck.done)
	t := time.NewTicker(checkpointPoll)
	defer t.Stop()
	last := time.Now()
	failures := 0
	for {
		select {
		case <-ck.stop:
			return
		case <-t.C:
		}
		size := ck.walSize()
		if size < ck.st.opts.CheckpointThreshold && (size == 0 || time.Since(last) < CheckpointInterval) {
			continue
		}
		err := ck.backgroundCheckpoint()
		if err == nil {
			last, failures = time.Now(), 0
			continue
		}
		failures++
		// A write transaction on another connection (cursors, trails,
		// channels) refuses it; it is tried again at the next poll. Only a
		// failure that persists is worth a word.
		if failures%100 == 0 || !strings.Contains(err.Error(), "other write transactions") {
			ck.st.log.Warn("background checkpoint failed; it is retried (the WAL grows until one succeeds)", "wal_bytes", size, "failures", failures, "err", err)
		}
	}
}

// backgroundCheckpoint runs one CHECKPOINT on a connection of the pool,
// keeping commits from beginning while it starts.
func (ck *checkpoints) backgroundCheckpoint() error {
	done := make(chan error, 1)
	ck.st.txMu.Lock()
	if hook := checkpointHook.Load(); hook != nil {
		(*hook)()
	}
	go func() {
		_, err := ck.st.db.ExecContext(context.Background(), "CHECKPOINT")
		done <- err
	}()
	select {
	case err := <-done:
		ck.st.txMu.Unlock()
		return err
	case <-time.After(checkpointStart):
		ck.st.txMu.Unlock()
	}
	return <-done
}

// checkpointHook, when set (by tests), runs as a background checkpoint
// begins.
var checkpointHook atomic.Pointer[func()]

// walSize is the size of DuckDB's WAL file, 0 when there is none.
func (ck *checkpoints) walSize() int64 {
	fi, err := os.Stat(filepath.Join(ck.st.dir, DBFile+".wal"))
	if err != nil || !fi.Mode().IsRegular() {
		return 0
	}
	return fi.Size()
}
