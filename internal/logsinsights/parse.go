package logsinsights

import (
	"strconv"
	"strings"
)

// Expressions.
type (
	expr interface{ span() (int, int) }

	strLit struct {
		s        string
		pos, end int
	}
	numLit struct {
		text     string
		pos, end int
	}
	durLit struct {
		text     string
		pos, end int
	}
	regexLit struct {
		re       string
		pos, end int
	}
	fieldRef struct {
		name     string
		quoted   bool // `backquoted`: never the literal true or false
		pos, end int
	}
	unary struct {
		op       string // not, -
		x        expr
		pos, end int
	}
	binary struct {
		op   string // and or = != < <= > >= like notlike =~ + - * / % ^
		l, r expr
	}
	inList struct {
		x    expr
		list []expr
		not  bool
		end  int
	}
	call struct {
		name     string // lower case
		args     []expr
		star     bool // count(*)
		pos, end int
	}
)

func (e *strLit) span() (int, int)   { return e.pos, e.end }
func (e *numLit) span() (int, int)   { return e.pos, e.end }
func (e *durLit) span() (int, int)   { return e.pos, e.end }
func (e *regexLit) span() (int, int) { return e.pos, e.end }
func (e *fieldRef) span() (int, int) { return e.pos, e.end }
func (e *unary) span() (int, int)    { return e.pos, e.end }
func (e *binary) span() (int, int) {
	p, _ := e.l.span()
	_, q := e.r.span()
	return p, q
}
func (e *inList) span() (int, int) {
	p, _ := e.x.span()
	return p, e.end
}
func (e *call) span() (int, int) { return e.pos, e.end }

// item is an expression with its optional alias and its source text,
// which names it when it has no alias.
type item struct {
	e     expr
	alias string
	text  string
}

func (it item) name() string {
	if it.alias != "" {
		return it.alias
	}
	return it.text
}

type sortKey struct {
	e    expr
	desc bool
}

// command is one stage of the pipeline.
type command struct {
	kind     string // fields display filter stats sort limit parse dedup
	pos, end int
	items    []item // fields, display, stats aggregates, dedup
	by       []item // stats … by
	cond     expr   // filter
	sorts    []sortKey
	n        int    // limit
	src      expr   // parse's source field
	pattern  string // parse's glob or regex
	isRegex  bool
	names    []string // parse … as
	namesPos []int
}

type parser struct {
	lx  lexer
	tok token
	err *SyntaxError
}

// parse reads a whole query.
func parse(src string) ([]*command, *SyntaxError) {
	p := &parser{lx: lexer{src: src}}
	p.advance()
	var cmds []*command
	for {
		if p.err != nil {
			return nil, p.err
		}
		if p.tok.kind == tEOF {
			if len(cmds) == 0 {
				return nil, errAt(src, 0, len(src), "the query is empty: it needs at least one command (fields, filter, stats, …)")
			}
			return cmds, nil
		}
		c := p.command()
		if p.err != nil {
			return nil, p.err
		}
		cmds = append(cmds, c)
		switch {
		case p.tok.kind == tOp && p.tok.text == "|":
			p.advance()
			if p.tok.kind == tEOF {
				p.fail(p.tok, "expected a command after |")
			}
		case p.tok.kind == tEOF:
		default:
			p.fail(p.tok, "unexpected symbol found %s; commands are separated by |", p.tok)
		}
	}
}

func (p *parser) advance() {
	if p.err != nil {
		return
	}
	t, err := p.lx.next()
	if err != nil {
		p.err = err
		p.tok = token{kind: tEOF, pos: len(p.lx.src), end: len(p.lx.src)}
		return
	}
	p.tok = t
}

func (p *parser) fail(t token, format string, args ...any) {
	if p.err == nil {
		p.err = errAt(p.lx.src, t.pos, t.end, format, args...)
	}
	p.tok = token{kind: tEOF, pos: len(p.lx.src), end: len(p.lx.src)}
}

// keyword reports whether the current token is the identifier kw
// (case-insensitive, not backquoted).
func (p *parser) keyword(kw string) bool {
	return p.tok.kind == tIdent && !p.tok.quoted && strings.EqualFold(p.tok.text, kw)
}

func (p *parser) op(op string) bool { return p.tok.kind == tOp && p.tok.text == op }

func (p *parser) expectOp(op string) {
	if !p.op(op) {
		p.fail(p.tok, "expected %s but found %s", op, p.tok)
		return
	}
	p.advance()
}

// reserved are words that end an expression list or are operators, not
// field names, unless backquoted.
var reserved = map[string]bool{"and": true, "or": true, "not": true, "like": true, "in": true,
	"as": true, "by": true, "asc": true, "desc": true}

// unsupportedCommands are Logs Insights commands this package does not
// compile; a query using one is refused with that reason.
var unsupportedCommands = map[string]bool{"unmask": true, "unnest": true, "pattern": true, "diff": true,
	"anomaly": true, "lookup": true, "join": true, "filterindex": true, "source": true}

func (p *parser) command() *command {
	t := p.tok
	if t.kind != tIdent || t.quoted {
		p.fail(t, "unexpected symbol found %s; expected a command (fields, filter, stats, sort, limit, parse, dedup, display)", t)
		return nil
	}
	kind := strings.ToLower(t.text)
	c := &command{kind: kind, pos: t.pos}
	p.advance()
	switch kind {
	case "fields", "display", "dedup":
		c.items = p.items(kind != "dedup")
	case "filter":
		c.cond = p.expr()
	case "stats":
		c.items = p.items(true)
		if p.keyword("by") {
			p.advance()
			c.by = p.items(true)
		}
	case "sort", "order":
		c.kind = "sort"
		for {
			k := sortKey{e: p.expr()}
			if p.keyword("desc") {
				k.desc = true
				p.advance()
			} else if p.keyword("asc") {
				p.advance()
			}
			c.sorts = append(c.sorts, k)
			if !p.op(",") {
				break
			}
			p.advance()
		}
	case "limit", "head":
		c.kind = "limit"
		if p.tok.kind != tNumber || strings.Contains(p.tok.text, ".") {
			p.fail(p.tok, "limit needs a whole number of rows, found %s", p.tok)
			return nil
		}
		n, err := strconv.Atoi(p.tok.text)
		if err != nil || n < 1 || n > 10000 {
			p.fail(p.tok, "limit must be between 1 and 10000, found %s", p.tok.text)
			return nil
		}
		c.n = n
		p.advance()
	case "parse":
		c.src = p.primary()
		if p.err != nil {
			return nil
		}
		if p.op("/") {
			p.lx.pos = p.tok.pos
			rt, err := p.lx.regex()
			if err != nil {
				p.err = err
				return nil
			}
			c.pattern, c.isRegex = rt.text, true
			p.advance()
		} else if p.tok.kind == tString {
			c.pattern = p.tok.text
			p.advance()
		} else {
			p.fail(p.tok, "parse needs a pattern: a \"glob * string\" or a /regular expression/, found %s", p.tok)
			return nil
		}
		if p.keyword("as") {
			p.advance()
			for {
				if p.tok.kind != tIdent || !p.tok.quoted && reserved[strings.ToLower(p.tok.text)] {
					p.fail(p.tok, "expected a field name but found %s", p.tok)
					return nil
				}
				c.names = append(c.names, p.tok.text)
				c.namesPos = append(c.namesPos, p.tok.pos)
				p.advance()
				if !p.op(",") {
					break
				}
				p.advance()
			}
		}
	default:
		if _, ok := unsupportedCommands[kind]; ok {
			p.fail(t, "the %s command is not supported", t.text)
		} else {
			p.fail(t, "unexpected symbol found %s; expected a command (fields, filter, stats, sort, limit, parse, dedup, display)", t)
		}
		return nil
	}
	c.end = p.tok.pos
	return c
}

// items reads a comma-separated list of expressions, with "as name"
// aliases when aliases is set.
func (p *parser) items(aliases bool) []item {
	var out []item
	for {
		start := p.tok.pos
		e := p.expr()
		if p.err != nil {
			return nil
		}
		_, end := e.span()
		it := item{e: e, text: strings.TrimSpace(p.lx.src[start:end])}
		if aliases && p.keyword("as") {
			p.advance()
			if p.tok.kind != tIdent || !p.tok.quoted && reserved[strings.ToLower(p.tok.text)] {
				p.fail(p.tok, "expected a field name after as but found %s", p.tok)
				return nil
			}
			it.alias = p.tok.text
			p.advance()
		}
		out = append(out, it)
		if !p.op(",") {
			return out
		}
		p.advance()
	}
}

// Expression grammar, loosest first: or, and, not, comparison, additive,
// multiplicative, power, unary minus, primary.
func (p *parser) expr() expr {
	l := p.and()
	for p.err == nil && p.keyword("or") {
		p.advance()
		l = &binary{op: "or", l: l, r: p.and()}
	}
	return p.guard(l)
}

// guard turns a nil expression (after an error) into a placeholder so
// callers can take its span.
func (p *parser) guard(e expr) expr {
	if e == nil {
		return &strLit{}
	}
	return e
}

func (p *parser) and() expr {
	l := p.not()
	for p.err == nil && p.keyword("and") {
		p.advance()
		l = &binary{op: "and", l: l, r: p.not()}
	}
	return p.guard(l)
}

func (p *parser) not() expr {
	if p.keyword("not") || p.op("!") {
		t := p.tok
		p.advance()
		x := p.guard(p.not())
		_, end := x.span()
		return &unary{op: "not", x: x, pos: t.pos, end: end}
	}
	return p.comparison()
}

func (p *parser) comparison() expr {
	l := p.guard(p.additive())
	if p.err != nil {
		return l
	}
	switch {
	case p.tok.kind == tOp && (p.tok.text == "=" || p.tok.text == "==" || p.tok.text == "!=" || p.tok.text == "<" ||
		p.tok.text == "<=" || p.tok.text == ">" || p.tok.text == ">="):
		op := p.tok.text
		if op == "==" {
			op = "="
		}
		p.advance()
		return &binary{op: op, l: l, r: p.guard(p.additive())}
	case p.op("=~"):
		p.advance()
		return &binary{op: "=~", l: l, r: p.pattern()}
	case p.keyword("like"):
		p.advance()
		return &binary{op: "like", l: l, r: p.pattern()}
	case p.keyword("in"):
		p.advance()
		return p.inList(l, false)
	case p.keyword("not"):
		t := p.tok
		p.advance()
		switch {
		case p.keyword("like"):
			p.advance()
			return &binary{op: "notlike", l: l, r: p.pattern()}
		case p.keyword("in"):
			p.advance()
			return p.inList(l, true)
		}
		p.fail(t, "expected like or in after not")
	}
	return l
}

// pattern reads the right side of like and =~: a string or a regex.
func (p *parser) pattern() expr {
	if p.op("/") {
		p.lx.pos = p.tok.pos
		rt, err := p.lx.regex()
		if err != nil {
			p.err = err
			return &strLit{}
		}
		p.advance()
		return &regexLit{re: rt.text, pos: rt.pos, end: rt.end}
	}
	if p.tok.kind == tString {
		t := p.tok
		p.advance()
		return &strLit{s: t.text, pos: t.pos, end: t.end}
	}
	p.fail(p.tok, "expected a string or a /regular expression/ but found %s", p.tok)
	return &strLit{}
}

func (p *parser) inList(x expr, not bool) expr {
	open := p.tok
	p.expectOp("[")
	var list []expr
	for p.err == nil && !p.op("]") {
		list = append(list, p.guard(p.additive()))
		if !p.op(",") {
			break
		}
		p.advance()
	}
	end := p.tok.end
	p.expectOp("]")
	if p.err == nil && len(list) == 0 {
		p.err = errAt(p.lx.src, open.pos, end, "the list after in is empty")
	}
	return &inList{x: x, list: list, not: not, end: end}
}

func (p *parser) additive() expr {
	l := p.multiplicative()
	for p.err == nil && (p.op("+") || p.op("-")) {
		op := p.tok.text
		p.advance()
		l = &binary{op: op, l: p.guard(l), r: p.guard(p.multiplicative())}
	}
	return l
}

func (p *parser) multiplicative() expr {
	l := p.power()
	for p.err == nil && (p.op("*") || p.op("/") || p.op("%")) {
		op := p.tok.text
		p.advance()
		l = &binary{op: op, l: p.guard(l), r: p.guard(p.power())}
	}
	return l
}

func (p *parser) power() expr {
	l := p.unaryMinus()
	if p.err == nil && p.op("^") {
		p.advance()
		return &binary{op: "^", l: p.guard(l), r: p.guard(p.power())}
	}
	return l
}

func (p *parser) unaryMinus() expr {
	if p.op("-") {
		t := p.tok
		p.advance()
		x := p.guard(p.unaryMinus())
		_, end := x.span()
		return &unary{op: "-", x: x, pos: t.pos, end: end}
	}
	return p.primary()
}

func (p *parser) primary() expr {
	t := p.tok
	switch t.kind {
	case tNumber:
		p.advance()
		return &numLit{text: t.text, pos: t.pos, end: t.end}
	case tDuration:
		p.advance()
		return &durLit{text: t.text, pos: t.pos, end: t.end}
	case tString:
		p.advance()
		return &strLit{s: t.text, pos: t.pos, end: t.end}
	case tIdent:
		if !t.quoted && reserved[strings.ToLower(t.text)] {
			p.fail(t, "unexpected symbol found %s; expected a field, a value or a function", t)
			return nil
		}
		p.advance()
		if !t.quoted && p.op("(") {
			return p.call(t)
		}
		return &fieldRef{name: t.text, quoted: t.quoted, pos: t.pos, end: t.end}
	case tOp:
		if t.text == "(" {
			p.advance()
			e := p.expr()
			p.expectOp(")")
			return e
		}
		if t.text == "/" {
			p.fail(t, "a /regular expression/ is only allowed after like, =~ or in parse")
			return nil
		}
	}
	if t.kind == tEOF {
		p.fail(t, "unexpected end of query; expected a field, a value or a function")
		return nil
	}
	p.fail(t, "unexpected symbol found %s; expected a field, a value or a function", t)
	return nil
}

func (p *parser) call(name token) expr {
	c := &call{name: strings.ToLower(name.text), pos: name.pos}
	p.advance() // (
	if p.op("*") {
		c.star = true
		p.advance()
	} else {
		for p.err == nil && !p.op(")") {
			c.args = append(c.args, p.guard(p.expr()))
			if !p.op(",") {
				break
			}
			p.advance()
		}
	}
	c.end = p.tok.end
	p.expectOp(")")
	return c
}
