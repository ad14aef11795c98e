package logsinsights_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/logsinsights"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rec builds a CloudTrail record; extra overrides or adds top-level fields.
func rec(i int, account, name, user string, at time.Duration, extra map[string]any) []byte {
	m := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{"type": "AssumedRole", "principalId": "AROA:" + user,
			"arn": "arn:aws:sts::" + account + ":assumed-role/Admin/" + user, "accountId": account,
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "userName": "Admin"},
				"attributes": map[string]any{"mfaAuthenticated": "false"}}},
		"eventTime":   base.Add(at).Format(time.RFC3339),
		"eventSource": "s3.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
		"sourceIPAddress": "198.51.100.9", "userAgent": "aws-cli/2.9.19",
		"requestParameters": map[string]any{"bucketName": fmt.Sprintf("bucket-%d", i%3), "nested": map[string]any{"size": i}},
		"responseElements":  nil,
		"requestID":         fmt.Sprintf("req-%d", i), "eventID": fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		"readOnly": i%2 == 0, "eventType": "AwsApiCall", "managementEvent": true,
		"recipientAccountId": account, "eventCategory": "Management",
		"resources": []any{map[string]any{"ARN": fmt.Sprintf("arn:aws:s3:::bucket-%d", i%3), "type": "AWS::S3::Bucket"}},
	}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// fixture: 10 events of acctA a minute apart (GetObject ×6 by alice,
// PutObject ×3 by bob, DeleteBucket ×1 by bob with AccessDenied), and 5
// of acctB that acctA's queries must never see.
func fixture(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var raws [][]byte
	for i := 0; i < 6; i++ {
		raws = append(raws, rec(i, acctA, "GetObject", "alice", time.Duration(i)*time.Minute, nil))
	}
	for i := 6; i < 9; i++ {
		raws = append(raws, rec(i, acctA, "PutObject", "bob", time.Duration(i)*time.Minute, nil))
	}
	raws = append(raws, rec(9, acctA, "DeleteBucket", "bob", 9*time.Minute,
		map[string]any{"errorCode": "AccessDenied", "errorMessage": "User bob is not authorized"}))
	for i := 10; i < 15; i++ {
		raws = append(raws, rec(i, acctB, "GetObject", "mallory", time.Duration(i)*time.Minute, nil))
	}
	var recs []*event.Record
	for i, r := range raws {
		e, err := event.Parse(r)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		recs = append(recs, e)
	}
	if _, err := st.Append(ctx, recs, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return st
}

// run compiles q, runs it for acctA and returns the rows as field=value
// lists (absent fields left out) and the matched count.
func run(t *testing.T, st *store.Store, q string, opts logsinsights.Options) ([]string, string) {
	t.Helper()
	c, err := logsinsights.Compile(q, opts)
	if err != nil {
		t.Fatalf("compile %q: %v", q, err)
	}
	res, err := query.Run(context.Background(), st, c.SQL, query.Options{Accounts: []string{acctA}})
	if err != nil {
		t.Fatalf("run %q: %v\nSQL: %s", q, err, c.SQL)
	}
	var rows []string
	matched := ""
	for _, r := range res.Rows {
		var parts []string
		for i, f := range c.Fields {
			if f == "@ptr" || r[i] == "" {
				continue
			}
			parts = append(parts, f+"="+r[i])
		}
		matched = r[len(r)-1]
		rows = append(rows, strings.Join(parts, " "))
	}
	return rows, matched
}

func TestCompileQueries(t *testing.T) {
	st := fixture(t)
	cases := []struct {
		q       string
		want    []string
		matched string
	}{
		{`stats count(*) by eventName`, []string{"eventName=DeleteBucket count(*)=1", "eventName=GetObject count(*)=6", "eventName=PutObject count(*)=3"}, "10"},
		{`filter eventName = "PutObject" | fields eventName, userIdentity.arn | sort @timestamp asc | limit 2`,
			[]string{"eventName=PutObject userIdentity.arn=arn:aws:sts::111111111111:assumed-role/Admin/bob",
				"eventName=PutObject userIdentity.arn=arn:aws:sts::111111111111:assumed-role/Admin/bob"}, "3"},
		{`fields @timestamp, eventName | filter errorCode like "Denied"`, []string{"@timestamp=2026-03-01 12:09:00.000 eventName=DeleteBucket"}, "1"},
		{`filter errorMessage like /(?i)NOT AUTHORIZED/ | display eventID`, []string{"eventID=00000000-0000-4000-8000-000000000009"}, "1"},
		{`filter eventName =~ /^Put/ and requestParameters.bucketName in ["bucket-0", "bucket-1"] | stats count() as n`, []string{"n=2"}, "2"},
		{`filter requestParameters.nested.size >= 7 | stats sum(requestParameters.nested.size) as total, avg(requestParameters.nested.size) as mean, min(requestParameters.nested.size) as lo, max(requestParameters.nested.size), pct(requestParameters.nested.size, 50)`,
			[]string{"total=24 mean=8 lo=7 max(requestParameters.nested.size)=9 pct(requestParameters.nested.size, 50)=8"}, "3"},
		{`filter not ispresent(errorCode) and userIdentity.sessionContext.sessionIssuer.userName = "Admin" | stats count_distinct(userIdentity.arn) as users`, []string{"users=2"}, "9"},
		{`filter readOnly = 1 | stats count(*) as n`, []string{"n=5"}, "5"},
		{`filter readOnly = "true" and eventName != "GetObject" | stats count(*) as n`, []string{"n=2"}, "2"},
		{`stats count(*) as n by bin(5m)`, []string{"bin(5m)=2026-03-01 12:00:00.000 n=5", "bin(5m)=2026-03-01 12:05:00.000 n=5"}, "10"},
		{`stats count(*) as n by bin(5m) as t | sort t desc`, []string{"t=2026-03-01 12:05:00.000 n=5", "t=2026-03-01 12:00:00.000 n=5"}, "10"},
		{`filter eventName = "GetObject" | stats count(*) as n by bin(2m) as t | sort t asc`, []string{"t=2026-03-01 12:00:00.000 n=2", "t=2026-03-01 12:02:00.000 n=2", "t=2026-03-01 12:04:00.000 n=2"}, "6"},
		{`fields strlen(eventName) as len, toupper(eventName) as up, concat(eventName, "-", awsRegion) as c | filter eventName = "PutObject" | limit 1`,
			[]string{"len=9 up=PUTOBJECT c=PutObject-us-east-1"}, "3"},
		{`parse @message '"userAgent":"*"' as agent | stats count(*) by agent`, []string{"agent=aws-cli/2.9.19 count(*)=10"}, "10"},
		{`parse userIdentity.arn /assumed-role\/(?<role>[^\/]+)\/(?<who>.+)$/ | filter who = "alice" | stats count(*) by role, who`, []string{"role=Admin who=alice count(*)=6"}, "6"},
		{`fields eventName | dedup eventName | sort eventName`, []string{"eventName=DeleteBucket", "eventName=GetObject", "eventName=PutObject"}, "10"},
		{`filter eventName = "DeleteBucket" | fields @logStream, @log, resources.0.ARN, eventTime`,
			[]string{"@logStream=111111111111_CloudTrail_us-east-1 @log=111111111111:ct-logs resources.0.ARN=arn:aws:s3:::bucket-0 eventTime=2026-03-01T12:09:00Z"}, "1"},
		{"# the latest two\nfilter eventName = 'GetObject' # alice only\n| limit 2", []string{"@timestamp=2026-03-01 12:05:00.000", "@timestamp=2026-03-01 12:04:00.000"}, "6"},
		{`stats earliest(eventName) as first, latest(eventName) as last, count(*) * 2 + 1 as odd`, []string{"first=GetObject last=DeleteBucket odd=21"}, "10"},
		{`filter eventName = "NoSuchThing" | stats count(*) as n`, []string{"n=0"}, "0"},
		{`filter @timestamp >= "2026-03-01 12:08:00" | stats count(*) as n`, []string{"n=2"}, "2"},
		{`filter substr(eventName, 0, 3) = "Get" and isempty(errorCode) | stats count(*) as n by strcontains(eventName, "Object")`, []string{"strcontains(eventName, \"Object\")=1 n=6"}, "6"},
		{`filter eventName not in ["GetObject", "PutObject"] and userIdentity.arn not like /alice/ | display eventName, errorCode`, []string{"eventName=DeleteBucket errorCode=AccessDenied"}, "1"},
		{`stats count(*) as n by eventName | filter n > 2 | sort n asc | display eventName`, []string{"eventName=PutObject", "eventName=GetObject"}, "10"},
	}
	for _, c := range cases {
		got, matched := run(t, st, c.q, logsinsights.Options{Log: acctA + ":ct-logs"})
		if strings.HasPrefix(c.q, "# the latest") {
			// Default fields: only compare @timestamp.
			for i := range got {
				got[i] = strings.SplitN(got[i], " @message=", 2)[0]
			}
		}
		if !reflect.DeepEqual(got, c.want) || matched != c.matched {
			t.Errorf("%s\n got %q (matched %s)\nwant %q (matched %s)", c.q, got, matched, c.want, c.matched)
		}
	}
}

func TestDefaultFieldsAndOrder(t *testing.T) {
	st := fixture(t)
	c, err := logsinsights.Compile(`filter eventName = "PutObject"`, logsinsights.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"@timestamp", "@message", "@ptr"}; !reflect.DeepEqual(c.Fields, want) {
		t.Fatalf("fields %q, want %q", c.Fields, want)
	}
	res, err := query.Run(context.Background(), st, c.SQL, query.Options{Accounts: []string{acctA}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 3 || res.Rows[0][0] != "2026-03-01 12:08:00.000" || res.Rows[2][0] != "2026-03-01 12:06:00.000" {
		t.Fatalf("rows %q: want the three PutObject events, newest first", res.Rows)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(res.Rows[0][1]), &m); err != nil || m["eventID"] != "00000000-0000-4000-8000-000000000008" {
		t.Fatalf("@message %q is not the record (%v)", res.Rows[0][1], err)
	}
}

func TestTimeRangeAndLimit(t *testing.T) {
	st := fixture(t)
	opts := logsinsights.Options{Start: base.Add(2 * time.Minute), End: base.Add(4 * time.Minute), Limit: 2}
	got, matched := run(t, st, `fields eventName`, opts)
	if len(got) != 2 || matched != "3" {
		t.Fatalf("got %q matched %s; want 2 rows of the 3 events from 12:02 to 12:04", got, matched)
	}
}

func TestOtherAccountsInvisible(t *testing.T) {
	st := fixture(t)
	got, _ := run(t, st, `filter userIdentity.arn like "mallory" | stats count(*) as n`, logsinsights.Options{})
	if !reflect.DeepEqual(got, []string{"n=0"}) {
		t.Fatalf("acctA sees acctB's events: %q", got)
	}
}

// TestEveryFunctionRuns runs each function and command shape through
// DuckDB: the compiled SQL must bind and run.
func TestEveryFunctionRuns(t *testing.T) {
	st := fixture(t)
	for _, q := range []string{
		`fields datefloor(@timestamp, 1h) as f, dateceil(@timestamp, 1d) as c, fromMillis(toMillis(@timestamp)) as same`,
		`fields greatest(1, strlen(eventName)) as g, least(2, 3) as l, pow(2, 10) as p, log(10) as ln, sqrt(16) as s, abs(-1) as a, ceil(1.2) as c, floor(1.8) as f`,
		`fields replace(eventName, "Get", "Fetch") as r, trim(" x ") as t, ltrim(" x") as lt, rtrim("x ") as rt, substr(eventName, 3) as s`,
		`fields coalesce(errorCode, readOnly, @timestamp) as mixed, coalesce(errorCode, eventName) as same, -strlen(eventName) as neg, 7 % 3 as m`,
		`filter @timestamp > 1700000000000 and 2 ^ 3 = 8 and readOnly in [1] and requestParameters.nested.size in [1, 2, 3]`,
		`filter isblank(errorCode) and strcontains(eventName, "Get") = 1 and not isempty(eventName) and ispresent(@message)`,
		`filter readOnly = true or managementEvent = false or readOnly != "false"`,
		`stats avg(strlen(eventName)) as a, median(requestParameters.nested.size) as m, stddev(requestParameters.nested.size) as sd by bin(1h)`,
		`stats count(*) as n by eventName | stats sum(n) as total, max(n) as most, count(*) as kinds`,
		`stats min(@timestamp) as first, max(@timestamp) as last, earliest(@timestamp) as e, latest(readOnly) as l, percentile(strlen(eventName), 90) as p90`,
		`parse @message '"eventName":"*"' as n | stats count(*) by n | sort n desc | limit 2`,
		`fields eventName as a | sort a desc | dedup a | limit 3 | display a, @ptr`,
		`fields concat(eventName, 1, readOnly, @timestamp) as c | filter c like "Get" or c =~ "Put.bject" | sort c`,
		"fields `eventName`, `userIdentity.sessionContext.attributes.mfaAuthenticated`, tlsDetails.tlsVersion, additionalEventData.x, responseElements.a.b, `odd name`",
		`sort eventName asc, @timestamp desc | head 3`,
		`filter eventName = "GetObject" | dedup requestParameters.bucketName | stats count(*) as n`,
		`filter @logStream like "CloudTrail" and @log = "" | fields @logStream`,
		`stats count(eventName) as n, count_distinct(requestParameters.bucketName) as b, sum(readOnly) as ro`,
	} {
		c, err := logsinsights.Compile(q, logsinsights.Options{})
		if err != nil {
			t.Errorf("compile %s: %v", q, err)
			continue
		}
		if _, err := query.Run(context.Background(), st, c.SQL, query.Options{Accounts: []string{acctA}}); err != nil {
			t.Errorf("run %s: %v\nSQL: %s", q, err, c.SQL)
		}
	}
}
