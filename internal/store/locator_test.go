package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// byEventID looks an eventID up as the console's bare event URL does: in
// one account, with no time range.
func byEventID(t *testing.T, s *store.Store, account, id string) []store.Event {
	t.Helper()
	evs, err := s.Lookup(context.Background(), store.LookupQuery{Accounts: []string{account}, Attrs: []store.Attr{{Key: "EventId", Value: id}}, Limit: 2})
	if err != nil {
		t.Fatalf("EventId %s in %s: %v", id, account, err)
	}
	return evs
}

// TestEventIdLookupReadsOnlyItsFiles: a lookup by EventId reads the
// columnar files of the event's day only (and none for a hot event), so
// it answers even when every other columnar file is unreadable.
func TestEventIdLookupReadsOnlyItsFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	recs := mixedRecords(t, 1200) // 2.8 days of eventTime, two accounts and regions
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(ctx, 900); err != nil {
		t.Fatal(err)
	}
	cold, hot := recs[100], recs[1100]
	day := cold.EventTime.Truncate(24 * time.Hour)
	files := s.ColdFiles()
	s.Close()
	damaged := 0
	for _, f := range files {
		if !f.Day.Equal(day) {
			if err := os.WriteFile(filepath.Join(dir, store.ColumnarDir, filepath.FromSlash(f.Path)), []byte("not parquet"), 0o600); err != nil {
				t.Fatal(err)
			}
			damaged++
		}
	}
	if damaged == 0 || damaged == len(files) {
		t.Fatalf("damaged %d of %d files: the test needs events on several days", damaged, len(files))
	}
	s = open(t, dir)
	for _, r := range []*event.Record{cold, hot} {
		evs := byEventID(t, s, r.AccountID, r.EventID)
		if len(evs) != 1 || string(evs[0].Rec.Raw) != string(r.Raw) {
			t.Fatalf("EventId %s: %d events", r.EventID, len(evs))
		}
	}
	// In another account, the same eventID is no event.
	other := map[string]string{"111122223333": "444455556666", "444455556666": "111122223333"}[cold.AccountID]
	if evs := byEventID(t, s, other, cold.EventID); len(evs) != 0 {
		t.Fatalf("EventId %s found in %s", cold.EventID, other)
	}
}

// TestLocatorBuiltForOlderStores: a store whose columnar tier was written
// before the locator gets it at Open, and every columnar event is found
// by its EventId again (and is a duplicate when sent again).
func TestLocatorBuiltForOlderStores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	recs := mixedRecords(t, 900)
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Compact(ctx, 600); err != nil {
		t.Fatal(err)
	}
	before := everything(t, s)
	// What the release before the locator leaves.
	if _, err := s.DB().ExecContext(ctx, `DELETE FROM cold_ids; DELETE FROM meta WHERE key = 'event-locator'`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir)
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM cold_ids`).Scan(&n); err != nil || n != 600 {
		t.Fatalf("the locator has %d rows after the upgrade (%v), want 600", n, err)
	}
	after := everything(t, s)
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("after the upgrade, %s: got %s\nwant %s", k, after[k], v)
		}
	}
	for _, r := range recs[:600] {
		if evs := byEventID(t, s, r.AccountID, r.EventID); len(evs) != 1 || evs[0].Rec.EventID != r.EventID {
			t.Fatalf("EventId %s after the upgrade: %d events", r.EventID, len(evs))
		}
	}
	out, err := s.Append(ctx, []*event.Record{recs[10], recs[599]}, base)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o != store.Duplicate {
			t.Errorf("retry %d after the upgrade: %v, want duplicate", i, o)
		}
	}
}
