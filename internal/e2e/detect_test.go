package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestDetectOverHistory: events stored before the Sigma rules were loaded
// are not the live detector's, but `opentrail detect --since` runs the
// rules over them and `opentrail findings` lists what they found; a second
// run finds nothing new.
func TestDetectOverHistory(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := startServer(t, "")
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)

	stratus, _ := filepath.Glob("../../../shared/testdata/public/stratus-red-team/*.json")
	if len(stratus) < 20 {
		t.Fatalf("%d Stratus Red Team logs", len(stratus))
	}
	if out, errs, code := runCLI(t, append([]string{"send"}, stratus...)...); code != 0 {
		t.Fatalf("send: exit %d %s %s", code, out, errs)
	}
	// The rules load after the events.
	if out, errs, code := runCLI(t, "sigma", "load", "../../../shared/testdata/sigma/rules"); code != 0 {
		t.Fatalf("sigma load: exit %d\n%s\n%s", code, out, errs)
	}
	const important = "4db60cc0-36fb-42b7-9b58-a5b53019fb74" // AWS CloudTrail Important Change
	findingsList := func() []map[string]any {
		t.Helper()
		out, errs, code := runCLI(t, "findings", "--json", "--all", "--max-items", "1000")
		if code != 0 {
			t.Fatalf("findings --json: exit %d %s", code, errs)
		}
		var list []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var f map[string]any
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				t.Fatalf("findings --json line %q: %v", line, err)
			}
			list = append(list, f)
		}
		return list
	}
	if hasRule(findingsList(), important) {
		t.Fatal("the live detector matched events stored before the rules were loaded")
	}

	if _, errs, code := runCLI(t, "detect"); code == 0 || !strings.Contains(errs, "--since is required") {
		t.Errorf("detect without --since: exit %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "detect", "--since", "2024-01-01", "--detectors", "yara"); code == 0 || !strings.Contains(errs, "use sigma, eventrule") {
		t.Errorf("detect --detectors yara: exit %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "detect", "--since", "2024-01-01", "--detectors", "eventrule"); code == 0 || !strings.Contains(errs, "put-rule") {
		t.Errorf("detect --detectors eventrule without event rules: exit %d %s", code, errs)
	}

	// The Stratus detonations are of 2024; the range leaves out the
	// server's own records of these calls.
	out, errs, code := runCLI(t, "detect", "--since", "2024-01-01", "--until", "2025-01-01")
	if code != 0 || !strings.Contains(out, "sigma: read ") || !strings.Contains(out, "eventrule: skipped: no enabled event rule") ||
		strings.Contains(out, "\n0 new findings") {
		t.Fatalf("detect: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("opentrail detect:\n%s", out)
	list := findingsList()
	f := findRule(list, important)
	if f == nil || f["Author"] != "vitaliy0x1" || f["Detector"] != "sigma" {
		t.Fatalf("no 'AWS CloudTrail Important Change' finding after detect; findings: %v", list)
	}
	before := stratusFindings(t)

	out, errs, code = runCLI(t, "detect", "--since", "2024-01-01", "--until", "2025-01-01", "--detectors", "sigma")
	if code != 0 || !strings.Contains(out, " 0 new, 0 new findings") || !strings.Contains(out, "\n0 new findings") {
		t.Fatalf("second detect: exit %d\n%s\n%s", code, out, errs)
	}
	if after := stratusFindings(t); after != before {
		t.Errorf("a second run changed the findings:\nbefore\n%s\nafter\n%s", before, after)
	}
}
