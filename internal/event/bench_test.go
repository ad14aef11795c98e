package event_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
)

// fixtures are realistic records of about 1.5 KB (compact): an assumed
// role's management call and an IAM user's S3 data event.
var fixtures = []string{"testdata/assumed-role-api-call.json", "testdata/s3-data-event.json"}

// loadFixtures returns the fixtures, compact unless pretty is set.
func loadFixtures(b *testing.B, pretty bool) [][]byte {
	b.Helper()
	var out [][]byte
	for _, f := range fixtures {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if !pretty {
			var c bytes.Buffer
			if err := json.Compact(&c, raw); err != nil {
				b.Fatal(err)
			}
			raw = c.Bytes()
		}
		out = append(out, raw)
	}
	return out
}

func benchmarkParse(b *testing.B, pretty bool) {
	recs := loadFixtures(b, pretty)
	var size int
	for _, r := range recs {
		size += len(r)
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := event.Parse(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParse measures Parse on compact ~1.5 KB records, the form
// NDJSON ingest and PutAuditEvents deliver.
func BenchmarkParse(b *testing.B) { benchmarkParse(b, false) }

// BenchmarkParsePretty measures Parse on the same records pretty-printed.
func BenchmarkParsePretty(b *testing.B) { benchmarkParse(b, true) }

// BenchmarkParseParallel measures Parse on every core at once.
func BenchmarkParseParallel(b *testing.B) {
	recs := loadFixtures(b, false)
	b.SetBytes(int64(len(recs[0])+len(recs[1])) / 2)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := event.Parse(recs[i%len(recs)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSplitBody measures finding the records of a 1,000-record body
// in each form, without parsing them.
func BenchmarkSplitBody(b *testing.B) {
	const n = 1000
	recs := loadFixtures(b, false)
	var ndjson bytes.Buffer
	doc := bytes.NewBufferString(`{"Records":[`)
	for i := range n {
		ndjson.Write(recs[i%len(recs)])
		ndjson.WriteByte('\n')
		if i > 0 {
			doc.WriteByte(',')
		}
		doc.Write(recs[i%len(recs)])
	}
	doc.WriteString("]}")
	for _, bc := range []struct {
		name string
		body []byte
	}{{"NDJSON", ndjson.Bytes()}, {"Records", doc.Bytes()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				count := 0
				if err := event.SplitBody(bc.body, 0, func([]byte) error { count++; return nil }); err != nil || count != n {
					b.Fatalf("%d records, error %v", count, err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
