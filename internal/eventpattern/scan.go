package eventpattern

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
)

// The event reader: one strict pass over the JSON text (RFC 8259: no NaN,
// no leading zeros, no bad escapes, no raw control characters, valid
// UTF-8), which builds nothing for the parts of the event no pattern names
// and collects the leaves of the paths that are named.

// maxDepth bounds the nesting of an event or a pattern.
const maxDepth = 1000

// plain marks the bytes a string may hold as they are (not '"', '\\',
// control characters or non-ASCII).
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return e.msg + " at offset " + strconv.Itoa(e.off)
}

type reader struct {
	b     []byte
	i     int
	sc    *scratch
	reg   *registry
	depth int
	err   *syntaxError
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = &syntaxError{off: r.i, msg: msg}
	}
	r.i = len(r.b) // stop everything
}

func (r *reader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// validJSON checks that b is one JSON value and nothing else.
func validJSON(b []byte) error {
	r := reader{b: b}
	r.ws()
	r.skip()
	r.ws()
	if r.err == nil && r.i != len(r.b) {
		r.fail("unexpected data after the JSON value")
	}
	if r.err != nil {
		return r.err
	}
	return nil
}

// load reads event and collects the leaves of the registry's paths.
func (sc *scratch) load(reg *registry, event []byte) error {
	n := len(reg.paths)
	if cap(sc.leaves) < n {
		sc.leaves = make([][]leaf, n)
	}
	sc.leaves = sc.leaves[:n]
	for i := range sc.leaves {
		sc.leaves[i] = sc.leaves[i][:0]
	}
	sc.stack, sc.arrBuf, sc.strBuf, sc.nextArr = sc.stack[:0], sc.arrBuf[:0], sc.strBuf[:0], 0
	r := reader{b: event, sc: sc, reg: reg}
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		if validJSON(event) == nil {
			return errNotObject
		}
		return errors.New("eventpattern: the event is not valid JSON: it does not start with '{'")
	}
	r.object(reg.root)
	r.ws()
	if r.err == nil && r.i != len(r.b) {
		r.fail("unexpected data after the JSON object")
	}
	if r.err != nil {
		return errors.New("eventpattern: the event is not valid JSON: " + r.err.Error())
	}
	return nil
}

// object reads an object whose members continue the paths below n.
func (r *reader) object(n *node) {
	if len(n.children) == 0 {
		r.skip()
		return
	}
	r.depth++
	if r.depth > maxDepth {
		r.fail("nested too deeply")
		return
	}
	r.i++ // '{'
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		r.depth--
		return
	}
	for r.i < len(r.b) {
		if r.b[r.i] != '"' {
			r.fail("expected a member name")
			return
		}
		body, escaped := r.scanString()
		var c *node
		if r.err == nil {
			if escaped {
				r.sc.keyBuf = unescape(r.sc.keyBuf[:0], body)
				body = r.sc.keyBuf
			}
			c = n.child(body)
		}
		r.ws()
		if r.i >= len(r.b) || r.b[r.i] != ':' {
			r.fail("expected ':'")
			return
		}
		r.i++
		r.ws()
		if c != nil {
			r.value(c)
		} else {
			r.skip()
		}
		r.ws()
		if r.i >= len(r.b) {
			break
		}
		switch r.b[r.i] {
		case ',':
			r.i++
			r.ws()
			continue
		case '}':
			r.i++
			r.depth--
			return
		}
		r.fail("expected ',' or '}'")
		return
	}
	r.fail("unterminated object")
}

// value reads a value at the path of n.
func (r *reader) value(n *node) {
	if r.i >= len(r.b) {
		r.fail("expected a value")
		return
	}
	sc := r.sc
	switch c := r.b[r.i]; c {
	case '{':
		r.object(n)
		return
	case '[':
		r.depth++
		if r.depth > maxDepth {
			r.fail("nested too deeply")
			return
		}
		r.i++
		r.ws()
		id := sc.nextArr
		sc.nextArr++
		if r.i < len(r.b) && r.b[r.i] == ']' {
			r.i++
			r.depth--
			return
		}
		for idx := int32(0); r.i < len(r.b); idx++ {
			sc.stack = append(sc.stack, arrPos{id: id, idx: idx})
			r.value(n)
			sc.stack = sc.stack[:len(sc.stack)-1]
			r.ws()
			if r.i >= len(r.b) {
				break
			}
			if r.b[r.i] == ',' {
				r.i++
				r.ws()
				continue
			}
			if r.b[r.i] == ']' {
				r.i++
				r.depth--
				return
			}
			r.fail("expected ',' or ']'")
			return
		}
		r.fail("unterminated array")
		return
	}
	if n.id < 0 {
		r.skip()
		return
	}
	var l leaf
	switch c := r.b[r.i]; {
	case c == '"':
		body, escaped := r.scanString()
		if escaped {
			start := len(sc.strBuf)
			sc.strBuf = unescape(sc.strBuf, body)
			body = sc.strBuf[start:]
		}
		l.typ, l.s = fastjson.TypeString, unsafe.String(unsafe.SliceData(body), len(body))
	case c == '-' || c >= '0' && c <= '9':
		start := r.i
		r.number()
		b := r.b[start:r.i]
		l.typ, l.s = fastjson.TypeNumber, unsafe.String(unsafe.SliceData(b), len(b))
		l.f, l.fok = comparable(l.s)
	case c == 't':
		l.typ = fastjson.TypeTrue
		r.literal("true")
	case c == 'f':
		l.typ = fastjson.TypeFalse
		r.literal("false")
	case c == 'n':
		l.typ = fastjson.TypeNull
		r.literal("null")
	default:
		r.fail("unexpected character")
		return
	}
	if r.err != nil {
		return
	}
	if len(sc.stack) > 0 {
		start := len(sc.arrBuf)
		sc.arrBuf = append(sc.arrBuf, sc.stack...)
		l.arr = sc.arrBuf[start:len(sc.arrBuf):len(sc.arrBuf)]
	}
	sc.leaves[n.id] = append(sc.leaves[n.id], l)
}

// skip checks and passes over one value.
func (r *reader) skip() {
	if r.i >= len(r.b) {
		r.fail("expected a value")
		return
	}
	switch c := r.b[r.i]; {
	case c == '{' || c == '[':
		r.depth++
		if r.depth > maxDepth {
			r.fail("nested too deeply")
			return
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		r.i++
		r.ws()
		if r.i < len(r.b) && r.b[r.i] == closer {
			r.i++
			r.depth--
			return
		}
		for r.i < len(r.b) {
			if c == '{' {
				if r.b[r.i] != '"' {
					r.fail("expected a member name")
					return
				}
				r.skipString()
				r.ws()
				if r.i >= len(r.b) || r.b[r.i] != ':' {
					r.fail("expected ':'")
					return
				}
				r.i++
				r.ws()
			}
			r.skip()
			r.ws()
			if r.i >= len(r.b) {
				break
			}
			if r.b[r.i] == ',' {
				r.i++
				r.ws()
				continue
			}
			if r.b[r.i] == closer {
				r.i++
				r.depth--
				return
			}
			r.fail("expected ',' or '" + string(closer) + "'")
			return
		}
		r.fail("unterminated object or array")
	case c == '"':
		r.skipString()
	case c == '-' || c >= '0' && c <= '9':
		r.number()
	case c == 't':
		r.literal("true")
	case c == 'f':
		r.literal("false")
	case c == 'n':
		r.literal("null")
	default:
		r.fail("unexpected character")
	}
}

func (r *reader) literal(word string) {
	if len(r.b)-r.i < len(word) || string(r.b[r.i:r.i+len(word)]) != word {
		r.fail("unexpected character")
		return
	}
	r.i += len(word)
}

// number passes over a number in JSON's grammar.
func (r *reader) number() {
	b, i := r.b, r.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		r.i = i
		r.fail("malformed number")
		return
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			r.i = i
			r.fail("malformed number")
			return
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			r.i = i
			r.fail("malformed number")
			return
		}
	}
	r.i = i
}

// skipString checks and passes over a string.
func (r *reader) skipString() { r.scanString() }

// scanString checks and passes over a string, returning its body as
// written and whether it holds escapes. Eight bytes at a time, it looks for
// the bytes that need attention ('"', '\\', control characters, non-ASCII).
func (r *reader) scanString() (body []byte, escaped bool) {
	b := r.b
	start := r.i + 1
	i := start
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			const ones, highs = 0x0101010101010101, 0x8080808080808080
			quote := x ^ (ones * '"')
			slash := x ^ (ones * '\\')
			special := ((x - ones*0x20) | (quote - ones) | (slash - ones) | x) & highs
			if special != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			r.i = i
			r.fail("unterminated string")
			return nil, false
		}
		switch c := b[i]; {
		case c == '"':
			r.i = i + 1
			return b[start:i], escaped
		case c == '\\':
			n := escapeLen(b[i:])
			if n == 0 {
				r.i = i
				r.fail("invalid escape")
				return nil, false
			}
			escaped = true
			i += n
		case c < 0x20:
			r.i = i
			r.fail("control character in string")
			return nil, false
		default:
			ru, n := utf8.DecodeRune(b[i:])
			if ru == utf8.RuneError && n <= 1 {
				r.i = i
				r.fail("invalid UTF-8")
				return nil, false
			}
			i += n
		}
	}
}

// escapeLen returns the length of the escape at the start of b, 0 if invalid.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) < 6 {
			return 0
		}
		for _, h := range b[2:6] {
			if !isHex(h) {
				return 0
			}
		}
		return 6
	}
	return 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unescape appends the decoded form of a checked string body.
func unescape(dst, raw []byte) []byte {
	for j := 0; j < len(raw); j++ {
		c := raw[j]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		j++
		switch raw[j] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			ru := rune(hex4(raw[j+1:]))
			j += 4
			if ru >= 0xD800 && ru < 0xDC00 && j+6 < len(raw) && raw[j+1] == '\\' && raw[j+2] == 'u' {
				if lo := rune(hex4(raw[j+3:])); lo >= 0xDC00 && lo < 0xE000 {
					ru = (ru-0xD800)<<10 + (lo - 0xDC00) + 0x10000
					j += 6
				}
			}
			dst = utf8.AppendRune(dst, ru)
		default: // '"', '\\', '/'
			dst = append(dst, raw[j])
		}
	}
	return dst
}

func hex4(b []byte) int {
	n := 0
	for _, c := range b[:4] {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c-'a') + 10
		default:
			n |= int(c-'A') + 10
		}
	}
	return n
}
