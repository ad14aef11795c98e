package console

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

// TestDashboardsAtScale times the built-in dashboards over a filled store
// (bench/lookup fills one). It runs only when OT_DASHBOARD_BENCH_DATA
// names that store's data directory; the range ends at its newest event.
//
//	go run ./bench/lookup --data /tmp/ot-bench-1m --events 1000000
//	OT_DASHBOARD_BENCH_DATA=/tmp/ot-bench-1m go test -run TestDashboardsAtScale -v ./internal/console/
func TestDashboardsAtScale(t *testing.T) {
	dir := os.Getenv("OT_DASHBOARD_BENCH_DATA")
	if dir == "" {
		t.Skip("set OT_DASHBOARD_BENCH_DATA to a filled store's data directory")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if os.Getenv("OT_DASHBOARD_BENCH_COMPACT") != "" {
		// Move the hot tail into the columnar tier in steps, as the
		// compactor would have.
		var lo, hi int64
		if err := st.DB().QueryRowContext(ctx, "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM events").Scan(&lo, &hi); err != nil {
			t.Fatal(err)
		}
		for through := lo + 250000; ; through += 250000 {
			if _, err := st.Compact(ctx, min(through, hi)); err != nil {
				t.Fatal(err)
			}
			if through >= hi {
				break
			}
		}
		t.Logf("compacted events %d–%d into the columnar tier", lo, hi)
	}
	res, err := query.Run(ctx, st, "SELECT count(*), max(eventTime), min(eventTime) FROM cloudtrail_events", query.Options{AllAccounts: true})
	if err != nil {
		t.Fatal(err)
	}
	newest, _ := parseCellTime(res.Rows[0][1])
	t.Logf("store: %s events, %s – %s", res.Rows[0][0], res.Rows[0][2], newest)
	c := newTestConsole(t, Config{Clock: clock.NewFake(newest), Dashboards: DashboardDeps{Events: StoreQuerier(st)}})
	cl := signedInAs(t, c, testUser("alice", "111111111111", true, true))
	for _, path := range []string{"/dashboards/overview?range=24h", "/dashboards/cis?range=24h", "/dashboards/overview?range=7d", "/dashboards/cis?range=7d", "/dashboards/overview?range=30d", "/dashboards/cis?range=30d"} {
		var times []time.Duration
		for range 3 {
			t0 := time.Now()
			resp, body := cl.get(path)
			times = append(times, time.Since(t0))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
			if n := countErrors(body); n > 0 {
				t.Errorf("%s: %d panels failed", path, n)
			}
		}
		slices.Sort(times)
		t.Logf("%-36s runs %v, p50 %v", path, times, times[1])
	}
}

func countErrors(body string) int { return strings.Count(body, `<p class="error">`) }
