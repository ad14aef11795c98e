package console

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/topics"
)

// fakeCloudWatch answers the CloudWatch operations the alarm pages call
// with canned JSON per region, and records each call's caller.
type fakeCloudWatch struct {
	mu      sync.Mutex
	alarms  map[string][]map[string]any // region → MetricAlarms
	history []map[string]any
	data    map[string]any // GetMetricData's answer
	calls   []string       // "op region account"
	inputs  []string
}

func (f *fakeCloudWatch) Call(ctx context.Context, service, op string, in, out any) error {
	c := awsapi.CallerFrom(ctx)
	b, _ := json.Marshal(in)
	f.mu.Lock()
	f.calls = append(f.calls, op+" "+c.Region+" "+c.Principal.AccountID)
	f.inputs = append(f.inputs, string(b))
	f.mu.Unlock()
	var req struct{ AlarmNames []string }
	json.Unmarshal(b, &req)
	var answer any
	switch op {
	case "DescribeAlarms":
		var as []map[string]any
		for _, a := range f.alarms[c.Region] {
			if len(req.AlarmNames) == 0 || a["AlarmName"] == req.AlarmNames[0] {
				as = append(as, a)
			}
		}
		answer = map[string]any{"MetricAlarms": as}
	case "DescribeAlarmHistory":
		answer = map[string]any{"AlarmHistoryItems": f.history}
	case "GetMetricData":
		answer = f.data
	default:
		return &awsapi.Error{Code: "InvalidAction", Status: 400, Message: op}
	}
	raw, _ := json.Marshal(answer)
	return json.Unmarshal(raw, out)
}

type fakeRegions []string

func (r fakeRegions) Regions(account string) []string { return r }

type fakeDeliveries []topics.Attempt

func (d fakeDeliveries) Attempts(ctx context.Context, account, topic string, since time.Time) ([]topics.Attempt, error) {
	var out []topics.Attempt
	for _, a := range d {
		if a.TopicARN == topic && !a.Time.Before(since) {
			out = append(out, a)
		}
	}
	return out, nil
}

var alarmNow = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

func epoch(t time.Time) float64 { return float64(t.Unix()) }

func testCloudWatch() *fakeCloudWatch {
	return &fakeCloudWatch{alarms: map[string][]map[string]any{
		"us-east-1": {
			{"AlarmName": "quiet", "AlarmArn": "arn:aws:cloudwatch:us-east-1:222222222222:alarm:quiet", "StateValue": "OK",
				"MetricName": "Nothing", "Namespace": "Team", "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1,
				"Threshold": 1, "ComparisonOperator": "GreaterThanThreshold", "StateUpdatedTimestamp": epoch(alarmNow.Add(-time.Hour))},
		},
		"eu-west-1": {
			{"AlarmName": "failures", "AlarmArn": "arn:aws:cloudwatch:eu-west-1:222222222222:alarm:failures", "StateValue": "ALARM",
				"StateReason": "Threshold Crossed", "MetricName": "Failures", "Namespace": "Security", "Statistic": "Sum", "Period": 60,
				"EvaluationPeriods": 1, "Threshold": 3, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "ActionsEnabled": true,
				"AlarmActions": []string{"arn:aws:sns:eu-west-1:222222222222:alerts"}, "StateUpdatedTimestamp": epoch(alarmNow.Add(-20 * time.Minute))},
		},
	}}
}

func TestAlarmsList(t *testing.T) {
	cw := testCloudWatch()
	c := newTestConsole(t, Config{API: cw, Alarms: AlarmDeps{Regions: fakeRegions{"eu-west-1"}}, Clock: clock.NewFake(alarmNow)})
	bob := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	resp, body := bob.get("/alarms")
	if resp.StatusCode != 200 {
		t.Fatalf("/alarms: %d", resp.StatusCode)
	}
	// Both regions (the default and the one with alarms), ALARM first,
	// each as the service answered it, read as bob's principal.
	i, j := strings.Index(body, ">failures<"), strings.Index(body, ">quiet<")
	if i < 0 || j < 0 || i > j {
		t.Fatalf("alarm list order (failures %d, quiet %d):\n%s", i, j, body)
	}
	for _, want := range []string{`href="/alarms/222222222222/eu-west-1/failures"`, "Security / Failures", "Sum ≥ 3 for 1 of 1 datapoints of 1 min",
		`class="badge bad">ALARM`, `class="badge good">OK`, "alerts"} {
		if !strings.Contains(body, want) {
			t.Errorf("alarm list lacks %q", want)
		}
	}
	if got := strings.Join(cw.calls, ";"); got != "DescribeAlarms us-east-1 222222222222;DescribeAlarms eu-west-1 222222222222" {
		t.Errorf("calls %s", got)
	}
	_, body = bob.get("/alarms?state=OK")
	if strings.Contains(body, ">failures<") || !strings.Contains(body, ">quiet<") {
		t.Errorf("state=OK lists the alarm in ALARM")
	}
	_, body = bob.get("/alarms?state=INSUFFICIENT_DATA")
	if !strings.Contains(body, "No alarm is in INSUFFICIENT_DATA") {
		t.Errorf("state filter with nothing to show:\n%s", body)
	}
	if resp, body := bob.get("/alarms?state=RED"); resp.StatusCode != 400 || !strings.Contains(body, "state must be") {
		t.Errorf("bad state: %d", resp.StatusCode)
	}
	empty := newTestConsole(t, Config{API: &fakeCloudWatch{}})
	_, body = signedInAs(t, empty, testUser("bob", "222222222222", false, false)).get("/alarms")
	if !strings.Contains(body, "No alarms yet") || !strings.Contains(body, "put-metric-alarm") || !strings.Contains(body, "opentrail cis enable") {
		t.Errorf("empty alarm list does not say how to make one:\n%s", body)
	}
}

func TestAlarmDetail(t *testing.T) {
	cw := testCloudWatch()
	// Datapoints 1, 5, 2 a minute apart, ending 10 minutes ago; the alarm
	// went to ALARM 20 minutes ago and is still in it.
	var ts []float64
	for i := range 3 {
		ts = append(ts, epoch(alarmNow.Add(time.Duration(i-12)*time.Minute)))
	}
	cw.data = map[string]any{"MetricDataResults": []map[string]any{{"Id": "m1", "Label": "Failures", "Timestamps": ts, "Values": []float64{1, 5, 2}}}}
	cw.history = []map[string]any{
		{"Timestamp": epoch(alarmNow.Add(-20 * time.Minute)), "HistoryItemType": "StateUpdate", "HistorySummary": "Alarm updated from OK to ALARM",
			"HistoryData": `{"oldState":{"stateValue":"OK"},"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed: 5 failures"}}`},
	}
	deliveries := fakeDeliveries{
		{TopicARN: "arn:aws:sns:eu-west-1:222222222222:alerts", Subject: `ALARM: "failures" in EU (Ireland)`, Protocol: "https",
			Endpoint: "https://hooks.example.com/x", Attempt: 1, Status: "delivered", StatusCode: 200, Time: alarmNow.Add(-19 * time.Minute)},
		{TopicARN: "arn:aws:sns:eu-west-1:222222222222:alerts", Subject: `ALARM: "other" in EU (Ireland)`, Protocol: "https",
			Endpoint: "https://hooks.example.com/x", Attempt: 1, Status: "dead", Time: alarmNow.Add(-18 * time.Minute)},
	}
	c := newTestConsole(t, Config{API: cw, Alarms: AlarmDeps{Deliveries: deliveries}, Clock: clock.NewFake(alarmNow)})
	bob := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	resp, body := bob.get("/alarms/222222222222/eu-west-1/failures?range=1h")
	if resp.StatusCode != 200 {
		t.Fatalf("alarm page: %d\n%s", resp.StatusCode, body)
	}
	if n := strings.Count(body, "<circle "); n != 3 {
		t.Errorf("%d datapoints drawn, want 3", n)
	}
	if n := strings.Count(body, `class="threshold"`); n != 1 {
		t.Errorf("%d threshold lines", n)
	}
	// One ALARM period, from the transition (20 of the 60 minutes ago) to
	// now: the last third of the plot area.
	if n := strings.Count(body, `class="alarm-span"`); n != 1 {
		t.Errorf("%d ALARM periods drawn, want 1", n)
	}
	for _, want := range []string{"Alarm updated from OK to ALARM", "Threshold Crossed: 5 failures", "https://hooks.example.com/x", "delivered"} {
		if !strings.Contains(body, want) {
			t.Errorf("alarm page lacks %q", want)
		}
	}
	if strings.Contains(body, "dead") {
		t.Error("another alarm's notification is listed")
	}
	var q struct {
		MetricDataQueries []struct {
			MetricStat struct {
				Metric struct{ Namespace, MetricName string }
				Period int
				Stat   string
			}
		}
		StartTime, EndTime float64
	}
	json.Unmarshal([]byte(cw.inputs[len(cw.inputs)-1]), &q)
	if len(q.MetricDataQueries) != 1 || q.MetricDataQueries[0].MetricStat.Metric.MetricName != "Failures" ||
		q.MetricDataQueries[0].MetricStat.Period != 60 || q.MetricDataQueries[0].MetricStat.Stat != "Sum" ||
		q.EndTime-q.StartTime != 3600 || !strings.HasPrefix(cw.calls[len(cw.calls)-1], "GetMetricData eu-west-1 ") {
		t.Errorf("GetMetricData %s", cw.inputs[len(cw.inputs)-1])
	}
	// Another account's alarm, an unknown one: not found.
	for _, p := range []string{"/alarms/333333333333/eu-west-1/failures", "/alarms/222222222222/eu-west-1/nope", "/alarms/222222222222/EU%20WEST/failures"} {
		if resp, _ := bob.get(p); resp.StatusCode != 404 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

func TestAnomalyBandGraph(t *testing.T) {
	cw := testCloudWatch()
	cw.alarms["us-east-1"] = []map[string]any{{"AlarmName": "odd", "StateValue": "OK", "EvaluationPeriods": 1,
		"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold", "ThresholdMetricId": "ad1",
		"Metrics": []map[string]any{
			{"Id": "m1", "ReturnData": true, "MetricStat": map[string]any{"Metric": map[string]any{"Namespace": "App", "MetricName": "Calls"}, "Period": 300, "Stat": "Sum"}},
			{"Id": "ad1", "ReturnData": true, "Expression": "ANOMALY_DETECTION_BAND(m1, 2)"}}}}
	ts := []float64{epoch(alarmNow.Add(-30 * time.Minute)), epoch(alarmNow.Add(-25 * time.Minute))}
	cw.data = map[string]any{"MetricDataResults": []map[string]any{
		{"Id": "m1", "Label": "Calls", "Timestamps": ts, "Values": []float64{10, 12}},
		{"Id": "ad1", "Label": "ad1 Lower", "Timestamps": ts, "Values": []float64{8, 9}},
		{"Id": "ad1", "Label": "ad1 Upper", "Timestamps": ts, "Values": []float64{14, 15}}}}
	c := newTestConsole(t, Config{API: cw, Clock: clock.NewFake(alarmNow)})
	_, body := signedInAs(t, c, testUser("bob", "222222222222", false, false)).get("/alarms/222222222222/us-east-1/odd")
	if !strings.Contains(body, `<polygon class="band"`) || strings.Count(body, "<circle ") != 2 || strings.Contains(body, `class="threshold"`) ||
		!strings.Contains(body, "anomaly detection band") || !strings.Contains(body, "ANOMALY_DETECTION_BAND(m1, 2)") {
		t.Errorf("anomaly alarm page:\n%s", body)
	}
}

func TestAlarmSpans(t *testing.T) {
	start, end := alarmNow.Add(-time.Hour), alarmNow
	at := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }
	up := func(m int, from, to string) historyEntry {
		return historyEntry{Time: at(m), Type: "StateUpdate", OldState: from, State: to}
	}
	for _, tc := range []struct {
		name  string
		state string
		hist  []historyEntry // newest first
		want  [][2]int
	}{
		{"always OK", "OK", nil, nil},
		{"in ALARM all along", "ALARM", nil, [][2]int{{0, 60}}},
		{"went and came back", "OK", []historyEntry{up(30, "ALARM", "OK"), up(10, "OK", "ALARM")}, [][2]int{{10, 30}}},
		{"was in ALARM at the start", "OK", []historyEntry{up(40, "INSUFFICIENT_DATA", "OK"), up(5, "ALARM", "INSUFFICIENT_DATA")}, [][2]int{{0, 5}}},
		{"still in ALARM", "ALARM", []historyEntry{{Time: at(50), Type: "Action"}, up(45, "OK", "ALARM")}, [][2]int{{45, 60}}},
	} {
		got := alarmSpans(cwAlarm{StateValue: tc.state}, tc.hist, start, end)
		var want [][2]time.Time
		for _, w := range tc.want {
			want = append(want, [2]time.Time{at(w[0]), at(w[1])})
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", tc.name, got, want)
		}
	}
}

func TestNotifies(t *testing.T) {
	long := strings.Repeat("x", 120)
	for _, tc := range []struct {
		subject, name string
		want          bool
	}{
		{`ALARM: "failures" in EU (Ireland)`, "failures", true},
		{`OK: "failures" in EU (Ireland)`, "failures", true},
		{`ALARM: "failures-2" in EU (Ireland)`, "failures", false},
		{`ALARM: "` + long[:92], long, true},
		{"opentrail finding (high): x", "x", false},
	} {
		if got := notifies(tc.subject, tc.name); got != tc.want {
			t.Errorf("notifies(%q, %q) = %v", tc.subject, tc.name, got)
		}
	}
}

type fakeCIS struct {
	rep    *cis.Report
	region string
	caller string
}

func (f *fakeCIS) Status(ctx context.Context, region string, opts cis.StatusOptions) (*cis.Report, error) {
	f.region, f.caller = region, awsapi.CallerFrom(ctx).Principal.ARN
	return f.rep, nil
}

func TestCISControls(t *testing.T) {
	ctl := func(id, key, title string) cis.Control {
		return cis.Control{ID: id, Key: key, Title: title, SecurityHub: "CloudWatch." + id[2:], Pattern: "{ $.x = 1 }"}
	}
	rep := &cis.Report{Benchmark: "v6.0.0", Trail: &cis.Trail{Name: "main", HomeRegion: "us-east-1"}, LogGroup: "opentrail-cis-main",
		Controls: []cis.ControlStatus{
			{Control: ctl("5.6", "console-auth-failures", "Ensure AWS Management Console authentication failures are monitored"), Verdict: cis.Exact,
				Filter: &cis.MetricFilter{Name: "CIS-console-auth-failures", Pattern: "{ $.x = 1 }", MetricName: "ConsoleAuthenticationFailures", MetricNamespace: "CISBenchmark"},
				Alarm:  &cis.Alarm{Name: "CIS-console-auth-failures", State: "ALARM"}, TopicARN: "arn:aws:sns:us-east-1:222222222222:opentrail-cis-alerts",
				Subscribers: []cis.Subscription{{ARN: "arn:aws:sns:us-east-1:222222222222:opentrail-cis-alerts:1", Protocol: "https", Endpoint: "https://hooks.example.com/cis"}}},
			{Control: ctl("5.7", "disable-or-delete-cmk", "Ensure disabling or scheduled deletion of customer created CMKs is monitored"), Verdict: cis.Missing,
				Broken: cis.LinkFilter, Fix: "run `opentrail cis enable`"},
			{Control: ctl("5.8", "s3-bucket-policy-changes", "Ensure S3 bucket policy changes are monitored"), Verdict: cis.Equivalent,
				Filter: &cis.MetricFilter{Name: "mine", Pattern: "{ $.y = 1 }"}, Broken: cis.LinkAlarm, Fix: "run `opentrail cis enable`"},
		}}
	f := &fakeCIS{rep: rep}
	c := newTestConsole(t, Config{Alarms: AlarmDeps{CIS: f}})
	bob := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	resp, body := bob.get("/alarms/cis")
	if resp.StatusCode != 200 || f.region != "us-east-1" || f.caller != "arn:aws:iam::222222222222:user/bob" {
		t.Fatalf("/alarms/cis: %d, status asked in %q as %q", resp.StatusCode, f.region, f.caller)
	}
	for _, want := range []string{"v6.0.0", "2 of 3 controls are broken", `href="/alarms/222222222222/us-east-1/CIS-console-auth-failures"`,
		"AWS Management Console authentication failures", "CISBenchmark/ConsoleAuthenticationFailures", ">exact<", ">equivalent<",
		"<strong>5.7</strong>: no metric filter", "<strong>5.8</strong>: no alarm", "https://hooks.example.com/cis", "1 confirmed", `href="/trails/222222222222/us-east-1/main"`} {
		if !strings.Contains(body, want) {
			t.Errorf("CIS page lacks %q", want)
		}
	}
	if _, body := signedInAs(t, newTestConsole(t, Config{}), testUser("bob", "222222222222", false, false)).get("/alarms/cis"); !strings.Contains(body, "not available") {
		t.Error("CIS page without a status check")
	}
}
