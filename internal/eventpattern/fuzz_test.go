package eventpattern

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
