package sigma

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const publicDir = "../../../shared/testdata/public"

// records reads the CloudTrail records of a public test file: a JSON
// array, {"Records": [...]}, or one record per line.
func records(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	if strings.HasSuffix(path, ".ndjson") {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
				out = append(out, append([]byte(nil), l...))
			}
		}
		return out
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(b, &arr); err != nil {
		var env struct{ Records []json.RawMessage }
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		arr = env.Records
	}
	for _, r := range arr {
		out = append(out, r)
	}
	return out
}

// stratusFlags is which of the 57 rules flag each Stratus Red Team
// detonation log (technique -> rule file stems). Techniques no rule
// targets are absent.
var stratusFlags = map[string][]string{
	"aws.credential-access.ec2-get-password-data":                 {"aws_sts_assumerole_misuse"},
	"aws.credential-access.ec2-steal-instance-credentials":        {"aws_cloudtrail_ssm_malicious_usage", "aws_sts_assumerole_misuse"},
	"aws.defense-evasion.cloudtrail-delete":                       {"aws_cloudtrail_disable_logging"},
	"aws.defense-evasion.cloudtrail-stop":                         {"aws_cloudtrail_disable_logging"},
	"aws.defense-evasion.organizations-leave":                     {"aws_sts_assumerole_misuse"},
	"aws.defense-evasion.vpc-remove-flow-logs":                    {"aws_cloudtrail_vpc_flow_logs_deleted"},
	"aws.discovery.ec2-download-user-data":                        {"aws_sts_assumerole_misuse"},
	"aws.execution.ec2-launch-unusual-instances":                  {"aws_sts_assumerole_misuse"},
	"aws.execution.ssm-send-command":                              {"aws_cloudtrail_ssm_malicious_usage"},
	"aws.exfiltration.ec2-security-group-open-port-22-ingress":    {"aws_cloudtrail_security_group_change_ingress_egress"},
	"aws.exfiltration.ec2-share-ebs-snapshot":                     {"aws_snapshot_backup_exfiltration"},
	"aws.impact.bedrock-invoke-model":                             {"aws_sts_assumerole_misuse"},
	"aws.initial-access.console-login-without-mfa":                {"aws_cloudtrail_console_login_success_without_mfa"},
	"aws.lateral-movement.ec2-serial-console-send-ssh-public-key": {"aws_sts_assumerole_misuse"},
	"aws.persistence.iam-backdoor-user":                           {"aws_iam_backdoor_users_keys"},
	"aws.persistence.iam-create-admin-user":                       {"aws_iam_backdoor_users_keys"},
	"aws.persistence.lambda-layer-extension":                      {"aws_new_lambda_layer_attached"},
	"aws.privilege-escalation.iam-update-user-login-profile":      {"aws_update_login_profile"},
}

// TestStratusRedTeam runs the 57 rules over every Stratus Red Team
// detonation and asserts exactly which techniques they flag, and with
// which rules.
func TestStratusRedTeam(t *testing.T) {
	rs := loadRules(t)
	files, _ := filepath.Glob(publicDir + "/stratus-red-team/*.json")
	if len(files) == 0 {
		t.Fatal("no Stratus Red Team files under " + publicDir)
	}
	got := map[string][]string{}
	for _, f := range files {
		tech := strings.TrimSuffix(filepath.Base(f), ".json")
		set := map[string]bool{}
		for _, rec := range records(t, f) {
			for _, r := range rs.Match(rec, nil) {
				set[stem(r)] = true
			}
		}
		for s := range set {
			got[tech] = append(got[tech], s)
		}
		sort.Strings(got[tech])
	}
	for tech, want := range stratusFlags {
		if strings.Join(got[tech], ",") != strings.Join(want, ",") {
			t.Errorf("%s: flagged by %v, want %v", tech, got[tech], want)
		}
	}
	for tech, g := range got {
		if _, ok := stratusFlags[tech]; !ok {
			t.Errorf("%s: flagged by %v, want none", tech, g)
		}
	}
	if t.Failed() {
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Logf("%q: {%q},", k, strings.Join(got[k], `", "`))
		}
	}
}

// pantherPairs maps Panther rules to the SigmaHQ rules that detect the
// same thing, so Panther's labelled test records serve as positives and
// negatives for them.
var pantherPairs = map[string][]string{
	"AWS.Bedrock.GuardrailUpdateDelete":    {"aws_cloudtrail_bedrock_guardrail_deleted", "aws_cloudtrail_bedrock_guardrail_updated"},
	"AWS.CloudTrail.EnableRegion":          {"aws_cloudtrail_region_enabled"},
	"AWS.CloudTrail.Stopped":               {"aws_cloudtrail_disable_logging"},
	"AWS.ConfigService.DisabledDeleted":    {"aws_config_disable_recording"},
	"AWS.Console.GetSigninToken.Abuse":     {"aws_console_getsignintoken"},
	"AWS.Console.LoginWithoutMFA":          {"aws_cloudtrail_console_login_success_without_mfa"},
	"AWS.EC2.EBS.Encryption.Disabled":      {"aws_ec2_disable_encryption"},
	"AWS.EC2.Startup.Script.Change":        {"aws_ec2_startup_script_change"},
	"AWS.IAM.Backdoor.User.Keys":           {"aws_iam_backdoor_users_keys"},
	"AWS.RDS.MasterPasswordUpdated":        {"aws_rds_change_master_password"},
	"AWS.RDS.PublicRestore":                {"aws_rds_public_db_restore"},
	"AWS.S3.SuspendVersioning":             {"aws_disable_bucket_versioning"},
	"AWS.STS.GetCallerIdentity.TruffleHog": {"aws_sts_getcalleridentity_trufflehog"},
	"AWS.STS.GetSessionToken.Misuse":       {"aws_sts_getsessiontoken_misuse"},
	"AWS.SecurityHub.Finding.Evasion":      {"aws_securityhub_finding_evasion"},
	"AWS.Suspicious.SAML.Activity":         {"aws_susp_saml_activity"},
	"AWS.User.Login.Profile.Modified":      {"aws_update_login_profile"},
	"AWS.VPCFlow.LogsDeleted":              {"aws_cloudtrail_vpc_flow_logs_deleted"},
}

// pantherDiffers are the labelled records where the Sigma rule, as
// SigmaHQ wrote it, decides otherwise than Panther's rule, and why.
var pantherDiffers = map[string]string{
	"AWS.CloudTrail.EnableRegion/EnableRegion":                                       "the record's eventSource is cloudtrail, the Sigma rule requires account.amazonaws.com",
	"AWS.CloudTrail.Stopped/Error Stopping CloudTrail":                               "the Sigma rule does not filter on errorCode",
	"AWS.ConfigService.DisabledDeleted/Error Deleting Config Recorder":               "the Sigma rule does not filter on errorCode",
	"AWS.Console.LoginWithoutMFA/MFA Login - SAML":                                   "MFAUsed is No; Panther exempts SAML logins",
	"AWS.Console.LoginWithoutMFA/No MFA Login - New User":                            "Panther mocks the account's MFA state",
	"AWS.Console.LoginWithoutMFA/AWS SSOv2 Login":                                    "MFAUsed is No; Panther exempts SSO",
	"AWS.Console.LoginWithoutMFA/AssumeRole from MFA User Session":                   "MFAUsed is No; Panther reads the session's MFA",
	"AWS.Console.LoginWithoutMFA/No MFA - IAM Role and External IDP":                 "MFAUsed is No; Panther exempts external IdPs",
	"AWS.EC2.Startup.Script.Change/ModifyInstanceAttributeUserdata":                  "requestParameters.userData, not attribute: userData, which the Sigma rule reads",
	"AWS.IAM.Backdoor.User.Keys/user1 create keys for user1":                         "the Sigma rule compares the arn with literal text (no fieldref)",
	"AWS.IAM.Backdoor.User.Keys/CreateKey returns error code":                        "the Sigma rule does not filter on errorCode",
	"AWS.S3.SuspendVersioning/Versioning Disabled Successfully":                      "the record has no Suspended status",
	"AWS.S3.SuspendVersioning/Versioning Change Failed":                              "the Sigma rule does not filter on errorCode",
	"AWS.Suspicious.SAML.Activity/CreateSAMLProvider":                                "the Sigma rule names only AssumeRoleWithSAML and UpdateSAMLProvider",
	"AWS.Suspicious.SAML.Activity/DeleteSAMLProvider":                                "the Sigma rule names only AssumeRoleWithSAML and UpdateSAMLProvider",
	"AWS.STS.GetSessionToken.Misuse/GetSessionToken Failed":                          "the Sigma rule does not filter on errorCode",
	"AWS.User.Login.Profile.Modified/ChangeOwnPassword":                              "fieldref compares the whole arn with the bare userName, which never equal",
	"AWS.User.Login.Profile.Modified/User changed password for other reset required": "Panther requires PasswordResetRequired false",
}

// TestPantherLabelled checks the Sigma rules against Panther's labelled
// records for the same detections: every verdict agrees with the label
// except the listed, explained differences.
func TestPantherLabelled(t *testing.T) {
	rs := loadRules(t)
	b, err := os.ReadFile(publicDir + "/panther-analysis/panther_cloudtrail_rule_tests.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	checked, seen := 0, map[string]bool{}
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var d struct {
			RuleID   string `json:"rule_id"`
			Test     string `json:"test_name"`
			Expected bool   `json:"expected_result"`
			Log      json.RawMessage
		}
		if err := json.Unmarshal(l, &d); err != nil {
			t.Fatal(err)
		}
		want, ok := pantherPairs[d.RuleID]
		if !ok {
			continue
		}
		got := false
		for _, r := range rs.Match(d.Log, nil) {
			for _, w := range want {
				got = got || stem(r) == w
			}
		}
		key := d.RuleID + "/" + d.Test
		_, differs := pantherDiffers[key]
		seen[key] = true
		checked++
		if (got == d.Expected) == differs {
			t.Errorf("%s: Sigma %v, Panther label %v (listed as differing: %v)", key, got, d.Expected, differs)
		}
	}
	for k := range pantherDiffers {
		if !seen[k] {
			t.Errorf("listed difference %s is not among the records", k)
		}
	}
	if checked < 60 {
		t.Fatalf("checked %d labelled records, want at least 60", checked)
	}
}
