package server

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// denyWrites refuses every action that is not a read, and lets reads
// (Describe*, Get*, List*, Lookup*) through.
type denyWrites struct{}

func (denyWrites) Authorize(_ context.Context, c *awsapi.Caller, action string, res []string) error {
	_, op, _ := strings.Cut(action, ":")
	for _, p := range []string{"Describe", "Get", "List", "Lookup"} {
		if strings.HasPrefix(op, p) {
			return nil
		}
	}
	r := "*"
	if len(res) > 0 {
		r = res[0]
	}
	return awsapi.AccessDenied(awsapi.DeniedMessage(c.Principal.ARN, action, r))
}

// denyServer runs a server whose routers refuse every write.
func denyServer(t *testing.T) string {
	t.Helper()
	s := buildServer(t, localConfig(t))
	for _, r := range []*awsapi.Router{s.cloudtrail, s.monitoring, s.logs, s.sns, s.events} {
		r.SetAuthorizer(denyWrites{})
	}
	s.cloudtrailData.SetAuthorizer(denyWrites{})
	s.native.SetAuthorizer(denyWrites{})
	startBuilt(t, s)
	return "http://" + s.Addr()
}

// TestDenialShapesBotocore: boto3 raises each service's modeled refusal
// (CloudTrail, Logs, EventBridge AccessDeniedException; CloudTrail Data
// AccessDeniedException 403; CloudWatch over JSON 1.0 (or CBOR: the
// protocol botocore picks) AccessDenied 403; SNS
// AuthorizationErrorException), and the refusals are in the event history
// with errorCode AccessDenied.
func TestDenialShapesBotocore(t *testing.T) {
	url := denyServer(t)
	py := `
import sys, boto3
from botocore.exceptions import ClientError
kw = dict(endpoint_url=sys.argv[1], region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
def show(name, f):
    try:
        f()
        print(name, "allowed")
    except ClientError as e:
        print(name, type(e).__name__, e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"])
ct = boto3.client("cloudtrail", **kw)
show("StopLogging", lambda: ct.stop_logging(Name="main"))
show("DescribeTrails", lambda: ct.describe_trails())
show("CreateLogGroup", lambda: boto3.client("logs", **kw).create_log_group(logGroupName="g"))
show("PutRule", lambda: boto3.client("events", **kw).put_rule(Name="r", EventPattern="{}"))
cw = boto3.client("cloudwatch", **kw)
show("PutMetricData-" + cw.meta.service_model.resolved_protocol, lambda: cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m", "Value": 1}]))
show("Publish", lambda: boto3.client("sns", **kw).publish(TopicArn="arn:aws:sns:eu-west-1:000000000000:alerts", Message="x"))
show("PutAuditEvents", lambda: boto3.client("cloudtrail-data", **kw).put_audit_events(channelArn="arn:aws:cloudtrail:eu-west-1:000000000000:channel/c1", auditEvents=[{"id": "1", "eventData": "{}"}]))
evs = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "StopLogging"}])["Events"]
import json
print("history", [json.loads(e["CloudTrailEvent"]).get("errorCode") for e in evs])
`
	cmd := exec.Command("python3", "-c", py, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := string(out)
	arn := "arn:aws:iam::000000000000:root"
	for _, want := range []string{
		"StopLogging AccessDeniedException AccessDeniedException 400 User: " + arn + " is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:eu-west-1:000000000000:trail/main because no identity-based policy allows the cloudtrail:StopLogging action",
		"DescribeTrails allowed",
		"CreateLogGroup AccessDeniedException AccessDeniedException 400 ",
		"PutRule AccessDeniedException AccessDeniedException 400 ",
		"ClientError AccessDenied 403 User: " + arn + " is not authorized to perform: cloudwatch:PutMetricData on resource: *",
		"Publish AuthorizationErrorException AuthorizationError 403 ",
		"PutAuditEvents ClientError AccessDeniedException 403 ",
		"history ['AccessDenied']",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("boto3 output lacks %q:\n%s", want, got)
		}
	}
}

// TestDenialShapesAWSCLIQuery: the AWS CLI v2 (query protocol to
// CloudWatch and SNS) reads AccessDenied and AuthorizationError.
func TestDenialShapesAWSCLIQuery(t *testing.T) {
	url := denyServer(t)
	out, code := runCLI(t, "/usr/bin/aws", url, "cloudwatch", "put-metric-data", "--namespace", "N", "--metric-name", "m", "--value", "1")
	if code != 254 || !strings.Contains(out, "(AccessDenied) when calling the PutMetricData operation: User: arn:aws:iam::000000000000:root is not authorized to perform: cloudwatch:PutMetricData on resource: *") {
		t.Errorf("cloudwatch put-metric-data: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "/usr/bin/aws", url, "sns", "publish", "--topic-arn", "arn:aws:sns:eu-west-1:000000000000:alerts", "--message", "x")
	if code != 254 || !strings.Contains(out, "(AuthorizationError) when calling the Publish operation") {
		t.Errorf("sns publish: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "/usr/bin/aws", url, "cloudtrail", "delete-trail", "--name", "main")
	if code != 254 || !strings.Contains(out, "(AccessDeniedException) when calling the DeleteTrail operation") {
		t.Errorf("cloudtrail delete-trail: exit %d\n%s", code, out)
	}
}
