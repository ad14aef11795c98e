package e2e

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLogsInsightsAWSCLI runs Logs Insights queries with the Debian AWS
// CLI (start-query, get-query-results, describe-queries, stop-query) over
// a log group a trail feeds and over the whole store (the reserved log
// group /opentrail/all-events), and checks a malformed query's error as
// the CLI prints it.
func TestLogsInsightsAWSCLI(t *testing.T) {
	s := startServer(t, "")
	const region = "us-east-1"
	logs := func(args ...string) (string, string, int) {
		return s.awsCLI(t, "test", region, append([]string{"logs"}, args...)...)
	}
	s.mustCLI(t, region, "logs", "create-log-group", "--log-group-name", "CloudTrail/audit")
	if _, errs, code := s.awsCLI(t, "test", region, "s3", "mb", "s3://audit-bucket"); code != 0 {
		t.Fatalf("s3 mb: %s", errs)
	}
	s.mustCLI(t, region, "cloudtrail", "create-trail", "--name", "audit", "--s3-bucket-name", "audit-bucket",
		"--cloud-watch-logs-log-group-arn", "arn:aws:logs:us-east-1:000000000000:log-group:CloudTrail/audit:*",
		"--cloud-watch-logs-role-arn", "arn:aws:iam::000000000000:role/CloudTrail_CloudWatchLogs_Role")
	s.mustCLI(t, region, "cloudtrail", "start-logging", "--name", "audit")
	now := time.Now().UTC()
	s.postEvents(t, "test", [][]byte{
		record(recOpts{id: uuid("insights", 1), name: "ConsoleLogin", source: "signin.amazonaws.com", t: now.Add(-2 * time.Minute)}),
		record(recOpts{id: uuid("insights", 2), name: "ConsoleLogin", source: "signin.amazonaws.com", user: "bob", t: now.Add(-time.Minute)}),
		record(recOpts{id: uuid("insights", 3), name: "RunInstances", t: now.Add(-time.Minute)}),
		// Another region: not the single-region trail's, so only in the whole store.
		record(recOpts{id: uuid("insights", 4), name: "RunInstances", region: "eu-west-3", t: now.Add(-time.Minute)}),
	})
	from, to := strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), strconv.FormatInt(now.Add(time.Minute).Unix(), 10)
	type result struct {
		Results    [][]struct{ Field, Value string }
		Statistics struct{ RecordsMatched, RecordsScanned, BytesScanned float64 }
		Status     string
	}
	rows := func(r result) []string {
		var out []string
		for _, row := range r.Results {
			var parts []string
			for _, f := range row {
				if f.Field != "@ptr" {
					parts = append(parts, f.Field+"="+f.Value)
				}
			}
			out = append(out, strings.Join(parts, " "))
		}
		return out
	}
	run := func(group, q string) result {
		t.Helper()
		var started struct{ QueryId string }
		json.Unmarshal([]byte(s.mustCLI(t, region, "logs", "start-query", "--log-group-name", group,
			"--start-time", from, "--end-time", to, "--query-string", q)), &started)
		if started.QueryId == "" {
			t.Fatalf("start-query %s: no queryId", q)
		}
		var r result
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			json.Unmarshal([]byte(s.mustCLI(t, region, "logs", "get-query-results", "--query-id", started.QueryId)), &r)
			if r.Status != "Scheduled" && r.Status != "Running" {
				return r
			}
		}
		t.Fatalf("query %s did not finish: %+v", q, r)
		return r
	}

	// The trail feeds the group asynchronously: wait for its events.
	const logins = `filter eventName in ["ConsoleLogin", "RunInstances"] | stats count(*) as n by eventName | sort eventName asc`
	var r result
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r = run("CloudTrail/audit", logins)
		if strings.Join(rows(r), "; ") == "eventName=ConsoleLogin n=2; eventName=RunInstances n=1" || time.Now().After(deadline) {
			break
		}
	}
	if got := strings.Join(rows(r), "; "); r.Status != "Complete" || got != "eventName=ConsoleLogin n=2; eventName=RunInstances n=1" ||
		r.Statistics.RecordsMatched != 3 || r.Statistics.RecordsScanned < 3 {
		t.Errorf("group query: %s %q %+v", r.Status, got, r.Statistics)
	}
	r = run("CloudTrail/audit", `fields userIdentity.userName as who, @logStream | filter eventName = "ConsoleLogin" | sort @timestamp desc`)
	if got := strings.Join(rows(r), "; "); got != "who=bob @logStream=000000000000_CloudTrail_us-east-1; who=alice @logStream=000000000000_CloudTrail_us-east-1" {
		t.Errorf("fields query: %q", got)
	}
	// The whole store has the other region's event too.
	r = run("/opentrail/all-events", `filter eventName = "RunInstances" | stats count(*) as n by awsRegion | sort awsRegion`)
	if got := strings.Join(rows(r), "; "); got != "awsRegion=eu-west-3 n=1; awsRegion=us-east-1 n=1" {
		t.Errorf("whole-store query: %q", got)
	}
	// The default result: @timestamp and @message (the record), newest first.
	r = run("/opentrail/all-events", `filter eventName = "ConsoleLogin" | limit 1`)
	if len(r.Results) != 1 || len(r.Results[0]) != 3 || r.Results[0][0].Field != "@timestamp" || r.Results[0][1].Field != "@message" ||
		!strings.Contains(r.Results[0][1].Value, `"eventID":"`+uuid("insights", 2)+`"`) || r.Results[0][2].Field != "@ptr" {
		t.Errorf("default fields: %+v", r.Results)
	}

	// A malformed query and a missing log group, as the CLI prints them.
	_, errs, code := logs("start-query", "--log-group-name", "CloudTrail/audit", "--start-time", from, "--end-time", to,
		"--query-string", "fields @message\n| stats count(*) by")
	if want := "An error occurred (MalformedQueryException) when calling the StartQuery operation: unexpected end of query; expected a field, a value or a function at line 2 and position 19"; code != 254 || !strings.Contains(errs, want) {
		t.Errorf("malformed query: exit %d %s\nwant %s", code, errs, want)
	}
	_, errs, code = logs("start-query", "--log-group-name", "nope", "--start-time", from, "--end-time", to, "--query-string", "fields @message")
	if code != 254 || !strings.Contains(errs, "An error occurred (ResourceNotFoundException) when calling the StartQuery operation: The specified log group does not exist.") {
		t.Errorf("missing group: exit %d %s", code, errs)
	}
	if _, errs, code = logs("start-query", "--log-group-name", "CloudTrail/audit", "--start-time", from, "--query-string", "fields @message"); code != 252 ||
		!strings.Contains(errs, "the following arguments are required: --end-time") {
		t.Errorf("no --end-time: exit %d %s", code, errs)
	}

	var described struct {
		Queries []struct{ QueryId, QueryString, Status, LogGroupName string }
	}
	json.Unmarshal([]byte(s.mustCLI(t, region, "logs", "describe-queries", "--log-group-name", "/opentrail/all-events")), &described)
	if len(described.Queries) != 2 || described.Queries[0].QueryString != `filter eventName = "ConsoleLogin" | limit 1` ||
		described.Queries[0].Status != "Complete" {
		t.Errorf("describe-queries: %+v", described)
	}
	if _, errs, code := logs("stop-query", "--query-id", described.Queries[0].QueryId); code != 254 ||
		!strings.Contains(errs, "An error occurred (InvalidParameterException) when calling the StopQuery operation: The specified query is not running: it has ended with status Complete.") {
		t.Errorf("stop-query of a finished query: exit %d %s", code, errs)
	}

	// boto3 reads the modeled error, with its queryCompileError.
	script := `
import sys, time, boto3
logs = boto3.client("logs", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
now = int(time.time())
try:
    logs.start_query(logGroupName="CloudTrail/audit", startTime=now - 3600, endTime=now + 60, queryString="filter eventName ==== 1")
except logs.exceptions.MalformedQueryException as e:
    print("malformed", e.response["queryCompileError"])
qid = logs.start_query(logGroupName="/opentrail/all-events", startTime=now - 3600, endTime=now + 60,
    queryString="stats count(*) as n by eventName | filter eventName = 'RunInstances'")["queryId"]
for _ in range(100):
    r = logs.get_query_results(queryId=qid)
    if r["status"] not in ("Scheduled", "Running"):
        break
    time.sleep(0.1)
print("result", r["status"], r["results"], r["statistics"]["recordsMatched"])
`
	got, err := exec.Command("python3", "-c", script, s.url).CombinedOutput()
	for _, want := range []string{
		"malformed {'location': {'startCharOffset': 19, 'endCharOffset': 21}, 'message': 'unexpected symbol found ==; expected a field, a value or a function'}",
		"result Complete [[{'field': 'eventName', 'value': 'RunInstances'}, {'field': 'n', 'value': '2'}]]",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("boto3 output lacks %q", want)
		}
	}
	if err != nil || t.Failed() {
		t.Fatalf("boto3: %v\n%s", err, got)
	}
}
