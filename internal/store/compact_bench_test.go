package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
)

// BenchmarkCompact moves 200,000 demo events into columnar files.
func BenchmarkCompact(b *testing.B) {
	ctx := context.Background()
	var recs []*event.Record
	opts := demo.Options{Seed: 3, Events: 200_000, Start: base, Duration: 24 * time.Hour}
	if err := demo.Generate(opts, func(raw []byte) error {
		r, err := event.Parse(raw)
		if err != nil {
			return err
		}
		recs = append(recs, r)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		b.StopTimer()
		s := open(b, b.TempDir())
		for i := 0; i < len(recs); i += 10000 {
			if _, err := s.Append(ctx, recs[i:i+10000], base); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		res, err := s.Compact(ctx, s.LastSeq())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Events)/res.Stage.Seconds(), "staged-events/s")
		b.ReportMetric(float64(res.Events)/(res.Stage+res.Write+res.Commit).Seconds(), "events/s")
		s.Close()
	}
}
