package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// runCLI runs the opentrail command line and returns its exit code and
// output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(context.Background(), args, &Env{Stdout: &o, Stderr: &e, Stdin: strings.NewReader("")})
	return code, o.String(), e.String()
}

// exportStore writes n events (two accounts, two days) into a new store
// in a temporary data directory and closes it.
func exportStore(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	var recs []*event.Record
	for i := range n {
		acct := []string{"111111111111", "012345678901"}[i%2]
		b, _ := json.Marshal(map[string]any{
			"eventVersion": "1.09", "eventTime": base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances", "awsRegion": "us-east-1",
			"sourceIPAddress": "198.51.100.9", "userAgent": "aws-cli/2",
			"userIdentity": map[string]any{"type": "IAMUser", "accountId": acct, "arn": "arn:aws:iam::" + acct + ":user/alice"},
			"requestID":    fmt.Sprint("req-", i),
			"eventID":      fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			"readOnly":     true, "eventType": "AwsApiCall", "managementEvent": true,
			"recipientAccountId": acct, "eventCategory": "Management",
		})
		r, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if _, err := st.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExportCommand(t *testing.T) {
	data := exportStore(t, 120) // 60 on 2026-03-01 (23:00-23:59), 60 on 03-02
	out := filepath.Join(t.TempDir(), "parquet")
	code, stdout, stderr := runCLI(t, "export", "--format", "parquet", "--data", data, "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !regexp.MustCompile(`^exported 120 events to .*parquet: 4 files, [0-9.]+ KiB, [0-9.]+s\n$`).MatchString(stdout) {
		t.Errorf("summary = %q", stdout)
	}
	for _, p := range []string{
		"account=012345678901/region=us-east-1/date=2026-03-01/events_0.parquet",
		"account=111111111111/region=us-east-1/date=2026-03-02/events_0.parquet",
	} {
		if _, err := os.Stat(filepath.Join(out, p)); err != nil {
			t.Error(err)
		}
	}

	// Filters and progress lines (stderr is not a terminal).
	out2 := filepath.Join(t.TempDir(), "p2")
	code, stdout, stderr = runCLI(t, "export", "--data", data, "--out", out2,
		"--account", "012345678901", "--start-time", "2026-03-02", "--end-time", "2026-03-03")
	if code != 0 || !strings.HasPrefix(stdout, "exported 30 events") || !strings.Contains(stderr, "exported 30/30 events") {
		t.Errorf("filtered export: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"export", "--data", data}, 2, "Usage"},
		{[]string{"export", "--format", "csv", "--data", data, "--out", t.TempDir()}, 2, "only parquet"},
		{[]string{"export", "--data", data, "--out", out}, 1, "not empty"},
		{[]string{"export", "--data", t.TempDir(), "--out", t.TempDir()}, 1, "no events.duckdb"},
		{[]string{"export", "--data", data, "--out", t.TempDir(), "--start-time", "2026-03-02", "--end-time", "2026-03-01"}, 1, "not before"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

// holdStoreEnv names the data directory a re-executed test binary holds
// open, as a running server would.
const holdStoreEnv = "OPENTRAIL_TEST_HOLD_STORE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdStoreEnv); dir != "" {
		st, err := store.Open(context.Background(), dir, store.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("holding")
		os.Stdin.Read(make([]byte, 1)) // until the test closes stdin
		st.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// An export whose context ends (Ctrl-C) says what it leaves behind: a
// partial export to remove, or nothing.
func TestExportInterrupted(t *testing.T) {
	data := exportStore(t, 120)
	run := func(ctx context.Context, out string) (int, string) {
		var o, e bytes.Buffer
		code := Main(ctx, []string{"export", "--data", data, "--out", out, "--quiet"}, &Env{Stdout: &o, Stderr: &e, Stdin: strings.NewReader("")})
		return code, e.String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "out")
	if code, errs := run(ctx, out); code != 1 || !strings.Contains(errs, "interrupted before anything was written") {
		t.Fatalf("cancelled before it began: %d %s", code, errs)
	}
	// What the message says of the output directory.
	empty, full := filepath.Join(t.TempDir(), "empty"), t.TempDir()
	os.WriteFile(filepath.Join(full, "f"), nil, 0o600)
	if err := interruptedExport(full, true); err == nil || !strings.Contains(err.Error(), full+" holds a partial export; remove it") {
		t.Errorf("files written: %v", err)
	}
	if err := interruptedExport(full, false); err == nil || strings.Contains(err.Error(), "remove") {
		t.Errorf("files that were there before: %v", err)
	}
	if err := interruptedExport(empty, true); err == nil || !strings.Contains(err.Error(), "before anything was written") {
		t.Errorf("nothing written: %v", err)
	}
}

func TestExportRefusesStoreInUse(t *testing.T) {
	data := exportStore(t, 2)
	// Another process holds the store, as `opentrail serve` would.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdStoreEnv+"="+data)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	buf := make([]byte, 8)
	if n, err := stdout.Read(buf); err != nil || string(buf[:n]) != "holding\n" {
		t.Fatalf("holder said %q, %v", buf[:n], err)
	}

	_, err = openStoreForExport(context.Background(), data)
	if !errors.Is(err, importer.ErrStoreInUse) {
		t.Fatalf("err = %v, want ErrStoreInUse", err)
	}
	code, _, stderr := runCLI(t, "export", "--data", data, "--out", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "in use by another process") || !strings.Contains(stderr, "opentrail serve") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestAthenaDDLCommand(t *testing.T) {
	code, stdout, stderr := runCLI(t, "athena-ddl", "--bucket", "org-trail.example", "--prefix", "ct/main",
		"--org-id", "o-abc123def4", "--table", "org_events", "--accounts", "111111111111,012345678901",
		"--regions", "us-east-1", "--regions", "eu-west-1", "--start", "2024/01/01", "--json-serde")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The same table as the golden file in internal/trail.
	want, err := os.ReadFile("../trail/testdata/athena_org.golden")
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Errorf("output differs from internal/trail/testdata/athena_org.golden:\n%s", stdout)
	}
	ddl, _ := trail.AthenaTable{Bucket: "audit-logs"}.DDL()
	if code, stdout, _ := runCLI(t, "athena-ddl", "--bucket", "audit-logs"); code != 0 || stdout != ddl {
		t.Errorf("default: exit %d, output %q", code, stdout)
	}
	if code, _, stderr := runCLI(t, "athena-ddl"); code != 2 || !strings.Contains(stderr, "--bucket") {
		t.Errorf("no bucket: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "athena-ddl", "--bucket", "bk1", "--accounts", "42"); code != 1 || !strings.Contains(stderr, `account "42"`) {
		t.Errorf("bad account: exit %d, stderr %q", code, stderr)
	}
}
