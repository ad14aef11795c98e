package capture

import "strings"

// Hidden replaces a redacted parameter's value, as CloudTrail writes it.
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// builtinRedact names the parameters always redacted (compared without
// case), in addition to every name containing "password" or
// "secretaccesskey".
var builtinRedact = []string{
	"secret", "secretKey", "secretString", "secretBinary", "clientSecret",
	"sessionToken", "securityToken", "x-amz-security-token", "accessToken", "refreshToken", "idToken",
	"authorizationToken", "privateKey", "plaintext", "privateKeyPem", "keyMaterial",
	"x-amz-server-side-encryption-customer-key", "x-amz-copy-source-server-side-encryption-customer-key", "x-amz-mfa",
}

// redactor hides the values of sensitive parameters at any depth.
type redactor struct {
	names map[string]bool
}

// builtin is the redactor of the built-in list alone, shared.
var builtin = newRedactorOf(nil)

// newRedactor returns the redactor of the built-in list and extra.
func newRedactor(extra []string) *redactor {
	if len(extra) == 0 {
		return builtin
	}
	return newRedactorOf(extra)
}

func newRedactorOf(extra []string) *redactor {
	r := &redactor{names: make(map[string]bool, len(builtinRedact)+len(extra))}
	for _, n := range builtinRedact {
		r.names[strings.ToLower(n)] = true
	}
	for _, n := range extra {
		r.names[strings.ToLower(n)] = true
	}
	return r
}

// hides reports whether a parameter's value is redacted.
func (r *redactor) hides(name string) bool {
	n := strings.ToLower(name)
	return r.names[n] || strings.Contains(n, "password") || strings.Contains(n, "secretaccesskey")
}

// maxParamsDepth bounds the nesting of recorded parameters and answer
// elements: a record nests at most 64 levels, and they start at level 2.
const maxParamsDepth = 32

// tooDeep replaces a value nested deeper than maxParamsDepth.
const tooDeep = "left out: nested deeper than 32 levels"

// params redacts m in place, cutting values nested too deep, and returns
// it; an empty m becomes nil.
func (r *redactor) params(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	r.walk(m, 1)
	return m
}

func (r *redactor) walk(v any, depth int) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch {
			case r.hides(k):
				x[k] = Hidden
			case depth >= maxParamsDepth && isContainer(val):
				x[k] = tooDeep
			default:
				r.walk(val, depth+1)
			}
		}
	case []any:
		for i, val := range x {
			if depth >= maxParamsDepth && isContainer(val) {
				x[i] = tooDeep
				continue
			}
			r.walk(val, depth+1)
		}
	}
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}
