package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestSTSGetCallerIdentity: the AWS CLI, boto3 and aws-sdk-go-v2 learn
// who their credentials belong to, in local mode and with configured
// principals; other STS actions get the query protocol's XML error; each
// call is recorded with eventSource sts.amazonaws.com.
func TestSTSGetCallerIdentity(t *testing.T) {
	s := startServer(t, "")

	type identity struct{ UserId, Account, Arn string }
	cli := func(akid string) identity {
		out, errs, code := s.awsCLI(t, akid, "us-east-1", "sts", "get-caller-identity")
		if code != 0 {
			t.Fatalf("aws sts get-caller-identity as %s: exit %d %s", akid, code, errs)
		}
		var id identity
		if err := json.Unmarshal([]byte(out), &id); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return id
	}
	if got, want := cli("test"), (identity{"000000000000", "000000000000", "arn:aws:iam::000000000000:root"}); got != want {
		t.Errorf("key test: %+v, want %+v", got, want)
	}
	if got, want := cli("123456789012"), (identity{"123456789012", "123456789012", "arn:aws:iam::123456789012:root"}); got != want {
		t.Errorf("12-digit key: %+v, want %+v", got, want)
	}

	// A wrong secret: the query protocol's code, which the CLI shows.
	cmd := exec.Command("/usr/bin/aws", "--endpoint-url", s.url, "--region", "us-east-1", "sts", "get-caller-identity")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=wrong"}
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 254 || !strings.Contains(string(out), "(SignatureDoesNotMatch) when calling the GetCallerIdentity operation") {
		t.Errorf("wrong secret: exit %d %s", cmd.ProcessState.ExitCode(), out)
	}

	// boto3, including a known STS action opentrail does not serve.
	py := `
import boto3, json, sys
from botocore.exceptions import ClientError
c = boto3.client("sts", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="210987654321", aws_secret_access_key="test")
r = c.get_caller_identity()
print(json.dumps({k: r[k] for k in ("UserId", "Account", "Arn")}))
try:
    c.get_session_token()
    print("no error")
except ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Type"))
`
	pcmd := exec.Command("python3", "-c", py, s.url)
	pcmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	pout, err := pcmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, pout)
	}
	lines := strings.Split(strings.TrimSpace(string(pout)), "\n")
	if len(lines) != 2 || lines[0] != `{"UserId": "210987654321", "Account": "210987654321", "Arn": "arn:aws:iam::210987654321:root"}` ||
		lines[1] != "InvalidAction 400 Sender" {
		t.Errorf("boto3:\n%s", pout)
	}

	// aws-sdk-go-v2.
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url), Credentials: credProvider("test")})
	got, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("aws-sdk-go-v2 GetCallerIdentity: %v", err)
	}
	if aws.ToString(got.Account) != "000000000000" || aws.ToString(got.Arn) != "arn:aws:iam::000000000000:root" || aws.ToString(got.UserId) != "000000000000" {
		t.Errorf("aws-sdk-go-v2: %s %s %s", aws.ToString(got.Account), aws.ToString(got.Arn), aws.ToString(got.UserId))
	}

	// An action STS does not have: InvalidAction, as XML.
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	code, body, hdr := do(t, signedRequest(t, creds("test"), "sts", "us-east-1", "POST", s.url+"/", h, []byte("Action=Frobnicate&Version=2011-06-15")))
	if code != 400 || hdr.Get("Content-Type") != "text/xml" ||
		!strings.Contains(string(body), `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`) ||
		!strings.Contains(string(body), "<Code>InvalidAction</Code>") ||
		!strings.Contains(string(body), "<Message>Could not find operation Frobnicate for version 2011-06-15</Message>") ||
		!strings.Contains(string(body), "<RequestId>"+hdr.Get("x-amzn-RequestId")+"</RequestId>") {
		t.Errorf("unknown action: %d %s %s", code, hdr.Get("Content-Type"), body)
	}

	// The calls are in the audit trail as CloudTrail records them (the
	// records of read-only calls are committed just after the answer).
	var res struct {
		Events []struct{ EventName, CloudTrailEvent string }
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body, _ = s.ctCall(t, "LookupEvents", `{"LookupAttributes":[{"AttributeKey":"EventSource","AttributeValue":"sts.amazonaws.com"}]}`)
		if code != 200 {
			t.Fatalf("LookupEvents: %d %s", code, body)
		}
		json.Unmarshal(body, &res)
		if len(res.Events) >= 3 || time.Now().After(deadline) {
			break
		}
	}
	n := 0
	for _, e := range res.Events {
		var rec struct {
			EventSource, EventName, EventType, EventCategory string
			ReadOnly, ManagementEvent                        bool
			RequestParameters, ResponseElements              any
			UserIdentity                                     struct{ Type, Arn, AccountId string }
		}
		json.Unmarshal([]byte(e.CloudTrailEvent), &rec)
		if rec.EventName == "GetCallerIdentity" {
			n++
			if rec.EventSource != "sts.amazonaws.com" || !rec.ReadOnly || !rec.ManagementEvent || rec.EventType != "AwsApiCall" ||
				rec.EventCategory != "Management" || rec.RequestParameters != nil || rec.ResponseElements != nil ||
				rec.UserIdentity.Type != "Root" || rec.UserIdentity.AccountId != "000000000000" {
				t.Errorf("GetCallerIdentity record: %s", e.CloudTrailEvent)
			}
		}
	}
	if n != 2 { // key test: the CLI call and the Go SDK call (us-east-1)
		t.Errorf("%d GetCallerIdentity records for account 000000000000 in us-east-1, want 2:\n%+v", n, res.Events)
	}
}

// TestSTSConfiguredPrincipal: a configured principal is answered with its
// own ARN; an unknown key gets InvalidClientTokenId.
func TestSTSConfiguredPrincipal(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "opentrail.yml")
	os.WriteFile(cfg, []byte(`
principals:
  - access_key_id: AKIAEXAMPLESTS000001
    secret_access_key: sts-secret
    account: "444455556666"
    user_name: deployer
`), 0o600)
	s := startServer(t, "", "--config", cfg)
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url),
		Credentials: staticCreds{"AKIAEXAMPLESTS000001", "sts-secret"}})
	got, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Account) != "444455556666" || aws.ToString(got.Arn) != "arn:aws:iam::444455556666:user/deployer" || !strings.HasPrefix(aws.ToString(got.UserId), "AIDA") {
		t.Errorf("configured principal: %s %s %s", aws.ToString(got.Account), aws.ToString(got.Arn), aws.ToString(got.UserId))
	}
	out, errs, code := s.awsCLI(t, "AKIAUNKNOWN000000001", "us-east-1", "sts", "get-caller-identity")
	if code != 254 || !strings.Contains(errs, "(InvalidClientTokenId) when calling the GetCallerIdentity operation") {
		t.Errorf("unknown key: exit %d %s %s", code, out, errs)
	}
}
