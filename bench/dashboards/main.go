// Command dashboards times the console's built-in dashboards (overview and
// CIS) over a filled store, each page rendered whole through the console's
// handler, as a signed-in management-account user sees it.
//
//	go run ./bench/lookup --data /tmp/ot-bench-1m --events 1000000   # fill a store once
//	go run ./bench/dashboards --data /tmp/ot-bench-1m --compact      # first run: move it to the columnar tier
//	go run ./bench/dashboards --data /tmp/ot-bench-1m --runs 5
//	go run ./bench/dashboards --data /tmp/ot-bench-1m --runs 5 --rollups=false   # the SQL path over events
//
// With --rollups (the default) the dashboards' rollups (internal/rollup)
// are brought up to date first, as a running server keeps them, and the
// report says how long that took and how many rows they hold.
// It opens the store in this process (no server may hold it). The ranges
// end at the store's newest event. --compact moves the hot tail into the
// columnar tier first, in steps, as the compactor would have; it changes
// the store, so copy a store you want to keep as it is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/console"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/rollup"
	"github.com/opentrail/opentrail/internal/store"
)

func main() {
	var (
		data    string
		runs    int
		compact bool
		pages   string
		ranges  string
		rolled  bool
	)
	flag.StringVar(&data, "data", "", "data directory of a filled store (see bench/lookup)")
	flag.IntVar(&runs, "runs", 5, "renders of each page and range")
	flag.BoolVar(&compact, "compact", false, "first move every hot event into the columnar tier (changes the store)")
	flag.StringVar(&pages, "pages", "overview,cis", "dashboards to time")
	flag.StringVar(&ranges, "ranges", "24h,7d,30d", "range presets to time")
	flag.BoolVar(&rolled, "rollups", true, "draw the panels from the rollups (built first when behind); false: the SQL over events")
	flag.Parse()
	if data == "" {
		fmt.Fprintln(os.Stderr, "dashboards bench: --data is required")
		os.Exit(2)
	}
	if err := run(context.Background(), data, runs, compact, rolled, strings.Split(pages, ","), strings.Split(ranges, ","), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dashboards bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data string, runs int, compact, rolled bool, pages, ranges []string, out io.Writer) error {
	st, err := store.Open(ctx, data, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer st.Close()
	if compact {
		if err := compactAll(ctx, st, out); err != nil {
			return err
		}
	}
	res, err := query.Run(ctx, st, "SELECT count(*), min(eventTime), max(eventTime) FROM cloudtrail_events", query.Options{AllAccounts: true, Timeout: 10 * time.Minute})
	if err != nil {
		return err
	}
	newest, err := time.Parse("2006-01-02 15:04:05.000", res.Rows[0][2])
	if err != nil {
		return fmt.Errorf("newest event time %q: %w", res.Rows[0][2], err)
	}
	snap, err := st.SnapshotCold(nil, func(*store.ColdSnapshot) error { return nil })
	if err != nil {
		return err
	}
	files := len(snap.Files)
	snap.Release()
	fmt.Fprintf(out, "# Dashboards benchmark\n\n%s, %s events (%s – %s), %d columnar files, load average at start: %s\n\n",
		time.Now().UTC().Format(time.RFC3339), res.Rows[0][0], res.Rows[0][1], res.Rows[0][2], files, prof.LoadAvg())

	var roll *rollup.Rollups
	if rolled {
		if roll, err = buildRollups(ctx, st, clock.NewFake(newest), out); err != nil {
			return err
		}
	}
	user := &console.User{Name: "bench", Admin: true, Principal: &auth.Principal{AccountID: "111111111111", Type: "IAMUser",
		UserName: "bench", ARN: "arn:aws:iam::111111111111:user/bench", PrincipalID: "AIDABENCH", Management: true}}
	c, err := console.New(console.Config{Auth: benchAuth{user}, DefaultRegion: "us-east-1", Clock: clock.NewFake(newest),
		Dashboards: console.DashboardDeps{Events: console.StoreQuerier(st), Rollups: roll}})
	if err != nil {
		return err
	}
	cookie, err := signIn(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "| page | range | runs (ms) | p50 ms | p95 ms |\n|---|---|---|---|---|\n")
	for _, page := range pages {
		for _, rng := range ranges {
			path := "/dashboards/" + page + "?range=" + rng
			var times []time.Duration
			for range runs {
				t0 := time.Now()
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, "http://console.bench"+path, nil)
				req.Header.Set("Cookie", cookie)
				c.ServeHTTP(rec, req)
				times = append(times, time.Since(t0))
				if rec.Code != http.StatusOK {
					return fmt.Errorf("%s: status %d", path, rec.Code)
				}
				if n := strings.Count(rec.Body.String(), `<p class="error">`); n > 0 {
					return fmt.Errorf("%s: %d panels failed", path, n)
				}
			}
			ms := make([]string, len(times))
			for i, t := range times {
				ms[i] = fmt.Sprint(t.Milliseconds())
			}
			slices.Sort(times)
			fmt.Fprintf(out, "| %s | %s | %s | %d | %d |\n", page, rng, strings.Join(ms, ", "), pct(times, 50).Milliseconds(), pct(times, 95).Milliseconds())
		}
	}
	fmt.Fprintf(out, "\nload average at end: %s\n", prof.LoadAvg())
	return nil
}

// buildRollups brings the store's rollups up to date and says how long
// that took and how many rows they hold.
func buildRollups(ctx context.Context, st *store.Store, clk clock.Clock, out io.Writer) (*rollup.Rollups, error) {
	r, err := rollup.New(rollup.Config{Store: st, Clock: clk})
	if err != nil {
		return nil, err
	}
	from, err := r.Cursor(ctx)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := r.Sync(ctx); err != nil {
		return nil, err
	}
	took := time.Since(t0)
	var hourly, cisRows int64
	if err := st.DB().QueryRowContext(ctx, "SELECT (SELECT count(*) FROM "+rollup.HourlyTable+"), (SELECT count(*) FROM "+rollup.CISTable+")").Scan(&hourly, &cisRows); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "Rollups: brought up to date from sequence number %d to %d in %s; %d rows in %s, %d in %s.\n\n",
		from, st.CommittedSeq(), took.Round(time.Millisecond), hourly, rollup.HourlyTable, cisRows, rollup.CISTable)
	return r, nil
}

// pct is the p-th percentile of sorted times (nearest rank).
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// compactAll moves the hot tail into the columnar tier in steps of 250k
// events, as the compactor would have.
func compactAll(ctx context.Context, st *store.Store, out io.Writer) error {
	var lo, hi int64
	if err := st.DB().QueryRowContext(ctx, "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM events").Scan(&lo, &hi); err != nil {
		return err
	}
	if hi == 0 {
		return nil
	}
	t0 := time.Now()
	for through := lo + 250_000; ; through += 250_000 {
		if _, err := st.Compact(ctx, min(through, hi)); err != nil {
			return err
		}
		if through >= hi {
			break
		}
	}
	fmt.Fprintf(out, "Compacted events %d–%d into the columnar tier in %s.\n\n", lo, hi, time.Since(t0).Round(time.Second))
	return nil
}

// signIn signs the bench user in through the sign-in form and returns the
// session cookie.
func signIn(c *console.Console) (string, error) {
	form := url.Values{"username": {"bench"}, "password": {"bench"}, "next": {"/"}}
	req := httptest.NewRequest(http.MethodPost, "http://console.bench/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://console.bench")
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "opentrail_session" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", fmt.Errorf("sign-in: status %d and no session cookie", rec.Code)
}

// benchAuth lets the one bench user in with any password.
type benchAuth struct{ u *console.User }

func (a benchAuth) CheckPassword(_ context.Context, at console.SignInAttempt) (*console.User, error) {
	if at.UserName != a.u.Name {
		return nil, errors.New("unknown user")
	}
	return a.u, nil
}

func (a benchAuth) CheckMFA(context.Context, console.SignInAttempt, string) (*console.User, error) {
	return nil, errors.New("no MFA")
}
