package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

const insightsGroup = "CloudTrail/audit"

// insightsEnv is a store whose account A has a trail feeding
// insightsGroup in region A, with events in two regions and another
// account.
func insightsEnv(t *testing.T) (*Service, *awsapi.Router) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.DiscardHandler)
	w, err := logwatch.New(logwatch.Config{Store: st, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	acc, reg := servicetest.AcctA, servicetest.RegionA
	if err := w.CreateLogGroup(ctx, acc, reg, insightsGroup, "", "", nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	start := now.Add(-time.Hour)
	set := trail.Settings{IsLogging: true, StartLoggingTime: &start,
		CloudWatchLogsLogGroupArn: logwatch.GroupARN(acc, reg, insightsGroup) + ":*"}
	doc, _ := json.Marshal(set)
	if err := st.CreateTrail(ctx, store.Trail{ARN: trail.ARN{Region: reg, Account: acc, Name: "audit"}.String(), Name: "audit",
		Account: acc, HomeRegion: reg, Doc: doc, Created: start, Updated: start}); err != nil {
		t.Fatal(err)
	}
	var recs []*event.Record
	for i, spec := range []string{acc + "/" + reg + "/ConsoleLogin", acc + "/" + reg + "/ConsoleLogin", acc + "/" + reg + "/GetObject",
		acc + "/eu-west-3/GetObject", servicetest.AcctB + "/" + reg + "/ConsoleLogin"} {
		p := strings.Split(spec, "/")
		raw, _ := json.Marshal(map[string]any{
			"eventVersion": "1.09", "eventTime": now.Add(-time.Duration(10-i) * time.Minute).Format(time.RFC3339),
			"eventSource": "signin.amazonaws.com", "eventName": p[2], "awsRegion": p[1], "sourceIPAddress": "192.0.2.1",
			"eventID": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "eventType": "AwsApiCall", "recipientAccountId": p[0],
			"managementEvent": true, "eventCategory": "Management",
			"userIdentity": map[string]any{"type": "IAMUser", "accountId": p[0], "userName": "alice"},
		})
		r, err := event.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if _, err := st.Append(ctx, recs, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Groups: w, Filters: w.Filters(), TokenKey: servicetest.TokenKey, Logger: quiet, Store: st, Insights: w})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewRouter("logs", nil, quiet)
	svc.Register(r)
	return svc, r
}

func (s *Service) waitQuery(t *testing.T, r *awsapi.Router, account, id string) GetQueryResultsOutput {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, body := servicetest.CallRouter(r, account, servicetest.RegionA, "GetQueryResults", `{"queryId":"`+id+`"}`)
		if code != 200 {
			t.Fatalf("GetQueryResults: %d %s", code, body)
		}
		var out GetQueryResultsOutput
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		if !running(out.Status) {
			return out
		}
	}
	t.Fatal("the query did not finish")
	return GetQueryResultsOutput{}
}

func rowsOf(out GetQueryResultsOutput) []string {
	var rows []string
	for _, r := range out.Results {
		var parts []string
		for _, f := range r {
			if f.Field != "@ptr" {
				parts = append(parts, f.Field+"="+f.Value)
			}
		}
		rows = append(rows, strings.Join(parts, " "))
	}
	return rows
}

func TestInsightsQueries(t *testing.T) {
	s, r := insightsEnv(t)
	now := time.Now().Unix()
	call := func(account, op, body string) (int, string) {
		return servicetest.CallRouter(r, account, servicetest.RegionA, op, body)
	}
	start := func(group, q string) string {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"logGroupName": group, "startTime": now - 3600, "endTime": now, "queryString": q})
		code, body := call(servicetest.AcctA, "StartQuery", string(b))
		if code != 200 {
			t.Fatalf("StartQuery %s: %d %s", q, code, body)
		}
		var out StartQueryOutput
		json.Unmarshal([]byte(body), &out)
		return out.QueryID
	}
	// The trail's group holds its region's three events.
	id := start(insightsGroup, `stats count(*) as n by eventName`)
	out := s.waitQuery(t, r, servicetest.AcctA, id)
	if got := strings.Join(rowsOf(out), "; "); out.Status != "Complete" || got != "eventName=ConsoleLogin n=2; eventName=GetObject n=1" ||
		out.Statistics.RecordsMatched != 3 || out.Statistics.RecordsScanned != 3 {
		t.Errorf("group query: %s %q %+v", out.Status, got, out.Statistics)
	}
	// The reserved name reads every event of the account, in any region.
	id = start(AllEventsGroup, `fields eventName, awsRegion, @logStream, @log | filter awsRegion = "eu-west-3"`)
	out = s.waitQuery(t, r, servicetest.AcctA, id)
	if got := strings.Join(rowsOf(out), "; "); got != "eventName=GetObject awsRegion=eu-west-3 @logStream="+servicetest.AcctA+"_CloudTrail_eu-west-3 @log="+servicetest.AcctA+":"+AllEventsGroup ||
		out.Statistics.RecordsScanned != 4 || out.Statistics.RecordsMatched != 1 {
		t.Errorf("all-events query: %s %q %+v", out.Status, got, out.Statistics)
	}
	if f := out.Results[0][len(out.Results[0])-1]; f.Field != "@ptr" || f.Value == "" {
		t.Errorf("no @ptr: %+v", out.Results[0])
	}
	// Time range: nothing an hour before.
	b, _ := json.Marshal(map[string]any{"logGroupName": AllEventsGroup, "startTime": now - 7200, "endTime": now - 3600, "queryString": "stats count(*) as n"})
	_, body := call(servicetest.AcctA, "StartQuery", string(b))
	var so StartQueryOutput
	json.Unmarshal([]byte(body), &so)
	if out := s.waitQuery(t, r, servicetest.AcctA, so.QueryID); strings.Join(rowsOf(out), "") != "n=0" || out.Statistics.RecordsScanned != 0 {
		t.Errorf("time range: %q %+v", rowsOf(out), out.Statistics)
	}
	// Another account sees neither the query nor the events.
	if code, body := call(servicetest.AcctB, "GetQueryResults", `{"queryId":"`+id+`"}`); code != 400 || !strings.Contains(body, "ResourceNotFoundException") {
		t.Errorf("other account's query: %d %s", code, body)
	}
	if code, body := call(servicetest.AcctA, "StopQuery", `{"queryId":"`+id+`"}`); code != 400 ||
		body != `{"__type":"InvalidParameterException","message":"The specified query is not running: it has ended with status Complete."}` {
		t.Errorf("stop a finished query: %d %s", code, body)
	}
	code, body := call(servicetest.AcctA, "DescribeQueries", `{"logGroupName":"`+insightsGroup+`","status":"Complete"}`)
	var dq DescribeQueriesOutput
	json.Unmarshal([]byte(body), &dq)
	if code != 200 || len(dq.Queries) != 1 || dq.Queries[0].QueryString != `stats count(*) as n by eventName` {
		t.Errorf("DescribeQueries: %d %s", code, body)
	}
	code, body = call(servicetest.AcctA, "DescribeQueries", `{"maxResults":2}`)
	json.Unmarshal([]byte(body), &dq)
	if code != 200 || len(dq.Queries) != 2 || dq.NextToken == nil {
		t.Fatalf("DescribeQueries page 1: %d %s", code, body)
	}
	code, body = call(servicetest.AcctA, "DescribeQueries", `{"maxResults":2,"nextToken":"`+*dq.NextToken+`"}`)
	dq = DescribeQueriesOutput{}
	json.Unmarshal([]byte(body), &dq)
	if code != 200 || len(dq.Queries) != 1 || dq.NextToken != nil {
		t.Errorf("DescribeQueries page 2: %d %s", code, body)
	}
}

func TestInsightsErrors(t *testing.T) {
	s, r := insightsEnv(t)
	call := func(op, body string) (int, string) {
		return servicetest.CallRouter(r, servicetest.AcctA, servicetest.RegionA, op, body)
	}
	for _, c := range []struct{ body, want string }{
		{`{"logGroupName":"nope","startTime":0,"endTime":10,"queryString":"fields @message"}`,
			`{"__type":"ResourceNotFoundException","message":"The specified log group does not exist."}`},
		{`{"logGroupName":"` + insightsGroup + `","startTime":0,"endTime":10,"queryString":"fields @message | stats"}`,
			`{"__type":"MalformedQueryException","message":"unexpected end of query; expected a field, a value or a function at line 1 and position 23",` +
				`"queryCompileError":{"location":{"endCharOffset":23,"startCharOffset":23},"message":"unexpected end of query; expected a field, a value or a function"}}`},
		{`{"logGroupName":"` + insightsGroup + `","logGroupNames":["x"],"startTime":0,"endTime":10,"queryString":"fields @message"}`,
			`mutually exclusive`},
		{`{"startTime":0,"endTime":10,"queryString":"fields @message"}`, `at least one log group`},
		{`{"logGroupName":"` + insightsGroup + `","startTime":10,"endTime":0,"queryString":"fields @message"}`, `"__type":"InvalidParameterException"`},
		{`{"logGroupName":"` + insightsGroup + `","startTime":0,"endTime":10,"queryString":"fields @message","limit":100001}`,
			`Member must have value less than or equal to 100000`},
		{`{"logGroupName":"` + insightsGroup + `","endTime":10,"queryString":"fields @message"}`, `at 'startTime' failed to satisfy constraint: Member must not be null`},
		{`{"logGroupIdentifiers":["arn:aws:logs:` + servicetest.RegionA + `:` + servicetest.AcctB + `:log-group:x"],"startTime":0,"endTime":10,"queryString":"fields @message"}`,
			`"__type":"ResourceNotFoundException"`},
	} {
		if code, body := call("StartQuery", c.body); code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s\nwant %s", c.body, code, body, c.want)
		}
	}
	if code, body := call("GetQueryResults", `{"queryId":"nope"}`); code != 400 || !strings.Contains(body, "ResourceNotFoundException") {
		t.Errorf("unknown query: %d %s", code, body)
	}
	// 30 running queries per account.
	s.q.mu.Lock()
	for i := range maxConcurrentQueries {
		id := fmt.Sprint("running-", i)
		s.q.byID[id] = &insightsQuery{id: id, account: servicetest.AcctA, region: servicetest.RegionA, status: statusRunning,
			created: time.Now(), cancel: func() {}}
	}
	s.q.mu.Unlock()
	code, body := call("StartQuery", `{"logGroupName":"`+insightsGroup+`","startTime":0,"endTime":10,"queryString":"fields @message"}`)
	if code != 400 || !strings.Contains(body, `"__type":"LimitExceededException"`) {
		t.Errorf("31st query: %d %s", code, body)
	}
	if code, body := call("StopQuery", `{"queryId":"running-0"}`); code != 200 || body != `{"success":true}` {
		t.Errorf("stop: %d %s", code, body)
	}
	if code, _ := call("StartQuery", `{"logGroupName":"`+insightsGroup+`","startTime":0,"endTime":10,"queryString":"fields @message"}`); code != 200 {
		t.Errorf("a query after one stopped: %d", code)
	}
}
