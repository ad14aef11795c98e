package eventrules_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/opentrail/opentrail/internal/eventrules"
)

// BenchmarkConsume measures the consumer over 20,000 committed events
// against 50 rules of one account and region, 1% of the events matching
// one rule with an SNS target: events/s through matching, publishing and
// signalling.
func BenchmarkConsume(b *testing.B) {
	const n = 20000
	e := newEnv(b)
	for i := range 50 {
		name := fmt.Sprintf("r%02d", i)
		e.rule(acctA, home, name, fmt.Sprintf(`{"source":["aws.cloudtrail"],"detail":{"eventName":["Op%02d"],"readOnly":[false]}}`, i),
			eventrules.StateEnabledAll, nil)
		e.target(acctA, home, name, eventrules.Target{ID: "t", ARN: topic(acctA)})
	}
	var specs [][4]string
	for i := range n {
		op := "DescribeTrails"
		if i%100 == 0 {
			op = fmt.Sprintf("Op%02d", i/100%50)
		}
		specs = append(specs, ct(acctA, home, op))
		if len(specs) == 1000 {
			e.ingest(false, specs...)
			specs = specs[:0]
		}
	}
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if err := e.st.SetCursor(ctx, "eventrules", 0); err != nil {
			b.Fatal(err)
		}
		e.open()
		if err := e.r.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	if len(e.snk.sigs) != n/100 {
		b.Fatalf("%d signals, want %d", len(e.snk.sigs), n/100)
	}
}
