package eventrules_test

import (
	"encoding/json"
	"testing"

	"github.com/opentrail/opentrail/internal/eventrules"
)

// FuzzSelectPath: any path on any document selects nothing or one valid
// JSON value, and a path ValidPath refuses selects nothing.
func FuzzSelectPath(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":{"b-c":[1,{"d":"x"}]}}`, "$.a['b-c'][1].d"},
		{`{"detail":{"eventName":"StopLogging"}}`, "$.detail.eventName"},
		{`[1,2]`, "$[1]"},
		{`{"a":1}`, "$"},
		{`{"a":1}`, "$['a"},
	} {
		f.Add([]byte(s[0]), s[1])
	}
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		v, ok := eventrules.SelectPath(doc, path)
		if ok && !json.Valid(v) {
			t.Fatalf("SelectPath(%q, %q) = %q, not JSON", doc, path, v)
		}
		if ok && !eventrules.ValidPath(path) {
			t.Fatalf("SelectPath accepted %q, which ValidPath refuses", path)
		}
	})
}
