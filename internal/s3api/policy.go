package s3api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/opentrail/opentrail/internal/iampolicy"
	"github.com/opentrail/opentrail/internal/objstore"
)

// policy is a parsed bucket policy. See the package documentation for
// what its evaluation supports.
type policy struct {
	statements []statement
}

type statement struct {
	allow bool
	// principals and friends hold the Principal (or, with the not flag,
	// NotPrincipal) element; anyPrincipal is "*" or {"AWS": "*"}.
	anyPrincipal bool
	aws          []string
	canonical    []string
	notPrincipal bool
	actions      []string // lower-case patterns
	notAction    bool
	resources    []string
	notResource  bool
	conditions   []condition
}

// condition is one operator/key pair of a Condition block.
type condition struct {
	op     string // as written, e.g. "StringNotEqualsIfExists"
	key    string // lower-case condition key
	values []string
	// iam is the condition compiled by the IAM policy language; ok is
	// false for an operator (or values) it does not know.
	iam iampolicy.Condition
	ok  bool
}

// decision is the outcome of evaluating a policy for one request.
type decision int

const (
	noMatch decision = iota // no statement applies: implicit deny
	allow
	deny
)

// evalContext is what policy evaluation knows about a request.
type evalContext struct {
	account  string // the caller's account id
	arn      string // the caller's principal ARN
	canonID  string // the caller account's canonical user id
	action   string // e.g. "s3:GetObject"
	resource string // e.g. "arn:aws:s3:::bucket/key"
	secure   bool   // the request arrived over TLS
}

// denyAll stands in for a stored policy that no longer parses.
var denyAll = &policy{statements: []statement{{anyPrincipal: true, actions: []string{"*"}, resources: []string{"*"}}}}

// malformed returns a MalformedPolicy error with a formatted message.
func malformed(format string, args ...any) *s3Error {
	return &s3Error{Code: "MalformedPolicy", Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// policyStringList is a JSON string or array of strings.
type policyStringList []string

func (l *policyStringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("must be a string or an array of strings")
	}
	if len(many) == 0 {
		return errors.New("must not be an empty array")
	}
	*l = many
	return nil
}

var (
	accountPattern   = regexp.MustCompile(`^[0-9]{12}$`)
	principalPattern = regexp.MustCompile(`^arn:aws:(iam|sts)::[0-9]{12}:(root|user/.+|role/.+|assumed-role/.+|federated-user/.+)$`)
	canonicalPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	actionPattern    = regexp.MustCompile(`^(?i:s3):[A-Za-z*?]+$`)
)

// policyElements are the fields a statement may have.
var policyElements = map[string]bool{
	"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true, "Action": true, "NotAction": true,
	"Resource": true, "NotResource": true, "Condition": true,
}

// parsePolicy parses and validates a bucket policy for bucket. Errors are
// MalformedPolicy errors whose messages say what is wrong, in S3's words
// where S3 has them.
func parsePolicy(doc []byte, bucket string) (*policy, error) {
	if len(doc) > objstore.MaxPolicySize {
		return nil, malformed("Policy exceeds the maximum allowed document size of %d bytes", objstore.MaxPolicySize)
	}
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, malformed("Policies must be valid JSON and the first byte must be '{'")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return nil, malformed("Policies must be valid JSON and the first byte must be '{'")
	}
	for k := range top {
		if k != "Version" && k != "Id" && k != "Statement" {
			return nil, malformed("Unknown field %s", truncate(k, 64))
		}
	}
	if v, ok := top["Version"]; ok {
		var s string
		if json.Unmarshal(v, &s) != nil || (s != "2012-10-17" && s != "2008-10-17") {
			return nil, malformed("Invalid policy version: Version must be \"2012-10-17\" or \"2008-10-17\"")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, malformed("Missing required field Statement")
	}
	var list []map[string]json.RawMessage
	var one map[string]json.RawMessage
	if json.Unmarshal(raw, &one) == nil && one != nil {
		list = append(list, one)
	} else if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		return nil, malformed("Statement must be an object or a non-empty array of objects")
	}
	p := &policy{}
	for i, st := range list {
		s, err := parseStatement(st, bucket)
		if err != nil {
			err.Message += fmt.Sprintf(" (statement %d)", i+1)
			return nil, err
		}
		p.statements = append(p.statements, s)
	}
	return p, nil
}

func parseStatement(st map[string]json.RawMessage, bucket string) (statement, *s3Error) {
	var s statement
	if st == nil {
		return s, malformed("Statement must be an object")
	}
	for k := range st {
		if !policyElements[k] {
			return s, malformed("Unknown field %s", truncate(k, 64))
		}
	}
	if raw, ok := st["Sid"]; ok {
		var sid string
		if json.Unmarshal(raw, &sid) != nil {
			return s, malformed("Statement IDs (SID) must be strings")
		}
	}
	var effect string
	raw, ok := st["Effect"]
	if !ok {
		return s, malformed("Missing required field Effect")
	}
	if json.Unmarshal(raw, &effect) != nil || (effect != "Allow" && effect != "Deny") {
		return s, malformed("Invalid effect: %s", truncate(string(raw), 64))
	}
	s.allow = effect == "Allow"

	prin, notPrin := st["Principal"], st["NotPrincipal"]
	switch {
	case prin != nil && notPrin != nil:
		return s, malformed("Statement may not name both Principal and NotPrincipal")
	case prin == nil && notPrin == nil:
		return s, malformed("Missing required field Principal")
	case notPrin != nil:
		s.notPrincipal, prin = true, notPrin
	}
	if err := s.parsePrincipal(prin); err != nil {
		return s, err
	}

	acts, notActs := st["Action"], st["NotAction"]
	switch {
	case acts != nil && notActs != nil:
		return s, malformed("Statement may not name both Action and NotAction")
	case acts == nil && notActs == nil:
		return s, malformed("Missing required field Action")
	case notActs != nil:
		s.notAction, acts = true, notActs
	}
	var al policyStringList
	if err := json.Unmarshal(acts, &al); err != nil {
		return s, malformed("Policy has invalid action: Action %v", err)
	}
	for _, a := range al {
		if a != "*" && !actionPattern.MatchString(a) {
			return s, malformed("Policy has invalid action: %q", truncate(a, 64))
		}
		s.actions = append(s.actions, strings.ToLower(a))
	}

	res, notRes := st["Resource"], st["NotResource"]
	switch {
	case res != nil && notRes != nil:
		return s, malformed("Statement may not name both Resource and NotResource")
	case res == nil && notRes == nil:
		return s, malformed("Missing required field Resource")
	case notRes != nil:
		s.notResource, res = true, notRes
	}
	var rl policyStringList
	if err := json.Unmarshal(res, &rl); err != nil {
		return s, malformed("Policy has invalid resource: Resource %v", err)
	}
	for _, r := range rl {
		if !validResource(r, bucket) {
			return s, malformed("Policy has invalid resource: %q is not this bucket or an object in it", truncate(r, 128))
		}
	}
	s.resources = rl

	if raw, ok := st["Condition"]; ok {
		conds, err := parseConditions(raw)
		if err != nil {
			return s, err
		}
		s.conditions = conds
	}
	return s, nil
}

func (s *statement) parsePrincipal(raw json.RawMessage) *s3Error {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return malformed("Invalid principal in policy: a principal string must be \"*\"")
		}
		s.anyPrincipal = true
		return nil
	}
	var m map[string]policyStringList
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return malformed("Invalid principal in policy: Principal must be \"*\" or an object of principal lists")
	}
	for kind, ids := range m {
		switch kind {
		case "AWS":
			for _, id := range ids {
				switch {
				case id == "*":
					s.anyPrincipal = true
				case accountPattern.MatchString(id), principalPattern.MatchString(id):
					s.aws = append(s.aws, id)
				default:
					return malformed("Invalid principal in policy: %q", truncate(id, 128))
				}
			}
		case "CanonicalUser":
			for _, id := range ids {
				if !canonicalPattern.MatchString(id) {
					return malformed("Invalid principal in policy: canonical user %q", truncate(id, 128))
				}
				s.canonical = append(s.canonical, id)
			}
		case "Service", "Federated":
			// Valid, but never a caller of this API.
			for _, id := range ids {
				if id == "" {
					return malformed("Invalid principal in policy: empty %s principal", kind)
				}
			}
		default:
			return malformed("Invalid principal in policy: unknown principal type %q", truncate(kind, 64))
		}
	}
	return nil
}

// validResource reports whether r names bucket or objects in it: an ARN
// "arn:aws:s3:::" whose bucket part matches bucket.
func validResource(r, bucket string) bool {
	rest, ok := strings.CutPrefix(r, "arn:aws:s3:::")
	if !ok {
		return false
	}
	b, _, _ := strings.Cut(rest, "/")
	return globMatch(b, bucket)
}

func parseConditions(raw json.RawMessage) ([]condition, *s3Error) {
	var block map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &block); err != nil || block == nil {
		return nil, malformed("Invalid Condition: must be an object of operators, each an object of condition keys")
	}
	var out []condition
	for op, keys := range block {
		if op == "" || keys == nil || len(keys) == 0 {
			return nil, malformed("Invalid Condition: operator %q has no condition keys", truncate(op, 64))
		}
		for key, rv := range keys {
			vals, err := iampolicy.ConditionValues(rv)
			if err != nil || key == "" {
				return nil, malformed("Invalid Condition: %s of %q: values must be strings, numbers or booleans", truncate(op, 64), truncate(key, 64))
			}
			c := condition{op: op, key: strings.ToLower(key), values: vals}
			c.iam, err = iampolicy.ParseCondition(op, key, vals, false)
			c.ok = err == nil
			out = append(out, c)
		}
	}
	return out, nil
}

// evaluate decides the request: any matching Deny denies, else any
// matching Allow allows, else nothing matches.
func (p *policy) evaluate(c evalContext) decision {
	d := noMatch
	for i := range p.statements {
		s := &p.statements[i]
		if !s.matches(c) {
			continue
		}
		if !s.allow {
			return deny
		}
		d = allow
	}
	return d
}

func (s *statement) matches(c evalContext) bool {
	if s.principalMatches(c) == s.notPrincipal {
		return false
	}
	action := strings.ToLower(c.action)
	if matchAny(s.actions, action) == s.notAction {
		return false
	}
	if matchAny(s.resources, c.resource) == s.notResource {
		return false
	}
	if len(s.conditions) == 0 {
		return true
	}
	if s.allow {
		// Conditions that grant access are not evaluated.
		return false
	}
	for _, cond := range s.conditions {
		if holds, known := cond.eval(c); known && !holds {
			return false
		}
		// An unknown condition leaves the Deny in force: fail closed.
	}
	return true
}

func (s *statement) principalMatches(c evalContext) bool {
	if s.anyPrincipal {
		return true
	}
	for _, id := range s.aws {
		switch {
		case id == c.account, id == "arn:aws:iam::"+c.account+":root":
			return true
		case c.arn != "" && id == c.arn:
			return true
		}
	}
	for _, id := range s.canonical {
		if id == c.canonID {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// eval reports whether the condition holds for c, and whether opentrail
// knows how to evaluate it at all.
func (cond condition) eval(c evalContext) (holds, known bool) {
	var v string
	switch cond.key {
	case "aws:securetransport":
		v = strconv.FormatBool(c.secure)
	case "aws:principalaccount":
		v = c.account
	case "aws:principalarn":
		v = c.arn
	default:
		return false, false
	}
	if !cond.ok {
		return false, false
	}
	return cond.iam.Holds(map[string][]string{cond.key: {v}}), true
}

// globMatch reports whether s matches pattern, where '*' matches any run
// of characters and '?' any one character (iampolicy.Match).
func globMatch(pattern, s string) bool { return iampolicy.Match(pattern, s, false) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
