package rollup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

var now = time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// demoRecords are n demo records (with the planted incidents) over the
// span ending at end.
func demoRecords(t testing.TB, seed int64, n int, end time.Time, span time.Duration) []*event.Record {
	t.Helper()
	var recs []*event.Record
	err := demo.Generate(demo.Options{Seed: seed, Events: n, Start: end.Add(-span), Duration: span, Incidents: true}, func(raw []byte) error {
		r, err := event.Parse(raw)
		if err != nil {
			return err
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func appendAll(t testing.TB, st *store.Store, recs []*event.Record) {
	t.Helper()
	for len(recs) > 0 {
		part := recs[:min(1000, len(recs))]
		recs = recs[len(part):]
		if _, err := st.Append(context.Background(), part, now); err != nil {
			t.Fatal(err)
		}
	}
}

// hourly is ru_hourly as "account hour dim value n" lines, sorted.
func hourly(t *testing.T, st *store.Store) []string {
	t.Helper()
	return lines(t, st, `SELECT account, strftime(hour, '%Y-%m-%dT%H'), dim, value, n FROM ru_hourly`)
}

// expected is what ru_hourly must hold: the stored events counted per
// account, UTC hour and dimension, straight from the store's events table.
func expected(t *testing.T, st *store.Store) []string {
	t.Helper()
	q := `WITH e AS (SELECT account, strftime(date_trunc('hour', event_time), '%Y-%m-%dT%H') AS h, * FROM events)
	SELECT account, h, 'category', category, count(*) FROM e GROUP BY ALL
	UNION ALL SELECT account, h, 'errored', CAST(error_code <> '' AS VARCHAR), count(*) FROM e GROUP BY ALL
	UNION ALL SELECT account, h, 'readonly', CASE WHEN read_only IS NULL THEN 'unknown' ELSE CAST(read_only AS VARCHAR) END, count(*) FROM e GROUP BY ALL
	UNION ALL SELECT account, h, 'source', event_source, count(*) FROM e GROUP BY ALL
	UNION ALL SELECT account, h, 'name', event_name, count(*) FROM e GROUP BY ALL
	UNION ALL SELECT account, h, 'user', username, count(*) FROM e GROUP BY ALL
	UNION ALL SELECT account, h, 'ip', source_ip, count(*) FROM e GROUP BY ALL
	UNION ALL SELECT account, h, 'error', error_code, count(*) FROM e WHERE error_code <> '' GROUP BY ALL`
	return lines(t, st, q)
}

func lines(t *testing.T, st *store.Store, q string) []string {
	t.Helper()
	rows, err := st.DB().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, h, d, v string
		var n int64
		if err := rows.Scan(&a, &h, &d, &v, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %s %q %d", a, h, d, v, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func same(t *testing.T, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("nothing expected: the test compares nothing")
	}
	if !slices.Equal(got, want) {
		var diff []string
		for _, w := range want {
			if !slices.Contains(got, w) {
				diff = append(diff, "missing "+w)
			}
		}
		for _, g := range got {
			if !slices.Contains(want, g) {
				diff = append(diff, "extra   "+g)
			}
		}
		t.Fatalf("ru_hourly (%d rows) differs from the events (%d rows):\n%s", len(got), len(want), strings.Join(append(diff[:min(len(diff), 10)], diff[max(len(diff)-10, 0):]...), "\n"))
	}
}

func cisCount(t *testing.T, st *store.Store) (rows, distinct int) {
	t.Helper()
	if err := st.DB().QueryRow(`SELECT count(*), count(DISTINCT seq) FROM ru_cis`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

// TestReplayCountsNothingTwice fails a step after it wrote its counts and
// before it committed, and restarts the consumer (a new one over the same
// store, as after a crash) between batches: the counts end equal to the
// events, and no CIS row is kept twice.
func TestReplayCountsNothingTwice(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	recs := demoRecords(t, 3, 6000, now, 3*24*time.Hour)
	appendAll(t, st, recs[:2500])
	first := st.LastSeq()
	r, err := New(Config{Store: st, Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	same(t, hourly(t, st), expected(t, st))

	appendAll(t, st, recs[2500:])
	failed := errors.New("the process died")
	beforeCommit = func() error { return failed }
	err = r.Sync(ctx)
	beforeCommit = nil
	if !errors.Is(err, failed) {
		t.Fatalf("Sync = %v; want the injected failure", err)
	}
	// The failed step left nothing behind.
	cur, err := r.Cursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur != first {
		t.Fatalf("cursor %d after the failed step; want %d", cur, first)
	}
	// A new consumer over the same store (a restart) replays from the
	// durable cursor.
	r2, err := New(Config{Store: st, Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	same(t, hourly(t, st), expected(t, st))
	// The first consumer, whose memory forgot the failed step, changes
	// nothing when it runs again.
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	same(t, hourly(t, st), expected(t, st))
	n, distinct := cisCount(t, st)
	if n == 0 || n != distinct {
		t.Errorf("ru_cis holds %d rows of %d events; want each CIS event once (and some)", n, distinct)
	}
}

// TestImportedEventsLandInTheirHours appends a month-old import after
// today's events: its events are counted in their own hours, and Fresh
// catches up with it (or says it cannot, past SyncLimit).
func TestImportedEventsLandInTheirHours(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	appendAll(t, st, demoRecords(t, 5, 1500, now, 24*time.Hour))
	r, err := New(Config{Store: st, Clock: clock.NewFake(now), SyncLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if fresh, err := r.Fresh(ctx); err != nil || fresh {
		t.Fatalf("Fresh = %v, %v with 1500 events uncounted and SyncLimit 1000; want false", fresh, err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	old := demoRecords(t, 6, 800, now.Add(-30*24*time.Hour), 48*time.Hour)
	appendAll(t, st, old)
	r.cfg.SyncLimit = int64(len(old)) // the import is within reach
	if fresh, err := r.Fresh(ctx); err != nil || !fresh {
		t.Fatalf("Fresh = %v, %v with the import behind; want a sync and true", fresh, err)
	}
	same(t, hourly(t, st), expected(t, st))
	var n int
	first := now.Add(-32 * 24 * time.Hour).Truncate(time.Hour)
	if err := st.DB().QueryRow(`SELECT CAST(sum(n) AS BIGINT) FROM ru_hourly WHERE dim = 'category' AND hour < ?`, now.Add(-27*24*time.Hour)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < len(old) {
		t.Errorf("%d events counted in the import's hours (from %s); want its %d", n, first, len(old))
	}
}

// TestCovers leaves ranges retention may have cut to the events.
func TestCovers(t *testing.T) {
	st := openStore(t)
	r, err := New(Config{Store: st, Clock: clock.NewFake(now), Retention: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Covers(now.Add(-24 * time.Hour)) {
		t.Error("a day within retention is not covered")
	}
	if r.Covers(now.Add(-8 * 24 * time.Hour)) {
		t.Error("a range older than retention is covered")
	}
}

// TestFirstBuildOverCompactedHistory: a consumer started over a store whose
// history is already in the columnar tier counts it a compaction run at a
// time (one step covers more than a read batch), and ends with the same
// counts and CIS rows as one that counted the same events while hot.
func TestFirstBuildOverCompactedHistory(t *testing.T) {
	ctx := context.Background()
	recs := demoRecords(t, 5, 24_000, now, 3*24*time.Hour)
	hot, cold := openStore(t), openStore(t)
	appendAll(t, hot, recs)
	appendAll(t, cold, recs)
	want := expected(t, hot)
	for _, through := range []int64{21_000, 23_500} {
		if _, err := cold.Compact(ctx, through); err != nil {
			t.Fatal(err)
		}
	}
	rh, err := New(Config{Store: hot, Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	if err := rh.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	same(t, hourly(t, hot), want)

	rc, err := New(Config{Store: cold, Clock: clock.NewFake(now)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := rc.step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := rc.Cursor(ctx); n != 21_000 || cur != 21_000 {
		t.Fatalf("first step over the columnar tier: %d events, cursor %d; want the whole first run, 21000 and 21000", n, cur)
	}
	if err := rc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	same(t, hourly(t, cold), want)
	cisRows := func(st *store.Store) []string {
		return lines(t, st, `SELECT recipientAccountId, strftime(eventTime, '%Y-%m-%dT%H:%M:%S') || ' ' || eventID, eventName,
			concat_ws(',', failed_login, no_mfa, root, unauth, change, kms), seq FROM ru_cis`)
	}
	same(t, cisRows(cold), cisRows(hot))
}
