package iampolicy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Condition is one operator/key pair of a Condition block, with its
// values: several values are alternatives (OR); the conditions of a
// statement must all hold (AND).
type Condition struct {
	Operator string // as written, e.g. "ForAnyValue:StringLikeIfExists"
	Key      string // as written, e.g. "aws:SourceIp"
	Values   []string

	kind     opKind
	cmp      cmpOp
	negate   bool
	ifExists bool
	set      setQualifier
	hasVar   bool // string or ARN values hold ${...} policy variables
	prefixes []netip.Prefix
	nums     []float64
	times    []time.Time
	nullWant []bool // Null: true = the key must be absent
}

type opKind int

const (
	opString opKind = iota
	opStringFold
	opStringLike
	opArn
	opIP
	opBool
	opNull
	opNumeric
	opDate
)

type cmpOp int

const (
	cmpEq cmpOp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type setQualifier int

const (
	setNone setQualifier = iota
	setAny
	setAll
)

type operator struct {
	kind   opKind
	cmp    cmpOp
	negate bool
}

var operators = map[string]operator{
	"StringEquals":              {kind: opString},
	"StringNotEquals":           {kind: opString, negate: true},
	"StringEqualsIgnoreCase":    {kind: opStringFold},
	"StringNotEqualsIgnoreCase": {kind: opStringFold, negate: true},
	"StringLike":                {kind: opStringLike},
	"StringNotLike":             {kind: opStringLike, negate: true},
	"ArnEquals":                 {kind: opArn},
	"ArnLike":                   {kind: opArn},
	"ArnNotEquals":              {kind: opArn, negate: true},
	"ArnNotLike":                {kind: opArn, negate: true},
	"IpAddress":                 {kind: opIP},
	"NotIpAddress":              {kind: opIP, negate: true},
	"Bool":                      {kind: opBool},
	"Null":                      {kind: opNull},
	"NumericEquals":             {kind: opNumeric},
	"NumericNotEquals":          {kind: opNumeric, negate: true},
	"NumericLessThan":           {kind: opNumeric, cmp: cmpLt},
	"NumericLessThanEquals":     {kind: opNumeric, cmp: cmpLe},
	"NumericGreaterThan":        {kind: opNumeric, cmp: cmpGt},
	"NumericGreaterThanEquals":  {kind: opNumeric, cmp: cmpGe},
	"DateEquals":                {kind: opDate},
	"DateNotEquals":             {kind: opDate, negate: true},
	"DateLessThan":              {kind: opDate, cmp: cmpLt},
	"DateLessThanEquals":        {kind: opDate, cmp: cmpLe},
	"DateGreaterThan":           {kind: opDate, cmp: cmpGt},
	"DateGreaterThanEquals":     {kind: opDate, cmp: cmpGe},
}

// ParseCondition compiles one condition: operator (with an optional
// IfExists suffix and ForAnyValue:/ForAllValues: prefix), the condition
// key and its values. vars enables ${...} policy variables in string and
// ARN values (policy Version 2012-10-17). Errors say what is wrong.
func ParseCondition(op, key string, values []string, vars bool) (Condition, error) {
	c := Condition{Operator: op, Key: key, Values: values}
	name := op
	if rest, ok := strings.CutPrefix(name, "ForAnyValue:"); ok {
		c.set, name = setAny, rest
	} else if rest, ok := strings.CutPrefix(name, "ForAllValues:"); ok {
		c.set, name = setAll, rest
	}
	if rest, ok := strings.CutSuffix(name, "IfExists"); ok && rest != "Null" {
		c.ifExists, name = true, rest
	}
	o, ok := operators[name]
	if !ok {
		return c, fmt.Errorf("unknown condition operator %q (opentrail supports the String, Arn, IpAddress, Bool, Null, Numeric and Date operators, their IfExists forms and ForAnyValue:/ForAllValues:)", clip(op))
	}
	c.kind, c.cmp, c.negate = o.kind, o.cmp, o.negate
	if key == "" || !strings.Contains(key, ":") {
		return c, fmt.Errorf("%s: condition key %q must be prefaced by a vendor, e.g. aws:SourceIp", clip(op), clip(key))
	}
	if len(values) == 0 {
		return c, fmt.Errorf("%s of %s: no values", clip(op), clip(key))
	}
	bad := func(v, want string) error {
		return fmt.Errorf("%s of %s: %q is not %s", clip(op), clip(key), clip(v), want)
	}
	for _, v := range values {
		switch c.kind {
		case opString, opStringFold, opStringLike, opArn:
			if vars && strings.Contains(v, "${") {
				if err := checkVariables(v); err != nil {
					return c, fmt.Errorf("%s of %s: %v", clip(op), clip(key), err)
				}
				c.hasVar = true
			}
		case opIP:
			p, err := parsePrefix(v)
			if err != nil {
				return c, bad(v, "an IP address or CIDR block such as 203.0.113.0/24 or 2001:db8::/32")
			}
			c.prefixes = append(c.prefixes, p)
		case opBool:
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				return c, bad(v, "true or false")
			}
		case opNull:
			switch strings.ToLower(v) {
			case "true":
				c.nullWant = append(c.nullWant, true)
			case "false":
				c.nullWant = append(c.nullWant, false)
			default:
				return c, bad(v, "true (the key is absent) or false (present)")
			}
		case opNumeric:
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return c, bad(v, "a number")
			}
			c.nums = append(c.nums, n)
		case opDate:
			t, ok := parseDate(v)
			if !ok {
				return c, bad(v, "a date such as 2026-01-31T00:00:00Z or epoch seconds")
			}
			c.times = append(c.times, t)
		}
	}
	if c.kind == opNull && c.set != setNone {
		return c, fmt.Errorf("%s: Null takes no ForAnyValue:/ForAllValues: qualifier", clip(op))
	}
	return c, nil
}

func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return p, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmapBits is what a prefix length loses when an IPv4-mapped IPv6
// address becomes IPv4.
func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

func parseConditions(raw json.RawMessage, vars bool) ([]Condition, *Error) {
	var block map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &block); err != nil || len(block) == 0 {
		return nil, &Error{Element: "Condition", Message: "must be an object of operators, each an object of condition keys and values, e.g. {\"Bool\": {\"aws:SecureTransport\": \"true\"}}"}
	}
	var out []Condition
	for _, op := range slices.Sorted(maps.Keys(block)) {
		keys := block[op]
		if len(keys) == 0 {
			return nil, &Error{Element: "Condition", Message: fmt.Sprintf("operator %q has no condition keys", clip(op))}
		}
		for _, key := range slices.Sorted(maps.Keys(keys)) {
			rv := keys[key]
			vals, err := ConditionValues(rv)
			if err != nil {
				return nil, &Error{Element: "Condition", Message: fmt.Sprintf("%s of %s: values must be strings, numbers or booleans, or an array of them", clip(op), clip(key))}
			}
			c, err := ParseCondition(op, key, vals, vars)
			if err != nil {
				return nil, &Error{Element: "Condition", Message: err.Error()}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// ConditionValues reads a condition's value from JSON: a string, number
// or boolean, or a non-empty array of them, as strings.
func ConditionValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if r := bytes.TrimSpace(raw); len(r) > 0 && r[0] == '[' {
		if err := json.Unmarshal(r, &list); err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("empty")
		}
	} else {
		list = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, err
		}
		switch t := x.(type) {
		case string:
			out = append(out, t)
		case bool:
			out = append(out, strconv.FormatBool(t))
		case float64:
			out = append(out, strings.TrimSpace(string(v)))
		default:
			return nil, fmt.Errorf("not a scalar")
		}
	}
	return out, nil
}

// Holds reports whether the condition holds for the request context ctx
// (keys matched case-insensitively), with IAM's rules for missing keys: a
// missing key fails a positive operator and satisfies a negated one;
// ...IfExists holds when the key is missing; ForAnyValue: fails and
// ForAllValues: holds on a missing or empty key.
func (c *Condition) Holds(ctx map[string][]string) bool { return c.holds(ctx) }

func (c *Condition) holds(ctx map[string][]string) bool {
	vals, present := lookup(ctx, c.Key)
	if c.kind == opNull {
		for _, want := range c.nullWant {
			if want != present {
				return true
			}
		}
		return false
	}
	if !present || len(vals) == 0 {
		switch {
		case c.ifExists:
			return true
		case c.set == setAny:
			return false
		case c.set == setAll:
			return true
		}
		return c.negate
	}
	switch c.set {
	case setAny:
		for _, v := range vals {
			if c.matchAny(v, ctx) != c.negate {
				return true
			}
		}
		return false
	case setAll:
		for _, v := range vals {
			if c.matchAny(v, ctx) == c.negate {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if c.matchAny(v, ctx) {
			return !c.negate
		}
	}
	return c.negate
}

// matchAny reports whether the context value v matches any of the
// condition's values, by the positive form of its operator.
func (c *Condition) matchAny(v string, ctx map[string][]string) bool {
	switch c.kind {
	case opIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range c.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	case opBool:
		for _, p := range c.Values {
			if strings.EqualFold(p, v) {
				return true
			}
		}
		return false
	case opNumeric:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		for _, p := range c.nums {
			if compare(c.cmp, cmp.Compare(n, p)) {
				return true
			}
		}
		return false
	case opDate:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		for _, p := range c.times {
			if compare(c.cmp, t.Compare(p)) {
				return true
			}
		}
		return false
	}
	for _, p := range c.Values {
		if c.hasVar && strings.Contains(p, "${") {
			var ok bool
			if p, ok = expand(p, ctx); !ok {
				continue
			}
		}
		var m bool
		switch c.kind {
		case opString:
			m = p == v
		case opStringFold:
			m = strings.EqualFold(p, v)
		case opStringLike:
			m = Match(p, v, false)
		case opArn:
			m = arnMatch(p, v)
		}
		if m {
			return true
		}
	}
	return false
}

func compare(op cmpOp, c int) bool {
	switch op {
	case cmpLt:
		return c < 0
	case cmpLe:
		return c <= 0
	case cmpGt:
		return c > 0
	case cmpGe:
		return c >= 0
	}
	return c == 0
}

// arnMatch matches an ARN against an ArnEquals/ArnLike pattern: each of
// the six colon-separated parts separately, with wildcards. A pattern of
// fewer parts (such as "*") is matched against the whole ARN.
func arnMatch(pattern, arn string) bool {
	if strings.Count(pattern, ":") < 5 {
		return Match(pattern, arn, false)
	}
	for part := 0; part < 5; part++ {
		p, prest, _ := strings.Cut(pattern, ":")
		a, arest, ok := strings.Cut(arn, ":")
		if !ok || !Match(p, a, false) {
			return false
		}
		pattern, arn = prest, arest
	}
	return Match(pattern, arn, false)
}
