package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestAggregatedAndInsightsDelivery configures a trail with boto3
// (PutEventConfiguration, which the Debian AWS CLI does not know, and
// PutInsightSelectors), posts S3 data events and an Insights event, and
// finds, on a real S3-compatible server and in the built-in store, the
// trail's 5-minute
// AwsAggregatedEvent summaries in its CloudTrail/ log files and the
// Insights event in a CloudTrail-Insight/ file; the summaries are
// selectable in SQL too.
func TestAggregatedAndInsightsDelivery(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 with boto3 is needed")
	}
	t.Run("S3-compatible server", func(t *testing.T) {
		v := startVersitygw(t)
		gw := s3Client(v.url(), v.Access, v.Secret)
		if _, err := gw.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("agg-trail")}); err != nil {
			t.Fatal(err)
		}
		cfg := writeConfig(t, fmt.Sprintf("object_store:\n  type: s3\n  endpoint: %s\n  path_style: true\n  access_key_id: %s\n  secret_access_key: %s\n",
			v.url(), v.Access, v.Secret))
		aggregatedAndInsights(t, startServer(t, "", "--config", cfg, "--delivery-interval", "1s"), gw)
	})
	t.Run("built-in store", func(t *testing.T) {
		s := startServer(t, "", "--delivery-interval", "1s")
		gw := s3Client(s.url, "test", "test")
		if _, err := gw.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("agg-trail")}); err != nil {
			t.Fatal(err)
		}
		aggregatedAndInsights(t, s, gw)
	})
}

func aggregatedAndInsights(t *testing.T, s *server, gw *s3.Client) {
	script := `
import sys, json, boto3, botocore
ct = boto3.client("cloudtrail", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
ct.create_trail(Name="agg", S3BucketName="agg-trail")
ct.put_event_selectors(TrailName="agg", AdvancedEventSelectors=[{"Name": "s3", "FieldSelectors": [
    {"Field": "eventCategory", "Equals": ["Data"]}, {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}]}])
r = ct.put_event_configuration(TrailName="agg", AggregationConfigurations=[{"EventCategory": "Data", "Templates": ["API_ACTIVITY", "USER_ACTIONS"]}])
print("put", json.dumps(r["AggregationConfigurations"]))
print("get", json.dumps(ct.get_event_configuration(TrailName="agg")["AggregationConfigurations"]))
try:
    ct.put_event_configuration(TrailName="agg", AggregationConfigurations=[{"EventCategory": "Data", "Templates": ["NOPE"]}])
except botocore.exceptions.ClientError as e:
    print("error", e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
try:
    ct.get_event_configuration(EventDataStore="eds")
except botocore.exceptions.ClientError as e:
    print("error", e.response["Error"]["Code"])
ct.put_insight_selectors(TrailName="agg", InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
ct.start_logging(Name="agg")
`
	out, err := exec.Command("python3", "-c", script, s.url).CombinedOutput()
	got := string(out)
	for _, want := range []string{`put [{"Templates": ["API_ACTIVITY", "USER_ACTIONS"], "EventCategory": "Data"}]`,
		`get [{"Templates": ["API_ACTIVITY", "USER_ACTIONS"], "EventCategory": "Data"}]`,
		"error InvalidParameterException 400", "error UnsupportedOperationException"} {
		if !strings.Contains(got, want) {
			t.Errorf("boto3 output lacks %q", want)
		}
	}
	if err != nil || t.Failed() {
		t.Fatalf("boto3: %v\n%s", err, got)
	}

	// Data events of a window that is long over, so it closes at once.
	at := time.Now().UTC().Add(-20 * time.Minute).Truncate(5 * time.Minute).Add(time.Minute)
	var recs [][]byte
	for i := range 3 {
		recs = append(recs, fmt.Appendf(nil, `{"eventVersion":"1.10","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::000000000000:user/alice","accountId":"000000000000","userName":"alice"},`+
			`"eventTime":"%s","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.7","userAgent":"aws-cli/2.9.19",`+
			`"requestParameters":{"bucketName":"reports","key":"k%d"},"responseElements":null,"requestID":"R%d","eventID":"e2e00000-0000-4000-8000-00000000000%d",`+
			`"readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::reports/k%d"},{"accountId":"000000000000","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::reports"}],`+
			`"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"000000000000","eventCategory":"Data"}`,
			at.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i, i, i, i))
	}
	recs = append(recs, fmt.Appendf(nil, `{"eventVersion":"1.08","eventTime":"%s","awsRegion":"us-east-1","eventID":"e2e11111-0000-4000-8000-000000000001",`+
		`"eventType":"AwsCloudTrailInsight","recipientAccountId":"000000000000","sharedEventID":"e2e22222-0000-4000-8000-000000000001",`+
		`"insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight",`+
		`"insightContext":{"statistics":{"baseline":{"average":0.1},"insight":{"average":3.0}}}},"eventCategory":"Insight"}`,
		time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)))
	if n, _ := s.postEvents(t, "test", recs); n != len(recs) {
		t.Fatalf("accepted %d of %d", n, len(recs))
	}

	var logText, insightText string
	deadline := time.Now().Add(60 * time.Second)
	for {
		logText, insightText = "", ""
		p := s3.NewListObjectsV2Paginator(gw, &s3.ListObjectsV2Input{Bucket: aws.String("agg-trail")})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				obj, err := gw.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("agg-trail"), Key: o.Key})
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(obj.Body)
				obj.Body.Close()
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					t.Fatalf("%s: %v", *o.Key, err)
				}
				plain, _ := io.ReadAll(zr)
				switch {
				case strings.Contains(*o.Key, "/CloudTrail-Insight/"):
					insightText += string(plain)
				case strings.Contains(*o.Key, "/CloudTrail/"):
					logText += string(plain)
				}
			}
		}
		if strings.Count(logText, `"eventType":"AwsAggregatedEvent"`) == 2 && insightText != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log files:\n%s\nInsights files:\n%s", logText, insightText)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(logText, `"primaryDimension":{"dimension":"eventName","statistics":[{"name":"GetObject","value":3}],"aggregationType":"Count"}`) ||
		!strings.Contains(logText, `"windowStart":"`+at.Truncate(5*time.Minute).Format(time.RFC3339)+`"`) {
		t.Errorf("API_ACTIVITY summary missing from the log files:\n%s", logText)
	}
	if strings.Contains(logText, "AwsCloudTrailInsight") || !strings.Contains(insightText, `"insightType":"ApiCallRateInsight"`) {
		t.Errorf("Insights event delivered wrongly:\nlog files:\n%s\nInsights files:\n%s", logText, insightText)
	}
	csv := s.queryAs(t, "test", `SELECT eventCategory, count(*) AS n FROM cloudtrail_events WHERE eventType = 'AwsAggregatedEvent' GROUP BY eventCategory`)
	if !strings.Contains(csv, "Aggregated,2") {
		t.Errorf("SQL over aggregated events:\n%s", csv)
	}
}
