package event

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrTooLarge is wrapped by the error Parse returns for input longer than
// MaxRecordSize.
var ErrTooLarge = errors.New("larger than the 256 KB record limit")

// maxErrorValue is how many bytes of a member's JSON text a
// ValidationError keeps.
const maxErrorValue = 64

// ValidationError reports a record that is well-formed JSON but breaks a
// field rule. Its message reads like
//
//	eventTime: "2024-13-01" is not an RFC 3339 UTC time
type ValidationError struct {
	// Field is the path of the offending member, such as "eventTime",
	// "userIdentity.accountId" or "resources[2]"; "" means the record
	// as a whole.
	Field string
	// Value is the member's JSON text as sent (a string keeps its
	// quotes), cut to 64 bytes and marked with "…" when cut; "" when the
	// member is absent.
	Value string
	// Reason says what is wrong, e.g. "is required".
	Reason string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.Grow(len(e.Field) + len(e.Value) + len(e.Reason) + 3)
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Value != "" {
		b.WriteString(e.Value)
		b.WriteByte(' ')
	}
	b.WriteString(e.Reason)
	return b.String()
}

// SyntaxError reports input that is not JSON, or JSON that breaks the
// package's stricter rules (invalid UTF-8, lone surrogates, nesting deeper
// than 64 levels).
type SyntaxError struct {
	// Offset is the byte offset in the input where the fault was found.
	Offset int
	// Field is the path of the member being read, "" at the top level.
	Field string
	// Msg describes the fault.
	Msg string
}

func (e *SyntaxError) Error() string {
	s := "invalid JSON at byte " + strconv.Itoa(e.Offset)
	if e.Field != "" {
		s += " (in " + e.Field + ")"
	}
	return s + ": " + e.Msg
}

// errorValue returns the JSON text v cut for a ValidationError. Tabs and
// line breaks can only be insignificant whitespace in JSON text, so they
// are dropped to keep the message on one line.
func errorValue(v []byte) string {
	if bytes.ContainsAny(v, "\t\r\n") {
		v = bytes.Map(func(r rune) rune {
			if r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, v)
	}
	if len(v) <= maxErrorValue {
		return string(v)
	}
	cut := maxErrorValue
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return string(v[:cut]) + "…"
}
