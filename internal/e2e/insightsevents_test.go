package e2e

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInsightsEndToEnd: a trail with Insights on, two days of a
// RunInstances call every ten minutes and then a ten-minute spike of 30 a
// minute, posted to a real server. The detector appends a Start and an
// End record, which `aws cloudtrail lookup-events --event-category
// insight` shows; list-insights-metric-data shows the spike's minutes;
// `opentrail insights --since` over the same history finds the same pair
// and stores nothing twice.
func TestInsightsEndToEnd(t *testing.T) {
	s := startServer(t, "")
	cisEnv(t, s)
	const region = "us-east-1"
	if _, errs, code := s.awsCLI(t, "test", region, "s3", "mb", "s3://ins-bucket"); code != 0 {
		t.Fatalf("s3 mb: %s", errs)
	}
	s.mustCLI(t, region, "cloudtrail", "create-trail", "--name", "ins", "--s3-bucket-name", "ins-bucket")
	s.mustCLI(t, region, "cloudtrail", "start-logging", "--name", "ins")
	out := s.mustCLI(t, region, "cloudtrail", "put-insight-selectors", "--trail-name", "ins",
		"--insight-selectors", `[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight"}]`)
	if !strings.Contains(out, "ApiErrorRateInsight") {
		t.Fatalf("put-insight-selectors: %s", out)
	}
	// Data events too: S3 object events selected, call-rate Insights on
	// both categories (boto3: the Debian AWS CLI predates EventCategories).
	s.mustCLI(t, region, "cloudtrail", "put-event-selectors", "--trail-name", "ins", "--event-selectors",
		`[{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]`)
	if out, err := exec.Command("python3", "-c", `
import sys, boto3
ct = boto3.client("cloudtrail", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
print(ct.put_insight_selectors(TrailName="ins", InsightSelectors=[{"InsightType": "ApiCallRateInsight", "EventCategories": ["Management", "Data"]},
    {"InsightType": "ApiErrorRateInsight"}])["InsightSelectors"])
`, s.url).CombinedOutput(); err != nil || !strings.Contains(string(out), "'EventCategories': ['Management', 'Data']") {
		t.Fatalf("put_insight_selectors with EventCategories: %v\n%s", err, out)
	}

	now := time.Now().UTC().Truncate(time.Minute)
	spike := now.Add(-time.Hour)
	var recs [][]byte
	n := 0
	for at := spike.Add(-48 * time.Hour); at.Before(spike); at = at.Add(10 * time.Minute) {
		n++
		recs = append(recs, record(recOpts{id: uuid("insights-e2e", n), name: "RunInstances", t: at}))
	}
	for m := 0; m < 10; m++ {
		for i := 0; i < 30; i++ {
			n++
			recs = append(recs, record(recOpts{id: uuid("insights-e2e", n), name: "RunInstances", user: "mallory",
				t: spike.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second)}))
		}
	}
	// S3 GetObject data events: one every ten minutes for two days, then
	// 40 a minute for five minutes, an hour after the RunInstances spike.
	obj := func(at time.Time) []byte {
		n++
		return record(recOpts{id: uuid("insights-e2e", n), name: "GetObject", source: "s3.amazonaws.com", category: "Data", readOnly: true,
			resources: `[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::data/k"}]`, t: at})
	}
	for at := spike.Add(-48 * time.Hour); at.Before(spike.Add(30 * time.Minute)); at = at.Add(10 * time.Minute) {
		recs = append(recs, obj(at))
	}
	for i := 0; i < 200; i++ {
		recs = append(recs, obj(spike.Add(30*time.Minute+time.Duration(i)*1500*time.Millisecond)))
	}
	s.postEvents(t, "test", recs)

	type ev struct {
		EventId, EventName, EventSource string
		CloudTrailEvent                 string
	}
	lookup := func() []ev {
		var r struct{ Events []ev }
		json.Unmarshal([]byte(s.mustCLI(t, region, "cloudtrail", "lookup-events", "--event-category", "insight")), &r)
		return r.Events
	}
	var evs []ev
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if evs = lookup(); len(evs) >= 2 {
			break
		}
	}
	if len(evs) != 4 {
		t.Fatalf("lookup-events --event-category insight: %d events, want Start and End twice: %+v\n%s", len(evs), evs, s.output())
	}
	states := map[string]string{}
	shared := map[string]bool{}
	for _, e := range evs {
		if e.EventName == "GetObject" {
			continue // the data-event insight: ListInsightsData below
		}
		var rec struct {
			SharedEventID  string
			EventCategory  string
			InsightDetails struct {
				State, EventName, InsightType string
				InsightContext                struct {
					Statistics struct {
						Insight         struct{ Average float64 }
						InsightDuration int
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(e.CloudTrailEvent), &rec); err != nil {
			t.Fatal(err)
		}
		d := rec.InsightDetails
		if d.EventName != "RunInstances" || d.InsightType != "ApiCallRateInsight" || rec.EventCategory != "Insight" {
			t.Errorf("insight record: %s", e.CloudTrailEvent)
		}
		if d.State == "End" && (d.InsightContext.Statistics.Insight.Average != 30 || d.InsightContext.Statistics.InsightDuration != 10) {
			t.Errorf("End statistics: %s", e.CloudTrailEvent)
		}
		states[d.State] = e.EventId
		shared[rec.SharedEventID] = true
	}
	if states["Start"] == "" || states["End"] == "" || len(shared) != 1 {
		t.Fatalf("want one Start and one End sharing an id: %+v", evs)
	}

	// Each Start is a finding.
	var fout string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if fout, _, _ = runCLI(t, "findings", "--detector", "insight", "--json"); strings.Count(fout, "ApiCallRateInsight") >= 2 {
			break
		}
	}
	for _, want := range []string{"Unusual RunInstances call rate (ec2.amazonaws.com)", "Unusual GetObject call rate (s3.amazonaws.com)"} {
		if !strings.Contains(fout, want) {
			t.Errorf("opentrail findings --detector insight lacks %q:\n%s", want, fout)
		}
	}

	// The series behind it, per minute, around the spike, and the
	// selectors' categories, through boto3 (the Debian AWS CLI predates
	// both).
	script := `
import sys, datetime, boto3, botocore
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
ct = boto3.client("cloudtrail", **kw)
spike = datetime.datetime.fromtimestamp(int(sys.argv[2]), datetime.timezone.utc)
q = dict(EventSource="ec2.amazonaws.com", EventName="RunInstances", InsightType="ApiCallRateInsight")
r = ct.list_insights_metric_data(Period=60, DataType="FillWithZeros", StartTime=spike - datetime.timedelta(minutes=5),
    EndTime=spike + datetime.timedelta(minutes=15), **q)
print("fill", len(r["Timestamps"]), r["Values"][4:6], r["Values"][14:16], r["Timestamps"][5] == spike)
h0 = spike.replace(minute=0) - datetime.timedelta(hours=2)
r = ct.list_insights_metric_data(Period=3600, StartTime=h0, EndTime=h0 + datetime.timedelta(hours=4), **q)
m = ct.list_insights_metric_data(Period=60, StartTime=h0, EndTime=h0 + datetime.timedelta(hours=4), **q)
print("hourly", r["Values"][0], sum(r["Values"]) == sum(m["Values"]), sum(r["Values"]) >= 300)
r = ct.list_insights_metric_data(Period=60, MaxResults=3, StartTime=spike, EndTime=spike + datetime.timedelta(minutes=15), **q)
r2 = ct.list_insights_metric_data(Period=60, MaxResults=3, StartTime=spike, EndTime=spike + datetime.timedelta(minutes=15), NextToken=r["NextToken"], **q)
print("pages", len(r["Values"]), len(r2["Values"]), r2["Timestamps"][0] == spike + datetime.timedelta(minutes=3))
for bad in [dict(InsightType="ApiErrorRateInsight"), dict(Period=120), dict(DataType="All")]:
    a = dict(q); a.update(bad)
    try:
        ct.list_insights_metric_data(**a)
        print("accepted", bad)
    except botocore.exceptions.ClientError as e:
        print("error", e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
arn = ct.describe_trails(trailNameList=["ins"])["trailList"][0]["TrailARN"]
r = ct.list_insights_data(InsightSource=arn, DataType="InsightsEvents")
print("data", [(e["EventName"], e["EventSource"], '"state":"Start"' in e["CloudTrailEvent"]) for e in r["Events"]])
r = ct.list_insights_data(InsightSource=arn, DataType="InsightsEvents", MaxResults=1, Dimensions={"EventName": "GetObject"})
r2 = ct.list_insights_data(InsightSource=arn, DataType="InsightsEvents", MaxResults=1, Dimensions={"EventName": "GetObject"}, NextToken=r["NextToken"])
print("data pages", len(r["Events"]), len(r2["Events"]), "NextToken" in r2, r["Events"][0]["EventId"] != r2["Events"][0]["EventId"])
print("data none", len(ct.list_insights_data(InsightSource=arn, DataType="InsightsEvents", Dimensions={"EventName": "PutObject"})["Events"]))
try:
    ct.list_insights_data(InsightSource=arn, DataType="InsightsEvents", Dimensions={"EventName": "a", "EventSource": "b"})
except botocore.exceptions.ClientError as e:
    print("data error", e.response["Error"]["Code"])
ct.put_insight_selectors(TrailName="ins", InsightSelectors=[{"InsightType": "ApiErrorRateInsight", "EventCategories": ["Data"]}])
print("selectors", ct.get_insight_selectors(TrailName="ins")["InsightSelectors"])
ct.put_insight_selectors(TrailName="ins", InsightSelectors=[{"InsightType": "ApiCallRateInsight", "EventCategories": ["Management", "Data"]}])
`
	pyOut, err := exec.Command("python3", "-c", script, s.url, strconv.FormatInt(spike.Unix(), 10)).CombinedOutput()
	got := string(pyOut)
	for _, want := range []string{"fill 20 [0.0, 30.0] [30.0, 0.0] True", "hourly 6.0 True True", "pages 3 3 True",
		"error InvalidParameterException 400\nerror InvalidParameterException 400\nerror InvalidParameterException 400",
		"selectors [{'InsightType': 'ApiErrorRateInsight', 'EventCategories': ['Data']}]",
		"data [('GetObject', 's3.amazonaws.com', False), ('GetObject', 's3.amazonaws.com', True)]", "data pages 1 1 False True",
		"data none 0", "data error InvalidParameterException"} {
		if !strings.Contains(got, want) {
			t.Errorf("boto3 output lacks %q", want)
		}
	}
	if err != nil || t.Failed() {
		t.Fatalf("boto3: %v\n%s", err, got)
	}

	// Retroactively over the same history: the same pair, stored once.
	stdout, stderr, code := runCLI(t, "insights", "--since", spike.Add(-24*time.Hour).Format(time.RFC3339), "--region", region)
	if code != 0 || !strings.Contains(stdout, "2 insights started and 2 ended") {
		t.Fatalf("opentrail insights: exit %d\n%s\n%s", code, stdout, stderr)
	}
	time.Sleep(time.Second)
	if evs := lookup(); len(evs) != 4 {
		t.Errorf("after the retroactive run: %d insight events, want the same 4", len(evs))
	}
}
