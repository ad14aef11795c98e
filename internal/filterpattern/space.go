package filterpattern

import (
	"strconv"
	"strings"
)

// A spaceField is one field of a space-delimited pattern.
type spaceField struct {
	name     string // "" for an unnamed field
	ellipsis bool
	// alts are the field's conditions: alternatives (||) of conjunctions
	// (&&); none means any value.
	alts [][]spaceCond
}

type spaceCond struct {
	op  condOp
	val value
}

// A spacePattern is a compiled `[ ... ]` pattern.
type spacePattern struct {
	fields   []spaceField
	ellipsis int // index of `...`, or -1
	all      bool
}

func compileSpace(body string) (*spacePattern, error) {
	sp := &spacePattern{ellipsis: -1}
	if strings.TrimSpace(body) == "" {
		sp.all = true
		return sp, nil
	}
	n := 0
	p := &jsonParser{s: body, regexes: &n}
	seen := map[string]bool{}
	for {
		p.skipWS()
		var f spaceField
		switch {
		case p.pos >= len(p.s) || p.s[p.pos] == ',':
		case strings.HasPrefix(p.s[p.pos:], "..."):
			p.pos += 3
			f.ellipsis = true
			if sp.ellipsis >= 0 {
				return nil, invalid("Duplicate field '...'")
			}
			sp.ellipsis = len(sp.fields)
		default:
			name, err := p.spaceName()
			if err != nil {
				return nil, err
			}
			f.name = name
			if seen[name] {
				return nil, invalid("Duplicate field '%s'", name)
			}
			seen[name] = true
			if err := p.spaceConds(&f); err != nil {
				return nil, err
			}
		}
		sp.fields = append(sp.fields, f)
		p.skipWS()
		if p.pos >= len(p.s) {
			break
		}
		if p.s[p.pos] != ',' {
			return nil, p.unexpected()
		}
		p.pos++
	}
	return sp, nil
}

func (p *jsonParser) spaceName() (string, error) {
	start := p.pos
	if p.pos < len(p.s) && (isLetter(p.s[p.pos]) || p.s[p.pos] == '_') {
		for p.pos < len(p.s) && (isLetter(p.s[p.pos]) || p.s[p.pos] == '_' || p.s[p.pos] >= '0' && p.s[p.pos] <= '9') {
			p.pos++
		}
	}
	if p.pos == start {
		return "", p.unexpected()
	}
	return p.s[start:p.pos], nil
}

// spaceConds reads `name op value` conditions joined by && and || after
// the field's name (the first condition's name is already read).
func (p *jsonParser) spaceConds(f *spaceField) error {
	p.skipWS()
	if p.pos >= len(p.s) || p.s[p.pos] == ',' {
		return nil
	}
	var conj []spaceCond
	first := true
	for {
		if !first {
			p.skipWS()
			name, err := p.spaceName()
			if err != nil {
				return err
			}
			if name != f.name {
				return invalid("Multiple variables used in a single filter. Var1 : %s, Var2 : %s", f.name, name)
			}
		}
		first = false
		p.skipWS()
		var c spaceCond
		switch {
		case p.pos >= len(p.s):
			return errInvalid
		case strings.HasPrefix(p.s[p.pos:], "!="):
			c.op, p.pos = opNe, p.pos+2
		case strings.HasPrefix(p.s[p.pos:], "<="):
			c.op, p.pos = opLe, p.pos+2
		case strings.HasPrefix(p.s[p.pos:], ">="):
			c.op, p.pos = opGe, p.pos+2
		case p.s[p.pos] == '<':
			c.op, p.pos = opLt, p.pos+1
		case p.s[p.pos] == '>':
			c.op, p.pos = opGt, p.pos+1
		case p.s[p.pos] == '=':
			c.op, p.pos = opEq, p.pos+1
		default:
			return p.unexpected()
		}
		v, err := p.parseValue(c.op >= opLt && c.op <= opGe)
		if err != nil {
			return err
		}
		c.val = v
		conj = append(conj, c)
		p.skipWS()
		switch {
		case strings.HasPrefix(p.s[p.pos:], "&&"):
			p.pos += 2
		case strings.HasPrefix(p.s[p.pos:], "||"):
			p.pos += 2
			f.alts = append(f.alts, conj)
			conj = nil
		case p.pos >= len(p.s) || p.s[p.pos] == ',':
			f.alts = append(f.alts, conj)
			return nil
		default:
			return p.unexpected()
		}
	}
}

// A token is one field of a log message.
type token struct {
	raw   int // where the token starts in the message
	value string
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// tokenize splits a message into fields: runs of blanks separate them; a
// field opening with '"' runs to the next '"' and one opening with '['
// to the next ']' (without them); an unclosed one is ordinary text.
func tokenize(msg []byte) []token {
	var out []token
	i := 0
	for {
		for i < len(msg) && isBlank(msg[i]) {
			i++
		}
		if i >= len(msg) {
			return out
		}
		start := i
		if c := msg[i]; c == '"' || c == '[' {
			closer := byte('"')
			if c == '[' {
				closer = ']'
			}
			if k := indexByte(msg[i+1:], closer); k >= 0 {
				out = append(out, token{raw: start, value: string(msg[i+1 : i+1+k])})
				i += k + 2
				continue
			}
		}
		for i < len(msg) && !isBlank(msg[i]) {
			i++
		}
		out = append(out, token{raw: start, value: string(msg[start:i])})
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (sp *spacePattern) match(msg []byte, extract bool) (map[string]string, bool) {
	toks := tokenize(msg)
	var ex map[string]string
	if extract {
		ex = map[string]string{}
	}
	if sp.all {
		if extract {
			for k, t := range toks {
				ex["$"+strconv.Itoa(k+1)] = t.value
			}
		}
		return ex, true
	}
	put := func(f *spaceField, pos int, v string) bool {
		if !f.test(v) {
			return false
		}
		if extract {
			if f.name != "" {
				ex["$"+f.name] = v
			} else {
				ex["$"+strconv.Itoa(pos+1)] = v
			}
		}
		return true
	}
	nf := len(sp.fields)
	if sp.ellipsis < 0 {
		if len(toks) < nf {
			return nil, false
		}
		for k := 0; k < nf-1; k++ {
			if !put(&sp.fields[k], k, toks[k].value) {
				return nil, false
			}
		}
		last := toks[nf-1].value
		if len(toks) > nf {
			last = string(msg[toks[nf-1].raw:])
		}
		if !put(&sp.fields[nf-1], nf-1, last) {
			return nil, false
		}
		return ex, true
	}
	before, after := sp.ellipsis, nf-sp.ellipsis-1
	if len(toks) < before+after {
		return nil, false
	}
	for k := 0; k < before; k++ {
		if !put(&sp.fields[k], k, toks[k].value) {
			return nil, false
		}
	}
	for k := 0; k < after; k++ {
		pos := len(toks) - after + k
		if !put(&sp.fields[before+1+k], pos, toks[pos].value) {
			return nil, false
		}
	}
	if extract {
		for pos := before; pos < len(toks)-after; pos++ {
			ex["$"+strconv.Itoa(pos+1)] = toks[pos].value
		}
	}
	return ex, true
}

func (f *spaceField) test(v string) bool {
	if len(f.alts) == 0 {
		return true
	}
	for _, conj := range f.alts {
		ok := true
		for i := range conj {
			if !conj[i].test(v) {
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

func (c *spaceCond) test(v string) bool {
	switch c.op {
	case opEq:
		return c.equal(v)
	case opNe:
		return !c.equal(v)
	}
	if !isNumberLiteral(v) {
		return false
	}
	n, ok := readEventNumber([]byte(v))
	if !ok {
		return false
	}
	r := n.cmp(&c.val.num)
	switch c.op {
	case opLt:
		return r < 0
	case opLe:
		return r <= 0
	case opGt:
		return r > 0
	case opGe:
		return r >= 0
	}
	return false
}

func (c *spaceCond) equal(v string) bool {
	switch c.val.kind {
	case vNumber:
		if isNumberLiteral(v) {
			if n, ok := readEventNumber([]byte(v)); ok {
				return n.cmp(&c.val.num) == 0
			}
		}
		return v == c.val.num.text
	case vRegex:
		return c.val.re.MatchString(v)
	}
	return c.val.text.match([]byte(v))
}
