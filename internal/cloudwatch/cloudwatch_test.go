package cloudwatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/alarms"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/cloudwatch"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/store"
)

const acctA, acctB, region = "111111111111", "222222222222", "us-east-1"

var now = time.Date(2026, 12, 4, 10, 0, 30, 0, time.UTC)

type fixture struct {
	t   *testing.T
	r   *awsapi.Router
	e   *alarms.Engine
	clk *clock.Fake
}

func newFixture(t *testing.T) *fixture {
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(now)
	e, err := alarms.New(alarms.Config{DB: st.DB(), Clock: clk, Tick: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	s, err := cloudwatch.New(cloudwatch.Config{Engine: e, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewRouter("monitoring", nil, nil)
	s.Register(r)
	return &fixture{t: t, r: r, e: e, clk: clk}
}

func (f *fixture) call(account, op, body string) (int, string) {
	return servicetest.CallRouter(f.r, account, region, op, body)
}

func (f *fixture) ok(account, op, body string) map[string]any {
	f.t.Helper()
	code, out := f.call(account, op, body)
	if code != 200 {
		f.t.Fatalf("%s: %d %s", op, code, out)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(out), &m)
	return m
}

const alarmBody = `{"AlarmName":"a1","MetricName":"Fail","Namespace":"CIS","Statistic":"Sum","Period":60,"EvaluationPeriods":1,
	"Threshold":3,"ComparisonOperator":"GreaterThanOrEqualToThreshold","TreatMissingData":"notBreaching"}`

func TestValidation(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		op, body  string
		status    int
		code, msg string
	}{
		{"PutMetricData", `{"MetricData":[{"MetricName":"m","Value":1}]}`, 400, "MissingParameter", "The parameter Namespace is required."},
		{"PutMetricData", `{"Namespace":"AWS/EC2","MetricData":[{"MetricName":"m","Value":1}]}`, 400, "InvalidParameterValue", "The value AWS/EC2 for parameter Namespace is invalid."},
		{"PutMetricData", `{"Namespace":"n","MetricData":[{"MetricName":"m","Value":1,"Values":[1]}]}`, 400, "InvalidParameterValue",
			"The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive and you have specified both."},
		{"PutMetricData", `{"Namespace":"n","MetricData":[{"MetricName":"m","Value":1,"StatisticValues":{"SampleCount":1,"Sum":1,"Minimum":1,"Maximum":1}}]}`, 400, "InvalidParameterCombination",
			"The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually exclusive and you have specified both."},
		{"PutMetricData", `{"Namespace":"n","MetricData":[{"MetricName":"m","Values":[1,2],"Counts":[1]}]}`, 400, "InvalidParameterValue",
			"The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size."},
		{"PutMetricData", `{"Namespace":"n","MetricData":[{"MetricName":"m","Value":1,"Timestamp":1000}]}`, 400, "InvalidParameterValue",
			"The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks."},
		{"PutMetricData", `{"Namespace":"n","MetricData":[{"MetricName":"m","Value":1,"Unit":"Furlongs"}]}`, 400, "InvalidParameterValue", ""},
		{"GetMetricStatistics", `{"Namespace":"n","MetricName":"m","StartTime":1764806400,"EndTime":1765238400,"Period":60,"Statistics":["Sum"]}`, 400, "InvalidParameterCombination",
			"You have requested up to 7,200 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."},
		{"GetMetricStatistics", `{"Namespace":"n","MetricName":"m","StartTime":2000,"EndTime":1000,"Period":60,"Statistics":["Sum"]}`, 400, "InvalidParameterValue",
			"The parameter StartTime must be less than the parameter EndTime."},
		{"GetMetricStatistics", `{"Namespace":"n","MetricName":"m","StartTime":1000,"EndTime":2000,"Period":90,"Statistics":["Sum"]}`, 400, "InvalidParameterValue",
			"The parameter Period must be a multiple of 60."},
		{"GetMetricStatistics", `{"Namespace":"n","MetricName":"m","StartTime":1000,"EndTime":2000,"Period":60,"Statistics":["Median"]}`, 400, "InvalidParameterValue",
			"The parameter Statistics.member.1 must be a value in the set [ Minimum, Maximum, Sum, SampleCount, Average ]."},
		{"PutMetricAlarm", strings.Replace(alarmBody, `"EvaluationPeriods":1`, `"EvaluationPeriods":1441`, 1), 400, "InvalidParameterValue",
			"Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400)."},
		{"PutMetricAlarm", strings.Replace(alarmBody, `"Statistic":"Sum"`, `"Statistic":"Sum","ExtendedStatistic":"p99"`, 1), 400, "InvalidParameterCombination",
			"Exactly one of the parameters Statistic and ExtendedStatistic must be specified."},
		{"PutMetricAlarm", strings.Replace(alarmBody, `"notBreaching"`, `"sometimes"`, 1), 400, "InvalidParameterValue",
			"The value sometimes for parameter TreatMissingData is not valid. Valid values are: breaching, notBreaching, ignore, missing."},
		{"PutMetricAlarm", strings.Replace(alarmBody, `"Threshold":3,`, ``, 1), 400, "MissingParameter", "The parameter Threshold is required."},
		{"PutMetricAlarm", strings.Replace(alarmBody, `"Period":60,`, `"Period":60,"DatapointsToAlarm":2,`, 1), 400, "InvalidParameterValue",
			"DatapointsToAlarm must be less than or equal to EvaluationPeriods."},
		{"PutMetricAlarm", strings.Replace(alarmBody, `"Period":60,`, `"Period":60,"AlarmActions":["nonsense"],`, 1), 400, "InvalidParameterValue",
			"Invalid arn syntax: nonsense"},
		{"PutMetricAlarm", strings.Replace(alarmBody, `"GreaterThanOrEqualToThreshold"`, `"GreaterThanUpperThreshold"`, 1), 400, "MissingParameter",
			"The parameter Metrics is required."},
		{"SetAlarmState", `{"AlarmName":"zz","StateValue":"OK","StateReason":"x"}`, 404, "ResourceNotFound", "Alarm zz does not exist"},
		{"DescribeAlarms", `{"AlarmNames":["a"],"AlarmNamePrefix":"a"}`, 400, "InvalidParameterCombination", "AlarmNamePrefix and AlarmNames cannot be specified together."},
		{"DescribeAlarms", `{"NextToken":"xyz"}`, 400, "InvalidNextToken", "The NextToken is not valid: pass the NextToken of the previous response unchanged."},
		{"ListMetrics", `{"RecentlyActive":"PT1H"}`, 400, "InvalidParameterValue", "The parameter RecentlyActive must be a value in the set [ PT3H ]."},
		{"DeleteAlarms", `{"AlarmNames":["zz"]}`, 404, "ResourceNotFound", "The following alarms do not exist: zz. No alarm was deleted."},
	}
	for _, c := range cases {
		status, body := f.call(acctA, c.op, c.body)
		var eb struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal([]byte(body), &eb)
		if status != c.status || eb.Type != c.code || (c.msg != "" && eb.Message != c.msg) {
			t.Errorf("%s %s:\ngot  %d %s %q\nwant %d %s %q", c.op, c.body, status, eb.Type, eb.Message, c.status, c.code, c.msg)
		}
	}
}

func TestAlarmThroughAPI(t *testing.T) {
	f := newFixture(t)
	f.ok(acctA, "PutMetricAlarm", alarmBody)
	f.ok(acctA, "PutMetricData", `{"Namespace":"CIS","MetricData":[{"MetricName":"Fail","Values":[1],"Counts":[3],"Unit":"Count"}]}`)
	var state string
	for i := 0; i < 50; i++ { // the evaluator goroutine wakes on new points
		m := f.ok(acctA, "DescribeAlarms", `{}`)
		state = m["MetricAlarms"].([]any)[0].(map[string]any)["StateValue"].(string)
		if state == "ALARM" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if state != "ALARM" {
		t.Fatalf("state %s", state)
	}
	m := f.ok(acctA, "GetMetricStatistics", fmt.Sprintf(`{"Namespace":"CIS","MetricName":"Fail","StartTime":%d,"EndTime":%d,"Period":60,"Statistics":["Sum","SampleCount","Average"],"Unit":"Count"}`,
		now.Add(-time.Hour).Unix(), now.Add(time.Minute).Unix()))
	dps := m["Datapoints"].([]any)
	if len(dps) != 1 {
		t.Fatalf("datapoints %v", m)
	}
	dp := dps[0].(map[string]any)
	if dp["Sum"].(float64) != 3 || dp["SampleCount"].(float64) != 3 || dp["Average"].(float64) != 1 || dp["Unit"] != "Count" {
		t.Fatalf("datapoint %v", dp)
	}
	// another account: no alarm, no metric, no data
	if m := f.ok(acctB, "DescribeAlarms", `{}`); len(m["MetricAlarms"].([]any)) != 0 {
		t.Fatalf("account B sees %v", m)
	}
	if m := f.ok(acctB, "ListMetrics", `{}`); len(m["Metrics"].([]any)) != 0 {
		t.Fatalf("account B lists %v", m)
	}
	// history: newest first, paged
	h := f.ok(acctA, "DescribeAlarmHistory", `{"AlarmName":"a1","MaxRecords":1}`)
	items := h["AlarmHistoryItems"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["HistorySummary"] != "Alarm updated from OK to ALARM" || h["NextToken"] == nil {
		t.Fatalf("history page 1: %v", h)
	}
	h = f.ok(acctA, "DescribeAlarmHistory", fmt.Sprintf(`{"AlarmName":"a1","MaxRecords":1,"NextToken":%q}`, h["NextToken"]))
	if items := h["AlarmHistoryItems"].([]any); len(items) != 1 || items[0].(map[string]any)["HistorySummary"] != "Alarm updated from INSUFFICIENT_DATA to OK" {
		t.Fatalf("history page 2: %v", h)
	}
	// tags
	arn := "arn:aws:cloudwatch:us-east-1:111111111111:alarm:a1"
	f.ok(acctA, "TagResource", fmt.Sprintf(`{"ResourceARN":%q,"Tags":[{"Key":"k","Value":"v"}]}`, arn))
	if m := f.ok(acctA, "ListTagsForResource", fmt.Sprintf(`{"ResourceARN":%q}`, arn)); fmt.Sprint(m["Tags"]) != "[map[Key:k Value:v]]" {
		t.Fatalf("tags %v", m)
	}
	if code, _ := f.call(acctB, "ListTagsForResource", fmt.Sprintf(`{"ResourceARN":%q}`, arn)); code != 404 {
		t.Fatalf("account B reads A's tags: %d", code)
	}
	f.ok(acctA, "UntagResource", fmt.Sprintf(`{"ResourceARN":%q,"TagKeys":["k"]}`, arn))
	if m := f.ok(acctA, "ListTagsForResource", fmt.Sprintf(`{"ResourceARN":%q}`, arn)); len(m["Tags"].([]any)) != 0 {
		t.Fatalf("tags after untag %v", m)
	}
}

func TestDescribeAlarmsPaging(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 5; i++ {
		f.ok(acctA, "PutMetricAlarm", strings.Replace(alarmBody, `"a1"`, fmt.Sprintf(`"alarm-%d"`, i), 1))
	}
	var names []string
	tok := ""
	for page := 0; page < 5; page++ {
		body := `{"MaxRecords":2,"AlarmNamePrefix":"alarm-"}`
		if tok != "" {
			body = fmt.Sprintf(`{"MaxRecords":2,"AlarmNamePrefix":"alarm-","NextToken":%q}`, tok)
		}
		m := f.ok(acctA, "DescribeAlarms", body)
		for _, a := range m["MetricAlarms"].([]any) {
			names = append(names, a.(map[string]any)["AlarmName"].(string))
		}
		t, _ := m["NextToken"].(string)
		if tok = t; tok == "" {
			break
		}
	}
	if strings.Join(names, ",") != "alarm-0,alarm-1,alarm-2,alarm-3,alarm-4" {
		t.Fatalf("pages gave %v", names)
	}
	if m := f.ok(acctA, "DescribeAlarms", `{"AlarmTypes":["CompositeAlarm"]}`); len(m["MetricAlarms"].([]any)) != 0 || m["CompositeAlarms"] == nil {
		t.Fatalf("composite only: %v", m)
	}
}

func TestGetMetricDataBandAndPaging(t *testing.T) {
	f := newFixture(t)
	var data []string
	for i := 0; i < 30; i++ {
		ts := now.Add(-time.Duration(30-i) * time.Minute).Unix()
		data = append(data, fmt.Sprintf(`{"MetricName":"Fail","Value":%d,"Timestamp":%d}`, 2+i%2, ts))
	}
	f.ok(acctA, "PutMetricData", `{"Namespace":"CIS","MetricData":[`+strings.Join(data, ",")+`]}`)
	q := fmt.Sprintf(`{"StartTime":%d,"EndTime":%d,"MetricDataQueries":[
		{"Id":"m1","MetricStat":{"Metric":{"Namespace":"CIS","MetricName":"Fail"},"Period":60,"Stat":"Sum"}},
		{"Id":"ad1","Expression":"ANOMALY_DETECTION_BAND(m1, 2)"}]`, now.Add(-30*time.Minute).Unix(), now.Unix())
	m := f.ok(acctA, "GetMetricData", q+`}`)
	res := m["MetricDataResults"].([]any)
	if len(res) != 3 {
		t.Fatalf("results %v", m)
	}
	m1 := res[0].(map[string]any)
	if len(m1["Values"].([]any)) != 30 || m1["StatusCode"] != "Complete" || m1["Label"] != "Fail" {
		t.Fatalf("m1 %v", m1)
	}
	// newest first by default
	ts := m1["Timestamps"].([]any)
	if ts[0].(float64) < ts[1].(float64) {
		t.Fatalf("not newest first: %v", ts[:2])
	}
	up := res[2].(map[string]any)
	if up["Id"] != "ad1" || up["Label"] != "ad1 Upper" || len(up["Values"].([]any)) != 26 { // 09:30-09:34 have too little history; 10:00 has a band and no data
		t.Fatalf("band %v", up)
	}
	if v := up["Values"].([]any)[0].(float64); v != 3.5 { // 2.5 ± 2·0.5
		t.Fatalf("upper %v", v)
	}
	// paging
	m = f.ok(acctA, "GetMetricData", q+`,"MaxDatapoints":20}`)
	if m["NextToken"] == nil || len(m["MetricDataResults"].([]any)[0].(map[string]any)["Values"].([]any)) != 20 {
		t.Fatalf("page 1 %v", m)
	}
	total := 20
	for tok := m["NextToken"]; tok != nil; tok = m["NextToken"] {
		m = f.ok(acctA, "GetMetricData", q+fmt.Sprintf(`,"MaxDatapoints":20,"NextToken":%q}`, tok))
		for _, r := range m["MetricDataResults"].([]any) {
			total += len(r.(map[string]any)["Values"].([]any))
		}
	}
	if total != 82 {
		t.Fatalf("pages gave %d datapoints, want 82", total)
	}
	code, body := f.call(acctA, "GetMetricData", `{"StartTime":1,"EndTime":2,"MetricDataQueries":[{"Id":"e1","Expression":"m1 * 2"}]}`)
	if code != 400 || !strings.Contains(body, "refers to m1, which is not a MetricStat query of the request") {
		t.Fatalf("expression without its query: %d %s", code, body)
	}
	code, body = f.call(acctA, "GetMetricData", `{"StartTime":1,"EndTime":2,"MetricDataQueries":[{"Id":"e1","Expression":"RATE(m1)"}]}`)
	if code != 400 || !strings.Contains(body, "opentrail evaluates ANOMALY_DETECTION_BAND(id, k) and arithmetic") {
		t.Fatalf("unsupported expression: %d %s", code, body)
	}
	// arithmetic: the values doubled plus one, over m1 not returned
	m = f.ok(acctA, "GetMetricData", fmt.Sprintf(`{"StartTime":%d,"EndTime":%d,"ScanBy":"TimestampAscending","MetricDataQueries":[
		{"Id":"m1","ReturnData":false,"MetricStat":{"Metric":{"Namespace":"CIS","MetricName":"Fail"},"Period":60,"Stat":"Sum"}},
		{"Id":"e1","Label":"doubled","Expression":"m1 * 2 + 1"}]}`, now.Add(-30*time.Minute).Unix(), now.Unix()))
	res = m["MetricDataResults"].([]any)
	e1 := res[0].(map[string]any)
	if len(res) != 1 || e1["Id"] != "e1" || e1["Label"] != "doubled" || fmt.Sprint(e1["Values"].([]any)[:3]) != "[5 7 5]" {
		t.Fatalf("arithmetic: %v", m)
	}
}

func TestListMetricsFilters(t *testing.T) {
	f := newFixture(t)
	f.ok(acctA, "PutMetricData", fmt.Sprintf(`{"Namespace":"CIS","MetricData":[
		{"MetricName":"A","Value":1,"Dimensions":[{"Name":"Trail","Value":"main"}]},
		{"MetricName":"B","Value":1,"Timestamp":%d}]}`, now.Add(-5*time.Hour).Unix()))
	f.ok(acctA, "PutMetricData", `{"Namespace":"Other","MetricData":[{"MetricName":"A","Value":1}]}`)
	names := func(body string) string {
		var out []string
		for _, m := range f.ok(acctA, "ListMetrics", body)["Metrics"].([]any) {
			mm := m.(map[string]any)
			out = append(out, mm["Namespace"].(string)+"/"+mm["MetricName"].(string))
		}
		return strings.Join(out, ",")
	}
	for body, want := range map[string]string{
		`{}`:                                "CIS/A,CIS/B,Other/A",
		`{"Namespace":"CIS"}`:               "CIS/A,CIS/B",
		`{"MetricName":"A"}`:                "CIS/A,Other/A",
		`{"Dimensions":[{"Name":"Trail"}]}`: "CIS/A",
		`{"Dimensions":[{"Name":"Trail","Value":"x"}]}`: "",
		`{"RecentlyActive":"PT3H"}`:                     "CIS/A,Other/A",
	} {
		if got := names(body); got != want {
			t.Errorf("ListMetrics %s: %s, want %s", body, got, want)
		}
	}
}
