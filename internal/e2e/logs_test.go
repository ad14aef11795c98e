package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
)

// recordedFilterCases reads recorded AWS TestMetricFilter cases by id.
func recordedFilterCases(t *testing.T, file string, ids ...string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile("../../../shared/testdata/filterpatterns/" + file)
	if err != nil {
		t.Fatalf("the recorded cases are read from ../shared/testdata (next to the repository): %v", err)
	}
	var doc struct{ Cases []map[string]any }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, id := range ids {
		found := false
		for _, c := range doc.Cases {
			if c["id"] == id {
				out, found = append(out, c), true
			}
		}
		if !found {
			t.Fatalf("no recorded case %s in %s", id, file)
		}
	}
	return out
}

// TestLogsAWSCLI drives CloudWatch Logs with the Debian AWS CLI: log
// groups, retention, metric filters, test-metric-filter replaying recorded
// AWS cases, and a trail streaming its events into a log group that
// get-log-events and filter-log-events read back.
func TestLogsAWSCLI(t *testing.T) {
	s := startServer(t, "")
	const region = "us-east-1"
	logs := func(args ...string) (string, string, int) {
		return s.awsCLI(t, "test", region, append([]string{"logs"}, args...)...)
	}
	if out, errs, code := logs("create-log-group", "--log-group-name", "CloudTrail/audit"); code != 0 || out != "" {
		t.Fatalf("create-log-group: %d %q %s", code, out, errs)
	}
	if _, errs, code := logs("create-log-group", "--log-group-name", "CloudTrail/audit"); code != 254 ||
		!strings.Contains(errs, "An error occurred (ResourceAlreadyExistsException) when calling the CreateLogGroup operation: The specified log group already exists") {
		t.Errorf("duplicate create-log-group: %d %s", code, errs)
	}
	if _, errs, code := logs("delete-log-group", "--log-group-name", "nope"); code != 254 ||
		!strings.Contains(errs, "(ResourceNotFoundException) when calling the DeleteLogGroup operation: The specified log group does not exist.") {
		t.Errorf("delete a missing group: %d %s", code, errs)
	}
	if _, errs, code := logs("put-retention-policy", "--log-group-name", "CloudTrail/audit", "--retention-in-days", "2"); code != 254 ||
		!strings.Contains(errs, "(InvalidParameterException)") || !strings.Contains(errs, "Member must satisfy enum value set: [1, 3, 5, 7, 14") {
		t.Errorf("retention 2: %d %s", code, errs)
	}
	s.mustCLI(t, region, "logs", "put-retention-policy", "--log-group-name", "CloudTrail/audit", "--retention-in-days", "7")
	out := s.mustCLI(t, region, "logs", "put-metric-filter", "--log-group-name", "CloudTrail/audit", "--filter-name", "console-logins",
		"--filter-pattern", `{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`,
		"--metric-transformations", "metricName=ConsoleSigninFailures,metricNamespace=CISBenchmark,metricValue=1,defaultValue=0")
	if out != "" {
		t.Errorf("put-metric-filter printed %q", out)
	}
	var groups struct {
		LogGroups []struct {
			LogGroupName, Arn                  string
			RetentionInDays, MetricFilterCount int
			CreationTime                       int64
		}
	}
	json.Unmarshal([]byte(s.mustCLI(t, region, "logs", "describe-log-groups", "--log-group-name-prefix", "CloudTrail/")), &groups)
	if len(groups.LogGroups) != 1 || groups.LogGroups[0].Arn != "arn:aws:logs:us-east-1:000000000000:log-group:CloudTrail/audit:*" ||
		groups.LogGroups[0].RetentionInDays != 7 || groups.LogGroups[0].MetricFilterCount != 1 || groups.LogGroups[0].CreationTime == 0 {
		t.Errorf("describe-log-groups: %+v", groups)
	}
	var filters struct {
		MetricFilters []struct {
			FilterName, FilterPattern, LogGroupName string
			MetricTransformations                   []map[string]any
		}
	}
	json.Unmarshal([]byte(s.mustCLI(t, region, "logs", "describe-metric-filters", "--log-group-name", "CloudTrail/audit")), &filters)
	if len(filters.MetricFilters) != 1 || filters.MetricFilters[0].FilterPattern != `{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }` ||
		!reflect.DeepEqual(filters.MetricFilters[0].MetricTransformations, []map[string]any{{"metricName": "ConsoleSigninFailures",
			"metricNamespace": "CISBenchmark", "metricValue": "1", "defaultValue": 0.0}}) {
		t.Errorf("describe-metric-filters: %+v", filters)
	}
	json.Unmarshal([]byte(s.mustCLI(t, region, "logs", "describe-metric-filters", "--metric-name", "Other", "--metric-namespace", "CISBenchmark")), &filters)
	if len(filters.MetricFilters) != 0 {
		t.Errorf("describe-metric-filters by another metric: %+v", filters)
	}

	// test-metric-filter answers as AWS did on the recorded cases.
	cases := recordedFilterCases(t, "filter-pattern-aws.json", "terms-negative", "terms-optional-ignored", "regex-digits",
		"json-numeric", "json-string-ne", "selector-wildcard", "space-last-rest", "space-constraint",
		"terms-wildcard", "regex-unclosed", "json-keyword-and", "space-duplicate")
	for _, c := range cases {
		in, _ := json.Marshal(c["request"])
		out, errs, code := logs("test-metric-filter", "--cli-input-json", string(in))
		if e, ok := c["error"].(map[string]any); ok {
			want := "An error occurred (" + e["code"].(string) + ") when calling the TestMetricFilter operation: " + e["message"].(string)
			if code != 254 || !strings.Contains(errs, want) {
				t.Errorf("%s: exit %d %s\nwant %s", c["id"], code, errs, want)
			}
			continue
		}
		var got any
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil || !reflect.DeepEqual(got, c["response"]) {
			t.Errorf("%s: exit %d\n got %s\nwant %v", c["id"], code, out+errs, c["response"])
		}
	}

	// A trail wired to the group streams its events into it.
	if _, errs, code := s.awsCLI(t, "test", region, "s3", "mb", "s3://audit-bucket"); code != 0 {
		t.Fatalf("s3 mb: %s", errs)
	}
	groupARN := "arn:aws:logs:us-east-1:000000000000:log-group:CloudTrail/audit:*"
	role := "arn:aws:iam::000000000000:role/CloudTrail_CloudWatchLogs_Role"
	if _, errs, code := s.awsCLI(t, "test", region, "cloudtrail", "create-trail", "--name", "audit", "--s3-bucket-name", "audit-bucket",
		"--cloud-watch-logs-log-group-arn", strings.Replace(groupARN, "audit", "missing", 1), "--cloud-watch-logs-role-arn", role); code != 254 ||
		!strings.Contains(errs, "(InvalidCloudWatchLogsLogGroupArnException) when calling the CreateTrail operation: Access denied. Verify in IAM that the role has adequate permissions.") {
		t.Errorf("create-trail with a missing log group: %d %s", code, errs)
	}
	out = s.mustCLI(t, region, "cloudtrail", "create-trail", "--name", "audit", "--s3-bucket-name", "audit-bucket",
		"--cloud-watch-logs-log-group-arn", groupARN, "--cloud-watch-logs-role-arn", role)
	if !strings.Contains(out, `"CloudWatchLogsLogGroupArn": "`+groupARN+`"`) || !strings.Contains(out, `"CloudWatchLogsRoleArn": "`+role+`"`) {
		t.Errorf("create-trail: %s", out)
	}
	if out = s.mustCLI(t, region, "cloudtrail", "describe-trails"); !strings.Contains(out, `"CloudWatchLogsLogGroupArn": "`+groupARN+`"`) {
		t.Errorf("describe-trails does not show the wiring: %s", out)
	}
	s.mustCLI(t, region, "cloudtrail", "start-logging", "--name", "audit")
	failed := strings.Replace(string(record(recOpts{id: uuid("logs", 1), name: "ConsoleLogin", source: "signin.amazonaws.com", t: time.Now()})),
		`"requestParameters"`, `"errorMessage":"Failed authentication","requestParameters"`, 1)
	s.postEvents(t, "test", [][]byte{[]byte(failed), record(recOpts{id: uuid("logs", 2), name: "RunInstances", t: time.Now()})})

	stream := "000000000000_CloudTrail_us-east-1"
	var filtered struct {
		Events []struct {
			LogStreamName, Message, EventId string
			Timestamp, IngestionTime        int64
		}
		SearchedLogStreams []struct{ LogStreamName string }
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		json.Unmarshal([]byte(s.mustCLI(t, region, "logs", "filter-log-events", "--log-group-name", "CloudTrail/audit",
			"--filter-pattern", `{ $.errorMessage = "Failed authentication" }`)), &filtered)
		if len(filtered.Events) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(filtered.Events) != 1 || filtered.Events[0].LogStreamName != stream || filtered.Events[0].Message != failed ||
		len(filtered.Events[0].EventId) != 56 || filtered.Events[0].IngestionTime < filtered.Events[0].Timestamp {
		t.Fatalf("filter-log-events: %+v", filtered)
	}
	if len(filtered.SearchedLogStreams) != 1 || filtered.SearchedLogStreams[0].LogStreamName != stream {
		t.Errorf("searchedLogStreams: %+v", filtered.SearchedLogStreams)
	}
	var got struct {
		Events []struct {
			Message string
		}
		NextForwardToken, NextBackwardToken string
	}
	json.Unmarshal([]byte(s.mustCLI(t, region, "logs", "get-log-events", "--log-group-name", "CloudTrail/audit",
		"--log-stream-name", stream, "--start-from-head", "--limit", "100")), &got)
	var names []string
	for _, e := range got.Events {
		var r struct{ EventName string }
		json.Unmarshal([]byte(e.Message), &r)
		names = append(names, r.EventName)
	}
	joined := strings.Join(names, ",")
	if !strings.Contains(joined, "ConsoleLogin,RunInstances") || !strings.Contains(joined, "StartLogging") ||
		!strings.HasPrefix(got.NextForwardToken, "f/") || !strings.HasPrefix(got.NextBackwardToken, "b/") {
		t.Errorf("get-log-events: events %s, tokens %q %q", joined, got.NextForwardToken, got.NextBackwardToken)
	}
	var streams struct {
		LogStreams []struct {
			LogStreamName, Arn string
			StoredBytes        int64
		}
	}
	json.Unmarshal([]byte(s.mustCLI(t, region, "logs", "describe-log-streams", "--log-group-name", "CloudTrail/audit")), &streams)
	if len(streams.LogStreams) != 1 || streams.LogStreams[0].LogStreamName != stream ||
		streams.LogStreams[0].Arn != "arn:aws:logs:us-east-1:000000000000:log-group:CloudTrail/audit:log-stream:"+stream {
		t.Errorf("describe-log-streams: %+v", streams)
	}
	s.mustCLI(t, region, "logs", "delete-metric-filter", "--log-group-name", "CloudTrail/audit", "--filter-name", "console-logins")
	if _, errs, code := logs("delete-metric-filter", "--log-group-name", "CloudTrail/audit", "--filter-name", "console-logins"); code != 254 ||
		!strings.Contains(errs, "(ResourceNotFoundException) when calling the DeleteMetricFilter operation: The specified filter does not exist.") {
		t.Errorf("delete a missing filter: %d %s", code, errs)
	}
}

// TestLogsBoto3 drives CloudWatch Logs with boto3: streams, PutLogEvents,
// GetLogEvents paging by token, FilterLogEvents, metric and subscription
// filters, and the modeled exceptions.
func TestLogsBoto3(t *testing.T) {
	s := startServer(t, "")
	py := `
import sys, time, json, boto3
from botocore.exceptions import ClientError
logs = boto3.client("logs", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
logs.create_log_group(logGroupName="app", tags={"team": "sec"})
logs.create_log_stream(logGroupName="app", logStreamName="web")
try:
    logs.create_log_stream(logGroupName="app", logStreamName="web")
except logs.exceptions.ResourceAlreadyExistsException as e:
    print("exists", e.response["Error"]["Message"])
try:
    logs.describe_log_streams(logGroupName="nope")
except logs.exceptions.ResourceNotFoundException as e:
    print("missing", e.response["Error"]["Message"])
logs.put_metric_filter(logGroupName="app", filterName="errors", filterPattern="ERROR",
    metricTransformations=[{"metricName": "Errors", "metricNamespace": "App", "metricValue": "3", "defaultValue": 7.0, "unit": "Count"}])
now = int(time.time() * 1000)
r = logs.put_log_events(logGroupName="app", logStreamName="web", logEvents=[
    {"timestamp": now, "message": "ERROR one"}, {"timestamp": now + 1, "message": "INFO two"}, {"timestamp": now + 2, "message": "ERROR three"}])
print("rejected", r.get("rejectedLogEventsInfo"))
try:
    logs.put_log_events(logGroupName="app", logStreamName="web", logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
except logs.exceptions.InvalidParameterException as e:
    print("order", e.response["Error"]["Message"])
page = logs.get_log_events(logGroupName="app", logStreamName="web", startFromHead=True, limit=2)
print([e["message"] for e in page["events"]])
page = logs.get_log_events(logGroupName="app", logStreamName="web", nextToken=page["nextForwardToken"], limit=2)
print([e["message"] for e in page["events"]])
again = logs.get_log_events(logGroupName="app", logStreamName="web", nextToken=page["nextForwardToken"], limit=2)
print(len(again["events"]), again["nextForwardToken"] == page["nextForwardToken"])
r = logs.filter_log_events(logGroupName="app", filterPattern="ERROR", limit=1)
print([e["message"] for e in r["events"]], "nextToken" in r)
r = logs.filter_log_events(logGroupName="app", filterPattern="ERROR", limit=1, nextToken=r["nextToken"])
print([e["message"] for e in r["events"]])
print([e["message"] for p in logs.get_paginator("filter_log_events").paginate(logGroupName="app", logStreamNamePrefix="we") for e in p["events"]])
f = logs.describe_metric_filters(logGroupName="app", filterNamePrefix="err")["metricFilters"][0]
print(f["filterName"], f["metricTransformations"][0])
r = logs.test_metric_filter(filterPattern="[level=ERROR, rest]", logEventMessages=["ERROR one", "INFO two"])
print(r["matches"])
try:
    logs.test_metric_filter(filterPattern="ERR*", logEventMessages=["x"])
except logs.exceptions.InvalidParameterException as e:
    print("pattern", e.response["Error"]["Message"])
try:
    logs.put_subscription_filter(logGroupName="app", filterName="s", filterPattern="", destinationArn="arn:aws:lambda:eu-west-1:000000000000:function:f")
except logs.exceptions.InvalidParameterException as e:
    print("destination", e.response["Error"]["Message"])
print(logs.list_tags_log_group(logGroupName="app")["tags"])
g = logs.describe_log_groups(logGroupNamePattern="AP")["logGroups"][0]
print(g["logGroupName"], g["metricFilterCount"], g["storedBytes"])
logs.delete_log_group(logGroupName="app")
print(logs.describe_log_groups()["logGroups"])
`
	cmd := exec.Command("python3", "-c", py, s.url)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	want := `exists The specified log stream already exists
missing The specified log group does not exist.
rejected None
order Log events in a single PutLogEvents request must be in chronological order.
['ERROR one', 'INFO two']
['ERROR three']
0 True
['ERROR one'] True
['ERROR three']
['ERROR one', 'INFO two', 'ERROR three']
errors {'metricName': 'Errors', 'metricNamespace': 'App', 'metricValue': '3', 'defaultValue': 7.0, 'unit': 'Count'}
[{'eventNumber': 1, 'eventMessage': 'ERROR one', 'extractedValues': {'$level': 'ERROR', '$rest': 'one'}}]
pattern Invalid character(s) in term '*'
destination Could not deliver test message to specified destination. Check if the destination is valid.
{'team': 'sec'}
app 1 28
[]
`
	if string(out) != want {
		t.Errorf("boto3:\n%s\nwant\n%s", out, want)
	}
}

// TestLogsGoSDK drives CloudWatch Logs with aws-sdk-go-v2, and checks
// the wire refusal of a defaultValue sent as a JSON string, as recorded
// on AWS.
func TestLogsGoSDK(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	c := cloudwatchlogs.New(cloudwatchlogs.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url),
		Credentials: aws.NewCredentialsCache(credProvider("123456789012"))})
	for _, n := range []string{"a/1", "a/2", "a/3", "b/1"} {
		if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	p := cloudwatchlogs.NewDescribeLogGroupsPaginator(c, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("a/"), Limit: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, g := range out.LogGroups {
			names = append(names, *g.LogGroupName)
		}
	}
	if strings.Join(names, ",") != "a/1,a/2,a/3" || pages != 2 {
		t.Errorf("paged groups %v in %d pages", names, pages)
	}
	if out, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("b/")}); err != nil ||
		len(out.LogGroups) != 1 || aws.ToString(out.LogGroups[0].LogGroupArn) != "arn:aws:logs:us-east-1:123456789012:log-group:b/1" ||
		aws.ToString(out.LogGroups[0].Arn) != "arn:aws:logs:us-east-1:123456789012:log-group:b/1:*" {
		t.Errorf("group ARNs: %+v %v", out, err)
	}
	// Another account sees none of them.
	other := cloudwatchlogs.New(cloudwatchlogs.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url),
		Credentials: aws.NewCredentialsCache(credProvider("210987654321"))})
	if out, err := other.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{}); err != nil || len(out.LogGroups) != 0 {
		t.Errorf("another account: %v %v", out, err)
	}
	_, err := c.PutMetricFilter(ctx, &cloudwatchlogs.PutMetricFilterInput{LogGroupName: aws.String("a/1"), FilterName: aws.String("v"),
		FilterPattern: aws.String(`{ $.values[*] = * }`), MetricTransformations: []cwltypes.MetricTransformation{{
			MetricName: aws.String("m"), MetricNamespace: aws.String("n"), MetricValue: aws.String("$.values[*]")}}})
	var ipe *cwltypes.InvalidParameterException
	if !errors.As(err, &ipe) || ipe.ErrorMessage() != "Invalid metric transformation: metric value $.values[*] must be a valid number" {
		t.Errorf("wildcard metric value: %v", err)
	}
	if _, err := c.PutMetricFilter(ctx, &cloudwatchlogs.PutMetricFilterInput{LogGroupName: aws.String("a/1"), FilterName: aws.String("v"),
		FilterPattern: aws.String(`{ $.probe = "yes" || $.value = * }`), MetricTransformations: []cwltypes.MetricTransformation{{
			MetricName: aws.String("m"), MetricNamespace: aws.String("n"), MetricValue: aws.String("$.value"), DefaultValue: aws.Float64(7)}}}); err != nil {
		t.Fatal(err)
	}
	tm, err := c.TestMetricFilter(ctx, &cloudwatchlogs.TestMetricFilterInput{FilterPattern: aws.String(`{ $.a = 1 }`),
		LogEventMessages: []string{`{"a":1}`, `{"a":"01"}`, `{"a":1.0}`}})
	if err != nil || len(tm.Matches) != 2 || tm.Matches[1].EventNumber != 3 {
		t.Errorf("TestMetricFilter: %+v %v", tm, err)
	}
	_, err = c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("zz")})
	var nf *cwltypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("missing group: %v", err)
	}
	var ae smithy.APIError
	_, err = c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("a/1"), LogStreamName: aws.String("s")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "ResourceNotFoundException" || ae.ErrorMessage() != "The specified log stream does not exist." {
		t.Errorf("missing stream: %v", err)
	}

	// defaultValue as a JSON string: the SDKs cannot send it, a raw
	// request can; AWS answers SerializationException.
	body := []byte(`{"logGroupName":"a/1","filterName":"w","filterPattern":"ERROR","metricTransformations":[{"metricName":"m","metricNamespace":"n","metricValue":"1","defaultValue":"7"}]}`)
	h := http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amz-Target": {"Logs_20140328.PutMetricFilter"}}
	code, out, _ := do(t, signedRequest(t, creds("123456789012"), "logs", "us-east-1", "POST", s.url+"/", h, body))
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	json.Unmarshal(out, &e)
	if code != 400 || e.Type != "SerializationException" || e.Message != "STRING_VALUE cannot be converted to Double" {
		t.Errorf("string defaultValue: %d %s", code, out)
	}
}
