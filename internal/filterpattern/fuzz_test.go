package filterpattern

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// corpusPatterns are patterns of every kind, from the CIS controls, the
// custom benchmark set and the recorded cases' shapes.
func corpusPatterns() []string {
	ps := []string{"", " ", "ERROR", `"two words"`, "?ERROR ?WARN", "-ERROR", `%^a{3,5}$%`, `%a\sb%`,
		`{ $.a = 1 }`, `{ $.a != "foo" }`, `{ $.a > 0 }`, `{ $.a IS NULL }`, `{ $.a[*] != 2 }`, `{ $.a[*].b = 2 }`,
		`{ $.a.* = %x% }`, `{ $.['a.b'] = * }`, `{ $.a[1] = 2 }`, `{ $.a NOT EXISTS }`, `{ $.a IS TRUE || $.b IS FALSE }`,
		`{ $.a = 9007199254740993 }`, `{ $.a <= 1e-3 }`, `{ $.a = "f*o*" }`,
		`[a, rest]`, `[]`, `[..., last]`, `[, b,]`, `[a=1 || a=%x%, ...]`, `[ip, user, status>=400 && status<500, bytes]`}
	for _, c := range cisV3 {
		ps = append(ps, c)
	}
	ps = append(ps, securityHub...)
	ps = append(ps, customPatterns...)
	return ps
}

func FuzzCompile(f *testing.F) {
	for _, p := range corpusPatterns() {
		f.Add(p, []byte(`{"a":[1,{"b":2}],"eventName":"ConsoleLogin","a.b":null}`))
	}
	f.Add(`{ $.a = %(x)% }`, []byte("x"))
	f.Add(`[a="unclosed`, []byte("a b"))
	f.Fuzz(func(t *testing.T, pattern string, msg []byte) {
		p, err := Compile(pattern)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Message == "" {
				t.Fatalf("Compile(%q) = %v: not an *Error with a message", pattern, err)
			}
			return
		}
		m := p.Match(msg)
		ex, ok := p.Test(msg)
		if ok != m {
			t.Fatalf("Test and Match disagree on %q / %q", pattern, msg)
		}
		if ok && ex == nil {
			t.Fatal("a match with nil extractedValues")
		}
		hits := make([]bool, 2)
		NewSet([]*Pattern{p, p}).MatchAll(msg, hits)
		if hits[0] != m || hits[1] != m {
			t.Fatalf("Set and Match disagree on %q / %q", pattern, msg)
		}
		def := 1.0
		for _, v := range []string{"1", "$.a", "$.a.b", "$a", "$1"} {
			tr := Transformation{MetricValue: v, DefaultValue: &def, Dimensions: map[string]string{"D": "$.a", "E": "$a"}}
			_ = ValidateTransformation(p, tr)
			p.Emit(msg, tr)
		}
	})
}

func FuzzMatch(f *testing.F) {
	var ps []*Pattern
	for _, s := range corpusPatterns() {
		ps = append(ps, MustCompile(s))
	}
	set := NewSet(ps)
	f.Add([]byte(baseRecord))
	f.Add([]byte(`{"a":"\u00e9\"","a":[null,2],"b":{"c":[{"d":1e3}]}}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`a "b"c d`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		hits := make([]bool, set.Len())
		set.MatchAll(msg, hits)
		for k, p := range ps {
			if hits[k] != p.Match(msg) {
				t.Fatalf("Set and Match disagree for %q on %q", p, msg)
			}
		}
		checkScanValidity(t, msg)
	})
}

// checkScanValidity: the scanner accepts exactly the messages that are
// one JSON object.
func checkScanValidity(t *testing.T, msg []byte) {
	t.Helper()
	if bytes.Count(msg, []byte("["))+bytes.Count(msg, []byte("{")) > maxDepth {
		return
	}
	st := getState(0)
	got := st.scan(msg, newTrie())
	putState(st)
	trim := bytes.TrimLeft(msg, " \t\r\n")
	want := json.Valid(msg) && len(trim) > 0 && trim[0] == '{'
	if got != want {
		t.Fatalf("scan(%q) = %v, want %v", msg, got, want)
	}
}

// randomRecord builds a JSON object from a small vocabulary, with the
// shapes that matter: nesting, arrays, nulls, booleans, numbers in every
// spelling, escaped strings and keys, duplicate keys.
func randomRecord(r *rand.Rand, depth int) string {
	keys := []string{"a", "b", "eventName", "eventSource", "errorCode", "userIdentity", "type", "invokedBy", "a.b", "c"}
	var b strings.Builder
	b.WriteByte('{')
	n := r.IntN(5)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		k := keys[r.IntN(len(keys))]
		if r.IntN(8) == 0 && k == "a" {
			k = `\u0061` // "a", escaped
		}
		fmt.Fprintf(&b, "%q:%s", k, randomValue(r, depth))
	}
	b.WriteByte('}')
	return strings.ReplaceAll(b.String(), `"\\u0061"`, `"\u0061"`)
}

func randomValue(r *rand.Rand, depth int) string {
	vals := []string{`1`, `1.0`, `"1"`, `2`, `"2"`, `-0.0`, `1e3`, `1e309`, `9007199254740993`, `null`, `true`, `false`,
		`"foo"`, `"foobar"`, `"x"`, `"ConsoleLogin"`, `"Console\u004cogin"`, `"AccessDenied"`, `"Client.UnauthorizedOperation"`,
		`"Root"`, `"caf\u00e9"`, `"a\"b"`, `"kms.amazonaws.com"`, `"DisableKey"`, `[]`, `{}`}
	if depth < 3 {
		switch r.IntN(6) {
		case 0:
			return randomRecord(r, depth+1)
		case 1:
			var parts []string
			for i := r.IntN(4); i > 0; i-- {
				parts = append(parts, randomValue(r, depth+1))
			}
			return "[" + strings.Join(parts, ",") + "]"
		}
	}
	return vals[r.IntN(len(vals))]
}

// TestSetAgreesWithMatch is the property that one scan for many patterns
// decides as each pattern alone, on many generated records and on
// corrupted copies of them.
func TestSetAgreesWithMatch(t *testing.T) {
	var ps []*Pattern
	for _, s := range corpusPatterns() {
		ps = append(ps, MustCompile(s))
	}
	set := NewSet(ps)
	hits := make([]bool, set.Len())
	r := rand.New(rand.NewPCG(1, 2))
	matched := make([]int, len(ps))
	for i := 0; i < 20000; i++ {
		msg := []byte(randomRecord(r, 0))
		if i%5 == 0 && len(msg) > 2 { // corrupt one byte
			msg[r.IntN(len(msg))] = "{}[]\",:x \\"[r.IntN(10)]
		}
		set.MatchAll(msg, hits)
		for k, p := range ps {
			m := p.Match(msg)
			if hits[k] != m {
				t.Fatalf("Set says %v, Match says %v, for %q on %s", hits[k], m, p, msg)
			}
			if m {
				matched[k]++
			}
		}
		checkScanValidity(t, msg)
	}
	// The generator reaches both outcomes for the JSON patterns it targets.
	for k, p := range ps {
		if p.IsJSON() && strings.Contains(p.String(), "$.a ") && (matched[k] == 0 || matched[k] == 20000) {
			t.Errorf("pattern %q matched %d of 20000: the generator does not exercise it", p, matched[k])
		}
	}
}

func TestHasStop(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var b [8]byte
	for i := 0; i < 200000; i++ {
		for j := range b {
			switch r.IntN(4) {
			case 0:
				b[j] = byte(r.IntN(256))
			case 1:
				b[j] = "\"\\\x00\x1f\x20\x21\x7f\x80"[r.IntN(8)]
			default:
				b[j] = byte('a' + r.IntN(26))
			}
		}
		want := false
		for _, c := range b {
			want = want || strStop[c]
		}
		if got := hasStop(binary.LittleEndian.Uint64(b[:])); got != want {
			t.Fatalf("hasStop(%q) = %v, want %v", b, got, want)
		}
	}
}
