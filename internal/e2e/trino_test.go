package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLakeTrinoFunctionsAWSCLI: a query written in Lake's Trino SQL
// (element_at, cardinality, regexp_like, date_diff, date_add, now) runs
// unchanged through the AWS CLI, and a Trino pattern opentrail does not
// support fails the query with the reason.
func TestLakeTrinoFunctionsAWSCLI(t *testing.T) {
	s := seedServer(t)
	run := func(statement string) (status, reason string, rows [][]map[string]string) {
		t.Helper()
		out, errs, code := s.awsCLI(t, "test", "us-east-1", "cloudtrail", "start-query", "--query-statement", statement)
		var started struct{ QueryId string }
		if code != 0 || json.Unmarshal([]byte(out), &started) != nil {
			t.Fatalf("start-query: exit %d\n%s%s", code, out, errs)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			out, errs, code := s.awsCLI(t, "test", "us-east-1", "cloudtrail", "get-query-results", "--query-id", started.QueryId)
			var res struct {
				QueryStatus     string
				ErrorMessage    string
				QueryResultRows [][]map[string]string
			}
			if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
				t.Fatalf("get-query-results: exit %d\n%s%s", code, out, errs)
			}
			if res.QueryStatus != "QUEUED" && res.QueryStatus != "RUNNING" || time.Now().After(deadline) {
				return res.QueryStatus, res.ErrorMessage, res.QueryResultRows
			}
		}
	}
	status, reason, rows := run(`SELECT element_at(resources, 1).ARN AS arn, cardinality(resources) AS n, count(*) AS calls,
		date_diff('second', min(eventTime), max(eventTime)) AS span
		FROM cloudtrail_events
		WHERE regexp_like(eventName, '^Create') AND eventTime > date_add('day', -1, now())
		GROUP BY 1, 2`)
	if status != "FINISHED" || len(rows) != 1 || rows[0][0]["arn"] != "arn:aws:iam::000000000000:user/carol" ||
		rows[0][1]["n"] != "1" || rows[0][2]["calls"] != "300" || rows[0][3]["span"] != "2990" {
		t.Fatalf("query: %s %s %+v", status, reason, rows)
	}
	status, reason, _ = run(`SELECT date_format(eventTime, '%D') FROM cloudtrail_events`)
	if status != "FAILED" || !strings.Contains(reason, "%D is not supported") {
		t.Fatalf("unsupported specifier: %s %q", status, reason)
	}
}
