package eventpattern

import (
	"encoding/json"
	"strings"
	"testing"
)

const consoleLogin = `{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},"eventTime":"2026-12-01T10:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"Mozilla/5.0","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"eventID":"5ae1b9f0-1c2d-4e5f-8a9b-0c1d2e3f4a5b","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`

func TestCloudTrailEventEnvelope(t *testing.T) {
	out, err := CloudTrailEvent([]byte("  " + consoleLogin + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	// top-level members in the order EventBridge sends them
	wantPrefix := `{"version":"0","id":"`
	if !strings.HasPrefix(string(out), wantPrefix) {
		t.Fatalf("envelope starts %.40s", out)
	}
	rest := string(out[len(wantPrefix)+36:])
	wantRest := `","detail-type":"AWS Console Sign In via CloudTrail","source":"aws.signin","account":"111122223333","time":"2026-12-01T10:00:00Z","region":"us-east-1","resources":[],"detail":` + consoleLogin + `}`
	if rest != wantRest {
		t.Fatalf("envelope\n got %s\nwant %s", rest, wantRest)
	}
	var env struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatal(err)
	}
	again, _ := CloudTrailEvent([]byte(consoleLogin))
	if string(again) != string(out) {
		t.Fatal("the same record gave two envelopes")
	}
	other, _ := CloudTrailEvent([]byte(strings.Replace(consoleLogin, "5ae1b9f0", "6ae1b9f0", 1)))
	var env2 struct {
		ID string `json:"id"`
	}
	json.Unmarshal(other, &env2)
	if env2.ID == env.ID || len(env.ID) != 36 || env.ID[14] != '5' {
		t.Fatalf("ids %s, %s: want distinct version-5 UUIDs", env.ID, env2.ID)
	}
	p, err := Compile(`{"source":["aws.signin"],"detail-type":["AWS Console Sign In via CloudTrail"],"detail":{"userIdentity":{"type":["Root"]},"additionalEventData":{"MFAUsed":[{"anything-but":"Yes"}]}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Match(out); !ok || err != nil {
		t.Fatalf("root login without MFA: Match = %v, %v", ok, err)
	}
}

func TestCloudTrailEventDetailTypes(t *testing.T) {
	for _, c := range []struct{ rec, detailType, source string }{
		{`{"eventSource":"iam.amazonaws.com","eventType":"AwsApiCall","eventID":"a"}`, DetailTypeAPICall, "aws.iam"},
		{`{"eventSource":"kms.amazonaws.com","eventType":"AwsServiceEvent","eventID":"b"}`, DetailTypeServiceEvent, "aws.kms"},
		{`{"eventSource":"s3.amazonaws.com","eventType":"AwsConsoleAction","eventID":"c"}`, DetailTypeConsoleAction, "aws.s3"},
		{`{"eventVersion":"1.07","eventTime":"2026-12-01T10:00:00Z","awsRegion":"us-east-1","eventID":"d","eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333","sharedEventID":"s","insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight"},"eventCategory":"Insight"}`, DetailTypeInsight, "aws.cloudtrail"},
		{`{"eventSource":"s3.amazonaws.com","eventType":"AwsVpceEvent","eventCategory":"NetworkActivity","eventID":"f"}`, DetailTypeNetwork, "aws.s3"},
		{`{"eventSource":"s3.amazonaws.com","eventType":"AwsApiCall","eventCategory":"Data","eventID":"e"}`, DetailTypeAPICall, "aws.s3"},
	} {
		out, err := CloudTrailEvent([]byte(c.rec))
		if err != nil {
			t.Fatal(err)
		}
		var env map[string]any
		if err := json.Unmarshal(out, &env); err != nil {
			t.Fatal(err)
		}
		if env["detail-type"] != c.detailType || env["source"] != c.source {
			t.Errorf("%s: detail-type %v source %v, want %q %q", c.rec, env["detail-type"], env["source"], c.detailType, c.source)
		}
	}
	for _, bad := range []string{``, `[1]`, `{"a":`} {
		if _, err := CloudTrailEvent([]byte(bad)); err == nil {
			t.Errorf("CloudTrailEvent(%q) succeeded", bad)
		}
	}
}
