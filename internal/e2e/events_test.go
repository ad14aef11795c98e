package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const stopLoggingPattern = `{"source":["aws.cloudtrail"],"detail":{"eventName":["StopLogging"]}}`

// confirmedTopic creates a topic in us-east-1 with an HTTP subscriber
// and confirms the subscription.
func confirmedTopic(t *testing.T, s *server, name string) (string, *snsSubscriber) {
	t.Helper()
	sub := newSNSSubscriber(t)
	var topic struct{ TopicArn string }
	json.Unmarshal([]byte(s.mustCLI(t, "us-east-1", "sns", "create-topic", "--name", name)), &topic)
	s.mustCLI(t, "us-east-1", "sns", "subscribe", "--topic-arn", topic.TopicArn, "--protocol", "http", "--notification-endpoint", sub.srv.URL+"/sns")
	conf := sub.next(t, "SubscriptionConfirmation")
	resp, err := http.Get(conf.doc["SubscribeURL"])
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	return topic.TopicArn, sub
}

// TestEventRulesWithAWSCLI: a rule put with `aws events put-rule` and an
// SNS topic target with an HTTP subscriber; a StopLogging record sent to
// the server arrives there in EventBridge's envelope, and a read-only call
// does not reach a rule in state ENABLED. The CLI's errors and exit codes
// are AWS's.
func TestEventRulesWithAWSCLI(t *testing.T) {
	s := startServer(t, "")
	topicARN, sub := confirmedTopic(t, s, "trail-alerts")
	const region = "us-east-1"

	var put struct{ RuleArn string }
	json.Unmarshal([]byte(s.mustCLI(t, region, "events", "put-rule", "--name", "trail-stopped", "--event-pattern", stopLoggingPattern,
		"--description", "Someone stopped a trail", "--tags", "Key=severity,Value=high")), &put)
	if put.RuleArn != "arn:aws:events:us-east-1:000000000000:rule/trail-stopped" {
		t.Fatalf("put-rule: %+v", put)
	}
	out := s.mustCLI(t, region, "events", "put-targets", "--rule", "trail-stopped", "--targets", "Id=alerts,Arn="+topicARN)
	var pt struct {
		FailedEntryCount int
		FailedEntries    []any
	}
	if json.Unmarshal([]byte(out), &pt) != nil || pt.FailedEntryCount != 0 || len(pt.FailedEntries) != 0 {
		t.Fatalf("put-targets: %s", out)
	}
	var rules struct {
		Rules []map[string]string
	}
	json.Unmarshal([]byte(s.mustCLI(t, region, "events", "list-rules", "--name-prefix", "trail")), &rules)
	if len(rules.Rules) != 1 || rules.Rules[0]["Name"] != "trail-stopped" || rules.Rules[0]["State"] != "ENABLED" ||
		rules.Rules[0]["EventPattern"] != stopLoggingPattern || rules.Rules[0]["EventBusName"] != "default" ||
		rules.Rules[0]["Description"] != "Someone stopped a trail" {
		t.Fatalf("list-rules: %+v", rules)
	}
	var desc map[string]string
	json.Unmarshal([]byte(s.mustCLI(t, region, "events", "describe-rule", "--name", "trail-stopped")), &desc)
	if desc["Arn"] != put.RuleArn || desc["CreatedBy"] != "000000000000" {
		t.Fatalf("describe-rule: %+v", desc)
	}
	var targets struct{ Targets []map[string]string }
	json.Unmarshal([]byte(s.mustCLI(t, region, "events", "list-targets-by-rule", "--rule", "trail-stopped")), &targets)
	if len(targets.Targets) != 1 || targets.Targets[0]["Id"] != "alerts" || targets.Targets[0]["Arn"] != topicARN {
		t.Fatalf("list-targets-by-rule: %+v", targets)
	}
	if out := s.mustCLI(t, region, "events", "list-rule-names-by-target", "--target-arn", topicARN); !strings.Contains(out, `"trail-stopped"`) {
		t.Fatalf("list-rule-names-by-target: %s", out)
	}
	ev := `{"id":"1","account":"000000000000","source":"aws.cloudtrail","time":"2026-03-01T10:00:00Z","region":"us-east-1",` +
		`"resources":[],"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"StopLogging"}}`
	if out := s.mustCLI(t, region, "events", "test-event-pattern", "--event-pattern", stopLoggingPattern, "--event", ev); !strings.Contains(out, `"Result": true`) {
		t.Fatalf("test-event-pattern: %s", out)
	}

	// AWS's errors, as the CLI prints them, with its exit code 254.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"put-rule", "--name", "bad", "--event-pattern", `{"source":"aws.cloudtrail"}`},
			`An error occurred (InvalidEventPatternException) when calling the PutRule operation: Event pattern is not valid. Reason: "source" must be an object or an array`},
		{[]string{"put-rule", "--name", "bad", "--event-pattern", `{"source":[]}`},
			`An error occurred (InvalidEventPatternException) when calling the PutRule operation: Event pattern is not valid. Reason: Empty arrays are not allowed`},
		{[]string{"test-event-pattern", "--event-pattern", stopLoggingPattern, "--event", `{"testEvent":"value"}`},
			`An error occurred (ValidationException) when calling the TestEventPattern operation: Parameter Event is not valid.`},
		{[]string{"describe-rule", "--name", "nope"},
			`An error occurred (ResourceNotFoundException) when calling the DescribeRule operation: Rule nope does not exist on EventBus default.`},
		{[]string{"delete-rule", "--name", "trail-stopped"},
			`An error occurred (ValidationException) when calling the DeleteRule operation: Rule can't be deleted since it has targets.`},
		{[]string{"list-rules", "--event-bus-name", "orders"},
			`An error occurred (ResourceNotFoundException) when calling the ListRules operation: Event bus orders does not exist.`},
	} {
		_, errs, code := s.awsCLI(t, "test", region, append([]string{"events"}, c.args...)...)
		if code != 254 || strings.TrimSpace(errs) != c.want {
			t.Errorf("aws events %s: exit %d\n%s\nwant 254\n%s", strings.Join(c.args, " "), code, errs, c.want)
		}
	}

	// A read-only call and another write, then the StopLogging record.
	now := time.Now().UTC().Add(-time.Minute)
	s.postEvents(t, "test", [][]byte{
		record(recOpts{id: uuid("evr", 1), name: "DescribeTrails", source: "cloudtrail.amazonaws.com", readOnly: true, t: now}),
		record(recOpts{id: uuid("evr", 2), name: "StartLogging", source: "cloudtrail.amazonaws.com", t: now}),
		record(recOpts{id: uuid("evr", 3), name: "StopLogging", source: "cloudtrail.amazonaws.com", t: now}),
	})
	n := sub.next(t, "Notification")
	verifySNSSignature(t, n.doc)
	var env struct {
		Version    string `json:"version"`
		ID         string `json:"id"`
		DetailType string `json:"detail-type"`
		Source     string `json:"source"`
		Account    string `json:"account"`
		Region     string `json:"region"`
		Detail     struct {
			EventName string `json:"eventName"`
			EventID   string `json:"eventID"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(n.doc["Message"]), &env); err != nil {
		t.Fatalf("the notification is not the event: %v: %s", err, n.doc["Message"])
	}
	if env.Version != "0" || env.ID == "" || env.DetailType != "AWS API Call via CloudTrail" || env.Source != "aws.cloudtrail" ||
		env.Account != "000000000000" || env.Region != "us-east-1" || env.Detail.EventName != "StopLogging" || env.Detail.EventID != uuid("evr", 3) ||
		n.doc["TopicArn"] != topicARN {
		t.Fatalf("notification: %s", n.raw)
	}
	select {
	case d := <-sub.got:
		t.Fatalf("a second notification: %s", d.raw)
	case <-time.After(time.Second):
	}

	// Disabled, the rule sends nothing; removing the target lets the rule go.
	s.mustCLI(t, region, "events", "disable-rule", "--name", "trail-stopped")
	s.postEvents(t, "test", [][]byte{record(recOpts{id: uuid("evr", 4), name: "StopLogging", source: "cloudtrail.amazonaws.com", t: now})})
	select {
	case d := <-sub.got:
		t.Fatalf("a disabled rule notified: %s", d.raw)
	case <-time.After(2 * time.Second):
	}
	s.mustCLI(t, region, "events", "remove-targets", "--rule", "trail-stopped", "--ids", "alerts")
	s.mustCLI(t, region, "events", "delete-rule", "--name", "trail-stopped")
	if out := s.mustCLI(t, region, "events", "list-rules"); strings.Contains(out, "trail-stopped") {
		t.Fatalf("list-rules after delete-rule: %s", out)
	}
}

// TestEventRulesWithBoto3 drives the API with boto3: paging, the modeled
// exceptions and their messages, FailedEntries.
func TestEventRulesWithBoto3(t *testing.T) {
	s := startServer(t, "")
	py := `
import boto3, json, sys
from botocore.exceptions import ClientError
c = boto3.client("events", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="123456789012", aws_secret_access_key="test")
for i in range(5):
    c.put_rule(Name="r%d" % i, EventPattern=json.dumps({"source": ["aws.iam"], "detail": {"eventName": [{"prefix": "Delete"}]}}), State="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
names, tok, pages = [], None, 0
while True:
    kw = dict(NamePrefix="r", Limit=2)
    if tok:
        kw["NextToken"] = tok
    r = c.list_rules(**kw)
    pages += 1
    names += [x["Name"] + ":" + x["State"] for x in r["Rules"]]
    tok = r.get("NextToken")
    if not tok:
        break
print(pages, " ".join(names))
r = c.put_targets(Rule="r0", Targets=[{"Id": "t1", "Arn": "arn:aws:sns:eu-west-1:123456789012:t"}, {"Id": "q", "Arn": "arn:aws:sqs:eu-west-1:123456789012:q"}])
print(r["FailedEntryCount"], r["FailedEntries"][0]["TargetId"], r["FailedEntries"][0]["ErrorCode"])
r = c.remove_targets(Rule="r0", Ids=["nope"])
print(r["FailedEntryCount"], r["FailedEntries"][0]["ErrorMessage"])
ev = json.dumps({"id": "1", "account": "123456789012", "source": "aws.iam", "time": "2026-03-01T10:00:00Z", "region": "eu-west-1", "resources": [], "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "DeleteUser"}})
print(c.test_event_pattern(EventPattern=json.dumps({"detail": {"eventName": [{"prefix": "Delete"}]}}), Event=ev)["Result"])
print(c.test_event_pattern(EventPattern=json.dumps({"detail": {"eventName": [{"anything-but": {"prefix": "Delete"}}]}}), Event=ev)["Result"])
for f, kw in [(c.put_rule, dict(Name="bad", EventPattern='{"detail": {"x": [{"numeric": [">", 0, ">", 0]}]}}')),
              (c.describe_rule, dict(Name="missing")),
              (c.delete_rule, dict(Name="r0")),
              (c.test_event_pattern, dict(EventPattern="{}", Event="[]")),
              (c.enable_rule, dict(Name="r1", EventBusName="custom"))]:
    try:
        f(**kw)
        print("no error")
    except ClientError as e:
        print(type(e).__name__, e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"])
c.delete_rule(Name="r0", Force=True)
print(len(c.list_rules()["Rules"]))
`
	cmd := exec.Command("python3", "-c", py, s.url)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	all := "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
	want := "3 r0:" + all + " r1:" + all + " r2:" + all + " r3:" + all + " r4:" + all + `
1 q ValidationException
1 Rule 'r0' does not have a target with the Id 'nope'.
True
False
InvalidEventPatternException InvalidEventPatternException 400 Event pattern is not valid. Reason: Bad numeric range operator: >
ResourceNotFoundException ResourceNotFoundException 400 Rule missing does not exist on EventBus default.
ClientError ValidationException 400 Rule can't be deleted since it has targets.
ClientError ValidationException 400 Parameter Event is not valid.
ResourceNotFoundException ResourceNotFoundException 400 Event bus custom does not exist.
4`
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("boto3:\n%s\nwant:\n%s", got, want)
	}
}

// TestEventRulesScope: an EventBridge call signed for another service is
// told which service to sign for, and one signed for events reaches the
// EventBridge router.
func TestEventRulesScope(t *testing.T) {
	s := startServer(t, "")
	h := http.Header{"X-Amz-Target": {"AWSEvents.ListRules"}, "Content-Type": {"application/x-amz-json-1.1"}}
	code, body, _ := do(t, signedRequest(t, creds("test"), "logs", "us-east-1", "POST", s.url+"/", h, []byte("{}")))
	if code != 403 || !strings.Contains(string(body), "Credential should be scoped to correct service: 'events'. ") {
		t.Fatalf("signed for logs: %d %s", code, body)
	}
	code, body, _ = do(t, signedRequest(t, creds("test"), "events", "us-east-1", "POST", s.url+"/", h, []byte("{}")))
	if code != 200 || string(body) != `{"Rules":[]}` {
		t.Fatalf("signed for events: %d %s", code, body)
	}
}
