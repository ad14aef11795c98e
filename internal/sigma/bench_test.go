package sigma

import (
	"path/filepath"
	"testing"
)

// BenchmarkMatch runs the public test records through the 57 SigmaHQ
// rules (bench/rules measures ctgen records on one core).
func BenchmarkMatch(b *testing.B) {
	rs := loadRules(b)
	var recs [][]byte
	files, _ := filepath.Glob(publicDir + "/*/*.json")
	for _, f := range files {
		recs = append(recs, records(b, f)...)
	}
	if len(recs) == 0 {
		b.Fatal("no public records")
	}
	var dst []*Rule
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = rs.Match(recs[i%len(recs)], dst[:0])
	}
}
