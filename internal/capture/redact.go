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

func newRedactor(extra []string) *redactor {
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

// params redacts m in place and returns it; an empty m becomes nil.
func (r *redactor) params(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	r.walk(m)
	return m
}

func (r *redactor) walk(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if r.hides(k) {
				x[k] = Hidden
				continue
			}
			r.walk(val)
		}
	case []any:
		for _, val := range x {
			r.walk(val)
		}
	}
}
