// Command lookup measures LookupEvents against a DuckDB event store filled
// with realistic demo activity: fill throughput, store bytes per event
// (split by table and column) and per-attribute lookup latency (p50, p90,
// p99, max) at the store and through the API service and the JSON 1.1
// router.
//
//	go run ./bench/lookup --data /tmp/ot-bench-1m --events 1000000
//	go run ./bench/lookup --data /tmp/ot-bench-10m --events 10000000
//
// The directory is filled once; later runs reuse it when it already holds
// at least --events events. Progress goes to stderr, the report (markdown)
// to stdout.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrail"
	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// auditCategory is the eventCategory of records sent with PutAuditEvents;
// LookupEvents returns them with management events.
const auditCategory = "ActivityAuditLog"

// lookupWindow is how far back LookupEvents looks (AWS's 90 days).
const lookupWindow = 90 * 24 * time.Hour

type config struct {
	openEnd    bool
	data       string
	events     int
	span       time.Duration
	batch      int
	account    string
	region     string
	iters      int
	caseTime   time.Duration
	blockCache int
	settings   string
}

func main() {
	var c config
	fs := flag.NewFlagSet("lookup", flag.ExitOnError)
	fs.StringVar(&c.data, "data", "/tmp/ot-bench-1m", "store directory (filled if it holds fewer than --events events)")
	fs.IntVar(&c.events, "events", 1_000_000, "background demo events to store")
	fs.DurationVar(&c.span, "span", 60*24*time.Hour, "eventTime span of the generated events, ending now")
	fs.IntVar(&c.batch, "batch", 5000, "events per Append (one group commit)")
	fs.StringVar(&c.account, "account", "000000000000", "account whose history is looked up")
	fs.StringVar(&c.region, "region", "us-east-1", "region whose history is looked up")
	fs.IntVar(&c.iters, "iters", 200, "measured iterations per case")
	fs.BoolVar(&c.openEnd, "open-end", false, "look up without an end time, as LookupEvents without EndTime does")
	fs.DurationVar(&c.caseTime, "case-time", 20*time.Second, "time bound per case (fewer iterations when slow)")
	fs.IntVar(&c.blockCache, "block-cache", 0, "store block cache size in blocks (0 = store default)")
	fs.StringVar(&c.settings, "set", "", "DuckDB settings to try, applied before filling and measuring (e.g. \"threads=1;checkpoint_threshold=256MB\")")
	fs.Parse(os.Args[1:])

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(context.Background(), c, logger, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lookup bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config, logger *slog.Logger, out io.Writer) error {
	fmt.Fprintf(out, "# LookupEvents benchmark\n\n%s, GOMAXPROCS %d, load average at start: %s\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.GOMAXPROCS(0), prof.LoadAvg())

	st, err := store.Open(ctx, c.data, store.Options{Logger: logger, BlockCache: c.blockCache})
	if err != nil {
		return err
	}
	defer st.Close()
	for _, set := range strings.Split(c.settings, ";") {
		if set = strings.TrimSpace(set); set == "" {
			continue
		}
		if _, err := st.DB().ExecContext(ctx, "SET "+set); err != nil {
			return fmt.Errorf("set %s: %w", set, err)
		}
		fmt.Fprintf(out, "DuckDB setting: `SET %s`\n\n", set)
	}

	if err := fill(ctx, st, c, out); err != nil {
		return err
	}
	if err := sizes(ctx, st, out); err != nil {
		return err
	}
	if err := lookups(ctx, st, c, logger, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nload average at end: %s\n", prof.LoadAvg())
	return nil
}

// fill appends c.events demo events unless the store already holds them.
func fill(ctx context.Context, st *store.Store, c config, out io.Writer) error {
	stats, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	if stats.Events >= int64(c.events) {
		fmt.Fprintf(out, "Reusing %s: %d events stored.\n\n", c.data, stats.Events)
		return nil
	}
	if stats.Events > 0 {
		return fmt.Errorf("fill %s: it holds %d events, fewer than %d; remove it or choose another --data", c.data, stats.Events, c.events)
	}

	end := time.Now().UTC().Truncate(time.Second)
	opts := demo.Options{Seed: 1, Events: c.events, Start: end.Add(-c.span), Duration: c.span}
	var (
		batch    = make([]*event.Record, 0, c.batch)
		n        int
		commits  int
		appendDr time.Duration
		start    = time.Now()
		lastMark = start
	)
	flush := func() error {
		t := time.Now()
		if _, err := st.Append(ctx, batch, t); err != nil {
			return err
		}
		appendDr += time.Since(t)
		commits++
		n += len(batch)
		batch = batch[:0]
		if n%1_000_000 < c.batch {
			now := time.Now()
			fmt.Fprintf(os.Stderr, "fill: %d events, %.0f events/s (last 1M: %.0f events/s)\n",
				n, float64(n)/now.Sub(start).Seconds(), 1e6/now.Sub(lastMark).Seconds())
			lastMark = now
		}
		return nil
	}
	err = demo.Generate(opts, func(raw []byte) error {
		rec, err := event.Parse(bytes.Clone(raw))
		if err != nil {
			return fmt.Errorf("parse demo record: %w", err)
		}
		batch = append(batch, rec)
		if len(batch) == c.batch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("fill %s: %w", c.data, err)
	}
	total := time.Since(start)
	fmt.Fprintf(out, "Filled %s: %d events (%s … %s) in %d appends of ≤%d, %s: %.0f events/s overall; Append alone %.0f events/s (%.1f ms per append).\n\n",
		c.data, n, opts.Start.Format(time.DateOnly), end.Format(time.DateOnly), commits, c.batch,
		total.Round(time.Second), float64(n)/total.Seconds(), float64(n)/appendDr.Seconds(),
		float64(appendDr.Milliseconds())/float64(commits))
	return nil
}

// sizes reports store bytes per event after a checkpoint, with the share
// of each table and column.
func sizes(ctx context.Context, st *store.Store, out io.Writer) error {
	t := time.Now()
	if err := st.Checkpoint(ctx); err != nil {
		return err
	}
	ckpt := time.Since(t)
	stats, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	db := st.DB()
	var (
		blockSize, totalBlocks, usedBlocks, freeBlocks int64
		dbSize, walSize, memUsage, memLimit            string
	)
	if err := db.QueryRowContext(ctx, `SELECT block_size, total_blocks, used_blocks, free_blocks, database_size, wal_size, memory_usage, memory_limit FROM pragma_database_size()`).
		Scan(&blockSize, &totalBlocks, &usedBlocks, &freeBlocks, &dbSize, &walSize, &memUsage, &memLimit); err != nil {
		return fmt.Errorf("database size: %w", err)
	}
	var nblocks, payload int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(len), 0)::BIGINT FROM blocks`).Scan(&nblocks, &payload); err != nil {
		return fmt.Errorf("block payload: %w", err)
	}
	ev := float64(max(stats.Events, 1))
	fmt.Fprintf(out, "## Size\n\nCheckpoint took %s. %d events; files %d bytes = **%.1f bytes/event**; DuckDB: %d of %d blocks of %d bytes used (%.1f bytes/event), %d free; memory %s of %s.\n\n",
		ckpt.Round(time.Millisecond), stats.Events, stats.DiskBytes, float64(stats.DiskBytes)/ev,
		usedBlocks, totalBlocks, blockSize, float64(usedBlocks*blockSize)/ev, freeBlocks, memUsage, memLimit)
	fmt.Fprintf(out, "Record blocks: %d zstd frames in segment files, %d bytes = %.1f bytes/event; the DuckDB file and WAL hold the rest.\n\n", nblocks, payload, float64(payload)/ev)

	// Column sizes estimated from segment offsets: a segment reaches to
	// the next segment of its block, or to the block's end.
	rows, err := db.QueryContext(ctx, `
		WITH segs AS (
			SELECT 'events' AS table_name, column_name, compression, block_id, block_offset, persistent FROM pragma_storage_info('events')
			UNION ALL
			SELECT 'blocks', column_name, compression, block_id, block_offset, persistent FROM pragma_storage_info('blocks')
		), sized AS (
			SELECT *, coalesce(lead(block_offset) OVER (PARTITION BY block_id ORDER BY block_offset), ?) - block_offset AS bytes
			FROM segs WHERE persistent AND block_id >= 0
		)
		SELECT table_name, column_name, sum(bytes)::BIGINT, string_agg(DISTINCT compression, ',' ORDER BY compression)
		FROM sized GROUP BY ALL ORDER BY 1, 3 DESC`, blockSize)
	if err != nil {
		return fmt.Errorf("storage info: %w", err)
	}
	defer rows.Close()
	fmt.Fprintf(out, "| table | column | bytes/event (est.) | compression |\n|---|---|---:|---|\n")
	for rows.Next() {
		var (
			tbl, col, comp string
			b              int64
		)
		if err := rows.Scan(&tbl, &col, &b, &comp); err != nil {
			return fmt.Errorf("storage info: %w", err)
		}
		fmt.Fprintf(out, "| %s | %s | %.1f | %s |\n", tbl, col, float64(b)/ev, comp)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage info: %w", err)
	}
	fmt.Fprintln(out)
	return nil
}

// lookupCase is one measured query shape.
type lookupCase struct {
	name  string
	attr  *store.Attr
	after bool // second page: resume after the first page's 50th event
	run   func(ctx context.Context) (int, error)
}

func lookups(ctx context.Context, st *store.Store, c config, logger *slog.Logger, out io.Writer) error {
	now := time.Now().UTC()
	base := store.LookupQuery{
		Accounts:   []string{c.account},
		Region:     c.region,
		Start:      now.Add(-lookupWindow),
		End:        now,
		Categories: []string{event.CategoryManagement, auditCategory},
		Limit:      51,
	}
	vals, err := pickValues(ctx, st, c, base)
	if err != nil {
		return err
	}

	var cases []lookupCase
	storeCase := func(name string, a *store.Attr, after bool) {
		cases = append(cases, lookupCase{name: name, attr: a, after: after})
	}
	storeCase("none", nil, false)
	storeCase("none, page 2", nil, true)
	for _, v := range vals {
		a := v.attr
		storeCase(v.label, &a, false)
		if v.label == "EventName (common)" {
			storeCase(v.label+", page 2", &a, true)
		}
	}
	for i := range cases {
		k := &cases[i]
		q := base
		if c.openEnd {
			q.End = time.Time{} // as LookupEvents without EndTime, the AWS CLI's default
		}
		if k.attr != nil {
			q.Attrs = []store.Attr{*k.attr}
		}
		if k.after {
			first, err := st.Lookup(ctx, q)
			if err != nil {
				return err
			}
			if len(first) < 51 {
				return fmt.Errorf("case %s: first page has %d events, want 51", k.name, len(first))
			}
			e := first[49]
			q.After = &store.Position{Time: e.Rec.EventTime, Seq: e.Seq}
		}
		k.run = func(ctx context.Context) (int, error) {
			evs, err := st.Lookup(ctx, q)
			return len(evs), err
		}
	}

	svc, err := cloudtrail.New(cloudtrail.Config{Store: st, TokenKey: make([]byte, 32), Logger: logger})
	if err != nil {
		return err
	}
	cctx := awsapi.WithCaller(ctx, &awsapi.Caller{
		Principal: &auth.Principal{AccessKeyID: "AKIABENCHMARK0000001", AccountID: c.account, Type: "Root", UserName: "root",
			ARN: "arn:aws:iam::" + c.account + ":root", PrincipalID: c.account, Management: true},
		Region: c.region, Service: "cloudtrail", SourceIP: "127.0.0.1", UserAgent: "bench",
	})
	cases = append(cases, lookupCase{name: "cloudtrail.Service.LookupEvents (none)", run: func(context.Context) (int, error) {
		o, err := svc.LookupEvents(cctx, &cloudtrail.LookupEventsInput{})
		if err != nil {
			return 0, err
		}
		return len(o.Events), nil
	}})
	router := awsapi.NewRouter("cloudtrail", nil, logger)
	svc.Register(router)
	cases = append(cases, lookupCase{name: "JSON 1.1 router (none)", run: func(context.Context) (int, error) {
		req := httptest.NewRequest("POST", "/", nil).WithContext(cctx)
		req.Header.Set("X-Amz-Target", "CloudTrail_20131101.LookupEvents")
		w := httptest.NewRecorder()
		router.Handle(w, req, []byte(`{}`))
		if w.Code != 200 {
			return 0, fmt.Errorf("LookupEvents answered %d: %s", w.Code, w.Body)
		}
		return bytes.Count(w.Body.Bytes(), []byte(`"CloudTrailEvent"`)), nil
	}})

	fmt.Fprintf(out, "## Lookup latency\n\naccount %s, region %s, categories Management+%s, %s … now, Limit 51 (store) / MaxResults 50 (API); warm-up 3, then %d iterations or %s per case.\n\n",
		c.account, c.region, auditCategory, base.Start.Format(time.DateOnly), c.iters, c.caseTime)
	fmt.Fprintf(out, "| case | value | matches in window | results | iters | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range cases {
		res, err := measure(ctx, k.run, c.iters, c.caseTime)
		if err != nil {
			return fmt.Errorf("case %s: %w", k.name, err)
		}
		value, matches := "", ""
		if k.attr != nil {
			value = k.attr.Value
			if len(value) > 48 {
				value = value[:45] + "…"
			}
			for _, v := range vals {
				if v.attr == *k.attr {
					matches = fmt.Sprint(v.count)
				}
			}
		}
		fmt.Fprintf(out, "| %s | %s | %s | %d | %d | %.2f | %.2f | %.2f | %.2f |\n",
			k.name, value, matches, res.n, len(res.d), ms(res.pct(50)), ms(res.pct(90)), ms(res.pct(99)), ms(res.d[len(res.d)-1]))
		fmt.Fprintf(os.Stderr, "case %-36s p50 %7.2f ms  p99 %7.2f ms (%d iters)\n", k.name, ms(res.pct(50)), ms(res.pct(99)), len(res.d))
	}
	return nil
}

type result struct {
	n int             // results of the last call
	d []time.Duration // sorted
}

func (r result) pct(p float64) time.Duration {
	i := int(p/100*float64(len(r.d))+0.999999) - 1
	return r.d[min(max(i, 0), len(r.d)-1)]
}

func measure(ctx context.Context, fn func(context.Context) (int, error), iters int, bound time.Duration) (result, error) {
	var r result
	for range 3 {
		if _, err := fn(ctx); err != nil {
			return r, err
		}
	}
	start := time.Now()
	for len(r.d) < iters && (len(r.d) < 5 || time.Since(start) < bound) {
		t := time.Now()
		n, err := fn(ctx)
		if err != nil {
			return r, err
		}
		r.d = append(r.d, time.Since(t))
		r.n = n
	}
	slices.Sort(r.d)
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pickedValue is an attribute value chosen from the stored data.
type pickedValue struct {
	label string
	attr  store.Attr
	count int64 // matching events in the lookup window
}

// pickValues chooses, for each attribute, an existing value: the most
// frequent and the least frequent in the looked-up account, region and
// categories, and for EventName and ResourceName a value that matches
// nothing (the lookup then reads the whole window).
func pickValues(ctx context.Context, st *store.Store, c config, base store.LookupQuery) ([]pickedValue, error) {
	db := st.DB()
	// The values are picked from both of the store's tiers: the events
	// table and the columnar files under the events table's names.
	events := `events`
	if files := st.ColdFiles(); len(files) > 0 {
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = filepath.Join(st.Dir(), store.ColumnarDir, filepath.FromSlash(f.Path))
		}
		events = `(SELECT seq, event_time, account, region, category, read_only, event_name, username, event_source,
	access_key_id, resource_types, resource_names FROM events
UNION ALL SELECT _seq, "eventTime", account, region, _category, _read_only, "eventName", _username, "eventSource",
	coalesce("userIdentity"."accessKeyId", ''), _resource_types, _resource_names FROM ` + store.ParquetSource(paths) + `)`
	}
	where := `account = ? AND region = ? AND category IN (?, ?) AND event_time BETWEEN ? AND ?`
	args := []any{c.account, c.region, base.Categories[0], base.Categories[1], base.Start, base.End}

	var out []pickedValue
	// EventId: an event from the middle of the stored sequence.
	var mid, total int64
	if err := db.QueryRowContext(ctx, `SELECT max(seq) FROM `+events).Scan(&total); err != nil {
		return nil, fmt.Errorf("pick event id: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT min(seq) FROM `+events+` WHERE `+where+` AND seq >= ?`, append(args, total/2)...).Scan(&mid); err != nil {
		return nil, fmt.Errorf("pick event id: %w", err)
	}
	evs, err := st.ReadAfter(ctx, mid-1, 1)
	if err != nil {
		return nil, err
	}
	if len(evs) != 1 {
		return nil, errors.New("pick event id: no event in the middle of the store")
	}
	out = append(out, pickedValue{"EventId", store.Attr{Key: "EventId", Value: evs[0].Rec.EventID}, 1})

	for _, ro := range []string{"true", "false"} {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+events+` WHERE `+where+` AND coalesce(read_only, false) = ?`, append(args, ro == "true")...).Scan(&n); err != nil {
			return nil, fmt.Errorf("pick read-only: %w", err)
		}
		out = append(out, pickedValue{"ReadOnly=" + ro, store.Attr{Key: "ReadOnly", Value: ro}, n})
	}

	for _, a := range []struct{ key, expr string }{
		{"EventName", "event_name"},
		{"Username", "username"},
		{"EventSource", "event_source"},
		{"AccessKeyId", "access_key_id"},
		{"ResourceType", "unnest(resource_types)"},
		{"ResourceName", "unnest(resource_names)"},
	} {
		q := `WITH v AS (SELECT ` + a.expr + ` AS v FROM ` + events + ` WHERE ` + where + `)
			SELECT v, count(*) AS n FROM v WHERE v IS NOT NULL AND v <> '' GROUP BY v`
		top, err := extremes(ctx, db, q, args)
		if err != nil {
			return nil, fmt.Errorf("pick %s: %w", a.key, err)
		}
		out = append(out,
			pickedValue{a.key + " (common)", store.Attr{Key: a.key, Value: top[0].v}, top[0].n},
			pickedValue{a.key + " (rare)", store.Attr{Key: a.key, Value: top[1].v}, top[1].n})
	}
	// Values nothing matches: the lookup reads the whole window.
	out = append(out,
		pickedValue{"EventName (absent)", store.Attr{Key: "EventName", Value: "NoSuchEventName"}, 0},
		pickedValue{"ResourceName (absent)", store.Attr{Key: "ResourceName", Value: "no-such-resource"}, 0})
	return out, nil
}

type valueCount struct {
	v string
	n int64
}

// extremes returns the most and the least frequent value q yields (ties by
// value).
func extremes(ctx context.Context, db *sql.DB, q string, args []any) ([2]valueCount, error) {
	var r [2]valueCount
	for i, order := range []string{"n DESC, v", "n, v"} {
		if err := db.QueryRowContext(ctx, `SELECT * FROM (`+q+`) ORDER BY `+order+` LIMIT 1`, args...).Scan(&r[i].v, &r[i].n); err != nil {
			return r, err
		}
	}
	return r, nil
}
