package demo

import (
	"strconv"
	"unicode/utf8"
)

// jw appends compact JSON to b. It tracks, per nesting level, whether a
// value has already been written there, so callers never place commas by
// hand. Keys passed to jw are Go string literals of plain ASCII and are
// written as they are; values go through appendJSONString unless a method
// says otherwise.
type jw struct {
	b     []byte
	depth uint
	more  uint64 // bit d set: a member was already written at depth d
}

func (w *jw) reset() {
	w.b = w.b[:0]
	w.depth = 0
	w.more = 0
}

// sep writes the comma needed before the next member at the current depth.
func (w *jw) sep() {
	bit := uint64(1) << w.depth
	if w.more&bit != 0 {
		w.b = append(w.b, ',')
	} else {
		w.more |= bit
	}
}

func (w *jw) enter(c byte) {
	w.b = append(w.b, c)
	w.depth++
	w.more &^= uint64(1) << w.depth
}

// open starts an object in value position (after key, or at the top).
func (w *jw) open() { w.enter('{') }

func (w *jw) close() {
	w.b = append(w.b, '}')
	w.depth--
}

func (w *jw) closeArr() {
	w.b = append(w.b, ']')
	w.depth--
}

// key writes `"k":` after any needed comma.
func (w *jw) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// obj starts an object member named k.
func (w *jw) obj(k string) {
	w.key(k)
	w.enter('{')
}

// arr starts an array member named k.
func (w *jw) arr(k string) {
	w.key(k)
	w.enter('[')
}

// elemObj starts an object element of the current array.
func (w *jw) elemObj() {
	w.sep()
	w.enter('{')
}

// elemStr writes a string element of the current array.
func (w *jw) elemStr(v string) {
	w.sep()
	w.b = appendJSONString(w.b, v)
}

// str writes the member "k": v with v escaped.
func (w *jw) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

// strs writes the member "k" whose string value is the concatenation of
// parts. The parts must need no escaping (identifiers, ARNs built from
// validated account ids and region names, literals).
func (w *jw) strs(k string, parts ...string) {
	w.key(k)
	w.b = append(w.b, '"')
	for _, p := range parts {
		w.b = append(w.b, p...)
	}
	w.b = append(w.b, '"')
}

func (w *jw) num(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jw) float(k string, v float64) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', -1, 64)
	if float64(int64(v)) == v {
		w.b = append(w.b, '.', '0')
	}
}

func (w *jw) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jw) null(k string) {
	w.key(k)
	w.b = append(w.b, "null"...)
}

// raw writes the member "k" with v, which must already be valid JSON.
func (w *jw) raw(k, v string) {
	w.key(k)
	w.b = append(w.b, v...)
}

// q opens or closes a string value written piecewise with w.b = append(...).
func (w *jw) q() { w.b = append(w.b, '"') }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal. Quotes, backslashes
// and control characters are escaped; so are U+2028 and U+2029 (harmless in
// JSON, but not in JavaScript that may embed it); invalid UTF-8 becomes
// U+FFFD. The output is therefore always valid JSON and valid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends s escaped for use inside a JSON string literal,
// without the surrounding quotes.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
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
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// appendTime appends unix second t as CloudTrail's eventTime,
// YYYY-MM-DDTHH:MM:SSZ, without going through time.Time.
func appendTime(b []byte, t int64) []byte {
	days := t / 86400
	rem := t % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civil(days)
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, int(rem/3600))
	b = append(b, ':')
	b = append2(b, int(rem/60%60))
	b = append(b, ':')
	b = append2(b, int(rem%60))
	return append(b, 'Z')
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Hinnant's days-to-civil algorithm).
func civil(z int64) (year, month, day int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendUUID appends hi/lo as a version-4, RFC 4122 variant GUID in the
// 8-4-4-4-12 lower-case form.
func appendUUID(b []byte, hi, lo uint64) []byte {
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10
	var u [16]byte
	for i := range 8 {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendHex appends the n low hex digits of v (n ≤ 16), most significant
// first; upper selects upper-case digits.
func appendHex(b []byte, v uint64, n int, upper bool) []byte {
	digits := hexDigits
	if upper {
		digits = "0123456789ABCDEF"
	}
	for i := n - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(4*uint(i)))&0xf])
	}
	return b
}

const (
	base32Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	alnumLower  = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// appendChars appends n characters of alphabet (at most 64 of them) chosen
// by the bits of a splitmix64 stream started at h. Alphabets whose length is
// not a power of two are slightly biased, which is harmless for made-up
// identifiers.
func appendChars(b []byte, h uint64, n int, alphabet string) []byte {
	var bits uint64
	left := 0
	for range n {
		if left < 6 {
			h += 0x9e3779b97f4a7c15
			bits = mix64(h)
			left = 64
		}
		b = append(b, alphabet[int(bits&63)%len(alphabet)])
		bits >>= 6
		left -= 6
	}
	return b
}

// mix64 is the splitmix64 finaliser: a cheap, well-distributed hash of one
// 64-bit word, used to derive stable identifiers from seeds.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// hashString is FNV-1a over s, mixed.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}
