package lake

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
)

const (
	acctA   = "210987654321"
	acctB   = "123456789012"
	acctOrg = "999999999999"
	regionA = "eu-central-1"
	regionB = "us-east-1"
)

var (
	// testNow is the fake "now" of every test.
	testNow = time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)
	tokKey  = []byte("0123456789abcdef0123456789abcdef")
)

func principal(account string) *auth.Principal {
	return &auth.Principal{
		AccessKeyID: "AKIA" + account + "0000",
		AccountID:   account,
		Type:        "IAMUser",
		UserName:    "alice",
		ARN:         "arn:aws:iam::" + account + ":user/alice",
		PrincipalID: "AIDA" + account,
	}
}

func callerCtx(ctx context.Context, account, region string) context.Context {
	return awsapi.WithCaller(ctx, &awsapi.Caller{
		Principal: principal(account),
		Region:    region,
		SourceIP:  "198.51.100.23",
		UserAgent: "test",
		RequestID: "req-" + account,
	})
}

// callRouter sends a JSON 1.1 request for op as account/region through r.
func callRouter(r *awsapi.Router, account, region, op, body string) (int, string) {
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "CloudTrail_20131101."+op)
	req = req.WithContext(callerCtx(req.Context(), account, region))
	w := httptest.NewRecorder()
	r.Handle(w, req, []byte(body))
	return w.Code, w.Body.String()
}

// wantError checks an error response's status, __type and message.
func wantError(t *testing.T, status int, body string, wantStatus int, code, msg string) {
	t.Helper()
	var eb struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatalf("not an error body: %s", body)
	}
	if status != wantStatus || eb.Type != code || eb.Message != msg {
		t.Errorf("got %d {%q, %q}\nwant %d {%q, %q}", status, eb.Type, eb.Message, wantStatus, code, msg)
	}
}

// recOpts builds a record from a base management event; set overrides
// (or, with a nil value, deletes) top-level members.
type recOpts struct {
	id, account, region, name, source, category, user string
	t                                                 time.Time
	readOnly                                          *bool
	set                                               map[string]any
}

func mkRecord(t testing.TB, o recOpts) *event.Record {
	t.Helper()
	if o.account == "" {
		o.account = acctA
	}
	if o.region == "" {
		o.region = regionA
	}
	if o.name == "" {
		o.name = "StopLogging"
	}
	if o.source == "" {
		o.source = "cloudtrail.amazonaws.com"
	}
	if o.category == "" {
		o.category = "Management"
	}
	if o.user == "" {
		o.user = "alice"
	}
	m := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{
			"type": "IAMUser", "principalId": "AIDAQEXAMPLEUSER0001",
			"arn": "arn:aws:iam::" + o.account + ":user/" + o.user, "accountId": o.account,
			"accessKeyId": "AKIAQEXAMPLEKEY00001", "userName": o.user,
		},
		"eventTime":          o.t.UTC().Format(time.RFC3339),
		"eventSource":        o.source,
		"eventName":          o.name,
		"awsRegion":          o.region,
		"sourceIPAddress":    "198.51.100.23",
		"userAgent":          "aws-cli/2.9.19",
		"requestParameters":  map[string]any{"name": "audit-main"},
		"responseElements":   nil,
		"requestID":          "6f2b0c1e-9a3d-4e51-8d9e-2b7a6c0d1e2f",
		"eventID":            o.id,
		"readOnly":           false,
		"eventType":          "AwsApiCall",
		"managementEvent":    o.category == "Management",
		"recipientAccountId": o.account,
		"eventCategory":      o.category,
	}
	if o.readOnly != nil {
		m["readOnly"] = *o.readOnly
	}
	for k, v := range o.set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r, err := event.Parse(raw)
	if err != nil {
		t.Fatalf("parse test record: %v\n%s", err, raw)
	}
	return r
}
