package alarms

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/store"
)

// BenchmarkMemoryPerMillionDatapoints stores one million datapoints
// through Put in the worst case for memory (every datapoint its own
// series-minute: 100 series × 10,000 minutes) and reports the live heap
// the engine holds for them, and the time per datapoint (committed to
// DuckDB in batches of 10,000):
//
//	go test ./internal/alarms/ -run '^$' -bench MemoryPerMillion -benchtime 1x
func BenchmarkMemoryPerMillionDatapoints(b *testing.B) {
	const nSeries, nMinutes, batch = 100, 10000, 10000
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < b.N; i++ {
		st, err := store.Open(ctx, b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		clk := clock.NewFake(start.Add(nMinutes * time.Minute))
		e, err := New(Config{DB: st.DB(), Clock: clk})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		samples := make([]Sample, 0, batch)
		for m := 0; m < nMinutes; m++ {
			for s := 0; s < nSeries; s++ {
				samples = append(samples, Sample{Namespace: "CIS", MetricName: "M" + strconv.Itoa(s),
					Dimensions: []Dimension{{"Trail", "main"}}, Time: start.Add(time.Duration(m) * time.Minute), Count: 1, Sum: 1, Min: 1, Max: 1})
				if len(samples) == batch {
					if err := e.Put(ctx, "111111111111", "us-east-1", samples); err != nil {
						b.Fatal(err)
					}
					samples = samples[:0]
				}
			}
		}
		elapsed := time.Since(t0)
		samples = nil
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		e.mu.Lock()
		n := 0
		for _, sr := range e.series {
			n += len(sr.buckets)
		}
		e.mu.Unlock()
		if n != nSeries*nMinutes {
			b.Fatalf("%d minutes held", n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20)*1e6/float64(n), "MiB/Mdp")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B/dp")
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "ns/dp")
		runtime.KeepAlive(e)
		st.Close()
	}
}
