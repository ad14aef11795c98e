package logsinsights

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Options are the compile-time parameters of a query.
type Options struct {
	// Start and End bound @timestamp (both inclusive); zero means no
	// bound.
	Start, End time.Time
	// Limit caps the rows returned, whatever the query's own limit
	// command says (default DefaultLimit, at most MaxLimit).
	Limit int
	// Log is the value of @log ("<account>:<log group name>").
	Log string
}

// Limits on returned rows, as StartQuery takes them.
const (
	DefaultLimit = 10000
	MaxLimit     = 100000
)

// Compiled is a query ready to run.
type Compiled struct {
	// SQL is one SELECT over cloudtrail_events. Its columns are the
	// result fields in order (every value a VARCHAR, NULL when the field
	// is absent) followed by MatchedColumn.
	SQL string
	// Fields are the names of the result fields, in column order.
	Fields []string
	// Aggregated says the query ends in stats: its rows are not events.
	Aggregated bool
}

// MatchedColumn is the last column of Compiled.SQL: the number of events
// the query's filters matched (the same on every row).
const MatchedColumn = "$matched"

// kind is an SQL expression's value type as the compiler tracks it.
type kind int

const (
	kStr kind = iota
	kNum
	kBool
	kTime
)

type val struct {
	sql string
	k   kind
}

// Compile parses src and compiles it.
func Compile(src string, opts Options) (*Compiled, error) {
	if len(src) > 10000 {
		return nil, errAt(src, 10000, len(src), "the query is longer than 10000 characters")
	}
	cmds, err := parse(src)
	if err != nil {
		return nil, err
	}
	if opts.Limit <= 0 {
		opts.Limit = DefaultLimit
	}
	opts.Limit = min(opts.Limit, MaxLimit)
	c := &compiler{src: src, opts: opts, scope: map[string]val{}, raw: true}
	out, cerr := c.compile(cmds)
	if cerr != nil {
		return nil, cerr
	}
	return out, nil
}

type compiler struct {
	src   string
	opts  Options
	n     int
	rel   string         // the current relation (a parenthesised SELECT)
	scope map[string]val // derived fields: name → column
	raw   bool           // the record's fields are still available
	order string         // ORDER BY terms valid over rel
	// display is what the result shows: fields' names, stats' outputs,
	// or display's list.
	display    []string
	displayCmd bool
	matched    string // the matched-events count, a scalar subquery
	aggregated bool
	// pendingScope holds the fields the command being compiled defines;
	// they become visible to later commands only (commit).
	pendingScope map[string]val
}

func (c *compiler) fresh() string {
	c.n++
	return quoteIdent("d" + strconv.Itoa(c.n))
}

func (c *compiler) wrap(sel string) {
	c.n++
	c.rel = "(" + sel + ") AS " + quoteIdent("s"+strconv.Itoa(c.n))
}

func (c *compiler) errf(e expr, format string, args ...any) *SyntaxError {
	p, q := e.span()
	return errAt(c.src, p, q, format, args...)
}

// ScannedSQL is a SELECT of the number of events in opts' time range: the
// events a query with those options scans.
func ScannedSQL(opts Options) string {
	return "SELECT count(*) FROM cloudtrail_events" + timeRange(opts)
}

func timeRange(opts Options) string {
	var conds []string
	if !opts.Start.IsZero() {
		conds = append(conds, `"eventTime" >= `+timeLit(opts.Start))
	}
	if !opts.End.IsZero() {
		conds = append(conds, `"eventTime" <= `+timeLit(opts.End))
	}
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

func (c *compiler) compile(cmds []*command) (*Compiled, *SyntaxError) {
	c.wrap("SELECT * FROM cloudtrail_events" + timeRange(c.opts))
	c.order = `"eventTime" DESC`
	for _, cmd := range cmds {
		if err := c.command(cmd); err != nil {
			return nil, err
		}
	}
	c.countMatched()
	names := c.display
	if !c.displayCmd && len(names) == 0 && !c.aggregated {
		names = []string{"@timestamp", "@message"}
	}
	var cols []string
	var fields []string
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		v, err := c.resolve(name, nil)
		if err != nil {
			return nil, err
		}
		cols = append(cols, text(v)+" AS "+quoteIdent("c"+strconv.Itoa(len(cols))))
		fields = append(fields, name)
	}
	if c.raw && !seen["@ptr"] {
		cols = append(cols, `"eventID" AS `+quoteIdent("c"+strconv.Itoa(len(cols))))
		fields = append(fields, "@ptr")
	}
	cols = append(cols, c.matched+` AS `+quoteIdent(MatchedColumn))
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + c.topN(c.opts.Limit)
	if c.order != "" {
		q += " ORDER BY " + c.order
	}
	return &Compiled{SQL: q, Fields: fields, Aggregated: c.aggregated}, nil
}

// countMatched takes the matched-events count once, before the first
// command that drops matched events (stats, limit, dedup) or at the end:
// a scalar subquery over the relation so far, which reads only what its
// filters need (a window count would make every column of every matched
// event be read).
func (c *compiler) countMatched() {
	if c.matched == "" {
		c.matched = "(SELECT count(*) FROM " + c.rel + ")"
	}
}

// topN returns the relation's first n rows in c.order, as a relation.
// Ordered by @timestamp (the default), it first finds the n-th row's time
// from the time column alone and keeps the rows at or past it, so that
// only about n events' other columns (the stored records) are read; a
// plain ORDER BY … LIMIT would read every row's before sorting.
func (c *compiler) topN(n int) string {
	lim := " LIMIT " + strconv.Itoa(n)
	order := ""
	if c.order != "" {
		order = " ORDER BY " + c.order
	}
	t := `"eventTime"`
	switch c.order {
	case t + " DESC", t + " ASC":
		agg, cmp := "min", ">="
		if c.order == t+" ASC" {
			agg, cmp = "max", "<="
		}
		thr := "(SELECT " + agg + "(t) FROM (SELECT " + t + " AS t FROM " + c.rel + order + lim + "))"
		c.n++
		return "(SELECT * FROM " + c.rel + " WHERE " + t + " " + cmp + " " + thr + order + lim + ") AS " +
			quoteIdent("s"+strconv.Itoa(c.n))
	}
	c.n++
	return "(SELECT * FROM " + c.rel + order + lim + ") AS " + quoteIdent("s"+strconv.Itoa(c.n))
}

func (c *compiler) command(cmd *command) *SyntaxError {
	switch cmd.kind {
	case "fields", "display":
		var add []string
		var names []string
		for _, it := range cmd.items {
			if f, ok := it.e.(*fieldRef); ok && it.alias == "" {
				if _, err := c.resolve(f.name, f); err != nil {
					return err
				}
				names = append(names, f.name)
				continue
			}
			v, err := c.expr(it.e, false)
			if err != nil {
				return err
			}
			col := c.fresh()
			add = append(add, v.sql+" AS "+col)
			c.define(it.name(), val{col, v.k})
			names = append(names, it.name())
		}
		if len(add) > 0 {
			c.wrap("SELECT *, " + strings.Join(add, ", ") + " FROM " + c.rel)
			c.commit()
		}
		if cmd.kind == "display" {
			c.display, c.displayCmd = names, true
		} else if !c.displayCmd {
			c.display = append(c.display, names...)
		}
	case "filter":
		v, err := c.expr(cmd.cond, false)
		if err != nil {
			return err
		}
		c.wrap("SELECT * FROM " + c.rel + " WHERE " + truth(v))
	case "parse":
		return c.parseCmd(cmd)
	case "stats":
		return c.stats(cmd)
	case "sort":
		var terms []string
		for _, k := range cmd.sorts {
			v, err := c.expr(k.e, false)
			if err != nil {
				return err
			}
			t := v.sql
			if k.desc {
				t += " DESC"
			} else {
				t += " ASC"
			}
			terms = append(terms, t)
		}
		c.order = strings.Join(terms, ", ")
	case "limit":
		c.countMatched()
		c.rel = c.topN(cmd.n)
	case "dedup":
		c.countMatched()
		var keys, nulls []string
		for _, it := range cmd.items {
			v, err := c.expr(it.e, false)
			if err != nil {
				return err
			}
			keys = append(keys, v.sql)
			nulls = append(nulls, "("+v.sql+") IS NULL")
		}
		order := c.order
		if order == "" {
			order = "1"
		}
		c.wrap("SELECT * FROM " + c.rel + " QUALIFY " + strings.Join(nulls, " OR ") +
			" OR row_number() OVER (PARTITION BY " + strings.Join(keys, ", ") + " ORDER BY " + order + ") = 1")
	}
	return nil
}

func (c *compiler) define(name string, v val) {
	if c.pendingScope == nil {
		c.pendingScope = map[string]val{}
	}
	c.pendingScope[name] = v
}

func (c *compiler) commit() {
	for k, v := range c.pendingScope {
		c.scope[k] = v
	}
	c.pendingScope = nil
}

func (c *compiler) parseCmd(cmd *command) *SyntaxError {
	src, err := c.expr(cmd.src, false)
	if err != nil {
		return err
	}
	s := text(src)
	var re string
	var names []string
	if cmd.isRegex {
		rx, rerr := regexp.Compile(cmd.pattern)
		if rerr != nil {
			return errAt(c.src, cmd.pos, cmd.end, "invalid regular expression in parse: %v", rerr)
		}
		for i, n := range rx.SubexpNames() {
			if i > 0 {
				names = append(names, n)
			}
		}
		named := 0
		for _, n := range names {
			if n != "" {
				named++
			}
		}
		if len(cmd.names) > 0 {
			return errAt(c.src, cmd.namesPos[0], cmd.end, "parse with a regular expression names its fields with (?<name>...) groups, not with as")
		}
		if named == 0 {
			return errAt(c.src, cmd.pos, cmd.end, "the regular expression in parse has no named group (?<name>...)")
		}
		re = re2(cmd.pattern)
	} else {
		parts := strings.Split(cmd.pattern, "*")
		if len(parts)-1 == 0 {
			return errAt(c.src, cmd.pos, cmd.end, "the parse pattern has no * to capture")
		}
		if len(cmd.names) != len(parts)-1 {
			return errAt(c.src, cmd.pos, cmd.end, "the parse pattern has %d * but %d field names follow as", len(parts)-1, len(cmd.names))
		}
		var b strings.Builder
		for i, p := range parts {
			if i > 0 {
				if i == len(parts)-1 && p == "" {
					b.WriteString("(.*)")
				} else {
					b.WriteString("(.*?)")
				}
			}
			b.WriteString(regexp.QuoteMeta(p))
		}
		re = "(?s)" + b.String()
		names = cmd.names
	}
	var add []string
	for i, n := range names {
		if n == "" {
			continue
		}
		col := c.fresh()
		add = append(add, "CASE WHEN regexp_matches("+s+", "+quoteString(re)+") THEN regexp_extract("+s+", "+
			quoteString(re)+", "+strconv.Itoa(i+1)+") END AS "+col)
		c.define(n, val{col, kStr})
	}
	c.wrap("SELECT *, " + strings.Join(add, ", ") + " FROM " + c.rel)
	c.commit()
	return nil
}

func (c *compiler) stats(cmd *command) *SyntaxError {
	c.countMatched()
	var cols, groups, order []string
	newScope := map[string]val{}
	var names []string
	for _, it := range cmd.by {
		v, err := c.expr(it.e, false)
		if err != nil {
			return err
		}
		col := c.fresh()
		cols = append(cols, v.sql+" AS "+col)
		groups = append(groups, strconv.Itoa(len(cols)))
		order = append(order, col+" ASC")
		newScope[it.name()] = val{col, v.k}
		names = append(names, it.name())
	}
	for _, it := range cmd.items {
		v, err := c.expr(it.e, true)
		if err != nil {
			return err
		}
		if !hasAggregate(it.e) {
			return c.errf(it.e, "stats needs an aggregate function (count, sum, avg, min, max, pct, …) in %s", it.text)
		}
		col := c.fresh()
		cols = append(cols, v.sql+" AS "+col)
		newScope[it.name()] = val{col, v.k}
		names = append(names, it.name())
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + c.rel
	if len(groups) > 0 {
		q += " GROUP BY " + strings.Join(groups, ", ")
	}
	c.wrap(q)
	c.scope, c.raw, c.aggregated = newScope, false, true
	c.order = strings.Join(order, ", ")
	if !c.displayCmd {
		c.display = names
	}
	return nil
}

func hasAggregate(e expr) bool {
	switch e := e.(type) {
	case *call:
		if aggregates[e.name] {
			return true
		}
		for _, a := range e.args {
			if hasAggregate(a) {
				return true
			}
		}
	case *binary:
		return hasAggregate(e.l) || hasAggregate(e.r)
	case *unary:
		return hasAggregate(e.x)
	}
	return false
}

var aggregates = map[string]bool{"count": true, "count_distinct": true, "sum": true, "avg": true, "min": true,
	"max": true, "pct": true, "percentile": true, "stddev": true, "earliest": true, "latest": true, "median": true}

// text renders v as the result's text.
func text(v val) string {
	switch v.k {
	case kTime:
		return "strftime(" + v.sql + ", '%Y-%m-%d %H:%M:%S.%g')"
	case kNum:
		return "CASE WHEN isfinite(" + v.sql + "::DOUBLE) AND " + v.sql + " = floor(" + v.sql + ") AND abs(" + v.sql +
			") < 1e15 THEN CAST(CAST(" + v.sql + " AS BIGINT) AS VARCHAR) ELSE CAST(" + v.sql + " AS VARCHAR) END"
	case kBool:
		return "CASE WHEN " + v.sql + " THEN '1' WHEN NOT " + v.sql + " THEN '0' END"
	}
	return "CAST(" + v.sql + " AS VARCHAR)"
}

// truth renders v as a filter condition.
func truth(v val) string {
	switch v.k {
	case kBool:
		return "coalesce(" + v.sql + ", false)"
	case kNum:
		return "coalesce(" + v.sql + " <> 0, false)"
	case kTime:
		return "(" + v.sql + ") IS NOT NULL"
	}
	return "coalesce(" + v.sql + " <> '', false)"
}

func num(v val) string {
	switch v.k {
	case kNum:
		return v.sql
	case kBool:
		return "CAST(" + v.sql + " AS INTEGER)"
	case kTime:
		return "epoch_ms(" + v.sql + ")"
	}
	return "TRY_CAST(" + v.sql + " AS DOUBLE)"
}

func str(v val) string {
	if v.k == kStr {
		return v.sql
	}
	return text(v)
}

func timeLit(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.000") + "'"
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// re2 rewrites (?<name> groups as (?P<name>, which every RE2 accepts.
func re2(re string) string {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		if re[i] == '\\' && i+1 < len(re) {
			b.WriteString(re[i : i+2])
			i++
			continue
		}
		if strings.HasPrefix(re[i:], "(?<") && i+3 < len(re) && re[i+3] != '=' && re[i+3] != '!' {
			b.WriteString("(?P<")
			i += 2
			continue
		}
		b.WriteByte(re[i])
	}
	return b.String()
}

// checkRegex validates a regex literal with Go's RE2, which DuckDB's
// matches.
func (c *compiler) checkRegex(e *regexLit) *SyntaxError {
	if _, err := regexp.Compile(e.re); err != nil {
		return c.errf(e, "invalid regular expression: %v", err)
	}
	return nil
}

func durationOf(c *compiler, e expr) (time.Duration, *SyntaxError) {
	d, ok := e.(*durLit)
	if !ok {
		return 0, c.errf(e, "expected a time period such as 5m (units ms, s, m, h, d, w)")
	}
	i := strings.IndexFunc(d.text, func(r rune) bool { return r < '0' || r > '9' })
	n, err := strconv.ParseInt(d.text[:i], 10, 64)
	unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "sec": time.Second, "m": time.Minute,
		"min": time.Minute, "h": time.Hour, "hr": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[strings.ToLower(d.text[i:])]
	if err != nil || unit == 0 || n <= 0 || n > 1<<20 {
		return 0, c.errf(e, "invalid time period %s (a positive number with unit ms, s, m, h, d or w)", d.text)
	}
	return time.Duration(n) * unit, nil
}

func (c *compiler) floorTime(t string, d time.Duration) string {
	ms := strconv.FormatInt(d.Milliseconds(), 10)
	return "make_timestamp((floor(epoch_ms(" + t + ") / " + ms + ") * " + ms + ")::BIGINT * 1000)"
}

func (c *compiler) ceilTime(t string, d time.Duration) string {
	ms := strconv.FormatInt(d.Milliseconds(), 10)
	return "make_timestamp((ceil(epoch_ms(" + t + ") / " + ms + ") * " + ms + ")::BIGINT * 1000)"
}
