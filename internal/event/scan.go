package event

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the JSON scanner Parse is built on: one pass over the
// input that checks the syntax, copies the bytes minus insignificant
// whitespace to the output, and leaves the last string scanned where the
// field extraction in parse.go can read it.

// maxDepth bounds how deeply objects and arrays nest; the record itself is
// level 1.
const maxDepth = 64

// linearKeys is how many keys an object may hold before duplicate
// detection switches from a linear scan to a map.
const linearKeys = 32

// kind is the type of a JSON value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// strSpan locates the contents of a scanned string (without its quotes)
// in parser.src; esc reports whether it holds escapes.
type strSpan struct {
	start, end int
	esc        bool
}

// pathElem is one step of the path to the member being read: an object
// key, or an array index when isIdx is set.
type pathElem struct {
	key   []byte
	idx   int
	isIdx bool
}

// objIter walks the members of one object.
type objIter struct {
	depth   int
	n       int
	keyBase int
	set     map[string]struct{}
}

// arrIter walks the elements of one array.
type arrIter struct {
	depth int
	n     int
}

// plain marks the bytes a string may hold that need no further look: all
// printable ASCII except the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// space marks JSON's insignificant whitespace.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// ws skips whitespace, copying the bytes before it to the output.
func (p *parser) ws() {
	if p.pos < len(p.src) && space[p.src[p.pos]] {
		p.skipSpace()
	}
}

func (p *parser) skipSpace() {
	p.out = append(p.out, p.src[p.mark:p.pos]...)
	for p.pos < len(p.src) && space[p.src[p.pos]] {
		p.pos++
	}
	p.mark = p.pos
}

// value scans any JSON value at p.pos, a member of the container at depth.
func (p *parser) value(depth int) (kind, error) {
	if p.pos >= len(p.src) {
		return 0, p.syntaxErr(p.pos, depth, "unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '"':
		return kindString, p.scanString(depth)
	case c == '{':
		return kindObject, p.object(depth + 1)
	case c == '[':
		return kindArray, p.array(depth + 1)
	case c == 't':
		return kindBool, p.literal("true", depth)
	case c == 'f':
		return kindBool, p.literal("false", depth)
	case c == 'n':
		return kindNull, p.literal("null", depth)
	case c == '-' || c >= '0' && c <= '9':
		return kindNumber, p.number(depth)
	default:
		return 0, p.syntaxErr(p.pos, depth, "unexpected "+quoteByte(c)+" where a value should be")
	}
}

// object scans an object whose members are not extracted.
func (p *parser) object(depth int) error {
	var o objIter
	if err := p.openObject(&o, depth); err != nil {
		return err
	}
	for {
		_, ok, err := p.nextKey(&o)
		if err != nil || !ok {
			return err
		}
		if _, err := p.value(depth); err != nil {
			return err
		}
	}
}

// array scans an array whose elements are not extracted.
func (p *parser) array(depth int) error {
	var a arrIter
	if err := p.openArray(&a, depth); err != nil {
		return err
	}
	for {
		ok, err := p.nextElem(&a)
		if err != nil || !ok {
			return err
		}
		if _, err := p.value(depth); err != nil {
			return err
		}
	}
}

// openObject consumes the '{' at p.pos of an object at depth.
func (p *parser) openObject(o *objIter, depth int) error {
	if depth > maxDepth {
		return p.syntaxErr(p.pos, depth-1, "nesting deeper than "+strconv.Itoa(maxDepth)+" levels")
	}
	p.pos++
	p.ws()
	*o = objIter{depth: depth, keyBase: len(p.keys)}
	return nil
}

// nextKey consumes the separator before the next member and its key and
// colon. It returns the unescaped key, or ok false after the closing '}'.
// A key seen before in the same object is recorded as a validation error.
func (p *parser) nextKey(o *objIter) (key []byte, ok bool, err error) {
	if o.n > 0 {
		p.ws()
	}
	if p.pos >= len(p.src) {
		return nil, false, p.syntaxErr(p.pos, o.depth-1, "unexpected end of input in object")
	}
	if o.n > 0 {
		switch p.src[p.pos] {
		case ',':
			p.pos++
			p.ws()
		case '}':
			p.pos++
			p.keys = p.keys[:o.keyBase]
			return nil, false, nil
		default:
			return nil, false, p.syntaxErr(p.pos, o.depth, "unexpected "+quoteByte(p.src[p.pos])+" after object member, want ',' or '}'")
		}
	} else if p.src[p.pos] == '}' {
		p.pos++
		return nil, false, nil
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '"' {
		return nil, false, p.syntaxErr(p.pos, o.depth-1, "object key is not a string")
	}
	if err := p.scanString(o.depth - 1); err != nil {
		return nil, false, err
	}
	s := p.str
	key = p.src[s.start:s.end]
	if s.esc {
		key = appendUnescaped(nil, key)
	}
	p.ws()
	if p.pos >= len(p.src) || p.src[p.pos] != ':' {
		return nil, false, p.syntaxErr(p.pos, o.depth-1, "missing ':' after object key")
	}
	p.pos++
	p.ws()
	p.path[o.depth] = pathElem{key: key}
	if o.depth > p.maxPath {
		p.maxPath = o.depth
	}
	p.checkDuplicate(o, key)
	o.n++
	return key, true, nil
}

// checkDuplicate records a validation error when key was seen before in
// the object o. Keys of small objects are kept on a stack with a
// fingerprint that rules most pairs out cheaply; an object with more than
// linearKeys keys moves to a map.
func (p *parser) checkDuplicate(o *objIter, key []byte) {
	dup := false
	switch {
	case o.set != nil:
		if _, dup = o.set[string(key)]; !dup {
			o.set[string(key)] = struct{}{}
		}
	case o.n < linearKeys:
		fp := fingerprint(key)
		for _, k := range p.keys[o.keyBase:] {
			if k.fp == fp && string(k.key) == string(key) {
				dup = true
				break
			}
		}
		if !dup {
			p.keys = append(p.keys, keyEntry{fp: fp, key: key})
		}
	default:
		o.set = make(map[string]struct{}, 2*linearKeys)
		for _, k := range p.keys[o.keyBase:] {
			o.set[string(k.key)] = struct{}{}
		}
		p.keys = p.keys[:o.keyBase]
		if _, dup = o.set[string(key)]; !dup {
			o.set[string(key)] = struct{}{}
		}
	}
	if dup && p.verr == nil {
		p.verr = &ValidationError{Field: p.pathString(o.depth), Reason: "is a duplicate key"}
	}
}

// keyEntry is a key of an open object.
type keyEntry struct {
	fp  uint64
	key []byte
}

// fingerprint mixes a key's length with its first and last eight bytes.
func fingerprint(k []byte) uint64 {
	var a, b uint64
	if n := len(k); n >= 8 {
		a = binary.LittleEndian.Uint64(k)
		b = binary.LittleEndian.Uint64(k[n-8:])
	} else {
		for i, c := range k {
			a |= uint64(c) << (8 * i)
		}
	}
	return a ^ bits.RotateLeft64(b, 29) ^ uint64(len(k))*0x9e3779b97f4a7c15
}

// openArray consumes the '[' at p.pos of an array at depth.
func (p *parser) openArray(a *arrIter, depth int) error {
	if depth > maxDepth {
		return p.syntaxErr(p.pos, depth-1, "nesting deeper than "+strconv.Itoa(maxDepth)+" levels")
	}
	p.pos++
	p.ws()
	*a = arrIter{depth: depth}
	return nil
}

// nextElem consumes the separator before the next element, or the closing
// ']' and then returns ok false.
func (p *parser) nextElem(a *arrIter) (ok bool, err error) {
	if a.n > 0 {
		p.ws()
	}
	if p.pos >= len(p.src) {
		return false, p.syntaxErr(p.pos, a.depth-1, "unexpected end of input in array")
	}
	if a.n > 0 {
		switch p.src[p.pos] {
		case ',':
			p.pos++
			p.ws()
		case ']':
			p.pos++
			return false, nil
		default:
			return false, p.syntaxErr(p.pos, a.depth, "unexpected "+quoteByte(p.src[p.pos])+" after array element, want ',' or ']'")
		}
	} else if p.src[p.pos] == ']' {
		p.pos++
		return false, nil
	}
	p.path[a.depth] = pathElem{idx: a.n, isIdx: true}
	if a.depth > p.maxPath {
		p.maxPath = a.depth
	}
	a.n++
	return true, nil
}

// scanString scans the string at p.pos and leaves its span in p.str.
func (p *parser) scanString(depth int) error {
	src := p.src
	i := p.pos + 1
	esc := false
	for {
		i = skipPlain(src, i)
		if i >= len(src) {
			return p.syntaxErr(p.pos, depth, "unterminated string")
		}
		switch c := src[i]; {
		case c == '"':
			p.str = strSpan{start: p.pos + 1, end: i, esc: esc}
			p.pos = i + 1
			return nil
		case c == '\\':
			esc = true
			n, msg := escapeLen(src[i:])
			if msg != "" {
				return p.syntaxErr(i, depth, msg)
			}
			i += n
		case c < 0x20:
			return p.syntaxErr(i, depth, "control character "+quoteByte(c)+" in string")
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				return p.syntaxErr(i, depth, "invalid UTF-8 in string")
			}
			i += size
		}
	}
}

// skipPlain returns the index of the first byte at or after i that is not
// plain, reading eight bytes at a time while it can.
func skipPlain(s []byte, i int) int {
	const (
		lo   = 0x0101010101010101
		hi   = 0x8080808080808080
		quot = lo * '"'
		bsl  = lo * '\\'
	)
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		// A byte is special when it is >= 0x80, < 0x20, '"' or '\\'.
		// Each term sets the high bit of (at least) the first such byte.
		q := x ^ quot
		b := x ^ bsl
		m := x | (x-lo*0x20)&^x | (q-lo)&^q | (b-lo)&^b
		if m&hi != 0 {
			// One of the eight bytes may be special; the ones before it
			// are plain, so find it bytewise.
			break
		}
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}

// escapeLen checks the escape at the start of s and returns its length, or
// a message saying why it is invalid.
func escapeLen(s []byte) (int, string) {
	if len(s) < 2 {
		return 0, "unterminated string"
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, ""
	case 'u':
		r, ok := hex4(s[2:])
		if !ok {
			return 0, `invalid \u escape`
		}
		if !utf16.IsSurrogate(r) {
			return 6, ""
		}
		if r < 0xdc00 && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
			if r2, ok := hex4(s[8:]); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
				return 12, ""
			}
		}
		return 0, `\u escape is a lone UTF-16 surrogate`
	default:
		return 0, "invalid escape " + strconv.Quote(string(s[:2]))
	}
}

// hex4 decodes the four hex digits at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnescaped appends the string contents s, already checked by
// scanString, to dst with its escapes decoded.
func appendUnescaped(dst, s []byte) []byte {
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\\' {
			i++
		}
		dst = append(dst, s[:i]...)
		if i == len(s) {
			break
		}
		s = s[i:]
		switch c := s[1]; c {
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
			r, _ := hex4(s[2:])
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(s[8:])
				dst = utf8.AppendRune(dst, utf16.DecodeRune(r, r2))
				s = s[12:]
				continue
			}
			dst = utf8.AppendRune(dst, r)
			s = s[6:]
			continue
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		s = s[2:]
	}
	return dst
}

// number scans the number at p.pos.
func (p *parser) number(depth int) error {
	src := p.src
	i := p.pos
	if src[i] == '-' {
		i++
	}
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && src[i] >= '1' && src[i] <= '9':
		i = digits(src, i+1)
	default:
		return p.syntaxErr(i, depth, "invalid number")
	}
	if i < len(src) && src[i] == '.' {
		j := digits(src, i+1)
		if j == i+1 {
			return p.syntaxErr(j, depth, "invalid number: no digits after '.'")
		}
		i = j
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		j := digits(src, i)
		if j == i {
			return p.syntaxErr(j, depth, "invalid number: no digits in exponent")
		}
		i = j
	}
	p.pos = i
	return nil
}

func digits(s []byte, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// literal scans the literal lit (true, false or null) at p.pos.
func (p *parser) literal(lit string, depth int) error {
	if len(p.src)-p.pos < len(lit) || string(p.src[p.pos:p.pos+len(lit)]) != lit {
		return p.syntaxErr(p.pos, depth, "invalid literal, want "+lit)
	}
	p.pos += len(lit)
	return nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c)|0x100, 16)[1:]
}
