package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/events"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	acct   = "111122223333"
	region = "us-east-1"
)

type nopAuditor struct{}

func (nopAuditor) Audit([]byte) {}

func newRouter(t *testing.T) *awsapi.Router {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rules, err := eventrules.New(eventrules.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := events.New(events.Config{Rules: rules, TokenKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewRouter("events", nopAuditor{}, slog.New(slog.DiscardHandler))
	svc.Register(r)
	return r
}

// call sends op with body as the account and region and returns the
// status and body.
func call(r *awsapi.Router, op, body string) (int, string) {
	return servicetest.CallRouter(r, acct, region, op, body)
}

func mustCall(t *testing.T, r *awsapi.Router, op, body string, out any) {
	t.Helper()
	status, resp := call(r, op, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", op, body, status, resp)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(resp), out); err != nil {
			t.Fatalf("%s: %v: %s", op, err, resp)
		}
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const stopLogging = `{"source":["aws.cloudtrail"],"detail":{"eventName":["StopLogging"]}}`

func TestPutDescribeRule(t *testing.T) {
	r := newRouter(t)
	var put struct{ RuleArn string }
	mustCall(t, r, "PutRule", js(map[string]any{"Name": "stop", "EventPattern": stopLogging, "Description": "trail stopped",
		"Tags": []map[string]string{{"Key": "severity", "Value": "high"}}}), &put)
	if put.RuleArn != "arn:aws:events:us-east-1:111122223333:rule/stop" {
		t.Fatalf("RuleArn %q", put.RuleArn)
	}
	status, body := call(r, "DescribeRule", `{"Name":"stop"}`)
	want := `{"Name":"stop","Arn":"arn:aws:events:us-east-1:111122223333:rule/stop","EventPattern":` + js(stopLogging) +
		`,"State":"ENABLED","Description":"trail stopped","EventBusName":"default","CreatedBy":"111122223333"}`
	if status != 200 || body != want {
		t.Fatalf("DescribeRule: %d %s\nwant %s", status, body, want)
	}
	// The bus by ARN is the default bus.
	mustCall(t, r, "DescribeRule", `{"Name":"stop","EventBusName":"arn:aws:events:us-east-1:111122223333:event-bus/default"}`, nil)
	var tags struct{ Tags []events.Tag }
	mustCall(t, r, "ListTagsForResource", `{"ResourceARN":"`+put.RuleArn+`"}`, &tags)
	if len(tags.Tags) != 1 || tags.Tags[0] != (events.Tag{Key: "severity", Value: "high"}) {
		t.Fatalf("tags %+v", tags)
	}
	mustCall(t, r, "TagResource", `{"ResourceARN":"`+put.RuleArn+`","Tags":[{"Key":"team","Value":"sec"}]}`, nil)
	mustCall(t, r, "UntagResource", `{"ResourceARN":"`+put.RuleArn+`","TagKeys":["severity"]}`, nil)
	mustCall(t, r, "ListTagsForResource", `{"ResourceARN":"`+put.RuleArn+`"}`, &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].Key != "team" {
		t.Fatalf("tags after tag/untag %+v", tags)
	}
	mustCall(t, r, "DisableRule", `{"Name":"stop"}`, nil)
	var d struct{ State string }
	mustCall(t, r, "DescribeRule", `{"Name":"stop"}`, &d)
	if d.State != "DISABLED" {
		t.Fatalf("state after DisableRule %q", d.State)
	}
	mustCall(t, r, "EnableRule", `{"Name":"stop"}`, nil)
	mustCall(t, r, "DescribeRule", `{"Name":"stop"}`, &d)
	if d.State != "ENABLED" {
		t.Fatalf("state after EnableRule %q", d.State)
	}
	mustCall(t, r, "PutRule", js(map[string]any{"Name": "stop", "EventPattern": stopLogging, "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"}), nil)
	mustCall(t, r, "DescribeRule", `{"Name":"stop"}`, &d)
	if d.State != "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" {
		t.Fatalf("state %q", d.State)
	}
}

func TestErrors(t *testing.T) {
	r := newRouter(t)
	mustCall(t, r, "PutRule", js(map[string]any{"Name": "stop", "EventPattern": stopLogging}), nil)
	mustCall(t, r, "PutTargets", `{"Rule":"stop","Targets":[{"Id":"t1","Arn":"arn:aws:sns:us-east-1:111122223333:alerts"}]}`, nil)
	long := strings.Repeat("x", 65)
	for _, c := range []struct{ op, body, code, msg string }{
		{"PutRule", `{"Name":"a b","EventPattern":"{}"}`, "ValidationException",
			`1 validation error detected: Value 'a b' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+`},
		{"PutRule", `{"Name":"a b` + long + `","EventPattern":"{}"}`, "ValidationException",
			`2 validation errors detected: Value 'a b` + long + `' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+; ` +
				`Value 'a b` + long + `' at 'name' failed to satisfy constraint: Member must have length less than or equal to 64`},
		{"PutRule", `{"Name":"x","EventPattern":"{}","State":"ON"}`, "ValidationException",
			"1 validation error detected: Value 'ON' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, DISABLED, ENABLED]"},
		{"PutRule", `{"Name":"x"}`, "ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified."},
		{"PutRule", `{"Name":"x","EventPattern":"{\"resources\": []}"}`, "InvalidEventPatternException",
			"Event pattern is not valid. Reason: Empty arrays are not allowed"},
		{"PutRule", `{"Name":"x","EventPattern":"{}","EventBusName":"custom"}`, "ResourceNotFoundException", "Event bus custom does not exist."},
		{"PutRule", `{"Name":"x","EventPattern":"{}","EventBusName":"arn:aws:events:us-east-1:111122223333:event-bus/other"}`,
			"ResourceNotFoundException", "Event bus other does not exist."},
		{"DescribeRule", `{"Name":"nope"}`, "ResourceNotFoundException", "Rule nope does not exist on EventBus default."},
		{"EnableRule", `{"Name":"nope"}`, "ResourceNotFoundException", "Rule nope does not exist on EventBus default."},
		{"DisableRule", `{"Name":"nope"}`, "ResourceNotFoundException", "Rule nope does not exist on EventBus default."},
		{"ListTargetsByRule", `{"Rule":"nope"}`, "ResourceNotFoundException", "Rule nope does not exist on EventBus default."},
		{"PutTargets", `{"Rule":"nope","Targets":[{"Id":"t","Arn":"arn:aws:sns:us-east-1:111122223333:a"}]}`, "ResourceNotFoundException",
			"Rule nope does not exist on EventBus default."},
		{"RemoveTargets", `{"Rule":"nope","Ids":["t"]}`, "ResourceNotFoundException", "Rule nope does not exist on EventBus default."},
		{"DeleteRule", `{"Name":"stop"}`, "ValidationException", "Rule can't be deleted since it has targets."},
		{"PutTargets", `{"Rule":"stop","Targets":[{"Id":"!@#$@!#$","Arn":"arn:aws:sns:us-east-1:111122223333:a"}]}`, "ValidationException",
			`1 validation error detected: Value '!@#$@!#$' at 'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+`},
		{"PutTargets", `{"Rule":"stop","Targets":[]}`, "ValidationException",
			"1 validation error detected: Value '[]' at 'targets' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"ListRules", `{"Limit":0}`, "ValidationException",
			"1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"ListRules", `{"Limit":101}`, "ValidationException",
			"1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"},
		{"TestEventPattern", `{"EventPattern":"{}","Event":"{\"testEvent\":\"value\"}"}`, "ValidationException", "Parameter Event is not valid."},
		{"TestEventPattern", `{"EventPattern":"{}","Event":"[1]"}`, "ValidationException", "Parameter Event is not valid."},
		{"TestEventPattern", `{"EventPattern":"{}","Event":"plain"}`, "ValidationException", "Parameter Event is not valid."},
		{"ListTagsForResource", `{"ResourceARN":"arn:aws:events:us-east-1:111122223333:rule/nope"}`, "ResourceNotFoundException",
			"Rule nope does not exist on EventBus default."},
	} {
		status, body := call(r, c.op, c.body)
		servicetest.WantError(t, status, body, 400, c.code, c.msg)
	}
	// Deleting a rule that does not exist is no error.
	mustCall(t, r, "DeleteRule", `{"Name":"never-was"}`, nil)
}

func TestTargets(t *testing.T) {
	r := newRouter(t)
	mustCall(t, r, "PutRule", js(map[string]any{"Name": "stop", "EventPattern": stopLogging}), nil)
	topic := "arn:aws:sns:us-east-1:111122223333:alerts"
	var res events.TargetsResult
	mustCall(t, r, "PutTargets", js(map[string]any{"Rule": "stop", "Targets": []map[string]any{
		{"Id": "sns", "Arn": topic, "RetryPolicy": map[string]any{"MaximumRetryAttempts": 3}},
		{"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:111122223333:function:f"},
		{"Id": "both", "Arn": topic, "Input": "{}", "InputPath": "$.detail"},
		{"Id": "badjson", "Arn": topic, "Input": "{"},
		{"Id": "bad-arn", "Arn": "topic"},
		{"Id": "const", "Arn": topic, "Input": `{"a":1}`},
	}}), &res)
	want := `{"FailedEntryCount":4,"FailedEntries":[` +
		`{"TargetId":"fn","ErrorCode":"ValidationException","ErrorMessage":"opentrail delivers event rule targets to SNS topics only; arn:aws:lambda:us-east-1:111122223333:function:f is not an SNS topic ARN."},` +
		`{"TargetId":"both","ErrorCode":"ValidationException","ErrorMessage":"Only one of Input, InputPath, or InputTransformer must be provided."},` +
		`{"TargetId":"badjson","ErrorCode":"ValidationException","ErrorMessage":"Input is not valid JSON text."},` +
		`{"TargetId":"bad-arn","ErrorCode":"ValidationException","ErrorMessage":"Parameter topic is not valid. Reason: Provided Arn is not in correct format."}]}`
	if got := js(res); got != want {
		t.Fatalf("PutTargets answered\n%s\nwant\n%s", got, want)
	}
	status, body := call(r, "ListTargetsByRule", `{"Rule":"stop"}`)
	wantList := `{"Targets":[{"Id":"sns","Arn":"` + topic + `","RetryPolicy":{"MaximumRetryAttempts":3}},{"Id":"const","Arn":"` + topic + `","Input":"{\"a\":1}"}]}`
	if status != 200 || body != wantList {
		t.Fatalf("ListTargetsByRule: %d %s\nwant %s", status, body, wantList)
	}
	var page struct {
		Targets   []map[string]any
		NextToken *string
	}
	mustCall(t, r, "ListTargetsByRule", `{"Rule":"stop","Limit":1}`, &page)
	if len(page.Targets) != 1 || page.Targets[0]["Id"] != "sns" || page.NextToken == nil {
		t.Fatalf("first page %+v", page)
	}
	var page2 struct {
		Targets   []map[string]any
		NextToken *string
	}
	mustCall(t, r, "ListTargetsByRule", `{"Rule":"stop","Limit":1,"NextToken":"`+*page.NextToken+`"}`, &page2)
	if len(page2.Targets) != 1 || page2.Targets[0]["Id"] != "const" || page2.NextToken != nil {
		t.Fatalf("second page %+v", page2)
	}
	var names struct{ RuleNames []string }
	mustCall(t, r, "ListRuleNamesByTarget", `{"TargetArn":"`+topic+`"}`, &names)
	if fmt.Sprint(names.RuleNames) != "[stop]" {
		t.Fatalf("ListRuleNamesByTarget %v", names)
	}
	mustCall(t, r, "RemoveTargets", `{"Rule":"stop","Ids":["sns","gone"]}`, &res)
	if js(res) != `{"FailedEntryCount":1,"FailedEntries":[{"TargetId":"gone","ErrorCode":"ResourceNotFoundException","ErrorMessage":"Rule 'stop' does not have a target with the Id 'gone'."}]}` {
		t.Fatalf("RemoveTargets %s", js(res))
	}
	mustCall(t, r, "PutTargets", js(map[string]any{"Rule": "stop", "Targets": []map[string]any{
		{"Id": "tr", "Arn": topic, "InputTransformer": map[string]any{"InputPathsMap": map[string]string{"n": "$.detail.eventName"}, "InputTemplate": `"<n>"`}},
		{"Id": "tr-bad", "Arn": topic, "InputTransformer": map[string]any{"InputPathsMap": map[string]string{"n": "detail"}, "InputTemplate": `"<n>"`}},
		{"Id": "tr-reserved", "Arn": topic, "InputTransformer": map[string]any{"InputPathsMap": map[string]string{"aws.events.rule-arn": "$"}, "InputTemplate": `"x"`}},
	}}), &res)
	if js(res) != `{"FailedEntryCount":2,"FailedEntries":[`+
		`{"TargetId":"tr-bad","ErrorCode":"ValidationException","ErrorMessage":"InputPathsMap value detail of key n is not a JSONPath opentrail applies: use $ followed by .member, ['member'] or [index] steps."},`+
		`{"TargetId":"tr-reserved","ErrorCode":"ValidationException","ErrorMessage":"InputPathsMap key aws.events.rule-arn is reserved: names starting with aws.events. are predefined variables."}]}` {
		t.Fatalf("PutTargets with transformers: %s", js(res))
	}
	status, body = call(r, "PutTargets", `{"Rule":"stop","Targets":[{"Id":"x","Arn":"`+topic+`","InputTransformer":{"InputPathsMap":{}}}]}`)
	servicetest.WantError(t, status, body, 400, "ValidationException",
		"1 validation error detected: Value null at 'targets.1.member.inputTransformer.inputTemplate' failed to satisfy constraint: Member must not be null")
	mustCall(t, r, "PutTargets", js(map[string]any{"Rule": "stop", "Targets": []map[string]any{
		{"Id": "a", "Arn": topic}, {"Id": "b", "Arn": topic}, {"Id": "c", "Arn": topic}}}), nil)
	status, body = call(r, "PutTargets", `{"Rule":"stop","Targets":[{"Id":"e","Arn":"`+topic+`"}]}`)
	servicetest.WantError(t, status, body, 400, "LimitExceededException", "The requested resource exceeds the maximum number allowed.")
	mustCall(t, r, "DeleteRule", `{"Name":"stop","Force":true}`, nil)
}

func TestListRulesPaging(t *testing.T) {
	r := newRouter(t)
	for i := range 5 {
		mustCall(t, r, "PutRule", js(map[string]any{"Name": fmt.Sprintf("r-%d", i), "EventPattern": stopLogging}), nil)
	}
	mustCall(t, r, "PutRule", js(map[string]any{"Name": "other", "EventPattern": stopLogging}), nil)
	var got []string
	var tok *string
	pages := 0
	for {
		in := map[string]any{"NamePrefix": "r-", "Limit": 2}
		if tok != nil {
			in["NextToken"] = *tok
		}
		var out struct {
			Rules []struct {
				Name, Arn, State, EventBusName string
			}
			NextToken *string
		}
		mustCall(t, r, "ListRules", js(in), &out)
		pages++
		for _, x := range out.Rules {
			if x.EventBusName != "default" || x.State != "ENABLED" || x.Arn != "arn:aws:events:us-east-1:111122223333:rule/"+x.Name {
				t.Fatalf("rule %+v", x)
			}
			got = append(got, x.Name)
		}
		if tok = out.NextToken; tok == nil {
			break
		}
	}
	if pages != 3 || fmt.Sprint(got) != "[r-0 r-1 r-2 r-3 r-4]" {
		t.Fatalf("%d pages: %v", pages, got)
	}
	var first struct{ NextToken *string }
	mustCall(t, r, "ListRules", `{"NamePrefix":"r-","Limit":2}`, &first)
	// A token is good only for the request that issued it.
	status, body := call(r, "ListRules", `{"NamePrefix":"o","Limit":2,"NextToken":"`+*first.NextToken+`"}`)
	servicetest.WantError(t, status, body, 400, "ValidationException",
		"The NextToken is not valid: pass the NextToken of the previous answer to the same request, unchanged.")
	var all struct{ Rules []any }
	mustCall(t, r, "ListRules", `{}`, &all)
	if len(all.Rules) != 6 {
		t.Fatalf("ListRules without a prefix: %d rules", len(all.Rules))
	}
	// Another account sees none of them.
	status, body = servicetest.CallRouter(r, "444455556666", region, "ListRules", `{}`)
	if status != 200 || body != `{"Rules":[]}` {
		t.Fatalf("another account: %d %s", status, body)
	}
}

func TestTestEventPattern(t *testing.T) {
	r := newRouter(t)
	ev := js(map[string]any{"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.cloudtrail",
		"account": acct, "time": "2026-03-01T10:00:00Z", "region": region, "detail": map[string]any{"eventName": "StopLogging"}})
	for pattern, want := range map[string]bool{
		stopLogging: true,
		`{"source":["aws.cloudtrail"],"detail":{"eventName":["StartLogging"]}}`: false,
		`{"detail":{"eventName":[{"prefix":"Stop"}]}}`:                          true,
	} {
		var out struct{ Result bool }
		mustCall(t, r, "TestEventPattern", js(map[string]string{"EventPattern": pattern, "Event": ev}), &out)
		if out.Result != want {
			t.Errorf("TestEventPattern(%s) = %v, want %v", pattern, out.Result, want)
		}
	}
	status, body := call(r, "TestEventPattern", js(map[string]string{"EventPattern": `{"detail":{"x":[{"numeric":[">",0,">",0]}]}}`, "Event": ev}))
	servicetest.WantError(t, status, body, 400, "InvalidEventPatternException", "Event pattern is not valid. Reason: Bad numeric range operator: >")
}
