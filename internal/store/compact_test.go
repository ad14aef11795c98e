package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// mixedRecords are n records over two accounts, two regions and three
// days, with a few odd ones.
func mixedRecords(t testing.TB, n int) []*event.Record {
	var recs []*event.Record
	for i := range n {
		recs = append(recs, rec(t, i*200, func(m map[string]string) {
			m["account"] = []string{"111122223333", "444455556666"}[i%2]
			m["region"] = []string{"us-east-1", "eu-west-1"}[(i/2)%2]
			m["name"] = []string{"DescribeInstances", "GetObject", "ConsoleLogin"}[i%3]
			m["user"] = []string{"alice", "bob", "carol", "dave"}[i%4]
			if i%7 == 0 {
				m["readOnly"] = "false"
				m["res"] = `[]`
			}
		}))
	}
	return recs
}

// everything reads every event back through ReadAfter, ReadSeqs and
// Lookup and returns what each saw, keyed for comparison.
func everything(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var seqs []int64
	var byID []store.LookupQuery // every 25th event, by its EventId
	for pos := int64(0); ; {
		evs, err := s.ReadAfter(ctx, pos, 97)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if e.Seq <= pos {
				t.Fatalf("ReadAfter(%d) returned %d out of order", pos, e.Seq)
			}
			pos = e.Seq
			seqs = append(seqs, e.Seq)
			if len(seqs)%25 == 1 {
				byID = append(byID, store.LookupQuery{Accounts: []string{e.Rec.AccountID}, Attrs: []store.Attr{{Key: "EventId", Value: e.Rec.EventID}}, Limit: 2})
			}
			out[fmt.Sprintf("after %d", e.Seq)] = string(e.Rec.Raw) + " @" + e.IngestTime.Format(time.RFC3339Nano)
		}
	}
	evs, err := s.ReadSeqs(ctx, seqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		out[fmt.Sprintf("seq %d", e.Seq)] = string(e.Rec.Raw)
	}
	for _, q := range append([]store.LookupQuery{
		{Limit: 50},
		{Accounts: []string{"111122223333"}, Region: "us-east-1", Limit: 7},
		{Accounts: []string{"444455556666"}, Attrs: []store.Attr{{Key: "EventName", Value: "GetObject"}}, Limit: 1000},
		{Attrs: []store.Attr{{Key: "Username", Value: "bob"}}, Limit: 1000},
		{Attrs: []store.Attr{{Key: "ReadOnly", Value: "false"}}, Limit: 1000},
		{Attrs: []store.Attr{{Key: "ResourceName", Value: "audit-bucket"}}, Limit: 13},
		{Attrs: []store.Attr{{Key: "EventId", Value: "ev-00002000"}}, Limit: 5},
		{Start: base.Add(24 * time.Hour), End: base.Add(36 * time.Hour), Limit: 1000},
	}, byID...) {
		evs, err := s.Lookup(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, e := range evs {
			fmt.Fprintf(&b, "%d,", e.Seq)
		}
		out[fmt.Sprintf("lookup %+v", q)] = b.String()
	}
	return out
}

func TestCompactKeepsEveryEvent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	recs := mixedRecords(t, 1500)
	for i := 0; i < len(recs); i += 300 {
		if _, err := s.Append(ctx, recs[i:i+300], base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	before := everything(t, s)
	if len(before) < 3000 {
		t.Fatalf("only %d readings", len(before))
	}
	// Compact in two steps, the first ending inside a block.
	for _, through := range []int64{700, 1500} {
		res, err := s.Compact(ctx, through)
		if err != nil {
			t.Fatal(err)
		}
		if res.Through != through || res.Files == 0 {
			t.Fatalf("Compact(%d) = %+v", through, res)
		}
		if got := s.ColdThrough(); got != through {
			t.Fatalf("ColdThrough = %d, want %d", got, through)
		}
		after := everything(t, s)
		for k, v := range before {
			if after[k] != v {
				t.Fatalf("after compacting through %d, %s:\n got %s\nwant %s", through, k, after[k], v)
			}
		}
		if len(after) != len(before) {
			t.Fatalf("after compacting: %d readings, want %d", len(after), len(before))
		}
	}
	// Segment files no block points into are gone; the files are where
	// other engines expect them.
	var files []string
	filepath.WalkDir(filepath.Join(dir, store.ColumnarDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(dir, store.ColumnarDir), p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if len(files) == 0 || !strings.HasPrefix(files[0], "account=111122223333/region=eu-west-1/date=2024-05-") {
		t.Fatalf("columnar files: %v", files)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 1500 {
		t.Fatalf("Stats.Events = %d, want 1500", st.Events)
	}
	// Retries of compacted events are still duplicates; a new event gets
	// the next number.
	out, err := s.Append(ctx, append(recs[:2:2], rec(t, 999999, nil)), base)
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != store.Duplicate || out[1] != store.Duplicate || out[2] != store.Stored {
		t.Fatalf("outcomes after compaction: %v", out)
	}
	if got := s.LastSeq(); got != 1501 {
		t.Fatalf("LastSeq = %d, want 1501", got)
	}
	s.Close()
	// Reopened, the store is the same.
	s2 := open(t, dir)
	if got := s2.LastSeq(); got != 1501 {
		t.Fatalf("after reopen LastSeq = %d, want 1501", got)
	}
	again := everything(t, s2)
	for k, v := range before {
		if again[k] != v && !strings.HasPrefix(k, "lookup") {
			t.Fatalf("after reopen, %s:\n got %s\nwant %s", k, again[k], v)
		}
	}
	out, err = s2.Append(ctx, recs[1400:1402], base)
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != store.Duplicate || out[1] != store.Duplicate {
		t.Fatalf("outcomes after reopen: %v", out)
	}
}

// TestCompactStoppedAtEveryStep stops a compaction at each of its steps,
// as a crash would, and checks that the reopened store has every event
// once, and that a later compaction completes.
func TestCompactStoppedAtEveryStep(t *testing.T) {
	for _, step := range []string{"staged", "written", "before-commit", "committed"} {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s, err := store.Open(ctx, dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			recs := mixedRecords(t, 600)
			if _, err := s.Append(ctx, recs, base); err != nil {
				t.Fatal(err)
			}
			before := everything(t, s)
			crash := errors.New("crash")
			store.SetCompactHook(func(at string) error {
				if at == step {
					return crash
				}
				return nil
			})
			_, err = s.Compact(ctx, 400)
			store.SetCompactHook(nil)
			if !errors.Is(err, crash) {
				t.Fatalf("Compact = %v, want the crash", err)
			}
			s.Close()
			s = open(t, dir)
			after := everything(t, s)
			for k, v := range before {
				if after[k] != v {
					t.Fatalf("%s: got %s\nwant %s", k, after[k], v)
				}
			}
			if len(after) != len(before) {
				t.Fatalf("%d readings, want %d", len(after), len(before))
			}
			if _, err := s.Compact(ctx, 600); err != nil {
				t.Fatal(err)
			}
			final := everything(t, s)
			for k, v := range before {
				if final[k] != v {
					t.Fatalf("after a full compaction, %s: got %s\nwant %s", k, final[k], v)
				}
			}
			// Nothing but listed files is left in the columnar directory.
			var stray []string
			listed := map[string]bool{}
			for _, f := range s.ColdFiles() {
				listed[f.Path] = true
			}
			filepath.WalkDir(filepath.Join(dir, store.ColumnarDir), func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(filepath.Join(dir, store.ColumnarDir), p)
					if !listed[filepath.ToSlash(rel)] {
						stray = append(stray, rel)
					}
				}
				return nil
			})
			if len(stray) > 0 && step != "committed" {
				t.Fatalf("stray files: %v", stray)
			}
		})
	}
}

func TestNewerStoreFormatIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.SetMeta(ctx, "store-format", []byte("4")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := store.Open(ctx, dir, store.Options{})
	if err == nil || !strings.Contains(err.Error(), "written by a newer opentrail (store format 4") {
		t.Fatalf("Open of a newer store: %v", err)
	}
}

func TestRetentionRemovesExpiredColumnarFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := base.Add(3 * 24 * time.Hour)
	s, err := store.Open(ctx, dir, store.Options{Retention: 36 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := mixedRecords(t, 1500) // eventTimes over base .. base+3.5 days
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(ctx, 1500); err != nil {
		t.Fatal(err)
	}
	n, err := s.ApplyRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("retention removed nothing")
	}
	cutoff := now.Add(-36 * time.Hour)
	for _, f := range s.ColdFiles() {
		if f.MaxTime.Before(cutoff) {
			t.Fatalf("expired file kept: %+v", f)
		}
		if _, err := os.Stat(filepath.Join(dir, store.ColumnarDir, f.Path)); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.ReadAfter(ctx, 0, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(evs)) != 1500-n {
		t.Fatalf("%d events left, want %d", len(evs), 1500-n)
	}
	// The locator keeps the rows of the files left, and no others.
	var located int64
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM cold_ids`).Scan(&located); err != nil {
		t.Fatal(err)
	}
	if located != int64(len(evs)) {
		t.Errorf("the locator has %d rows for %d columnar events", located, len(evs))
	}
	for _, e := range evs {
		if !bytes.Contains(e.Rec.Raw, []byte(`"eventID"`)) {
			t.Fatalf("event %d: %s", e.Seq, e.Rec.Raw)
		}
	}
}

// TestCompactedIDsAfterReopen: events compacted after the last id-set
// snapshot, or with no snapshot at all, are still known at the next Open,
// so their retries are duplicates.
func TestCompactedIDsAfterReopen(t *testing.T) {
	for _, snap := range []string{"stale snapshot", "no snapshot"} {
		t.Run(snap, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := open(t, dir)
			recs := mixedRecords(t, 900)
			if _, err := s.Append(ctx, recs[:300], base); err != nil {
				t.Fatal(err)
			}
			s.Close() // writes a snapshot covering 300
			stale := map[string][]byte{}
			for _, f := range []string{store.IDSnapshotFile, store.DaySnapshotFile} {
				stale[f], _ = os.ReadFile(filepath.Join(dir, f))
			}
			s = open(t, dir)
			if _, err := s.Append(ctx, recs[300:], base); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Compact(ctx, 800); err != nil {
				t.Fatal(err)
			}
			s.Close()
			for f, b := range stale {
				p := filepath.Join(dir, f)
				if snap == "no snapshot" {
					os.Remove(p)
				} else if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s = open(t, dir)
			out, err := s.Append(ctx, []*event.Record{recs[10], recs[500], recs[850]}, base)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range out {
				if o != store.Duplicate {
					t.Fatalf("retry %d after reopen with a %s: %v, want duplicate", i, snap, o)
				}
			}
		})
	}
}

// TestUpgradeFromSegmentsOnlyStore: a data directory written by the
// release before the columnar tier (no manifest, no format mark, no set
// snapshots) opens, is compacted in steps, and keeps every event once.
func TestUpgradeFromSegmentsOnlyStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	recs := mixedRecords(t, 1200)
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	before := everything(t, s)
	// What the previous release leaves: its own tables only.
	if _, err := s.DB().ExecContext(ctx, `DROP TABLE columnar_files; DELETE FROM meta WHERE key IN ('store-format', 'columnar-through', 'block-floor')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, f := range []string{store.IDSnapshotFile, store.DaySnapshotFile} {
		os.Remove(filepath.Join(dir, f))
	}
	os.RemoveAll(filepath.Join(dir, store.ColumnarDir))

	s = open(t, dir)
	if s.ColdThrough() != 0 || len(s.ColdFiles()) != 0 {
		t.Fatalf("an upgraded store starts with a columnar tier: %d, %v", s.ColdThrough(), s.ColdFiles())
	}
	for _, through := range []int64{500, 1000, 1200} {
		if _, err := s.Compact(ctx, through); err != nil {
			t.Fatal(err)
		}
	}
	after := everything(t, s)
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("after the upgrade, %s: got %s\nwant %s", k, after[k], v)
		}
	}
	if len(after) != len(before) {
		t.Fatalf("%d readings after the upgrade, %d before", len(after), len(before))
	}
	if v, err := s.Meta(ctx, "store-format"); err != nil || string(v) != "3" {
		t.Fatalf("store format %q, %v", v, err)
	}
}
