package eventpattern

import (
	"strings"
	"testing"
)

// TestOperators covers what the AWS corpus covers thinly. Each case is a
// pattern, an event and the expected answer, following EventBridge's
// documented behaviour.
func TestOperators(t *testing.T) {
	cases := []struct {
		name, pattern, event string
		want                 bool
	}{
		// exact values
		{"number by value", `{"n":[300]}`, `{"n":3e2}`, true},
		{"number by value 2", `{"n":[1.50]}`, `{"n":1.5}`, true},
		{"number is not a string", `{"n":[300]}`, `{"n":"300"}`, false},
		{"string is not a number", `{"n":["300"]}`, `{"n":300}`, false},
		{"long account id as number", `{"n":[123456789012345678901]}`, `{"n":123456789012345678901}`, true},
		{"long numbers differ", `{"n":[123456789012345678901]}`, `{"n":123456789012345678902}`, false},
		{"null is not empty", `{"x":[null]}`, `{"x":""}`, false},
		{"empty is not null", `{"x":[""]}`, `{"x":null}`, false},
		{"null is not a missing key", `{"x":[null]}`, `{}`, false},
		{"true", `{"x":[true]}`, `{"x":true}`, true},
		{"true is not the string", `{"x":[true]}`, `{"x":"true"}`, false},
		{"case sensitive", `{"x":["Root"]}`, `{"x":"root"}`, false},
		{"ip literal by address", `{"ip":["2001:db8::1"]}`, `{"ip":"2001:0db8:0:0:0:0:0:1"}`, true},
		{"ip literal other address", `{"ip":["10.0.0.1"]}`, `{"ip":"10.0.0.2"}`, false},
		// arrays
		{"event array intersects", `{"r":["b","z"]}`, `{"r":["a","b"]}`, true},
		{"event array disjoint", `{"r":["c"]}`, `{"r":["a","b"]}`, false},
		{"array of objects", `{"r":{"k":["v2"]}}`, `{"r":[{"k":"v1"},{"k":"v2"}]}`, true},
		{"fields from one element", `{"r":{"k":["v1"],"w":["x1"]}}`, `{"r":[{"k":"v1","w":"x1"},{"k":"v2","w":"x2"}]}`, true},
		{"fields across elements", `{"r":{"k":["v1"],"w":["x2"]}}`, `{"r":[{"k":"v1","w":"x1"},{"k":"v2","w":"x2"}]}`, false},
		{"nested arrays", `{"a":{"b":{"c":[3]}}}`, `{"a":[{"b":[{"c":1},{"c":[2,3]}]}]}`, true},
		// prefix / suffix / equals-ignore-case
		{"prefix", `{"s":[{"prefix":"us-"}]}`, `{"s":"us-east-1"}`, true},
		{"prefix on number", `{"s":[{"prefix":"1"}]}`, `{"s":12}`, false},
		{"prefix ignore case", `{"s":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"s":"eventbridge"}`, true},
		{"prefix ignore case miss", `{"s":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"s":"event"}`, false},
		{"suffix ignore case", `{"f":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"f":"a.PNG"}`, true},
		{"equals ignore case unicode", `{"s":[{"equals-ignore-case":"ÄRGER"}]}`, `{"s":"ärger"}`, true},
		{"equals ignore case not prefix", `{"s":[{"equals-ignore-case":"abc"}]}`, `{"s":"abcd"}`, false},
		// wildcard
		{"wildcard middle", `{"f":[{"wildcard":"dir/*.png"}]}`, `{"f":"dir/a/b.png"}`, true},
		{"wildcard exact parts", `{"f":[{"wildcard":"dir/*.png"}]}`, `{"f":"dir/a.jpg"}`, false},
		{"wildcard escaped star", `{"f":[{"wildcard":"a\\*b"}]}`, `{"f":"a*b"}`, true},
		{"wildcard escaped star is literal", `{"f":[{"wildcard":"a\\*b"}]}`, `{"f":"axb"}`, false},
		{"wildcard escaped backslash", `{"f":[{"wildcard":"a\\\\*"}]}`, `{"f":"a\\xyz"}`, true},
		{"wildcard star only", `{"f":[{"wildcard":"*"}]}`, `{"f":""}`, true},
		{"wildcard overlapping", `{"f":[{"wildcard":"*ab*ab"}]}`, `{"f":"xabab"}`, true},
		{"wildcard on number", `{"f":[{"wildcard":"*"}]}`, `{"f":1}`, false},
		// anything-but
		{"anything-but number list", `{"n":[{"anything-but":[100,200]}]}`, `{"n":200.0}`, false},
		{"anything-but number vs string", `{"n":[{"anything-but":[100]}]}`, `{"n":"100"}`, true},
		{"anything-but string vs number", `{"n":[{"anything-but":"100"}]}`, `{"n":100}`, true},
		{"anything-but array element", `{"s":[{"anything-but":"a"}]}`, `{"s":["a","b"]}`, true},
		{"anything-but array all excluded", `{"s":[{"anything-but":"a"}]}`, `{"s":["a"]}`, false},
		{"anything-but ignore case", `{"s":[{"anything-but":{"equals-ignore-case":["STOPPED"]}}]}`, `{"s":"stopped"}`, false},
		{"anything-but suffix", `{"f":[{"anything-but":{"suffix":".png"}}]}`, `{"f":"a.png"}`, false},
		{"anything-but wildcard", `{"f":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"f":"/usr/lib/x"}`, false},
		{"anything-but missing", `{"f":[{"anything-but":"x"}]}`, `{}`, false},
		// numeric
		{"numeric range", `{"n":[{"numeric":[">",0,"<=",5]}]}`, `{"n":5}`, true},
		{"numeric open top", `{"n":[{"numeric":[">",0,"<",5]}]}`, `{"n":5}`, false},
		{"numeric open bottom", `{"n":[{"numeric":[">",0,"<",5]}]}`, `{"n":0}`, false},
		{"numeric ge", `{"n":[{"numeric":[">=",0]}]}`, `{"n":-0}`, true},
		{"numeric eq exp", `{"n":[{"numeric":["=",3.018e2]}]}`, `{"n":301.8}`, true},
		{"numeric negative", `{"n":[{"numeric":["<",-1e9]}]}`, `{"n":-5e9}`, true},
		{"numeric big", `{"n":[{"numeric":[">",1e300]}]}`, `{"n":1e301}`, true},
		{"numeric on string", `{"n":[{"numeric":[">",0]}]}`, `{"n":"5"}`, false},
		{"numeric on array", `{"n":[{"numeric":[">",10]}]}`, `{"n":[1,20]}`, true},
		// exists
		{"exists true", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
		{"exists true on object", `{"a":[{"exists":true}]}`, `{"a":{"b":1}}`, false},
		{"exists false missing", `{"a":[{"exists":false}]}`, `{"b":1}`, true},
		{"exists false on object", `{"a":[{"exists":false}]}`, `{"a":{"b":1}}`, true},
		{"exists false present", `{"a":[{"exists":false}]}`, `{"a":""}`, false},
		{"exists false empty array", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
		{"exists true empty array", `{"a":[{"exists":true}]}`, `{"a":[]}`, false},
		// cidr
		{"cidr v4", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"10.200.3.4"}`, true},
		{"cidr v4 host bits set", `{"ip":[{"cidr":"10.1.2.3/16"}]}`, `{"ip":"10.1.200.1"}`, true},
		{"cidr v4 outside", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"11.0.0.1"}`, false},
		{"cidr v6", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db8:ffff::1"}`, true},
		{"cidr v6 outside", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db9::1"}`, false},
		{"cidr v4 vs v6", `{"ip":[{"cidr":"0.0.0.0/0"}]}`, `{"ip":"::1"}`, false},
		{"cidr not an address", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"AWS Internal"}`, false},
		// $or
		{"$or second", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"b":"2"}`, true},
		{"$or none", `{"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"a":"2","b":"1"}`, false},
		{"$or nested in detail", `{"source":["s"],"detail":{"$or":[{"a":[1]},{"b":{"c":[2]}}]}}`, `{"source":"s","detail":{"b":{"c":2}}}`, true},
		{"$or and sibling", `{"source":["s"],"$or":[{"a":["1"]},{"b":["2"]}]}`, `{"source":"t","a":"1"}`, false},
		{"$or inside $or", `{"$or":[{"a":["1"]},{"$or":[{"b":["2"]},{"c":["3"]}]}]}`, `{"c":"3"}`, true},
		// structure
		{"dot-joined event key", `{"a":{"b":["x"]}}`, `{"a.b":"x"}`, true},
		{"later duplicate wins", `{"a":["x"],"a":["y"]}`, `{"a":"y"}`, true},
		{"earlier duplicate loses", `{"a":["x"],"a":["y"]}`, `{"a":"x"}`, false},
		{"unmentioned fields ignored", `{"a":["x"]}`, `{"a":"x","b":{"c":[1,2]}}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile(c.pattern)
			if err != nil {
				t.Fatalf("Compile(%s): %v", c.pattern, err)
			}
			got, err := p.Match([]byte(c.event))
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("Match(%s, %s) = %v, want %v", c.pattern, c.event, got, c.want)
			}
		})
	}
}

// TestInvalidPatterns checks messages for refusals the AWS corpus does not
// record; they follow the same wording as EventBridge's pattern checker.
func TestInvalidPatterns(t *testing.T) {
	const pre = "Event pattern is not valid. Reason: "
	cases := []struct{ pattern, reason string }{
		{`[1]`, "Filter is not an object"},
		{`"x"`, "Filter is not an object"},
		{`{}`, "Empty objects are not allowed"},
		{`{"a":{}}`, "Empty objects are not allowed"},
		{`{"a":"x"}`, `"a" must be an object or an array`},
		{`{"a":[[1]]}`, "Match value must be String, number, true, false, or null"},
		{`{"a":[{}]}`, "Match expression name not found"},
		{`{"a":[{"prefix":"x","suffix":"y"}]}`, "Only one key allowed in match expression"},
		{`{"a":[{"prefix":{"foo":"x"}}]}`, "Unsupported prefix pattern: foo"},
		{`{"a":[{"suffix":{"equals-ignore-case":1}}]}`, "equals-ignore-case match pattern must be a string"},
		{`{"a":[{"exists":"yes"}]}`, "exists match pattern must be either true or false."},
		{`{"a":[{"numeric":[">","1"]}]}`, "Value of > must be numeric"},
		{`{"a":[{"numeric":["=",1,"<",2]}]}`, "Too many elements in numeric expression"},
		{`{"a":[{"numeric":[">",5,"<",1]}]}`, "Bottom must be less than top"},
		{`{"a":[{"numeric":[">",1,"<",2,3]}]}`, "Too many terms in numeric range expression"},
		{`{"a":[{"numeric":["!=",1]}]}`, "Unrecognized numeric range operator: !="},
		{`{"a":[{"numeric":[1]}]}`, "Invalid member in numeric match: 1"},
		{`{"a":[{"numeric":[">",1,2]}]}`, "Bad value in numeric range: 2"},
		{`{"a":[{"numeric":[">",1.00000000000000000001]}]}`, "Cannot compare number : 1.00000000000000000001"},
		{`{"a":[{"anything-but":["x",1]}]}`, "Inside anything but list, either all values are number or string, mixed type is not supported"},
		{`{"a":[{"anything-but":true}]}`, "Value of anything-but must be an array or single string/number value."},
		{`{"a":[{"anything-but":{"regex":"x"}}]}`, "Unsupported anything-but pattern: regex"},
		{`{"a":[{"anything-but":{"suffix":""}}]}`, "Null prefix/suffix not allowed"},
		{`{"a":[{"anything-but":{"wildcard":"a**"}}]}`, "Consecutive wildcard characters at pos 2"},
		{`{"a":[{"wildcard":"a\\b"}]}`, "Invalid escape character at pos 2"},
		{`{"a":[{"wildcard":"ab\\"}]}`, "Invalid escape character at pos 3"},
		{`{"a":[{"cidr":"10.0.0.0/x"}]}`, "Malformed CIDR, mask bits must be an integer"},
		{`{"a":[{"cidr":"10.0.0.0/-1"}]}`, "Malformed CIDR, mask bits must not be negative"},
		{`{"a":[{"cidr":"10.0.0.0/32"}]}`, "IPv4 mask bits must be < 32"},
		{`{"a":[{"cidr":"::/128"}]}`, "IPv6 mask bits must be < 128"},
		{`{"a":[{"cidr":"10.0.0.300/8"}]}`, "Invalid IP address: 10.0.0.300"},
		{`{"$or":[{"a":["1"]}]}`, "There must have at least 2 Objects in $or relationship."},
		{`{"$or":{"a":["1"]}}`, "It must be an Array followed with $or."},
		{`{"$or":[{"a":["1"]},"b"]}`, "Only JSON object is allowed in array of $or relationship."},
		{`{"$or":[{"a":["1"]},{"numeric":["1"]}]}`, "numeric is Ruler reserved fieldName which cannot be used inside $or."},
	}
	for _, c := range cases {
		_, err := Compile(c.pattern)
		if err == nil {
			t.Errorf("Compile(%s) succeeded, want %q", c.pattern, c.reason)
			continue
		}
		if got := err.(*Error).Message; got != pre+c.reason {
			t.Errorf("Compile(%s):\n got %q\nwant %q", c.pattern, got, pre+c.reason)
		}
	}
	if _, err := Compile(`{"a":`); err == nil || !strings.HasPrefix(err.Error(), pre) {
		t.Errorf("malformed JSON: %v", err)
	}
}

// TestOrCombinationLimit: "$or" may expand to at most MaxCombinations
// alternatives.
func TestOrCombinationLimit(t *testing.T) {
	or := func(n int, key string) string {
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, `{"`+key+string(rune('a'+i))+`":["x"]}`)
		}
		return `"$or":[` + strings.Join(parts, ",") + `]`
	}
	// 10 × 10 × 10 = 1000 alternatives: accepted
	ok := `{"a":{` + or(10, "p") + `},"b":{` + or(10, "q") + `},"c":{` + or(10, "r") + `}}`
	p, err := Compile(ok)
	if err != nil {
		t.Fatalf("1000 combinations: %v", err)
	}
	if len(p.branches) != 1000 {
		t.Fatalf("%d branches", len(p.branches))
	}
	if m, _ := p.Match([]byte(`{"a":{"pc":"x"},"b":{"qj":"x"},"c":{"ra":"x"}}`)); !m {
		t.Fatal("no match through the 1000 branches")
	}
	bad := `{"a":{` + or(10, "p") + `},"b":{` + or(10, "q") + `},"c":{` + or(11, "r") + `}}`
	if _, err := Compile(bad); err == nil || !strings.Contains(err.Error(), "exceeds 1000") {
		t.Fatalf("1100 combinations: %v", err)
	}
}

func TestMatchErrors(t *testing.T) {
	p, err := Compile(`{"a":["x"]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{``, `{`, `[1]`, `"x"`, `{"a":"x"} trailing`} {
		if ok, err := p.Match([]byte(ev)); err == nil || ok {
			t.Errorf("Match(%q) = %v, %v; want an error", ev, ok, err)
		}
	}
}
