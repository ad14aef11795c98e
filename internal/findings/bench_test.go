package findings_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/findings"
)

// BenchmarkRecord records batches of 1000 signals of 10 rules over 50
// principals, as a busy stream's Sigma matches arrive.
func BenchmarkRecord(b *testing.B) {
	s, _, _ := openStore(&testing.T{}, nil, nil)
	ctx := context.Background()
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := make([]findings.Signal, 1000)
		for j := range batch {
			n++
			batch[j] = sig(fmt.Sprint(n), t0.Add(time.Duration(n)*time.Millisecond), func(s *findings.Signal) {
				s.RuleID = fmt.Sprint("rule-", n%10)
				s.GroupKey = fmt.Sprint("p-", n%50)
			})
		}
		if err := s.Record(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "signals/s")
}
