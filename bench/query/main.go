// Command query times SQL over a filled store: a GROUP BY eventName over
// every event, and a filtered ORDER BY eventTime DESC LIMIT 50, as users
// of CloudTrail Lake write them.
//
//	go run ./bench/lookup --data /tmp/ot-bench-10m --events 10000000   # fill a store once
//	go run ./bench/query --data /tmp/ot-bench-10m --runs 5
//
// It opens the store in this process (no server may hold it) and runs
// each query --runs times through internal/query, the engine behind
// StartQuery and `opentrail query`, scoped to every account.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

var queries = []struct{ name, sql string }{
	{"GROUP BY eventName", `SELECT eventName, count(*) AS n FROM cloudtrail_events GROUP BY eventName ORDER BY n DESC`},
	{"filtered ORDER BY eventTime DESC LIMIT 50", `SELECT eventTime, eventName, userIdentity.arn AS who, sourceIPAddress
FROM cloudtrail_events WHERE eventSource = 'iam.amazonaws.com' AND errorCode IS NULL
ORDER BY eventTime DESC LIMIT 50`},
}

func main() {
	var (
		data string
		runs int
	)
	flag.StringVar(&data, "data", "", "data directory of a filled store (see bench/lookup)")
	flag.IntVar(&runs, "runs", 5, "runs of each query")
	flag.Parse()
	if data == "" {
		fmt.Fprintln(os.Stderr, "query bench: --data is required")
		os.Exit(2)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, data, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "query bench:", err)
		os.Exit(1)
	}
	defer st.Close()
	fmt.Printf("| query | events in store | rows | runs (ms) | p50 |\n|---|---|---|---|---|\n")
	for _, q := range queries {
		var times []time.Duration
		var rows int
		var scanned int64
		for range runs {
			t0 := time.Now()
			res, err := query.Run(ctx, st, q.sql, query.Options{AllAccounts: true, Timeout: time.Minute, MaxRows: 1000})
			if err != nil {
				fmt.Fprintln(os.Stderr, "query bench:", q.name, err)
				os.Exit(1)
			}
			times = append(times, time.Since(t0))
			rows, scanned = len(res.Rows), res.Stats.EventsScanned
		}
		list := ""
		for i, d := range times {
			if i > 0 {
				list += " · "
			}
			list += fmt.Sprintf("%.0f", float64(d.Microseconds())/1000)
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		fmt.Printf("| %s | %d | %d | %s | **%.0f ms** |\n", q.name, scanned, rows, list, float64(times[len(times)/2].Microseconds())/1000)
	}
}
