package rollup

import (
	"context"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

// BenchmarkSync is the consumer's rate over a backlog of demo events (30
// days, hot tail): go test -run '^$' -bench Sync -benchtime 1x ./internal/rollup
func BenchmarkSync(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := openStore(b)
		recs := demoRecords(b, 5, 200_000, now, 30*24*time.Hour)
		appendAll(b, st, recs)
		r, err := New(Config{Store: st, Clock: clock.NewFake(now)})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		began := time.Now()
		if err := r.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(recs))/time.Since(began).Seconds(), "events/s")
	}
}
