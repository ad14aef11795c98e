package sigma

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

func ruleNames(rs []*Rule) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.String())
	}
	return strings.Join(s, "; ")
}

// TestIndexEqualsBruteForcePublic: the indexed Match returns exactly what
// evaluating every rule returns, for every public test record.
func TestIndexEqualsBruteForcePublic(t *testing.T) {
	rs := loadRules(t)
	var files []string
	for _, pat := range []string{"/*/*.json", "/*/*.ndjson"} {
		m, _ := filepath.Glob(publicDir + pat)
		files = append(files, m...)
	}
	n, hits := 0, 0
	for _, f := range files {
		for _, rec := range records(t, f) {
			got, want := rs.Match(rec, nil), rs.matchAll(rec, nil)
			if ruleNames(got) != ruleNames(want) {
				t.Errorf("%s: indexed %q, brute force %q: %s", f, ruleNames(got), ruleNames(want), rec)
			}
			n++
			hits += len(got)
		}
	}
	if n < 500 || hits == 0 {
		t.Fatalf("%d records, %d hits: the public test data is missing", n, hits)
	}
}

// TestIndexEqualsBruteForceRandom does the same for random records built
// from the rules' own values in random case, shapes and types.
func TestIndexEqualsBruteForceRandom(t *testing.T) {
	rs := loadRules(t)
	var names, sources []string
	for _, r := range rs.Rules() {
		for _, s := range r.sels {
			for _, alt := range s.alts {
				for _, c := range alt {
					for _, m := range c.vals {
						sm, ok := m.(*strMatcher)
						if !ok || sm.kind != kindExact {
							continue
						}
						switch c.field {
						case "eventName":
							names = append(names, sm.lit)
						case "eventSource":
							sources = append(sources, sm.lit)
						}
					}
				}
			}
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	mixCase := func(s string) string {
		b := []byte(s)
		for i := range b {
			if rnd.IntN(2) == 0 && b[i] >= 'a' && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
		return string(b)
	}
	value := func(pool []string) string {
		switch rnd.IntN(8) {
		case 0:
			return "null"
		case 1:
			return fmt.Sprint(rnd.IntN(100))
		case 2:
			return fmt.Sprintf("[%q,%q]", mixCase(pool[rnd.IntN(len(pool))]), "x")
		case 3:
			return `"Other` + fmt.Sprint(rnd.IntN(5)) + `"`
		}
		return fmt.Sprintf("%q", mixCase(pool[rnd.IntN(len(pool))]))
	}
	extras := []string{`"errorCode":"Success"`, `"errorCode":null`, `"userAgent":"S3 Browser trufflehog"`,
		`"userIdentity":{"type":"Root","arn":"arn:aws:sts::1:assumed-role/aws:x/y","sessionContext":{"sessionIssuer":{"type":"Role"}}}`,
		`"userIdentity":{"type":"AssumedRole","arn":"alice"}`, `"requestParameters":{"userName":"alice","layers":["l"],"attribute":"userData"}`,
		`"additionalEventData":{"MFAUsed":"no"}`, `"responseElements":{"ConsoleLogin":"success","publiclyAccessible":true}`,
		`"eventType":"AwsServiceEvent"`, `"errorMessage":"failed AUTHENTICATION"`, `"status":"SUCCESS"`}
	matched := 0
	for i := 0; i < 20000; i++ {
		var parts []string
		if rnd.IntN(10) > 0 {
			parts = append(parts, `"eventName":`+value(names))
		}
		if rnd.IntN(10) > 0 {
			parts = append(parts, `"eventSource":`+value(sources))
		}
		for _, x := range extras {
			if rnd.IntN(3) == 0 {
				parts = append(parts, x)
			}
		}
		rnd.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		rec := []byte("{" + strings.Join(parts, ",") + "}")
		got, want := rs.Match(rec, nil), rs.matchAll(rec, nil)
		if ruleNames(got) != ruleNames(want) {
			t.Fatalf("indexed %q, brute force %q: %s", ruleNames(got), ruleNames(want), rec)
		}
		if len(got) > 0 {
			matched++
		}
	}
	if matched < 1000 {
		t.Fatalf("only %d of 20000 random records matched a rule: the generator is too weak", matched)
	}
}

// TestMatchConcurrent: one Ruleset serves many goroutines (run with
// -race).
func TestMatchConcurrent(t *testing.T) {
	rs := loadRules(t)
	done := make(chan string)
	for g := 0; g < 4; g++ {
		go func() {
			var dst []*Rule
			for i := 0; i < 200; i++ {
				for _, c := range ruleCases {
					dst = rs.Match([]byte(c.pos), dst[:0])
					if len(dst) == 0 {
						done <- "positive record unmatched: " + c.pos
						return
					}
				}
			}
			done <- ""
		}()
	}
	for g := 0; g < 4; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
