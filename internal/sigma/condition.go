package sigma

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// node is a compiled condition.
type node interface {
	eval(e *evalCtx, memo []int8) bool
}

type andNode []node
type orNode []node
type notNode struct{ n node }

// selNode refers to a selection; idx is its slot in the evaluation memo.
type selNode struct {
	sel *selection
	idx int
}

func (a andNode) eval(e *evalCtx, memo []int8) bool {
	for _, n := range a {
		if !n.eval(e, memo) {
			return false
		}
	}
	return true
}

func (o orNode) eval(e *evalCtx, memo []int8) bool {
	for _, n := range o {
		if n.eval(e, memo) {
			return true
		}
	}
	return false
}

func (n notNode) eval(e *evalCtx, memo []int8) bool { return !n.n.eval(e, memo) }

func (s selNode) eval(e *evalCtx, memo []int8) bool {
	switch memo[s.idx] {
	case 1:
		return true
	case 2:
		return false
	}
	ok := s.sel.matchSel(e)
	if ok {
		memo[s.idx] = 1
	} else {
		memo[s.idx] = 2
	}
	return ok
}

// condParser parses Sigma's condition grammar. Precedence, loosest
// first: or, and, not, "x of", parentheses.
type condParser struct {
	toks []string
	pos  int
	sels map[string]*selection
	slot map[string]int
}

func tokenize(s string) []string {
	var toks []string
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '|':
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

func parseCondition(s string, sels map[string]*selection) (node, error) {
	names := make([]string, 0, len(sels))
	for k := range sels {
		names = append(names, k)
	}
	sort.Strings(names)
	slot := make(map[string]int, len(names))
	for i, k := range names {
		slot[k] = i
	}
	p := &condParser{toks: tokenize(s), sels: sels, slot: slot}
	if len(p.toks) == 0 {
		return nil, errors.New("empty condition")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		if p.toks[p.pos] == "|" {
			return nil, errors.New("unsupported: aggregation after | (the old syntax; write a correlation rule)")
		}
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return n, nil
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) or() (node, error) {
	var ns orNode
	for {
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
		if strings.ToLower(p.peek()) != "or" {
			break
		}
		p.pos++
	}
	if len(ns) == 1 {
		return ns[0], nil
	}
	return ns, nil
}

func (p *condParser) and() (node, error) {
	var ns andNode
	for {
		n, err := p.not()
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
		if strings.ToLower(p.peek()) != "and" {
			break
		}
		p.pos++
	}
	if len(ns) == 1 {
		return ns[0], nil
	}
	return ns, nil
}

func (p *condParser) not() (node, error) {
	if strings.ToLower(p.peek()) == "not" {
		p.pos++
		n, err := p.not()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (node, error) {
	t := p.peek()
	switch lt := strings.ToLower(t); {
	case t == "":
		return nil, errors.New("condition ends early")
	case t == "(":
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, errors.New("missing )")
		}
		p.pos++
		return n, nil
	case t == ")" || t == "|" || lt == "and" || lt == "or" || lt == "of":
		return nil, fmt.Errorf("unexpected %q", t)
	case lt == "1" || lt == "all" || lt == "any":
		if p.pos+1 < len(p.toks) && strings.ToLower(p.toks[p.pos+1]) == "of" {
			p.pos += 2
			target := p.peek()
			if target == "" || target == "(" || target == ")" || target == "|" {
				return nil, fmt.Errorf("%q names no selections", t+" of")
			}
			p.pos++
			return p.of(lt == "all", target)
		}
	}
	if isNumber(t) && p.pos+1 < len(p.toks) && strings.ToLower(p.toks[p.pos+1]) == "of" {
		return nil, fmt.Errorf("unsupported: %q (only 1 of and all of)", t+" of")
	}
	sel, ok := p.sels[t]
	if !ok {
		return nil, fmt.Errorf("names %q, which is not a selection of the detection", t)
	}
	p.pos++
	return selNode{sel: sel, idx: p.slot[t]}, nil
}

func isNumber(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// of builds "1 of X" / "all of X": X is them (every selection not
// starting with _) or a name with * wildcards.
func (p *condParser) of(all bool, target string) (node, error) {
	var names []string
	for k := range p.sels {
		if target == "them" {
			if !strings.HasPrefix(k, "_") {
				names = append(names, k)
			}
			continue
		}
		if ok, err := path.Match(target, k); err != nil {
			return nil, fmt.Errorf("pattern %q: %v", target, err)
		} else if ok {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%q matches no selection", target)
	}
	sort.Strings(names)
	var ns []node
	for _, k := range names {
		ns = append(ns, selNode{sel: p.sels[k], idx: p.slot[k]})
	}
	if all {
		return andNode(ns), nil
	}
	return orNode(ns), nil
}
