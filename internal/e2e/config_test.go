package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestConfiguredPrincipals runs the server with a configuration file:
// principals, an organisation, and who may write and read what.
func TestConfiguredPrincipals(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "opentrail.yml")
	os.WriteFile(cfg, []byte(`
organization:
  id: o-exampleorg1
  management_account: "111111111111"
  members: ["222222222222"]
principals:
  - access_key_id: AKIAMANAGEMENT000001
    secret_access_key: mgmt-secret
    account: "111111111111"
    user_name: admin
  - access_key_id: AKIAMEMBER0000000001
    secret_env: OT_E2E_MEMBER_SECRET
    account: "222222222222"
    user_name: app
`), 0o600)
	t.Setenv("OT_E2E_MEMBER_SECRET", "member-secret")
	s := startServer(t, "", "--config", cfg)
	mgmt := aws.Credentials{AccessKeyID: "AKIAMANAGEMENT000001", SecretAccessKey: "mgmt-secret"}
	member := aws.Credentials{AccessKeyID: "AKIAMEMBER0000000001", SecretAccessKey: "member-secret"}

	post := func(c aws.Credentials, recs ...[]byte) (int, string) {
		r := signedRequest(t, c, "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, bytes.Join(recs, []byte("\n")))
		code, body, _ := do(t, r)
		return code, string(body)
	}
	// The management account writes for a member; not for an outsider.
	if code, body := post(mgmt, record(recOpts{id: uuid("cfg", 1), account: "222222222222"})); code != 200 {
		t.Fatalf("management writing for a member: %d %s", code, body)
	}
	if code, body := post(mgmt, record(recOpts{id: uuid("cfg", 2), account: "333333333333"})); code != 403 || !strings.Contains(body, "AccessDeniedException") {
		t.Fatalf("management writing for a non-member: %d %s", code, body)
	}
	// A member writes only its own account.
	if code, body := post(member, record(recOpts{id: uuid("cfg", 3), account: "222222222222", name: "RunInstances"})); code != 200 {
		t.Fatalf("member writing its own: %d %s", code, body)
	}
	if code, body := post(member, record(recOpts{id: uuid("cfg", 4), account: "111111111111"})); code != 403 {
		t.Fatalf("member writing for the management account: %d %s", code, body)
	}
	// Local-mode credentials are refused once principals exist; so is a wrong secret.
	if code, body := post(creds("test"), record(recOpts{id: uuid("cfg", 5)})); code != 403 || !strings.Contains(body, "UnrecognizedClientException") {
		t.Fatalf("test/test with principals configured: %d %s", code, body)
	}
	if code, body := post(aws.Credentials{AccessKeyID: member.AccessKeyID, SecretAccessKey: "wrong"}, record(recOpts{id: uuid("cfg", 6)})); code != 403 || !strings.Contains(body, "InvalidSignatureException") {
		t.Fatalf("wrong secret: %d %s", code, body)
	}

	// The member sees its account's events (not the management account's).
	r := signedRequest(t, member, "cloudtrail", "us-east-1", "POST", s.url+"/",
		map[string][]string{"X-Amz-Target": {"CloudTrail_20131101.LookupEvents"}, "Content-Type": {"application/x-amz-json-1.1"}},
		[]byte(`{"LookupAttributes":[{"AttributeKey":"EventSource","AttributeValue":"ec2.amazonaws.com"}]}`))
	code, body, _ := do(t, r)
	var out struct {
		Events []struct{ EventId, CloudTrailEvent string }
	}
	if code != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("member lookup: %d %s", code, body)
	}
	if len(out.Events) != 2 {
		t.Fatalf("member sees %d ec2 events, want its 2", len(out.Events))
	}
	for _, e := range out.Events {
		if !strings.Contains(e.CloudTrailEvent, `"recipientAccountId":"222222222222"`) {
			t.Fatalf("member saw another account's event: %s", e.CloudTrailEvent)
		}
	}
}

// TestRefusesNonLoopbackInLocalMode: without principals the server will
// not listen beyond loopback, and says why.
func TestRefusesNonLoopbackInLocalMode(t *testing.T) {
	cmd := exec.Command(os.Args[0], "serve", "--addr", "0.0.0.0:0", "--data", t.TempDir())
	cmd.Env = append(os.Environ(), "OPENTRAIL_E2E_AS_COMMAND=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("server started on 0.0.0.0 in local mode")
	}
	if !strings.Contains(string(out), "local mode") || !strings.Contains(string(out), "configure principals") {
		t.Fatalf("unclear refusal: %s", out)
	}
}
