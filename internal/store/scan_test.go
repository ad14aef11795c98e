package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/store"
)

// TestScanRunReadsEachRunOnce: ScanRun hands over every compacted event
// exactly once, run by run, the same bytes ReadAfter reads, ending at each
// compaction's last number; past the columnar tier it reports 0. Retention
// removing a run's older files leaves the rest of the run readable.
func TestScanRunReadsEachRunOnce(t *testing.T) {
	ctx := context.Background()
	now := base.Add(3 * 24 * time.Hour)
	s, err := store.Open(ctx, t.TempDir(), store.Options{Retention: 36 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := mixedRecords(t, 1800)
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{}
	for pos := int64(0); ; {
		evs, err := s.ReadAfter(ctx, pos, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			want[e.Seq] = string(e.Rec.Raw) + e.IngestTime.Format(time.RFC3339Nano)
			pos = e.Seq
		}
	}
	for _, through := range []int64{600, 1100, 1500} {
		if _, err := s.Compact(ctx, through); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(from int64) (end int64, got map[int64]string) {
		t.Helper()
		got = map[int64]string{}
		end, err := s.ScanRun(ctx, from, func(evs []store.Event) error {
			for _, e := range evs {
				if _, dup := got[e.Seq]; dup {
					t.Fatalf("ScanRun(%d) handed over %d twice", from, e.Seq)
				}
				got[e.Seq] = string(e.Rec.Raw) + e.IngestTime.Format(time.RFC3339Nano)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return end, got
	}
	check := func(from, wantEnd int64, got map[int64]string, end int64) {
		t.Helper()
		if end != wantEnd {
			t.Fatalf("ScanRun(%d) ended at %d, want %d", from, end, wantEnd)
		}
		n := 0
		for seq := from + 1; seq <= wantEnd; seq++ {
			w, ok := want[seq]
			if !ok {
				continue
			}
			n++
			if got[seq] != w {
				t.Fatalf("ScanRun(%d), event %d:\n got %q\nwant %q", from, seq, got[seq], w)
			}
		}
		if len(got) != n {
			t.Fatalf("ScanRun(%d) handed over %d events, want %d", from, len(got), n)
		}
	}
	// From the start, from inside a run, and run by run; with whole
	// files, and with files read in windows of 7 rows.
	for _, c := range []struct{ from, end int64 }{{0, 600}, {250, 600}, {600, 1100}, {1099, 1100}, {1100, 1500}} {
		end, got := scan(c.from)
		check(c.from, c.end, got, end)
		old := store.SetScanRows(7)
		end, got = scan(c.from)
		store.SetScanRows(old)
		check(c.from, c.end, got, end)
	}
	if end, got := scan(1500); end != 0 || len(got) != 0 {
		t.Fatalf("ScanRun past the columnar tier: end %d, %d events", end, len(got))
	}

	// Retention drops the oldest days: the runs keep their ends, with
	// the removed numbers absent.
	removed, err := s.ApplyRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if removed == 0 {
		t.Fatal("retention removed nothing")
	}
	left := map[int64]string{}
	for pos := int64(0); pos < 1500; {
		evs, err := s.ReadAfter(ctx, pos, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Seq <= 1500 {
				left[e.Seq] = want[e.Seq]
			}
		}
		pos = 1500
	}
	want = left
	for from := int64(0); ; {
		end, got := scan(from)
		if end == 0 {
			if from != 1500 {
				t.Fatalf("ScanRun stopped at %d, want 1500", from)
			}
			break
		}
		check(from, end, got, end)
		from = end
	}
	if len(want) != 1500-int(removed) {
		t.Fatalf("%d compacted events left, want %d", len(want), 1500-removed)
	}
}
