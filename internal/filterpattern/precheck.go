package filterpattern

import (
	"bytes"
	"slices"
	"strings"
)

// maxRequired is how many required literals a pattern checks before
// scanning.
const maxRequired = 3

// A message without a backslash has every string written raw, so a
// member name the pattern needs, or a string value it needs equal, must
// appear in the bytes as written: when one is absent the message cannot
// match and the scan is skipped. required computes such literals — each
// necessary for the whole expression — for a single pattern's Match.
func (e *expr) required(j *jsonPattern) []string {
	switch e.kind {
	case exprAnd:
		var out []string
		for _, k := range e.kids {
			out = append(out, k.required(j)...)
		}
		return out
	case exprOr:
		out := e.kids[0].required(j)
		for _, k := range e.kids[1:] {
			r := k.required(j)
			out = slices.DeleteFunc(out, func(s string) bool { return !slices.Contains(r, s) })
		}
		return out
	case exprIn:
		return keyLiteral(j.steps[e.in.slot])
	}
	c := e.leaf
	if c.op == opNotExists {
		return nil
	}
	out := keyLiteral(c.sel.path)
	if c.sel.wild && c.op == opNe {
		return out
	}
	if len(c.sel.rest) > 0 {
		out = append(out, keyLiteral(c.sel.rest)...)
	}
	if c.op == opEq && c.val.kind == vText {
		g := c.val.text
		if g.parts == nil {
			if !numberText(g.lit) && rawSafe(g.lit) {
				out = append(out, `"`+g.lit+`"`)
			}
		} else {
			best := ""
			for _, p := range g.parts {
				if len(p) > len(best) && !numberText(p) && rawSafe(p) {
					best = p
				}
			}
			if best != "" {
				out = append(out, best)
			}
		}
	}
	return out
}

// keyLiteral is `"name"` for the last member name of a path.
func keyLiteral(path []step) []string {
	for i := len(path) - 1; i >= 0; i-- {
		if !path[i].isIdx {
			if rawSafe(path[i].key) {
				return []string{`"` + path[i].key + `"`}
			}
			return nil
		}
	}
	return nil
}

// numberText reports whether s could be (part of) a number's text as
// compared with text literals: digits, '-', '.', 'E', Infinity, NaN.
func numberText(s string) bool {
	return strings.Trim(s, "0123456789.-EInfityNa") == ""
}

// rawSafe reports whether s is written the same raw in JSON: no quote,
// backslash or control character.
func rawSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' || s[i] < 0x20 {
			return false
		}
	}
	return true
}

// setRequired keeps the longest distinct required literals.
func (j *jsonPattern) setRequired() {
	r := j.root.required(j)
	slices.SortFunc(r, func(a, b string) int { return len(b) - len(a) })
	r = slices.Compact(r)
	if len(r) > maxRequired {
		r = r[:maxRequired]
	}
	for _, s := range r {
		j.req = append(j.req, []byte(s))
	}
}

// precheck reports false when msg certainly does not match.
func (j *jsonPattern) precheck(msg []byte) bool {
	if len(j.req) == 0 || bytes.IndexByte(msg, '\\') >= 0 {
		return true
	}
	return containsAll(msg, j.req)
}
