// Command tiers measures the store's columnar tier on a filled store:
// compaction throughput (a store written by the segments-only release is
// brought over in place), bytes per event with everything on disk, and
// SQL over any field — against DuckDB reading a plain zstd Parquet shred
// of the same records, and zcat | jq over CloudTrail log files of them.
//
//	go run ./bench/lookup --data /tmp/ot-bench-10m --events 10000000   # fill a store once
//	go run ./bench/tiers --data /tmp/ot-bench-10m --runs 5 --jq-events 1000000
//	go run ./bench/tiers --data /tmp/ot-tiers-1m --fill 1000000 --runs 5   # a store compacted as it fills
//
// It opens the store in this process (no server may hold it). The
// comparison files (the plain shred, and gzip log files for jq) are
// written under --work once and reused. Progress goes to stderr, the
// report (markdown) to stdout.
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/bench/internal/fill"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

// queries are run through opentrail (internal/query, the engine behind
// StartQuery), through DuckDB over the plain shred, and through jq.
var queries = []struct {
	name, sql, plain, jq string
}{
	{
		name:  "GROUP BY userIdentity.arn",
		sql:   `SELECT userIdentity.arn, count(*) AS n FROM cloudtrail_events GROUP BY 1 ORDER BY n DESC LIMIT 20`,
		plain: `SELECT userIdentity.arn, count(*) AS n FROM shred GROUP BY 1 ORDER BY n DESC LIMIT 20`,
		jq:    `.Records[].userIdentity.arn`,
	},
	{
		name:  "console logins without MFA",
		sql:   `SELECT count(*) FROM cloudtrail_events WHERE eventName = 'ConsoleLogin' AND additionalEventData['MFAUsed'] = 'No'`,
		plain: `SELECT count(*) FROM shred WHERE eventName = 'ConsoleLogin' AND additionalEventData.MFAUsed = 'No'`,
		jq:    `.Records[] | select(.eventName == "ConsoleLogin" and .additionalEventData.MFAUsed == "No") | .eventID`,
	},
	{
		name:  "GROUP BY sessionIssuer.userName (nested)",
		sql:   `SELECT userIdentity.sessionContext.sessionIssuer.userName AS u, count(*) AS n FROM cloudtrail_events GROUP BY 1 ORDER BY n DESC LIMIT 20`,
		plain: `SELECT userIdentity.sessionContext.sessionIssuer.userName AS u, count(*) AS n FROM shred GROUP BY 1 ORDER BY n DESC LIMIT 20`,
		jq:    `.Records[].userIdentity.sessionContext.sessionIssuer.userName`,
	},
	{
		name:  "selective filter: one access key's calls",
		sql:   `SELECT eventTime, eventName FROM cloudtrail_events WHERE userIdentity.accessKeyId = '%KEY%' ORDER BY eventTime DESC LIMIT 50`,
		plain: `SELECT eventTime, eventName FROM shred WHERE userIdentity.accessKeyId = '%KEY%' ORDER BY eventTime DESC LIMIT 50`,
		jq:    `.Records[] | select(.userIdentity.accessKeyId == "%KEY%") | .eventID`,
	},
	{
		name:  "GROUP BY eventName (indexed)",
		sql:   `SELECT eventName, count(*) AS n FROM cloudtrail_events GROUP BY 1 ORDER BY n DESC LIMIT 20`,
		plain: `SELECT eventName, count(*) AS n FROM shred GROUP BY 1 ORDER BY n DESC LIMIT 20`,
		jq:    `.Records[].eventName`,
	},
}

func main() {
	var (
		data, work string
		runs       int
		jqEvents   int64
		noCompact  bool
		noPlain    bool
		fill       int
		fillDays   int
	)
	flag.StringVar(&data, "data", "", "data directory of a filled store (see bench/lookup)")
	flag.StringVar(&work, "work", "", "directory for the comparison files (default <data>.bench)")
	flag.IntVar(&runs, "runs", 5, "runs of each query")
	flag.Int64Var(&jqEvents, "jq-events", 1_000_000, "events in the jq comparison (0: skip it); its times are scaled to the store's size")
	flag.BoolVar(&noCompact, "no-compact", false, "measure the store as it is")
	flag.IntVar(&fill, "fill", 0, "fill an empty --data with this many demo events first, compacting every --fill-every as the compactor would")
	flag.IntVar(&fillDays, "fill-days", 60, "days of activity the filled events span, ending now (bench/lookup's 10M store: 60)")
	flag.Int64Var(&fillEvery, "fill-every", 250_000, "compact after this many events while filling")
	flag.BoolVar(&noPlain, "no-plain", false, "skip the plain Parquet shred comparison (it writes every record as NDJSON first)")
	flag.Parse()
	if data == "" {
		fmt.Fprintln(os.Stderr, "tiers bench: --data is required")
		os.Exit(2)
	}
	if work == "" {
		work = strings.TrimRight(data, "/") + ".bench"
	}
	if fill > 0 {
		if err := fillStore(context.Background(), data, fill, fillDays); err != nil {
			fmt.Fprintln(os.Stderr, "tiers bench:", err)
			os.Exit(1)
		}
	}
	if err := run(context.Background(), data, work, runs, jqEvents, noCompact, noPlain); err != nil {
		fmt.Fprintln(os.Stderr, "tiers bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data, work string, runs int, jqEvents int64, noCompact, noPlain bool) error {
	t0 := time.Now()
	st, err := store.Open(ctx, data, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(os.Stderr, "opened in %s\n", time.Since(t0).Round(time.Millisecond))
	before, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("## Columnar tier at %d events\n\n", before.Events)
	fmt.Printf("| | bytes on disk | bytes/event |\n|---|---|---|\n| before compaction | %d | %.1f |\n", dirBytes(data), float64(dirBytes(data))/float64(before.Events))

	if !noCompact {
		start := time.Now()
		var moved int64
		for {
			last := st.LastSeq()
			from := st.ColdThrough()
			if from >= last {
				break
			}
			t := time.Now()
			res, err := st.Compact(ctx, min(last, from+1_000_000))
			if err != nil {
				return err
			}
			moved += res.Events
			fmt.Fprintf(os.Stderr, "compacted %d events into %d files in %s (stage %s, write %s, commit %s) (%d/%d)\n", res.Events, res.Files,
				time.Since(t).Round(time.Millisecond), res.Stage.Round(time.Millisecond), res.Write.Round(time.Millisecond), res.Commit.Round(time.Millisecond), res.Through, last)
		}
		el := time.Since(start)
		if moved > 0 {
			if err := st.Checkpoint(ctx); err != nil {
				return err
			}
			fmt.Printf("| after compaction | %d | %.1f |\n\n", dirBytes(data), float64(dirBytes(data))/float64(before.Events))
			fmt.Printf("Compaction: %d events in %s, %.0f events/s.\n\n", moved, el.Round(time.Millisecond), float64(moved)/el.Seconds())
		}
	}
	fmt.Println(breakdown(data))

	// A key with a handful of calls, for the selective filter.
	key, err := someKey(ctx, st)
	if err != nil {
		return err
	}
	plain := ""
	if !noPlain {
		if plain, err = plainShred(ctx, st, work); err != nil {
			return err
		}
	}
	var logs []string
	if jqEvents > 0 {
		if logs, err = logFiles(ctx, st, work, jqEvents); err != nil {
			return err
		}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	if plain != "" {
		if _, err := db.ExecContext(ctx, `CREATE VIEW shred AS SELECT * FROM read_parquet('`+plain+`')`); err != nil {
			return err
		}
	}
	fmt.Printf("| query | opentrail p50 | DuckDB over a plain Parquet shred p50 | ratio | zcat \\| jq (scaled from %d events) | ratio |\n|---|---|---|---|---|---|\n", jqEvents)
	for _, q := range queries {
		qs := strings.ReplaceAll(q.sql, "%KEY%", key)
		ours, err := median(runs, func() error {
			_, err := query.Run(ctx, st, qs, query.Options{AllAccounts: true, Timeout: 10 * time.Minute})
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		ps := strings.ReplaceAll(q.plain, "%KEY%", key)
		if plain == "" {
			fmt.Printf("| %s | %s | – | – | – | – |\n", q.name, ours.Round(time.Millisecond))
			continue
		}
		theirs, err := median(runs, func() error {
			rows, err := db.QueryContext(ctx, ps)
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			return rows.Err()
		})
		if err != nil {
			return fmt.Errorf("%s (plain shred): %w", q.name, err)
		}
		jqCell, jqRatio := "–", "–"
		if len(logs) > 0 {
			js := strings.ReplaceAll(q.jq, "%KEY%", key)
			d, err := median(1, func() error {
				cmd := exec.CommandContext(ctx, "sh", "-c", `zcat "$@" | jq -r '`+js+`' | sort | uniq -c > /dev/null`, "sh")
				cmd.Args = append(cmd.Args, logs...)
				cmd.Stderr = os.Stderr
				return cmd.Run()
			})
			if err != nil {
				return fmt.Errorf("%s (jq): %w", q.name, err)
			}
			scaled := time.Duration(float64(d) * float64(before.Events) / float64(jqEvents))
			jqCell = scaled.Round(time.Millisecond).String()
			jqRatio = fmt.Sprintf("%.0f×", float64(scaled)/float64(ours))
		}
		fmt.Printf("| %s | %s | %s | %.1f× | %s | %s |\n", q.name, ours.Round(time.Millisecond), theirs.Round(time.Millisecond),
			float64(ours)/float64(theirs), jqCell, jqRatio)
	}
	fmt.Println()
	return nil
}

// fillEvery is how many events the fill compacts at once.
var fillEvery int64

// fillStore appends n demo events to an empty store in batches of
// 10,000 and compacts after every fillEvery, so the store ends as a
// running server's would: everything in the columnar tier, the DuckDB
// file holding the day index and manifest only.
func fillStore(ctx context.Context, data string, n, days int) error {
	st, err := store.Open(ctx, data, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer st.Close()
	if st.LastSeq() > 0 {
		return fmt.Errorf("--fill: %s is not empty", data)
	}
	_, err = fill.Store(ctx, st, fill.Options{Events: n, Span: time.Duration(days) * 24 * time.Hour, Every: fillEvery, Progress: os.Stderr})
	return err
}

func median(runs int, f func() error) (time.Duration, error) {
	var ds []time.Duration
	for range max(runs, 1) {
		t := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], nil
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// breakdown lists the data directory's parts and their sizes.
func breakdown(dir string) string {
	parts := map[string]int64{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		top := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		if fi, err := d.Info(); err == nil {
			parts[top] += fi.Size()
		}
		return nil
	})
	var names []string
	for k := range parts {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("| part of the data directory | bytes |\n|---|---|\n")
	for _, k := range names {
		fmt.Fprintf(&b, "| %s | %d |\n", k, parts[k])
	}
	return b.String()
}

func someKey(ctx context.Context, st *store.Store) (string, error) {
	res, err := query.Run(ctx, st, `SELECT userIdentity.accessKeyId AS k, count(*) AS n FROM cloudtrail_events WHERE userIdentity.accessKeyId IS NOT NULL AND eventTime > (SELECT max(eventTime) - INTERVAL 1 DAY FROM cloudtrail_events) GROUP BY 1 HAVING n BETWEEN 5 AND 500 ORDER BY n LIMIT 1`, query.Options{AllAccounts: true, Timeout: 10 * time.Minute})
	if err != nil {
		return "", err
	}
	if len(res.Rows) == 0 {
		return "AKIANOTFOUND", nil
	}
	return res.Rows[0][0], nil
}

// plainShred writes every record as NDJSON and has DuckDB shred it into
// one zstd Parquet file sorted by account, region and time, with its own
// inferred types: what a user would build by hand.
func plainShred(ctx context.Context, st *store.Store, work string) (string, error) {
	out := filepath.Join(work, "shred.parquet")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", err
	}
	nd := filepath.Join(work, "records.ndjson")
	if err := eachRecord(ctx, st, 0, func(raw []byte, w *bufio.Writer) error {
		w.Write(raw)
		return w.WriteByte('\n')
	}, nd, false); err != nil {
		return "", err
	}
	fmt.Fprintln(os.Stderr, "shredding with DuckDB's read_json")
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `COPY (SELECT * FROM read_json('`+nd+`', format = 'newline_delimited', sample_size = 100000, maximum_object_size = 16777216) ORDER BY recipientAccountId, awsRegion, eventTime) TO '`+out+`' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`); err != nil {
		return "", err
	}
	os.Remove(nd)
	return out, nil
}

// logFiles writes the first n records as gzip CloudTrail log files of
// 10,000 records each.
func logFiles(ctx context.Context, st *store.Store, work string, n int64) ([]string, error) {
	dir := filepath.Join(work, fmt.Sprintf("logs-%d", n))
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json.gz")); len(files) > 0 {
		return files, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var (
		files []string
		f     *os.File
		gz    *gzip.Writer
		k     int
	)
	closeFile := func() error {
		if gz == nil {
			return nil
		}
		gz.Write([]byte("]}"))
		if err := gz.Close(); err != nil {
			return err
		}
		gz = nil
		return f.Close()
	}
	var seen int64
	err := eachRecord(ctx, st, n, func(raw []byte, _ *bufio.Writer) error {
		if gz == nil {
			var err error
			name := filepath.Join(dir, fmt.Sprintf("%06d.json.gz", len(files)))
			if f, err = os.Create(name); err != nil {
				return err
			}
			files = append(files, name)
			gz = gzip.NewWriter(f)
			gz.Write([]byte(`{"Records":[`))
			k = 0
		}
		if k > 0 {
			gz.Write([]byte(","))
		}
		gz.Write(raw)
		k++
		seen++
		if k == 10000 {
			return closeFile()
		}
		return nil
	}, "", true)
	if err != nil {
		return nil, err
	}
	return files, closeFile()
}

// eachRecord calls fn with every stored record (the first n when n > 0),
// in sequence order.
func eachRecord(ctx context.Context, st *store.Store, n int64, fn func(raw []byte, w *bufio.Writer) error, path string, noFile bool) error {
	var w *bufio.Writer
	if !noFile {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = bufio.NewWriterSize(f, 1<<20)
		defer w.Flush()
	}
	var done int64
	for pos := int64(0); ; {
		evs, err := st.ReadAfter(ctx, pos, 20000)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		for _, e := range evs {
			if err := fn(e.Rec.Raw, w); err != nil {
				return err
			}
			pos = e.Seq
			if done++; n > 0 && done >= n {
				return nil
			}
		}
		if done%1_000_000 < 20000 {
			fmt.Fprintf(os.Stderr, "read %d records\n", done)
		}
	}
}
