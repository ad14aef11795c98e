package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
)

// alarmState polls describe-alarms (through run) until the alarm is in
// state or 5 s have passed.
func waitState(t *testing.T, want string, get func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	got := ""
	for time.Now().Before(deadline) {
		if got = get(); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("alarm state %q, want %q", got, want)
}

// TestCloudWatchDebianCLI drives CloudWatch with the Debian AWS CLI 2.9.19,
// which speaks the query protocol: an alarm, datapoints that trip it,
// statistics, SetAlarmState, the history, errors and account isolation.
func TestCloudWatchDebianCLI(t *testing.T) {
	s := startServer(t, "")
	cliCloudWatch(t, func(args ...string) (string, string, int) {
		return s.awsCLI(t, "test", "us-east-1", append([]string{"cloudwatch"}, args...)...)
	}, func(args ...string) (string, string, int) {
		return s.awsCLI(t, "111111111111", "us-east-1", append([]string{"cloudwatch"}, args...)...)
	}, 254)
}

// TestCloudWatchCLIv1 is the same through the AWS CLI v1 (botocore 1.43).
func TestCloudWatchCLIv1(t *testing.T) {
	bin := filepath.Join(os.Getenv("HOME"), ".pyenv", "shims", "aws")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the AWS CLI v1 is not installed at %s (pip install awscli in the pyenv python)", bin)
	}
	s := startServer(t, "")
	run := func(akid string) func(args ...string) (string, string, int) {
		return func(args ...string) (string, string, int) {
			cmd := exec.Command(bin, append([]string{"--endpoint-url", s.url, "--region", "us-east-1", "--output", "json", "cloudwatch"}, args...)...)
			home := t.TempDir()
			cmd.Env = append(os.Environ(), "HOME="+home, "AWS_PAGER=", "AWS_ACCESS_KEY_ID="+akid, "AWS_SECRET_ACCESS_KEY=test",
				"AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return out.String(), errb.String(), ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return out.String(), errb.String(), 0
		}
	}
	cliCloudWatch(t, run("test"), run("111111111111"), 255)
}

func cliCloudWatch(t *testing.T, cw, other func(args ...string) (string, string, int), errExit int) {
	must := func(args ...string) string {
		t.Helper()
		out, errs, code := cw(args...)
		if code != 0 {
			t.Fatalf("aws cloudwatch %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	must("put-metric-alarm", "--alarm-name", "console-failures", "--metric-name", "ConsoleLoginFailures", "--namespace", "CISBenchmark",
		"--statistic", "Sum", "--period", "300", "--evaluation-periods", "1", "--threshold", "3",
		"--comparison-operator", "GreaterThanOrEqualToThreshold", "--treat-missing-data", "notBreaching",
		"--alarm-actions", "arn:aws:sns:us-east-1:000000000000:security", "--alarm-description", "three failed sign-ins")
	state := func() string {
		var out struct {
			MetricAlarms []struct{ StateValue, StateReason string }
		}
		_ = json.Unmarshal([]byte(must("describe-alarms", "--alarm-names", "console-failures")), &out)
		if len(out.MetricAlarms) != 1 {
			return "missing"
		}
		return out.MetricAlarms[0].StateValue
	}
	waitState(t, "OK", state)
	must("put-metric-data", "--namespace", "CISBenchmark", "--metric-name", "ConsoleLoginFailures", "--value", "1")
	must("put-metric-data", "--namespace", "CISBenchmark", "--metric-data", `[{"MetricName":"ConsoleLoginFailures","Values":[1],"Counts":[2],"Unit":"Count"}]`)
	waitState(t, "ALARM", state)
	var desc struct {
		MetricAlarms []struct {
			AlarmArn, StateReason, Statistic, ComparisonOperator string
			Threshold                                            float64
			Period                                               int
		}
	}
	_ = json.Unmarshal([]byte(must("describe-alarms", "--state-value", "ALARM")), &desc)
	if len(desc.MetricAlarms) != 1 || desc.MetricAlarms[0].AlarmArn != "arn:aws:cloudwatch:us-east-1:000000000000:alarm:console-failures" ||
		!strings.HasPrefix(desc.MetricAlarms[0].StateReason, "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (") ||
		desc.MetricAlarms[0].Threshold != 3 || desc.MetricAlarms[0].Period != 300 {
		t.Fatalf("describe-alarms: %+v", desc)
	}
	now := time.Now().UTC()
	var stats struct {
		Label      string
		Datapoints []struct {
			Sum, SampleCount, Maximum float64
			Unit                      string
		}
	}
	_ = json.Unmarshal([]byte(must("get-metric-statistics", "--namespace", "CISBenchmark", "--metric-name", "ConsoleLoginFailures",
		"--statistics", "Sum", "SampleCount", "Maximum", "--period", "3600",
		"--start-time", now.Add(-time.Hour).Format(time.RFC3339), "--end-time", now.Add(time.Hour).Format(time.RFC3339))), &stats)
	if stats.Label != "ConsoleLoginFailures" || len(stats.Datapoints) == 0 {
		t.Fatalf("get-metric-statistics: %+v", stats)
	}
	var sum, count float64
	for _, d := range stats.Datapoints {
		sum, count = sum+d.Sum, count+d.SampleCount
	}
	if sum != 3 || count != 3 {
		t.Fatalf("statistics: sum %v count %v: %+v", sum, count, stats)
	}
	// SetAlarmState: the state is set; the next evaluation would change it back.
	must("set-alarm-state", "--alarm-name", "console-failures", "--state-value", "INSUFFICIENT_DATA", "--state-reason", "testing the pager")
	var hist struct {
		AlarmHistoryItems []struct{ HistoryItemType, HistorySummary, HistoryData string }
	}
	_ = json.Unmarshal([]byte(must("describe-alarm-history", "--alarm-name", "console-failures", "--history-item-type", "StateUpdate")), &hist)
	// The set state is the newest transition, unless the alarm's next
	// evaluation (every few seconds) already changed it back to ALARM, as
	// AWS's does, while the CLI started: then it is the one before.
	set := -1
	for i, h := range hist.AlarmHistoryItems {
		if i > 1 {
			break
		}
		if h.HistorySummary == "Alarm updated from ALARM to INSUFFICIENT_DATA" {
			set = i
			break
		}
	}
	if len(hist.AlarmHistoryItems) < 3 || set < 0 || set == 1 && hist.AlarmHistoryItems[0].HistorySummary != "Alarm updated from INSUFFICIENT_DATA to ALARM" {
		t.Fatalf("history: %+v", hist)
	}
	var hd struct {
		NewState struct{ StateValue, StateReason string } `json:"newState"`
	}
	if err := json.Unmarshal([]byte(hist.AlarmHistoryItems[set].HistoryData), &hd); err != nil || hd.NewState.StateReason != "testing the pager" {
		t.Fatalf("history data %q: %v", hist.AlarmHistoryItems[set].HistoryData, err)
	}
	// Errors: the code and message, and the client's exit status.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get-metric-statistics", "--namespace", "CISBenchmark", "--metric-name", "ConsoleLoginFailures", "--statistics", "Sum",
			"--period", "60", "--start-time", "2026-11-30T00:00:00Z", "--end-time", "2026-12-04T00:00:00Z"},
			"(InvalidParameterCombination) when calling the GetMetricStatistics operation: You have requested up to 5,760 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."},
		{[]string{"set-alarm-state", "--alarm-name", "nope", "--state-value", "OK", "--state-reason", "x"},
			"(ResourceNotFound) when calling the SetAlarmState operation"},
		{[]string{"put-metric-alarm", "--alarm-name", "x", "--metric-name", "m", "--namespace", "n", "--statistic", "Sum", "--period", "3600",
			"--evaluation-periods", "48", "--threshold", "1", "--comparison-operator", "GreaterThanThreshold"},
			"(InvalidParameterValue) when calling the PutMetricAlarm operation: Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400)."},
		{[]string{"put-metric-data", "--namespace", "AWS/EC2", "--metric-name", "m", "--value", "1"},
			"(InvalidParameterValue) when calling the PutMetricData operation: The value AWS/EC2 for parameter Namespace is invalid."},
	} {
		_, errs, code := cw(c.args...)
		if code != errExit || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d\n%s\nwant %q", c.args[0], code, errs, c.want)
		}
	}
	// Another account sees nothing of this one.
	out, errs, code := other("describe-alarms")
	if code != 0 || strings.Contains(out, "console-failures") {
		t.Fatalf("other account: exit %d %s %s", code, out, errs)
	}
	out, _, _ = other("list-metrics")
	if strings.Contains(out, "ConsoleLoginFailures") {
		t.Fatalf("other account lists this one's metrics: %s", out)
	}
	must("delete-alarms", "--alarm-names", "console-failures")
	if got := state(); got != "missing" {
		t.Fatalf("after delete-alarms: %s", got)
	}
}

// TestCloudWatchBoto3 drives the same path through boto3, whose botocore
// picks its own CloudWatch protocol.
func TestCloudWatchBoto3(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 with boto3 is needed")
	}
	s := startServer(t, "")
	script := `
import sys, time, datetime, json, boto3, botocore
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
cw = boto3.client("cloudwatch", **kw)
cw.put_metric_alarm(AlarmName="root-use", MetricName="RootUse", Namespace="CIS", Statistic="Sum", Period=60,
    EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
    AlarmActions=["arn:aws:sns:us-east-1:000000000000:sec"], Tags=[{"Key": "team", "Value": "sec"}])
cw.put_metric_data(Namespace="CIS", MetricData=[{"MetricName": "RootUse", "StatisticValues": {"SampleCount": 2, "Sum": 2, "Minimum": 1, "Maximum": 1}}])
for _ in range(50):
    a = cw.describe_alarms(AlarmNames=["root-use"])["MetricAlarms"][0]
    if a["StateValue"] == "ALARM":
        break
    time.sleep(0.1)
print("state", a["StateValue"])
print("arn", a["AlarmArn"])
now = datetime.datetime.now(datetime.timezone.utc)
r = cw.get_metric_data(MetricDataQueries=[{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "CIS", "MetricName": "RootUse"}, "Period": 60, "Stat": "Sum"}}],
    StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=1))
res = r["MetricDataResults"][0]
print("data", res["Id"], res["StatusCode"], res["Values"])
print("metrics", [m["MetricName"] for m in cw.list_metrics(Namespace="CIS")["Metrics"]])
print("tags", cw.list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"])
print("for-metric", len(cw.describe_alarms_for_metric(MetricName="RootUse", Namespace="CIS")["MetricAlarms"]))
cw.disable_alarm_actions(AlarmNames=["root-use"])
print("actions", cw.describe_alarms(AlarmNames=["root-use"])["MetricAlarms"][0]["ActionsEnabled"])
try:
    cw.set_alarm_state(AlarmName="root-use", StateValue="OK", StateReason="x", StateReasonData="{not json")
except botocore.exceptions.ClientError as e:
    print("error", e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
try:
    cw.describe_alarms(NextToken="garbage")
except botocore.exceptions.ClientError as e:
    print("error", e.response["Error"]["Code"])
kinds = [h["HistoryItemType"] for h in cw.describe_alarm_history(AlarmName="root-use", ScanBy="TimestampAscending")["AlarmHistoryItems"]]
print("history", kinds[0], "StateUpdate" in kinds)
`
	out, err := exec.Command("python3", "-c", script, s.url).CombinedOutput()
	got := string(out)
	for _, want := range []string{"state ALARM", "arn arn:aws:cloudwatch:us-east-1:000000000000:alarm:root-use", "data m1 Complete [2",
		"metrics ['RootUse']", "tags [{'Key': 'team', 'Value': 'sec'}]", "for-metric 1", "actions False", "error InvalidFormat 400",
		"error InvalidNextToken", "history ConfigurationUpdate True"} {
		if !strings.Contains(got, want) {
			t.Errorf("boto3 output lacks %q", want)
		}
	}
	if err != nil || t.Failed() {
		t.Fatalf("boto3: %v\n%s", err, got)
	}
}

// TestCloudWatchGoSDK drives it through aws-sdk-go-v2's cloudwatch client.
func TestCloudWatchGoSDK(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url),
		Credentials: aws.NewCredentialsCache(credProvider("test")), RetryMaxAttempts: 1})
	_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("stop-logging"), MetricName: aws.String("StopLogging"), Namespace: aws.String("CIS"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(2), DatapointsToAlarm: aws.Int32(1),
		Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold,
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Trail"), Value: aws.String("main")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("CIS"), MetricData: []cwtypes.MetricDatum{{
		MetricName: aws.String("StopLogging"), Value: aws.Float64(1), Timestamp: aws.Time(time.Now()),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Trail"), Value: aws.String("main")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, "ALARM", func() string {
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("stop")})
		if err != nil || len(out.MetricAlarms) != 1 {
			t.Fatalf("describe: %v %+v", err, out)
		}
		return string(out.MetricAlarms[0].StateValue)
	})
	now := time.Now()
	st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("CIS"), MetricName: aws.String("StopLogging"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Trail"), Value: aws.String("main")}},
		StartTime:  aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now.Add(time.Minute)), Period: aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
	if err != nil || len(st.Datapoints) != 1 || *st.Datapoints[0].Sum != 1 {
		t.Fatalf("GetMetricStatistics: %v %+v", err, st)
	}
	// Dimensions match exactly: without them it is another metric.
	st, err = cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("CIS"), MetricName: aws.String("StopLogging"),
		StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now.Add(time.Minute)), Period: aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
	if err != nil || len(st.Datapoints) != 0 {
		t.Fatalf("GetMetricStatistics without dimensions: %v %+v", err, st)
	}
	h, err := cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("stop-logging"), MaxRecords: aws.Int32(1)})
	if err != nil || len(h.AlarmHistoryItems) != 1 || h.NextToken == nil {
		t.Fatalf("history page: %v %+v", err, h)
	}
	_, err = cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"nope"}})
	var rnf *cwtypes.ResourceNotFound
	if !errors.As(err, &rnf) {
		t.Fatalf("DeleteAlarms of a missing alarm: %v", err)
	}
	_, err = cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("CIS"), MetricData: []cwtypes.MetricDatum{{
		MetricName: aws.String("X"), Value: aws.Float64(1), Values: []float64{1}}}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" {
		t.Fatalf("Value and Values: %v", err)
	}
}
