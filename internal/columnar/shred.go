package columnar

import (
	"bytes"
	"encoding/base64"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// timeLayout is the only eventTime form Shred replaces with a placeholder.
const timeLayout = "2006-01-02T15:04:05Z"

// Row is one shredded record: its column values and its template.
type Row struct {
	leaf     []any  // by leaf index: string, bool, time.Time or nil (NULL)
	objs     []bool // by struct index: the member was a JSON object
	template string
}

// Shred splits raw into Columns' values and a template. It never fails:
// what it cannot shred stays in the template as it was. eventTime is the
// store's event time of the record; the eventTime column holds it.
func Shred(raw []byte, eventTime time.Time) *Row {
	r := &Row{leaf: make([]any, nLeaves), objs: make([]bool, nStructs)}
	eventTime = eventTime.UTC()
	r.leaf[eventTimeLeaf] = eventTime
	if !utf8.Valid(raw) || bytes.IndexByte(raw, 0) >= 0 || bytes.IndexByte(raw, marker) >= 0 {
		r.template = "\x01\x02" + base64.StdEncoding.EncodeToString(raw)
		return r
	}
	if fastjson.ValidateBytes(raw) != nil {
		r.template = string(raw)
		return r
	}
	s := shredder{raw: raw, str: string(raw), r: r, t: eventTime, seen: make([]bool, nLeaves+nStructs)}
	s.tpl = make([]byte, 0, len(raw)/2)
	if i := skipWS(raw, 0); raw[i] == '{' {
		s.object(i, topIndex)
	}
	s.tpl = append(s.tpl, raw[s.last:]...)
	r.template = string(s.tpl)
	return r
}

// Template is the row's template (the _template column).
func (r *Row) Template() string { return r.template }

// Values returns the row's values in Columns' order, as duckdb-go's
// Appender takes them: string for VARCHAR, bool for BOOLEAN, time.Time
// (UTC) for TIMESTAMP, map[string]any holding every member for STRUCT, and
// nil for NULL.
func (r *Row) Values() []any {
	out := make([]any, 0, len(Columns))
	for _, f := range schema {
		out = append(out, r.value(f))
	}
	return append(out, r.template)
}

func (r *Row) value(f *field) any {
	if f.kind != kStruct {
		return r.leaf[f.leaf]
	}
	if !r.objs[f.obj] {
		return nil
	}
	m := make(map[string]any, len(f.sub))
	for _, s := range f.sub {
		m[s.name] = r.value(s)
	}
	return m
}

type shredder struct {
	raw  []byte
	str  string // raw as a string: plain values are its substrings
	r    *Row
	t    time.Time
	tpl  []byte
	last int    // raw[:last] is in tpl
	seen []bool // leaves, then structs: a member of that name was met
}

// object shreds the object at raw[i] against the fields in idx and returns
// the index after it. raw is valid JSON.
func (s *shredder) object(i int, idx map[string]*field) int {
	raw := s.raw
	i++
	for {
		i = skipWS(raw, i)
		switch raw[i] {
		case '}':
			return i + 1
		case ',':
			i = skipWS(raw, i+1)
		}
		ks := i
		i = skipString(raw, i)
		f := lookup(idx, raw[ks:i])
		i = skipWS(raw, i) + 1 // ':'
		i = skipWS(raw, i)
		if f == nil {
			i = skipValue(raw, i)
			continue
		}
		if f.kind == kStruct {
			if s.seen[nLeaves+f.obj] || raw[i] != '{' {
				s.seen[nLeaves+f.obj] = true
				i = skipValue(raw, i)
				continue
			}
			s.seen[nLeaves+f.obj] = true
			s.r.objs[f.obj] = true
			i = s.object(i, f.idx)
			continue
		}
		vs := i
		i = skipValue(raw, i)
		if s.seen[f.leaf] {
			continue
		}
		s.seen[f.leaf] = true
		s.leaf(f, vs, i)
	}
}

// leaf records the value raw[vs:ve] of f and replaces it with a
// placeholder when Rebuild would write the same bytes.
func (s *shredder) leaf(f *field, vs, ve int) {
	v := s.raw[vs:ve]
	switch f.kind {
	case kTime:
		if len(v) == len(timeLayout)+2 && v[0] == '"' && string(v[1:len(v)-1]) == s.t.Format(timeLayout) {
			s.replace(f, vs, ve)
		}
	case kJSON:
		if v[0] != 'n' {
			s.r.leaf[f.leaf] = s.str[vs:ve]
			s.replace(f, vs, ve)
		}
	case kBool:
		switch v[0] {
		case 't':
			s.r.leaf[f.leaf] = true
			s.replace(f, vs, ve)
		case 'f':
			s.r.leaf[f.leaf] = false
			s.replace(f, vs, ve)
		case '"':
			// A boolean sent as a string stays literal; queries see
			// it as DuckDB's cast from text would.
			switch d, _ := decodeString(v); d {
			case "true", "TRUE", "True":
				s.r.leaf[f.leaf] = true
			case "false", "FALSE", "False":
				s.r.leaf[f.leaf] = false
			}
		}
	case kString:
		switch v[0] {
		case 'n':
		case '"':
			if bytes.IndexByte(v, '\\') < 0 {
				s.r.leaf[f.leaf] = s.str[vs+1 : ve-1]
				s.replace(f, vs, ve)
				return
			}
			d, canonical := decodeString(v)
			s.r.leaf[f.leaf] = d
			if canonical {
				s.replace(f, vs, ve)
			}
		default:
			s.r.leaf[f.leaf] = s.str[vs:ve]
		}
	}
}

func (s *shredder) replace(f *field, vs, ve int) {
	s.tpl = append(s.tpl, s.raw[s.last:vs]...)
	s.tpl = append(s.tpl, marker, byte(tagBase+f.leaf))
	s.last = ve
}

// lookup finds the field named by the JSON string key (quotes included).
func lookup(idx map[string]*field, key []byte) *field {
	name := key[1 : len(key)-1]
	if bytes.IndexByte(name, '\\') < 0 {
		return idx[string(name)]
	}
	d, _ := decodeString(key)
	return idx[d]
}

// decodeString decodes the JSON string v (quotes included, valid JSON) and
// reports whether appendString writes v's exact bytes for it. Lone UTF-16
// surrogates decode to U+FFFD. A decoded NUL is replaced by U+FFFD too
// (VARCHAR holds no NUL), and such a string is never canonical.
func decodeString(v []byte) (string, bool) {
	in := v[1 : len(v)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		return string(in), true
	}
	out := make([]byte, 0, len(in))
	nul := false
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch in[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(in[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 < len(in) && in[i+1] == '\\' && in[i+2] == 'u' {
					r2 = hex4(in[i+3 : i+7])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			if r == 0 {
				nul, r = true, utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default: // " \ /
			out = append(out, in[i])
		}
	}
	d := string(out)
	return d, !nul && bytes.Equal(appendString(make([]byte, 0, len(v)), d), v)
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// appendString appends s in the canonical JSON encoding: quoted, with only
// '"', '\\' and control characters escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string at b[i].
func skipString(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// skipValue returns the index after the JSON value at b[i] (valid JSON).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
