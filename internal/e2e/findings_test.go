package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSigmaFindingsFromAStratusDetonation is the new user's path: load
// SigmaHQ's CloudTrail rules, replay Stratus Red Team detonation logs, and
// see the findings with their rules and authors; then work a finding
// through its states. The rules and the findings survive a restart, which
// raises no finding twice.
func TestSigmaFindingsFromAStratusDetonation(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := startServer(t, "")
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)

	// A rule that does not load is named with its reason, and the exit
	// code says so; the rules that load are loaded.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "broken.yml"), []byte("title: [unclosed\n"), 0o600)
	os.WriteFile(filepath.Join(bad, "windash.yml"), []byte("title: Odd modifier\nid: 44444444-4444-4444-8444-444444444444\n"+
		"logsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    eventName|nosuchmodifier: x\n  condition: sel\n"), 0o600)
	out, errs, code := runCLI(t, "sigma", "load", bad)
	if code != 1 || !strings.Contains(out, "broken.yml") || !strings.Contains(out, "nosuchmodifier") ||
		!strings.Contains(errs, "2 not loaded") {
		t.Fatalf("sigma load of bad rules: exit %d\n%s\n%s", code, out, errs)
	}

	out, errs, code = runCLI(t, "sigma", "load", "../../../shared/testdata/sigma/rules")
	if code != 0 {
		t.Fatalf("sigma load: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "AWS CloudTrail Important Change") || !strings.Contains(out, "vitaliy0x1") ||
		strings.Count(out, " aws_") != 57 || !strings.Contains(out, "builtin/") || !strings.Contains(errs, "; 0 not loaded") {
		t.Fatalf("sigma load report:\n%s\n%s", out, errs)
	}

	stratus, _ := filepath.Glob("../../../shared/testdata/public/stratus-red-team/*.json")
	if len(stratus) < 20 {
		t.Fatalf("%d Stratus Red Team logs", len(stratus))
	}
	if out, errs, code := runCLI(t, append([]string{"send"}, stratus...)...); code != 0 {
		t.Fatalf("send: exit %d %s %s", code, out, errs)
	}

	// StopLogging and DeleteTrail (cloudtrail-stop, cloudtrail-delete)
	// raise a finding naming its rule and its author.
	var list []map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errs, code := runCLI(t, "findings", "--json", "--all", "--max-items", "1000")
		if code != 0 {
			t.Fatalf("findings --json: exit %d %s", code, errs)
		}
		list = list[:0]
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
		if hasRule(list, "4db60cc0-36fb-42b7-9b58-a5b53019fb74") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	important := findRule(list, "4db60cc0-36fb-42b7-9b58-a5b53019fb74")
	if important == nil {
		t.Fatalf("no finding of 'AWS CloudTrail Important Change' after the StopLogging and DeleteTrail detonations; findings: %v", list)
	}
	if important["Author"] != "vitaliy0x1" || important["Title"] != "AWS CloudTrail Important Change" ||
		important["Detector"] != "sigma" || important["State"] != "new" {
		t.Errorf("finding %v", important)
	}
	for _, f := range list {
		if f["Author"] == "" || f["Title"] == "" || f["RuleID"] == "" {
			t.Errorf("finding without its rule's title, id or author: %v", f)
		}
	}
	table, _, code := runCLI(t, "findings")
	if code != 0 || !strings.Contains(table, "RULE") || !strings.Contains(table, "AUTHOR") ||
		!strings.Contains(table, "AWS CloudTrail Important Change") || !strings.Contains(table, "vitaliy0x1") {
		t.Fatalf("findings table (exit %d):\n%s", code, table)
	}

	// A finding's states: acknowledge, suppress (with a reason only),
	// resolve.
	id := important["ID"].(string)
	if out, errs, code := runCLI(t, "findings", "ack", id); code != 0 || !strings.Contains(out, "acknowledged") {
		t.Fatalf("ack: exit %d %s %s", code, out, errs)
	}
	if _, errs, code := runCLI(t, "findings", "suppress", id); code == 0 || !strings.Contains(errs, "--reason") {
		t.Fatalf("suppress without a reason: exit %d %s", code, errs)
	}
	if out, errs, code := runCLI(t, "findings", "suppress", id, "--reason", "red-team exercise"); code != 0 ||
		!strings.Contains(out, "suppressed (red-team exercise)") {
		t.Fatalf("suppress: exit %d %s %s", code, out, errs)
	}
	if out, _, _ := runCLI(t, "findings"); strings.Contains(out, id) {
		t.Errorf("a suppressed finding is listed by default:\n%s", out)
	}
	if out, errs, code := runCLI(t, "findings", "show", "fd-00000000000000000000"); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Errorf("show an unknown finding: exit %d %s %s", code, out, errs)
	}

	// An alarm going to ALARM is a finding of detector alarm (the CIS
	// pack's alarms are detector cis), once per transition.
	s.mustCLI(t, "us-east-1", "cloudwatch", "put-metric-alarm", "--alarm-name", "bucket-deletes",
		"--alarm-description", "buckets deleted", "--metric-name", "BucketDeletes", "--namespace", "MyTeam",
		"--statistic", "Sum", "--period", "300", "--evaluation-periods", "1", "--threshold", "1",
		"--comparison-operator", "GreaterThanOrEqualToThreshold")
	s.mustCLI(t, "us-east-1", "cloudwatch", "set-alarm-state", "--alarm-name", "bucket-deletes",
		"--state-value", "ALARM", "--state-reason", "paging test")
	out, errs, code = runCLI(t, "findings", "--detector", "alarm", "--json")
	var alarm map[string]any
	if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(out)), &alarm) != nil ||
		alarm["RuleID"] != "arn:aws:cloudwatch:us-east-1:000000000000:alarm:bucket-deletes" ||
		alarm["Title"] != "bucket-deletes: buckets deleted" || alarm["Description"] != "paging test" || alarm["Count"] != 1.0 {
		t.Fatalf("alarm finding: exit %d %q %s", code, out, errs)
	}

	// A restart keeps the rules and the findings and raises nothing twice.
	// (The server's own records of these CLI calls, made by the local
	// mode's root key, raise "AWS Root Credentials" in account
	// 000000000000 as they go on: those are left out of the comparison.)
	before := stratusFindings(t)
	s.stop()
	s = startServer(t, s.data)
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)
	if out, errs, code := runCLI(t, "sigma", "list"); code != 0 || strings.Count(out, " aws_") != 57 {
		t.Fatalf("sigma list after a restart: exit %d\n%s\n%s", code, out, errs)
	}
	time.Sleep(time.Second) // the detector polls every 200 ms
	if after := stratusFindings(t); after != before {
		t.Errorf("findings changed across a restart:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// stratusFindings lists the findings of the detonations' accounts.
func stratusFindings(t *testing.T) string {
	t.Helper()
	out, errs, code := runCLI(t, "findings", "--json", "--all", "--max-items", "1000")
	if code != 0 {
		t.Fatalf("findings: exit %d %s", code, errs)
	}
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if line != "" && !strings.Contains(line, `"Account":"000000000000"`) {
			keep = append(keep, line)
		}
	}
	if len(keep) < 10 {
		t.Fatalf("only %d findings of the detonations:\n%s", len(keep), out)
	}
	return strings.Join(keep, "\n")
}

func findRule(list []map[string]any, rule string) map[string]any {
	for _, f := range list {
		if f["RuleID"] == rule {
			return f
		}
	}
	return nil
}

func hasRule(list []map[string]any, rule string) bool { return findRule(list, rule) != nil }
