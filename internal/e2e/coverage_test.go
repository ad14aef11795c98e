package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/eventpattern"
	"github.com/opentrail/opentrail/internal/filterpattern"
	"github.com/opentrail/opentrail/internal/rulepack"
	"github.com/opentrail/opentrail/internal/sigma"
)

// stratusCoverage is which rule sets raise a finding for each Stratus Red
// Team detonation log: cis (a control of the CIS pack's newest benchmark
// matches a record, so its alarm fires), sigma (SigmaHQ's CloudTrail
// rules and opentrail's pack, correlations included) and eventrule (the
// 50 security patterns as event rules). Insights need days of history
// and do not apply to a few records. A technique not listed is raised by
// none of them: what its log holds (reads of secrets, a Bedrock call, an
// instance's user data) is not flagged by any rule set here.
var stratusCoverage = map[string][]string{
	"aws.credential-access.ec2-get-password-data":                 {"cis", "eventrule", "sigma"},
	"aws.credential-access.ec2-steal-instance-credentials":        {"eventrule", "sigma"},
	"aws.credential-access.secretsmanager-batch-retrieve-secrets": {"eventrule"},
	"aws.credential-access.secretsmanager-retrieve-secrets":       {"eventrule"},
	"aws.credential-access.ssm-retrieve-securestring-parameters":  {"eventrule"},
	"aws.defense-evasion.cloudtrail-delete":                       {"cis", "eventrule", "sigma"},
	"aws.defense-evasion.cloudtrail-event-selectors":              {"eventrule"},
	"aws.defense-evasion.cloudtrail-stop":                         {"cis", "eventrule", "sigma"},
	"aws.defense-evasion.dns-delete-logs":                         {"eventrule"},
	"aws.defense-evasion.organizations-leave":                     {"cis", "eventrule", "sigma"},
	"aws.defense-evasion.vpc-remove-flow-logs":                    {"eventrule", "sigma"},
	"aws.discovery.ec2-download-user-data":                        {"cis", "eventrule", "sigma"},
	"aws.execution.ec2-launch-unusual-instances":                  {"cis", "eventrule", "sigma"},
	"aws.execution.ec2-user-data":                                 {"eventrule"},
	"aws.execution.ssm-send-command":                              {"eventrule", "sigma"},
	"aws.execution.ssm-start-session":                             {"eventrule"},
	"aws.exfiltration.ec2-security-group-open-port-22-ingress":    {"cis", "eventrule", "sigma"},
	"aws.exfiltration.ec2-share-ami":                              {"eventrule"},
	"aws.exfiltration.ec2-share-ebs-snapshot":                     {"eventrule", "sigma"},
	"aws.exfiltration.rds-share-snapshot":                         {"eventrule"},
	"aws.impact.bedrock-invoke-model":                             {"eventrule", "sigma"},
	"aws.initial-access.console-login-without-mfa":                {"cis", "eventrule", "sigma"},
	"aws.lateral-movement.ec2-instance-connect":                   {"eventrule"},
	"aws.lateral-movement.ec2-serial-console-send-ssh-public-key": {"eventrule", "sigma"},
	"aws.persistence.iam-backdoor-role":                           {"eventrule"},
	"aws.persistence.iam-backdoor-user":                           {"eventrule", "sigma"},
	"aws.persistence.iam-create-admin-user":                       {"cis", "eventrule", "sigma"},
	"aws.persistence.iam-create-backdoor-role":                    {"cis", "eventrule"},
	"aws.persistence.iam-create-user-login-profile":               {"eventrule"},
	"aws.persistence.lambda-backdoor-function":                    {"eventrule"},
	"aws.persistence.lambda-layer-extension":                      {"eventrule", "sigma"},
	"aws.persistence.lambda-overwrite-code":                       {"eventrule"},
	"aws.persistence.rolesanywhere-create-trust-anchor":           {"eventrule"},
	"aws.persistence.sts-federation-token":                        {"eventrule"},
	"aws.privilege-escalation.iam-update-user-login-profile":      {"eventrule", "sigma"},
}

// TestStratusCoverage runs every Stratus Red Team detonation log through
// the CIS pack's patterns, the Sigma rules and the event rules, and
// asserts which raise a finding for which technique (stratusCoverage).
func TestStratusCoverage(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/testdata/public/stratus-red-team/*.json")
	if len(files) < 30 {
		t.Fatalf("%d Stratus Red Team logs under ../shared/testdata/public/stratus-red-team", len(files))
	}
	// The CIS pack.
	bench, err := cis.Lookup(cis.DefaultVersion)
	if err != nil {
		t.Fatal(err)
	}
	pats := make([]*filterpattern.Pattern, len(bench.Controls))
	for i, c := range bench.Controls {
		if pats[i], err = filterpattern.Compile(c.Pattern); err != nil {
			t.Fatal(err)
		}
	}
	cisSet := filterpattern.NewSet(pats)
	// Sigma: SigmaHQ's rules and the pack.
	hq, errs, err := sigma.LoadDir("../../../shared/testdata/sigma/rules")
	if err != nil || len(errs) > 0 {
		t.Fatalf("SigmaHQ rules: %v %v", errs, err)
	}
	pack, errs, err := sigma.ParseFS(rulepack.Sigma())
	if err != nil || len(errs) > 0 {
		t.Fatalf("rule pack: %v %v", errs, err)
	}
	rs, errs := sigma.NewRuleset(append(slices.Clone(hq.Rules()), pack...))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	// Event rules.
	raw, err := os.ReadFile("../eventpattern/testdata/security_patterns.json")
	if err != nil {
		t.Fatal(err)
	}
	var eps []struct {
		Name    string          `json:"name"`
		Pattern json.RawMessage `json:"pattern"`
	}
	if err := json.Unmarshal(raw, &eps); err != nil {
		t.Fatal(err)
	}
	evSet := eventpattern.NewSet()
	for _, p := range eps {
		pat, err := eventpattern.Compile(string(p.Pattern))
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		evSet.Add(p.Name, pat)
	}

	got := map[string][]string{}
	for _, f := range files {
		tech := strings.TrimSuffix(filepath.Base(f), ".json")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var recs []json.RawMessage
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// Sigma's correlations count in event-time order.
		times := make([]time.Time, len(recs))
		for i, r := range recs {
			var e struct{ EventTime time.Time }
			if err := json.Unmarshal(r, &e); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			times[i] = e.EventTime
		}
		order := make([]int, len(recs))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return times[order[a]].Before(times[order[b]]) })
		hit := map[string]bool{}
		hits := make([]bool, len(pats))
		corr := rs.NewCorrelator()
		for _, i := range order {
			r := []byte(recs[i])
			clear(hits)
			cisSet.MatchAll(r, hits)
			if slices.Contains(hits, true) {
				hit["cis"] = true
			}
			matched := rs.Match(r, nil)
			for _, m := range matched {
				if !m.Suppressed {
					hit["sigma"] = true
				}
			}
			if len(corr.Observe(r, times[i], matched)) > 0 {
				hit["sigma"] = true
			}
			if ids, err := evSet.MatchesCloudTrail(r, nil); err == nil && len(ids) > 0 {
				hit["eventrule"] = true
			}
		}
		if len(corr.Advance(times[order[len(order)-1]].Add(24*time.Hour))) > 0 {
			hit["sigma"] = true
		}
		for d := range hit {
			got[tech] = append(got[tech], d)
		}
		sort.Strings(got[tech])
	}
	var lines []string
	for tech, ds := range got {
		lines = append(lines, tech+": "+strings.Join(ds, ","))
	}
	sort.Strings(lines)
	t.Logf("coverage:\n%s", strings.Join(lines, "\n"))
	for tech, want := range stratusCoverage {
		if strings.Join(got[tech], ",") != strings.Join(want, ",") {
			t.Errorf("%s: raised by %v, want %v", tech, got[tech], want)
		}
	}
	for tech, g := range got {
		if _, ok := stratusCoverage[tech]; !ok {
			t.Errorf("%s: raised by %v, want none", tech, g)
		}
	}
}
