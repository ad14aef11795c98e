package store

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
)

// scanRows is about how many rows ScanRun reads from a file at a time: a
// larger file is read in sequence-number windows of about this many rows,
// so memory holds that many records, not a whole file's.
var scanRows int64 = 50_000

// ScanRun reads the events after seq that lie in the columnar tier, one
// compaction run at a time: the events one compaction moved, from the files
// it wrote. It calls fn with them in slices, in no particular order, and
// returns the run's last sequence number; a consumer that counts the slices
// and then moves its cursor to that number has read (seq, end] in full
// (numbers retention removed are simply absent). It returns 0 when seq+1
// is not in the columnar tier: read the hot tail with ReadAfter.
//
// ReadAfter reads the same events in sequence order, but a file's rows are
// sorted by source, name and time, so every window of ReadAfter
// decompresses every file of the run; ScanRun reads each file once. It is
// how a new consumer catches up with a large compacted history.
//
// The files are held (retention defers removing them) but not the tier's
// lock, so compaction and lookups go on while a run is read.
func (s *Store) ScanRun(ctx context.Context, seq int64, fn func([]Event) error) (end int64, err error) {
	s.cold.mu.RLock()
	if seq >= s.cold.through {
		s.cold.mu.RUnlock()
		return 0, nil
	}
	end = s.cold.through // no file after seq: retention removed every number
	for _, f := range s.cold.files {
		if _, hi := f.run(); hi > seq && hi < end {
			end = hi
		}
	}
	files := s.cold.filesWhere(func(f ColdFile) bool {
		_, hi := f.run()
		return hi == end && f.MaxSeq > seq
	})
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = s.cold.path(f.Path)
	}
	s.cold.ref(paths)
	s.cold.mu.RUnlock()
	defer s.cold.unref(paths)

	slices.SortFunc(files, func(a, b ColdFile) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range files {
		lo := max(seq, f.MinSeq-1)
		windows := max(1, (f.Rows+scanRows-1)/scanRows)
		step := (f.MaxSeq - lo + windows - 1) / windows
		for a := lo; a < f.MaxSeq; a += step {
			b := min(a+step, f.MaxSeq)
			evs, err := s.cold.events(ctx, []ColdFile{f}, `seq > ? AND seq <= ?`, []any{a, b}, "")
			if err != nil {
				return 0, fmt.Errorf("scan %s: %w", f.Path, err)
			}
			if len(evs) == 0 {
				continue
			}
			if err := fn(evs); err != nil {
				return 0, err
			}
		}
	}
	return end, nil
}

// run returns the sequence numbers (lo, hi] of the compaction that wrote
// the file, from its name (part-<lo+1>-<hi>.parquet); a file named
// otherwise is a run of its own, (MinSeq-1, MaxSeq].
func (f ColdFile) run() (lo, hi int64) {
	var from, through int64
	if n, err := fmt.Sscanf(path.Base(f.Path), "part-%d-%d.parquet", &from, &through); err == nil && n == 2 && from >= 1 && through >= from {
		return from - 1, through
	}
	return f.MinSeq - 1, f.MaxSeq
}
