package sigma

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// maxValues bounds the values one rule may hold (YAML aliases can make a
// small file name very many).
const maxValues = 100000

// selection is one named search identifier of a detection: either field
// conditions (a map, or a list of maps ORed) or keywords.
type selection struct {
	name     string
	alts     [][]*fieldCond // OR of ANDs
	keywords []matcher      // OR
}

// fieldCond is one key of a selection map: a field (with its modifiers)
// and the values it is tested against.
type fieldCond struct {
	field string
	path  []string
	vals  []matcher
	all   bool // every value must match (the all modifier)
}

// compileSelection compiles the value of a detection key.
func compileSelection(name string, v any, budget *int) (*selection, string) {
	sel := &selection{name: name}
	switch x := v.(type) {
	case map[string]any:
		conds, reason := compileMap(x, budget)
		if reason != "" {
			return nil, reason
		}
		sel.alts = [][]*fieldCond{conds}
	case []any:
		if len(x) == 0 {
			return nil, "empty list"
		}
		if _, isMap := x[0].(map[string]any); isMap {
			for _, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					return nil, "a list mixes maps and plain values"
				}
				conds, reason := compileMap(m, budget)
				if reason != "" {
					return nil, reason
				}
				sel.alts = append(sel.alts, conds)
			}
			break
		}
		for _, e := range x {
			if *budget--; *budget < 0 {
				return nil, fmt.Sprintf("more than %d values in one rule", maxValues)
			}
			m, reason := keywordMatcher(e)
			if reason != "" {
				return nil, reason
			}
			sel.keywords = append(sel.keywords, m)
		}
	case string, int, int64, uint64, float64, bool:
		m, reason := keywordMatcher(x)
		if reason != "" {
			return nil, reason
		}
		sel.keywords = []matcher{m}
	case nil:
		return nil, "empty selection"
	default:
		return nil, fmt.Sprintf("unsupported selection value of type %T", v)
	}
	return sel, ""
}

func keywordMatcher(v any) (matcher, string) {
	switch v.(type) {
	case map[string]any, []any, nil:
		return nil, "keyword lists hold plain values only"
	}
	// A keyword is searched for anywhere in any string of the record.
	m, reason := compileString("*"+scalarString(v)+"*", false)
	return m, reason
}

func compileMap(m map[string]any, budget *int) ([]*fieldCond, string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	conds := make([]*fieldCond, 0, len(keys))
	for _, k := range keys {
		c, reason := compileField(k, m[k], budget)
		if reason != "" {
			return nil, reason
		}
		conds = append(conds, c)
	}
	if len(conds) == 0 {
		return nil, "empty map"
	}
	return conds, ""
}

// mods are the modifiers of one field key, in the order written.
type mods struct {
	contains, startswith, endswith, all, cased, exists, fieldref, neq bool
	re                                                                bool
	reFlags                                                           string
	cidr                                                              bool
	cmp                                                               string // gt, gte, lt, lte
	b64, b64offset, windash                                           bool
}

func parseMods(list []string) (mods, string) {
	var md mods
	for _, m := range list {
		switch m {
		case "contains":
			md.contains = true
		case "startswith":
			md.startswith = true
		case "endswith":
			md.endswith = true
		case "all":
			md.all = true
		case "cased":
			md.cased = true
		case "exists":
			md.exists = true
		case "fieldref":
			md.fieldref = true
		case "neq":
			md.neq = true
		case "re":
			md.re = true
		case "i", "ignorecase":
			md.reFlags += "i"
		case "m", "multiline":
			md.reFlags += "m"
		case "s", "dotall":
			md.reFlags += "s"
		case "cidr":
			md.cidr = true
		case "gt", "gte", "lt", "lte":
			if md.cmp != "" {
				return md, "two numeric comparisons on one field"
			}
			md.cmp = m
		case "base64":
			md.b64 = true
		case "base64offset":
			md.b64offset = true
		case "windash":
			md.windash = true
		default:
			return md, "unsupported: modifier " + m
		}
	}
	if md.reFlags != "" && !md.re {
		return md, "regular-expression flags without the re modifier"
	}
	n := 0
	for _, b := range []bool{md.contains, md.startswith, md.endswith} {
		if b {
			n++
		}
	}
	if n > 1 {
		return md, "more than one of contains, startswith, endswith"
	}
	special := 0
	for _, b := range []bool{md.re, md.cidr, md.exists, md.cmp != ""} {
		if b {
			special++
		}
	}
	if special > 1 || (special == 1 && (n > 0 || md.fieldref || md.b64 || md.b64offset || md.windash)) {
		return md, "modifiers " + strings.Join(list, "|") + " cannot be combined"
	}
	if md.b64 && md.b64offset {
		return md, "base64 and base64offset cannot be combined"
	}
	if md.fieldref && (md.b64 || md.b64offset || md.windash) {
		return md, "fieldref cannot be combined with " + strings.Join(list, "|")
	}
	return md, ""
}

func compileField(key string, v any, budget *int) (*fieldCond, string) {
	parts := strings.Split(key, "|")
	field := parts[0]
	if field == "" {
		return nil, "unsupported: a key with modifiers but no field name (" + key + ")"
	}
	md, reason := parseMods(parts[1:])
	if reason != "" {
		return nil, reason
	}
	c := &fieldCond{field: field, path: strings.Split(field, "."), all: md.all}
	values, isList := v.([]any)
	if !isList {
		values = []any{v}
	}
	if len(values) == 0 {
		return nil, "field " + field + " has an empty value list"
	}
	for _, x := range values {
		if *budget--; *budget < 0 {
			return nil, fmt.Sprintf("more than %d values in one rule", maxValues)
		}
		ms, reason := compileValue(md, x)
		if reason != "" {
			return nil, "field " + field + ": " + reason
		}
		if len(ms) == 1 {
			c.vals = append(c.vals, ms[0])
		} else {
			c.vals = append(c.vals, anyOf(ms)) // windash/base64offset variants
		}
	}
	return c, ""
}

// compileValue compiles one value under the field's modifiers; several
// matchers are variants of one value (ORed).
func compileValue(md mods, v any) ([]matcher, string) {
	switch v.(type) {
	case map[string]any, []any:
		return nil, "a value is a map or a nested list"
	}
	if md.exists {
		b, ok := v.(bool)
		if !ok {
			return nil, "exists takes true or false"
		}
		return []matcher{existsMatcher(b)}, ""
	}
	if v == nil {
		if md.contains || md.startswith || md.endswith || md.re || md.cidr || md.cmp != "" || md.fieldref || md.b64 || md.b64offset {
			return nil, "null combined with a modifier"
		}
		return []matcher{nullMatcher{}}, ""
	}
	s := scalarString(v)
	var out []matcher
	switch {
	case md.re:
		re, err := regexp.Compile(flagPrefix(md.reFlags) + s)
		if err != nil {
			return nil, "regular expression " + quote(s) + ": " + err.Error()
		}
		out = []matcher{newReMatcher(re)}
	case md.cidr:
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, "cidr " + quote(s) + ": " + err.Error()
		}
		out = []matcher{cidrMatcher{p.Masked()}}
	case md.cmp != "":
		f, ok := number(v)
		if !ok {
			var err error
			if f, err = strconv.ParseFloat(s, 64); err != nil || math.IsNaN(f) {
				return nil, md.cmp + " takes a number, not " + quote(s)
			}
		}
		out = []matcher{cmpMatcher{op: md.cmp, n: f}}
	case md.fieldref:
		mode := modeExact
		switch {
		case md.contains:
			mode = modeContains
		case md.startswith:
			mode = modePrefix
		case md.endswith:
			mode = modeSuffix
		}
		out = []matcher{&fieldrefMatcher{path: strings.Split(s, "."), mode: mode, cased: md.cased}}
	default:
		var variants []string
		switch {
		case md.b64:
			variants = []string{escapeWild(base64.StdEncoding.EncodeToString([]byte(s)))}
		case md.b64offset:
			variants = base64Offsets(s)
		case md.windash:
			variants = windashVariants(s)
		default:
			variants = []string{s}
		}
		for _, p := range variants {
			switch {
			case md.contains:
				p = "*" + p + "*"
			case md.startswith:
				p = p + "*"
			case md.endswith:
				p = "*" + p
			}
			m, reason := compileString(p, md.cased || md.b64 || md.b64offset)
			if reason != "" {
				return nil, reason
			}
			out = append(out, m)
		}
	}
	if md.neq {
		for i, m := range out {
			out[i] = neqMatcher{m}
		}
	}
	return out, ""
}

func flagPrefix(f string) string {
	if f == "" {
		return ""
	}
	return "(?" + f + ")"
}

// scalarString is a YAML scalar in the string form Sigma compares.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// escapeWild makes every character of s literal in a Sigma value.
func escapeWild(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`)
	return r.Replace(s)
}

// base64Offsets are the three encodings of s at byte offsets 0, 1 and 2
// of a base64 stream, trimmed of the characters that depend on the
// neighbouring bytes (the specification's base64offset).
func base64Offsets(s string) []string {
	start := []int{0, 2, 3}
	end := []int{0, 3, 2}
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, i), s...))
		e := len(enc) - end[(len(s)+i)%3]
		if start[i] > e {
			continue
		}
		out = append(out, escapeWild(enc[start[i]:e]))
	}
	return out
}

// windashVariants replaces each dash at a word start by the characters
// Windows command lines accept for it.
func windashVariants(s string) []string {
	out := []string{s}
	for _, d := range []string{"/", "–", "—", "―"} {
		out = append(out, strings.ReplaceAll(s, "-", d))
	}
	return out
}
