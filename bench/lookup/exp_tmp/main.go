// Command exp_tmp runs SQL variants of the lookup query against a copy of a
// store's DuckDB file (side experiments; not part of the product).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	dbPath := flag.String("db", "", "duckdb file")
	sqlFile := flag.String("sql", "", "file of queries: blocks separated by lines '-- name', args after '-- args:' as |-separated; ${WIN} replaced")
	iters := flag.Int("iters", 50, "iterations")
	explain := flag.Bool("explain", false, "EXPLAIN ANALYZE each query")
	only := flag.String("only", "", "run only names containing this")
	setup := flag.String("setup", "", "statements run first (;-separated)")
	flag.Parse()
	db, err := sql.Open("duckdb", *dbPath)
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "SET TimeZone='UTC'"); err != nil {
		panic(err)
	}
	for _, s := range strings.Split(*setup, ";") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		t := time.Now()
		if _, err := db.ExecContext(ctx, s); err != nil {
			fmt.Println("setup:", s, err)
			os.Exit(1)
		}
		fmt.Printf("setup %q: %s\n", s, time.Since(t))
	}
	b, _ := os.ReadFile(*sqlFile)
	now := time.Now().UTC()
	for _, blk := range strings.Split(string(b), "\n-- name ")[1:] {
		lines := strings.SplitN(blk, "\n", 2)
		name := strings.TrimSpace(lines[0])
		body := lines[1]
		if *only != "" && !strings.Contains(name, *only) {
			continue
		}
		var args []any
		var q []string
		for _, l := range strings.Split(body, "\n") {
			if a, ok := strings.CutPrefix(l, "-- args:"); ok {
				for _, x := range strings.Split(strings.TrimSpace(a), "|") {
					switch {
					case x == "START":
						args = append(args, now.Add(-90*24*time.Hour))
					case x == "END":
						args = append(args, now)
					case strings.HasPrefix(x, "i:"):
						var n int64
						fmt.Sscan(x[2:], &n)
						args = append(args, n)
					case strings.HasPrefix(x, "b:"):
						args = append(args, x[2:] == "true")
					default:
						args = append(args, x)
					}
				}
				continue
			}
			q = append(q, l)
		}
		query := strings.Join(q, "\n")
		if *explain {
			rows, err := db.QueryContext(ctx, "EXPLAIN ANALYZE "+query, args...)
			if err != nil {
				fmt.Println(name, err)
				continue
			}
			for rows.Next() {
				var k, v string
				rows.Scan(&k, &v)
				fmt.Printf("== %s\n%s\n", name, v)
			}
			rows.Close()
			continue
		}
		var ds []time.Duration
		var n int
		for i := 0; i < *iters+3; i++ {
			t := time.Now()
			rows, err := db.QueryContext(ctx, query, args...)
			if err != nil {
				fmt.Println(name, err)
				break
			}
			n = 0
			cols, _ := rows.Columns()
			for rows.Next() {
				n++
				if *iters == 1 && i == 0 {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for j := range vals {
						ptrs[j] = &vals[j]
					}
					rows.Scan(ptrs...)
					fmt.Println(name, vals)
				}
			}
			rows.Close()
			if i >= 3 {
				ds = append(ds, time.Since(t))
			}
		}
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		fmt.Printf("%-45s rows %4d  p50 %7.2f  p99 %7.2f ms\n", name, n, float64(ds[len(ds)/2].Microseconds())/1000, float64(ds[len(ds)*99/100].Microseconds())/1000)
	}
}
