package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testserver"
)

// t8Tenant is one account of T8 and what it owns. Names (trail, bucket,
// log group, alarm, event ids) are what a prober may use in its requests;
// secrets are values only the tenant's own data holds, which must never
// appear in an answer to another account.
type t8Tenant struct {
	account, region string
	secret          string // in every record's requestParameters, log message, alarm description
	eventIDs        []string
	eventName       string
	user, keyID     string
	resource        string
	trail, bucket   string
	trailARN        string
	objects         []string
	logGroup        string
	alarm           string
	tokens          []string // LookupEvents NextTokens the tenant was given
	consoleUser     string
}

func TestT8CrossTenant(t *testing.T) {
	describe(t, "T8", "Three accounts (local mode: a 12-digit access key is its account) each hold events, a trail delivering to "+
		"its bucket, a log group with events, an alarm and a console user, all carrying a secret marker. Then randomized probes as "+
		"another account go after them by every read path: LookupEvents on every lookup attribute and with the owner's NextToken, "+
		"the native /v1/events and /v1/findings, Lake SQL (including OR, UNION, subqueries, comments and naming the other account), "+
		"Logs Insights by name and ARN, FilterLogEvents and GetLogEvents, the S3 API (list, get, presigned), DescribeTrails and "+
		"GetTrailStatus by ARN, DescribeAlarms, and the console's pages signed in as the prober's console user. A leak is any "+
		"answer holding another account's marker or object. Then the policy sweep: on a server whose principals hold the "+
		"read-only policy, every mutating operation of every router (listed from the code) is called and must be refused in its "+
		"protocol's shape and recorded with errorCode AccessDenied, and no read-only operation may be refused.")
	t.Run("reads", t8Reads)
	t.Run("denials", t8Denials)
}

func t8Reads(t *testing.T) {
	s := startServer(t, "", "--delivery-interval", "1s")
	// A failure shows where the server's log first went wrong as well as
	// how it ends: a store that broke early fails every request after.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the server's first errors:\n%s\nthe server's log ends:\n%s", firstErrors(s.Stderr(), 5), tailOf(s.Stderr(), 4000))
		}
	})
	rng := mrand.New(mrand.NewPCG(8, uint64(time.Now().UnixNano())))
	tenants := []*t8Tenant{}
	for i, acct := range []string{"111111111111", "222222222222", "333333333333"} {
		sec := fmt.Sprintf("sec%x", rng.Uint64())
		tn := &t8Tenant{account: acct, region: []string{"us-east-1", "eu-west-1", "us-east-1"}[i], secret: sec,
			eventName: "T8Op" + sec[3:11], user: "user-" + sec[3:9], keyID: fmt.Sprintf("AKIAT8%014d", i),
			resource: "arn:aws:s3:::t8-res-" + sec[3:9], trail: "t8-trail-" + sec[3:9], bucket: "t8-logs-" + acct,
			logGroup: "/t8/" + sec[3:9], alarm: "t8-alarm-" + sec[3:9], consoleUser: "t8user" + acct[:1]}
		tn.trailARN = fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/%s", tn.region, acct, tn.trail)
		tenants = append(tenants, tn)
		t8Setup(t, s, tn, rng)
	}
	// Wait for delivery, then list each tenant's objects.
	time.Sleep(3 * time.Second)
	for _, tn := range tenants {
		out := awsCall(t, s, tn.account, "us-east-1", "s3", "GET", "/"+tn.bucket+"?list-type=2", nil)
		for _, k := range strings.Split(string(out), "<Key>")[1:] {
			tn.objects = append(tn.objects, k[:strings.Index(k, "</Key>")])
		}
		if len(tn.objects) == 0 {
			t.Fatalf("%s: nothing delivered to %s", tn.account, tn.bucket)
		}
		// Own data is visible to its owner (the probes below can fail).
		if out := awsCall(t, s, tn.account, tn.region, "cloudtrail", "LookupEvents", "", map[string]any{
			"LookupAttributes": []map[string]string{{"AttributeKey": "EventName", "AttributeValue": tn.eventName}}}); !strings.Contains(string(out), tn.secret) {
			t.Fatalf("%s cannot see its own events: %s", tn.account, out)
		}
	}
	consoles := map[string]*http.Client{}
	for _, tn := range tenants {
		consoles[tn.account] = t8ConsoleSignIn(t, s, tn)
	}

	probes, leaks := 0, 0
	perPath := map[string]int{}
	n := pick(300, 300000)
	for range n {
		b := tenants[rng.IntN(len(tenants))]
		v := tenants[rng.IntN(len(tenants))]
		for v == b {
			v = tenants[rng.IntN(len(tenants))]
		}
		path, body := t8Probe(t, s, rng, b, v, consoles[b.account])
		probes++
		perPath[path]++
		if leak := t8Leak(body, v); leak != "" {
			leaks++
			if leaks < 10 {
				t.Errorf("LEAK: %s as %s found %s's %s:\n%s", path, b.account, v.account, leak, clip300(body))
			}
		}
	}
	if len(perPath) != len(t8Paths) && !*long {
		// Random choice may skip a path in a short run; every path is
		// also probed once, in order.
		for i := range t8Paths {
			path, body := t8ProbeN(t, s, rng, tenants[0], tenants[1], consoles[tenants[0].account], i)
			probes++
			perPath[path]++
			if leak := t8Leak(body, tenants[1]); leak != "" {
				leaks++
				t.Errorf("LEAK: %s as %s found %s's %s:\n%s", path, tenants[0].account, tenants[1].account, leak, clip300(body))
			}
		}
	}
	for p, c := range perPath {
		t.Logf("%5d probes: %s", c, p)
	}
	// The control: each path, taken by the owner, finds the owner's
	// data, so the leak check can see a leak there.
	seen := 0
	for i := range t8Paths {
		o := tenants[i%len(tenants)]
		if _, out := t8ProbeN(t, s, rng, o, o, consoles[o.account], i); t8Leak(out, o) != "" {
			seen++
		} else {
			t.Logf("control: %s as the owner finds nothing of its own: %s", t8Paths[i], clip300(out))
		}
	}
	figure(t, "T8", "read paths where the owner finds its own data (control)", float64(seen), "", fmt.Sprintf("≥ %d", len(t8Paths)-2))
	if seen < len(t8Paths)-2 {
		t.Errorf("only %d of %d paths find the owner's own data: the leak check is blind (the server's log follows)", seen, len(t8Paths))
	}
	figure(t, "T8", "read paths probed", float64(len(perPath)), "", fmt.Sprintf("= %d", len(t8Paths)))
	figure(t, "T8", "probes", float64(probes), "", "informational")
	figure(t, "T8", "leaks", float64(leaks), "", "= 0")
	if len(perPath) != len(t8Paths) {
		t.Errorf("%d of %d read paths probed", len(perPath), len(t8Paths))
	}

}

// t8Setup makes a tenant's data.
func t8Setup(t *testing.T, s *testserver.Server, tn *t8Tenant, rng *mrand.Rand) {
	acct := tn.account
	awsCall(t, s, acct, "us-east-1", "s3", "PUT", "/"+tn.bucket, nil)
	// The log group first: the trail sends its events there too (Logs
	// Insights queries them).
	awsCall(t, s, acct, tn.region, "logs", "CreateLogGroup", "", map[string]any{"logGroupName": tn.logGroup})
	awsCall(t, s, acct, tn.region, "cloudtrail", "CreateTrail", "", map[string]any{"Name": tn.trail, "S3BucketName": tn.bucket,
		"CloudWatchLogsLogGroupArn": fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", tn.region, acct, tn.logGroup),
		"CloudWatchLogsRoleArn":     "arn:aws:iam::" + acct + ":role/CloudTrail_CloudWatchLogs"})
	awsCall(t, s, acct, tn.region, "cloudtrail", "StartLogging", "", map[string]any{"Name": tn.trail})
	var recs [][]byte
	for i := range 30 {
		id := testserver.UUID("t8"+tn.secret, i)
		tn.eventIDs = append(tn.eventIDs, id)
		rec := string(testserver.Record(testserver.Rec{ID: id, Account: acct, Region: tn.region, Name: tn.eventName, User: tn.user, Key: tn.keyID,
			Source: "t8" + tn.secret[3:7] + ".amazonaws.com", Resources: fmt.Sprintf(`[{"type":"AWS::S3::Bucket","ARN":%q}]`, tn.resource),
			Time: time.Now().UTC().Add(-time.Duration(i) * time.Minute)}))
		rec = strings.Replace(rec, `"requestParameters":{"instancesSet":{}}`, fmt.Sprintf(`"requestParameters":{"marker":%q}`, tn.secret), 1)
		recs = append(recs, []byte(rec))
	}
	if code, r, err := s.PostEvents(context.Background(), t, acct, recs); err != nil || code != 200 || r.Accepted != len(recs) {
		t.Fatalf("POST /v1/events as %s: %d %+v %v", acct, code, r, err)
	}
	awsCall(t, s, acct, tn.region, "logs", "CreateLogStream", "", map[string]any{"logGroupName": tn.logGroup, "logStreamName": "s"})
	awsCall(t, s, acct, tn.region, "logs", "PutLogEvents", "", map[string]any{"logGroupName": tn.logGroup, "logStreamName": "s",
		"logEvents": []map[string]any{{"timestamp": time.Now().UnixMilli(), "message": "log line " + tn.secret}}})
	awsCall(t, s, acct, tn.region, "monitoring", "", "", url.Values{"Action": {"PutMetricAlarm"}, "Version": {"2010-08-01"},
		"AlarmName": {tn.alarm}, "AlarmDescription": {"alarm " + tn.secret}, "MetricName": {"T8"}, "Namespace": {"T8"},
		"Statistic": {"Sum"}, "Period": {"60"}, "EvaluationPeriods": {"1"}, "Threshold": {"1"}, "ComparisonOperator": {"GreaterThanThreshold"}}.Encode())
	// NextTokens the owner was given.
	var page struct{ NextToken string }
	out := awsCall(t, s, acct, tn.region, "cloudtrail", "LookupEvents", "", map[string]any{"MaxResults": 2,
		"LookupAttributes": []map[string]string{{"AttributeKey": "EventName", "AttributeValue": tn.eventName}}})
	json.Unmarshal(out, &page)
	if page.NextToken == "" {
		t.Fatalf("%s: no NextToken: %s", acct, out)
	}
	tn.tokens = append(tn.tokens, page.NextToken)
	// A console user of the account.
	req := testserver.Sign(t, testserver.Creds("test"), "opentrail", "us-east-1", "POST", s.URL+"/v1/console/users", nil,
		[]byte(fmt.Sprintf(`{"Name":%q,"Account":%q,"Password":"t8-password-%s"}`, tn.consoleUser, acct, acct)))
	if code, out, _ := testserver.Do(t, req); code != 200 {
		t.Fatalf("create console user: %d %s", code, out)
	}
	_ = rng
}

// t8ConsoleSignIn signs in as the tenant's console user through the form
// and returns a client holding the session cookie.
func t8ConsoleSignIn(t *testing.T, s *testserver.Server, tn *t8Tenant) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"username": {tn.consoleUser}, "password": {"t8-password-" + tn.account}, "next": {"/"}}
	req, _ := http.NewRequest("POST", s.URL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.URL)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(s.URL)
	if resp.StatusCode != http.StatusSeeOther || len(jar.Cookies(u)) == 0 {
		t.Fatalf("console sign-in as %s: %d, cookies %v", tn.consoleUser, resp.StatusCode, jar.Cookies(u))
	}
	return c
}

// t8Leak says what of v's a body holds, or "".
func t8Leak(body []byte, v *t8Tenant) string {
	b := string(body)
	switch {
	case strings.Contains(b, v.secret):
		return "secret marker"
	case strings.Contains(b, v.eventIDs[0][:8]) && strings.Contains(b, `"eventID"`) && strings.Contains(b, `"recipientAccountId":"`+v.account):
		return "event"
	case strings.Contains(b, `"TrailARN":"`+v.trailARN):
		return "trail"
	case strings.Contains(b, `"IsLogging":`) && strings.Contains(b, `"LatestDeliveryTime"`):
		return "trail status"
	case strings.Contains(b, "<Key>"):
		return "object listing"
	}
	return ""
}

// t8Paths names the read paths, in the order t8ProbeN takes them.
var t8Paths = []string{
	"LookupEvents by attribute", "LookupEvents with the owner's NextToken", "native GET /v1/events", "native GET /v1/findings",
	"Lake SQL", "Logs Insights StartQuery", "FilterLogEvents / GetLogEvents", "S3 ListObjectsV2", "S3 GetObject",
	"S3 presigned GetObject", "DescribeTrails / GetTrailStatus", "DescribeAlarms", "console pages",
}

func t8Probe(t *testing.T, s *testserver.Server, rng *mrand.Rand, b, v *t8Tenant, console *http.Client) (string, []byte) {
	return t8ProbeN(t, s, rng, b, v, console, rng.IntN(len(t8Paths)))
}

// t8ProbeN makes probe i as b after v's data and returns the path's name
// and everything b got back.
func t8ProbeN(t *testing.T, s *testserver.Server, rng *mrand.Rand, b, v *t8Tenant, console *http.Client, i int) (string, []byte) {
	region := []string{b.region, v.region}[rng.IntN(2)]
	as := testserver.Creds(b.account)
	call := func(service, op, path string, in any) []byte {
		_, out := awsTry(t, s, as, region, service, op, path, in)
		return out
	}
	var out []byte
	switch i {
	case 0:
		attrs := [][2]string{{"EventId", v.eventIDs[rng.IntN(len(v.eventIDs))]}, {"EventName", v.eventName}, {"Username", v.user},
			{"AccessKeyId", v.keyID}, {"ResourceName", v.resource}, {"ResourceType", "AWS::S3::Bucket"},
			{"EventSource", "t8" + v.secret[3:7] + ".amazonaws.com"}, {"ReadOnly", "false"}}
		a := attrs[rng.IntN(len(attrs))]
		out = call("cloudtrail", "LookupEvents", "", map[string]any{"LookupAttributes": []map[string]string{{"AttributeKey": a[0], "AttributeValue": a[1]}}})
	case 1:
		out = call("cloudtrail", "LookupEvents", "", map[string]any{"NextToken": v.tokens[0], "MaxResults": 50,
			"LookupAttributes": []map[string]string{{"AttributeKey": "EventName", "AttributeValue": v.eventName}}})
	case 2:
		qs := []string{"EventName=" + v.eventName, "account=" + v.account, "recipientAccountId=" + v.account, "EventId=" + v.eventIDs[0],
			"Username=" + v.user, "category=all&region=*", "category=all&region=*&account=" + v.account}
		req := testserver.Sign(t, as, "opentrail", "us-east-1", "GET", s.URL+"/v1/events?category=all&region=*&"+qs[rng.IntN(len(qs))], nil, nil)
		_, out, _ = testserver.Do(t, req)
	case 3:
		req := testserver.Sign(t, as, "opentrail", "us-east-1", "GET", s.URL+"/v1/findings?account="+v.account, nil, nil)
		_, out, _ = testserver.Do(t, req)
		if strings.Contains(string(out), `"Account":"`+v.account) || strings.Contains(string(out), `"account":"`+v.account) {
			out = append(out, []byte(v.secret)...) // a finding of v's: count it as a leak
		}
	case 4:
		out = t8Lake(t, s, as, region, v, rng)
	case 5:
		ids := []string{v.logGroup, fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", v.region, v.account, v.logGroup)}
		in := map[string]any{"queryString": "fields @message | filter eventName = '" + v.eventName + "' | limit 100", "startTime": time.Now().Add(-time.Hour).Unix(), "endTime": time.Now().Add(time.Minute).Unix()}
		if rng.IntN(2) == 0 {
			in["logGroupName"] = v.logGroup
		} else {
			in["logGroupIdentifiers"] = []string{ids[rng.IntN(2)]}
		}
		code, start := awsTry(t, s, as, region, "logs", "StartQuery", "", in)
		out = start
		if code == 200 {
			var q struct {
				QueryID string `json:"queryId"`
			}
			json.Unmarshal(start, &q)
			for range 50 {
				out = call("logs", "GetQueryResults", "", map[string]any{"queryId": q.QueryID})
				if !strings.Contains(string(out), `"Running"`) && !strings.Contains(string(out), `"Scheduled"`) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	case 6:
		if rng.IntN(2) == 0 {
			out = call("logs", "FilterLogEvents", "", map[string]any{"logGroupName": v.logGroup})
		} else {
			out = call("logs", "GetLogEvents", "", map[string]any{"logGroupName": v.logGroup, "logStreamName": "s"})
		}
		out = append(out, call("logs", "DescribeLogGroups", "", map[string]any{"logGroupNamePrefix": v.logGroup})...)
		if strings.Contains(string(out), `"logGroupName":"`+v.logGroup) {
			out = append(out, []byte(v.secret)...) // another account's log group listed
		}
	case 7:
		out = call("s3", "GET", "/"+v.bucket+"?list-type=2", nil)
	case 8:
		out = call("s3", "GET", "/"+v.bucket+"/"+v.objects[rng.IntN(len(v.objects))], nil)
		if len(out) > 2 && out[0] == 0x1f && out[1] == 0x8b {
			out = append(out, []byte(v.secret)...) // a gzip log file came back
		}
	case 9:
		preq := presignS3(t, as, "GET", s.URL+"/"+v.bucket+"/"+v.objects[rng.IntN(len(v.objects))]+"?X-Amz-Expires=300", region, time.Now(), nil)
		_, out, _ = testserver.Do(t, preq)
		if len(out) > 2 && out[0] == 0x1f && out[1] == 0x8b {
			out = append(out, []byte(v.secret)...)
		}
	case 10:
		out = call("cloudtrail", "DescribeTrails", "", map[string]any{"trailNameList": []string{v.trailARN}})
		out = append(out, call("cloudtrail", "GetTrailStatus", "", map[string]any{"Name": v.trailARN})...)
	case 11:
		out = call("monitoring", "", "", url.Values{"Action": {"DescribeAlarms"}, "Version": {"2010-08-01"}, "AlarmNames.member.1": {v.alarm}}.Encode())
		if strings.Contains(string(out), "<AlarmName>"+v.alarm) {
			out = append(out, []byte(v.secret)...)
		}
	case 12:
		pages := []string{"/events?EventName=" + v.eventName, "/events/" + v.account + "/" + v.eventIDs[0], "/events.json?account=" + v.account,
			"/trails/" + v.account + "/" + v.region + "/" + v.trail, "/alarms/" + v.account + "/" + v.region + "/" + v.alarm, "/findings?account=" + v.account,
			"/events?account=" + v.account + "&category=all"}
		resp, err := console.Get(s.URL + pages[rng.IntN(len(pages))])
		if err != nil {
			t.Fatal(err)
		}
		buf := new(strings.Builder)
		ioCopy(buf, resp)
		out = []byte(buf.String())
		if resp.StatusCode == 200 && (strings.Contains(buf.String(), v.eventIDs[0]) || strings.Contains(buf.String(), v.trail) && strings.Contains(buf.String(), "Logging")) {
			out = append(out, []byte(v.secret)...)
		}
	}
	return t8Paths[i], out
}

// t8Lake runs one Lake SQL query as as, trying to reach v's events.
func t8Lake(t *testing.T, s *testserver.Server, as awsCreds, region string, v *t8Tenant, rng *mrand.Rand) []byte {
	var stores struct {
		EventDataStores []struct{ EventDataStoreArn string }
	}
	_, out := awsTry(t, s, as, region, "cloudtrail", "ListEventDataStores", "", map[string]any{})
	json.Unmarshal(out, &stores)
	if len(stores.EventDataStores) == 0 {
		return out
	}
	arn := stores.EventDataStores[0].EventDataStoreArn
	id := arn[strings.LastIndex(arn, "/")+1:]
	stmts := []string{
		"SELECT * FROM %[1]s WHERE eventName = '%[2]s'",
		"SELECT * FROM %[1]s WHERE recipientAccountId = '%[3]s'",
		"SELECT * FROM %[1]s WHERE eventName = 'x' OR 1=1",
		"SELECT * FROM %[1]s WHERE eventName = 'x' OR recipientAccountId = '%[3]s'",
		"SELECT eventID, requestParameters FROM %[1]s UNION ALL SELECT eventID, requestParameters FROM %[1]s WHERE recipientAccountId = '%[3]s'",
		"SELECT * FROM (SELECT * FROM %[1]s) WHERE eventName = '%[2]s'",
		"SELECT * FROM %[1]s WHERE eventID IN (SELECT eventID FROM %[1]s WHERE eventName = '%[2]s')",
		"SELECT * FROM %[1]s -- WHERE recipientAccountId = 'mine'\n WHERE eventName = '%[2]s'",
		"SELECT * FROM %[1]s /* tenant */ WHERE eventName = '%[2]s'",
		"SELECT * FROM %[1]s WHERE element_at(requestParameters, 'marker') IS NOT NULL",
	}
	q := fmt.Sprintf(stmts[rng.IntN(len(stmts))], id, v.eventName, v.account)
	code, start := awsTry(t, s, as, region, "cloudtrail", "StartQuery", "", map[string]any{"QueryStatement": q})
	if code != 200 {
		return start
	}
	var st struct{ QueryId string }
	json.Unmarshal(start, &st)
	for range 100 {
		_, out = awsTry(t, s, as, region, "cloudtrail", "GetQueryResults", "", map[string]any{"QueryId": st.QueryId})
		if !strings.Contains(string(out), `"QUEUED"`) && !strings.Contains(string(out), `"RUNNING"`) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
	return out
}

// firstErrors returns the first n lines of a server log at level ERROR.
func firstErrors(log string, n int) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=ERROR") {
			if out = append(out, l); len(out) == n {
				break
			}
		}
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, "\n")
}

func clip300(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
