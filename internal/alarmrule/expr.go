package alarmrule

import (
	"fmt"
	"strconv"
)

// Expr is a metric math expression of the arithmetic subset opentrail
// evaluates: numbers, query ids, + - * /, unary minus and parentheses.
type Expr struct {
	op          byte // 0: leaf
	num         float64
	id          string
	left, right *Expr
}

// ExprError is a parse error; its message names the position.
type ExprError struct{ Msg string }

func (e *ExprError) Error() string { return e.Msg }

// ParseExpr parses an arithmetic metric math expression ("m1 + m2",
// "(m1 - m2) / 60 * 100").
func ParseExpr(s string) (*Expr, error) {
	p := &exprParser{s: s}
	e, err := p.sum(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.fail("unexpected %q", p.s[p.i:p.i+1])
	}
	return e, nil
}

type exprParser struct {
	s string
	i int
}

const maxExprDepth = 50

func (p *exprParser) fail(format string, args ...any) error {
	return &ExprError{Msg: fmt.Sprintf("%s at position %d", fmt.Sprintf(format, args...), p.i+1)}
}

func (p *exprParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *exprParser) sum(depth int) (*Expr, error) {
	l, err := p.product(depth)
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		if p.i >= len(p.s) || (p.s[p.i] != '+' && p.s[p.i] != '-') {
			return l, nil
		}
		op := p.s[p.i]
		p.i++
		r, err := p.product(depth)
		if err != nil {
			return nil, err
		}
		l = &Expr{op: op, left: l, right: r}
	}
}

func (p *exprParser) product(depth int) (*Expr, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		if p.i >= len(p.s) || (p.s[p.i] != '*' && p.s[p.i] != '/') {
			return l, nil
		}
		op := p.s[p.i]
		p.i++
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = &Expr{op: op, left: l, right: r}
	}
}

func (p *exprParser) unary(depth int) (*Expr, error) {
	if depth > maxExprDepth {
		return nil, p.fail("the expression nests deeper than %d levels", maxExprDepth)
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, p.fail("the expression ends early")
	}
	c := p.s[p.i]
	switch {
	case c == '-':
		p.i++
		e, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Expr{op: 'n', left: e}, nil
	case c == '(':
		p.i++
		e, err := p.sum(depth + 1)
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, p.fail("missing )")
		}
		p.i++
		return e, nil
	case c >= '0' && c <= '9' || c == '.':
		j := p.i
		for j < len(p.s) && (p.s[j] >= '0' && p.s[j] <= '9' || p.s[j] == '.') {
			j++
		}
		v, err := strconv.ParseFloat(p.s[p.i:j], 64)
		if err != nil {
			return nil, p.fail("bad number %q", p.s[p.i:j])
		}
		p.i = j
		return &Expr{num: v}, nil
	case c >= 'a' && c <= 'z':
		j := p.i
		for j < len(p.s) && (p.s[j] >= 'a' && p.s[j] <= 'z' || p.s[j] >= 'A' && p.s[j] <= 'Z' || p.s[j] >= '0' && p.s[j] <= '9' || p.s[j] == '_') {
			j++
		}
		id := p.s[p.i:j]
		p.i = j
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '(' {
			return nil, p.fail("the function %s is not supported", id)
		}
		return &Expr{id: id}, nil
	}
	return nil, p.fail("unexpected %q", string(c))
}

// Refs returns the query ids e uses, in order of first use.
func (e *Expr) Refs() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(*Expr)
	walk = func(x *Expr) {
		if x == nil {
			return
		}
		if x.op == 0 && x.id != "" && !seen[x.id] {
			seen[x.id] = true
			out = append(out, x.id)
		}
		walk(x.left)
		walk(x.right)
	}
	walk(e)
	return out
}

// Eval evaluates e with the ids' values; ok is false when an id has no
// value or a division is by zero (no datapoint, as in metric math).
func (e *Expr) Eval(vals map[string]float64) (float64, bool) {
	switch e.op {
	case 0:
		if e.id == "" {
			return e.num, true
		}
		v, ok := vals[e.id]
		return v, ok
	case 'n':
		v, ok := e.left.Eval(vals)
		return -v, ok
	}
	l, ok := e.left.Eval(vals)
	if !ok {
		return 0, false
	}
	r, ok := e.right.Eval(vals)
	if !ok {
		return 0, false
	}
	switch e.op {
	case '+':
		return l + r, true
	case '-':
		return l - r, true
	case '*':
		return l * r, true
	}
	if r == 0 {
		return 0, false
	}
	return l / r, true
}

// String renders e with the parentheses its tree needs and no more:
// operators are left-associative, * and / bind tighter than + and -, and
// unary minus tightest. A chain such as m1 * m2 * m3 prints as it was
// written, so a printed expression parses back within the nesting limit.
func (e *Expr) String() string {
	switch e.op {
	case 0:
		if e.id != "" {
			return e.id
		}
		return strconv.FormatFloat(e.num, 'f', -1, 64)
	case 'n':
		return "-" + e.left.operand(3, false)
	}
	p := e.prec()
	return e.left.operand(p, false) + " " + string(e.op) + " " + e.right.operand(p, true)
}

// prec is the binding strength of e's operator: 1 for + and -, 2 for *
// and /, 3 for unary minus and leaves.
func (e *Expr) prec() int {
	switch e.op {
	case '+', '-':
		return 1
	case '*', '/':
		return 2
	}
	return 3
}

// operand renders e as an operand of an operator of strength p,
// parenthesised when it binds less tightly (or as tightly, on the right
// of a left-associative operator).
func (e *Expr) operand(p int, right bool) string {
	if q := e.prec(); q < p || (right && q == p && q < 3) {
		return "(" + e.String() + ")"
	}
	return e.String()
}
