package query_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

// TestTimeRangePrunes checks Options.Start and End: over both tiers a
// ranged query returns exactly the rows of an unranged one with a WHERE
// on eventTime (both ends included), and it does not read the columnar
// files outside the range — they are overwritten with garbage and the
// ranged queries still answer.
func TestTimeRangePrunes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs := variedRecords(t)
	for i := 0; i < len(recs); i += 500 {
		if _, err := st.Append(ctx, recs[i:min(i+500, len(recs))], base); err != nil {
			t.Fatal(err)
		}
	}
	// Half the events go to the columnar tier: the demo activity of the
	// last 48 hours before base lies in both.
	if _, err := st.Compact(ctx, st.LastSeq()/2); err != nil {
		t.Fatal(err)
	}
	times := func(q string) []time.Time {
		res, err := query.Run(ctx, st, q, query.Options{AllAccounts: true})
		if err != nil {
			t.Fatal(err)
		}
		var out []time.Time
		for _, r := range res.Rows {
			tm, err := time.Parse("2006-01-02 15:04:05.000", r[0])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tm)
		}
		return out
	}
	// Boundaries fall on events' own times, so an end-exclusive range
	// would lose them.
	ts := times(`SELECT DISTINCT eventTime FROM cloudtrail_events WHERE eventTime >= TIMESTAMP '2026-02-27 12:00:00' ORDER BY 1`)
	if len(ts) < 100 {
		t.Fatalf("only %d distinct event times in the demo span", len(ts))
	}
	ranges := []struct {
		name       string
		start, end time.Time
	}{
		{"inner", ts[len(ts)/4], ts[len(ts)*3/4]},
		{"one instant", ts[len(ts)/2], ts[len(ts)/2]},
		{"open start", time.Time{}, ts[len(ts)/3]},
		{"open end", ts[len(ts)*2/3], time.Time{}},
		{"nothing", time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1999, 1, 2, 0, 0, 0, 0, time.UTC)},
	}
	where := func(start, end time.Time) string {
		w := "TRUE"
		if !start.IsZero() {
			w += " AND eventTime >= TIMESTAMP '" + start.Format("2006-01-02 15:04:05.000") + "'"
		}
		if !end.IsZero() {
			w += " AND eventTime <= TIMESTAMP '" + end.Format("2006-01-02 15:04:05.000") + "'"
		}
		return w
	}
	const rowsQ = `SELECT eventID, recipientAccountId, eventTime, eventName, userIdentity.arn, requestParameters, eventJson::VARCHAR FROM cloudtrail_events WHERE %s ORDER BY ALL`
	const groupQ = `SELECT eventSource, count(*), min(eventTime), max(eventTime) FROM cloudtrail_events WHERE %s GROUP BY ALL ORDER BY ALL`
	scopes := []query.Options{{AllAccounts: true}, {Accounts: []string{"111111111111"}}, {Accounts: []string{recs[len(recs)/2].AccountID}}}
	type answer struct {
		rows    [][]string
		scanned int64
	}
	run := func(q string, o query.Options) answer {
		res, err := query.Run(ctx, st, q, o)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return answer{res.Rows, res.Stats.EventsScanned}
	}
	// The answers of unranged queries with a WHERE, before any file is
	// spoilt.
	want := map[string][][]string{}
	var wantScanned []int64
	for _, o := range scopes {
		wantScanned = append(wantScanned, run(`SELECT 1`, o).scanned)
		for _, r := range ranges {
			for _, q := range []string{rowsQ, groupQ} {
				want[key(o, r.name, q)] = run(fmt.Sprintf(q, where(r.start, r.end)), o).rows
			}
		}
	}
	inner := want[key(scopes[0], "inner", rowsQ)]
	if len(inner) < 50 {
		t.Fatalf("the inner range holds only %d events", len(inner))
	}
	var hot, cold int
	if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM events WHERE event_time BETWEEN ? AND ?`, ranges[0].start, ranges[0].end).Scan(&hot); err != nil {
		t.Fatal(err)
	}
	if cold = len(inner) - hot; hot == 0 || cold == 0 {
		t.Fatalf("the inner range has %d hot and %d columnar events; want both tiers", hot, cold)
	}

	// Spoil every columnar file wholly outside the inner range.
	spoilt := 0
	for _, f := range st.ColdFiles() {
		if f.MaxTime.Before(ranges[0].start) || f.MinTime.After(ranges[0].end) {
			if err := os.WriteFile(filepath.Join(dir, store.ColumnarDir, filepath.FromSlash(f.Path)), []byte("not parquet"), 0o644); err != nil {
				t.Fatal(err)
			}
			spoilt++
		}
	}
	if spoilt == 0 {
		t.Fatal("no columnar file lies outside the inner range")
	}
	for i, o := range scopes {
		for _, r := range ranges {
			if r.name != "inner" && r.name != "one instant" && r.name != "nothing" {
				continue // these ranges meet spoilt files
			}
			ro := o
			ro.Start, ro.End = r.start, r.end
			for _, q := range []string{rowsQ, groupQ} {
				got := run(fmt.Sprintf(q, "TRUE"), ro)
				if w := want[key(o, r.name, q)]; !reflect.DeepEqual(got.rows, w) {
					t.Fatalf("scope %v, range %s: ranged query gave %d rows, the WHERE %d\n%q\n%q", o.Accounts, r.name, len(got.rows), len(w), head(got.rows), head(w))
				}
				if got.scanned >= wantScanned[i] {
					t.Errorf("scope %v, range %s: scanned %d events, no fewer than the whole store's %d", o.Accounts, r.name, got.scanned, wantScanned[i])
				}
			}
		}
	}
	// The events at the boundaries are in.
	ro := query.Options{AllAccounts: true, Start: ranges[0].start, End: ranges[0].end}
	got := run(`SELECT min(eventTime), max(eventTime) FROM cloudtrail_events`, ro).rows
	if got[0][0] != ranges[0].start.Format("2006-01-02 15:04:05.000") || got[0][1] != ranges[0].end.Format("2006-01-02 15:04:05.000") {
		t.Errorf("ranged min and max %q, want the range's ends %s and %s", got[0], ranges[0].start, ranges[0].end)
	}
	// An unranged query now reads the spoilt files and fails: they were
	// really left out above.
	if _, err := query.Run(ctx, st, `SELECT count(*) FROM cloudtrail_events`, query.Options{AllAccounts: true}); err == nil {
		t.Error("an unranged query over the spoilt files succeeded; the ranged ones prove nothing")
	}
	if _, err := query.Run(ctx, st, `SELECT 1`, query.Options{AllAccounts: true, Start: ranges[0].end, End: ranges[0].start}); err == nil {
		t.Error("a range whose end is before its start was accepted")
	}
}

func key(o query.Options, rng, q string) string {
	return fmt.Sprintf("%v|%s|%s", o.Accounts, rng, q)
}

func head(rows [][]string) [][]string { return rows[:min(len(rows), 3)] }
