package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestAWSCLI drives the server with the real AWS CLI from Debian.
func TestAWSCLI(t *testing.T) {
	s := seedServer(t)

	var out struct {
		Events []struct {
			EventId, EventName, ReadOnly, Username, EventSource, CloudTrailEvent string
			EventTime                                                            string
			Resources                                                            []struct{ ResourceType, ResourceName string }
		}
		NextToken string
	}
	stdout, stderr, code := s.awsCLI(t, "test", "us-east-1", "cloudtrail", "lookup-events",
		"--lookup-attributes", "AttributeKey=EventName,AttributeValue=ConsoleLogin", "--max-items", "250")
	if code != 0 {
		t.Fatalf("lookup-events exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("CLI output: %v\n%s", err, stdout)
	}
	// The CLI pages through 50-event pages itself and stops at --max-items.
	if len(out.Events) != 250 || out.NextToken == "" {
		t.Fatalf("got %d events (NextToken %q), want 250 and a token", len(out.Events), out.NextToken)
	}
	for _, e := range out.Events {
		if e.EventName != "ConsoleLogin" || e.ReadOnly != "false" || e.Username != "alice" {
			t.Fatalf("unexpected event %+v", e)
		}
		if _, err := time.Parse(time.RFC3339, e.EventTime); err != nil {
			t.Fatalf("EventTime %q: %v", e.EventTime, err)
		}
	}
	// --starting-token continues where --max-items stopped.
	stdout, stderr, code = s.awsCLI(t, "test", "us-east-1", "cloudtrail", "lookup-events",
		"--lookup-attributes", "AttributeKey=EventName,AttributeValue=ConsoleLogin", "--starting-token", out.NextToken)
	if code != 0 {
		t.Fatalf("lookup-events --starting-token exit %d: %s", code, stderr)
	}
	var rest struct{ Events []struct{ EventId string } }
	json.Unmarshal([]byte(stdout), &rest)
	if len(rest.Events) != 50 {
		t.Fatalf("second run got %d events, want the remaining 50", len(rest.Events))
	}

	// Each attribute through the CLI.
	for _, a := range []struct{ key, value string }{
		{"EventSource", "iam.amazonaws.com"}, {"Username", "bob"}, {"AccessKeyId", "AKIAEXAMPLEKEY000002"},
		{"ResourceType", "AWS::IAM::User"}, {"ResourceName", "arn:aws:iam::000000000000:user/carol"},
		{"EventId", uuid("seed", 4)}, {"ReadOnly", "false"}, {"EventName", "CreateUser"},
	} {
		stdout, stderr, code := s.awsCLI(t, "test", "us-east-1", "cloudtrail", "lookup-events", "--max-items", "10",
			"--lookup-attributes", "AttributeKey="+a.key+",AttributeValue="+a.value)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", a.key, code, stderr)
		}
		var got struct{ Events []struct{ EventId string } }
		json.Unmarshal([]byte(stdout), &got)
		if len(got.Events) == 0 {
			t.Fatalf("%s=%s found nothing", a.key, a.value)
		}
	}

	// Service errors: exit 254 and AWS's message shape on stderr.
	for _, c := range []struct {
		args []string
		code string
	}{
		{[]string{"--lookup-attributes", "AttributeKey=EventName,AttributeValue=a", "AttributeKey=Username,AttributeValue=b"}, "InvalidLookupAttributesException"},
		{[]string{"--start-time", "2024-02-01T00:00:00Z", "--end-time", "2024-01-01T00:00:00Z"}, "InvalidTimeRangeException"},
		{[]string{"--event-category", "management"}, "InvalidEventCategoryException"},
		{[]string{"--lookup-attributes", "AttributeKey=Bogus,AttributeValue=x"}, "InvalidLookupAttributesException"},
	} {
		_, stderr, code := s.awsCLI(t, "test", "us-east-1", append([]string{"cloudtrail", "lookup-events"}, c.args...)...)
		if code != 254 || !strings.Contains(stderr, "An error occurred ("+c.code+") when calling the LookupEvents operation") {
			t.Errorf("%v: exit %d, stderr %q; want 254 and %s", c.args, code, stderr, c.code)
		}
	}

	// A wrong secret: the signature does not match.
	_, stderr, code = s.awsCLI(t, "AKIAWRONGSECRET", "us-east-1", "cloudtrail", "lookup-events", "--max-items", "1")
	if code != 0 {
		t.Fatalf("local mode accepts any key with secret test: exit %d %s", code, stderr)
	}
}

// TestAWSCLITrails drives the trail control plane with the real AWS CLI.
func TestAWSCLITrails(t *testing.T) {
	s := startServer(t, "")
	ct := func(region string, args ...string) (string, string, int) {
		return s.awsCLI(t, "test", region, append([]string{"cloudtrail"}, args...)...)
	}
	if _, errs, code := s.awsCLI(t, "test", "eu-west-1", "s3", "mb", "s3://audit-bucket"); code != 0 {
		t.Fatalf("s3 mb: %d %s", code, errs)
	}
	out, errs, code := ct("eu-west-1", "create-trail", "--name", "audit-main", "--s3-bucket-name", "audit-bucket",
		"--is-multi-region-trail", "--enable-log-file-validation", "--s3-key-prefix", "prod")
	if code != 0 || !strings.Contains(out, `"TrailARN": "arn:aws:cloudtrail:eu-west-1:000000000000:trail/audit-main"`) ||
		!strings.Contains(out, `"LogFileValidationEnabled": true`) {
		t.Fatalf("create-trail: %d %s %s", code, out, errs)
	}
	if _, errs, code = ct("eu-west-1", "start-logging", "--name", "audit-main"); code != 0 {
		t.Fatalf("start-logging: %d %s", code, errs)
	}
	out, _, code = ct("eu-west-1", "get-trail-status", "--name", "arn:aws:cloudtrail:eu-west-1:000000000000:trail/audit-main")
	if code != 0 || !strings.Contains(out, `"IsLogging": true`) {
		t.Fatalf("get-trail-status: %d %s", code, out)
	}
	// A multi-region trail shows in every region, with its home region.
	out, _, code = ct("us-east-1", "describe-trails")
	if code != 0 || !strings.Contains(out, `"HomeRegion": "eu-west-1"`) {
		t.Fatalf("describe-trails from another region: %d %s", code, out)
	}
	// ... but is changed only from its home region.
	_, errs, code = ct("us-east-1", "stop-logging", "--name", "audit-main")
	if code != 254 || !strings.Contains(errs, "InvalidHomeRegionException") {
		t.Fatalf("stop-logging from another region: %d %s", code, errs)
	}
	out, _, code = ct("eu-west-1", "put-event-selectors", "--trail-name", "audit-main",
		"--event-selectors", `[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::audit-bucket/"]}]}]`)
	if code != 0 || !strings.Contains(out, `"ReadWriteType": "WriteOnly"`) {
		t.Fatalf("put-event-selectors: %d %s", code, out)
	}
	for _, c := range []struct {
		args []string
		code string
	}{
		{[]string{"create-trail", "--name", "ab", "--s3-bucket-name", "other-bucket"}, "InvalidTrailNameException"},
		{[]string{"create-trail", "--name", "audit-main", "--s3-bucket-name", "other-bucket"}, "TrailAlreadyExistsException"},
		{[]string{"get-trail", "--name", "nope"}, "TrailNotFoundException"},
		{[]string{"get-insight-selectors", "--trail-name", "audit-main"}, "InsightNotEnabledException"},
	} {
		_, errs, code := ct("eu-west-1", c.args...)
		if code != 254 || !strings.Contains(errs, "("+c.code+")") {
			t.Errorf("%v: exit %d %s; want 254 and %s", c.args, code, errs, c.code)
		}
	}
	if _, errs, code = ct("eu-west-1", "delete-trail", "--name", "audit-main"); code != 0 {
		t.Fatalf("delete-trail: %d %s", code, errs)
	}
	out, _, _ = ct("eu-west-1", "list-trails")
	if strings.Contains(out, "audit-main") {
		t.Fatalf("deleted trail still listed: %s", out)
	}
}
