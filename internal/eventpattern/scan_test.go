package eventpattern

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestReaderStrings puts each byte that needs attention at every position
// of the eight-byte windows the string scanner reads, and checks that the
// reader accepts and decodes exactly as encoding/json does.
func TestReaderStrings(t *testing.T) {
	specials := []string{`\"`, `\\`, `\u00e9`, `\ud83d\ude00`, `\n`, "\x01", "\x1f", "\x7f", "\x80", "é", "😀", `"`, `\x`, "\xff\xfe"}
	for _, sp := range specials {
		for pos := 0; pos < 18; pos++ {
			s := strings.Repeat("a", pos) + sp + strings.Repeat("b", 20-pos)
			ev := []byte(`{"k":"` + s + `","n":1}`)
			got := validJSON(ev) == nil
			want := json.Valid(ev) && utf8.Valid(ev)
			if got != want {
				t.Fatalf("%q: valid %v, encoding/json %v", ev, got, want)
			}
			if !want {
				if _, err := mustCompile(t, `{"n":[1]}`).Match(ev); err == nil {
					t.Fatalf("%q: Match took invalid JSON", ev)
				}
				continue
			}
			var top struct{ K string }
			if err := json.Unmarshal(ev, &top); err != nil {
				t.Fatal(err)
			}
			src, _ := json.Marshal(map[string][]string{"k": {top.K}})
			if ok, err := mustCompile(t, string(src)).Match(ev); !ok || err != nil {
				t.Fatalf("%q: the decoded value %q does not match (%v)", ev, top.K, err)
			}
		}
	}
}

func TestReaderRefusals(t *testing.T) {
	p := mustCompile(t, `{"a":[{"exists":true}]}`)
	for _, ev := range []string{
		`{"a":NaN}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":+1}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`,
		`{"a":1,}`, `{"a":[1,]}`, `{"a" 1}`, `{a:1}`, `{"a":1}}`, `{"a":1} {}`, `{"a":"\x"}`, `{"a":"x`,
		`{"b":{"c":[1,2}}`, `{"a":1,"b":[}`, `{"a":"` + "\t" + `"}`, strings.Repeat("[", 1001) + strings.Repeat("]", 1001),
		`{"a":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}`,
	} {
		if ok, err := p.Match([]byte(ev)); err == nil || ok {
			t.Errorf("Match(%.40q) = %v, %v; want an error", ev, ok, err)
		}
	}
	for _, ev := range []string{`{"a":-0.5e+3}`, ` {"a" : [ 1 , {"b":null} ] } `, `{"a":"\u00e9\/"}`, `{"a":` + strings.Repeat("[", 999) + "1" + strings.Repeat("]", 999) + `}`} {
		if ok, err := p.Match([]byte(ev)); err != nil || !ok {
			t.Errorf("Match(%.40q) = %v, %v", ev, ok, err)
		}
	}
}

// TestNodeFilter: the filter in front of a node's children never turns
// away a name that is there (empty, long, dotted, non-ASCII names
// included), and turns away most that are not.
func TestNodeFilter(t *testing.T) {
	reg := newRegistry()
	names := []string{"", "eventName", "eventSource", "userIdentity.type", "a", "é", strings.Repeat("x", 64), strings.Repeat("y", 100), "detail-type", "requestParameters.ipPermissions.items.ipRanges"}
	for _, n := range names {
		reg.add(n)
	}
	for _, n := range names {
		if c := reg.root.child([]byte(n)); c == nil || c.id != reg.ids[n] {
			t.Fatalf("%q: registered, not found", n)
		}
	}
	turned := 0
	others := []string{"eventTime", "awsRegion", "sourceIPAddress", "userAgent", "errorCode", "eventID", "readOnly", "resources", "tlsDetails", "sessionCredentialFromConsole"}
	for _, n := range others {
		if !reg.root.mayHave([]byte(n)) {
			turned++
		}
		if reg.root.child([]byte(n)) != nil {
			t.Fatalf("%q: not registered, found", n)
		}
	}
	if turned < len(others)/2 {
		t.Fatalf("the filter turned away %d of %d absent names", turned, len(others))
	}
}
