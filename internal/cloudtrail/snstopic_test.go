package cloudtrail

import (
	"context"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/servicetest"
)

// fakeTopics knows the topics ARNs of each account.
type fakeTopics map[string]bool

func (f fakeTopics) TopicExists(ctx context.Context, account, arn string) (bool, error) {
	return f[account+" "+arn], nil
}

// TestTrailSnsTopicMustExist: CreateTrail and UpdateTrail refuse an
// SnsTopicName (a name or an ARN) naming no topic of the account, with
// CloudTrail's error.
func TestTrailSnsTopicMustExist(t *testing.T) {
	e := newEnv(t, Options{})
	a, r := servicetest.AcctA, servicetest.RegionA
	arn := "arn:aws:sns:" + r + ":" + a + ":alerts"
	e.svc.topics = fakeTopics{a + " " + arn: true}
	const refusal = `{"__type":"InsufficientSnsTopicPolicyException","message":"SNS Topic does not exist or the topic policy is incorrect!"}`
	for _, topic := range []string{"missing", "arn:aws:sns:" + r + ":" + servicetest.AcctB + ":alerts"} {
		status, body := e.call(a, r, "CreateTrail", `{"Name":"trail","S3BucketName":"audit-logs","SnsTopicName":"`+topic+`"}`)
		if status != 400 || body != refusal {
			t.Fatalf("%s: %d %s", topic, status, body)
		}
	}
	for i, topic := range []string{"alerts", arn} {
		name := []string{"t-alerts", "t-by-arn"}[i]
		status, body := e.call(a, r, "CreateTrail", `{"Name":"`+name+`","S3BucketName":"audit-logs","SnsTopicName":"`+topic+`"}`)
		if status != 200 || !strings.Contains(body, `"SnsTopicARN":"`+arn+`"`) {
			t.Fatalf("%s: %d %s", topic, status, body)
		}
	}
	if status, body := e.call(a, r, "UpdateTrail", `{"Name":"t-alerts","SnsTopicName":"gone"}`); status != 400 || body != refusal {
		t.Fatalf("update: %d %s", status, body)
	}
	if status, body := e.call(a, r, "UpdateTrail", `{"Name":"t-alerts","S3KeyPrefix":"p"}`); status != 200 {
		t.Fatalf("update without the topic: %d %s", status, body)
	}
}
