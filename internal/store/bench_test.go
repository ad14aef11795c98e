package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// benchRecords is n realistic records (internal/demo, ~1.5 KB each).
func benchRecords(b *testing.B, n int) []*event.Record {
	b.Helper()
	var recs []*event.Record
	start := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	err := demo.Generate(demo.Options{Seed: 7, Events: n, Start: start, Duration: time.Hour}, func(raw []byte) error {
		r, err := event.Parse(raw)
		if err != nil {
			return err
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return recs
}

// BenchmarkPrepare measures the work an ingest request does in its own
// goroutine before the commit: compressing a 1,000-record batch into
// blocks and working out its rows.
func BenchmarkPrepare(b *testing.B) {
	recs := benchRecords(b, 1000)
	s := open(b, b.TempDir())
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.Prepare(recs)
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendBatches measures the committer's part: storing prepared
// 1,000-record batches, eight to a group commit, as the ingester does
// under load.
func BenchmarkAppendBatches(b *testing.B) {
	const group = 8
	recs := benchRecords(b, 1000*group*4)
	s := open(b, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := range b.N {
		b.StopTimer()
		// Fresh eventIDs each round, so nothing is a duplicate.
		batches := make([]*store.Batch, group)
		for g := range batches {
			part := make([]*event.Record, 1000)
			for k := range part {
				r := *recs[(g*1000+k)%len(recs)]
				r.EventID = fmt.Sprintf("%s-%d", r.EventID, i)
				part[k] = &r
			}
			batches[g] = s.Prepare(part)
		}
		b.StartTimer()
		if _, err := s.AppendBatches(ctx, batches, time.Time{}); err != nil {
			b.Fatal(err)
		}
		n += group * 1000
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
