package filterpattern

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// isRegexChar reports a character AWS allows inside %regex%: ASCII letters
// and digits, the symbols : _ # = @ / ; , - and the operators
// ^ $ ? [ ] { } | \ * + . — no parentheses, no spaces, no other
// characters (multi-byte ones included).
func isRegexChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte(":_#=@/;,-^$?[]{}|\\*+.", c) >= 0
}

// lexRegex reads the %regex% token that starts at s[i] ('%') and returns
// its body and the index after the closing '%'. A character AWS does not
// allow is refused as AWS does: "Invalid character(s) in term" with the
// token's text up to and including that character.
func lexRegex(s string, i int) (body string, end int, err error) {
	start := i
	j := i + 1
	for j < len(s) {
		c := s[j]
		if c == '%' {
			if j == start+1 {
				return "", 0, errTerm(s[start : j+1])
			}
			return s[start+1 : j], j + 1, nil
		}
		if c == '\\' {
			if j+1 < len(s) && isRegexChar(s[j+1]) {
				j += 2
				continue
			}
			if j+1 >= len(s) {
				return "", 0, errTerm(s[start:])
			}
			_, n := utf8.DecodeRuneInString(s[j+1:])
			return "", 0, errTerm(s[start : j+1+n])
		}
		if !isRegexChar(c) {
			_, n := utf8.DecodeRuneInString(s[j:])
			return "", 0, errTerm(s[start : j+n])
		}
		j++
	}
	return "", 0, errTerm(s[start:])
}

// compileRegexBody compiles an accepted regex body. Go's RE2 refuses what
// AWS's engine refuses among the recorded cases (`\p`, `[z-a]`,
// possessive `a++`); `\s` is widened to include vertical tab as AWS's
// engine has it.
func compileRegexBody(body string) (*regexp.Regexp, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' && i+1 < len(body) {
			n := body[i+1]
			switch {
			case n == 's' && !inClass:
				b.WriteString(`[\t\n\v\f\r ]`)
			case n == 'S' && !inClass:
				b.WriteString(`[^\t\n\v\f\r ]`)
			case n == 's':
				b.WriteString(`\t\n\v\f\r `)
			case n == 'S':
				b.WriteString(`\x00-\x08\x0e-\x1f\x21-\x{10FFFF}`)
			default:
				b.WriteByte(c)
				b.WriteByte(n)
			}
			i++
			continue
		}
		switch {
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is literal.
			if i+1 < len(body) && body[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(body) && body[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
			continue
		case c == ']' && inClass:
			inClass = false
		}
		b.WriteByte(c)
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, errRegexBad
	}
	return re, nil
}

func compileStandaloneRegex(t string) (*regexp.Regexp, error) {
	body, end, err := lexRegex(t, 0)
	if err != nil {
		return nil, err
	}
	if end < len(t) {
		_, n := utf8.DecodeRuneInString(t[end:])
		return nil, errTerm(t[end : end+n])
	}
	return compileRegexBody(body)
}
