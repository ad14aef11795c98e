package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// TestLakeQuerySDK runs CloudTrail Lake queries through aws-sdk-go-v2:
// StartQuery, DescribeQuery, GetQueryResults with paging, ListQueries,
// CancelQuery and the modelled errors.
func TestLakeQuerySDK(t *testing.T) {
	s := seedServer(t)
	c := ctClient(s, "test", "us-east-1")
	ctx := context.Background()

	wait := func(id string) *cloudtrail.DescribeQueryOutput {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			d, err := c.DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			if d.QueryStatus != types.QueryStatusQueued && d.QueryStatus != types.QueryStatusRunning {
				return d
			}
		}
		t.Fatal("query did not finish")
		return nil
	}

	// Seeded: 3000 events, every tenth in account 111122223333. The
	// caller (local mode's key "test", account 000000000000) is the
	// organisation's management account and sees all of them (and the
	// self-audit records of its API calls): 300 ConsoleLogin, 2100
	// DescribeInstances (300 of them in 111122223333).
	start, err := c.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(
		`SELECT eventName, count(*) AS n FROM 0a1b2c3d-1111-4222-8333-444455556666 GROUP BY eventName ORDER BY n DESC, eventName`)})
	if err != nil {
		t.Fatal(err)
	}
	d := wait(*start.QueryId)
	if d.QueryStatus != types.QueryStatusFinished || d.QueryStatistics.EventsScanned == nil || *d.QueryStatistics.EventsScanned < 3000 {
		t.Fatalf("describe: %+v scanned %v %v", d.QueryStatus, aws.ToInt64(d.QueryStatistics.EventsScanned), aws.ToString(d.ErrorMessage))
	}
	r, err := c.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: start.QueryId})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, row := range r.QueryResultRows {
		if len(row) != 2 {
			t.Fatalf("row %v", row)
		}
		got[row[0]["eventName"]] = row[1]["n"]
	}
	if got["ConsoleLogin"] != "300" || got["DescribeInstances"] != "2100" || got["GetObject"] != "300" {
		t.Errorf("results %v", got)
	}

	// Paging over a JSON field of every one of the caller's events.
	start, err = c.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(
		`SELECT eventID, userIdentity.arn AS arn FROM cloudtrail_events WHERE userIdentity.userName = 'bob' ORDER BY eventTime DESC`)})
	if err != nil {
		t.Fatal(err)
	}
	if d := wait(*start.QueryId); d.QueryStatus != types.QueryStatusFinished {
		t.Fatalf("status %s: %s", d.QueryStatus, aws.ToString(d.ErrorMessage))
	}
	var rows int
	p := cloudtrail.GetQueryResultsInput{QueryId: start.QueryId, MaxQueryResults: aws.Int32(120)}
	for pages := 0; ; pages++ {
		r, err := c.GetQueryResults(ctx, &p)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range r.QueryResultRows {
			if row[1]["arn"] != "arn:aws:iam::000000000000:user/bob" {
				t.Fatalf("row %v", row)
			}
		}
		rows += len(r.QueryResultRows)
		if r.NextToken == nil {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		p.NextToken = r.NextToken
	}
	if rows != 300 {
		t.Errorf("%d rows, want 300", rows)
	}

	// The event data store, as the SDK reads it.
	eds, err := c.ListEventDataStores(ctx, &cloudtrail.ListEventDataStoresInput{})
	if err != nil || len(eds.EventDataStores) != 1 {
		t.Fatalf("ListEventDataStores: %v %+v", err, eds)
	}
	ge, err := c.GetEventDataStore(ctx, &cloudtrail.GetEventDataStoreInput{EventDataStore: eds.EventDataStores[0].EventDataStoreArn})
	if err != nil || aws.ToString(ge.EventDataStoreArn) != aws.ToString(eds.EventDataStores[0].EventDataStoreArn) || ge.Status != types.EventDataStoreStatusEnabled ||
		!aws.ToBool(ge.MultiRegionEnabled) || ge.CreatedTimestamp == nil || ge.CreatedTimestamp.After(time.Now()) || aws.ToInt32(ge.RetentionPeriod) != 90 {
		t.Fatalf("GetEventDataStore: %v %+v", err, ge)
	}
	_, err = c.GetEventDataStore(ctx, &cloudtrail.GetEventDataStoreInput{EventDataStore: aws.String("00000000-0000-4000-8000-000000000000")})
	var enf *types.EventDataStoreNotFoundException
	if !errors.As(err, &enf) {
		t.Errorf("unknown event data store: %v", err)
	}

	// Refused statements are InvalidQueryStatementException.
	for _, q := range []string{"DELETE FROM cloudtrail_events", "SELECT * FROM events", "SELECT 1; SELECT 2"} {
		_, err := c.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(q)})
		var ie *types.InvalidQueryStatementException
		if !errors.As(err, &ie) {
			t.Errorf("%s: err = %v, want InvalidQueryStatementException", q, err)
		}
	}
	// Unknown query IDs, and another account's queries.
	_, err = c.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: aws.String("00000000-0000-4000-8000-000000000000")})
	var nf *types.QueryIdNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown id: %v", err)
	}
	// Cancel a long query; cancelling again is InactiveQueryException.
	long, err := c.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(`SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3`)})
	if err != nil {
		t.Fatal(err)
	}
	cq, err := c.CancelQuery(ctx, &cloudtrail.CancelQueryInput{QueryId: long.QueryId})
	if err != nil || cq.QueryStatus != types.QueryStatusCancelled {
		t.Fatalf("cancel: %v %+v", err, cq)
	}
	_, err = c.CancelQuery(ctx, &cloudtrail.CancelQueryInput{QueryId: long.QueryId})
	var inactive *types.InactiveQueryException
	if !errors.As(err, &inactive) {
		t.Errorf("second cancel: %v", err)
	}
	// ListQueries: all three, newest first; filtered by status.
	lq, err := c.ListQueries(ctx, &cloudtrail.ListQueriesInput{EventDataStore: aws.String("0a1b2c3d-1111-4222-8333-444455556666")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lq.Queries) != 3 {
		t.Errorf("ListQueries: %d queries", len(lq.Queries))
	}
	lq, err = c.ListQueries(ctx, &cloudtrail.ListQueriesInput{EventDataStore: aws.String("x"), QueryStatus: types.QueryStatusCancelled})
	if err != nil || len(lq.Queries) != 1 || *lq.Queries[0].QueryId != *long.QueryId {
		t.Errorf("ListQueries CANCELLED: %v %+v", err, lq)
	}
}

// TestQueryCLI runs `opentrail query` against a real server.
func TestQueryCLI(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := seedServer(t)

	out, errOut, code := runCLI(t, "query", "--endpoint", s.url, "--format", "csv",
		"SELECT eventName, count(*) AS n FROM cloudtrail_events WHERE eventName IN ('ConsoleLogin', 'CreateUser') GROUP BY 1 ORDER BY 1")
	if code != 0 || out != "eventName,n\nConsoleLogin,300\nCreateUser,300\n" {
		t.Errorf("csv: code %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "query", "--endpoint", s.url, "--format", "json", "--saved", "access-key-activity",
		"--param", "access_key_id=AKIAEXAMPLEKEY000002")
	var rows []map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 300 || rows[0]["eventName"] != "CreateUser" {
		t.Errorf("saved json: code %d, %d rows\n%.300s\n%s", code, len(rows), out, errOut)
	}
	out, _, code = runCLI(t, "query", "--endpoint", s.url, "SELECT eventName FROM cloudtrail_events WHERE eventName = 'ConsoleLogin' LIMIT 2")
	if code != 0 || !strings.HasPrefix(out, "eventName\nConsoleLogin\nConsoleLogin\n") {
		t.Errorf("table: code %d\n%s", code, out)
	}
	_, errOut, code = runCLI(t, "query", "--endpoint", s.url, "DROP TABLE events")
	if code == 0 || !strings.Contains(errOut, "InvalidQueryStatementException") {
		t.Errorf("DROP: code %d\n%s", code, errOut)
	}
}

// TestLakeQueryAWSCLI runs a CloudTrail Lake query with the Debian AWS
// CLI: start-query, describe-query, get-query-results, list-queries, and
// the exit code and error type of a refused statement and an unknown id.
func TestLakeQueryAWSCLI(t *testing.T) {
	s := seedServer(t)
	cli := func(args ...string) string {
		t.Helper()
		out, errs, code := s.awsCLI(t, "test", "us-east-1", append([]string{"cloudtrail"}, args...)...)
		if code != 0 {
			t.Fatalf("aws cloudtrail %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	// As a Lake script does: find the event data store, then query it by id.
	var stores struct {
		EventDataStores []struct{ EventDataStoreArn, Name, Status string }
	}
	if err := json.Unmarshal([]byte(cli("list-event-data-stores")), &stores); err != nil || len(stores.EventDataStores) != 1 {
		t.Fatalf("list-event-data-stores: %v %+v", err, stores)
	}
	edsARN := stores.EventDataStores[0].EventDataStoreArn
	edsID, ok := strings.CutPrefix(edsARN, "arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/")
	if !ok || len(edsID) != 36 || stores.EventDataStores[0].Status != "ENABLED" {
		t.Fatalf("list-event-data-stores: %+v", stores)
	}
	var got struct{ EventDataStoreArn, Name string }
	if err := json.Unmarshal([]byte(cli("get-event-data-store", "--event-data-store", edsARN)), &got); err != nil || got.EventDataStoreArn != edsARN || got.Name != "opentrail" {
		t.Fatalf("get-event-data-store: %v %+v", err, got)
	}
	var started struct{ QueryId string }
	if err := json.Unmarshal([]byte(cli("start-query", "--query-statement",
		`SELECT eventName, count(*) AS n FROM `+edsID+` WHERE eventName = 'ConsoleLogin' GROUP BY eventName`)), &started); err != nil || len(started.QueryId) != 36 {
		t.Fatalf("start-query: %v %+v", err, started)
	}
	var res struct {
		QueryStatus     string
		QueryStatistics struct{ ResultsCount, TotalResultsCount int }
		QueryResultRows [][]map[string]string
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := json.Unmarshal([]byte(cli("get-query-results", "--query-id", started.QueryId)), &res); err != nil {
			t.Fatal(err)
		}
		if res.QueryStatus != "QUEUED" && res.QueryStatus != "RUNNING" || time.Now().After(deadline) {
			break
		}
	}
	if res.QueryStatus != "FINISHED" || res.QueryStatistics.TotalResultsCount != 1 || len(res.QueryResultRows) != 1 ||
		res.QueryResultRows[0][0]["eventName"] != "ConsoleLogin" || res.QueryResultRows[0][1]["n"] != "300" {
		t.Fatalf("get-query-results: %+v", res)
	}
	var desc struct {
		QueryId, QueryString, QueryStatus string
		QueryStatistics                   struct{ EventsScanned, ExecutionTimeInMillis int64 }
	}
	if err := json.Unmarshal([]byte(cli("describe-query", "--query-id", started.QueryId)), &desc); err != nil ||
		desc.QueryId != started.QueryId || desc.QueryStatus != "FINISHED" || !strings.Contains(desc.QueryString, "ConsoleLogin") ||
		desc.QueryStatistics.EventsScanned < 3000 {
		t.Fatalf("describe-query: %v %+v", err, desc)
	}
	if out := cli("list-queries", "--event-data-store", edsARN); !strings.Contains(out, started.QueryId) {
		t.Fatalf("list-queries lacks the query: %s", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"start-query", "--query-statement", "DELETE FROM cloudtrail_events"}, "(InvalidQueryStatementException)"},
		{[]string{"get-query-results", "--query-id", "00000000-0000-4000-8000-000000000000"}, "(QueryIdNotFoundException)"},
		{[]string{"get-event-data-store", "--event-data-store", "00000000-0000-4000-8000-000000000000"}, "(EventDataStoreNotFoundException)"},
		{[]string{"get-event-data-store", "--event-data-store", "arn:aws:cloudtrail:us-east-1:000000000000:trail/x"}, "(EventDataStoreARNInvalidException)"},
	} {
		out, errs, code := s.awsCLI(t, "test", "us-east-1", append([]string{"cloudtrail"}, c.args...)...)
		if code != 254 || !strings.Contains(errs, c.want) {
			t.Errorf("aws cloudtrail %s: exit %d, want 254 and %s\n%s%s", c.args[0], code, c.want, out, errs)
		}
	}
}

// sdkQuery runs statement with aws-sdk-go-v2 (StartQuery, DescribeQuery,
// GetQueryResults with paging) and returns its rows as "v1,v2,…" lines.
func sdkQuery(t *testing.T, c *cloudtrail.Client, statement string) []string {
	t.Helper()
	ctx := context.Background()
	start, err := c.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(statement)})
	if err != nil {
		t.Fatalf("StartQuery %s: %v", statement, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		d, err := c.DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: start.QueryId})
		if err != nil {
			t.Fatal(err)
		}
		if d.QueryStatus == types.QueryStatusFinished {
			break
		}
		if d.QueryStatus != types.QueryStatusQueued && d.QueryStatus != types.QueryStatusRunning || time.Now().After(deadline) {
			t.Fatalf("query %s: %s: %s", statement, d.QueryStatus, aws.ToString(d.ErrorMessage))
		}
	}
	var out []string
	in := cloudtrail.GetQueryResultsInput{QueryId: start.QueryId}
	for {
		r, err := c.GetQueryResults(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range r.QueryResultRows {
			var vals []string
			for _, cell := range row {
				for _, v := range cell {
					vals = append(vals, v)
				}
			}
			out = append(out, strings.Join(vals, ","))
		}
		if r.NextToken == nil {
			return out
		}
		in.NextToken = r.NextToken
	}
}

// TestLakeQueryAccountScope: the organisation's management account (local
// mode's key "test", account 000000000000) sees every account's events
// through aws-sdk-go-v2, opentrail query and the AWS CLI, as docs/query.md
// says; a member account (local mode's 12-digit key 111122223333) sees
// only its own, whatever its SQL names.
func TestLakeQueryAccountScope(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := seedServer(t)
	// The seeded events only (not the self-audit records of the calls).
	const q = `SELECT recipientAccountId, count(*) AS n FROM cloudtrail_events
		WHERE eventName IN ('ConsoleLogin', 'DescribeInstances', 'GetObject', 'CreateUser') GROUP BY 1 ORDER BY 1`
	for _, c := range []struct{ akid, want string }{
		{"test", "000000000000,2700\n111122223333,300"},
		{"111122223333", "111122223333,300"},
	} {
		if got := strings.Join(sdkQuery(t, ctClient(s, c.akid, "us-east-1"), q), "\n"); got != c.want {
			t.Errorf("SDK as %s: rows\n%s\nwant\n%s", c.akid, got, c.want)
		}
		// A member naming the other account still sees nothing of it.
		other := sdkQuery(t, ctClient(s, c.akid, "us-east-1"),
			`SELECT count(*) FROM cloudtrail_events WHERE recipientAccountId = '000000000000' AND eventName = 'ConsoleLogin'`)
		if want := map[string]string{"test": "300", "111122223333": "0"}[c.akid]; len(other) != 1 || other[0] != want {
			t.Errorf("SDK as %s: ConsoleLogin of 000000000000 = %v, want %s", c.akid, other, want)
		}

		t.Setenv("AWS_ACCESS_KEY_ID", c.akid)
		out, errOut, code := runCLI(t, "query", "--endpoint", s.url, "--format", "csv", q)
		if want := "recipientAccountId,n\n" + c.want + "\n"; code != 0 || out != want {
			t.Errorf("opentrail query as %s: exit %d\n%s%s\nwant\n%s", c.akid, code, out, errOut, want)
		}

		// The AWS CLI: start-query, then get-query-results until done.
		out, errOut, code = s.awsCLI(t, c.akid, "us-east-1", "cloudtrail", "start-query", "--query-statement", q)
		var started struct{ QueryId string }
		if code != 0 || json.Unmarshal([]byte(out), &started) != nil {
			t.Fatalf("aws cloudtrail start-query as %s: exit %d\n%s%s", c.akid, code, out, errOut)
		}
		var res struct {
			QueryStatus     string
			QueryResultRows [][]map[string]string
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			out, errOut, code = s.awsCLI(t, c.akid, "us-east-1", "cloudtrail", "get-query-results", "--query-id", started.QueryId)
			if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
				t.Fatalf("aws cloudtrail get-query-results as %s: exit %d\n%s%s", c.akid, code, out, errOut)
			}
			if res.QueryStatus != "QUEUED" && res.QueryStatus != "RUNNING" || time.Now().After(deadline) {
				break
			}
		}
		var rows []string
		for _, r := range res.QueryResultRows {
			rows = append(rows, r[0]["recipientAccountId"]+","+r[1]["n"])
		}
		if got := strings.Join(rows, "\n"); res.QueryStatus != "FINISHED" || got != c.want {
			t.Errorf("aws cloudtrail get-query-results as %s: %s\n%s\nwant\n%s", c.akid, res.QueryStatus, got, c.want)
		}
	}
}

// TestLakeQueryNumbersAndLists: a record holding numbers beyond float64
// and longer than int64, accepted by POST /v1/events, comes back from
// SELECT * and eventJson with every number as sent, and list literals and
// lambdas run; through aws-sdk-go-v2.
func TestLakeQueryNumbersAndLists(t *testing.T) {
	s := startServer(t, "")
	rec := strings.Replace(string(record(recOpts{id: uuid("numbers", 1), name: "PutNumbers"})), `"requestParameters":{"instancesSet":{}}`,
		`"requestParameters":{"big":1e999999,"huge":123456789012345678901234567890,"neg":-0,"exp":1E+2}`, 1)
	if !strings.Contains(rec, "1e999999") {
		t.Fatal("record template changed")
	}
	if acc, _ := s.postEvents(t, "test", [][]byte{[]byte(rec)}); acc != 1 {
		t.Fatalf("accepted %d", acc)
	}
	c := ctClient(s, "test", "us-east-1")
	const want = `"requestParameters":{"big":1e999999,"huge":123456789012345678901234567890,"neg":-0,"exp":1E+2}`
	if rows := sdkQuery(t, c, `SELECT eventJson FROM cloudtrail_events WHERE eventName = 'PutNumbers'`); len(rows) != 1 || !strings.Contains(rows[0], want) {
		t.Errorf("eventJson: %v", rows)
	}
	if rows := sdkQuery(t, c, `SELECT * FROM cloudtrail_events WHERE eventName = 'PutNumbers'`); len(rows) != 1 || !strings.Contains(rows[0], want) {
		t.Errorf("SELECT *: %v", rows)
	}
	if rows := sdkQuery(t, c, `SELECT requestParameters['huge'], [1, 2, 3], list_transform([1, 2], x -> x + 1) FROM cloudtrail_events WHERE eventName IN ('PutNumbers')`); len(rows) != 1 ||
		rows[0] != "123456789012345678901234567890,[1,2,3],[2,3]" {
		t.Errorf("lists: %v", rows)
	}
}
