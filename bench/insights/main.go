// Command insights measures the Insights detector's baseline computation:
// events from the project's workload generator (../shared/tools/ctgen, a
// separate module, run with `go run`; or an NDJSON file) are committed
// straight to a store whose one trail per account has both Insights types
// on; then the detector consumes the whole stream from its start (the
// live path: per-minute counts and attributions written to DuckDB, the
// baseline kept per series, every minute evaluated), and then a
// retroactive run recomputes the same over the stored history in memory.
// It reports each pass's time, events/s, the insights found, and the
// process's peak resident memory after each.
//
//	go run ./bench/insights --events 1000000 --days 8
//	go run ./bench/insights --input events.ndjson
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/insights"
	"github.com/opentrail/opentrail/internal/store"
)

type counter struct{ n int }

func (c *counter) Append(_ context.Context, _ string, recs []*event.Record) error {
	c.n += len(recs)
	return nil
}

func maxRSS() string {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return fmt.Sprintf("%.0f MB", float64(ru.Maxrss)/1024)
}

func main() {
	events := flag.Int("events", 1_000_000, "background events to generate")
	days := flag.Float64("days", 8, "days the events span")
	input := flag.String("input", "", "NDJSON file of records instead of generating them")
	ctgen := flag.String("ctgen", "../shared/tools/ctgen", "the generator's directory")
	dir := flag.String("dir", "", "data directory (default: a temporary one, removed after)")
	flag.Parse()
	ctx := context.Background()
	if *dir == "" {
		d, err := os.MkdirTemp("", "bench-insights-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	var src io.Reader
	if *input != "" {
		f, err := os.Open(*input)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		src = f
	} else {
		abs, _ := filepath.Abs(*ctgen)
		cmd := exec.Command("go", "run", ".", "--events", fmt.Sprint(*events), "--days", fmt.Sprint(*days), "--inject")
		cmd.Dir, cmd.Stderr = abs, os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			log.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			log.Fatal(err)
		}
		defer cmd.Wait()
		src = out
	}
	st, err := store.Open(ctx, *dir, store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	// Commit the records, one trail per account seen.
	t0 := time.Now()
	start := t0.Add(-time.Hour)
	accounts := map[string]bool{}
	sc := bufio.NewScanner(src)
	sc.Buffer(nil, 1<<20)
	var batch []*event.Record
	var n int
	var first, last time.Time
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := st.Append(ctx, batch, time.Now()); err != nil {
			log.Fatal(err)
		}
		batch = batch[:0]
	}
	for sc.Scan() {
		rec, err := event.Parse(append([]byte(nil), sc.Bytes()...))
		if err != nil {
			log.Fatalf("record %d: %v", n+1, err)
		}
		if first.IsZero() || rec.EventTime.Before(first) {
			first = rec.EventTime
		}
		if rec.EventTime.After(last) {
			last = rec.EventTime
		}
		if !accounts[rec.AccountID] {
			accounts[rec.AccountID] = true
			doc, _ := json.Marshal(map[string]any{"S3BucketName": "b", "IsMultiRegionTrail": true, "IsLogging": true,
				"StartLoggingTime": start, "InsightSelectors": []map[string]any{{"InsightType": "ApiCallRateInsight"}, {"InsightType": "ApiErrorRateInsight"}}})
			name := "insights-" + rec.AccountID
			if err := st.CreateTrail(ctx, store.Trail{ARN: "arn:aws:cloudtrail:us-east-1:" + rec.AccountID + ":trail/" + name, Name: name,
				Account: rec.AccountID, HomeRegion: "us-east-1", Doc: doc, Created: start, Updated: start}); err != nil {
				log.Fatal(err)
			}
		}
		batch = append(batch, rec)
		n++
		if len(batch) == 10000 {
			flush()
		}
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	flush()
	fmt.Printf("committed %d events (%s … %s) in %s; peak RSS %s\n", n, first.Format(time.RFC3339), last.Format(time.RFC3339),
		time.Since(t0).Round(time.Millisecond), maxRSS())

	app := &counter{}
	d, err := insights.New(insights.Config{Store: st, Appender: app, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	runtime.GC()
	t1 := time.Now()
	if err := d.Sync(ctx); err != nil {
		log.Fatal(err)
	}
	el := time.Since(t1)
	var series, rows int64
	st.DB().QueryRowContext(ctx, `SELECT count(*) FROM ins_series`).Scan(&series)
	st.DB().QueryRowContext(ctx, `SELECT count(*) FROM ins_minutes`).Scan(&rows)
	fmt.Printf("live consumer: %d events in %s (%.0f events/s), %d series, %d minute rows, %d records; peak RSS %s\n",
		n, el.Round(time.Millisecond), float64(n)/el.Seconds(), series, rows, app.n, maxRSS())

	app.n = 0
	t2 := time.Now()
	res, err := d.Run(ctx, first.Add(24*time.Hour), time.Time{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	el = time.Since(t2)
	fmt.Printf("retroactive run: read %d, analysed %d in %s (%.0f events/s), %d started, %d ended; peak RSS %s\n",
		res.Read, res.Analysed, el.Round(time.Millisecond), float64(res.Read)/el.Seconds(), res.Starts, res.Ends, maxRSS())
}
