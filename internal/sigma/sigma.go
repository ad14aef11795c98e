// Package sigma is a native Sigma rule engine for CloudTrail records:
// SigmaHQ's detection syntax (selections, value lists, null, wildcards,
// the modifiers, conditions with "1 of"/"all of"), matched
// case-insensitively as the Sigma specification requires, over
// CloudTrail's dotted field names (fanning out over arrays), plus
// correlation rules (event_count, value_count, temporal,
// temporal_ordered) kept in windowed, grouped state by event time.
//
// A rule that uses something this engine does not implement is reported
// at load time as a LoadError naming the rule and the reason; it is never
// silently skipped. The package is pure: it reads bytes and returns
// verdicts.
package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Rule is one Sigma rule: a detection over single records, or (when
// Correlation is set) a correlation over the matches of other rules.
type Rule struct {
	ID, Name, Title, Author, Level, Status, Description, File string
	Date, Modified                                            string
	References, Tags, FalsePositives                          []string

	// Correlation is set for a correlation rule; such a rule never matches
	// a single record (Ruleset.Match does not return it), only a
	// Correlator's hits name it.
	Correlation *Correlation

	// Suppressed is set on a plain rule that a correlation rule names with
	// "generate: false" (Sigma's default): the rule feeds the correlation
	// and, per the specification, raises nothing on its own.
	Suppressed bool

	index int // position in the ruleset, for a stable order
	sels  map[string]*selection
	cond  []node // conditions, ORed
	req   requirement
}

// Correlation is the "correlation:" section of a correlation rule.
type Correlation struct {
	Type      string   // event_count, value_count, temporal, temporal_ordered
	Rules     []string // the names or ids of the rules correlated
	GroupBy   []string
	Timespan  time.Duration
	Condition map[string]float64 // gt, gte, lt, lte, eq -> threshold
	Field     string             // value_count: the field whose distinct values are counted
	Generate  bool

	rules []*Rule // resolved by NewRuleset
}

// String names the rule the way load reports and findings do.
func (r *Rule) String() string {
	switch {
	case r.Title != "" && r.ID != "":
		return r.Title + " (" + r.ID + ")"
	case r.Title != "":
		return r.Title
	case r.ID != "":
		return r.ID
	}
	return r.Name
}

// LoadError is a rule (or file) that could not be loaded, and why.
type LoadError struct {
	File   string
	Rule   string // title and id of the rule, empty when the file itself is unreadable
	Reason string
}

func (e LoadError) Error() string {
	if e.Rule == "" {
		return e.File + ": " + e.Reason
	}
	return e.File + ": rule " + e.Rule + ": " + e.Reason
}

// LoadErrors is what ParseRules returns when some documents of a file
// could not be loaded; the rules it returns alongside are the ones that
// could.
type LoadErrors []LoadError

func (es LoadErrors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// ParseRules reads one YAML file of Sigma rules (several documents may
// follow each other, rules and correlation rules). It returns the rules
// it could compile; when any document fails, the error is a LoadErrors
// naming each failed rule and the reason.
func ParseRules(src []byte, file string) (rules []*Rule, err error) {
	var errs LoadErrors
	defer func() {
		// The YAML decoder is third-party code fed untrusted bytes: a
		// panic there is a load error of this file, not a crash.
		if p := recover(); p != nil {
			errs = append(errs, LoadError{File: file, Reason: fmt.Sprintf("YAML: %v", p)})
			err = errs
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for n := 0; ; n++ {
		var doc any
		if derr := dec.Decode(&doc); derr != nil {
			if errors.Is(derr, io.EOF) {
				break
			}
			errs = append(errs, LoadError{File: file, Reason: fmt.Sprintf("document %d is not valid YAML: %v", n+1, derr)})
			break
		}
		if doc == nil {
			continue
		}
		m, ok := doc.(map[string]any)
		if !ok {
			errs = append(errs, LoadError{File: file, Reason: fmt.Sprintf("document %d is not a YAML mapping", n+1)})
			continue
		}
		r, rerr := compileRule(m, file)
		if rerr != "" {
			errs = append(errs, LoadError{File: file, Rule: r.String(), Reason: rerr})
			continue
		}
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return rules, errs
	}
	return rules, nil
}

// compileRule builds a rule from one document; a non-empty string is the
// reason it cannot be loaded.
func compileRule(m map[string]any, file string) (*Rule, string) {
	r := &Rule{File: file}
	r.ID = str(m["id"])
	r.Name = str(m["name"])
	r.Title = str(m["title"])
	r.Author = str(m["author"])
	r.Level = str(m["level"])
	r.Status = str(m["status"])
	r.Description = strings.TrimSpace(str(m["description"]))
	r.Date = str(m["date"])
	r.Modified = str(m["modified"])
	r.References = strList(m["references"])
	r.Tags = strList(m["tags"])
	r.FalsePositives = strList(m["falsepositives"])
	if r.Title == "" && r.ID == "" && r.Name == "" {
		return r, "the rule has no title, id or name"
	}
	if _, ok := m["action"]; ok {
		return r, "unsupported: action documents (global/repeat rule collections)"
	}
	if c, ok := m["correlation"]; ok {
		if _, ok := m["detection"]; ok {
			return r, "a rule has either detection or correlation, not both"
		}
		cor, reason := compileCorrelation(c, m)
		if reason != "" {
			return r, reason
		}
		r.Correlation = cor
		return r, ""
	}
	if reason := checkLogsource(m["logsource"]); reason != "" {
		return r, reason
	}
	det, ok := m["detection"].(map[string]any)
	if !ok {
		return r, "the rule has no detection mapping"
	}
	r.sels = map[string]*selection{}
	budget := maxValues
	var conds []string
	for k, v := range det {
		if k == "condition" {
			switch c := v.(type) {
			case string:
				conds = append(conds, c)
			case []any:
				for _, x := range c {
					s, ok := x.(string)
					if !ok {
						return r, "condition list holds a non-string"
					}
					conds = append(conds, s)
				}
			default:
				return r, "condition is neither a string nor a list of strings"
			}
			continue
		}
		if k == "timeframe" {
			return r, "unsupported: timeframe (the old aggregation syntax; write a correlation rule)"
		}
		sel, reason := compileSelection(k, v, &budget)
		if reason != "" {
			return r, "selection " + k + ": " + reason
		}
		r.sels[k] = sel
	}
	if len(conds) == 0 {
		return r, "detection has no condition"
	}
	for _, c := range conds {
		n, err := parseCondition(c, r.sels)
		if err != nil {
			return r, "condition " + quote(c) + ": " + err.Error()
		}
		r.cond = append(r.cond, n)
	}
	r.req = ruleRequirement(r)
	return r, ""
}

func checkLogsource(v any) string {
	ls, ok := v.(map[string]any)
	if !ok {
		return "the rule has no logsource"
	}
	product, service := strings.ToLower(str(ls["product"])), strings.ToLower(str(ls["service"]))
	if product == "aws" && service == "cloudtrail" {
		if cat := str(ls["category"]); cat != "" {
			return "logsource category " + quote(cat) + " is not CloudTrail"
		}
		return ""
	}
	return fmt.Sprintf("logsource product %q service %q is not CloudTrail (want product aws, service cloudtrail)", str(ls["product"]), str(ls["service"]))
}

func compileCorrelation(v any, m map[string]any) (*Correlation, string) {
	c, ok := v.(map[string]any)
	if !ok {
		return nil, "correlation is not a mapping"
	}
	cor := &Correlation{Type: str(c["type"]), Condition: map[string]float64{}}
	switch cor.Type {
	case "event_count", "value_count", "temporal", "temporal_ordered":
	case "":
		return nil, "correlation has no type"
	default:
		return nil, "unsupported: correlation type " + quote(cor.Type)
	}
	if g, ok := m["generate"]; ok {
		b, ok := g.(bool)
		if !ok {
			return nil, "generate is not a boolean"
		}
		cor.Generate = b
	}
	if g, ok := c["generate"]; ok { // also accepted inside the correlation section
		b, ok := g.(bool)
		if !ok {
			return nil, "generate is not a boolean"
		}
		cor.Generate = b
	}
	if _, ok := c["aliases"]; ok {
		return nil, "unsupported: correlation aliases"
	}
	switch rs := c["rules"].(type) {
	case string:
		cor.Rules = []string{rs}
	case []any:
		cor.Rules = strList(rs)
		if len(cor.Rules) != len(rs) {
			return nil, "correlation rules must be names or ids (strings)"
		}
	}
	if len(cor.Rules) == 0 {
		return nil, "correlation names no rules"
	}
	switch g := c["group-by"].(type) {
	case nil:
	case string:
		cor.GroupBy = []string{g}
	case []any:
		cor.GroupBy = strList(g)
		if len(cor.GroupBy) != len(g) {
			return nil, "group-by must list field names"
		}
	default:
		return nil, "group-by must list field names"
	}
	ts := c["timespan"]
	if ts == nil {
		ts = c["timeframe"]
	}
	d, err := parseTimespan(str(ts))
	if err != nil {
		return nil, err.Error()
	}
	cor.Timespan = d
	switch cond := c["condition"].(type) {
	case map[string]any:
		for k, x := range cond {
			switch k {
			case "gt", "gte", "lt", "lte", "eq":
				f, ok := number(x)
				if !ok {
					return nil, "correlation condition " + k + " is not a number"
				}
				cor.Condition[k] = f
			case "field":
				cor.Field = str(x)
			default:
				return nil, "unsupported: correlation condition operator " + quote(k)
			}
		}
	case nil:
	default:
		return nil, "correlation condition is not a mapping"
	}
	if f := str(c["field"]); f != "" {
		cor.Field = f
	}
	switch cor.Type {
	case "event_count", "value_count":
		if len(cor.Condition) == 0 {
			return nil, cor.Type + " correlation has no condition (gt, gte, lt, lte or eq)"
		}
	case "temporal", "temporal_ordered":
		if len(cor.Condition) > 0 {
			return nil, "unsupported: a condition on a " + cor.Type + " correlation"
		}
	}
	if cor.Type == "value_count" && cor.Field == "" {
		return nil, "value_count correlation names no field"
	}
	if (cor.Type == "temporal" || cor.Type == "temporal_ordered") && len(cor.Rules) < 2 {
		return nil, cor.Type + " correlation needs at least two rules"
	}
	return cor, ""
}

// parseTimespan reads Sigma's timespan: a number and a unit s, m, h, d, w.
func parseTimespan(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("correlation timespan %q is not a number and a unit (s, m, h, d, w), e.g. 10m", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	var n int64
	for _, c := range s[:len(s)-1] {
		if c < '0' || c > '9' || n > 1<<31 {
			unit = 0
			break
		}
		n = n*10 + int64(c-'0')
	}
	if unit == 0 || n == 0 {
		return 0, fmt.Errorf("correlation timespan %q is not a number and a unit (s, m, h, d, w), e.g. 10m", s)
	}
	return time.Duration(n) * unit, nil
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func strList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func quote(s string) string { return "\"" + s + "\"" }
