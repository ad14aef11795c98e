package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
)

// ErrNotLog is wrapped by the error reported for a file that is none of
// the forms parseFile reads.
var ErrNotLog = errors.New("not a CloudTrail log")

// forms names the forms a log file may take, for errors.
const forms = `neither NDJSON (one record a line), a {"Records":[…]} document, a JSON array of records, a single record nor such documents and records one after another`

// utf8BOM is the UTF-8 byte order mark.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// digestMembers are top-level members of a CloudTrail digest file, which
// no record has.
var digestMembers = []string{"digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
	"digestSignatureAlgorithm", "digestPublicKeyFingerprint", "previousDigestSignature", "logFiles"}

// recordMembers are top-level members of a record or a log file, which no
// digest file has.
var recordMembers = []string{"eventTime", "eventName", "eventSource", "Records"}

// parseFile calls fn with each record of a log file, parsed by
// event.ParseLenient. It reads the file by its content, whatever its name:
//
//   - a {"Records":[...]} document, the form of CloudTrail's log files, in
//     one pass (event.ParseBody) when "Records" is its first member;
//   - NDJSON: a first line that is a whole JSON object, and more lines;
//   - a single JSON document over one line or many (pretty-printed): a
//     digest file (digest is true and fn is not called), a document with
//     a Records array, or one record;
//   - a JSON array of records;
//   - JSON objects one after another, on lines of their own or not, each a
//     Records document or a record (zcat of several log files, or jq's
//     output of several records, gives them).
//
// A UTF-8 byte order mark before any of them is skipped. Anything else is
// an error wrapping ErrNotLog, and fn is not called.
func parseFile(data []byte, opts event.LenientOptions, fn func(*event.Record, []event.Repair, error) error) (digest bool, err error) {
	// A UTF-8 byte order mark, which Windows tools write, is no part of
	// the JSON.
	data = bytes.TrimPrefix(data, utf8BOM)
	i := skipSpace(data, 0)
	if i == len(data) {
		return false, nil
	}
	switch data[i] {
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			return false, fmt.Errorf("%w: %s (invalid JSON array: %v)", ErrNotLog, forms, err)
		}
		return false, parseEach(elems, opts, fn)
	case '{':
	default:
		return false, notLog(data[i:])
	}
	if recordsFirst(data, i) {
		err := event.ParseBody(data, 1<<30, opts, fn)
		var be *event.BodyError
		if errors.As(err, &be) && be.Err == nil {
			// Not one Records document (fn was not called): perhaps
			// several, one after another.
			if vals, ok := jsonStream(data[i:]); ok {
				return parseStream(vals, opts, fn)
			}
		}
		return false, err
	}
	line := data[i:]
	if k := bytes.IndexByte(line, '\n'); k >= 0 {
		line = line[:k]
	}
	if skipSpace(data, i+len(line)) < len(data) && json.Valid(line) {
		return false, event.ParseBody(data, 1<<30, opts, fn)
	}
	doc := data[i:]
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		if vals, ok := jsonStream(doc); ok {
			return parseStream(vals, opts, fn)
		}
		return false, notLog(doc)
	}
	if hasAny(top, digestMembers) && !hasAny(top, recordMembers) {
		return true, nil
	}
	if recs, ok := top["Records"]; ok {
		var elems []json.RawMessage
		if err := json.Unmarshal(recs, &elems); err != nil {
			return false, fmt.Errorf(`%w: its "Records" member is not an array`, ErrNotLog)
		}
		return false, parseEach(elems, opts, fn)
	}
	return false, parseEach([]json.RawMessage{doc}, opts, fn)
}

// jsonStream splits data, JSON values one after another, into its
// values; ok is false unless there are at least two and all are objects.
func jsonStream(data []byte) (vals []json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return vals, len(vals) > 1
		}
		if err != nil || v[0] != '{' {
			return nil, false
		}
		vals = append(vals, v)
	}
}

// parseStream parses the objects of a stream (jsonStream): each Records
// document's records, and each other object as a record. A stream of
// digests only is a digest file.
func parseStream(vals []json.RawMessage, opts event.LenientOptions, fn func(*event.Record, []event.Repair, error) error) (digest bool, err error) {
	tops := make([]map[string]json.RawMessage, len(vals))
	digests := 0
	for k, v := range vals {
		if err := json.Unmarshal(v, &tops[k]); err != nil {
			return false, notLog(v)
		}
		if hasAny(tops[k], digestMembers) && !hasAny(tops[k], recordMembers) {
			digests++
		}
	}
	if digests == len(vals) {
		return true, nil
	}
	for k, v := range vals {
		elems := []json.RawMessage{v}
		if recs, ok := tops[k]["Records"]; ok {
			if err := json.Unmarshal(recs, &elems); err != nil {
				return false, fmt.Errorf(`%w: the "Records" member of its document %d is not an array`, ErrNotLog, k+1)
			}
		}
		if err := parseEach(elems, opts, fn); err != nil {
			return false, err
		}
	}
	return false, nil
}

// parseEach parses records that may hold insignificant whitespace (they
// count against event.MaxRecordSize only once it is removed).
func parseEach(elems []json.RawMessage, opts event.LenientOptions, fn func(*event.Record, []event.Repair, error) error) error {
	var buf bytes.Buffer
	for _, e := range elems {
		buf.Reset()
		raw := []byte(e)
		if json.Compact(&buf, e) == nil {
			raw = buf.Bytes()
		}
		if err := fn(event.ParseLenient(raw, opts)); err != nil {
			return err
		}
	}
	return nil
}

// notLog is ErrNotLog with the file's first bytes.
func notLog(b []byte) error {
	const show = 24
	head := b[:min(len(b), show)]
	for len(head) > 0 && !utf8.Valid(head) {
		head = head[:len(head)-1]
	}
	more := ""
	if len(head) < len(b) {
		more = "…"
	}
	return fmt.Errorf("%w: %s (it begins %s%s)", ErrNotLog, forms, strconv.Quote(string(head)), more)
}

// recordsFirst reports whether the object at data[i] starts with the
// member "Records".
func recordsFirst(data []byte, i int) bool {
	j := skipSpace(data, i+1)
	const key = `"Records"`
	if !bytes.HasPrefix(data[j:], []byte(key)) {
		return false
	}
	j = skipSpace(data, j+len(key))
	return j < len(data) && data[j] == ':'
}

func hasAny(m map[string]json.RawMessage, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}
