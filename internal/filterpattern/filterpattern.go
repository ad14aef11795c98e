// Package filterpattern is the CloudWatch Logs filter-pattern language of
// metric filters, subscription filters and FilterLogEvents: [Compile]
// parses a pattern (blank, terms, a standalone %regex%, a JSON pattern
// `{ ... }` or a space-delimited pattern `[ ... ]`) and refuses a bad one
// with AWS's exact message ([*Error]); [Pattern.Match] decides whether a
// log message matches; [Pattern.Test] gives TestMetricFilter's
// extractedValues; [Pattern.Emit] turns a message into the data point a
// metric filter publishes; a [Set] matches many patterns in one scan of
// a message, the fast path of a stream consumer.
//
// Where AWS's documentation and its recorded behaviour disagree, the
// recorded behaviour wins (docs/filterpatterns.md lists the differences).
// JSON patterns are matched by a scanner that reads the message once,
// without building a tree and without allocating.
//
// The package is pure: it imports nothing of opentrail's and does no I/O.
package filterpattern

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxPatternLength is the longest filter pattern AWS accepts, in characters.
const MaxPatternLength = 1024

// maxRegexes is how many %regex% terms one pattern may hold.
const maxRegexes = 2

// maxWildcardSelectors is how many JSON selectors with a wildcard one
// pattern may hold.
const maxWildcardSelectors = 3

// An Error is a pattern or metric transformation AWS refuses. Error()
// is AWS's message exactly; the service answers it as
// InvalidParameterException (Code says so).
type Error struct {
	// Code is the AWS error code: InvalidParameterException, or
	// ValidationException for a pattern over the length limit.
	Code string
	// Message is AWS's message.
	Message string
}

func (e *Error) Error() string { return e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{Code: "InvalidParameterException", Message: fmt.Sprintf(format, args...)}
}

// AWS's messages.
var (
	errInvalid    = invalid("Invalid metric filter pattern")
	errRegexLimit = invalid("Your input has exceeded the maximum of 2 regular expressions per filter pattern.")
	errRegexBad   = invalid("Failed to compile regular expression.")
	errWildcard   = invalid("Your filter pattern has a JSON path selector that exceeds the maximum of 1 wildcard allowed per json selector.")
	// Not recorded: the message for a fourth wildcard selector is ours,
	// worded like the per-selector one.
	errWildcards = invalid("Your filter pattern exceeds the maximum of 3 JSON path selectors with wildcards allowed per filter pattern.")
)

func errTerm(text string) *Error { return invalid("Invalid character(s) in term '%s'", text) }

type kind uint8

const (
	kindAll kind = iota
	kindTerms
	kindRegex
	kindJSON
	kindSpace
)

// A Pattern is a compiled filter pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	text string
	kind kind

	terms *termPattern
	regex *regexp.Regexp
	json  *jsonPattern
	space *spacePattern
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.text }

// IsJSON reports whether p is a JSON pattern (`{ ... }`), whose metric
// values and dimensions are `$.path` selectors.
func (p *Pattern) IsJSON() bool { return p.kind == kindJSON }

// IsSpaceDelimited reports whether p is a space-delimited pattern
// (`[ ... ]`), whose metric values and dimensions are `$field` or `$N`.
func (p *Pattern) IsSpaceDelimited() bool { return p.kind == kindSpace }

// Compile parses a filter pattern. An invalid pattern gives an [*Error]
// whose message is AWS's.
func Compile(pattern string) (*Pattern, error) {
	if n := utf8.RuneCountInString(pattern); n > MaxPatternLength {
		return nil, &Error{Code: "ValidationException", Message: fmt.Sprintf(
			"1 validation error detected: Value '%s' at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to %d",
			pattern, MaxPatternLength)}
	}
	p := &Pattern{text: pattern}
	t := strings.TrimSpace(pattern)
	var err error
	switch {
	case t == "":
		p.kind = kindAll
	case t[0] == '{':
		if t[len(t)-1] != '}' {
			return nil, invalid("If a filter pattern starts with '{' it must end with '}'")
		}
		p.kind = kindJSON
		p.json, err = compileJSON(t[1 : len(t)-1])
	case t[0] == '[':
		if t[len(t)-1] != ']' {
			return nil, invalid("If a filter pattern starts with '[' it must end with ']'")
		}
		p.kind = kindSpace
		p.space, err = compileSpace(t[1 : len(t)-1])
	case t[0] == '%':
		if len(t) < 2 || t[len(t)-1] != '%' {
			return nil, invalid("If a filter pattern starts with '%%' it must end with '%%'")
		}
		p.kind = kindRegex
		p.regex, err = compileStandaloneRegex(t)
	default:
		p.kind = kindTerms
		p.terms, err = compileTerms(t)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// MustCompile is Compile for patterns known to be valid; it panics on an
// error.
func MustCompile(pattern string) *Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(fmt.Sprintf("filterpattern: Compile(%q): %v", pattern, err))
	}
	return p
}

// Match reports whether the log message msg matches the pattern.
func (p *Pattern) Match(msg []byte) bool {
	switch p.kind {
	case kindAll:
		return true
	case kindTerms:
		return p.terms.match(msg)
	case kindRegex:
		return p.regex.Match(msg)
	case kindJSON:
		return p.json.match(msg)
	case kindSpace:
		_, ok := p.space.match(msg, false)
		return ok
	}
	return false
}

// Test matches msg as TestMetricFilter does: ok reports a match, and
// extracted holds the match's extractedValues — for a space-delimited
// pattern `$name` for a named field and `$N` (1-based) for an unnamed
// one; for every other kind an empty map.
func (p *Pattern) Test(msg []byte) (extracted map[string]string, ok bool) {
	if p.kind == kindSpace {
		return p.space.match(msg, true)
	}
	if !p.Match(msg) {
		return nil, false
	}
	return map[string]string{}, true
}

// isSpace reports ASCII white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func containsAll(msg []byte, lits [][]byte) bool {
	for _, l := range lits {
		if !bytes.Contains(msg, l) {
			return false
		}
	}
	return true
}
