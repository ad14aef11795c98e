// Command columnar measures the cold tier's file format: bytes per event
// of demo records shredded by internal/columnar into zstd Parquet, against
// DuckDB's own shred of the same records (read_json's auto-detected
// schema) and a Parquet of the raw JSON text alone.
//
//	go run ./bench/columnar                      # 1M events over a day
//	go run ./bench/columnar --events 200000 --span 72h
//
// (a) holds each record as the cold tier does: the store's columns (_seq,
// _ingest_time, _eid_hash, _category, _username, _access_key_id,
// _read_only, _error_code, _source_ip, _resource_types, _resource_names,
// _imported) and columnar.Columns, sorted by account, region and
// eventTime, ROW_GROUP_SIZE 122880, zstd; account and region are not
// stored (they are the Hive path). (a2)…(a5) add one measured saving at a
// time: Parquet v2 pages and zstd level 9, a sort by eventSource and
// eventName, no _eid_hash, and the tier's Hive layout (one partition per
// account, region and day). Every record of (a) is read back and rebuilt,
// and must equal its input byte for byte.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/columnar"
	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
)

func main() {
	var (
		events int
		span   time.Duration
		dir    string
		top    int
	)
	flag.IntVar(&events, "events", 1_000_000, "demo records to generate")
	flag.DurationVar(&span, "span", 24*time.Hour, "eventTime span of the records")
	flag.StringVar(&dir, "dir", "", "work directory (default: a new temporary one, removed at the end)")
	flag.IntVar(&top, "top", 15, "columns of (a) to list by compressed size")
	flag.Parse()
	if err := run(events, span, dir, top); err != nil {
		fmt.Fprintln(os.Stderr, "columnar bench:", err)
		os.Exit(1)
	}
}

const storeCols = `_seq BIGINT, _ingest_time TIMESTAMP, _eid_hash BIGINT, _category VARCHAR, _username VARCHAR,
	_access_key_id VARCHAR, _read_only BOOLEAN, _error_code VARCHAR, _source_ip VARCHAR,
	_resource_types VARCHAR[], _resource_names VARCHAR[], _imported BOOLEAN`

const storeNames = `_seq, _ingest_time, _eid_hash, _category, _username, _access_key_id, _read_only,
	_error_code, _source_ip, _resource_types, _resource_names, _imported`

func run(events int, span time.Duration, dir string, top int) error {
	ctx := context.Background()
	if dir == "" {
		d, err := os.MkdirTemp("", "columnar-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	db, err := sql.Open("duckdb", filepath.Join(dir, "bench.duckdb"))
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	cols := make([]string, len(columnar.Columns))
	names := make([]string, len(columnar.Columns))
	for i, c := range columnar.Columns {
		cols[i] = `"` + c.Name + `" ` + c.Type
		names[i] = `"` + c.Name + `"`
	}
	for _, q := range []string{
		`CREATE TABLE shredded (account VARCHAR, region VARCHAR, ` + storeCols + `, ` + strings.Join(cols, ", ") + `)`,
		`CREATE TABLE raw (_seq BIGINT, account VARCHAR, region VARCHAR, "eventTime" TIMESTAMP, j VARCHAR)`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}

	// Generate, shred and append.
	ndjson, err := os.Create(filepath.Join(dir, "events.ndjson"))
	if err != nil {
		return err
	}
	defer ndjson.Close()
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	opts := demo.Options{Seed: 1, Events: events, Start: end.Add(-span), Duration: span}
	var (
		n, rawBytes     int
		shredT, appendT time.Duration
		ingest          = end.Add(time.Hour)
	)
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "shredded")
		if err != nil {
			return err
		}
		rawApp, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "raw")
		if err != nil {
			app.Close()
			return err
		}
		err = demo.Generate(opts, func(b []byte) error {
			rec, err := event.Parse(bytes.Clone(b))
			if err != nil {
				return fmt.Errorf("parse demo record: %w", err)
			}
			n++
			rawBytes += len(rec.Raw)
			ndjson.Write(rec.Raw)
			ndjson.Write([]byte{'\n'})
			t := time.Now()
			vals := columnar.Shred(rec.Raw, rec.EventTime).Values()
			shredT += time.Since(t)
			h := fnv.New64a()
			h.Write([]byte(rec.EventID))
			var types, rnames []any
			for _, r := range rec.Resources {
				types = append(types, r.Type)
				rnames = append(rnames, r.Name)
			}
			row := []driver.Value{rec.AccountID, rec.AWSRegion, int64(n), ingest, int64(h.Sum64()),
				rec.EventCategory, rec.Username, rec.AccessKeyID, rec.ReadOnly, rec.ErrorCode, rec.SourceIP,
				types, rnames, false}
			for _, v := range vals {
				row = append(row, v)
			}
			t = time.Now()
			if err := app.AppendRow(row...); err != nil {
				return fmt.Errorf("append: %w", err)
			}
			appendT += time.Since(t)
			return rawApp.AppendRow(int64(n), rec.AccountID, rec.AWSRegion, rec.EventTime, string(rec.Raw))
		})
		t := time.Now()
		if cerr := app.Close(); err == nil {
			err = cerr
		}
		appendT += time.Since(t)
		if cerr := rawApp.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := ndjson.Close(); err != nil {
		return err
	}
	fmt.Printf("%d demo records (%s … %s), %.0f bytes/event of compact JSON\n\n",
		n, opts.Start.Format(time.DateTime), end.Format(time.DateTime), float64(rawBytes)/float64(n))

	const (
		parquet = `FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880`
		tuned   = parquet + `, COMPRESSION_LEVEL 9, PARQUET_VERSION V2`
		byTime  = `ORDER BY account, region, "eventTime"`
		byName  = `ORDER BY account, region, "eventSource", "eventName", "eventTime"`
	)
	all := storeNames + `, ` + strings.Join(names, ", ")
	noHash := strings.Replace(all, "_eid_hash, ", "", 1)
	fileA := filepath.Join(dir, "a.parquet")
	path := func(name string) string { return filepath.Join(dir, name) }
	copies := []struct {
		label, sql, path string
	}{
		{"(a) columnar: store columns + columnar.Columns by account, region, eventTime; zstd",
			`COPY (SELECT ` + all + ` FROM shredded ` + byTime + `) TO '` + fileA + `' (` + parquet + `)`, fileA},
		{"(a2) (a) with PARQUET_VERSION V2, COMPRESSION_LEVEL 9",
			`COPY (SELECT ` + all + ` FROM shredded ` + byTime + `) TO '` + path("a2.parquet") + `' (` + tuned + `)`, path("a2.parquet")},
		{"(a3) (a2) sorted by account, region, eventSource, eventName, eventTime",
			`COPY (SELECT ` + all + ` FROM shredded ` + byName + `) TO '` + path("a3.parquet") + `' (` + tuned + `)`, path("a3.parquet")},
		{"(a4) (a3) without _eid_hash",
			`COPY (SELECT ` + noHash + ` FROM shredded ` + byName + `) TO '` + path("a4.parquet") + `' (` + tuned + `)`, path("a4.parquet")},
		{"(a5) (a3), one Hive partition per account, region, day",
			`COPY (SELECT ` + all + `, account, region, strftime("eventTime", '%Y-%m-%d') AS date FROM shredded ` + byName + `) TO '` + path("a-hive") + `' (` + tuned + `, PARTITION_BY (account, region, date))`, path("a-hive")},
		{"(b) DuckDB's read_json shred of the same records; zstd",
			`COPY (SELECT * FROM read_json('` + path("events.ndjson") + `', format = 'newline_delimited') ORDER BY recipientAccountId, awsRegion, eventTime) TO '` + path("b.parquet") + `' (` + parquet + `)`, path("b.parquet")},
		{"(c) raw JSON text only; zstd",
			`COPY (SELECT j FROM raw ` + byTime + `) TO '` + path("c.parquet") + `' (` + parquet + `)`, path("c.parquet")},
	}
	fmt.Printf("| file | bytes/event | COPY time |\n|---|---|---|\n")
	for _, c := range copies {
		t := time.Now()
		if _, err := conn.ExecContext(ctx, c.sql); err != nil {
			return fmt.Errorf("%s: %w", c.label, err)
		}
		d := time.Since(t)
		size, err := du(c.path)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.1f | %.2f s |\n", c.label, float64(size)/float64(n), d.Seconds())
	}
	fmt.Printf("\nShred: %.2f s (%.0f events/s, one core); Appender: %.2f s (%.0f rows/s)\n",
		shredT.Seconds(), float64(n)/shredT.Seconds(), appendT.Seconds(), float64(n)/appendT.Seconds())

	for _, f := range []struct{ label, path string }{{"(a)", fileA}, {"(a4)", path("a4.parquet")}} {
		if err := breakdown(ctx, conn, f.label, f.path, n, top); err != nil {
			return err
		}
	}

	var distinct int64
	if err := conn.QueryRowContext(ctx, `SELECT count(DISTINCT _template) FROM shredded`).Scan(&distinct); err != nil {
		return err
	}
	fmt.Printf("\n%d distinct templates in %d records\n", distinct, n)
	return verify(ctx, conn, fileA, n)
}

// breakdown prints the compressed size of file's columns, largest first.
func breakdown(ctx context.Context, conn *sql.Conn, label, file string, n, top int) error {
	rows, err := conn.QueryContext(ctx, `SELECT split_part(path_in_schema, ',', 1) AS col, sum(total_compressed_size) AS c, sum(total_uncompressed_size) AS u
		FROM parquet_metadata('`+file+`') GROUP BY col ORDER BY c DESC`)
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Printf("\n%s by column:\n\n| column | compressed bytes/event | uncompressed |\n|---|---|---|\n", label)
	var total, rest, restU float64
	i := 0
	for rows.Next() {
		var col string
		var c, u float64
		if err := rows.Scan(&col, &c, &u); err != nil {
			return err
		}
		total += c
		if i < top {
			fmt.Printf("| %s | %.2f | %.2f |\n", col, c/float64(n), u/float64(n))
		} else {
			rest += c
			restU += u
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Printf("| %d other columns | %.2f | %.2f |\n| all column chunks | %.2f | |\n", i-top, rest/float64(n), restU/float64(n), total/float64(n))
	return nil
}

// verify rebuilds every record of file and compares it with the raw
// table's record of the same _seq.
func verify(ctx context.Context, conn *sql.Conn, file string, n int) error {
	t := time.Now()
	rows, err := conn.QueryContext(ctx, `SELECT r.j, `+columnar.SelectList("p.")+` FROM read_parquet('`+file+`') p JOIN raw r USING (_seq)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, 1+len(columnar.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	got := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		b, err := columnar.Rebuild(vals[1:])
		if err != nil {
			return err
		}
		if string(b) != vals[0].(string) {
			return fmt.Errorf("record %d rebuilt as %s, want %s", got, b, vals[0])
		}
		got++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("read back %d records, wrote %d", got, n)
	}
	fmt.Printf("Read back and rebuilt all %d records of (a) byte for byte in %.2f s\n", got, time.Since(t).Seconds())
	return nil
}

// du is the size of a file, or of the files under a directory.
func du(path string) (int64, error) {
	var size int64
	err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			size += fi.Size()
		}
		return err
	})
	return size, err
}
