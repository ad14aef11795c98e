package iampolicy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Request is what one call asks to do.
type Request struct {
	// Action is "service:Name", e.g. "cloudtrail:StopLogging"; matched
	// case-insensitively, as IAM matches actions.
	Action string
	// Resource is one ARN, or "*" when the action has no resource type.
	// ARNs are matched case-sensitively.
	Resource string
	// Context holds the condition keys (aws:SourceIp, aws:SecureTransport
	// "true"/"false", aws:MultiFactorAuthPresent, aws:PrincipalArn,
	// aws:PrincipalAccount, aws:RequestedRegion, aws:CurrentTime,
	// aws:username, aws:userid, ...), matched case-insensitively. A key
	// that is absent is missing, as in IAM's request context.
	Context map[string][]string
}

// Decision is the outcome of an evaluation, with the statement that
// decided it: the first matching Deny, else the first matching Allow.
// Policy and Sid are empty for an implicit deny.
type Decision struct {
	Effect Effect
	Policy string // the deciding policy's Name
	Sid    string // the deciding statement's Sid ("" if it has none)
	// Statement is the deciding statement's position in its policy,
	// 1-based (0 for an implicit deny), for statements without a Sid.
	Statement int
}

// Evaluate decides r against policies as IAM does within one policy type:
// any matching Deny statement denies (ExplicitDeny); otherwise any
// matching Allow statement allows; otherwise the request is implicitly
// denied. It never fails: what it cannot evaluate does not match.
func Evaluate(policies []*Policy, r Request) Decision {
	var allow Decision
	for _, p := range policies {
		d := p.Evaluate(r)
		switch d.Effect {
		case ExplicitDeny:
			return d
		case Allow:
			if allow.Effect != Allow {
				allow = d
			}
		}
	}
	return allow
}

// Evaluate decides r against p alone; see the function Evaluate.
func (p *Policy) Evaluate(r Request) Decision {
	var allow Decision
	for i := range p.Statements {
		s := &p.Statements[i]
		if s.Effect == Allow && allow.Effect == Allow {
			continue // one Allow is enough; only a Deny can change the outcome
		}
		if !s.matches(r) {
			continue
		}
		d := Decision{Effect: s.Effect, Policy: p.Name, Sid: s.Sid, Statement: i + 1}
		if s.Effect == ExplicitDeny {
			return d
		}
		allow = d
	}
	return allow
}

func (s *Statement) matches(r Request) bool {
	if s.matchAction(r.Action) == s.NotAction {
		return false
	}
	if s.matchResource(r) == s.NotResource {
		return false
	}
	for i := range s.Conditions {
		if !s.Conditions[i].holds(r.Context) {
			return false
		}
	}
	return true
}

func (s *Statement) matchAction(action string) bool {
	for _, a := range s.actions {
		if a.literal && strings.EqualFold(a.text, action) || !a.literal && Match(a.text, action, true) {
			return true
		}
	}
	return false
}

func (s *Statement) matchResource(r Request) bool {
	for _, p := range s.resources {
		text := p.text
		if p.hasVar {
			var ok bool
			if text, ok = expand(text, r.Context); !ok {
				continue
			}
		}
		if p.literal && !p.hasVar && text == r.Resource || Match(text, r.Resource, false) {
			return true
		}
	}
	return false
}

// Match reports whether s matches pattern, where '*' matches any run of
// characters (none too) and '?' exactly one; fold makes the comparison
// ASCII-case-insensitive (as for actions). It runs in O(len(pattern) ×
// len(s)) time and allocates nothing.
func Match(pattern, s string, fold bool) bool {
	if pattern == "*" {
		return true
	}
	if strings.IndexAny(pattern, "*?") < 0 {
		if fold {
			return strings.EqualFold(pattern, s)
		}
		return pattern == s
	}
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '?':
			p, i = p+1, i+runeLen(s, i)
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == s[i] || fold && lower(pattern[p]) == lower(s[i])):
			p, i = p+1, i+1
		case star >= 0:
			mark += runeLen(s, mark)
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// runeLen is the length of the character at s[i].
func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// lookup returns the values of a condition key, matching the key
// case-insensitively.
func lookup(ctx map[string][]string, key string) ([]string, bool) {
	if v, ok := ctx[key]; ok {
		return v, true
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// checkVariables checks the ${...} policy variables in s: each names a
// condition key; ${*}, ${?} and ${$} (escapes) and default values are not
// supported.
func checkVariables(s string) error {
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return fmt.Errorf("policy variable %s is not closed with }", clip(s[i:]))
		}
		name := s[i+2 : i+j]
		if name == "" || strings.ContainsAny(name, "*?$,' ") || !strings.Contains(name, ":") {
			return fmt.Errorf("policy variable ${%s} is not supported: write a condition key such as ${aws:username}", clip(name))
		}
		s = s[i+j+1:]
	}
}

// expand replaces the policy variables in s by their single values in
// ctx. ok is false when a variable is missing or has not exactly one
// value, or when a value holds a wildcard character: the element then
// matches nothing, as in IAM.
func expand(s string, ctx map[string][]string) (string, bool) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", false
		}
		v, ok := lookup(ctx, s[i+2:i+j])
		if !ok || len(v) != 1 || strings.ContainsAny(v[0], "*?") {
			return "", false
		}
		b.WriteString(s[:i])
		b.WriteString(v[0])
		s = s[i+j+1:]
	}
}
