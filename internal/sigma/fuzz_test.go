package sigma

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseRules: any bytes either load or fail with a LoadError; a
// loaded rule evaluates without panicking.
func FuzzParseRules(f *testing.F) {
	files, _ := filepath.Glob(rulesDir + "/*.yml")
	for _, p := range files[:10] {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(corrRules))
	f.Add([]byte("title: x\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s: [a, '*b?']\n  condition: not (s or 1 of them)\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		rules, _ := ParseRules(src, "fuzz.yml")
		rs, _ := NewRuleset(rules)
		c := rs.NewCorrelator()
		rec := []byte(`{"eventID":"1","eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com","a":["b",{"c":1}],"errorCode":null}`)
		m := rs.Match(rec, nil)
		if len(m) != len(rs.matchAll(rec, nil)) {
			t.Fatalf("index and brute force disagree on %q", src)
		}
		c.Observe(rec, time.Unix(0, 0), m)
	})
}

// FuzzMatch: any record is matched without panicking, and the index
// agrees with brute force.
func FuzzMatch(f *testing.F) {
	rs, errs, err := LoadDir(rulesDir)
	if err != nil || len(errs) > 0 {
		f.Fatal(err, errs)
	}
	for _, c := range ruleCases {
		f.Add([]byte(c.pos))
		f.Add([]byte(c.neg))
	}
	f.Add([]byte(`{"eventName":["DeleteTrail",1],"eventSource":7}`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		got, want := rs.Match(rec, nil), rs.matchAll(rec, nil)
		if ruleNames(got) != ruleNames(want) {
			t.Fatalf("indexed %q, brute force %q for %q", ruleNames(got), ruleNames(want), rec)
		}
	})
}

// FuzzFoldedMatch: a case-insensitive value decides on ASCII text without
// folding it exactly as it does on the folded text.
func FuzzFoldedMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"ConsoleLogin", "consolelogin"}, {"No", "NO"}, {"Get*", "getObject"}, {"*.amazonaws.com", "S3.AMAZONAWS.COM"},
		{"*kali*", "Boto3 KALI"}, {"K", "\u212a"}, {"i\u0307", "\u0130"}, {"ab*", "a\xff"}, {"*b", "\xffB"}, {"", ""}, {"İ*", "i̇x"},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, value string, text []byte) {
		m, _ := compileString(value, false)
		e := &evalCtx{}
		want := m.matchFolded(foldBytes(nil, text))
		if got := m.matchText(e, text); got != want {
			t.Fatalf("value %q on %q: %v, on the folded text %v", value, text, got, want)
		}
	})
}
