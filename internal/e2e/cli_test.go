package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/cli"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(context.Background(), args, &cli.Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader("")})
	return out.String(), errb.String(), code
}

// TestCLI runs the opentrail subcommands against a real server.
func TestCLI(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := startServer(t, "")
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)

	// send: a {"Records":[...]} file and an NDJSON file.
	dir := t.TempDir()
	doc := `{"Records":[` + string(record(recOpts{id: uuid("cli", 1), name: "ConsoleLogin", source: "signin.amazonaws.com", user: "mallory"})) + "," +
		string(record(recOpts{id: uuid("cli", 2), name: "CreateUser", source: "iam.amazonaws.com"})) + `]}`
	os.WriteFile(filepath.Join(dir, "trail.json"), []byte(doc), 0o600)
	os.WriteFile(filepath.Join(dir, "events.ndjson"), append(record(recOpts{id: uuid("cli", 3), region: "eu-west-1", name: "ConsoleLogin"}), '\n'), 0o600)
	out, errs, code := runCLI(t, "send", filepath.Join(dir, "trail.json"), filepath.Join(dir, "events.ndjson"))
	if code != 0 || !strings.Contains(out, "accepted 3, duplicates 0") {
		t.Fatalf("send: %d %q %q", code, out, errs)
	}
	out, _, _ = runCLI(t, "send", filepath.Join(dir, "trail.json"))
	if !strings.Contains(out, "accepted 0, duplicates 2") {
		t.Fatalf("re-send: %q", out)
	}

	// lookup: a table by default, several attributes at once, JSON lines.
	out, errs, code = runCLI(t, "lookup", "--attr", "EventName=ConsoleLogin", "--region", "us-east-1")
	if code != 0 || !strings.Contains(out, "mallory") || !strings.Contains(out, "TIME") || strings.Contains(out, uuid("cli", 3)) {
		t.Fatalf("lookup table: %d\n%s\n%s", code, out, errs)
	}
	out, _, code = runCLI(t, "lookup", "--attr", "EventName=ConsoleLogin", "--attr", "Username=alice", "--all-regions", "--json")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, uuid("cli", 3)) {
		t.Fatalf("lookup two attributes, all regions: %d %q", code, out)
	}
	out, _, code = runCLI(t, "lookup", "--lookup-attributes", "AttributeKey=EventSource,AttributeValue=iam.amazonaws.com", "--json", "--region", "us-east-1")
	if code != 0 || !strings.Contains(out, uuid("cli", 2)) {
		t.Fatalf("lookup --lookup-attributes: %d %q", code, out)
	}

	// Errors: one line and a hint; usage errors exit 2.
	_, errs, code = runCLI(t, "lookup", "--attr", "Color=blue")
	if code != 1 || !strings.Contains(errs, "want KEY=VALUE with KEY one of") {
		t.Fatalf("bad attribute: %d %q", code, errs)
	}
	_, errs, code = runCLI(t, "lookup", "--endpoint", "http://127.0.0.1:1", "--attr", "Username=x")
	if code != 1 || !strings.Contains(errs, "cannot reach opentrail") || !strings.Contains(errs, "hint: is the server running?") {
		t.Fatalf("unreachable server: %d %q", code, errs)
	}
	if _, _, code = runCLI(t, "lookup", "--no-such-flag"); code != 2 {
		t.Fatalf("unknown flag exit %d, want 2", code)
	}
	if _, _, code = runCLI(t, "frobnicate"); code != 2 {
		t.Fatalf("unknown command exit %d, want 2", code)
	}
	out, _, code = runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "opentrail ") {
		t.Fatalf("version: %d %q", code, out)
	}

	// demo: a day of activity for several accounts and regions.
	out, errs, code = runCLI(t, "demo", "--events", "2000")
	if code != 0 || !strings.Contains(out, "accepted ") {
		t.Fatalf("demo: %d %q %q", code, out, errs)
	}
	out, _, code = runCLI(t, "lookup", "--all-regions", "--max-items", "1500", "--json")
	if code != 0 || strings.Count(out, "\n") < 1000 {
		t.Fatalf("after demo, lookup found %d events", strings.Count(out, "\n"))
	}
}
