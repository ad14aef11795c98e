package store

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// logBuf collects a store's log for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openLogged(t *testing.T, dir string, opts Options) (*Store, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	opts.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, lb
}

// snapRecs makes n records numbered from first, spread over days from
// at, with several users so that the day index has many pairs.
func snapRecs(t *testing.T, first, n int, at time.Time) []*event.Record {
	var recs []*event.Record
	for i := first; i < first+n; i++ {
		recs = append(recs, dayRec(t, i, "111111111111", []string{"alice", "bob", "carol"}[i%3]+string(rune('a'+i%7)), at.Add(time.Duration(i)*time.Hour)))
	}
	return recs
}

// sameSet fails unless got holds exactly the elements of want.
func sameSet(t *testing.T, what string, got, want *idSet) {
	t.Helper()
	if got.n != want.n || got.zero != want.zero {
		t.Fatalf("%s: %d elements (zero %v), want %d (zero %v)", what, got.n, got.zero, want.n, want.zero)
	}
	for _, h := range want.slots {
		if h != 0 && !got.has(h) {
			t.Fatalf("%s: %x missing", what, h)
		}
	}
}

// checkSets compares the store's sets with full loads from the tables:
// the eventIDs exactly, the day pairs exactly or (subset) a subset of the
// index's.
func checkSets(t *testing.T, s *Store, subset bool) {
	t.Helper()
	ctx := context.Background()
	ids, err := s.loadIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	days, err := s.loadDays(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	sameSet(t, "eventIDs", s.ids, ids)
	if !subset {
		sameSet(t, "day pairs", s.days, days)
		return
	}
	for _, h := range s.days.slots {
		if h != 0 && !days.has(h) {
			t.Fatalf("day pairs: %x is not in lookup_days", h)
		}
	}
}

// crashCopy copies a store's files while it is open and idle: what a
// kill -9 leaves (every acknowledged append is in the files).
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		defer out.Close()
		_, err = io.Copy(out, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func wantOutcomes(t *testing.T, got []Outcome, want Outcome) {
	t.Helper()
	for i, o := range got {
		if o != want {
			t.Fatalf("record %d: %v, want %v", i, o, want)
		}
	}
}

// Close writes both snapshots; the next Open reads the sets from them
// (not from the tables), and they equal what a full load gives.
func TestSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := openLogged(t, dir, Options{})
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	first := snapRecs(t, 0, 3000, at)
	if _, err := s.Append(ctx, first, time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, f := range []string{IDSnapshotFile, DaySnapshotFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("Close wrote no %s: %v", f, err)
		}
	}
	s, lb := openLogged(t, dir, Options{})
	if !strings.Contains(lb.String(), "loaded eventIDs from snapshot") || !strings.Contains(lb.String(), "loaded the day index from snapshot") {
		t.Fatalf("sets not read from the snapshots:\n%s", lb)
	}
	if s.snap.seq.Load() != 3000 {
		t.Fatalf("snapshot covers seq %d, want 3000", s.snap.seq.Load())
	}
	checkSets(t, s, false)
	out, err := s.Append(ctx, first[:500], time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	wantOutcomes(t, out, Duplicate)
	if s.LastSeq() != 3000 {
		t.Fatalf("LastSeq %d after duplicates, want 3000", s.LastSeq())
	}
}

// A damaged or torn snapshot is not used: Open says so and loads the sets
// from the tables, and dedupe is still right.
func TestSnapshotDamagedFallsBack(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	recs := snapRecs(t, 0, 2000, at)
	damage := map[string]func(t *testing.T, path string){
		"flipped slot byte": func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			for i := snapHeaderSize; i < len(b); i++ {
				if b[i] != 0 {
					b[i] ^= 0x40
					break
				}
			}
			os.WriteFile(path, b, 0o600)
		},
		"torn": func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()/2)
		},
		"header": func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			b[20] ^= 1 // seq
			os.WriteFile(path, b, 0o600)
		},
		"empty": func(t *testing.T, path string) { os.Truncate(path, 0) },
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := openLogged(t, dir, Options{})
			if _, err := s.Append(ctx, recs, time.Time{}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			fn(t, filepath.Join(dir, IDSnapshotFile))
			fn(t, filepath.Join(dir, DaySnapshotFile))
			s, lb := openLogged(t, dir, Options{})
			for _, want := range []string{"eventID snapshot unusable", "day-index snapshot unusable"} {
				if !strings.Contains(lb.String(), want) {
					t.Fatalf("log lacks %q:\n%s", want, lb)
				}
			}
			checkSets(t, s, false)
			out, err := s.Append(ctx, recs[:100], time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			wantOutcomes(t, out, Duplicate)
			// The next snapshot is whole again.
			if err := s.snap.saveIDSnapshot(ctx); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, lb = openLogged(t, dir, Options{})
			if !strings.Contains(lb.String(), "loaded eventIDs from snapshot") {
				t.Fatalf("rewritten snapshot not used:\n%s", lb)
			}
			checkSets(t, s, false)
		})
	}
}

// A crash after a snapshot loses nothing: the events committed after it
// are read from the events table, so they are still deduplicated; their
// day pairs are not read (the set may lack pairs, never hold extra ones),
// and a new event with one of them indexes it again harmlessly.
func TestSnapshotCrashTopUp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := openLogged(t, dir, Options{})
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a, b := snapRecs(t, 0, 1500, at), snapRecs(t, 1500, 1500, at.Add(-40*24*time.Hour))
	if _, err := s.Append(ctx, a, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.snap.saveIDSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, b, time.Time{}); err != nil {
		t.Fatal(err)
	}
	crashed := crashCopy(t, dir) // kill -9 now: b is after the snapshot

	c, lb := openLogged(t, crashed, Options{})
	if !strings.Contains(lb.String(), "after_snapshot=1500") {
		t.Fatalf("top-up did not read the 1500 events after the snapshot:\n%s", lb)
	}
	checkSets(t, c, true)
	out, err := c.Append(ctx, append(append([]*event.Record{}, b...), a[:10]...), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	wantOutcomes(t, out, Duplicate)
	if c.LastSeq() != 3000 {
		t.Fatalf("LastSeq %d, want 3000", c.LastSeq())
	}
	// New events with b's values on b's days, and on a day no event had.
	day := b[0].EventTime // its pairs are in lookup_days, not in the set
	newDay := at.Add(-80 * 24 * time.Hour)
	fresh := []*event.Record{dayRec(t, 9000, "111111111111", b[0].Username, day), dayRec(t, 9001, "111111111111", b[0].Username, newDay)}
	if out, err := c.Append(ctx, fresh, time.Time{}); err != nil || out[0] != Stored || out[1] != Stored {
		t.Fatalf("fresh events: %v %v", out, err)
	}
	checkSets(t, c, true)
	for _, d := range []int32{dayOf(day), dayOf(newDay)} {
		got, err := lookups{c}.valueDays(ctx, dayUsername, []string{"111111111111"}, b[0].Username, d, d)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != d {
			t.Fatalf("days of %s on day %d: %v", b[0].Username, d, got)
		}
	}
}

// Retention deletes day-index rows; a day snapshot written before it
// holds pairs the index no longer has and must not be used after a crash
// (appends would skip those pairs).
func TestDaySnapshotAfterRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := at.Add(200 * 24 * time.Hour)
	opts := Options{Retention: 90 * 24 * time.Hour, Now: func() time.Time { return now }}
	s, _ := openLogged(t, dir, opts)
	old := snapRecs(t, 0, 500, at)
	if _, err := s.Append(ctx, old, at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []*event.Record{dayRec(t, 7000, "111111111111", "erin", now)}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.snap.saveIDSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ApplyRetention(ctx); err != nil || n != 500 {
		t.Fatalf("retention: %d %v", n, err)
	}
	crashed := crashCopy(t, dir)

	c, lb := openLogged(t, crashed, opts)
	if !strings.Contains(lb.String(), "day-index snapshot unusable") {
		t.Fatalf("stale day snapshot used:\n%s", lb)
	}
	checkSetsDaysOnly(t, c)
	// The old events come back (imported again, say): stored anew, and
	// their day pairs indexed again.
	out, err := c.Append(ctx, old[:50], now)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcomes(t, out, Stored)
	checkSetsDaysOnly(t, c)
	d, err := lookups{c}.valueDays(ctx, dayUsername, []string{"111111111111"}, "alicea", dayOf(at)-1, dayOf(at)+1)
	if err != nil || len(d) == 0 {
		t.Fatalf("day index lost the re-stored events' days: %v %v", d, err)
	}
}

// Sequence numbers a snapshot covers are never given again, even when
// retention deleted every event before a restart.
func TestSnapshotSeqNotReused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := at.Add(200 * 24 * time.Hour)
	opts := Options{Retention: 90 * 24 * time.Hour, Now: func() time.Time { return now }}
	s, _ := openLogged(t, dir, opts)
	if _, err := s.Append(ctx, snapRecs(t, 0, 500, at), at); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ApplyRetention(ctx); err != nil || n != 500 {
		t.Fatalf("retention: %d %v", n, err)
	}
	s.Close()
	c, _ := openLogged(t, dir, opts)
	if c.LastSeq() != 500 {
		t.Fatalf("LastSeq %d after every event was deleted, want 500", c.LastSeq())
	}
	if _, err := c.Append(ctx, snapRecs(t, 600, 1, now), now); err != nil {
		t.Fatal(err)
	}
	if c.LastSeq() != 501 {
		t.Fatalf("LastSeq %d, want 501", c.LastSeq())
	}
}

func checkSetsDaysOnly(t *testing.T, s *Store) {
	t.Helper()
	days, err := s.loadDays(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	sameSet(t, "day pairs", s.days, days)
}

// The background saver writes a snapshot once enough events are behind,
// while appends go on, and a crash after it tops up only the rest.
func TestBackgroundSnapshot(t *testing.T) {
	check, every := snapshotCheck, snapshotEvery
	t.Cleanup(func() { snapshotCheck, snapshotEvery = check, every }) // after the store closes
	snapshotCheck, snapshotEvery = 20*time.Millisecond, 1000
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := openLogged(t, dir, Options{})
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 6; i++ {
		if _, err := s.Append(ctx, snapRecs(t, i*400, 400, at), time.Time{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.snap.seq.Load() < 1000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.snap.seq.Load(); got < 1000 {
		t.Fatalf("background snapshot covers %d, want at least 1000", got)
	}
	s.snap.mu.Lock() // no snapshot while copying
	crashed := crashCopy(t, dir)
	s.snap.mu.Unlock()
	c, lb := openLogged(t, crashed, Options{})
	if !strings.Contains(lb.String(), "loaded eventIDs from snapshot") {
		t.Fatalf("background snapshot not used:\n%s", lb)
	}
	checkSets(t, c, true)
}
