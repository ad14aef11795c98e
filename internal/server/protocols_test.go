package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// Operations shaped as CloudWatch's, SNS's and Logs' (members named as in
// their models), so that the real clients serialize and parse them: the
// test checks the wire layer and the front door's routing, not the
// services (their own packages test those).
type cwDimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type cwListMetricsIn struct {
	Namespace  *string       `json:"Namespace,omitempty"`
	MetricName *string       `json:"MetricName,omitempty"`
	Dimensions []cwDimension `json:"Dimensions,omitempty"`
}

type cwMetric struct {
	Namespace  string        `json:"Namespace"`
	MetricName string        `json:"MetricName"`
	Dimensions []cwDimension `json:"Dimensions"`
}

type cwListMetricsOut struct {
	Metrics []cwMetric `json:"Metrics"`
}

type cwHistoryIn struct {
	AlarmName  *string      `json:"AlarmName,omitempty"`
	StartDate  *awsapi.Time `json:"StartDate,omitempty"`
	MaxRecords *int32       `json:"MaxRecords,omitempty"`
}

type cwHistoryItem struct {
	AlarmName       string       `json:"AlarmName"`
	Timestamp       *awsapi.Time `json:"Timestamp"`
	HistoryItemType string       `json:"HistoryItemType"`
	HistorySummary  string       `json:"HistorySummary"`
}

type cwHistoryOut struct {
	AlarmHistoryItems []cwHistoryItem `json:"AlarmHistoryItems"`
}

type cwDatum struct {
	MetricName string        `json:"MetricName"`
	Dimensions []cwDimension `json:"Dimensions,omitempty"`
	Timestamp  *awsapi.Time  `json:"Timestamp,omitempty"`
	Value      *float64      `json:"Value,omitempty"`
}

type cwPutIn struct {
	Namespace  string    `json:"Namespace"`
	MetricData []cwDatum `json:"MetricData"`
}

type snsAttrsIn struct {
	TopicArn string `json:"TopicArn"`
}

type snsAttrsOut struct {
	Attributes map[string]string `json:"Attributes"`
}

// seen keeps what the test operations decoded, as JSON, by operation.
type seen struct {
	mu sync.Mutex
	m  map[string][]string
}

func (s *seen) add(op string, in any) {
	b, _ := json.Marshal(in)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[op] = append(s.m[op], string(b))
}

func (s *seen) take(op string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[op]
	delete(s.m, op)
	return v
}

var alarmTime = time.Date(2026, 12, 4, 10, 0, 0, 250e6, time.UTC)

// protocolServer runs a server whose monitoring, sns and logs routers
// hold the test operations.
func protocolServer(t *testing.T) (url string, got *seen) {
	t.Helper()
	s := buildServer(t, localConfig(t))
	got = &seen{m: map[string][]string{}}
	// A monitoring router of the test's own: the server's holds the real
	// CloudWatch operations, under the names the test operations take.
	s.monitoring = awsapi.NewRouter("monitoring", s, s.log)
	s.monitoring.Speak(awsapi.CloudWatchProtocols())
	awsapi.Register(s.monitoring, "ListMetrics", true, func(ctx context.Context, in *cwListMetricsIn) (*cwListMetricsOut, error) {
		got.add("ListMetrics", in)
		return &cwListMetricsOut{Metrics: []cwMetric{{Namespace: "CISBenchmark", MetricName: "RootUsage <&>",
			Dimensions: []cwDimension{{Name: "Trail", Value: "main"}}}}}, nil
	})
	awsapi.Register(s.monitoring, "DescribeAlarmHistory", true, func(ctx context.Context, in *cwHistoryIn) (*cwHistoryOut, error) {
		got.add("DescribeAlarmHistory", in)
		if in.AlarmName != nil && *in.AlarmName == "missing" {
			return nil, &awsapi.Error{Code: "ResourceNotFound", Message: "Alarm missing does not exist.", Status: http.StatusNotFound}
		}
		if in.AlarmName != nil && *in.AlarmName == "bad" {
			return nil, awsapi.NewError("InvalidParameterValue", "The alarm name bad is not valid.")
		}
		return &cwHistoryOut{AlarmHistoryItems: []cwHistoryItem{{AlarmName: "root", Timestamp: &awsapi.Time{Time: alarmTime},
			HistoryItemType: "StateUpdate", HistorySummary: "Alarm updated from OK to ALARM"}}}, nil
	})
	awsapi.Register(s.monitoring, "PutMetricData", false, func(ctx context.Context, in *cwPutIn) (*struct{}, error) {
		got.add("PutMetricData", in)
		return nil, nil
	})
	// The server registers the real SNS operations; the test's own
	// GetTopicAttributes goes on a fresh router speaking as SNS does.
	s.sns = awsapi.NewRouter("sns", s, nil)
	s.sns.Speak(awsapi.SNSProtocols())
	awsapi.Register(s.sns, "GetTopicAttributes", true, func(ctx context.Context, in *snsAttrsIn) (*snsAttrsOut, error) {
		got.add("GetTopicAttributes", in)
		if strings.HasSuffix(in.TopicArn, ":missing") {
			return nil, &awsapi.Error{Code: "NotFound", Message: "Topic does not exist", Status: http.StatusNotFound}
		}
		return &snsAttrsOut{Attributes: map[string]string{"TopicArn": in.TopicArn, "DisplayName": "CIS <alerts>"}}, nil
	})
	// logs serves the real operations: a log group to list.
	if err := s.logwatch.CreateLogGroup(context.Background(), "000000000000", "eu-west-1", "trail-logs", "", "", nil); err != nil {
		t.Fatal(err)
	}
	startBuilt(t, s)
	return "http://" + s.Addr(), got
}

func runCLI(t *testing.T, bin, url string, args ...string) (string, int) {
	t.Helper()
	return runCLISecret(t, bin, url, "test", args...)
}

func runCLISecret(t *testing.T, bin, url, secret string, args ...string) (string, int) {
	t.Helper()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is not installed (scripts/test installs the AWS CLI)", bin)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--endpoint-url", url, "--region", "eu-west-1", "--output", "json"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "AWS_PAGER=", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// The Debian AWS CLI v2 (2.9.19) speaks the query protocol to CloudWatch
// and SNS: requests are decoded from the form, XML answers parsed, and
// error codes reach it with exit code 254.
func TestProtocolsAWSCLIQuery(t *testing.T) {
	url, got := protocolServer(t)
	out, code := runCLI(t, "/usr/bin/aws", url, "cloudwatch", "list-metrics", "--namespace", "CISBenchmark",
		"--dimensions", "Name=Trail,Value=main", "Name=Region")
	if code != 0 || !strings.Contains(out, `"MetricName": "RootUsage <&>"`) || !strings.Contains(out, `"Value": "main"`) {
		t.Fatalf("list-metrics: exit %d\n%s", code, out)
	}
	if g := got.take("ListMetrics"); len(g) != 1 || g[0] != `{"Namespace":"CISBenchmark","Dimensions":[{"Name":"Trail","Value":"main"},{"Name":"Region","Value":""}]}` {
		t.Errorf("ListMetrics decoded %v", g)
	}
	out, code = runCLI(t, "/usr/bin/aws", url, "cloudwatch", "describe-alarm-history", "--alarm-name", "root", "--start-date", "2026-12-04T09:00:00Z", "--max-records", "5")
	if code != 0 || !strings.Contains(out, `"Timestamp": "2026-12-04T10:00:00.250000+00:00"`) || !strings.Contains(out, `"HistorySummary": "Alarm updated from OK to ALARM"`) {
		t.Fatalf("describe-alarm-history: exit %d\n%s", code, out)
	}
	if g := got.take("DescribeAlarmHistory"); len(g) != 1 || g[0] != `{"AlarmName":"root","StartDate":1796374800,"MaxRecords":5}` {
		t.Errorf("DescribeAlarmHistory decoded %v", g)
	}
	out, code = runCLI(t, "/usr/bin/aws", url, "cloudwatch", "put-metric-data", "--namespace", "N", "--metric-data",
		`[{"MetricName":"m","Value":1.5,"Timestamp":"2026-12-04T10:00:00Z","Dimensions":[{"Name":"a","Value":"b"}]}]`)
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Fatalf("put-metric-data: exit %d\n%s", code, out)
	}
	if g := got.take("PutMetricData"); len(g) != 1 || g[0] != `{"Namespace":"N","MetricData":[{"MetricName":"m","Dimensions":[{"Name":"a","Value":"b"}],"Timestamp":1796378400,"Value":1.5}]}` {
		t.Errorf("PutMetricData decoded %v", g)
	}
	out, code = runCLI(t, "/usr/bin/aws", url, "cloudwatch", "describe-alarm-history", "--alarm-name", "missing")
	if code != 254 || !strings.Contains(out, "An error occurred (ResourceNotFound) when calling the DescribeAlarmHistory operation: Alarm missing does not exist.") {
		t.Errorf("describe-alarm-history missing: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "/usr/bin/aws", url, "sns", "get-topic-attributes", "--topic-arn", "arn:aws:sns:eu-west-1:000000000000:alerts")
	if code != 0 || !strings.Contains(out, `"DisplayName": "CIS <alerts>"`) {
		t.Errorf("sns get-topic-attributes: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "/usr/bin/aws", url, "sns", "get-topic-attributes", "--topic-arn", "arn:aws:sns:eu-west-1:000000000000:missing")
	if code != 254 || !strings.Contains(out, "An error occurred (NotFound) when calling the GetTopicAttributes operation: Topic does not exist") {
		t.Errorf("sns missing: exit %d\n%s", code, out)
	}
	// An operation no one registered: the query protocol's InvalidAction.
	out, code = runCLI(t, "/usr/bin/aws", url, "sns", "list-topics")
	if code != 254 || !strings.Contains(out, "(InvalidAction) when calling the ListTopics operation: Could not find operation ListTopics for version 2010-03-31") {
		t.Errorf("sns list-topics: exit %d\n%s", code, out)
	}
	// Refused at the front door: the query protocol's code and XML.
	for _, svc := range []string{"sns", "cloudwatch"} {
		args := []string{svc, "get-topic-attributes", "--topic-arn", "arn:aws:sns:eu-west-1:000000000000:alerts"}
		op := "GetTopicAttributes"
		if svc == "cloudwatch" {
			args, op = []string{svc, "list-metrics"}, "ListMetrics"
		}
		out, code = runCLISecret(t, "/usr/bin/aws", url, "wrong", args...)
		if code != 254 || !strings.Contains(out, "An error occurred (SignatureDoesNotMatch) when calling the "+op+" operation") {
			t.Errorf("%s with a wrong secret: exit %d\n%s", svc, code, out)
		}
	}
	out, code = runCLI(t, "/usr/bin/aws", url, "logs", "describe-log-groups")
	if code != 0 || !strings.Contains(out, `"logGroupName": "trail-logs"`) {
		t.Errorf("logs describe-log-groups: exit %d\n%s", code, out)
	}
}

// botocore 1.43 (boto3 and the AWS CLI v1 on it) speaks AWS JSON 1.0 to
// CloudWatch: its protocol priority puts json before
// smithy-rpc-v2-cbor. Query-compatible errors reach it by their query
// codes (x-amzn-query-error) and as their modeled exceptions.
func TestProtocolsBotocore(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 with boto3 is needed (scripts/test installs it)")
	}
	url, got := protocolServer(t)
	py := `
import sys, json, datetime, boto3
from botocore.exceptions import ClientError
kw = dict(endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
cw = boto3.client("cloudwatch", **kw)
print(cw.meta.service_model.resolved_protocol)
r = cw.list_metrics(Namespace="CISBenchmark", Dimensions=[{"Name": "Trail", "Value": "main"}])
print(r["Metrics"][0]["MetricName"], r["Metrics"][0]["Dimensions"])
r = cw.describe_alarm_history(AlarmName="root", StartDate=datetime.datetime(2026, 12, 4, 9, 0, 0, 500000, tzinfo=datetime.timezone.utc), MaxRecords=5)
print(r["AlarmHistoryItems"][0]["Timestamp"].isoformat())
cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m", "Value": 1.5, "Timestamp": datetime.datetime(2026, 12, 4, 10, tzinfo=datetime.timezone.utc)}])
for name, exc in (("missing", cw.exceptions.ResourceNotFound), ("bad", cw.exceptions.InvalidParameterValueException)):
    try:
        cw.describe_alarm_history(AlarmName=name)
    except exc as e:
        print(type(e).__name__, e.response["Error"]["Code"], e.response["Error"].get("Type"), e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"])
try:
    cw.list_dashboards()
except ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
sns = boto3.client("sns", **kw)
print(sns.get_topic_attributes(TopicArn="arn:aws:sns:eu-west-1:000000000000:alerts")["Attributes"]["DisplayName"])
try:
    sns.get_topic_attributes(TopicArn="arn:aws:sns:eu-west-1:000000000000:missing")
except sns.exceptions.NotFoundException as e:
    print("sns", e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
print(boto3.client("logs", **kw).describe_log_groups()["logGroups"][0]["logGroupName"])
`
	cmd := exec.Command("python3", "-c", py, url)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	want := `json
RootUsage <&> [{'Name': 'Trail', 'Value': 'main'}]
2026-12-04T10:00:00.250000+00:00
ResourceNotFound ResourceNotFound Sender 404 Alarm missing does not exist.
InvalidParameterValueException InvalidParameterValue Sender 400 The alarm name bad is not valid.
UnknownOperationException 400
CIS <alerts>
sns NotFound 404
trail-logs
`
	if string(out) != want {
		t.Errorf("boto3:\n%s\nwant\n%s", out, want)
	}
	if g := got.take("DescribeAlarmHistory"); len(g) != 3 || g[0] != `{"AlarmName":"root","StartDate":1796374800,"MaxRecords":5}` {
		t.Errorf("DescribeAlarmHistory decoded %v", g)
	}
	if g := got.take("PutMetricData"); len(g) != 1 || g[0] != `{"Namespace":"N","MetricData":[{"MetricName":"m","Timestamp":1796378400,"Value":1.5}]}` {
		t.Errorf("PutMetricData decoded %v", g)
	}
	if g := got.take("ListMetrics"); len(g) != 1 || g[0] != `{"Namespace":"CISBenchmark","Dimensions":[{"Name":"Trail","Value":"main"}]}` {
		t.Errorf("ListMetrics decoded %v", g)
	}

	// botocore's own RPC v2 CBOR serializer and parser, which it would
	// use were CBOR first in its protocol priority, read the answers too.
	pyCBOR := `
import sys, datetime, boto3, botocore.serialize
cw = boto3.client("cloudwatch", endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
cw._serializer = botocore.serialize.create_serializer("smithy-rpc-v2-cbor", include_validation=True)
cw.meta.service_model.__dict__["resolved_protocol"] = "smithy-rpc-v2-cbor"
r = cw.list_metrics(Namespace="CISBenchmark", Dimensions=[{"Name": "Trail", "Value": "main"}])
print(r["Metrics"][0]["MetricName"], r["Metrics"][0]["Dimensions"])
r = cw.describe_alarm_history(AlarmName="root", StartDate=datetime.datetime(2026, 12, 4, 9, 0, 0, 500000, tzinfo=datetime.timezone.utc))
print(r["AlarmHistoryItems"][0]["Timestamp"].isoformat())
cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m", "Value": 1.5}])
for name, exc in (("missing", cw.exceptions.ResourceNotFound), ("bad", cw.exceptions.InvalidParameterValueException)):
    try:
        cw.describe_alarm_history(AlarmName=name)
    except exc as e:
        print(type(e).__name__, e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"])
`
	cmd = exec.Command("python3", "-c", pyCBOR, url)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err = cmd.CombinedOutput()
	wantCBOR := `RootUsage <&> [{'Name': 'Trail', 'Value': 'main'}]
2026-12-04T10:00:00.250000+00:00
ResourceNotFound ResourceNotFound 404 Alarm missing does not exist.
InvalidParameterValueException InvalidParameterValue 400 The alarm name bad is not valid.
`
	if err != nil || string(out) != wantCBOR {
		t.Errorf("boto3 over CBOR: %v\n%s\nwant\n%s", err, out, wantCBOR)
	}
	if g := got.take("DescribeAlarmHistory"); len(g) != 3 || g[0] != `{"AlarmName":"root","StartDate":1796374800}` {
		t.Errorf("DescribeAlarmHistory over CBOR decoded %v", g)
	}
	if g := got.take("PutMetricData"); len(g) != 1 || g[0] != `{"Namespace":"N","MetricData":[{"MetricName":"m","Value":1.5}]}` {
		t.Errorf("PutMetricData over CBOR decoded %v", g)
	}

	// The AWS CLI v1 on the same botocore: JSON 1.0 too; it exits 255 on
	// a service error (v2 exits 254).
	out2, code := runCLI(t, "/root/.pyenv/shims/aws", url, "cloudwatch", "describe-alarm-history", "--alarm-name", "missing")
	if code != 255 || !strings.Contains(out2, "An error occurred (ResourceNotFound) when calling the DescribeAlarmHistory operation: Alarm missing does not exist.") {
		t.Errorf("aws cli v1: exit %d\n%s", code, out2)
	}
}

// aws-sdk-go-v2's cloudwatch speaks RPC v2 CBOR: modeled errors arrive as
// their types, with the query code.
func TestProtocolsGoSDKCBOR(t *testing.T) {
	url, got := protocolServer(t)
	cw := cloudwatch.New(cloudwatch.Options{Region: "eu-west-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	ctx := context.Background()
	lm, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("CISBenchmark"),
		Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("Trail"), Value: aws.String("main")}}})
	if err != nil || len(lm.Metrics) != 1 || aws.ToString(lm.Metrics[0].MetricName) != "RootUsage <&>" || aws.ToString(lm.Metrics[0].Dimensions[0].Value) != "main" {
		t.Fatalf("ListMetrics: %v %+v", err, lm)
	}
	if g := got.take("ListMetrics"); len(g) != 1 || g[0] != `{"Namespace":"CISBenchmark","Dimensions":[{"Name":"Trail","Value":"main"}]}` {
		t.Errorf("ListMetrics decoded %v", g)
	}
	h, err := cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("root"),
		StartDate: aws.Time(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)), MaxRecords: aws.Int32(5)})
	if err != nil || len(h.AlarmHistoryItems) != 1 || !aws.ToTime(h.AlarmHistoryItems[0].Timestamp).Equal(alarmTime) ||
		h.AlarmHistoryItems[0].HistoryItemType != cwtypes.HistoryItemTypeStateUpdate {
		t.Fatalf("DescribeAlarmHistory: %v %+v", err, h)
	}
	if g := got.take("DescribeAlarmHistory"); len(g) != 1 || g[0] != `{"AlarmName":"root","StartDate":1796374800,"MaxRecords":5}` {
		t.Errorf("DescribeAlarmHistory decoded %v", g)
	}
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("N"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1.5), Timestamp: aws.Time(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))}}}); err != nil {
		t.Fatalf("PutMetricData: %v", err)
	}
	if g := got.take("PutMetricData"); len(g) != 1 || g[0] != `{"Namespace":"N","MetricData":[{"MetricName":"m","Timestamp":1796378400,"Value":1.5}]}` {
		t.Errorf("PutMetricData decoded %v", g)
	}
	_, err = cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("missing")})
	var nf *cwtypes.ResourceNotFound
	if !errors.As(err, &nf) || nf.ErrorCode() != "ResourceNotFound" || nf.ErrorMessage() != "Alarm missing does not exist." {
		t.Errorf("missing alarm: %T %v", err, err)
	}
	_, err = cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("bad")})
	var iv *cwtypes.InvalidParameterValueException
	if !errors.As(err, &iv) || iv.ErrorCode() != "InvalidParameterValue" || iv.ErrorFault() != smithy.FaultClient {
		t.Errorf("bad alarm: %T %v", err, err)
	}

	// Refused at the front door: a CBOR error the SDK reads.
	bad := cloudwatch.New(cloudwatch.Options{Region: "eu-west-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "wrong", "")})
	_, err = bad.ListMetrics(ctx, &cloudwatch.ListMetricsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" || !strings.Contains(ae.ErrorMessage(), "signature") {
		t.Errorf("wrong secret: %T %v", err, err)
	}
	// An unsigned CBOR request is CloudWatch's, not S3's: a CBOR error.
	req, _ := http.NewRequest(http.MethodPost, url+"/service/GraniteServiceVersion20100801/operation/ListMetrics", nil)
	req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/cbor" || resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" ||
		!bytes.Contains(body, []byte("MissingAuthenticationTokenException")) {
		t.Errorf("unsigned CBOR request: %d %v %q", resp.StatusCode, resp.Header, body)
	}
}
