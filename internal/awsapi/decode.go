package awsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// MaxJSONDepth bounds the nesting of arrays and objects in a request body.
// No operation needs more than a handful of levels; the bound keeps a
// hostile body from costing the decoder time or stack.
const MaxJSONDepth = 64

// CheckDepth reports an error if body nests arrays and objects deeper than
// max. It looks only at structure (brackets outside strings), in one pass,
// and does not otherwise validate the JSON.
func CheckDepth(body []byte, max int) error {
	depth := 0
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return fmt.Errorf("JSON nesting deeper than %d levels", max)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// DecodeObject decodes body, which must hold one JSON object, into v (a
// pointer to a struct). An empty body counts as {}. Members v does not know
// are ignored, as AWS does; members of the wrong JSON type are rejected.
// Every failure is a SerializationException naming the problem.
func DecodeObject(body []byte, v any) error {
	trimmed := TrimJSONSpace(body)
	if len(trimmed) == 0 {
		return nil
	}
	if trimmed[0] != '{' {
		return NewError(CodeSerialization, "The request body must be a JSON object.")
	}
	if err := CheckDepth(trimmed, MaxJSONDepth); err != nil {
		return NewError(CodeSerialization, "The request body is not valid: "+err.Error()+".")
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		return NewError(CodeSerialization, decodeMessage(err))
	}
	return nil
}

func decodeMessage(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var ts *timestampError
	switch {
	case errors.As(err, &ts):
		return ts.Error()
	case errors.As(err, &syn):
		return fmt.Sprintf("The request body is not valid JSON: %s (at byte %d).", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the request body"
		}
		return fmt.Sprintf("Cannot deserialize %s: expected %s, found a JSON %s.", field, kindName(typ.Type), typ.Value)
	}
	return "The request body could not be deserialized: " + err.Error()
}

func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// TrimJSONSpace returns b without the leading and trailing whitespace JSON
// allows (space, tab, CR, LF); other Unicode spaces are left in place.
func TrimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

// Time is an AWS JSON timestamp: epoch seconds as a JSON number, integer or
// fractional, on input and output. The zero Time encodes as null.
type Time struct{ time.Time }

type timestampError struct{ raw string }

func (e *timestampError) Error() string {
	return fmt.Sprintf("Cannot deserialize timestamp %s: expected epoch seconds as a JSON number.", e.raw)
}

// UnmarshalJSON accepts a JSON number of seconds since the epoch (fractions
// kept to the nanosecond that float64 allows) or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	if len(b) == 0 || b[0] == '"' || b[0] == '{' || b[0] == '[' || b[0] == 't' || b[0] == 'f' {
		return &timestampError{raw: truncate(string(b), 40)}
	}
	tm, err := ParseEpoch(string(b))
	if err != nil {
		return &timestampError{raw: truncate(string(b), 40)}
	}
	t.Time = tm
	return nil
}

// MarshalJSON writes epoch seconds as a JSON number, with up to millisecond
// fraction and no trailing zeros.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(FormatEpoch(t.Time)), nil
}

// ParseEpoch parses a decimal number of seconds since the epoch. Integers
// are exact; fractions are exact to the microsecond for current dates.
func ParseEpoch(s string) (time.Time, error) {
	if sec, err := strconv.ParseInt(s, 10, 64); err == nil {
		if sec < -62135596800 || sec > 253402300799 { // years 1..9999
			return time.Time{}, fmt.Errorf("parse epoch %q: out of range", s)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < -62135596800 || f > 253402300799 {
		return time.Time{}, fmt.Errorf("parse epoch %q: not a number of seconds", s)
	}
	sec, frac := math.Modf(f)
	nsec := math.Round(frac*1e6) * 1e3 // float64 carries ~microseconds at today's epoch
	return time.Unix(int64(sec), int64(nsec)).UTC(), nil
}

// FormatEpoch formats t as epoch seconds with up to three decimals.
func FormatEpoch(t time.Time) string {
	ms := t.UnixMilli()
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	sec, rem := ms/1000, ms%1000
	if rem == 0 {
		return sign + strconv.FormatInt(sec, 10)
	}
	return sign + strings.TrimRight(fmt.Sprintf("%d.%03d", sec, rem), "0")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
