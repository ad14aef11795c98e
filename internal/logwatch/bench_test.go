package logwatch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/filterpattern"
	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/trail"
)

// BenchmarkConsumer measures the consumer over a trail feeding a log
// group with 15 metric filters: b.N events committed, then consumed
// (reported as events/s; rows go in through a DuckDB appender — with a
// multi-row INSERT it was about 18,000 events/s on the 2-core test
// machine, with the appender about 95,000).
func BenchmarkConsumer(b *testing.B) {
	e := newEnv(b, logwatch.Config{})
	ctx := context.Background()
	e.mustGroup(acctA, home)
	for i := range 15 {
		pat := fmt.Sprintf(`{ ($.eventName = Name%d) || ($.errorCode = "AccessDenied*") }`, i)
		if err := e.w.Filters().PutMetricFilter(ctx, acctA, home, groupNm, fmt.Sprint("f", i), pat,
			filterpattern.Transformation{MetricName: fmt.Sprint("m", i), MetricNamespace: "CIS", MetricValue: "1"}); err != nil {
			b.Fatal(err)
		}
	}
	e.trail("audit", acctA, home, trail.Settings{})
	specs := make([]string, 0, 1000)
	for range 1000 {
		specs = append(specs, acctA+"/"+home+"/ConsoleLogin")
	}
	for n := 0; n < b.N; n += 1000 {
		e.ingest(specs...)
	}
	b.ResetTimer()
	start := time.Now()
	if err := e.w.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(max(b.N, 1000))/time.Since(start).Seconds(), "events/s")
}
