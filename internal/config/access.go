package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Authorization configures authorization.
type Authorization struct {
	// DefaultPolicy is the policy reference (see Principal.Policies) of
	// every principal that names none: all of them in local mode
	// (default administrator).
	DefaultPolicy string `yaml:"default_policy"`
}

// BuiltinPolicies are the names of the built-in policies
// (internal/iampolicy's BuiltinNames; a test keeps the two the same).
var BuiltinPolicies = []string{"administrator", "ingest-only", "protect-trails", "read-only", "trail-protector"}

// IsInlinePolicy reports whether a policy reference is an inline JSON
// document: it starts with '{'.
func IsInlinePolicy(ref string) bool { return strings.HasPrefix(strings.TrimSpace(ref), "{") }

// IsPolicyFile reports whether a policy reference names a file: it is not
// inline and contains a '/' or ends in .json. Anything else names a
// built-in policy.
func IsPolicyFile(ref string) bool {
	return !IsInlinePolicy(ref) && (strings.Contains(ref, "/") || strings.HasSuffix(strings.ToLower(ref), ".json"))
}

// checkPolicyRef checks what can be checked of a policy reference without
// reading files: a built-in's name exists, inline JSON parses. Files are
// read, and documents checked against the policy grammar, by
// authz.New.
func checkPolicyRef(field, who, ref string) error {
	switch {
	case strings.TrimSpace(ref) == "":
		return &ValidationError{field, ref, who + "an empty policy reference; name a built-in policy (" + strings.Join(BuiltinPolicies, ", ") + "), a file (./policy.json) or an inline JSON document"}
	case IsInlinePolicy(ref):
		var doc map[string]any
		if err := json.Unmarshal([]byte(ref), &doc); err != nil {
			return &ValidationError{field, ref, who + "the inline policy document is not valid JSON: " + err.Error()}
		}
	case IsPolicyFile(ref):
	case !slices.Contains(BuiltinPolicies, ref):
		return &ValidationError{field, ref, who + "not a built-in policy (" + strings.Join(BuiltinPolicies, ", ") + "); a policy file's reference contains a / or ends in .json, e.g. ./extra-policy.json"}
	}
	return nil
}

// validateAuthorization checks every policy reference.
func (c *Config) validateAuthorization() error {
	if err := checkPolicyRef("authorization.default_policy", "", c.Authorization.DefaultPolicy); err != nil {
		return err
	}
	if o := c.Organization; o != nil {
		for i, ref := range o.GuardRails {
			if err := checkPolicyRef(fmt.Sprintf("organization.guard_rails[%d]", i), "", ref); err != nil {
				return err
			}
		}
	}
	for i, p := range c.Principals {
		for j, ref := range p.Policies {
			if err := checkPolicyRef(fmt.Sprintf("principals[%d].policies[%d]", i, j), "principal "+p.AccessKeyID+": ", ref); err != nil {
				return err
			}
		}
	}
	return nil
}

// Keys says where the digest signing keys live: in the event store (the
// default, all fields empty), in a key file of their own (File), or in an
// external signer (SignCommand and PublicKeysFile).
type Keys struct {
	// File is the key file holding the key ring, owner-only (0600); a
	// ring still in the event store moves there at start-up.
	File string `yaml:"file"`
	// NewRing lets File start a new ring when the store's keys were kept
	// in a key file that is missing (docs/security.md#lost-key-file).
	NewRing bool `yaml:"new_ring"`
	// SignCommand is the argv of a command that signs: the string to sign
	// on stdin, the signature (raw, hex or base64) on stdout.
	SignCommand []string `yaml:"sign_command"`
	// PublicKeysFile lists the signer's public keys (required with
	// SignCommand).
	PublicKeysFile string `yaml:"public_keys_file"`
	// SignTimeout bounds one run of SignCommand (default 10s).
	SignTimeout time.Duration `yaml:"sign_timeout"`
}

func (k *Keys) validate() error {
	switch {
	case k.File != "" && len(k.SignCommand) > 0:
		return &ValidationError{"keys.file", k.File, "give keys.file (opentrail holds the keys) or keys.sign_command (a signer does), not both"}
	case len(k.SignCommand) > 0 && k.SignCommand[0] == "":
		return &ValidationError{"keys.sign_command", "", "want the signer's argv, such as [/usr/local/bin/sign-digest, --key-dir, /etc/signer]"}
	case len(k.SignCommand) > 0 && k.PublicKeysFile == "":
		return &ValidationError{"keys.public_keys_file", "", "is required with keys.sign_command: the public keys of the signer's keys, for ListPublicKeys and validation"}
	case len(k.SignCommand) == 0 && k.PublicKeysFile != "":
		return &ValidationError{"keys.public_keys_file", k.PublicKeysFile, "is only used with keys.sign_command"}
	case k.NewRing && k.File == "":
		return &ValidationError{"keys.new_ring", "true", "starts a new ring in keys.file; set keys.file too"}
	case k.SignTimeout != 0 && (k.SignTimeout < time.Second || k.SignTimeout > 5*time.Minute):
		return &ValidationError{"keys.sign_timeout", k.SignTimeout.String(), "must be between 1s and 5m"}
	}
	return nil
}

// TLS configures HTTPS on the server's one port.
type TLS struct {
	// CertFile and KeyFile are a PEM certificate (chain) and its key,
	// re-read when either file changes.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// SelfSigned makes a self-signed certificate under <data>/tls and
	// keeps it (renewed before it expires or when the address changes).
	SelfSigned bool `yaml:"self_signed"`
	// AllowPlainHTTP serves plain HTTP on a non-loopback address with
	// principals configured: for a TLS-terminating proxy in front.
	AllowPlainHTTP bool `yaml:"allow_plain_http"`
}

// Enabled reports whether the server serves HTTPS.
func (t *TLS) Enabled() bool { return t.SelfSigned || t.CertFile != "" }

func (c *Config) validateTLS(host string) error {
	t := c.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		return &ValidationError{"tls.cert_file", t.CertFile, "tls.cert_file and tls.key_file go together: give both (--tls-cert and --tls-key)"}
	}
	if t.SelfSigned && t.CertFile != "" {
		return &ValidationError{"tls.self_signed", "true", "give either a certificate (tls.cert_file, tls.key_file) or self_signed, not both"}
	}
	if t.AllowPlainHTTP && t.Enabled() {
		return &ValidationError{"tls.allow_plain_http", "true", "is for plain HTTP behind a TLS-terminating proxy; with a certificate configured the port serves HTTPS only"}
	}
	if !c.LocalMode() && !isLoopback(host) && !t.Enabled() && !t.AllowPlainHTTP {
		return &ValidationError{"addr", c.Addr, "principals are configured and the address is not loopback, so requests, " +
			"signatures and audit records would cross the network in clear text; configure tls (tls.cert_file and tls.key_file, " +
			"or tls.self_signed: true; flags --tls-cert/--tls-key or --tls-self-signed), or, when a TLS-terminating proxy is in front, " +
			"set tls.allow_plain_http: true (--allow-plain-http); see docs/tls.md"}
	}
	return nil
}
