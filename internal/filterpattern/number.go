package filterpattern

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// A number is a numeric literal of a pattern, kept exactly. AWS compares
// an event's integer exactly (9007199254740992 ≠ 9007199254740993) and an
// event's other numbers by the shortest decimal that reads back as the
// same double (so 0.1 = 0.1, 1e-999 reads as 0 and equals 0 but not the
// literal 1e-999, and 1e309 is no number at all).
type number struct {
	text string // as written

	isInt bool  // integral and within int64
	i64   int64 // when isInt

	rat *big.Rat // exact value, when the exponent is moderate

	pf      float64 // the nearest double
	pfExact bool    // the literal is pf's shortest decimal: an event double equals it iff it is pf
	sign    int     // -1, 0, 1
}

// isNumberLiteral reports whether s is written as a number: an optional
// sign, digits with an optional fraction, an optional exponent.
func isNumberLiteral(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	d := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		d++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			d++
		}
	}
	if d == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		e := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			e++
		}
		if e == 0 {
			return false
		}
	}
	return i == len(s)
}

// parseNumber parses a literal isNumberLiteral accepted. ok is false when
// the exponent is beyond AWS's range (a 32-bit exponent).
func parseNumber(s string) (n number, ok bool) {
	n.text = s
	mant, exp := s, ""
	if k := strings.IndexAny(s, "eE"); k >= 0 {
		mant, exp = s[:k], s[k+1:]
	}
	e := int64(0)
	if exp != "" {
		v, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || v > math.MaxInt32 || v < math.MinInt32 {
			return n, false
		}
		e = v
	}
	neg := false
	if mant[0] == '+' || mant[0] == '-' {
		neg = mant[0] == '-'
		mant = mant[1:]
	}
	intPart, frac := mant, ""
	if k := strings.IndexByte(mant, '.'); k >= 0 {
		intPart, frac = mant[:k], mant[k+1:]
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	scale := e - int64(len(frac)) // value = digits × 10^scale
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		scale++
	}
	if digits == "" {
		n.sign = 0
		n.isInt = true
		n.rat = new(big.Rat)
		n.pf = 0
		n.pfExact = true
		return n, true
	}
	n.sign = 1
	if neg {
		n.sign = -1
	}
	// Magnitude order of the value: 10^(len(digits)+scale-1).
	mag := int64(len(digits)) + scale
	if mag > 400 || mag < -400 {
		if mag > 0 {
			n.pf = math.Inf(n.sign)
		} else {
			n.pf = math.Copysign(0, float64(n.sign))
		}
		return n, true
	}
	r, _ := new(big.Rat).SetString(signed(neg, digits) + "e" + strconv.FormatInt(scale, 10))
	n.rat = r
	if r.IsInt() && r.Num().IsInt64() {
		n.isInt = true
		n.i64 = r.Num().Int64()
	}
	n.pf, _ = strconv.ParseFloat(s, 64)
	if !math.IsInf(n.pf, 0) && n.pf != 0 {
		if sr, ok := new(big.Rat).SetString(strconv.FormatFloat(n.pf, 'e', -1, 64)); ok && sr.Cmp(r) == 0 {
			n.pfExact = true
		}
	}
	return n, true
}

func signed(neg bool, digits string) string {
	if neg {
		return "-" + digits
	}
	return digits
}

// eventNum is a number read from a message: an exact integer or a double.
type eventNum struct {
	isInt bool
	i64   int64
	big   *big.Int // an integer beyond int64
	f     float64
}

// readEventNumber reads a JSON number's text (or a space-delimited
// field's). ok is false for a double that overflows: AWS treats it as no
// number.
func readEventNumber(b []byte) (v eventNum, ok bool) {
	integral := true
	for _, c := range b {
		if c == '.' || c == 'e' || c == 'E' {
			integral = false
			break
		}
	}
	s := string(b)
	if integral {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return eventNum{isInt: true, i64: i}, true
		}
		bi, ok := new(big.Int).SetString(strings.TrimPrefix(s, "+"), 10)
		if !ok {
			return v, false
		}
		return eventNum{big: bi}, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) || math.IsInf(f, 0) || math.IsNaN(f) {
		return v, false
	}
	return eventNum{f: f}, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// cmp compares an event number with a pattern number: -1, 0 or 1.
func (v eventNum) cmp(n *number) int {
	switch {
	case v.isInt:
		if n.isInt {
			return cmpInt(v.i64, n.i64)
		}
		if n.rat != nil {
			return new(big.Rat).SetInt64(v.i64).Cmp(n.rat)
		}
		return farCmp(v.i64 == 0, v.i64 < 0, n)
	case v.big != nil:
		if n.rat != nil {
			return new(big.Rat).SetInt(v.big).Cmp(n.rat)
		}
		return farCmp(false, v.big.Sign() < 0, n)
	}
	f := v.f
	if f != n.pf {
		if f < n.pf {
			return -1
		}
		return 1
	}
	if n.pfExact {
		return 0
	}
	// f is the double nearest the literal but the literal is not its
	// shortest decimal: compare that decimal with the literal exactly.
	if n.rat == nil {
		return farCmp(f == 0, math.Signbit(f), n)
	}
	if f == 0 {
		return -n.rat.Sign()
	}
	sr, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'e', -1, 64))
	return sr.Cmp(n.rat)
}

// farCmp compares a moderate value (zero, or of the given sign) with a
// literal whose exponent is far beyond any double.
func farCmp(zero, neg bool, n *number) int {
	if n.sign == 0 {
		switch {
		case zero:
			return 0
		case neg:
			return -1
		}
		return 1
	}
	if math.IsInf(n.pf, 0) {
		return -n.sign
	}
	// A tiny literal: only the sign of the value decides, and zero is
	// below a tiny positive and above a tiny negative.
	if zero {
		return -n.sign
	}
	if neg {
		return -1
	}
	return 1
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// javaNumberText is a JSON number's text as AWS compares it with a quoted
// or bare literal: an integer as written (without a sign on zero), any
// other number as Java's Double.toString writes the double (1.0, 1000.0,
// 1.0E10, 1.0E-4).
func javaNumberText(b []byte) string {
	integral := true
	for _, c := range b {
		if c == '.' || c == 'e' || c == 'E' {
			integral = false
			break
		}
	}
	if integral {
		s := string(b)
		if strings.Trim(s, "-0") == "" {
			return "0"
		}
		return s
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !isRangeErr(err) {
		return string(b)
	}
	return javaDouble(f)
}

func javaDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(math.Abs(f), 'e', -1, 64) // d.dddde±XX
	k := strings.IndexByte(s, 'e')
	mant, exp := s[:k], s[k+1:]
	e, _ := strconv.Atoi(exp)
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	a := math.Abs(f)
	if a >= 1e-3 && a < 1e7 {
		point := e + 1 // digits before the decimal point
		switch {
		case point <= 0:
			out = "0." + strings.Repeat("0", -point) + digits
		case point >= len(digits):
			out = digits + strings.Repeat("0", point-len(digits)) + ".0"
		default:
			out = digits[:point] + "." + digits[point:]
		}
	} else {
		frac := digits[1:]
		if frac == "" {
			frac = "0"
		}
		out = digits[:1] + "." + frac + "E" + strconv.Itoa(e)
	}
	if f < 0 {
		out = "-" + out
	}
	return out
}
