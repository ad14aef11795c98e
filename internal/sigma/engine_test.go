package sigma

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rule compiles one rule from its detection block (indented YAML).
func rule(t testing.TB, detection string) *Ruleset {
	t.Helper()
	src := "title: T\nid: t-1\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n" + detection
	rules, err := ParseRules([]byte(src), "t.yml")
	if err != nil {
		t.Fatalf("ParseRules: %v\n%s", err, src)
	}
	rs, errs := NewRuleset(rules)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return rs
}

// TestSemantics covers the detection syntax and every modifier, each with
// records that must and must not match.
func TestSemantics(t *testing.T) {
	cases := []struct {
		name, det string
		yes, no   []string
	}{
		{"case-insensitive plain value", "  sel:\n    eventName: 'CONSOLElogin'\n  condition: sel",
			[]string{`{"eventName":"ConsoleLogin"}`}, []string{`{"eventName":"ConsoleLogins"}`, `{}`}},
		{"wildcards", "  sel:\n    eventName: 'Get*Pol?cy'\n  condition: sel",
			[]string{`{"eventName":"GetBucketPolicy"}`, `{"eventName":"getpolicy"}`}, []string{`{"eventName":"GetBucketPolicyStatus"}`, `{"eventName":"GetPolcy"}`}},
		{"escaped wildcard", "  sel:\n    f: 'a\\*b'\n  condition: sel",
			[]string{`{"f":"a*b"}`}, []string{`{"f":"axb"}`}},
		{"value list is OR", "  sel:\n    f: [a, b]\n  condition: sel",
			[]string{`{"f":"B"}`}, []string{`{"f":"c"}`}},
		{"map is AND, list of maps is OR", "  sel:\n    - f: a\n      g: b\n    - h: c\n  condition: sel",
			[]string{`{"f":"a","g":"b"}`, `{"h":"c"}`}, []string{`{"f":"a","g":"x"}`}},
		{"null: absent or null", "  sel:\n    errorCode: null\n  condition: sel",
			[]string{`{}`, `{"errorCode":null}`}, []string{`{"errorCode":"X"}`, `{"errorCode":""}`}},
		{"numbers and booleans as strings", "  sel:\n    n: 5\n    b: 'TRUE'\n  condition: sel",
			[]string{`{"n":5,"b":true}`, `{"n":"5","b":"true"}`}, []string{`{"n":6,"b":true}`}},
		{"contains startswith endswith", "  sel:\n    a|contains: mid\n    b|startswith: pre\n    c|endswith: END\n  condition: sel",
			[]string{`{"a":"xMIDx","b":"Prefix","c":"the end"}`}, []string{`{"a":"xMIDx","b":"xpre","c":"the end"}`}},
		{"contains|all", "  sel:\n    a|contains|all: [x, y]\n  condition: sel",
			[]string{`{"a":"y x"}`}, []string{`{"a":"x"}`}},
		{"dotted path fans out over arrays", "  sel:\n    r.list.name: bob\n  condition: sel",
			[]string{`{"r":{"list":[{"name":"al"},{"name":["x","BOB"]}]}}`}, []string{`{"r":{"list":[{"name":"al"}]}}`}},
		{"object value matched as JSON and its strings", "  sel:\n    r|contains|all: ['\"k\":\"v\"', 'inner']\n  condition: sel",
			[]string{`{"r":{"k":"v","d":"{inner}"}}`}, []string{`{"r":{"k":"w","d":"inner"}}`}},
		{"re is case-sensitive", "  sel:\n    a|re: '^ab+c$'\n  condition: sel",
			[]string{`{"a":"abbc"}`}, []string{`{"a":"ABBC"}`}},
		{"re with i", "  sel:\n    a|re|i: '^ab+c$'\n  condition: sel",
			[]string{`{"a":"ABBC"}`}, []string{`{"a":"ac"}`}},
		{"cased", "  sel:\n    a|cased: Abc\n  condition: sel",
			[]string{`{"a":"Abc"}`}, []string{`{"a":"abc"}`}},
		{"cidr", "  sel:\n    sourceIPAddress|cidr: [10.0.0.0/8, '2001:db8::/32']\n  condition: sel",
			[]string{`{"sourceIPAddress":"10.1.2.3"}`, `{"sourceIPAddress":"2001:db8::1"}`}, []string{`{"sourceIPAddress":"11.0.0.1"}`, `{"sourceIPAddress":"AWS Internal"}`}},
		{"exists", "  sel:\n    a|exists: true\n    b|exists: false\n  condition: sel",
			[]string{`{"a":0}`, `{"a":"","b":null}`}, []string{`{"a":1,"b":2}`, `{}`, `{"a":null}`}},
		{"fieldref", "  sel:\n    userIdentity.userName|fieldref: requestParameters.userName\n  condition: sel",
			[]string{`{"userIdentity":{"userName":"Alice"},"requestParameters":{"userName":"alice"}}`}, []string{`{"userIdentity":{"userName":"alice"},"requestParameters":{"userName":"bob"}}`, `{"userIdentity":{"userName":"alice"}}`}},
		{"fieldref|endswith", "  sel:\n    userIdentity.arn|fieldref|endswith: requestParameters.userName\n  condition: sel",
			[]string{`{"userIdentity":{"arn":"arn:aws:iam::1:user/alice"},"requestParameters":{"userName":"alice"}}`}, []string{`{"userIdentity":{"arn":"arn:aws:iam::1:user/alice"},"requestParameters":{"userName":"bob"}}`}},
		{"neq", "  sel:\n    a|neq: x\n  condition: sel",
			[]string{`{"a":"y"}`}, []string{`{"a":"X"}`, `{}`}},
		{"gt lte", "  sel:\n    n|gt: 5\n    m|lte: 2.5\n  condition: sel",
			[]string{`{"n":6,"m":"2.5"}`}, []string{`{"n":5,"m":1}`, `{"n":"x","m":1}`}},
		{"base64", "  sel:\n    a|base64: 'hi there'\n  condition: sel",
			[]string{`{"a":"aGkgdGhlcmU="}`}, []string{`{"a":"AGKGDGHLCMU="}`}},
		{"base64offset|contains", "  sel:\n    a|base64offset|contains: 'secret'\n  condition: sel",
			[]string{`{"a":"eHNlY3JldHg="}`, `{"a":"c2VjcmV0"}`, `{"a":"eHhzZWNyZXQ="}`}, []string{`{"a":"c2VjcmV1"}`}},
		{"windash", "  sel:\n    a|windash|contains: ' -enc '\n  condition: sel",
			[]string{`{"a":"x /enc y"}`, `{"a":"x -enc y"}`}, []string{`{"a":"x enc y"}`}},
		{"keywords", "  keywords:\n    - 'evil'\n  condition: keywords",
			[]string{`{"a":{"b":["an EVIL thing"]}}`}, []string{`{"evil":"key names are not searched"}`}},
		{"not and precedence", "  a:\n    x: 1\n  b:\n    y: 1\n  c:\n    z: 1\n  condition: a or b and not c",
			[]string{`{"x":1,"z":1}`, `{"y":1}`}, []string{`{"y":1,"z":1}`, `{}`}},
		{"parentheses", "  a:\n    x: 1\n  b:\n    y: 1\n  c:\n    z: 1\n  condition: (a or b) and not c",
			[]string{`{"y":1}`}, []string{`{"x":1,"z":1}`}},
		{"1 of / all of", "  sel_a:\n    x: 1\n  sel_b:\n    y: 1\n  other:\n    z: 1\n  condition: 1 of sel_* and all of sel_* or other",
			[]string{`{"x":1,"y":1}`, `{"z":1}`}, []string{`{"x":1}`}},
		{"them excludes _", "  a:\n    x: 1\n  _b:\n    y: 1\n  condition: all of them",
			[]string{`{"x":1}`}, []string{`{"y":1}`}},
		{"condition list is ORed", "  a:\n    x: 1\n  b:\n    y: 1\n  condition:\n    - a\n    - b",
			[]string{`{"y":1}`}, []string{`{"z":1}`}},
		{"non-ASCII folds", "  sel:\n    a: 'ÄRGER'\n  condition: sel",
			[]string{`{"a":"ärger"}`}, []string{`{"a":"arger"}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := rule(t, c.det)
			for _, y := range c.yes {
				if len(rs.Match([]byte(y), nil)) != 1 || len(rs.matchAll([]byte(y), nil)) != 1 {
					t.Errorf("does not match %s", y)
				}
			}
			for _, n := range c.no {
				if len(rs.Match([]byte(n), nil)) != 0 || len(rs.matchAll([]byte(n), nil)) != 0 {
					t.Errorf("matches %s", n)
				}
			}
		})
	}
}

// TestLoadErrors: what the engine cannot do is reported by rule and
// reason, never skipped.
func TestLoadErrors(t *testing.T) {
	head := "title: Bad\nid: bad-1\nlogsource:\n  product: aws\n  service: cloudtrail\n"
	cases := []struct{ src, reason string }{
		{"title: W\nlogsource:\n  product: windows\n  service: security\ndetection:\n  s:\n    a: 1\n  condition: s\n", "is not CloudTrail"},
		{head + "detection:\n  s:\n    a|expand: '%x%'\n  condition: s\n", "unsupported: modifier expand"},
		{head + "detection:\n  s:\n    a|utf16le|base64: x\n  condition: s\n", "unsupported: modifier utf16le"},
		{head + "detection:\n  s:\n    a: 1\n  condition: s | count() > 5\n", "unsupported: aggregation"},
		{head + "detection:\n  s:\n    a: 1\n  timeframe: 5m\n  condition: s\n", "unsupported: timeframe"},
		{head + "detection:\n  s:\n    a: 1\n  condition: s and missing\n", `names "missing"`},
		{head + "detection:\n  s:\n    a: 1\n  condition: 1 of x*\n", "matches no selection"},
		{head + "detection:\n  s:\n    a: 1\n  condition: 2 of s*\n", "unsupported"},
		{head + "detection:\n  s:\n    a|re: '(?<=x)'\n  condition: s\n", "regular expression"},
		{head + "detection:\n  s:\n    a|cidr: 10.0.0/8\n  condition: s\n", "cidr"},
		{head + "detection:\n  s:\n    a: 1\n", "no condition"},
		{head + "detection:\n  s:\n    a: 1\n  condition: (s\n", "missing )"},
		{"title: C\ncorrelation:\n  type: near\n  rules: [x]\n  timespan: 5m\n", "unsupported: correlation type"},
		{"title: C\ncorrelation:\n  type: event_count\n  rules: [x]\n  timespan: 5x\n  condition: {gte: 1}\n", "timespan"},
	}
	for _, c := range cases {
		_, err := ParseRules([]byte(c.src), "bad.yml")
		var les LoadErrors
		if !errors.As(err, &les) || len(les) != 1 {
			t.Errorf("%q: got %v, want one LoadError", c.src, err)
			continue
		}
		if les[0].File != "bad.yml" || !strings.Contains(les[0].Reason, c.reason) {
			t.Errorf("%q: got %+v, want reason containing %q", c.src, les[0], c.reason)
		}
	}
	// A good rule next to a bad one in one file still loads, and the bad
	// one is named.
	src := head + "detection:\n  s:\n    a: 1\n  condition: s\n---\ntitle: Worse\nid: w-2\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  s:\n    a|nope: 1\n  condition: s\n"
	rules, err := ParseRules([]byte(src), "two.yml")
	if len(rules) != 1 || rules[0].ID != "bad-1" {
		t.Fatalf("got %d rules, want the good one", len(rules))
	}
	var les LoadErrors
	if !errors.As(err, &les) || les[0].Rule != "Worse (w-2)" {
		t.Fatalf("got %v, want the rule named", err)
	}
	// A correlation naming an unknown rule is reported by NewRuleset.
	rules, err = ParseRules([]byte("title: C\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 5m\n"), "c.yml")
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := NewRuleset(rules); len(errs) != 2 || !strings.Contains(errs[0].Reason, "not loaded") {
		t.Fatalf("got %v, want two unknown-rule errors", errs)
	}
}

// TestGlobLinear: wildcard matching does not backtrack exponentially.
func TestGlobLinear(t *testing.T) {
	rs := rule(t, "  sel:\n    a: '*a*a*a*a*a*a*a*a*a*b'\n  condition: sel\n")
	long := `{"a":"` + strings.Repeat("a", 20000) + `"}`
	start := time.Now()
	if len(rs.Match([]byte(long), nil)) != 0 {
		t.Fatal("matched")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	if len(rs.Match([]byte(`{"a":"xaaaaaaaaaayb"}`), nil)) != 1 {
		t.Fatal("no match")
	}
}

// TestAliasBomb: YAML aliases that multiply values are refused, not
// expanded without bound.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("title: bomb\nlogsource: {product: aws, service: cloudtrail}\nl0: &l0 [")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "v%d,", i)
	}
	b.WriteString("x]\nm0: &m0 {")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "f%d: *l0, ", i)
	}
	b.WriteString("g: x}\ndetection:\n  sel: [")
	for i := 0; i < 400; i++ {
		b.WriteString("*m0, ")
	}
	b.WriteString("*m0]\n  condition: sel\n")
	_, err := ParseRules([]byte(b.String()), "bomb.yml")
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("got %v, want a too-many-values load error", err)
	}
}

// TestRegexLiteralPrefilter: the literal a regular expression requires
// rules values out without changing any verdict.
func TestRegexLiteralPrefilter(t *testing.T) {
	for _, c := range []struct {
		re, need string
		yes, no  []string
	}{
		{`.+:assumed-role/aws:.+`, ":assumed-role/aws:", []string{"arn:aws:sts::1:assumed-role/aws:ec2/i"}, []string{"arn:aws:sts::1:assumed-role/app/i"}},
		{`(?i)ab+c`, "", []string{"xABBC"}, []string{"ac"}},
		{`^x(a|b)yz`, "yz", []string{"xayz"}, []string{"xcyz"}},
	} {
		m := newReMatcher(regexp.MustCompile(c.re))
		if string(m.need) != c.need {
			t.Errorf("%s: need %q, want %q", c.re, m.need, c.need)
		}
		rs := rule(t, "  sel:\n    a|re: '"+c.re+"'\n  condition: sel\n")
		for _, y := range c.yes {
			if len(rs.Match([]byte(`{"a":"`+y+`"}`), nil)) != 1 {
				t.Errorf("%s: %s does not match", c.re, y)
			}
		}
		for _, n := range c.no {
			if len(rs.Match([]byte(`{"a":"`+n+`"}`), nil)) != 0 {
				t.Errorf("%s: %s matches", c.re, n)
			}
		}
	}
}
