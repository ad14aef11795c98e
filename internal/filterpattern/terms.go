package filterpattern

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// A termPattern matches unstructured text: every required term must occur
// in the message, no excluded term may, and when there are only optional
// (`?`) terms one of them must. Optional terms mixed with other kinds are
// ignored, as AWS does. Matching is a case-sensitive substring search.
type termPattern struct {
	required [][]byte
	excluded [][]byte
	optional [][]byte
}

func (t *termPattern) match(msg []byte) bool {
	if len(t.required) > 0 || len(t.excluded) > 0 {
		if !containsAll(msg, t.required) {
			return false
		}
		for _, e := range t.excluded {
			if bytes.Contains(msg, e) {
				return false
			}
		}
		return true
	}
	for _, o := range t.optional {
		if bytes.Contains(msg, o) {
			return true
		}
	}
	return false
}

// isWordRune reports a character allowed in an unquoted term: letters
// (any script), digits, '_' and '.'.
func isWordRune(r rune) bool {
	return r == '_' || r == '.' || r < utf8.RuneSelf && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') ||
		r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

func compileTerms(s string) (*termPattern, error) {
	t := &termPattern{}
	i := 0
	for i < len(s) {
		c := s[i]
		if isSpace(c) {
			i++
			continue
		}
		mod := byte(0)
		if c == '-' || c == '?' {
			mod = c
			i++
			if i == len(s) || isSpace(s[i]) || s[i] == '-' || s[i] == '?' {
				return nil, errInvalid
			}
			c = s[i]
		}
		var term []byte
		switch {
		case c == '"':
			start := i
			i++
			var b []byte
			closed := false
			for i < len(s) {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					b = append(b, s[i+1])
					i += 2
					continue
				}
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				b = append(b, s[i])
				i++
			}
			if !closed {
				return nil, errTerm(s[start:])
			}
			if len(b) == 0 {
				return nil, errTerm(`""`)
			}
			if i < len(s) && !isSpace(s[i]) {
				return nil, errInvalid
			}
			term = b
		default:
			start := i
			for i < len(s) {
				r, n := utf8.DecodeRuneInString(s[i:])
				if !isWordRune(r) {
					break
				}
				i += n
			}
			if i == start {
				r, n := utf8.DecodeRuneInString(s[i:])
				if r == '"' {
					return nil, errInvalid
				}
				return nil, errTerm(s[i : i+n])
			}
			if i < len(s) && !isSpace(s[i]) && s[i] != '-' && s[i] != '?' {
				if s[i] == '"' {
					return nil, errInvalid
				}
				_, n := utf8.DecodeRuneInString(s[i:])
				return nil, errTerm(s[i : i+n])
			}
			term = []byte(s[start:i])
		}
		switch mod {
		case '-':
			t.excluded = append(t.excluded, term)
		case '?':
			t.optional = append(t.optional, term)
		default:
			t.required = append(t.required, term)
		}
	}
	return t, nil
}
