// Package logsinsights parses the CloudWatch Logs Insights query language
// (fields, filter, stats, sort, limit, parse, dedup, display, joined by
// pipes) and compiles a query to one DuckDB SELECT over the CloudTrail Lake
// view cloudtrail_events of internal/query, reading each CloudTrail
// record's fields under the names Logs Insights discovers for them:
// eventName, userIdentity.arn, requestParameters.bucketName, and the system
// fields @timestamp, @message, @logStream, @log and @ptr.
//
// It is pure: it writes SQL text and runs nothing. internal/logs runs the
// compiled statement through query.Run, which limits it to the caller's
// accounts and the queried log groups. A query the parser refuses is a
// *SyntaxError that says where (line, position and character offsets) and
// why.
package logsinsights

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is a lexical token's kind.
type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tDuration // 5m, 1h: a number with a unit, as bin() takes
	tString
	tRegex
	tOp // punctuation and operators: | , ( ) [ ] = != < <= > >= =~ + - * / % ^
)

// token is one lexical token; pos and end are byte offsets in the query.
type token struct {
	kind     tokKind
	text     string // identifier (unquoted), operator, number text, string or regex body
	pos, end int
	quoted   bool // a `backquoted` identifier
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return fmt.Sprintf("%q", t.text)
	case tRegex:
		return "/" + t.text + "/"
	}
	return t.text
}

// SyntaxError is a query the parser or compiler refuses. Offsets are in
// characters from the start of the query, Line counts from 1 and Position
// (in the line) from 0, as Logs Insights reports them.
type SyntaxError struct {
	Reason                 string
	Line, Position         int
	StartOffset, EndOffset int
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at line %d and position %d", e.Reason, e.Line, e.Position)
}

// errAt returns a SyntaxError for the bytes [pos, end) of src.
func errAt(src string, pos, end int, format string, args ...any) *SyntaxError {
	pos = min(max(pos, 0), len(src))
	end = min(max(end, pos), len(src))
	line := 1 + strings.Count(src[:pos], "\n")
	lineStart := strings.LastIndexByte(src[:pos], '\n') + 1
	return &SyntaxError{
		Reason:      fmt.Sprintf(format, args...),
		Line:        line,
		Position:    utf8.RuneCountInString(src[lineStart:pos]),
		StartOffset: utf8.RuneCountInString(src[:pos]),
		EndOffset:   utf8.RuneCountInString(src[:end]),
	}
}

// lexer scans tokens on demand: whether '/' starts a regular expression
// or is a division depends on where the parser is, so the parser asks for
// a regex explicitly (regex).
type lexer struct {
	src string
	pos int
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentByte(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '.' || c == '$'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skip passes white space and # comments.
func (l *lexer) skip() {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		default:
			return
		}
	}
}

// next scans the token at the current position.
func (l *lexer) next() (token, *SyntaxError) {
	l.skip()
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentByte(l.src[l.pos]) {
			l.pos++
		}
		if !utf8.ValidString(l.src[start:l.pos]) {
			return token{}, errAt(l.src, start, l.pos, "the field name is not valid UTF-8")
		}
		return token{kind: tIdent, text: l.src[start:l.pos], pos: start, end: l.pos}, nil
	case c == '`':
		end := strings.IndexByte(l.src[start+1:], '`')
		if end < 0 {
			return token{}, errAt(l.src, start, len(l.src), "unterminated quoted field name")
		}
		l.pos = start + 1 + end + 1
		name := l.src[start+1 : l.pos-1]
		if name == "" {
			return token{}, errAt(l.src, start, l.pos, "empty quoted field name")
		}
		return token{kind: tIdent, text: name, pos: start, end: l.pos, quoted: true}, nil
	case isDigit(c):
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
			l.pos++
			for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.pos++
			}
		}
		num := l.pos
		for l.pos < len(l.src) && (l.src[l.pos] >= 'a' && l.src[l.pos] <= 'z' || l.src[l.pos] >= 'A' && l.src[l.pos] <= 'Z') {
			l.pos++
		}
		if l.pos > num {
			return token{kind: tDuration, text: l.src[start:l.pos], pos: start, end: l.pos}, nil
		}
		return token{kind: tNumber, text: l.src[start:l.pos], pos: start, end: l.pos}, nil
	case c == '"' || c == '\'':
		var b strings.Builder
		l.pos++
		for {
			if l.pos >= len(l.src) {
				return token{}, errAt(l.src, start, len(l.src), "unterminated string")
			}
			d := l.src[l.pos]
			if d == c {
				l.pos++
				break
			}
			if d == '\\' && l.pos+1 < len(l.src) {
				e := l.src[l.pos+1]
				switch e {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case '\\', '"', '\'':
					b.WriteByte(e)
				default:
					b.WriteByte('\\')
					b.WriteByte(e)
				}
				l.pos += 2
				continue
			}
			b.WriteByte(d)
			l.pos++
		}
		s := b.String()
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return token{}, errAt(l.src, start, l.pos, "the string is not valid UTF-8 text")
		}
		return token{kind: tString, text: s, pos: start, end: l.pos}, nil
	}
	for _, op := range []string{"!=", "<=", ">=", "=~", "==", "|", ",", "(", ")", "[", "]", "=", "<", ">", "+", "-", "*", "/", "%", "^", "!"} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += len(op)
			return token{kind: tOp, text: op, pos: start, end: l.pos}, nil
		}
	}
	r, n := utf8.DecodeRuneInString(l.src[l.pos:])
	return token{}, errAt(l.src, start, start+n, "unexpected symbol found %q", r)
}

// regex scans a /regular expression/ starting at the current position
// (after white space). A '/' inside is written '\/'.
func (l *lexer) regex() (token, *SyntaxError) {
	l.skip()
	start := l.pos
	if l.pos >= len(l.src) || l.src[l.pos] != '/' {
		return token{}, errAt(l.src, start, start+1, "expected a regular expression /.../")
	}
	var b strings.Builder
	l.pos++
	for {
		if l.pos >= len(l.src) {
			return token{}, errAt(l.src, start, len(l.src), "unterminated regular expression")
		}
		d := l.src[l.pos]
		if d == '/' {
			l.pos++
			break
		}
		if d == '\\' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '/' {
			b.WriteByte('/')
			l.pos += 2
			continue
		}
		if d == '\\' && l.pos+1 < len(l.src) {
			b.WriteString(l.src[l.pos : l.pos+2])
			l.pos += 2
			continue
		}
		b.WriteByte(d)
		l.pos++
	}
	s := b.String()
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return token{}, errAt(l.src, start, l.pos, "the regular expression is not valid UTF-8 text")
	}
	// Insights writes case-insensitive matching as a trailing i.
	if l.pos < len(l.src) && l.src[l.pos] == 'i' && (l.pos+1 == len(l.src) || !isIdentByte(l.src[l.pos+1])) {
		l.pos++
		s = "(?i)" + s
	}
	return token{kind: tRegex, text: s, pos: start, end: l.pos}, nil
}
