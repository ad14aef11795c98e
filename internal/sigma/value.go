package sigma

import (
	"bytes"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// evalCtx is one record being evaluated: its parsed JSON and scratch
// space reused across fields.
type evalCtx struct {
	root *fastjson.Value
	buf  []byte
	num  [64]byte // the text of a number or boolean being matched (not on the stack: f would move it to the heap)
	vals []*fastjson.Value
	ref  []*fastjson.Value
}

// lookup appends the values at a dotted path to dst, fanning out over
// arrays at every step (and at the end: an array field yields its
// elements).
func lookup(dst []*fastjson.Value, v *fastjson.Value, path []string) []*fastjson.Value {
	for i, seg := range path {
		switch v.Type() {
		case fastjson.TypeArray:
			arr, _ := v.Array()
			for _, e := range arr {
				dst = lookup(dst, e, path[i:])
			}
			return dst
		case fastjson.TypeObject:
			v = v.Get(seg)
			if v == nil {
				return dst
			}
		default:
			return dst
		}
	}
	if v.Type() == fastjson.TypeArray {
		arr, _ := v.Array()
		for _, e := range arr {
			if e.Type() == fastjson.TypeArray {
				dst = lookup(dst, e, nil)
				continue
			}
			dst = append(dst, e)
		}
		return dst
	}
	return append(dst, v)
}

// matcher tests one value of a field key against the field's values in
// the record (vals: every value the dotted path reaches; empty when the
// field is absent).
type matcher interface {
	match(e *evalCtx, vals []*fastjson.Value) bool
}

// strMatcher is a plain Sigma value: literal text with * and ?
// wildcards, matched case-insensitively unless cased.
type strMatcher struct {
	toks  []tok
	kind  int
	lit   string // the single literal, for the fast kinds
	cased bool
}

const (
	kindExact = iota
	kindPrefix
	kindSuffix
	kindContains
	kindAny // only * wildcards: any present value
	kindGlob
)

type tok struct {
	lit  string
	wild byte // 0, '*' or '?'
}

// compileString parses a Sigma value with wildcards and escapes.
func compileString(s string, cased bool) (*strMatcher, string) {
	var toks []tok
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			l := cur.String()
			if !cased {
				l = foldString(l)
			}
			toks = append(toks, tok{lit: l})
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			if c == '*' && len(toks) > 0 && toks[len(toks)-1].wild == '*' {
				continue // ** is *
			}
			toks = append(toks, tok{wild: c})
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	m := &strMatcher{toks: toks, cased: cased, kind: kindGlob}
	star := func(t tok) bool { return t.wild == '*' }
	switch {
	case len(toks) == 0:
		m.kind = kindExact
	case len(toks) == 1 && toks[0].wild == 0:
		m.kind, m.lit = kindExact, toks[0].lit
	case len(toks) == 1 && star(toks[0]):
		m.kind = kindAny
	case len(toks) == 2 && toks[0].wild == 0 && star(toks[1]):
		m.kind, m.lit = kindPrefix, toks[0].lit
	case len(toks) == 2 && star(toks[0]) && toks[1].wild == 0:
		m.kind, m.lit = kindSuffix, toks[1].lit
	case len(toks) == 3 && star(toks[0]) && toks[1].wild == 0 && star(toks[2]):
		m.kind, m.lit = kindContains, toks[1].lit
	}
	return m, ""
}

// foldString is the case-folded form both sides of a case-insensitive
// comparison are reduced to.
func foldString(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.ToLower(s)
		}
	}
	return lowerASCII(s)
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// foldBytes reduces b in place-free fashion into buf.
func foldBytes(buf, b []byte) []byte {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return append(buf[:0], strings.ToLower(string(b))...)
		}
	}
	buf = buf[:0]
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// matchText tests one string.
func (m *strMatcher) matchText(e *evalCtx, b []byte) bool {
	if m.kind == kindAny {
		return true
	}
	if !m.cased {
		if eq, decided := m.matchASCII(b); decided {
			return eq
		}
		e.buf = foldBytes(e.buf, b)
		b = e.buf
	}
	return m.matchFolded(b)
}

// matchASCII decides a case-insensitive exact, prefix or suffix match
// without folding b when the bytes it looks at are ASCII (they fold one
// to one, in place); decided is false when it needs the whole folded text.
func (m *strMatcher) matchASCII(b []byte) (match, decided bool) {
	lower := func(c byte) byte {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		return c
	}
	switch m.kind {
	case kindExact:
		for i, c := range b {
			if c >= utf8.RuneSelf {
				return false, false
			}
			if i >= len(m.lit) || lower(c) != m.lit[i] {
				return false, true // the folded text differs here already
			}
		}
		return len(b) == len(m.lit), true
	case kindPrefix:
		for i := 0; i < len(m.lit); i++ {
			if i >= len(b) {
				return false, true
			}
			if b[i] >= utf8.RuneSelf {
				return false, false
			}
			if lower(b[i]) != m.lit[i] {
				return false, true
			}
		}
		return true, true
	case kindSuffix:
		for i := 1; i <= len(m.lit); i++ {
			if i > len(b) {
				// all of b is ASCII and shorter than the suffix
				return false, true
			}
			c := b[len(b)-i]
			if c >= utf8.RuneSelf {
				return false, false
			}
			if lower(c) != m.lit[len(m.lit)-i] {
				return false, true
			}
		}
		return true, true
	}
	return false, false
}

// matchFolded tests text already folded (or cased).
func (m *strMatcher) matchFolded(b []byte) bool {
	switch m.kind {
	case kindExact:
		return string(b) == m.lit
	case kindPrefix:
		return len(b) >= len(m.lit) && string(b[:len(m.lit)]) == m.lit
	case kindSuffix:
		return len(b) >= len(m.lit) && string(b[len(b)-len(m.lit):]) == m.lit
	case kindContains:
		return strings.Contains(string(b), m.lit) // no copy: the compiler converts in place
	}
	return glob(m.toks, b)
}

// glob matches b against tokens of literals, * and ? (? is one rune).
// It backtracks only to the last *, so it takes time proportional to
// len(toks)*len(b), never exponential.
func glob(toks []tok, b []byte) bool {
	ti, bi := 0, 0
	starT, starB := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch t.wild {
			case '*':
				starT, starB = ti, bi
				ti++
				continue
			case '?':
				if bi < len(b) {
					_, n := utf8.DecodeRune(b[bi:])
					bi += n
					ti++
					continue
				}
			default:
				if len(b)-bi >= len(t.lit) && string(b[bi:bi+len(t.lit)]) == t.lit {
					bi += len(t.lit)
					ti++
					continue
				}
			}
		} else if bi == len(b) {
			return true
		}
		if starT < 0 || starB >= len(b) {
			return false
		}
		_, n := utf8.DecodeRune(b[starB:])
		starB += n
		ti, bi = starT+1, starB
	}
}

// text returns the string form of a scalar value for comparison, and
// whether it has one (null has none).
func (e *evalCtx) text(v *fastjson.Value, scratch []byte) ([]byte, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return v.GetStringBytes(), true
	case fastjson.TypeNumber, fastjson.TypeTrue, fastjson.TypeFalse:
		return v.MarshalTo(scratch[:0]), true
	}
	return nil, false
}

// eachText calls f on every string form of vals: scalars as themselves,
// objects as their JSON text and as each string inside them; it stops at
// the first true.
func (e *evalCtx) eachText(vals []*fastjson.Value, f func(b []byte) bool) bool {
	scratch := e.num[:]
	for _, v := range vals {
		switch v.Type() {
		case fastjson.TypeObject:
			if f(v.MarshalTo(nil)) {
				return true
			}
			if e.eachLeaf(v, f) {
				return true
			}
		default:
			if b, ok := e.text(v, scratch[:]); ok && f(b) {
				return true
			}
		}
	}
	return false
}

func (e *evalCtx) eachLeaf(v *fastjson.Value, f func(b []byte) bool) bool {
	scratch := e.num[:]
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		found := false
		o.Visit(func(_ []byte, x *fastjson.Value) {
			if !found && e.eachLeaf(x, f) {
				found = true
			}
		})
		return found
	case fastjson.TypeArray:
		arr, _ := v.Array()
		for _, x := range arr {
			if e.eachLeaf(x, f) {
				return true
			}
		}
		return false
	}
	b, ok := e.text(v, scratch[:])
	return ok && f(b)
}

func (m *strMatcher) match(e *evalCtx, vals []*fastjson.Value) bool {
	// Fast path: the usual single scalar.
	if len(vals) == 1 && vals[0].Type() == fastjson.TypeString {
		return m.matchText(e, vals[0].GetStringBytes())
	}
	return e.eachText(vals, func(b []byte) bool { return m.matchText(e, b) })
}

// nullMatcher is the value null: the field is absent or null.
type nullMatcher struct{}

func (nullMatcher) match(_ *evalCtx, vals []*fastjson.Value) bool {
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		if v.Type() == fastjson.TypeNull {
			return true
		}
	}
	return false
}

// existsMatcher is the exists modifier: the field holds (or does not
// hold) a value; null is no value, as for the null value.
type existsMatcher bool

func (x existsMatcher) match(_ *evalCtx, vals []*fastjson.Value) bool {
	has := false
	for _, v := range vals {
		if v.Type() != fastjson.TypeNull {
			has = true
			break
		}
	}
	return has == bool(x)
}

// reMatcher is the re modifier. need is a literal every match contains
// (empty if none is known): a cheap test that rules most values out
// before the regular expression runs.
type reMatcher struct {
	re   *regexp.Regexp
	need []byte
}

func newReMatcher(re *regexp.Regexp) reMatcher {
	m := reMatcher{re: re}
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return m
	}
	t = t.Simplify()
	lit := func(n *syntax.Regexp) {
		if n.Op == syntax.OpLiteral && n.Flags&syntax.FoldCase == 0 && len(string(n.Rune)) > len(m.need) {
			m.need = []byte(string(n.Rune))
		}
	}
	if t.Op == syntax.OpConcat {
		for _, n := range t.Sub {
			lit(n)
		}
	} else {
		lit(t)
	}
	return m
}

func (m reMatcher) match(e *evalCtx, vals []*fastjson.Value) bool {
	return e.eachText(vals, func(b []byte) bool {
		return (len(m.need) == 0 || bytes.Contains(b, m.need)) && m.re.Match(b)
	})
}

type cidrMatcher struct{ p netip.Prefix }

func (m cidrMatcher) match(e *evalCtx, vals []*fastjson.Value) bool {
	return e.eachText(vals, func(b []byte) bool {
		a, err := netip.ParseAddr(string(b))
		return err == nil && m.p.Contains(a.Unmap())
	})
}

type cmpMatcher struct {
	op string
	n  float64
}

func (m cmpMatcher) match(e *evalCtx, vals []*fastjson.Value) bool {
	return e.eachText(vals, func(b []byte) bool {
		f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil {
			return false
		}
		switch m.op {
		case "gt":
			return f > m.n
		case "gte":
			return f >= m.n
		case "lt":
			return f < m.n
		}
		return f <= m.n
	})
}

// neqMatcher is the neq modifier: the field is present and no value of
// it equals the value.
type neqMatcher struct{ m matcher }

func (n neqMatcher) match(e *evalCtx, vals []*fastjson.Value) bool {
	return len(vals) > 0 && !n.m.match(e, vals)
}

// anyOf holds the variants of one value (windash, base64offset).
type anyOf []matcher

func (a anyOf) match(e *evalCtx, vals []*fastjson.Value) bool {
	for _, m := range a {
		if m.match(e, vals) {
			return true
		}
	}
	return false
}

const (
	modeExact = iota
	modePrefix
	modeSuffix
	modeContains
)

// fieldrefMatcher compares the field with another field of the same
// record (the fieldref modifier), case-insensitively unless cased.
type fieldrefMatcher struct {
	path  []string
	mode  int
	cased bool
}

func (m *fieldrefMatcher) match(e *evalCtx, vals []*fastjson.Value) bool {
	e.ref = lookup(e.ref[:0], e.root, m.path)
	var s1, s2 [64]byte
	for _, r := range e.ref {
		rb, ok := e.text(r, s1[:])
		if !ok {
			continue
		}
		want := string(rb)
		if !m.cased {
			want = foldString(want)
		}
		for _, v := range vals {
			vb, ok := e.text(v, s2[:])
			if !ok {
				continue
			}
			got := string(vb)
			if !m.cased {
				got = foldString(got)
			}
			var hit bool
			switch m.mode {
			case modeExact:
				hit = got == want
			case modePrefix:
				hit = strings.HasPrefix(got, want)
			case modeSuffix:
				hit = strings.HasSuffix(got, want)
			default:
				hit = strings.Contains(got, want)
			}
			if hit {
				return true
			}
		}
	}
	return false
}

// matchField evaluates one field key of a selection.
func (c *fieldCond) matchField(e *evalCtx) bool {
	e.vals = lookup(e.vals[:0], e.root, c.path)
	vals := e.vals
	if c.all {
		for _, m := range c.vals {
			if !m.match(e, vals) {
				return false
			}
		}
		return true
	}
	for _, m := range c.vals {
		if m.match(e, vals) {
			return true
		}
	}
	return false
}

func (s *selection) matchSel(e *evalCtx) bool {
	if s.keywords != nil {
		for _, m := range s.keywords {
			if e.eachLeaf(e.root, func(b []byte) bool { return m.(*strMatcher).matchText(e, b) }) {
				return true
			}
		}
		return false
	}
	for _, alt := range s.alts {
		ok := true
		for _, c := range alt {
			if !c.matchField(e) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
