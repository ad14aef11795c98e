package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A principal's policy file changed while the server runs takes effect
// within a few seconds; a broken version keeps the last good policy in
// force, and the server's log says why.
func TestPolicyFileReloaded(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, `principals:
  - access_key_id: AKIARELOAD0000000001
    secret_access_key: test
    account: "111111111111"
    user_name: reloaded
    policies: [./extra-policy.json]
`)
	policy := filepath.Join(filepath.Dir(cfg), "extra-policy.json")
	write := func(doc string) {
		t.Helper()
		tmp := policy + ".tmp"
		if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, policy); err != nil {
			t.Fatal(err)
		}
	}
	allow := func(action string) string {
		return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"` + action + `","Resource":"*"}}`
	}
	write(allow("cloudtrail:DescribeTrails"))
	s := startServer(t, "", "--config", cfg)
	const akid = "AKIARELOAD0000000001"
	refused := func(op string, args ...string) bool {
		t.Helper()
		out, errs, code := s.awsCLI(t, akid, "us-east-1", args...)
		switch {
		case code == 0:
			return false
		case code == 254 && strings.Contains(errs, "An error occurred (AccessDeniedException) when calling the "+op+" operation: "+
			"User: arn:aws:iam::111111111111:user/reloaded is not authorized to perform: cloudtrail:"+op):
			return true
		}
		t.Fatalf("aws %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
		return false
	}
	if refused("DescribeTrails", "cloudtrail", "describe-trails") || !refused("ListTrails", "cloudtrail", "list-trails") {
		t.Fatal("the first version of the policy file is not in force")
	}

	write(allow("cloudtrail:ListTrails"))
	changed := time.Now()
	waitFor(t, 15*time.Second, "the changed policy file in force", func() bool {
		return refused("DescribeTrails", "cloudtrail", "describe-trails")
	})
	t.Logf("the changed policy was in force %v after the write", time.Since(changed).Round(100*time.Millisecond))
	if refused("ListTrails", "cloudtrail", "list-trails") {
		t.Fatal("the changed policy file's allow is not in force")
	}

	// Files are looked at when a call is authorized (at most every 2 s).
	write(`{"Version":"2012-10-17","Statement":{"Effect":"Allow",`)
	waitFor(t, 15*time.Second, "the broken policy file logged", func() bool {
		if refused("ListTrails", "cloudtrail", "list-trails") || !refused("DescribeTrails", "cloudtrail", "describe-trails") {
			t.Fatal("a broken policy file changed what the principal may do")
		}
		return strings.Contains(s.output(), "the changed policy file does not load; the last good version stays in force")
	})
	if log := s.output(); !strings.Contains(log, "extra-policy.json") {
		t.Fatalf("the log does not name the broken file:\n%s", log)
	}
}
