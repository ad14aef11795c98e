package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/cli"
)

// TestConsoleUserPoliciesCLI: users add --policy (a built-in name and a
// policy file, sent as its JSON), users list shows them, users policies
// replaces and clears them.
func TestConsoleUserPoliciesCLI(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	s := startServer(t, "")
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)
	file := filepath.Join(t.TempDir(), "no-stop.json")
	doc := `{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "cloudtrail:StopLogging", "Resource": "*"}]}`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var outb, errb bytes.Buffer
	code := cli.Main(context.Background(), []string{"users", "add", "frank", "--account", "000000000000", "--password-stdin",
		"--policy", "read-only", "--policy", file}, &cli.Env{Stdout: &outb, Stderr: &errb, Stdin: strings.NewReader("frank-password-1\n")})
	out, errs := outb.String(), errb.String()
	if code != 0 || !strings.Contains(out, `policies: read-only,inline #2`) {
		t.Fatalf("users add --policy: %d %s %s", code, out, errs)
	}
	out, errs, code = runCLI(t, "users", "list")
	if code != 0 || !regexp.MustCompile(`frank\s+000000000000\s+no\s+no\s+never\s+-\s+read-only,inline #2`).MatchString(out) {
		t.Fatalf("users list: %d\n%s%s", code, out, errs)
	}
	out, errs, code = runCLI(t, "users", "list", "--json")
	if code != 0 || !strings.Contains(out, `"Policies":["read-only","{\"Statement\":[{\"Action\":\"cloudtrail:StopLogging\"`) {
		t.Fatalf("users list --json: %d %s %s", code, out, errs)
	}
	if out, errs, code = runCLI(t, "users", "policies", "frank", "--policy", "ingest-only"); code != 0 || !strings.Contains(out, "policies of frank: ingest-only") {
		t.Fatalf("users policies: %d %s %s", code, out, errs)
	}
	if out, errs, code = runCLI(t, "users", "policies", "frank"); code != 0 || !strings.Contains(out, "policies of frank: (default)") {
		t.Fatalf("users policies (clear): %d %s %s", code, out, errs)
	}
	if _, errs, code = runCLI(t, "users", "add", "gina", "--account", "000000000000", "--password-stdin", "--policy", filepath.Join(t.TempDir(), "missing.json")); code == 0 || !strings.Contains(errs, "missing.json") {
		t.Fatalf("a missing policy file: %d %s", code, errs)
	}
}
