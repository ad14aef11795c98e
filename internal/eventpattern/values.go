package eventpattern

import (
	"math"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// leaf is one scalar of an event with the array elements it sits in.
type leaf struct {
	typ fastjson.Type
	s   string  // a string's value, or a number's text
	f   float64 // a number's value when fok
	fok bool
	arr []arrPos // outermost first
}

// arrPos places a leaf in one array of the event: the array's number
// (unique within the event) and the element's index.
type arrPos struct {
	id, idx int32
}

// matcher is one alternative of a field.
type matcher interface {
	match(l *leaf) bool
}

// comparable parses a JSON number the way EventBridge compares numbers: as
// an IEEE-754 double, refusing values the double does not hold exactly
// (more digits than a double keeps) or that overflow.
func comparable(text string) (float64, bool) {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	if significantDigits(text) <= 15 {
		return f, true
	}
	a, ok1 := new(big.Rat).SetString(text)
	b, ok2 := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok1 || !ok2 || a.Cmp(b) != 0 {
		return 0, false
	}
	return f, true
}

// significantDigits counts the digits of a number's mantissa without
// leading zeros (trailing zeros are counted: an over-estimate is safe).
func significantDigits(text string) int {
	n, started := 0, false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == 'e' || c == 'E' {
			break
		}
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			started = true
		}
		if started {
			n++
		}
	}
	return n
}

type existsMatcher struct{}

func (existsMatcher) match(*leaf) bool { return true }

type literal fastjson.Type

func (m literal) match(l *leaf) bool { return l.typ == fastjson.Type(m) }

// exactString matches a string; a pattern string that is an IP address
// also matches the same address written differently, as in EventBridge.
type exactString struct {
	s    string
	ip   netip.Addr
	isIP bool
}

func newExactString(s string) *exactString {
	m := &exactString{s: s}
	m.ip, m.isIP = parseIP(s)
	return m
}

func (m *exactString) match(l *leaf) bool {
	if l.typ != fastjson.TypeString {
		return false
	}
	if l.s == m.s {
		return true
	}
	if m.isIP {
		ip, ok := parseIP(l.s)
		return ok && ip == m.ip
	}
	return false
}

// exactNumber matches a number by its text or by its value.
type exactNumber struct {
	text string
	f    float64
	ok   bool
}

func newExactNumber(text string) *exactNumber {
	f, ok := comparable(text)
	return &exactNumber{text: text, f: f, ok: ok}
}

func (m *exactNumber) match(l *leaf) bool {
	return l.typ == fastjson.TypeNumber && (l.s == m.text || m.ok && l.fok && l.f == m.f)
}

type prefixMatcher string

func (m prefixMatcher) match(l *leaf) bool {
	return l.typ == fastjson.TypeString && strings.HasPrefix(l.s, string(m))
}

type suffixMatcher string

func (m suffixMatcher) match(l *leaf) bool {
	return l.typ == fastjson.TypeString && strings.HasSuffix(l.s, string(m))
}

type foldMatcher string

func (m foldMatcher) match(l *leaf) bool {
	return l.typ == fastjson.TypeString && strings.EqualFold(l.s, string(m))
}

type prefixFoldMatcher string

func (m prefixFoldMatcher) match(l *leaf) bool {
	return l.typ == fastjson.TypeString && hasPrefixFold(l.s, string(m))
}

type suffixFoldMatcher string

func (m suffixFoldMatcher) match(l *leaf) bool {
	return l.typ == fastjson.TypeString && hasSuffixFold(l.s, string(m))
}

// hasPrefixFold is strings.HasPrefix under Unicode case folding.
func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		a, na := utf8.DecodeRuneInString(s)
		b, nb := utf8.DecodeRuneInString(prefix)
		if !strings.EqualFold(s[:na], prefix[:nb]) && a != b {
			return false
		}
		s, prefix = s[na:], prefix[nb:]
	}
	return true
}

// hasSuffixFold is strings.HasSuffix under Unicode case folding.
func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		a, na := utf8.DecodeLastRuneInString(s)
		b, nb := utf8.DecodeLastRuneInString(suffix)
		if !strings.EqualFold(s[len(s)-na:], suffix[len(suffix)-nb:]) && a != b {
			return false
		}
		s, suffix = s[:len(s)-na], suffix[:len(suffix)-nb]
	}
	return true
}

// numRange is a "numeric" operator; "=" is the range [v, v].
type numRange struct {
	lo, hi         float64
	hasLo, hasHi   bool
	loOpen, hiOpen bool
}

func (r *numRange) match(l *leaf) bool {
	if l.typ != fastjson.TypeNumber || !l.fok {
		return false
	}
	f := l.f
	if r.hasLo && (f < r.lo || r.loOpen && f == r.lo) {
		return false
	}
	if r.hasHi && (f > r.hi || r.hiOpen && f == r.hi) {
		return false
	}
	return true
}

// notValues is anything-but over strings or over numbers: it matches every
// present value (null, booleans and the other type included) but those.
type notValues struct {
	strs    map[string]struct{}
	nums    []float64
	numeric bool
}

func (m *notValues) match(l *leaf) bool {
	if m.numeric {
		if l.typ == fastjson.TypeNumber && l.fok {
			for _, n := range m.nums {
				if n == l.f {
					return false
				}
			}
		}
		return true
	}
	if l.typ == fastjson.TypeString {
		_, hit := m.strs[l.s]
		return !hit
	}
	return true
}

type notPrefix struct{ vals []string }

func (m *notPrefix) match(l *leaf) bool {
	if l.typ != fastjson.TypeString {
		return true
	}
	for _, v := range m.vals {
		if strings.HasPrefix(l.s, v) {
			return false
		}
	}
	return true
}

type notSuffix struct{ vals []string }

func (m *notSuffix) match(l *leaf) bool {
	if l.typ != fastjson.TypeString {
		return true
	}
	for _, v := range m.vals {
		if strings.HasSuffix(l.s, v) {
			return false
		}
	}
	return true
}

type notFold struct{ vals []string }

func (m *notFold) match(l *leaf) bool {
	if l.typ != fastjson.TypeString {
		return true
	}
	for _, v := range m.vals {
		if strings.EqualFold(l.s, v) {
			return false
		}
	}
	return true
}

type notWildcard struct{ vals []*wildcard }

func (m *notWildcard) match(l *leaf) bool {
	if l.typ != fastjson.TypeString {
		return true
	}
	for _, w := range m.vals {
		if w.matchString(l.s) {
			return false
		}
	}
	return true
}

// parseIP reads an IPv4 or IPv6 address literal as EventBridge recognises
// one (dotted quad, or hex digits and colons).
func parseIP(s string) (netip.Addr, bool) {
	if !looksLikeIP(s) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func looksLikeIP(s string) bool {
	if s == "" {
		return false
	}
	dots, colons := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			dots++
		case c == ':':
			colons++
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			if dots > 0 {
				return false
			}
		default:
			return false
		}
	}
	if colons > 0 {
		return dots == 0
	}
	return dots == 3
}

// cidrMatcher matches a string holding an address inside a block.
type cidrMatcher struct{ p netip.Prefix }

func (m cidrMatcher) match(l *leaf) bool {
	if l.typ != fastjson.TypeString {
		return false
	}
	ip, ok := parseIP(l.s)
	return ok && ip.Is4() == m.p.Addr().Is4() && m.p.Contains(ip)
}

func compileCIDR(s string) (matcher, *Error) {
	parts := strings.Split(s, "/")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1] // as Java's String.split drops trailing empty parts
	}
	if len(parts) != 2 {
		return nil, invalid("Malformed CIDR, one '/' required")
	}
	bits, err := strconv.Atoi(parts[1])
	if err != nil {
		return nil, invalid("Malformed CIDR, mask bits must be an integer")
	}
	if bits < 0 {
		return nil, invalid("Malformed CIDR, mask bits must not be negative")
	}
	if !looksLikeIP(parts[0]) {
		return nil, invalid("Nonstandard IP address: " + parts[0])
	}
	ip, ok := parseIP(parts[0])
	if !ok {
		return nil, invalid("Invalid IP address: " + parts[0])
	}
	if ip.Is4() && bits > 31 {
		return nil, invalid("IPv4 mask bits must be < 32")
	}
	if !ip.Is4() && bits > 127 {
		return nil, invalid("IPv6 mask bits must be < 128")
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return nil, invalid("Invalid IP address: " + parts[0])
	}
	return cidrMatcher{p: p}, nil
}
