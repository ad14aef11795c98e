package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/iampolicy"
)

// TestPolicySimulate runs `policy simulate` against a configuration with
// a policy file beside it: allowed exits 0, denied exits 3 with AWS's
// message, errors exit 1.
func TestPolicySimulate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "office.json"), []byte(`{"Version":"2012-10-17","Statement":[
	  {"Sid":"OfficeOnly","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
	  {"Sid":"TLSOnly","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
	  {"Effect":"Deny","Action":"cloudtrail:DeleteTrail","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`), 0o600)
	cfg := filepath.Join(dir, "opentrail.yml")
	os.WriteFile(cfg, []byte(`addr: 0.0.0.0:4747
tls:
  self_signed: true
principals:
  - access_key_id: AKIAAPP
    secret_access_key: s
    account: "123456789012"
    user_name: app
    policies: [ingest-only]
  - access_key_id: AKIAOPS
    secret_access_key: s
    account: "123456789012"
    user_name: ops
    policies: [administrator, ./office.json]
`), 0o600)
	const trail = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main"
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--principal", "AKIAAPP", "--action", "opentrail:PutEvents"}, 0,
			[]string{"allowed: opentrail:PutEvents on *", "principal:  arn:aws:iam::123456789012:user/app (AKIAAPP)", "decided by: policy ingest-only, statement WriteEvents"}},
		{[]string{"--principal", "arn:aws:iam::123456789012:user/app", "--action", "cloudtrail:StopLogging", "--resource", trail}, ExitDenied,
			[]string{"denied: cloudtrail:StopLogging on " + trail, "decided by: no statement matched (implicit deny)",
				"message:    User: arn:aws:iam::123456789012:user/app is not authorized to perform: cloudtrail:StopLogging on resource: " + trail + " because no identity-based policy allows the cloudtrail:StopLogging action"}},
		{[]string{"--principal", "AKIAOPS", "--action", "cloudtrail:StopLogging", "--resource", trail, "--source-ip", "10.1.1.1", "--secure-transport"}, 0,
			[]string{"allowed:", "decided by: policy administrator, statement AllowEverything"}},
		{[]string{"--principal", "AKIAOPS", "--action", "cloudtrail:StopLogging", "--resource", trail, "--source-ip", "192.0.2.1", "--secure-transport"}, ExitDenied,
			[]string{"decided by: policy ./office.json, statement OfficeOnly", "with an explicit deny in an identity-based policy"}},
		{[]string{"--principal", "AKIAOPS", "--action", "cloudtrail:StopLogging", "--resource", trail, "--source-ip", "10.1.1.1"}, ExitDenied,
			[]string{"statement TLSOnly"}},
		{[]string{"--principal", "AKIAOPS", "--action", "cloudtrail:DeleteTrail", "--resource", trail, "--source-ip", "10.1.1.1", "--secure-transport"}, ExitDenied,
			[]string{"decided by: policy ./office.json, statement 3"}},
		{[]string{"--principal", "AKIAOPS", "--action", "cloudtrail:DeleteTrail", "--resource", trail, "--source-ip", "10.1.1.1", "--secure-transport", "--mfa"}, 0,
			[]string{"allowed:"}},
	} {
		out, errs, code := runMain(t, append([]string{"policy", "simulate", "--config", cfg}, tc.args...)...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d\n%s%s", tc.args, code, tc.code, out, errs)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
	// Errors exit 1 and say what is wrong.
	if _, errs, code := runMain(t, "policy", "simulate", "--config", cfg, "--principal", "AKIANOBODY", "--action", "s3:GetObject"); code != 1 || !strings.Contains(errs, `no configured principal has the access key id or ARN "AKIANOBODY"; the configuration's principals are AKIAAPP, AKIAOPS`) {
		t.Errorf("unknown principal: exit %d: %s", code, errs)
	}
	os.Remove(filepath.Join(dir, "office.json"))
	if _, errs, code := runMain(t, "policy", "simulate", "--config", cfg, "--principal", "AKIAOPS", "--action", "s3:GetObject"); code != 1 || !strings.Contains(errs, `principal AKIAOPS (principals[1].policies[1]): policy "./office.json": read policy file`) {
		t.Errorf("missing policy file: exit %d: %s", code, errs)
	}
	if _, errs, code := runMain(t, "policy", "simulate", "--config", cfg); code != 1 || !strings.Contains(errs, "needs --principal") {
		t.Errorf("no flags: exit %d: %s", code, errs)
	}
	// Local mode: every principal gets the default policy.
	out, _, code := runMain(t, "policy", "simulate", "--principal", "test", "--action", "cloudtrail:StopLogging", "--resource", trail)
	if code != 0 || !strings.Contains(out, "policies:   the default, administrator") {
		t.Errorf("local mode: exit %d\n%s", code, out)
	}
}

func TestPolicyListShow(t *testing.T) {
	out, _, code := runMain(t, "policy", "list")
	for _, name := range iampolicy.BuiltinNames() {
		if code != 0 || !strings.Contains(out, name+" ") {
			t.Errorf("policy list: exit %d, lacks %s:\n%s", code, name, out)
		}
	}
	out, _, code = runMain(t, "policy", "show", "read-only")
	doc, _ := iampolicy.BuiltinDocument("read-only")
	if code != 0 || out != doc+"\n" {
		t.Errorf("policy show read-only: exit %d\n%s", code, out)
	}
	if _, err := iampolicy.Parse([]byte(out)); err != nil {
		t.Errorf("policy show prints a document that does not parse: %v", err)
	}
	if _, errs, code := runMain(t, "policy", "show", "reader"); code != 1 || !strings.Contains(errs, `"reader" is not a built-in policy; the built-in policies are administrator, ingest-only`) {
		t.Errorf("policy show reader: exit %d: %s", code, errs)
	}
	if _, _, code := runMain(t, "policy"); code != 2 {
		t.Errorf("policy alone: exit %d, want 2", code)
	}
	if _, errs, code := runMain(t, "policy", "evaluate"); code != 1 || !strings.Contains(errs, `unknown subcommand "evaluate"`) {
		t.Errorf("policy evaluate: exit %d: %s", code, errs)
	}
}
