package sigma

import (
	"path/filepath"
	"testing"

	"github.com/valyala/fastjson"
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

// TestEachTextAllocates: handing a number's text to a matcher allocates
// nothing (its buffer used to escape to the heap on every record whose
// matched field is a number or a boolean).
func TestEachTextAllocates(t *testing.T) {
	var p fastjson.Parser
	v, err := p.Parse(`{"n":42,"b":true,"s":"x"}`)
	if err != nil {
		t.Fatal(err)
	}
	e := &evalCtx{root: v}
	vals := []*fastjson.Value{v.Get("n"), v.Get("b"), v.Get("s")}
	seen := 0
	allocs := testing.AllocsPerRun(100, func() {
		e.eachText(vals, func(b []byte) bool { seen += len(b); return false })
	})
	if allocs != 0 || seen == 0 {
		t.Fatalf("%.1f allocations per call (seen %d bytes), want none", allocs, seen)
	}
}
