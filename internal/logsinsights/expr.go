package logsinsights

import (
	"strconv"
	"strings"
)

// expr compiles an expression; agg allows aggregate functions (stats).
func (c *compiler) expr(e expr, agg bool) (val, *SyntaxError) {
	switch e := e.(type) {
	case *strLit:
		return val{quoteString(e.s), kStr}, nil
	case *numLit:
		if _, err := strconv.ParseFloat(e.text, 64); err != nil {
			return val{}, c.errf(e, "invalid number %s", e.text)
		}
		return val{e.text + "::DOUBLE", kNum}, nil
	case *durLit:
		return val{}, c.errf(e, "a time period such as %s is only allowed in bin, datefloor and dateceil", e.text)
	case *regexLit:
		return val{}, c.errf(e, "a /regular expression/ is only allowed after like, =~ or in parse")
	case *fieldRef:
		if !e.quoted && (e.name == "true" || e.name == "false") {
			return val{strings.ToUpper(e.name), kBool}, nil
		}
		return c.resolve(e.name, e)
	case *unary:
		x, err := c.expr(e.x, agg)
		if err != nil {
			return val{}, err
		}
		if e.op == "not" {
			return val{"(NOT " + truth(x) + ")", kBool}, nil
		}
		return val{"(-" + num(x) + ")", kNum}, nil
	case *inList:
		x, err := c.expr(e.x, agg)
		if err != nil {
			return val{}, err
		}
		var items []string
		var vals []val
		numeric := x.k == kNum || x.k == kBool
		for _, it := range e.list {
			v, err := c.expr(it, agg)
			if err != nil {
				return val{}, err
			}
			if v.k == kNum {
				numeric = true
			}
			vals = append(vals, v)
		}
		for _, v := range vals {
			if numeric {
				items = append(items, num(v))
			} else {
				items = append(items, str(v))
			}
		}
		lhs := str(x)
		if numeric {
			lhs = num(x)
		}
		op := " IN "
		if e.not {
			op = " NOT IN "
		}
		return val{"(" + lhs + op + "(" + strings.Join(items, ", ") + "))", kBool}, nil
	case *binary:
		return c.binary(e, agg)
	case *call:
		return c.call(e, agg)
	}
	return val{}, errAt(c.src, 0, 0, "unsupported expression")
}

func (c *compiler) binary(e *binary, agg bool) (val, *SyntaxError) {
	switch e.op {
	case "like", "notlike", "=~":
		l, err := c.expr(e.l, agg)
		if err != nil {
			return val{}, err
		}
		var m string
		switch r := e.r.(type) {
		case *regexLit:
			if err := c.checkRegex(r); err != nil {
				return val{}, err
			}
			m = "regexp_matches(" + str(l) + ", " + quoteString(re2(r.re)) + ")"
		case *strLit:
			if e.op == "=~" {
				m = "regexp_matches(" + str(l) + ", " + quoteString(regexpQuote(r.s)) + ")"
			} else {
				m = "contains(" + str(l) + ", " + quoteString(r.s) + ")"
			}
		default:
			return val{}, c.errf(e.r, "expected a string or a /regular expression/")
		}
		if e.op == "notlike" {
			return val{"(NOT coalesce(" + m + ", false))", kBool}, nil
		}
		return val{m, kBool}, nil
	case "and", "or":
		l, err := c.expr(e.l, agg)
		if err != nil {
			return val{}, err
		}
		r, err := c.expr(e.r, agg)
		if err != nil {
			return val{}, err
		}
		return val{"(" + truth(l) + " " + strings.ToUpper(e.op) + " " + truth(r) + ")", kBool}, nil
	}
	l, err := c.expr(e.l, agg)
	if err != nil {
		return val{}, err
	}
	r, err := c.expr(e.r, agg)
	if err != nil {
		return val{}, err
	}
	switch e.op {
	case "+", "-", "*", "/", "%", "^":
		op := e.op
		if op == "^" {
			op = "**"
		}
		if op == "/" {
			return val{"(" + num(l) + " / nullif(" + num(r) + ", 0))", kNum}, nil
		}
		return val{"(" + num(l) + " " + op + " " + num(r) + ")", kNum}, nil
	}
	// Comparison: numbers if either side is one, times if either is a
	// time, else text.
	op := e.op
	if op == "!=" {
		op = "<>"
	}
	switch {
	case l.k == kTime || r.k == kTime:
		if l.k == kNum || r.k == kNum {
			return val{"(" + num(l) + " " + op + " " + num(r) + ")", kBool}, nil
		}
		return val{"(" + timeOf(l) + " " + op + " " + timeOf(r) + ")", kBool}, nil
	case l.k == kBool || r.k == kBool:
		return val{"(" + boolNum(l) + " " + op + " " + boolNum(r) + ")", kBool}, nil
	case l.k == kNum || r.k == kNum:
		return val{"(" + num(l) + " " + op + " " + num(r) + ")", kBool}, nil
	}
	return val{"(" + l.sql + " " + op + " " + r.sql + ")", kBool}, nil
}

// boolNum is v as 1/0 for comparison with a boolean: a text "true"/"false"
// counts as 1/0.
func boolNum(v val) string {
	if v.k == kStr {
		return "(CASE lower(" + v.sql + ") WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE TRY_CAST(" + v.sql + " AS DOUBLE) END)"
	}
	return num(v)
}

func timeOf(v val) string {
	switch v.k {
	case kTime:
		return v.sql
	case kNum:
		return "make_timestamp(CAST(" + v.sql + " AS BIGINT) * 1000)"
	}
	return "TRY_CAST(" + v.sql + " AS TIMESTAMP)"
}

// regexpQuote escapes RE2's special characters.
func regexpQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`\.+*?()|[]{}^$`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (c *compiler) args(e *call, agg bool, lo, hi int) ([]val, *SyntaxError) {
	if e.star && !(e.name == "count") {
		return nil, c.errf(e, "%s(*) is not allowed; only count(*)", e.name)
	}
	if len(e.args) < lo || len(e.args) > hi {
		if lo == hi {
			return nil, c.errf(e, "%s takes %d argument(s), found %d", e.name, lo, len(e.args))
		}
		return nil, c.errf(e, "%s takes %d to %d arguments, found %d", e.name, lo, hi, len(e.args))
	}
	out := make([]val, len(e.args))
	for i, a := range e.args {
		v, err := c.expr(a, agg)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c *compiler) call(e *call, agg bool) (val, *SyntaxError) {
	if aggregates[e.name] {
		if !agg {
			return val{}, c.errf(e, "the aggregate function %s is only allowed in stats", e.name)
		}
		return c.aggregate(e)
	}
	switch e.name {
	case "bin", "datefloor", "dateceil":
		var t val
		var period expr
		if e.name == "bin" {
			if len(e.args) != 1 {
				return val{}, c.errf(e, "bin takes one time period, as in bin(5m)")
			}
			tv, err := c.resolve("@timestamp", nil)
			if err != nil {
				return val{}, err
			}
			t, period = tv, e.args[0]
		} else {
			if len(e.args) != 2 {
				return val{}, c.errf(e, "%s takes a time and a period, as in %s(@timestamp, 1h)", e.name, e.name)
			}
			tv, err := c.expr(e.args[0], agg)
			if err != nil {
				return val{}, err
			}
			t, period = tv, e.args[1]
		}
		d, err := durationOf(c, period)
		if err != nil {
			return val{}, err
		}
		if e.name == "dateceil" {
			return val{c.ceilTime(timeOf(t), d), kTime}, nil
		}
		return val{c.floorTime(timeOf(t), d), kTime}, nil
	}
	fn, ok := scalarFuncs[e.name]
	if !ok {
		return val{}, c.errf(e, "unknown function %s", e.name)
	}
	args, err := c.args(e, agg, fn.min, fn.max)
	if err != nil {
		return val{}, err
	}
	return fn.f(args), nil
}

type scalarFunc struct {
	min, max int
	f        func(a []val) val
}

func strs(a []val) []string {
	out := make([]string, len(a))
	for i, v := range a {
		out[i] = str(v)
	}
	return out
}

func nums(a []val) []string {
	out := make([]string, len(a))
	for i, v := range a {
		out[i] = num(v)
	}
	return out
}

func fn1(sqlName string, k kind, numeric bool) scalarFunc {
	return scalarFunc{1, 1, func(a []val) val {
		x := str(a[0])
		if numeric {
			x = num(a[0])
		}
		return val{sqlName + "(" + x + ")", k}
	}}
}

var scalarFuncs = map[string]scalarFunc{
	"strlen":  {1, 1, func(a []val) val { return val{"length(" + str(a[0]) + ")", kNum} }},
	"tolower": fn1("lower", kStr, false),
	"toupper": fn1("upper", kStr, false),
	"trim":    fn1("trim", kStr, false),
	"ltrim":   fn1("ltrim", kStr, false),
	"rtrim":   fn1("rtrim", kStr, false),
	"abs":     fn1("abs", kNum, true),
	"ceil":    fn1("ceil", kNum, true),
	"floor":   fn1("floor", kNum, true),
	"sqrt":    fn1("sqrt", kNum, true),
	"log":     fn1("ln", kNum, true),
	"concat": {1, 64, func(a []val) val {
		return val{"concat(" + strings.Join(strs(a), ", ") + ")", kStr}
	}},
	"substr": {2, 3, func(a []val) val {
		s := "substr(" + str(a[0]) + ", CAST(" + num(a[1]) + " AS BIGINT) + 1"
		if len(a) == 3 {
			s += ", CAST(" + num(a[2]) + " AS BIGINT)"
		}
		return val{s + ")", kStr}
	}},
	"replace": {3, 3, func(a []val) val {
		return val{"replace(" + strings.Join(strs(a), ", ") + ")", kStr}
	}},
	"strcontains": {2, 2, func(a []val) val {
		return val{"CAST(contains(" + str(a[0]) + ", " + str(a[1]) + ") AS INTEGER)", kNum}
	}},
	"ispresent": {1, 1, func(a []val) val { return val{"((" + a[0].sql + ") IS NOT NULL)", kBool} }},
	"isempty": {1, 1, func(a []val) val {
		return val{"((" + a[0].sql + ") IS NULL OR " + str(a[0]) + " = '')", kBool}
	}},
	"isblank": {1, 1, func(a []val) val {
		return val{"((" + a[0].sql + ") IS NULL OR trim(" + str(a[0]) + ") = '')", kBool}
	}},
	"coalesce": {1, 64, func(a []val) val {
		k := a[0].k
		for _, v := range a[1:] {
			if v.k != k {
				return val{"coalesce(" + strings.Join(strs(a), ", ") + ")", kStr}
			}
		}
		parts := make([]string, len(a))
		for i, v := range a {
			parts[i] = v.sql
		}
		return val{"coalesce(" + strings.Join(parts, ", ") + ")", k}
	}},
	"greatest": {1, 64, func(a []val) val { return val{"greatest(" + strings.Join(nums(a), ", ") + ")", kNum} }},
	"least":    {1, 64, func(a []val) val { return val{"least(" + strings.Join(nums(a), ", ") + ")", kNum} }},
	"pow":      {2, 2, func(a []val) val { return val{"pow(" + strings.Join(nums(a), ", ") + ")", kNum} }},
	"frommillis": {1, 1, func(a []val) val {
		return val{"make_timestamp(CAST(" + num(a[0]) + " AS BIGINT) * 1000)", kTime}
	}},
	"tomillis": {1, 1, func(a []val) val { return val{"epoch_ms(" + timeOf(a[0]) + ")", kNum} }},
}

func (c *compiler) aggregate(e *call) (val, *SyntaxError) {
	switch e.name {
	case "count":
		if e.star || len(e.args) == 0 {
			return val{"count(*)", kNum}, nil
		}
		a, err := c.args(e, false, 1, 1)
		if err != nil {
			return val{}, err
		}
		return val{"count(" + a[0].sql + ")", kNum}, nil
	case "count_distinct":
		a, err := c.args(e, false, 1, 1)
		if err != nil {
			return val{}, err
		}
		return val{"count(DISTINCT " + a[0].sql + ")", kNum}, nil
	case "sum", "avg", "stddev", "median":
		a, err := c.args(e, false, 1, 1)
		if err != nil {
			return val{}, err
		}
		f := map[string]string{"sum": "sum", "avg": "avg", "stddev": "stddev_samp", "median": "median"}[e.name]
		return val{f + "(" + num(a[0]) + ")", kNum}, nil
	case "min", "max":
		a, err := c.args(e, false, 1, 1)
		if err != nil {
			return val{}, err
		}
		if a[0].k == kTime {
			return val{e.name + "(" + a[0].sql + ")", kTime}, nil
		}
		return val{e.name + "(" + num(a[0]) + ")", kNum}, nil
	case "pct", "percentile":
		if len(e.args) != 2 {
			return val{}, c.errf(e, "%s takes a field and a percentile, as in pct(latency, 95)", e.name)
		}
		a, err := c.args(e, false, 2, 2)
		if err != nil {
			return val{}, err
		}
		p, ok := e.args[1].(*numLit)
		if !ok {
			return val{}, c.errf(e.args[1], "the percentile must be a number from 0 to 100")
		}
		f, _ := strconv.ParseFloat(p.text, 64)
		if f < 0 || f > 100 {
			return val{}, c.errf(e.args[1], "the percentile must be a number from 0 to 100")
		}
		return val{"quantile_cont(" + num(a[0]) + ", " + strconv.FormatFloat(f/100, 'g', -1, 64) + ")", kNum}, nil
	case "earliest", "latest":
		a, err := c.args(e, false, 1, 1)
		if err != nil {
			return val{}, err
		}
		if !c.raw {
			return val{}, c.errf(e, "%s needs the events' @timestamp, which an earlier stats has replaced", e.name)
		}
		f := map[string]string{"earliest": "arg_min", "latest": "arg_max"}[e.name]
		return val{f + "(" + a[0].sql + `, "eventTime")`, a[0].k}, nil
	}
	return val{}, c.errf(e, "unknown function %s", e.name)
}
