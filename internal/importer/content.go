package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
)

// ErrNotLog is wrapped by the error reported for a file that is none of
// the forms parseFile reads.
var ErrNotLog = errors.New("not a CloudTrail log")

// forms names the forms a log file may take, for errors.
const forms = `neither NDJSON (one record a line), a {"Records":[…]} document, a JSON array of records nor a single record`

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
//   - a JSON array of records.
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
		return false, event.ParseBody(data, 1<<30, opts, fn)
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
