package eventpattern

import (
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// Error is an invalid pattern. Message is what EventBridge answers in its
// InvalidEventPatternException for the same pattern: "Event pattern is not
// valid. Reason: …" (the first line of AWS's message; AWS appends the parser
// position on further lines, which this package does not reproduce).
type Error struct {
	Message string
}

// Error returns Message.
func (e *Error) Error() string { return e.Message }

func invalid(reason string) *Error {
	return &Error{Message: "Event pattern is not valid. Reason: " + reason}
}

// MaxCombinations is how many alternatives the "$or" operators of one
// pattern may expand to (EventBridge's documented limit is 1000).
const MaxCombinations = 1000

// maxPatternBytes bounds the pattern text (EventBridge accepts at most 4096
// characters in PutRule; TestEventPattern is checked by its caller).
const maxPatternBytes = 1 << 20

// Pattern is a compiled event pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	src      string
	branches []*branch
	reg      *registry // the field paths, indexed by field.pathID
}

// branch is one alternative after "$or" expansion: every field must match.
type branch struct {
	fields []*field
}

// field is one path of a branch with its alternatives.
type field struct {
	path     string
	pathID   int
	matchers []matcher
	absent   bool // an {"exists": false} alternative: matches when the path has no value
}

// String returns the pattern's source text.
func (p *Pattern) String() string { return p.src }

// Compile parses and checks an event pattern.
func Compile(pattern string) (*Pattern, error) {
	if len(pattern) > maxPatternBytes {
		return nil, invalid("the event pattern is longer than " + strconv.Itoa(maxPatternBytes) + " bytes")
	}
	var pp fastjson.Parser
	if err := validJSON([]byte(pattern)); err != nil {
		return nil, invalid("the event pattern is not valid JSON: " + err.Error())
	}
	v, err := pp.Parse(pattern)
	if err != nil {
		return nil, invalid("the event pattern is not valid JSON: " + err.Error())
	}
	if v.Type() != fastjson.TypeObject {
		return nil, invalid("Filter is not an object")
	}
	c := &compiler{}
	rules, e := c.object(nil, "", v, false)
	if e != nil {
		return nil, e
	}
	p := &Pattern{src: pattern, reg: newRegistry()}
	for _, r := range rules {
		b := &branch{}
		for path, alts := range r {
			f := &field{path: path, pathID: p.reg.add(path)}
			for _, m := range alts {
				if m == nil {
					f.absent = true
					continue
				}
				f.matchers = append(f.matchers, m)
			}
			b.fields = append(b.fields, f)
		}
		sort.Slice(b.fields, func(i, j int) bool { return b.fields[i].path < b.fields[j].path })
		p.branches = append(p.branches, b)
	}
	return p, nil
}

// rule is one branch while compiling: path → alternatives (nil = exists:false).
type rule map[string][]matcher

type compiler struct{}

func copyRules(rs []rule) []rule {
	out := make([]rule, len(rs))
	for i, r := range rs {
		n := make(rule, len(r))
		for k, v := range r {
			n[k] = v
		}
		out[i] = n
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// reservedInOr are names EventBridge refuses as field names inside "$or".
var reservedInOr = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true,
	"anything-but": true, "exists": true, "wildcard": true, "numeric": true, "cidr": true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true,
	"regex": true, "not-wildcard": true, "not-equals-ignore-case": true,
	"date-after": true, "date-on-or-after": true, "date-before": true, "date-on-or-before": true,
	"in-date-range": true, "ip-address-in-range": true, "ip-address-not-in-range": true,
}

// object compiles the members of a pattern object at path into rules.
func (c *compiler) object(rules []rule, path string, v *fastjson.Value, insideOr bool) ([]rule, *Error) {
	o, _ := v.Object()
	if o.Len() == 0 {
		return nil, invalid("Empty objects are not allowed")
	}
	var e *Error
	o.Visit(func(k []byte, val *fastjson.Value) {
		if e != nil {
			return
		}
		key := string(k)
		if key == "$or" {
			rules, e = c.or(rules, path, val)
			return
		}
		if insideOr && reservedInOr[key] {
			e = invalid(key + " is Ruler reserved fieldName which cannot be used inside $or.")
			return
		}
		switch val.Type() {
		case fastjson.TypeObject:
			rules, e = c.object(rules, join(path, key), val, insideOr)
		case fastjson.TypeArray:
			var alts []matcher
			alts, e = c.values(val)
			if e == nil {
				if len(rules) == 0 {
					rules = []rule{{}}
				}
				p := join(path, key)
				for _, r := range rules {
					r[p] = alts // a repeated key: the later one wins
				}
			}
		default:
			e = invalid(strconv.Quote(key) + " must be an object or an array")
		}
	})
	return rules, e
}

func (c *compiler) or(rules []rule, path string, v *fastjson.Value) ([]rule, *Error) {
	if v.Type() != fastjson.TypeArray {
		return nil, invalid("It must be an Array followed with $or.")
	}
	arr, _ := v.Array()
	var out []rule
	for _, item := range arr {
		if item.Type() != fastjson.TypeObject {
			return nil, invalid("Only JSON object is allowed in array of $or relationship.")
		}
		n := copyRules(rules)
		if len(n) == 0 {
			n = []rule{{}}
		}
		n, e := c.object(n, path, item, true)
		if e != nil {
			return nil, e
		}
		out = append(out, n...)
		if len(out) > MaxCombinations {
			return nil, invalid("The total number of combinations of the event pattern's $or alternatives exceeds " + strconv.Itoa(MaxCombinations))
		}
	}
	if len(arr) < 2 {
		return nil, invalid("There must have at least 2 Objects in $or relationship.")
	}
	return out, nil
}

// values compiles the array of alternatives of one field.
func (c *compiler) values(v *fastjson.Value) ([]matcher, *Error) {
	arr, _ := v.Array()
	var alts []matcher
	for _, item := range arr {
		switch item.Type() {
		case fastjson.TypeObject:
			m, absent, e := c.expression(item)
			if e != nil {
				return nil, e
			}
			if absent {
				alts = append(alts, nil)
			} else {
				alts = append(alts, m)
			}
		case fastjson.TypeString:
			alts = append(alts, newExactString(string(item.GetStringBytes())))
		case fastjson.TypeNumber:
			alts = append(alts, newExactNumber(numberText(item)))
		case fastjson.TypeNull, fastjson.TypeTrue, fastjson.TypeFalse:
			alts = append(alts, literal(item.Type()))
		default:
			return nil, invalid("Match value must be String, number, true, false, or null")
		}
	}
	if len(alts) == 0 {
		return nil, invalid("Empty arrays are not allowed")
	}
	return alts, nil
}

// numberText returns a JSON number's text as written.
func numberText(v *fastjson.Value) string {
	return string(v.MarshalTo(nil))
}

const onlyOneKey = "Only one key allowed in match expression"
const tooManyElements = "Too many elements in numeric expression"

// expression compiles one operator object such as {"prefix": "x"}.
// absent reports {"exists": false}.
func (c *compiler) expression(v *fastjson.Value) (m matcher, absent bool, e *Error) {
	o, _ := v.Object()
	if o.Len() == 0 {
		return nil, false, invalid("Match expression name not found")
	}
	var name string
	var val *fastjson.Value
	o.Visit(func(k []byte, x *fastjson.Value) {
		if val == nil {
			name, val = string(k), x
		}
	})
	extra := o.Len() > 1
	single := func(m matcher, e *Error) (matcher, bool, *Error) {
		if e == nil && extra {
			e = invalid(onlyOneKey)
		}
		return m, false, e
	}
	switch name {
	case "prefix", "suffix":
		if val.Type() == fastjson.TypeObject {
			m, e = foldAffix(name, val)
			return single(m, e)
		}
		if val.Type() != fastjson.TypeString {
			return nil, false, invalid(name + " match pattern must be a string")
		}
		s := string(val.GetStringBytes())
		if name == "prefix" {
			return single(prefixMatcher(s), nil)
		}
		return single(suffixMatcher(s), nil)
	case "equals-ignore-case":
		if val.Type() != fastjson.TypeString {
			return nil, false, invalid("equals-ignore-case match pattern must be a string")
		}
		return single(foldMatcher(string(val.GetStringBytes())), nil)
	case "wildcard":
		if val.Type() != fastjson.TypeString {
			return nil, false, invalid("wildcard match pattern must be a string")
		}
		w, e := compileWildcard(string(val.GetStringBytes()))
		if e != nil {
			return nil, false, e
		}
		return single(w, nil)
	case "numeric":
		if val.Type() != fastjson.TypeArray {
			return nil, false, invalid("Value of numeric must be an array.")
		}
		r, e := numericRange(val)
		if e == nil && extra {
			e = invalid(tooManyElements)
		}
		return r, false, e
	case "anything-but":
		m, e := anythingBut(val)
		if e == nil && extra {
			e = invalid(tooManyElements)
		}
		return m, false, e
	case "exists":
		switch val.Type() {
		case fastjson.TypeTrue:
			if extra {
				return nil, false, invalid(onlyOneKey)
			}
			return existsMatcher{}, false, nil
		case fastjson.TypeFalse:
			if extra {
				return nil, false, invalid(onlyOneKey)
			}
			return nil, true, nil
		}
		return nil, false, invalid("exists match pattern must be either true or false.")
	case "cidr":
		if val.Type() != fastjson.TypeString {
			return nil, false, invalid("prefix match pattern must be a string")
		}
		m, e := compileCIDR(string(val.GetStringBytes()))
		if e != nil {
			return nil, false, e
		}
		return single(m, nil)
	}
	return nil, false, invalid("Unrecognized match type " + name)
}

// foldAffix compiles {"prefix": {"equals-ignore-case": "x"}} and its suffix twin.
func foldAffix(op string, v *fastjson.Value) (matcher, *Error) {
	o, _ := v.Object()
	title := strings.ToUpper(op[:1]) + op[1:]
	if o.Len() == 0 {
		return nil, invalid(title + " expression name not found")
	}
	var name string
	var val *fastjson.Value
	o.Visit(func(k []byte, x *fastjson.Value) {
		if val == nil {
			name, val = string(k), x
		}
	})
	if name != "equals-ignore-case" {
		return nil, invalid("Unsupported " + op + " pattern: " + name)
	}
	if val.Type() != fastjson.TypeString {
		return nil, invalid("equals-ignore-case match pattern must be a string")
	}
	if o.Len() > 1 {
		return nil, invalid(onlyOneKey)
	}
	s := string(val.GetStringBytes())
	if op == "prefix" {
		return prefixFoldMatcher(s), nil
	}
	return suffixFoldMatcher(s), nil
}

// anythingBut compiles the value of an "anything-but" operator.
func anythingBut(v *fastjson.Value) (matcher, *Error) {
	kind := ""
	if v.Type() == fastjson.TypeObject {
		o, _ := v.Object()
		if o.Len() == 0 {
			return nil, invalid("Anything-But expression name not found")
		}
		var inner *fastjson.Value
		o.Visit(func(k []byte, x *fastjson.Value) {
			if inner == nil {
				kind, inner = string(k), x
			}
		})
		switch kind {
		case "equals-ignore-case", "prefix", "suffix", "wildcard":
		default:
			return nil, invalid("Unsupported anything-but pattern: " + kind)
		}
		m, e := anythingButValue(kind, inner)
		if e == nil && o.Len() > 1 {
			e = invalid(tooManyElements)
		}
		return m, e
	}
	return anythingButValue("", v)
}

func anythingButValue(kind string, v *fastjson.Value) (matcher, *Error) {
	switch v.Type() {
	case fastjson.TypeArray, fastjson.TypeString, fastjson.TypeNumber:
	default:
		return nil, invalid("Value of anything-but must be an array or single string/number value.")
	}
	var items []*fastjson.Value
	list := v.Type() == fastjson.TypeArray
	if list {
		items, _ = v.Array()
	} else {
		items = []*fastjson.Value{v}
	}
	if kind == "" {
		return anythingButPlain(items, list)
	}
	var strs []string
	for _, it := range items {
		if it.Type() != fastjson.TypeString {
			switch kind {
			case "equals-ignore-case":
				return nil, invalid("Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.")
			case "wildcard":
				return nil, invalid("wildcard match pattern must be a string")
			}
			return nil, invalid("prefix/suffix match pattern must be a string")
		}
		s := string(it.GetStringBytes())
		if (kind == "prefix" || kind == "suffix") && s == "" {
			return nil, invalid("Null prefix/suffix not allowed")
		}
		strs = append(strs, s)
	}
	switch kind {
	case "equals-ignore-case":
		return &notFold{vals: strs}, nil
	case "prefix":
		return &notPrefix{vals: strs}, nil
	case "suffix":
		return &notSuffix{vals: strs}, nil
	}
	n := &notWildcard{}
	for _, s := range strs {
		w, e := compileWildcard(s)
		if e != nil {
			return nil, e
		}
		n.vals = append(n.vals, w)
	}
	return n, nil
}

func anythingButPlain(items []*fastjson.Value, list bool) (matcher, *Error) {
	m := &notValues{strs: map[string]struct{}{}}
	hasNum, hasStr := false, false
	for _, it := range items {
		switch it.Type() {
		case fastjson.TypeString:
			m.strs[string(it.GetStringBytes())] = struct{}{}
			hasStr = true
		case fastjson.TypeNumber:
			t := numberText(it)
			f, ok := comparable(t)
			if !ok {
				return nil, invalid("Cannot compare number : " + t)
			}
			m.nums = append(m.nums, f)
			hasNum = true
		default:
			if list {
				return nil, invalid("Inside anything but list, start|null|boolean is not supported.")
			}
			return nil, invalid("Inside anything-but list, start|null|boolean is not supported.")
		}
	}
	if hasNum == hasStr {
		return nil, invalid("Inside anything but list, either all values are number or string, mixed type is not supported")
	}
	m.numeric = hasNum
	return m, nil
}

// numericRange compiles the array of a "numeric" operator.
func numericRange(v *fastjson.Value) (matcher, *Error) {
	arr, _ := v.Array()
	at := func(i int) *fastjson.Value {
		if i < len(arr) {
			return arr[i]
		}
		return nil
	}
	text := func(x *fastjson.Value) string {
		if x == nil {
			return "]"
		}
		if x.Type() == fastjson.TypeString {
			return string(x.GetStringBytes())
		}
		return string(x.MarshalTo(nil))
	}
	isNum := func(x *fastjson.Value) bool { return x != nil && x.Type() == fastjson.TypeNumber }
	num := func(x *fastjson.Value) (float64, *Error) {
		t := numberText(x)
		f, ok := comparable(t)
		if !ok {
			return 0, invalid("Cannot compare number : " + t)
		}
		return f, nil
	}
	op0 := at(0)
	if op0 == nil || op0.Type() != fastjson.TypeString {
		return nil, invalid("Invalid member in numeric match: " + text(op0))
	}
	op := string(op0.GetStringBytes())
	r := &numRange{}
	switch op {
	case "=", "<=", "<":
		if !isNum(at(1)) {
			name := op
			if op == "=" {
				name = "equals"
			}
			return nil, invalid("Value of " + name + " must be numeric")
		}
		f, e := num(at(1))
		if e != nil {
			return nil, e
		}
		if len(arr) > 2 {
			return nil, invalid(tooManyElements)
		}
		switch op {
		case "=":
			r.hasLo, r.hasHi, r.lo, r.hi = true, true, f, f
		case "<=":
			r.hasHi, r.hi = true, f
		case "<":
			r.hasHi, r.hi, r.hiOpen = true, f, true
		}
		return r, nil
	case ">=", ">":
		if !isNum(at(1)) {
			return nil, invalid("Value of " + op + " must be numeric")
		}
		f, e := num(at(1))
		if e != nil {
			return nil, e
		}
		r.hasLo, r.lo, r.loOpen = true, f, op == ">"
		if len(arr) == 2 {
			return r, nil
		}
		op2 := at(2)
		if op2.Type() != fastjson.TypeString {
			return nil, invalid("Bad value in numeric range: " + text(op2))
		}
		top := string(op2.GetStringBytes())
		if top != "<" && top != "<=" {
			return nil, invalid("Bad numeric range operator: " + top)
		}
		if !isNum(at(3)) {
			return nil, invalid("Value of " + top + " must be numeric")
		}
		g, e := num(at(3))
		if e != nil {
			return nil, e
		}
		if len(arr) > 4 {
			return nil, invalid("Too many terms in numeric range expression")
		}
		if !(f < g) {
			return nil, invalid("Bottom must be less than top")
		}
		r.hasHi, r.hi, r.hiOpen = true, g, top == "<"
		return r, nil
	}
	return nil, invalid("Unrecognized numeric range operator: " + op)
}
