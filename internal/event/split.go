package event

import (
	"bytes"
	"strconv"
)

// DefaultMaxRecords is the records-per-body limit SplitBody applies when
// its limit argument is not positive.
const DefaultMaxRecords = 10000

// BodyError is the error SplitBody returns: either the body could not be
// split (Err is nil), or fn failed on one record (Err is fn's error).
type BodyError struct {
	// Where names the record, "line 7" (NDJSON, 1-based) or "Records[3]"
	// (0-based), and is "" for a fault of the body as a whole.
	Where string
	// Msg describes the fault when Err is nil.
	Msg string
	// Err is what fn returned.
	Err error
}

func (e *BodyError) Error() string {
	msg := e.Msg
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Where == "" {
		return "body: " + msg
	}
	return e.Where + ": " + msg
}

func (e *BodyError) Unwrap() error { return e.Err }

// span is one record's place in a body.
type span struct {
	start, end int
	line       int // 1-based NDJSON line, 0 in a Records document
}

// SplitBody calls fn with the bytes of each record in body, in order. body
// is either NDJSON (one record per line; blank lines are skipped) or a
// single {"Records":[...]} document, the form CloudTrail log files take;
// a body whose first member is "Records" is read as the latter. SplitBody
// only finds where records begin and end; fn is expected to Parse them.
//
// SplitBody finds every boundary before it calls fn, so a body it cannot
// split, or one holding more than maxRecords records (DefaultMaxRecords
// when maxRecords <= 0), gets a *BodyError and no call of fn. It stops at
// the first error fn returns, wrapped in a *BodyError naming the record.
// The slice passed to fn aliases body and is valid only during the call.
func SplitBody(body []byte, maxRecords int, fn func(raw []byte) error) error {
	if maxRecords <= 0 {
		maxRecords = DefaultMaxRecords
	}
	var (
		spans []span
		err   error
	)
	i := skipWS(body, 0)
	switch {
	case i == len(body):
		return nil
	case body[i] == '[':
		return &BodyError{Msg: `is a JSON array; send NDJSON or a {"Records":[...]} document`}
	case isRecordsDoc(body, i):
		spans, err = splitRecords(body, i, maxRecords)
	default:
		spans, err = splitLines(body, maxRecords)
	}
	if err != nil {
		return err
	}
	for i, s := range spans {
		if err := fn(body[s.start:s.end]); err != nil {
			return &BodyError{Where: where(s, i), Err: err}
		}
	}
	return nil
}

// where names the i'th record s of a body for an error.
func where(s span, i int) string {
	if s.line > 0 {
		return "line " + strconv.Itoa(s.line)
	}
	return element(i)
}

// element names the i'th element of a Records array.
func element(i int) string { return "Records[" + strconv.Itoa(i) + "]" }

func tooMany(maxRecords int) error {
	return &BodyError{Msg: "holds more than " + strconv.Itoa(maxRecords) + " records"}
}

// splitLines finds the non-blank lines of an NDJSON body.
func splitLines(body []byte, maxRecords int) ([]span, error) {
	var spans []span
	line := 0
	for start := 0; start < len(body); {
		line++
		end := bytes.IndexByte(body[start:], '\n')
		if end < 0 {
			end = len(body)
		} else {
			end += start
		}
		s, e := start, end
		for s < e && space[body[s]] {
			s++
		}
		for e > s && space[body[e-1]] {
			e--
		}
		if s < e {
			if len(spans) == maxRecords {
				return nil, tooMany(maxRecords)
			}
			spans = append(spans, span{start: s, end: e, line: line})
		}
		start = end + 1
	}
	return spans, nil
}

// isRecordsDoc reports whether the object at body[i] starts with the key
// "Records".
func isRecordsDoc(body []byte, i int) bool {
	if body[i] != '{' {
		return false
	}
	j := skipWS(body, i+1)
	const key = `"Records"`
	if !bytes.HasPrefix(body[j:], []byte(key)) {
		return false
	}
	j = skipWS(body, j+len(key))
	return j < len(body) && body[j] == ':'
}

// splitRecords finds the elements of the Records array in the document
// starting at body[i].
func splitRecords(body []byte, i, maxRecords int) ([]span, error) {
	i = skipWS(body, i+1) // '{'
	i = skipWS(body, i+len(`"Records"`))
	i = skipWS(body, i+1) // ':'
	if i >= len(body) || body[i] != '[' {
		return nil, &BodyError{Where: "Records", Msg: "is not an array"}
	}
	i++
	var spans []span
	for {
		i = skipWS(body, i)
		n := len(spans)
		if i >= len(body) {
			return nil, &BodyError{Where: "Records", Msg: "array is not terminated"}
		}
		if body[i] == ']' {
			i++
			break
		}
		if n > 0 {
			if body[i] != ',' {
				return nil, &BodyError{Where: element(n - 1), Msg: "is followed by " + quoteByte(body[i]) + ", want ',' or ']'"}
			}
			i = skipWS(body, i+1)
		}
		if i >= len(body) || body[i] != '{' {
			return nil, &BodyError{Where: element(n), Msg: "is not a JSON object"}
		}
		end, ok := skipObject(body, i)
		if !ok {
			return nil, &BodyError{Where: element(n), Msg: "is not terminated"}
		}
		if n == maxRecords {
			return nil, tooMany(maxRecords)
		}
		spans = append(spans, span{start: i, end: end})
		i = end
	}
	i = skipWS(body, i)
	if i >= len(body) || body[i] != '}' {
		return nil, &BodyError{Msg: `has members after "Records" or is not terminated`}
	}
	if i = skipWS(body, i+1); i < len(body) {
		return nil, &BodyError{Msg: "has data after the Records document"}
	}
	return spans, nil
}

// skipObject returns the offset just past the object starting at body[i],
// matching brackets and skipping strings but checking nothing else.
func skipObject(body []byte, i int) (int, bool) {
	depth := 0
	for ; i < len(body); i++ {
		switch body[i] {
		case '"':
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
			}
			if i >= len(body) {
				return 0, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

func skipWS(b []byte, i int) int {
	for i < len(b) && space[b[i]] {
		i++
	}
	return i
}
