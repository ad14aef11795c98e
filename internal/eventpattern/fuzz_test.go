package eventpattern

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzEvents are events every compiled pattern is run against.
var fuzzEvents = []string{
	`{}`,
	`{"a":null,"b":[1,"x",{"c":true}],"d":{"e":"10.0.0.1"}}`,
	`{"source":"aws.iam","detail":{"eventName":["CreateUser"],"n":-1.5e300,"ip":"2001:db8::1"}}`,
}

func seedPatterns(f *testing.F) {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.json5"))
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(stripJSON5(src)))
	}
	f.Add(`{"a":[{"wildcard":"*a*b\\*c"}],"$or":[{"b":[1]},{"c":{"d":[{"exists":false}]}}]}`)
	f.Add(`{"a":[{"numeric":[">=",-1,"<",1e9]},{"cidr":"::/0"},{"anything-but":{"suffix":["x","y"]}}]}`)
}

// FuzzCompile: Compile never panics, refuses only with AWS's message
// prefix, and a compiled pattern matches any event without panicking.
func FuzzCompile(f *testing.F) {
	seedPatterns(f)
	f.Fuzz(func(t *testing.T, pattern string) {
		p, err := Compile(pattern)
		if err != nil {
			if !strings.HasPrefix(err.(*Error).Message, "Event pattern is not valid. Reason: ") {
				t.Fatalf("message %q", err)
			}
			return
		}
		if p.String() != pattern {
			t.Fatal("String() is not the source")
		}
		for _, ev := range fuzzEvents {
			if _, err := p.Match([]byte(ev)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzMatch: matching any bytes against fixed patterns never panics, and a
// Set agrees with the patterns one by one.
func FuzzMatch(f *testing.F) {
	patterns := []string{
		`{"source":["aws.iam"],"detail":{"eventName":["CreateUser","DeleteUser"]}}`,
		`{"detail":{"n":[{"numeric":[">",0]}],"ip":[{"cidr":"10.0.0.0/8"}]}}`,
		`{"a":[{"exists":false}],"b":{"c":[{"anything-but":{"prefix":"x"}}]}}`,
		`{"$or":[{"a":["x"]},{"b":{"c":[{"wildcard":"*y*"}]}}]}`,
		`{"b":{"c":["x"],"d":[1]}}`,
	}
	set := NewSet()
	var compiled []*Pattern
	for i, src := range patterns {
		p, err := Compile(src)
		if err != nil {
			f.Fatal(err)
		}
		compiled = append(compiled, p)
		set.Add(string(rune('a'+i)), p)
	}
	for _, ev := range fuzzEvents {
		f.Add([]byte(ev))
	}
	f.Add([]byte(`{"b":[{"c":"x","d":1},{"c":"y","d":[2,{"e":3}]}],"a.b":"x"}`))
	f.Add([]byte(`{"source":"aws.iam","detail":{"eventName":"CreateUser","n":1,"ip":"10.1.2.3"}}`))
	f.Fuzz(func(t *testing.T, event []byte) {
		var want []string
		valid := true
		for i, p := range compiled {
			ok, err := p.Match(event)
			if err != nil {
				valid = false
				break
			}
			if ok {
				want = append(want, string(rune('a'+i)))
			}
		}
		got, err := set.Matches(event, nil)
		if (err == nil) != valid {
			t.Fatalf("Set error %v, Match valid %v", err, valid)
		}
		if valid && !slices.Equal(got, want) {
			t.Fatalf("Set %v, patterns %v", got, want)
		}
	})
}

// FuzzReader: the event reader accepts exactly the JSON encoding/json
// accepts, and decodes strings and numbers as it does: a pattern naming a
// top-level member's value matches the event.
func FuzzReader(f *testing.F) {
	for _, ev := range fuzzEvents {
		f.Add([]byte(ev))
	}
	f.Add([]byte(`{"a":"\u00e9\ud83d\ude00\\\"\/\b\f\n\r\t","b":-0.5e-3,"c":[true,false,null],"":"","x.y":"z"}`))
	f.Add([]byte(`{"a":"\ud800","b":01,"c":1.,"d":"` + "\x7f\xff" + `"}`))
	f.Add([]byte(` [ {} ] `))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			if validJSON(b) == nil && !json.Valid(b) {
				t.Fatalf("accepted %q", b)
			}
			return
		}
		if got, want := validJSON(b) == nil, json.Valid(b); got != want {
			if bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) > maxDepth {
				return
			}
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
		var top map[string]any
		if json.Unmarshal(b, &top) != nil {
			return
		}
		for k, v := range top {
			switch v.(type) {
			case string, float64, bool, nil:
			default:
				continue
			}
			if k == "$or" {
				continue
			}
			src, _ := json.Marshal(map[string]any{k: []any{v}})
			p, err := Compile(string(src))
			if err != nil {
				continue // e.g. a number a double cannot hold
			}
			ok, err := p.Match(b)
			if err != nil || !ok {
				t.Fatalf("pattern %s on %q: %v, %v", src, b, ok, err)
			}
		}
	})
}
