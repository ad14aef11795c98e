package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RepairsMember is the top-level member ParseLenient adds to a record it
// changed: an array of {"field","was","now"} objects, "was" and "now" being
// the member's JSON text before and after ("" when absent), so that no
// original value is lost.
const RepairsMember = "opentrailRepairs"

// UnknownVersion is the eventVersion ParseLenient gives a record without a
// usable one.
const UnknownVersion = "0.0"

// LenientOptions supply the values ParseLenient uses when a record lacks a
// required member or holds one it cannot read. The zero value is usable.
type LenientOptions struct {
	// Time replaces an absent or unreadable eventTime when the record has
	// no readable @timestamp either (an importer passes the day of the log
	// file's date folder); zero means there is no such time, and the record
	// is rejected (ErrNoEventTime) rather than given an invented one.
	Time time.Time
	// Account is the recipientAccountId of a record with no valid account
	// ID (an importer passes the one in the log file's key); "" means
	// "000000000000".
	Account string
	// Region replaces an absent or invalid awsRegion; "" means "unknown".
	Region string
}

// Repair is one change ParseLenient made to a record.
type Repair struct {
	Field string // the member's path, as in ValidationError
	Was   string // its JSON text before; "" when absent
	Now   string // its JSON text after; "" when removed
}

// maxRepairs bounds the fix-and-reparse loop of ParseLenient.
const maxRepairs = 32

// ErrNotRecord is the error ParseLenient returns for a JSON object that is
// not a CloudTrail record at all: it has none of the members eventTime,
// @timestamp, eventName and eventSource.
var ErrNotRecord = errors.New("not a CloudTrail record: it has none of eventTime, @timestamp, eventName and eventSource")

// ErrNoEventTime is wrapped by the error ParseLenient returns for a record
// whose time cannot be found: no readable eventTime, no readable
// @timestamp, and no LenientOptions.Time.
var ErrNoEventTime = errors.New("no time for the record: neither eventTime nor @timestamp is a readable time, and its file's key has no date folder")

// TimestampMember is the member that records exported through Logstash or
// Elasticsearch carry their time in; ParseLenient takes eventTime from it.
const TimestampMember = "@timestamp"

// identifying are the members of which a record must have at least one.
var identifying = []string{"eventTime", TimestampMember, "eventName", "eventSource"}

// ParseLenient is Parse for records that come from elsewhere (imports of
// old or hand-made logs): where Parse reports a *ValidationError,
// ParseLenient repairs the record so that Parse accepts it, and returns
// the repaired record with what it changed. The repaired Raw also passes
// Parse, so it may be sent to a server that validates strictly, and it
// carries the changes in its RepairsMember. A record Parse accepts is
// returned unchanged with no repairs.
//
// Repairs, by member:
//
//	eventTime           "YYYY-MM-DD HH:MM:SS[.frac]" and times without a
//	                    zone are read as UTC and rewritten in RFC 3339;
//	                    anything else unreadable, or absent, is taken from
//	                    @timestamp (read the same way), else is opts.Time;
//	                    with neither, the record is rejected (ErrNoEventTime)
//	eventID             absent or invalid: a UUID-shaped ID derived from a
//	                    SHA-256 of the record, so re-importing it yields the
//	                    same ID
//	eventVersion        absent or invalid: UnknownVersion
//	eventSource,
//	eventName           absent or empty: "unknown"
//	awsRegion           upper case is lowered; otherwise opts.Region
//	recipientAccountId,
//	userIdentity.accountId  not 12 digits: removed; when the record then
//	                    has no account, recipientAccountId = opts.Account
//	any other member    of the wrong type, or a repeated key: removed
//
// Syntax errors and records over MaxRecordSize are not repaired: the
// error is Parse's. A JSON object with none of eventTime, @timestamp,
// eventName and eventSource is not repaired into a record either: the
// error is ErrNotRecord. ParseLenient is safe for concurrent use.
func ParseLenient(raw []byte, opts LenientOptions) (*Record, []Repair, error) {
	rec, err := Parse(raw)
	var verr *ValidationError
	if err == nil || !errors.As(err, &verr) {
		return rec, nil, err
	}
	var cur bytes.Buffer
	if err := json.Compact(&cur, raw); err != nil {
		return nil, nil, err
	}
	orig := append([]byte(nil), cur.Bytes()...)
	b := cur.Bytes()
	if len(b) > 0 && b[0] == '{' && !hasAnyMember(b, identifying) {
		return nil, nil, ErrNotRecord
	}
	var repairs []Repair
	for range maxRepairs {
		nb, r, ok := repair(b, orig, verr, opts)
		if !ok {
			if verr.Field == "eventTime" {
				err = noTime(b, verr.Value)
			}
			return nil, repairs, err
		}
		b = nb
		repairs = append(repairs, r)
		if rec, err = Parse(b); err == nil {
			break
		}
		if !errors.As(err, &verr) {
			return nil, repairs, err
		}
	}
	if err != nil {
		return nil, repairs, err
	}
	b = insertMember(b, nil, RepairsMember, repairsJSON(repairs))
	rec, err = Parse(b)
	return rec, repairs, err
}

func repairsJSON(rs []Repair) []byte {
	type item struct {
		Field string `json:"field"`
		Was   string `json:"was"`
		Now   string `json:"now"`
	}
	items := make([]item, len(rs))
	for i, r := range rs {
		items[i] = item(r)
	}
	out, _ := json.Marshal(items)
	return out
}

// repair fixes the fault verr describes in the compact record b; orig is
// the record as received (compacted), from which IDs are derived.
func repair(b, orig []byte, verr *ValidationError, opts LenientOptions) ([]byte, Repair, bool) {
	path, ok := splitPath(verr.Field)
	if !ok || len(path) == 0 {
		return nil, Repair{}, false
	}
	required := strings.HasPrefix(verr.Reason, "is required")
	set := func(v string) ([]byte, Repair, bool) {
		now, _ := json.Marshal(v)
		if required {
			return insertMember(b, path[:len(path)-1], path[len(path)-1].key, now), Repair{Field: verr.Field, Now: string(now)}, true
		}
		m, found := findMember(b, path, false)
		if !found {
			return nil, Repair{}, false
		}
		was := string(b[m.valStart:m.valEnd])
		return replaceSpan(b, m.valStart, m.valEnd, now), Repair{Field: verr.Field, Was: was, Now: string(now)}, true
	}
	value := func() string {
		var s string
		if m, found := findMember(b, path, false); found {
			json.Unmarshal(b[m.valStart:m.valEnd], &s)
		}
		return s
	}
	switch verr.Field {
	case "eventTime":
		if t, ok := looseTime(value()); ok && !required {
			return set(t)
		}
		var ts string
		if m, found := keyIn(b, 0, TimestampMember, false); found {
			json.Unmarshal(b[m.valStart:m.valEnd], &ts)
		}
		if t, ok := looseTime(ts); ok {
			return set(t)
		}
		if opts.Time.IsZero() {
			return nil, Repair{}, false
		}
		return set(opts.Time.UTC().Format("2006-01-02T15:04:05Z"))
	case "eventID":
		return set(derivedID(orig))
	case "eventVersion":
		return set(UnknownVersion)
	case "eventSource", "eventName":
		return set("unknown")
	case "awsRegion":
		if r := strings.ToLower(value()); !required && isRegion([]byte(r)) {
			return set(r)
		}
		r := opts.Region
		if r == "" {
			r = "unknown"
		}
		return set(r)
	case "recipientAccountId":
		if required {
			a := opts.Account
			if !isAccountID([]byte(a)) {
				a = "000000000000"
			}
			return set(a)
		}
	}
	if required {
		return nil, Repair{}, false
	}
	// Any other fault: drop the member (the last one of a repeated key).
	m, found := findMember(b, path, verr.Reason == "is a duplicate key")
	if !found {
		return nil, Repair{}, false
	}
	return removeMember(b, m), Repair{Field: verr.Field, Was: string(b[m.valStart:m.valEnd])}, true
}

// noTime is the error for the compact record b whose eventTime (JSON
// text value, "" when absent) cannot be read or replaced; it names the
// record's eventID when it has one.
func noTime(b []byte, value string) error {
	what := "eventTime: "
	if value != "" {
		what += value + ": "
	}
	if m, ok := keyIn(b, 0, "eventID", false); ok {
		return fmt.Errorf("%s%w (eventID %s)", what, ErrNoEventTime, errorValue(b[m.valStart:m.valEnd]))
	}
	return fmt.Errorf("%s%w", what, ErrNoEventTime)
}

// hasAnyMember reports whether the compact object b has a top-level member
// named by one of keys.
func hasAnyMember(b []byte, keys []string) bool {
	for _, k := range keys {
		if _, ok := keyIn(b, 0, k, false); ok {
			return true
		}
	}
	return false
}

// looseTime reads "YYYY-MM-DD[ T]HH:MM:SS[.frac][Z|±HH:MM]" (no zone
// meaning UTC) and returns it in RFC 3339.
func looseTime(s string) (string, bool) {
	if len(s) < 19 {
		return "", false
	}
	c := []byte(s)
	if c[10] == ' ' {
		c[10] = 'T'
	}
	if t, ok := parseTime(c); ok {
		return t.Format(time.RFC3339Nano), true
	}
	if t, ok := parseTime(append(c, 'Z')); ok {
		return t.Format(time.RFC3339Nano), true
	}
	return "", false
}

// derivedID returns a UUID-shaped ID from a SHA-256 of rec.
func derivedID(rec []byte) string {
	h := sha256.Sum256(rec)
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// pathStep is one element of a member path: an object key or an array
// index.
type pathStep struct {
	key   string
	idx   int
	isIdx bool
}

// splitPath parses "a.b[2].c".
func splitPath(p string) ([]pathStep, bool) {
	var out []pathStep
	for p != "" {
		switch {
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, false
			}
			n, err := strconv.Atoi(p[1:end])
			if err != nil {
				return nil, false
			}
			out = append(out, pathStep{idx: n, isIdx: true})
			p = p[end+1:]
		case p[0] == '.':
			p = p[1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			out = append(out, pathStep{key: p[:end]})
			p = p[end:]
		}
	}
	return out, true
}

// memberSpan locates a member (or array element) in compact JSON: start is
// where its key (or element) begins, valStart and valEnd bound its value.
type memberSpan struct {
	start, valStart, valEnd int
}

// findMember walks path from the top-level object of the compact JSON b.
// With last, the final key's last occurrence is found, else its first.
func findMember(b []byte, path []pathStep, last bool) (memberSpan, bool) {
	var m memberSpan
	start := 0
	for i, st := range path {
		final := i == len(path)-1
		var ok bool
		if st.isIdx {
			m, ok = elemAt(b, start, st.idx)
		} else {
			m, ok = keyIn(b, start, st.key, last && final)
		}
		if !ok {
			return m, false
		}
		start = m.valStart
	}
	return m, true
}

// keyIn finds key in the object starting at b[i].
func keyIn(b []byte, i int, key string, last bool) (memberSpan, bool) {
	var found memberSpan
	ok := false
	if i >= len(b) || b[i] != '{' {
		return found, false
	}
	i++
	for i < len(b) && b[i] != '}' {
		if b[i] == ',' {
			i++
		}
		start := i
		kEnd := skipValue(b, i)
		k := b[i:kEnd]
		vStart := kEnd + 1 // ':'
		vEnd := skipValue(b, vStart)
		if vEnd < 0 || kEnd < 0 {
			return found, false
		}
		var name string
		if json.Unmarshal(k, &name) == nil && name == key {
			found, ok = memberSpan{start: start, valStart: vStart, valEnd: vEnd}, true
			if !last {
				return found, true
			}
		}
		i = vEnd
	}
	return found, ok
}

// elemAt finds element n of the array starting at b[i].
func elemAt(b []byte, i, n int) (memberSpan, bool) {
	if i >= len(b) || b[i] != '[' {
		return memberSpan{}, false
	}
	i++
	for k := 0; i < len(b) && b[i] != ']'; k++ {
		if b[i] == ',' {
			i++
		}
		end := skipValue(b, i)
		if end < 0 {
			return memberSpan{}, false
		}
		if k == n {
			return memberSpan{start: i, valStart: i, valEnd: end}, true
		}
		i = end
	}
	return memberSpan{}, false
}

// skipValue returns the offset just past the compact JSON value at b[i],
// or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for i++; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return -1
	case '{', '[':
		end, ok := skipObject(b, i)
		if !ok {
			return -1
		}
		return end
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
		i++
	}
	return i
}

// removeMember cuts m and one adjoining comma out of b.
func removeMember(b []byte, m memberSpan) []byte {
	start, end := m.start, m.valEnd
	switch {
	case start > 0 && b[start-1] == ',':
		start--
	case end < len(b) && b[end] == ',':
		end++
	}
	return replaceSpan(b, start, end, nil)
}

// insertMember adds "key":val as the first member of the object at path
// (the top level when path is empty).
func insertMember(b []byte, path []pathStep, key string, val []byte) []byte {
	at := 0
	if len(path) > 0 {
		m, ok := findMember(b, path, false)
		if !ok {
			return b
		}
		at = m.valStart
	}
	if at >= len(b) || b[at] != '{' {
		return b
	}
	k, _ := json.Marshal(key)
	ins := append(append(k, ':'), val...)
	if b[at+1] != '}' {
		ins = append(ins, ',')
	}
	return replaceSpan(b, at+1, at+1, ins)
}

func replaceSpan(b []byte, start, end int, with []byte) []byte {
	out := make([]byte, 0, len(b)-(end-start)+len(with))
	out = append(out, b[:start]...)
	out = append(out, with...)
	return append(out, b[end:]...)
}
