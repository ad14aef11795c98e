package filterpattern

import (
	"errors"
	"strings"
	"testing"
)

// TestJSONBehaviour covers what the recorded cases do not: escapes,
// duplicate keys, messages that are not one JSON object, number text,
// precedence, nesting.
func TestJSONBehaviour(t *testing.T) {
	for _, c := range []struct {
		pattern, msg string
		want         bool
	}{
		// Strings and names compare on decoded text.
		{`{ $.eventName = ConsoleLogin }`, `{"eventName":"Console\u004cogin"}`, true},
		{`{ $.eventName = ConsoleLogin }`, `{"event\u004eame":"ConsoleLogin"}`, true},
		{`{ $.a = "a\"b" }`, `{"a":"a\"b"}`, true},
		{`{ $.a = "café" }`, `{"a":"caf\u00e9"}`, true},
		{`{ $.a = "😀" }`, `{"a":"\ud83d\ude00"}`, true},
		{`{ $.a = "x\\y" }`, `{"a":"x\\y"}`, true},
		{`{ $.a = %^a.b$% }`, `{"a":"a\nb"}`, false}, // . does not match a newline
		{`{ $.a = %^a\sb$% }`, `{"a":"a\u000bb"}`, true},
		// The last of duplicate names wins.
		{`{ $.a = 2 }`, `{"a":1,"a":2}`, true},
		{`{ $.a = 1 }`, `{"a":1,"a":2}`, false},
		{`{ $.a.b NOT EXISTS }`, `{"a":{"b":1},"a":2}`, true},
		{`{ $.a.b = 1 }`, `{"a":2,"a":{"b":1}}`, true},
		// Not one JSON object: nothing matches, not even NOT EXISTS.
		{`{ $.x NOT EXISTS }`, `[1,2]`, false},
		{`{ $.x NOT EXISTS }`, `"x"`, false},
		{`{ $.x NOT EXISTS }`, `{"a":1} x`, false},
		{`{ $.x NOT EXISTS }`, `{"a":01}`, false},
		{`{ $.x NOT EXISTS }`, "{\"a\":\"\x01\"}", false},
		{`{ $.x NOT EXISTS }`, `{"a":"\q"}`, false},
		{`{ $.x NOT EXISTS }`, `{"a":1,}`, false},
		{`{ $.x NOT EXISTS }`, `{"a" 1}`, false},
		{`{ $.x NOT EXISTS }`, ` {"a":1} `, true},
		{`{ $.x NOT EXISTS }`, strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001), false},
		// A number's text is Java's: integers as written, others as a double.
		{`{ $.a = "1000.0" }`, `{"a":1e3}`, true},
		{`{ $.a = "1.0E10" }`, `{"a":1e10}`, true},
		{`{ $.a = "0.001" }`, `{"a":1e-3}`, true},
		{`{ $.a = "1.0E-4" }`, `{"a":0.0001}`, true},
		{`{ $.a = "12" }`, `{"a":12}`, true},
		{`{ $.a = 0.1 }`, `{"a":0.1}`, true},
		{`{ $.a = 0.1 }`, `{"a":0.10000000000000001}`, true}, // the same double
		{`{ $.a > 9007199254740992 }`, `{"a":9007199254740993}`, true},
		{`{ $.a < 0 }`, `{"a":-1e-999}`, false}, // reads as -0.0
		{`{ $.a < 1e-999 }`, `{"a":0}`, true},
		{`{ $.a >= 123456789012345678901234567890 }`, `{"a":123456789012345678901234567890}`, true},
		{`{ $.a > 123456789012345678901234567889 }`, `{"a":123456789012345678901234567890}`, true},
		{`{ $.a = 1e400 }`, `{"a":1e308}`, false},
		{`{ $.a < 1e400 }`, `{"a":1e308}`, true},
		// && binds tighter than ||.
		{`{ $.a = 1 || $.b = 2 && $.c = 3 }`, `{"a":1}`, true},
		{`{ $.a = 1 || $.b = 2 && $.c = 3 }`, `{"b":2}`, false},
		{`{ ($.a = 1 || $.b = 2) && $.c = 3 }`, `{"a":1}`, false},
		// Globs.
		{`{ $.a = "*Unauthorized*" }`, `{"a":"Client.UnauthorizedOperation"}`, true},
		{`{ $.a = 10.0.* }`, `{"a":"10.0.3.4"}`, true},
		{`{ $.a = a*b*c }`, `{"a":"abc"}`, true},
		{`{ $.a = a*b*c }`, `{"a":"acb"}`, false},
		// Wildcards.
		{`{ $.a.* = 2 }`, `{"a":{"x":1,"y":2}}`, true},
		{`{ $.r[*].ARN = "arn:*:key/1" }`, `{"r":[{"ARN":"arn:aws:kms:key/1"}]}`, true},
		{`{ $.a[0].b = 2 }`, `{"a":[{"b":2}]}`, true},
	} {
		p, err := Compile(c.pattern)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.pattern, err)
			continue
		}
		if got := p.Match([]byte(c.msg)); got != c.want {
			t.Errorf("%s on %s: got %v, want %v", c.pattern, c.msg, got, c.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	long := strings.Repeat("a", MaxPatternLength+1)
	for _, c := range []struct{ pattern, code, msg string }{
		{long, "ValidationException", "1 validation error detected: Value '" + long + "' at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024"},
		{`{ $.a[*] = 1 && $.b[*] = 1 && $.c[*] = 1 && $.d[*] = 1 }`, "InvalidParameterException", errWildcards.Message},
		{`[a=%1%, b=%2%, c=%3%]`, "InvalidParameterException", errRegexLimit.Message},
		{`{ $.a = null }`, "InvalidParameterException", "Invalid metric filter pattern"},
		{`{ $.a EXISTS }`, "InvalidParameterException", "Invalid metric filter pattern"},
		{`{ $.a = 1`, "InvalidParameterException", "If a filter pattern starts with '{' it must end with '}'"},
		{`{}`, "InvalidParameterException", "Invalid metric filter pattern"},
		{`{ $.a > "0" }`, "InvalidParameterException", "Invalid metric filter pattern"},
		{`{ $.a > abc }`, "InvalidParameterException", "Invalid metric filter pattern"},
		{`[1a]`, "InvalidParameterException", "Invalid metric filter pattern"},
		{`[a==1]`, "InvalidParameterException", "Invalid metric filter pattern"},
		{`""`, "InvalidParameterException", `Invalid character(s) in term '""'`},
		{`"ERROR"WARN`, "InvalidParameterException", "Invalid metric filter pattern"},
		{`ERROR %WARN%`, "InvalidParameterException", "Invalid character(s) in term '%'"},
		{`%[z-a]%`, "InvalidParameterException", "Failed to compile regular expression."},
		{`%a++%`, "InvalidParameterException", "Failed to compile regular expression."},
		{`%(ab)+%`, "InvalidParameterException", "Invalid character(s) in term '%('"},
	} {
		_, err := Compile(c.pattern)
		var fe *Error
		if !errors.As(err, &fe) || fe.Code != c.code || fe.Message != c.msg {
			t.Errorf("Compile(%.40q) = %v, want %s %q", c.pattern, err, c.code, c.msg)
		}
	}
	if _, err := Compile(strings.Repeat("é", MaxPatternLength)); err != nil {
		t.Errorf("1024 characters (2048 bytes) are allowed: %v", err)
	}
}

func TestSpaceDelimited(t *testing.T) {
	for _, c := range []struct {
		pattern, msg string
		want         map[string]string // nil: no match
	}{
		{`[ip, user, ..., status=404 || status=410, bytes]`, `1.2.3.4 bob GET /x 410 9`, map[string]string{"$ip": "1.2.3.4", "$user": "bob", "$3": "GET", "$4": "/x", "$status": "410", "$bytes": "9"}},
		{`[ip, user, ..., status=404 || status=410, bytes]`, `1.2.3.4 bob GET /x 200 9`, nil},
		{`[a, b>=400 && b<500]`, `x 404`, map[string]string{"$a": "x", "$b": "404"}},
		{`[a, b>=400 && b<500]`, `x 500`, nil},
		{`[a, b>=400 && b<500]`, `x abc`, nil},
		{`[a, b!=ok]`, `x fail`, map[string]string{"$a": "x", "$b": "fail"}},
		{`[a, b=*err*]`, `x [an error here]`, map[string]string{"$a": "x", "$b": "an error here"}},
		{`[a, ...]`, `x`, map[string]string{"$a": "x"}},
		{`[..., a, b]`, `x`, nil},
	} {
		p := MustCompile(c.pattern)
		got, ok := p.Test([]byte(c.msg))
		if ok != (c.want != nil) || ok && !equalMaps(got, c.want) {
			t.Errorf("%s on %q: got %v %v, want %v", c.pattern, c.msg, got, ok, c.want)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestJavaDouble(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 1000: "1000.0", 1e7: "1.0E7", 1.5e-3: "0.0015", 1e-4: "1.0E-4", -2.5: "-2.5", 123456.789: "123456.789", 1.2345e20: "1.2345E20"} {
		if got := javaDouble(f); got != want {
			t.Errorf("javaDouble(%v) = %q, want %q", f, got, want)
		}
	}
}
