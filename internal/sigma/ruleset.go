package sigma

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/valyala/fastjson"
)

// Ruleset is a compiled set of rules, indexed so a record meets only the
// rules that can match it. It is safe for concurrent use.
type Ruleset struct {
	rules []*Rule // every rule, plain and correlation, in load order
	plain []*Rule // the plain rules

	byName   map[string][]*Rule // folded eventName -> rules that require it
	bySource map[string][]*Rule // folded eventSource -> rules that require it
	nameAll  []*Rule            // every rule in byName (for a non-string eventName)
	srcAll   []*Rule
	scan     []*Rule // rules with no eventName/eventSource requirement

	corrs   []*Rule
	maxSels int
	pool    sync.Pool
}

// requirement is what the index knows of a rule: the record must carry
// one of values (folded) in field, or the rule cannot match.
type requirement struct {
	field  string // "eventName", "eventSource" or "" (none)
	values []string
}

// NewRuleset indexes the rules and resolves the correlation rules'
// references. Rules that cannot be used (a duplicate id, a correlation
// naming an unknown rule) are left out and reported. The Rule values are
// copied: a Ruleset never changes the caller's rules.
func NewRuleset(rules []*Rule) (*Ruleset, []LoadError) {
	rs := &Ruleset{byName: map[string][]*Rule{}, bySource: map[string][]*Rule{}}
	var errs []LoadError
	seenID := map[string]bool{}
	byRef := map[string]*Rule{}
	for _, r0 := range rules {
		if r0 == nil {
			continue
		}
		r := *r0
		if r.ID != "" {
			if seenID[r.ID] {
				errs = append(errs, LoadError{File: r.File, Rule: r.String(), Reason: "duplicate rule id " + r.ID + " (the first one loaded is kept)"})
				continue
			}
			seenID[r.ID] = true
		}
		if r.Correlation != nil {
			c := *r.Correlation
			c.rules = nil
			r.Correlation = &c
		}
		r.Suppressed = false
		r.index = len(rs.rules)
		rs.rules = append(rs.rules, &r)
		if r.ID != "" {
			byRef[r.ID] = &r
		}
		if r.Name != "" {
			byRef[r.Name] = &r
		}
	}
	kept := rs.rules[:0]
	for _, r := range rs.rules {
		if r.Correlation == nil {
			kept = append(kept, r)
			continue
		}
		ok := true
		for _, ref := range r.Correlation.Rules {
			base, found := byRef[ref]
			switch {
			case !found:
				errs = append(errs, LoadError{File: r.File, Rule: r.String(), Reason: "correlation names rule " + quote(ref) + ", which is not loaded"})
				ok = false
			case base.Correlation != nil:
				errs = append(errs, LoadError{File: r.File, Rule: r.String(), Reason: "unsupported: a correlation of correlation rules (" + ref + ")"})
				ok = false
			default:
				r.Correlation.rules = append(r.Correlation.rules, base)
			}
		}
		if ok {
			kept = append(kept, r)
		}
	}
	rs.rules = kept
	for i, r := range rs.rules {
		r.index = i
		if r.Correlation != nil {
			rs.corrs = append(rs.corrs, r)
			if !r.Correlation.Generate {
				for _, b := range r.Correlation.rules {
					b.Suppressed = true
				}
			}
			continue
		}
		rs.plain = append(rs.plain, r)
		if len(r.sels) > rs.maxSels {
			rs.maxSels = len(r.sels)
		}
		switch r.req.field {
		case "eventName":
			rs.nameAll = append(rs.nameAll, r)
			for _, v := range r.req.values {
				rs.byName[v] = append(rs.byName[v], r)
			}
		case "eventSource":
			rs.srcAll = append(rs.srcAll, r)
			for _, v := range r.req.values {
				rs.bySource[v] = append(rs.bySource[v], r)
			}
		default:
			rs.scan = append(rs.scan, r)
		}
	}
	// Several required values may fold to one key: keep each rule once.
	for _, m := range []map[string][]*Rule{rs.byName, rs.bySource} {
		for k, list := range m {
			m[k] = uniqueRules(list)
		}
	}
	rs.pool.New = func() any { return &matchState{memo: make([]int8, rs.maxSels)} }
	return rs, errs
}

func uniqueRules(list []*Rule) []*Rule {
	out := list[:0]
	for i, r := range list {
		if i > 0 && list[i-1] == r {
			continue
		}
		out = append(out, r)
	}
	return out
}

// LoadDir parses every .yml and .yaml file under dir (recursively, in
// name order) and indexes the rules. Files and rules that cannot be
// loaded are reported as LoadErrors; the error is for a directory that
// cannot be read.
func LoadDir(dir string) (*Ruleset, []LoadError, error) {
	rules, errs, err := parseFS(os.DirFS(dir), dir)
	if err != nil {
		return nil, nil, err
	}
	rs, more := NewRuleset(rules)
	return rs, append(errs, more...), nil
}

// ParseFS parses every .yml and .yaml file of fsys (recursively, in name
// order), e.g. rule files embedded in the binary, so they can join other
// rules in one NewRuleset. LoadError.File is the path within fsys.
func ParseFS(fsys fs.FS) ([]*Rule, []LoadError, error) {
	return parseFS(fsys, "")
}

func parseFS(fsys fs.FS, prefix string) ([]*Rule, []LoadError, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			ext := strings.ToLower(path.Ext(p))
			if ext == ".yml" || ext == ".yaml" {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read sigma rules: %w", err)
	}
	sort.Strings(files)
	var all []*Rule
	var errs []LoadError
	for _, f := range files {
		name := f
		if prefix != "" {
			name = filepath.Join(prefix, filepath.FromSlash(f))
		}
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, LoadError{File: name, Reason: "read: " + err.Error()})
			continue
		}
		rules, err := ParseRules(src, name)
		all = append(all, rules...)
		var les LoadErrors
		if errors.As(err, &les) {
			errs = append(errs, les...)
		} else if err != nil {
			errs = append(errs, LoadError{File: name, Reason: err.Error()})
		}
	}
	return all, errs, nil
}

// Rules returns every rule of the set, plain and correlation, in load
// order.
func (rs *Ruleset) Rules() []*Rule { return rs.rules }

type matchState struct {
	p    fastjson.Parser
	e    evalCtx
	memo []int8
	key  []byte
	cand []*Rule
}

// Match appends to dst the plain rules that match one CloudTrail record
// (a JSON object), in load order. A record that is not valid JSON matches
// nothing.
func (rs *Ruleset) Match(raw []byte, dst []*Rule) []*Rule {
	st := rs.pool.Get().(*matchState)
	defer rs.pool.Put(st)
	v, err := st.p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeObject {
		return dst
	}
	st.e.root = v
	cand := st.cand[:0]
	cand = rs.lookupIndex(st, cand, v.Get("eventName"), rs.byName, rs.nameAll)
	cand = rs.lookupIndex(st, cand, v.Get("eventSource"), rs.bySource, rs.srcAll)
	cand = append(cand, rs.scan...)
	start := len(dst)
	for _, r := range cand {
		if r.matchRecord(&st.e, st.memo) {
			dst = append(dst, r)
		}
	}
	st.cand = cand[:0]
	sortByIndex(dst[start:])
	return dst
}

func (rs *Ruleset) lookupIndex(st *matchState, cand []*Rule, f *fastjson.Value, idx map[string][]*Rule, all []*Rule) []*Rule {
	if f == nil {
		return cand
	}
	switch f.Type() {
	case fastjson.TypeString:
		st.key = foldBytes(st.key, f.GetStringBytes())
		return append(cand, idx[string(st.key)]...)
	case fastjson.TypeNull, fastjson.TypeObject:
		return cand // a required plain value can match neither
	}
	return append(cand, all...) // an array or a number: test them all
}

func sortByIndex(rs []*Rule) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].index < rs[j-1].index; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// matchRecord evaluates the rule's conditions (ORed) on a parsed record.
func (r *Rule) matchRecord(e *evalCtx, memo []int8) bool {
	clear(memo)
	for _, c := range r.cond {
		if c.eval(e, memo) {
			return true
		}
	}
	return false
}

// matchAll is Match without the index: every plain rule is evaluated.
func (rs *Ruleset) matchAll(raw []byte, dst []*Rule) []*Rule {
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeObject {
		return dst
	}
	e := &evalCtx{root: v}
	memo := make([]int8, rs.maxSels)
	for _, r := range rs.plain {
		if r.matchRecord(e, memo) {
			dst = append(dst, r)
		}
	}
	return dst
}

// ruleRequirement finds a field (eventName preferred, then eventSource)
// whose value the rule requires to be one of a fixed set.
func ruleRequirement(r *Rule) requirement {
	for _, field := range []string{"eventName", "eventSource"} {
		var all []string
		ok := true
		for _, c := range r.cond {
			vals, has := nodeRequires(c, field)
			if !has {
				ok = false
				break
			}
			all = append(all, vals...)
		}
		if ok && len(r.cond) > 0 {
			sort.Strings(all)
			return requirement{field: field, values: dedupe(all)}
		}
	}
	return requirement{}
}

// nodeRequires: if the condition can only hold when field is one of the
// returned (folded) values, it returns them and true.
func nodeRequires(n node, field string) ([]string, bool) {
	switch x := n.(type) {
	case selNode:
		return selRequires(x.sel, field)
	case andNode:
		var best []string
		found := false
		for _, c := range x {
			if v, ok := nodeRequires(c, field); ok && (!found || len(v) < len(best)) {
				best, found = v, true
			}
		}
		return best, found
	case orNode:
		var all []string
		for _, c := range x {
			v, ok := nodeRequires(c, field)
			if !ok {
				return nil, false
			}
			all = append(all, v...)
		}
		return all, true
	}
	return nil, false
}

func selRequires(s *selection, field string) ([]string, bool) {
	if len(s.alts) == 0 {
		return nil, false
	}
	var all []string
	for _, alt := range s.alts {
		var vals []string
		found := false
		for _, c := range alt {
			if c.field != field || (c.all && len(c.vals) > 1) {
				continue
			}
			exact := true
			var vs []string
			for _, m := range c.vals {
				sm, ok := m.(*strMatcher)
				if !ok || sm.kind != kindExact {
					exact = false
					break
				}
				lit := sm.lit
				if sm.cased {
					lit = foldString(lit)
				}
				vs = append(vs, lit)
			}
			if exact {
				vals, found = vs, true
				break
			}
		}
		if !found {
			return nil, false
		}
		all = append(all, vals...)
	}
	return all, true
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || s[i-1] != v {
			out = append(out, v)
		}
	}
	return out
}
