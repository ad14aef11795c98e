package cis

import (
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Verdicts of Check.
const (
	Exact      = "exact"      // the filter's text is one of the control's texts, byte for byte
	Equivalent = "equivalent" // same required clauses, other spelling or extra clauses
	Missing    = "missing"    // the filter does not implement the control
)

// clauseRE finds the comparisons of a JSON filter pattern:
// $.a.b = value, $.a.b != "value", $.a.b NOT EXISTS, $.a.b IS NULL.
var clauseRE = regexp.MustCompile(`\$\.([A-Za-z0-9_.\-\[\]]+)\s*(!=|=|\s+NOT\s+EXISTS|\s+IS\s+NULL)\s*("(?:[^"\\]|\\.)*"|[^\s()&|}]*)`)

// Clauses returns the comparisons of a JSON filter pattern in a canonical
// spelling ("eventName=StopLogging", "errorCode!=AccessDenied*",
// "userIdentity.invokedBy NOT EXISTS"): quotes, spaces and order do not
// count, as auditors (prowler, cloudsploit) compare.
func Clauses(pattern string) []string {
	var out []string
	for _, m := range clauseRE.FindAllStringSubmatch(pattern, -1) {
		op := strings.Join(strings.Fields(m[2]), " ")
		var c string
		switch op {
		case "=", "!=":
			c = m[1] + op + strings.Trim(m[3], `"`)
		default:
			c = m[1] + " " + op
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// Check decides whether a metric filter with pattern implements the
// control: Exact when the text is one of the control's texts; Equivalent
// when it has every comparison of the control's pattern (in any order,
// quoting or spacing: the prowler-style check) and, when match is not
// nil, match reports it matching the control's positive fixture; else
// Missing. match is the caller's compiled-pattern test (filterpattern),
// so that a text with the right words but the wrong logic is not taken
// for the control.
func Check(c Control, pattern string, match func(pattern string, record []byte) bool) string {
	if c.Accepted(pattern) {
		return Exact
	}
	have := Clauses(pattern)
	if len(have) == 0 {
		return Missing
	}
	for _, want := range Clauses(c.Pattern) {
		if !slices.Contains(have, want) {
			return Missing
		}
	}
	if match != nil {
		pos, err := Fixture(c.Key, true)
		if err != nil || !match(pattern, pos) {
			return Missing
		}
	}
	return Equivalent
}
