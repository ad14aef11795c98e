package filterpattern

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A step is one accessor of a JSON selector: a member name or an array
// index.
type step struct {
	key   string
	idx   int
	isIdx bool
}

// A selector is a parsed `$.a.b[0]`: the steps up to an optional
// wildcard (`[*]` or `.*`) and the steps after it.
type selector struct {
	text string
	path []step // a definite path, or the path of the wildcard's container
	wild bool
	rest []step // after the wildcard
}

// pathKey is the canonical form of a definite path, so that patterns of a
// Set share a slot for the same path.
func pathKey(path []step) string {
	var b strings.Builder
	for _, s := range path {
		if s.isIdx {
			b.WriteString("\x01")
			b.WriteString(strconv.Itoa(s.idx))
		} else {
			b.WriteString("\x00")
			b.WriteString(s.key)
		}
	}
	return b.String()
}

type condOp uint8

const (
	opEq condOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opIsNull
	opIsTrue
	opIsFalse
	opNotExists
)

type valueKind uint8

const (
	vNumber valueKind = iota // an unquoted number
	vText                    // a quoted string or a bare word; may be a glob
	vRegex
)

// A value is the right-hand side of a comparison.
type value struct {
	kind valueKind
	num  number
	text glob
	re   *regexp.Regexp
}

// A cond is one comparison of a JSON pattern.
type cond struct {
	slot int // index of the selector's (container's) path in the pattern's paths
	sel  selector
	op   condOp
	val  value
}

type exprKind uint8

const (
	exprLeaf exprKind = iota
	exprAnd
	exprOr
	exprIn // several `$.x = "literal"` alternatives on one path
)

type expr struct {
	kind exprKind
	kids []*expr
	leaf *cond
	in   *inSet
}

// An inSet is the alternatives `$.x = a || $.x = b || ...` of exact text
// literals on one definite path, decided by one lookup.
type inSet struct {
	slot int
	lits map[string]struct{}
}

func (in *inSet) eval(st *scanState, ref valRef) bool {
	switch ref.kind {
	case kString:
		_, ok := in.lits[string(st.text(ref))]
		return ok
	case kNumber:
		_, ok := in.lits[javaNumberText(st.msg[ref.start:ref.end])]
		return ok
	}
	return false
}

// optimize merges, in every ||, the exact-text equalities on one path
// into an inSet. The result decides the same as the expression.
func (e *expr) optimize() *expr {
	for i, k := range e.kids {
		e.kids[i] = k.optimize()
	}
	if e.kind != exprOr {
		return e
	}
	groups := map[int][]int{}
	for i, k := range e.kids {
		if k.kind == exprLeaf && k.leaf.op == opEq && !k.leaf.sel.wild && k.leaf.val.kind == vText && k.leaf.val.text.parts == nil {
			groups[k.leaf.slot] = append(groups[k.leaf.slot], i)
		}
	}
	drop := map[int]bool{}
	var merged []*expr
	for slot, idx := range groups {
		if len(idx) < 2 {
			continue
		}
		in := &inSet{slot: slot, lits: map[string]struct{}{}}
		for _, i := range idx {
			in.lits[e.kids[i].leaf.val.text.lit] = struct{}{}
			drop[i] = true
		}
		merged = append(merged, &expr{kind: exprIn, in: in})
	}
	if len(merged) == 0 {
		return e
	}
	kids := merged
	for i, k := range e.kids {
		if !drop[i] {
			kids = append(kids, k)
		}
	}
	if len(kids) == 1 {
		return kids[0]
	}
	e.kids = kids
	return e
}

// A jsonPattern is a compiled `{ ... }` pattern: its expression over the
// values at its paths, and the trie the scanner follows to find them.
type jsonPattern struct {
	root  *expr
	paths []string // canonical path per slot
	steps [][]step // the path per slot
	trie  *tnode
	ident []int // identity slot map
	conds []*cond
}

func (j *jsonPattern) match(msg []byte) bool {
	st := getState(len(j.paths))
	defer putState(st)
	if !st.scan(msg, j.trie) {
		return false
	}
	return j.root.eval(st, j.ident)
}

func (e *expr) eval(st *scanState, slots []int) bool {
	switch e.kind {
	case exprAnd:
		for _, k := range e.kids {
			if !k.eval(st, slots) {
				return false
			}
		}
		return true
	case exprOr:
		for _, k := range e.kids {
			if k.eval(st, slots) {
				return true
			}
		}
		return false
	case exprIn:
		return e.in.eval(st, st.vals[slots[e.in.slot]])
	}
	return e.leaf.eval(st, st.vals[slots[e.leaf.slot]])
}

// eval decides the comparison for the value ref found at the cond's path.
func (c *cond) eval(st *scanState, ref valRef) bool {
	if !c.sel.wild {
		return c.evalOne(st, ref, true)
	}
	// A wildcard: the comparison holds for some element; `!=` holds when
	// the container exists and no element equals; NOT EXISTS when there is
	// no element.
	switch c.op {
	case opNotExists:
		found := false
		st.elements(ref, c.sel.rest, func(valRef) bool { found = true; return false })
		return !found
	case opNe:
		if ref.kind == 0 {
			return false
		}
		eq := false
		st.elements(ref, c.sel.rest, func(e valRef) bool {
			eq = c.equal(st, e)
			return !eq
		})
		return !eq
	}
	hit := false
	st.elements(ref, c.sel.rest, func(e valRef) bool {
		hit = c.evalOne(st, e, false)
		return !hit
	})
	return hit
}

func (c *cond) evalOne(st *scanState, ref valRef, definite bool) bool {
	switch c.op {
	case opNotExists:
		return ref.kind == 0
	case opIsNull:
		// AWS also counts an array holding a null (directly) as null.
		return ref.kind == kNull || definite && ref.kind == kArray && ref.arrNull
	case opIsTrue:
		return ref.kind == kTrue
	case opIsFalse:
		return ref.kind == kFalse
	case opEq:
		return c.equal(st, ref)
	case opNe:
		return (ref.kind == kString || ref.kind == kNumber) && !c.equal(st, ref)
	}
	if ref.kind != kNumber {
		return false
	}
	v, ok := readEventNumber(st.msg[ref.start:ref.end])
	if !ok {
		return false
	}
	r := v.cmp(&c.val.num)
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

func (c *cond) equal(st *scanState, ref valRef) bool {
	switch ref.kind {
	case kString:
		s := st.text(ref)
		switch c.val.kind {
		case vNumber:
			return string(s) == c.val.num.text
		case vText:
			return c.val.text.match(s)
		case vRegex:
			return c.val.re.Match(s)
		}
	case kNumber:
		raw := st.msg[ref.start:ref.end]
		switch c.val.kind {
		case vNumber:
			v, ok := readEventNumber(raw)
			return ok && v.cmp(&c.val.num) == 0
		case vText:
			if c.val.text.all {
				return true
			}
			return c.val.text.match([]byte(javaNumberText(raw)))
		case vRegex:
			return c.val.re.MatchString(javaNumberText(raw))
		}
	}
	return false
}

// ---- parsing ----

type jsonParser struct {
	s         string
	pos       int
	regexes   *int
	wildSels  int
	conds     []*cond
	pathSlots map[string]int
	paths     []string
	steps     [][]step
}

func compileJSON(body string) (*jsonPattern, error) {
	n := 0
	p := &jsonParser{s: body, regexes: &n, pathSlots: map[string]int{}}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.pos < len(p.s) {
		return nil, p.unexpected()
	}
	j := &jsonPattern{root: e.optimize(), paths: p.paths, steps: p.steps, conds: p.conds}
	j.trie = newTrie()
	j.ident = make([]int, len(p.paths))
	for i := range p.paths {
		j.trie.add(p.steps[i], i)
		j.ident[i] = i
	}
	j.trie.finish()
	return j, nil
}

func (p *jsonParser) skipWS() {
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
}

func (p *jsonParser) parseOr() (*expr, error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	kids := []*expr{first}
	for {
		p.skipWS()
		if !strings.HasPrefix(p.s[p.pos:], "||") {
			break
		}
		p.pos += 2
		k, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &expr{kind: exprOr, kids: kids}, nil
}

func (p *jsonParser) parseAnd() (*expr, error) {
	first, err := p.parseFactor()
	if err != nil {
		return nil, err
	}
	kids := []*expr{first}
	for {
		p.skipWS()
		if !strings.HasPrefix(p.s[p.pos:], "&&") {
			break
		}
		p.pos += 2
		k, err := p.parseFactor()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &expr{kind: exprAnd, kids: kids}, nil
}

func (p *jsonParser) parseFactor() (*expr, error) {
	p.skipWS()
	if p.pos >= len(p.s) {
		return nil, errInvalid
	}
	switch p.s[p.pos] {
	case '(':
		p.pos++
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return nil, p.unexpected()
		}
		p.pos++
		return e, nil
	case '$':
		sel, err := p.lexSelector()
		if err != nil {
			return nil, err
		}
		c, err := p.parseComparison(sel)
		if err != nil {
			return nil, err
		}
		return &expr{kind: exprLeaf, leaf: c}, nil
	}
	return nil, p.unexpected()
}

// unexpected is the error for a token the grammar does not allow at pos:
// AWS's lexer error when no token starts there, else the generic one.
func (p *jsonParser) unexpected() error {
	p.skipWS()
	if p.pos >= len(p.s) {
		return errInvalid
	}
	c := p.s[p.pos]
	switch {
	case c == '$':
		save := p.pos
		if _, err := p.lexSelector(); err != nil {
			return err
		}
		p.pos = save
		return errInvalid
	case c == '%':
		if _, _, err := lexRegex(p.s, p.pos); err != nil {
			return err
		}
		return errInvalid
	case c == '"':
		if _, err := p.lexQuoted(); err != nil {
			return err
		}
		return errInvalid
	case c == '[':
		j := p.pos + 1
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j < len(p.s) {
			_, n := utf8.DecodeRuneInString(p.s[j:])
			return errTerm(p.s[p.pos : j+n])
		}
		return errTerm(p.s[p.pos:])
	case c == '&' || c == '|':
		if p.pos+1 < len(p.s) && p.s[p.pos+1] == c {
			return errInvalid
		}
		end := p.pos + 1
		if end < len(p.s) {
			_, n := utf8.DecodeRuneInString(p.s[end:])
			end += n
		}
		return errTerm(p.s[p.pos:end])
	case strings.IndexByte("()=!<>", c) >= 0:
		return errInvalid
	}
	r, n := utf8.DecodeRuneInString(p.s[p.pos:])
	if isValueRune(r) {
		return errInvalid
	}
	return errTerm(p.s[p.pos : p.pos+n])
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// lexSelector reads `$` and its accessors at pos.
func (p *jsonParser) lexSelector() (selector, error) {
	start := p.pos
	i := p.pos + 1
	var steps []step
	wilds, wildAt := 0, -1
	n := 0 // accessors read
	fail := func(j int) (selector, error) {
		if n == 0 {
			end := len(p.s)
			if j < len(p.s) {
				_, w := utf8.DecodeRuneInString(p.s[j:])
				end = j + w
			}
			return selector{}, errTerm(p.s[start:end])
		}
		return selector{}, nil
	}
loop:
	for i < len(p.s) {
		switch p.s[i] {
		case '.':
			j := i + 1
			switch {
			case j < len(p.s) && p.s[j] == '*':
				wilds++
				wildAt = len(steps)
				steps = append(steps, step{})
				i = j + 1
			case j+1 < len(p.s) && p.s[j] == '[' && p.s[j+1] == '\'':
				k := strings.IndexByte(p.s[j+2:], '\'')
				if k < 0 {
					if n == 0 {
						return selector{}, errTerm(p.s[start:])
					}
					break loop
				}
				end := j + 2 + k
				if end+1 >= len(p.s) || p.s[end+1] != ']' {
					if _, err := fail(end + 1); err != nil {
						return selector{}, err
					}
					break loop
				}
				steps = append(steps, step{key: p.s[j+2 : end]})
				i = end + 2
			case j < len(p.s) && isNameByte(p.s[j]):
				k := j
				for k < len(p.s) && isNameByte(p.s[k]) {
					k++
				}
				steps = append(steps, step{key: p.s[j:k]})
				i = k
			default:
				if j < len(p.s) && p.s[j] == '[' {
					j++
				}
				if _, err := fail(j); err != nil {
					return selector{}, err
				}
				break loop
			}
		case '[':
			j := i + 1
			if n == 0 {
				// `$[...]` is refused: a selector starts with `$.`.
				if _, err := fail(i); err != nil {
					return selector{}, err
				}
			}
			if j < len(p.s) && p.s[j] == '*' {
				if j+1 < len(p.s) && p.s[j+1] == ']' {
					wilds++
					wildAt = len(steps)
					steps = append(steps, step{})
					i = j + 2
					break
				}
				break loop
			}
			k := j
			for k < len(p.s) && p.s[k] >= '0' && p.s[k] <= '9' {
				k++
			}
			if k == j || k >= len(p.s) || p.s[k] != ']' {
				break loop
			}
			idx, err := strconv.Atoi(p.s[j:k])
			if err != nil {
				return selector{}, errInvalid
			}
			steps = append(steps, step{idx: idx, isIdx: true})
			i = k + 1
		default:
			break loop
		}
		n++
	}
	if n == 0 {
		return fail(i)
	}
	p.pos = i
	if wilds > 1 {
		return selector{}, errWildcard
	}
	sel := selector{text: p.s[start:i]}
	if wildAt >= 0 {
		p.wildSels++
		if p.wildSels > maxWildcardSelectors {
			return selector{}, errWildcards
		}
		sel.wild = true
		sel.path = steps[:wildAt]
		sel.rest = steps[wildAt+1:]
	} else {
		sel.path = steps
	}
	return sel, nil
}

func (p *jsonParser) slotFor(path []step) int {
	k := pathKey(path)
	if s, ok := p.pathSlots[k]; ok {
		return s
	}
	s := len(p.paths)
	p.pathSlots[k] = s
	p.paths = append(p.paths, k)
	p.steps = append(p.steps, path)
	return s
}

func (p *jsonParser) parseComparison(sel selector) (*cond, error) {
	c := &cond{sel: sel, slot: p.slotFor(sel.path)}
	p.conds = append(p.conds, c)
	p.skipWS()
	if p.pos >= len(p.s) {
		return nil, errInvalid
	}
	if isLetter(p.s[p.pos]) {
		w := p.word()
		switch strings.ToUpper(w) {
		case "IS":
			p.skipWS()
			w2 := p.word()
			switch strings.ToUpper(w2) {
			case "NULL":
				c.op = opIsNull
			case "TRUE":
				c.op = opIsTrue
			case "FALSE":
				c.op = opIsFalse
			case "":
				return nil, p.unexpected()
			default:
				return nil, errTerm(w2)
			}
			return c, nil
		case "NOT":
			p.skipWS()
			if strings.ToUpper(p.word()) != "EXISTS" {
				return nil, errInvalid
			}
			c.op = opNotExists
			return c, nil
		}
		return nil, errInvalid
	}
	switch {
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
		return nil, p.unexpected()
	}
	v, err := p.parseValue(c.op >= opLt && c.op <= opGe)
	if err != nil {
		return nil, err
	}
	c.val = v
	return c, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (p *jsonParser) word() string {
	start := p.pos
	for p.pos < len(p.s) && isLetter(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// isValueRune reports a character of an unquoted value: letters, digits,
// '_', '.', '-', '+' and the glob '*'.
func isValueRune(r rune) bool {
	return r == '_' || r == '.' || r == '-' || r == '+' || r == '*' ||
		r < utf8.RuneSelf && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') ||
		r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

func (p *jsonParser) lexQuoted() (string, error) {
	start := p.pos
	i := p.pos + 1
	var b strings.Builder
	for i < len(p.s) {
		c := p.s[i]
		if c == '\\' && i+1 < len(p.s) && (p.s[i+1] == '"' || p.s[i+1] == '\\') {
			b.WriteByte(p.s[i+1])
			i += 2
			continue
		}
		if c == '"' {
			p.pos = i + 1
			return b.String(), nil
		}
		b.WriteByte(c)
		i++
	}
	return "", errTerm(p.s[start:])
}

func (p *jsonParser) parseValue(ordering bool) (value, error) {
	p.skipWS()
	if p.pos >= len(p.s) {
		return value{}, errInvalid
	}
	c := p.s[p.pos]
	switch {
	case c == '"':
		t, err := p.lexQuoted()
		if err != nil {
			return value{}, err
		}
		if ordering {
			return value{}, errInvalid
		}
		return value{kind: vText, text: compileGlob(t)}, nil
	case c == '%':
		body, end, err := lexRegex(p.s, p.pos)
		if err != nil {
			return value{}, err
		}
		*p.regexes++
		if *p.regexes > maxRegexes {
			return value{}, errRegexLimit
		}
		if ordering {
			return value{}, errInvalid
		}
		re, err := compileRegexBody(body)
		if err != nil {
			return value{}, err
		}
		p.pos = end
		return value{kind: vRegex, re: re}, nil
	}
	start := p.pos
	for p.pos < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[p.pos:])
		if !isValueRune(r) {
			break
		}
		p.pos += n
	}
	w := p.s[start:p.pos]
	if w == "" {
		return value{}, p.unexpected()
	}
	if isNumberLiteral(w) {
		n, ok := parseNumber(w)
		if !ok {
			return value{}, errInvalid
		}
		return value{kind: vNumber, num: n}, nil
	}
	if ordering || strings.EqualFold(w, "null") {
		return value{}, errInvalid
	}
	return value{kind: vText, text: compileGlob(w)}, nil
}

// A glob is a literal where '*' stands for any run of characters.
type glob struct {
	lit   string   // no '*'
	parts []string // split at '*' when the literal has one
	all   bool     // only '*'s
}

func compileGlob(s string) glob {
	if !strings.Contains(s, "*") {
		return glob{lit: s}
	}
	g := glob{parts: strings.Split(s, "*")}
	g.all = strings.Trim(s, "*") == ""
	return g
}

func (g *glob) match(b []byte) bool {
	if g.parts == nil {
		return string(b) == g.lit
	}
	if g.all {
		return true
	}
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if len(b) < len(first)+len(last) || string(b[:len(first)]) != first || string(b[len(b)-len(last):]) != last {
		return false
	}
	b = b[len(first) : len(b)-len(last)]
	for _, mid := range g.parts[1 : len(g.parts)-1] {
		if mid == "" {
			continue
		}
		k := strings.Index(string(b), mid)
		if k < 0 {
			return false
		}
		b = b[k+len(mid):]
	}
	return true
}
