// Package iampolicy parses and evaluates identity policies in the AWS IAM
// policy language: Version, Statement, Sid, Effect, Action/NotAction and
// Resource/NotResource with * and ? wildcards, and Condition blocks with
// the string, ARN, IP address, Bool, Null, numeric and date operators,
// their IfExists forms and the ForAnyValue:/ForAllValues: set qualifiers.
// Evaluation follows IAM: an explicit Deny beats an Allow, which beats
// the implicit deny of no matching statement.
//
// It also holds opentrail's built-in policies (administrator, read-only,
// ingest-only, trail-protector and the guard rail protect-trails).
//
// The package is pure: no I/O. A parsed Policy is immutable and safe for
// concurrent use. Any package may import it.
package iampolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Policy is one parsed policy document.
type Policy struct {
	// Name says where the policy came from: a built-in's name, a file
	// name, "inline #2"... Parse leaves it empty; the caller names it.
	Name string
	// Version is the document's Version: "2012-10-17", or "2008-10-17"
	// (also when the document has none), where policy variables such as
	// ${aws:username} are plain text.
	Version    string
	Statements []Statement
	// usesContext is true when a statement has a condition or a policy
	// variable, i.e. when evaluation reads Request.Context.
	usesContext bool
}

// Statement is one statement of a policy, as Parse compiled it (a
// Statement built by hand matches no resource: build policies with
// Parse).
type Statement struct {
	Sid    string
	Effect Effect // Allow or ExplicitDeny
	// Action holds the Action element, or with NotAction set the
	// NotAction element: the actions the statement does not apply to.
	Action    []string
	NotAction bool
	// Resource holds the Resource element, or with NotResource set the
	// NotResource element.
	Resource    []string
	NotResource bool
	Conditions  []Condition
	// Principal holds a resource policy's Principal element (or, with
	// NotPrincipal set, its NotPrincipal element): principal type ("AWS",
	// "Service", ...) to identifiers. Always nil in an identity policy.
	Principal    map[string][]string
	NotPrincipal bool

	actions   []pattern
	resources []pattern
}

// pattern is an Action or Resource entry, compiled.
type pattern struct {
	text    string
	literal bool // no wildcards: compared whole
	hasVar  bool // holds ${...} policy variables (Version 2012-10-17)
}

func newPattern(text string) pattern {
	return pattern{text: text, literal: !strings.ContainsAny(text, "*?")}
}

// Effect is an evaluation's outcome, and a statement's effect.
type Effect int

const (
	// ImplicitDeny: no statement allows the request (the zero value).
	ImplicitDeny Effect = iota
	// Allow: a statement allows the request and none denies it.
	Allow
	// ExplicitDeny: a Deny statement matches the request.
	ExplicitDeny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// Error is a malformed policy document: Statement (1-based, 0 for the
// document itself) and Sid say where, Element which element, Message what
// is wrong, in the words of IAM's MalformedPolicyDocument errors.
type Error struct {
	Statement int
	Sid       string
	Element   string
	Message   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("malformed policy document: ")
	if e.Statement > 0 {
		fmt.Fprintf(&b, "statement %d", e.Statement)
		if e.Sid != "" {
			fmt.Fprintf(&b, " (Sid %q)", e.Sid)
		}
		b.WriteString(": ")
	}
	if e.Element != "" {
		b.WriteString(e.Element + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// MaxDocumentSize bounds a policy document (IAM's managed policy limit).
const MaxDocumentSize = 6144 * 4

// Parse reads one identity policy document. Principal and NotPrincipal
// are refused, as IAM refuses them in identity policies.
func Parse(doc []byte) (*Policy, error) { return parse(doc, false) }

// ParseResource reads one resource-based policy document (a bucket
// policy, say): like Parse, but every statement must name a Principal or
// NotPrincipal. Evaluate does not look at principals; the caller matches
// them.
func ParseResource(doc []byte) (*Policy, error) { return parse(doc, true) }

var topElements = map[string]bool{"Version": true, "Id": true, "Statement": true}

var stmtElements = map[string]bool{
	"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true, "Action": true, "NotAction": true,
	"Resource": true, "NotResource": true, "Condition": true,
}

func parse(doc []byte, resource bool) (*Policy, error) {
	docErr := func(format string, a ...any) error { return &Error{Message: fmt.Sprintf(format, a...)} }
	if len(doc) > MaxDocumentSize {
		return nil, docErr("the document is %d bytes; a policy may have at most %d", len(doc), MaxDocumentSize)
	}
	trimmed := bytes.TrimSpace(doc)
	var top map[string]json.RawMessage
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &top) != nil {
		return nil, docErr("Syntax errors in policy: a policy is one JSON object, such as {\"Version\": \"2012-10-17\", \"Statement\": [...]}")
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if !topElements[k] {
			return nil, docErr("Unknown field %s (a policy has Version, Id and Statement)", clip(k))
		}
	}
	p := &Policy{Version: "2008-10-17"}
	if raw, ok := top["Version"]; ok {
		var v string
		if json.Unmarshal(raw, &v) != nil || (v != "2012-10-17" && v != "2008-10-17") {
			return nil, &Error{Element: "Version", Message: fmt.Sprintf("The policy must contain a valid version string: %s is not \"2012-10-17\" or \"2008-10-17\"", clip(string(raw)))}
		}
		p.Version = v
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, &Error{Element: "Statement", Message: "Missing required field Statement"}
	}
	var list []json.RawMessage
	if r := bytes.TrimSpace(raw); len(r) > 0 && r[0] == '{' {
		list = []json.RawMessage{r}
	} else if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, &Error{Element: "Statement", Message: "must be an object or a non-empty array of objects"}
	}
	sids := map[string]bool{}
	for i, r := range list {
		s, err := parseStatement(r, resource, p.Version == "2012-10-17")
		if err != nil {
			err.Statement, err.Sid = i+1, s.Sid
			return nil, err
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				return nil, &Error{Statement: i + 1, Sid: s.Sid, Element: "Sid", Message: "Statement IDs (SID) in a single policy must be unique"}
			}
			sids[s.Sid] = true
		}
		if len(s.Conditions) > 0 {
			p.usesContext = true
		}
		for _, r := range s.resources {
			p.usesContext = p.usesContext || r.hasVar
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

// UsesContext reports whether evaluating p reads Request.Context (it has
// conditions or policy variables); callers may skip building it if not.
func (p *Policy) UsesContext() bool { return p.usesContext }

var (
	serviceRE = regexp.MustCompile(`^[a-z0-9-]+$`)
	actionRE  = regexp.MustCompile(`^[A-Za-z0-9*?]+$`)
)

func parseStatement(raw json.RawMessage, resource, vars bool) (Statement, *Error) {
	var s Statement
	var st map[string]json.RawMessage
	if json.Unmarshal(raw, &st) != nil || st == nil {
		return s, &Error{Message: "a statement must be a JSON object"}
	}
	if r, ok := st["Sid"]; ok {
		if json.Unmarshal(r, &s.Sid) != nil {
			return s, &Error{Element: "Sid", Message: "Statement IDs (SID) must be strings"}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(st)) {
		if !stmtElements[k] {
			return s, &Error{Message: fmt.Sprintf("Unknown field %s (a statement has Sid, Effect, Action or NotAction, Resource or NotResource, Condition)", clip(k))}
		}
	}
	r, ok := st["Effect"]
	if !ok {
		return s, &Error{Element: "Effect", Message: "Missing required field Effect"}
	}
	var effect string
	_ = json.Unmarshal(r, &effect)
	switch effect {
	case "Allow":
		s.Effect = Allow
	case "Deny":
		s.Effect = ExplicitDeny
	default:
		return s, &Error{Element: "Effect", Message: fmt.Sprintf("Invalid effect: %s (want \"Allow\" or \"Deny\")", clip(string(r)))}
	}

	prin, notPrin := st["Principal"], st["NotPrincipal"]
	switch {
	case !resource && (prin != nil || notPrin != nil):
		return s, &Error{Element: "Principal", Message: "Policy document should not specify a principal (an identity policy applies to the principal it is attached to)"}
	case prin != nil && notPrin != nil:
		return s, &Error{Element: "Principal", Message: "a statement may not have both Principal and NotPrincipal"}
	case resource && prin == nil && notPrin == nil:
		return s, &Error{Element: "Principal", Message: "Missing required field Principal"}
	case notPrin != nil:
		s.NotPrincipal, prin = true, notPrin
	}
	if prin != nil {
		m, err := parsePrincipal(prin)
		if err != nil {
			return s, err
		}
		s.Principal = m
	}

	acts, name, err := pick(st, "Action", "NotAction")
	if err != nil {
		return s, err
	}
	s.NotAction = name == "NotAction"
	for _, a := range acts {
		if a == "*" {
			continue
		}
		svc, op, ok := strings.Cut(a, ":")
		if !ok || svc == "" {
			return s, &Error{Element: name, Message: fmt.Sprintf("Actions/Conditions must be prefaced by a vendor, e.g., cloudtrail, logs, s3: %q", clip(a))}
		}
		if !serviceRE.MatchString(strings.ToLower(svc)) || !actionRE.MatchString(op) {
			return s, &Error{Element: name, Message: fmt.Sprintf("Action %q is not a service prefix and an action name (letters, digits, * and ?)", clip(a))}
		}
	}
	s.Action = acts
	for _, a := range acts {
		s.actions = append(s.actions, newPattern(a))
	}

	res, name, err := pick(st, "Resource", "NotResource")
	if err != nil {
		return s, err
	}
	s.NotResource = name == "NotResource"
	for _, r := range res {
		if r != "*" && (!strings.HasPrefix(r, "arn:") || strings.Count(r, ":") < 5) {
			return s, &Error{Element: name, Message: fmt.Sprintf("Resource %s must be in ARN format or \"*\"", clip(r))}
		}
		pt := newPattern(r)
		if vars && strings.Contains(r, "${") {
			if err := checkVariables(r); err != nil {
				return s, &Error{Element: name, Message: err.Error()}
			}
			pt.hasVar = true
		}
		s.resources = append(s.resources, pt)
	}
	s.Resource = res

	if r, ok := st["Condition"]; ok {
		conds, err := parseConditions(r, vars)
		if err != nil {
			return s, err
		}
		s.Conditions = conds
	}
	return s, nil
}

// pick reads the one of two exclusive string-list elements a statement
// has (Action or NotAction, Resource or NotResource).
func pick(st map[string]json.RawMessage, a, notA string) ([]string, string, *Error) {
	ra, rn := st[a], st[notA]
	switch {
	case ra != nil && rn != nil:
		return nil, a, &Error{Element: a, Message: fmt.Sprintf("a statement may not have both %s and %s", a, notA)}
	case ra == nil && rn == nil:
		msg := "Policy statement must contain actions (Action or NotAction)"
		if a == "Resource" {
			msg = "Policy statement must contain resources (Resource or NotResource)"
		}
		return nil, a, &Error{Element: a, Message: msg}
	case rn != nil:
		a, ra = notA, rn
	}
	l, err := stringList(ra)
	if err != nil {
		return nil, a, &Error{Element: a, Message: err.Error()}
	}
	return l, a, nil
}

// stringList reads a JSON string or a non-empty array of strings.
func stringList(raw json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil {
		return nil, fmt.Errorf("must be a string or an array of strings, not %s", clip(string(raw)))
	}
	if len(many) == 0 {
		return nil, fmt.Errorf("must not be an empty array")
	}
	return many, nil
}

func parsePrincipal(raw json.RawMessage) (map[string][]string, *Error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, &Error{Element: "Principal", Message: "Invalid principal in policy: a principal string must be \"*\""}
		}
		return map[string][]string{"AWS": {"*"}}, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return nil, &Error{Element: "Principal", Message: "Invalid principal in policy: want \"*\" or an object such as {\"AWS\": \"arn:aws:iam::123456789012:root\"}"}
	}
	out := make(map[string][]string, len(m))
	for kind, v := range m {
		switch kind {
		case "AWS", "CanonicalUser", "Service", "Federated":
		default:
			return nil, &Error{Element: "Principal", Message: fmt.Sprintf("Invalid principal in policy: unknown principal type %q (want AWS, CanonicalUser, Service or Federated)", clip(kind))}
		}
		l, err := stringList(v)
		if err != nil {
			return nil, &Error{Element: "Principal", Message: fmt.Sprintf("Invalid principal in policy: %s %v", kind, err)}
		}
		for _, id := range l {
			if id == "" {
				return nil, &Error{Element: "Principal", Message: fmt.Sprintf("Invalid principal in policy: empty %s principal", kind)}
			}
		}
		out[kind] = l
	}
	return out, nil
}

func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:80] + "..."
}
