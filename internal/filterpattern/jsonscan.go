package filterpattern

import (
	"encoding/binary"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Kinds of a JSON value found by the scanner; 0 is "absent".
const (
	kString byte = 's' + iota
	kNumber
	kTrue
	kFalse
	kNull
	kObject
	kArray
)

// A valRef locates a value in the message without copying it.
type valRef struct {
	kind       byte
	esc        bool // a string holding escapes: decode before comparing
	arrNull    bool // an array with a null element
	start, end int  // the value's bytes (a string with its quotes)
}

// A tnode is a node of the trie of paths a pattern (or a Set) needs: the
// scanner descends only where a path goes and records the value at every
// path's end.
type tnode struct {
	names  []string
	kids   []*tnode
	idxs   []int
	ikids  []*tnode
	lens   uint64 // bit l set when a name has length l (l < 64), or bit 63 for longer ones
	slots  []int  // paths ending here
	sub    []int  // slots ending here or below (cleared when a duplicate key reappears)
	hasIdx bool
}

func newTrie() *tnode { return &tnode{} }

func (n *tnode) add(path []step, slot int) {
	for _, s := range path {
		var next *tnode
		if s.isIdx {
			for i, x := range n.idxs {
				if x == s.idx {
					next = n.ikids[i]
				}
			}
			if next == nil {
				next = &tnode{}
				n.idxs = append(n.idxs, s.idx)
				n.ikids = append(n.ikids, next)
			}
		} else {
			for i, x := range n.names {
				if x == s.key {
					next = n.kids[i]
				}
			}
			if next == nil {
				next = &tnode{}
				n.names = append(n.names, s.key)
				n.kids = append(n.kids, next)
			}
		}
		n = next
	}
	n.slots = append(n.slots, slot)
}

// finish computes every node's sub list.
func (n *tnode) finish() []int {
	n.sub = append(n.sub[:0], n.slots...)
	for _, k := range n.kids {
		n.sub = append(n.sub, k.finish()...)
	}
	for _, k := range n.ikids {
		n.sub = append(n.sub, k.finish()...)
	}
	n.hasIdx = len(n.idxs) > 0
	n.lens = 0
	for _, name := range n.names {
		n.lens |= 1 << min(len(name), 63)
	}
	return n.sub
}

func (n *tnode) key(k []byte) *tnode {
	if n.lens&(1<<min(len(k), 63)) == 0 {
		return nil
	}
	for i, name := range n.names {
		if len(name) == len(k) && name == string(k) {
			return n.kids[i]
		}
	}
	return nil
}

func (n *tnode) index(k int) *tnode {
	for i, x := range n.idxs {
		if x == k {
			return n.ikids[i]
		}
	}
	return nil
}

// maxDepth is the deepest nesting a message may have; deeper messages
// match no JSON pattern, as AWS's parser refuses them.
const maxDepth = 1000

// scanState is one scan's working memory, pooled so matching does not
// allocate.
type scanState struct {
	msg   []byte
	vals  []valRef
	kbuf  []byte
	vbuf  []byte
	depth int
}

var statePool = sync.Pool{New: func() any { return &scanState{} }}

func getState(slots int) *scanState {
	st := statePool.Get().(*scanState)
	if cap(st.vals) < slots {
		st.vals = make([]valRef, slots)
	}
	st.vals = st.vals[:slots]
	return st
}

func putState(st *scanState) {
	st.msg = nil
	statePool.Put(st)
}

// scan reads msg, which must be one JSON object (with white space around
// it), recording the values at the trie's paths. It reports false for
// anything else: such a message matches no JSON pattern.
func (st *scanState) scan(msg []byte, root *tnode) bool {
	st.msg = msg
	st.depth = 0
	clear(st.vals)
	i := skipWS(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		return false
	}
	i, ok := st.value(i, root)
	if !ok {
		return false
	}
	return skipWS(msg, i) == len(msg)
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// strStop marks the bytes that end a run of plain string content.
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

func (st *scanState) value(i int, n *tnode) (int, bool) {
	msg := st.msg
	i = skipWS(msg, i)
	if i >= len(msg) {
		return i, false
	}
	start := i
	var ref valRef
	ok := true
	switch c := msg[i]; {
	case c == '{':
		ref.kind = kObject
		i, ok = st.object(i, n)
	case c == '[':
		ref.kind = kArray
		i, ref.arrNull, ok = st.array(i, n)
	case c == '"':
		ref.kind = kString
		i, ref.esc, ok = st.str(i)
	case c == 't':
		ref.kind = kTrue
		ok = len(msg)-i >= 4 && string(msg[i:i+4]) == "true"
		i += 4
	case c == 'f':
		ref.kind = kFalse
		ok = len(msg)-i >= 5 && string(msg[i:i+5]) == "false"
		i += 5
	case c == 'n':
		ref.kind = kNull
		ok = len(msg)-i >= 4 && string(msg[i:i+4]) == "null"
		i += 4
	case c == '-' || c >= '0' && c <= '9':
		ref.kind = kNumber
		i, ok = scanNumber(msg, i)
	default:
		return i, false
	}
	if !ok {
		return i, false
	}
	if n != nil && len(n.slots) > 0 {
		ref.start, ref.end = start, i
		for _, s := range n.slots {
			st.vals[s] = ref
		}
	}
	return i, true
}

func (st *scanState) object(i int, n *tnode) (int, bool) {
	st.depth++
	if st.depth > maxDepth {
		return i, false
	}
	defer func() { st.depth-- }()
	msg := st.msg
	i = skipWS(msg, i+1)
	if i < len(msg) && msg[i] == '}' {
		return i + 1, true
	}
	wantKeys := n != nil && len(n.names) > 0
	for {
		if i >= len(msg) || msg[i] != '"' {
			return i, false
		}
		ks := i
		var esc, ok bool
		i, esc, ok = st.str(i)
		if !ok {
			return i, false
		}
		var child *tnode
		if wantKeys {
			k := msg[ks+1 : i-1]
			if esc {
				st.kbuf = decodeString(st.kbuf[:0], k)
				k = st.kbuf
			}
			child = n.key(k)
			if child != nil {
				for _, s := range child.sub {
					st.vals[s] = valRef{}
				}
			}
		}
		i = skipWS(msg, i)
		if i >= len(msg) || msg[i] != ':' {
			return i, false
		}
		i, ok = st.value(i+1, child)
		if !ok {
			return i, false
		}
		i = skipWS(msg, i)
		if i >= len(msg) {
			return i, false
		}
		switch msg[i] {
		case ',':
			i = skipWS(msg, i+1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

func (st *scanState) array(i int, n *tnode) (int, bool, bool) {
	st.depth++
	if st.depth > maxDepth {
		return i, false, false
	}
	defer func() { st.depth-- }()
	msg := st.msg
	i = skipWS(msg, i+1)
	if i < len(msg) && msg[i] == ']' {
		return i + 1, false, true
	}
	hasNull := false
	wantIdx := n != nil && n.hasIdx
	for k := 0; ; k++ {
		i = skipWS(msg, i)
		if i < len(msg) && msg[i] == 'n' {
			hasNull = true
		}
		var child *tnode
		if wantIdx {
			child = n.index(k)
		}
		var ok bool
		i, ok = st.value(i, child)
		if !ok {
			return i, false, false
		}
		i = skipWS(msg, i)
		if i >= len(msg) {
			return i, false, false
		}
		switch msg[i] {
		case ',':
			i++
		case ']':
			return i + 1, hasNull, true
		default:
			return i, false, false
		}
	}
}

// str reads the string at msg[i] ('"'), validating its escapes; it
// returns the index after the closing quote.
func (st *scanState) str(i int) (int, bool, bool) {
	msg := st.msg
	i++
	esc := false
	for {
		// Eight bytes at a time while none of them is '"', '\\' or a
		// control character.
		for i+8 <= len(msg) {
			w := binary.LittleEndian.Uint64(msg[i:])
			if hasStop(w) {
				break
			}
			i += 8
		}
		for i < len(msg) && !strStop[msg[i]] {
			i++
		}
		if i >= len(msg) {
			return i, false, false
		}
		switch msg[i] {
		case '"':
			return i + 1, esc, true
		case '\\':
			esc = true
			if i+1 >= len(msg) {
				return i, false, false
			}
			switch msg[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(msg) || !isHex4(msg[i+2:i+6]) {
					return i, false, false
				}
				i += 6
			default:
				return i, false, false
			}
		default: // a control character
			return i, false, false
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasStop reports whether a byte of w is '"', '\\' or below 0x20.
func hasStop(w uint64) bool {
	q := w ^ (lsb * '"')
	b := w ^ (lsb * '\\')
	z := (q - lsb) &^ q      // a zero byte of q: a '"'
	z |= (b - lsb) &^ b      // a zero byte of b: a '\\'
	z |= (w - lsb*0x20) &^ w // a byte below 0x20 borrows (bytes >= 0x80 are masked)
	return z&msb != 0
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, false
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, false
		}
	}
	return i, true
}

// decodeString appends the decoded text of a JSON string's content (the
// bytes between its quotes, already validated) to dst.
func decodeString(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
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
			r := rune(hexVal(s[i+1 : i+5]))
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 < len(s)+0 && s[i+1] == '\\' && s[i+2] == 'u' {
					r2 := rune(hexVal(s[i+3 : i+7]))
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // " \ /
			dst = append(dst, s[i])
		}
	}
	return dst
}

func hexVal(b []byte) int {
	v := 0
	for _, c := range b[:4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		default:
			v |= int(c-'A') + 10
		}
	}
	return v
}

// text is a string value's decoded content (valid until the next call).
func (st *scanState) text(ref valRef) []byte {
	raw := st.msg[ref.start+1 : ref.end-1]
	if !ref.esc {
		return raw
	}
	st.vbuf = decodeString(st.vbuf[:0], raw)
	return st.vbuf
}

// ---- walking a validated value (wildcards, extraction) ----

// parseAt reads the value at msg[i] of a message scan has validated.
func parseAt(msg []byte, i int) (valRef, int) {
	st := scanState{msg: msg}
	i = skipWS(msg, i)
	start := i
	end, _ := st.value(i, nil)
	ref := valRef{start: start, end: end}
	switch msg[start] {
	case '{':
		ref.kind = kObject
	case '[':
		ref.kind = kArray
		_, ref.arrNull, _ = st.array(start, nil)
	case '"':
		ref.kind = kString
		_, ref.esc, _ = st.str(start)
	case 't':
		ref.kind = kTrue
	case 'f':
		ref.kind = kFalse
	case 'n':
		ref.kind = kNull
	default:
		ref.kind = kNumber
	}
	return ref, end
}

// members calls fn for each member (name, value) of an object or each
// element (index, value) of an array, until fn returns false.
func members(msg []byte, ref valRef, fn func(name []byte, esc bool, idx int, v valRef) bool) {
	if ref.kind != kObject && ref.kind != kArray {
		return
	}
	i := skipWS(msg, ref.start+1)
	if msg[i] == '}' || msg[i] == ']' {
		return
	}
	st := scanState{msg: msg}
	for k := 0; ; k++ {
		var name []byte
		esc := false
		if ref.kind == kObject {
			ks := i
			i, esc, _ = st.str(i)
			name = msg[ks+1 : i-1]
			i = skipWS(msg, i) + 1 // ':'
		}
		v, end := parseAt(msg, i)
		if !fn(name, esc, k, v) {
			return
		}
		i = skipWS(msg, end)
		if msg[i] != ',' {
			return
		}
		i = skipWS(msg, i+1)
	}
}

// lookup follows a definite path from ref; the last of duplicate names
// wins.
func lookup(msg []byte, ref valRef, path []step) valRef {
	var kb []byte
	for _, s := range path {
		var found valRef
		if s.isIdx {
			if ref.kind != kArray {
				return valRef{}
			}
			members(msg, ref, func(_ []byte, _ bool, k int, v valRef) bool {
				if k == s.idx {
					found = v
					return false
				}
				return true
			})
		} else {
			if ref.kind != kObject {
				return valRef{}
			}
			members(msg, ref, func(name []byte, esc bool, _ int, v valRef) bool {
				if esc {
					kb = decodeString(kb[:0], name)
					name = kb
				}
				if string(name) == s.key {
					found = v
				}
				return true
			})
		}
		if found.kind == 0 {
			return valRef{}
		}
		ref = found
	}
	return ref
}

// elements calls fn with each value a wildcard selects: the members of
// the container ref (an object's values or an array's elements), each
// followed along rest; elements without the rest of the path are skipped.
func (st *scanState) elements(ref valRef, rest []step, fn func(valRef) bool) {
	members(st.msg, ref, func(_ []byte, _ bool, _ int, v valRef) bool {
		if len(rest) > 0 {
			v = lookup(st.msg, v, rest)
			if v.kind == 0 {
				return true
			}
		}
		return fn(v)
	})
}
