// Package servicetest is shared test support for the service packages
// (cloudtrail, cloudtraildata, lake, native) and for their tests only: no
// production code imports it. It fakes what the services stand on — an
// in-memory event, channel and trail store (Store), an ingester that
// commits into it at once (Ingester), trail buckets (Buckets) and trail
// delivery (Delivery) — and holds the helpers their tests share: the test
// accounts, regions and time, an authenticated caller in a context,
// sending a JSON 1.1 request through an awsapi.Router, checking an error
// response, and building CloudTrail records.
package servicetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/trail"
)

// The accounts and regions of the tests: AcctA in RegionA is the usual
// caller, AcctB another account, AcctOrg an organization's management
// account.
const (
	AcctA   = "210987654321"
	AcctB   = "123456789012"
	AcctOrg = "999999999999"
	RegionA = "eu-central-1"
	RegionB = "us-east-1"
)

var (
	// Now is the fake "now" of every test.
	Now = time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)
	// TokenKey is the pagination token key of every test.
	TokenKey = []byte("0123456789abcdef0123456789abcdef")
)

// Principal returns the IAM user alice of account.
func Principal(account string) *auth.Principal {
	return &auth.Principal{
		AccessKeyID: "AKIA" + account + "0000",
		AccountID:   account,
		Type:        "IAMUser",
		UserName:    "alice",
		ARN:         "arn:aws:iam::" + account + ":user/alice",
		PrincipalID: "AIDA" + account,
	}
}

// CallerContext returns ctx carrying Principal(account) as the
// authenticated caller of a request to region.
func CallerContext(ctx context.Context, account, region string) context.Context {
	return awsapi.WithCaller(ctx, &awsapi.Caller{
		Principal: Principal(account),
		Region:    region,
		SourceIP:  "198.51.100.23",
		UserAgent: "test",
		RequestID: "req-" + account,
	})
}

// CallRouter sends a CloudTrail JSON 1.1 request for op as account/region
// through r and returns the status and body.
func CallRouter(r *awsapi.Router, account, region, op, body string) (int, string) {
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "CloudTrail_20131101."+op)
	req = req.WithContext(CallerContext(req.Context(), account, region))
	w := httptest.NewRecorder()
	r.Handle(w, req, []byte(body))
	return w.Code, w.Body.String()
}

// WantError checks an error response's status, __type and message.
func WantError(t testing.TB, status int, body string, wantStatus int, code, msg string) {
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

// RecordOpts describes a record for Record: a base management event with
// these members; Set overrides (or, with a nil value, deletes) top-level
// members. Empty fields take the defaults: AcctA, RegionA, StopLogging by
// cloudtrail.amazonaws.com, category Management, user alice.
type RecordOpts struct {
	ID, Account, Region, Name, Source, Category, User string
	Time                                              time.Time
	ReadOnly                                          *bool
	Set                                               map[string]any
}

// Record builds and parses the record o describes.
func Record(t testing.TB, o RecordOpts) *event.Record {
	t.Helper()
	if o.Account == "" {
		o.Account = AcctA
	}
	if o.Region == "" {
		o.Region = RegionA
	}
	if o.Name == "" {
		o.Name = "StopLogging"
	}
	if o.Source == "" {
		o.Source = "cloudtrail.amazonaws.com"
	}
	if o.Category == "" {
		o.Category = "Management"
	}
	if o.User == "" {
		o.User = "alice"
	}
	m := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{
			"type": "IAMUser", "principalId": "AIDAQEXAMPLEUSER0001",
			"arn": "arn:aws:iam::" + o.Account + ":user/" + o.User, "accountId": o.Account,
			"accessKeyId": "AKIAQEXAMPLEKEY00001", "userName": o.User,
		},
		"eventTime":          o.Time.UTC().Format(time.RFC3339),
		"eventSource":        o.Source,
		"eventName":          o.Name,
		"awsRegion":          o.Region,
		"sourceIPAddress":    "198.51.100.23",
		"userAgent":          "aws-cli/2.9.19",
		"requestParameters":  map[string]any{"name": "audit-main"},
		"responseElements":   nil,
		"requestID":          "6f2b0c1e-9a3d-4e51-8d9e-2b7a6c0d1e2f",
		"eventID":            o.ID,
		"readOnly":           false,
		"eventType":          "AwsApiCall",
		"managementEvent":    o.Category == "Management",
		"recipientAccountId": o.Account,
		"eventCategory":      o.Category,
	}
	if o.ReadOnly != nil {
		m["readOnly"] = *o.ReadOnly
	}
	for k, v := range o.Set {
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

// InsightRecord builds and parses an Insights event of AcctA in RegionA.
func InsightRecord(t testing.TB, id string, tm time.Time) *event.Record {
	t.Helper()
	raw := fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"awsRegion":%q,"eventID":%q,"eventType":"AwsCloudTrailInsight",`+
		`"recipientAccountId":%q,"sharedEventID":"0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c","insightDetails":{"state":"Start",`+
		`"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight",`+
		`"insightContext":{"statistics":{"baseline":{"average":0.01},"insight":{"average":5},"insightDuration":3}}},"eventCategory":"Insight"}`,
		tm.UTC().Format(time.RFC3339), RegionA, id, AcctA)
	r, err := event.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("parse insight record: %v", err)
	}
	return r
}

// SeedPaging stores n management events for AcctA/RegionA in s, several
// sharing a timestamp, plus events a lookup by AcctA in RegionA must never
// show: another account's, another region's, a data event, one older than
// 90 days and an Insights event.
func SeedPaging(t testing.TB, s *Store, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		at := Now.Add(-time.Duration(i/3) * time.Minute) // three events per second
		s.Add(Record(t, RecordOpts{ID: fmt.Sprintf("a-%03d", i), Time: at, Name: fmt.Sprintf("Op%d", i%4)}))
	}
	s.Add(
		Record(t, RecordOpts{ID: "other-account", Time: Now, Account: AcctB}),
		Record(t, RecordOpts{ID: "other-region", Time: Now, Region: RegionB}),
		Record(t, RecordOpts{ID: "data", Time: Now, Category: "Data", Name: "GetObject", Source: "s3.amazonaws.com"}),
		Record(t, RecordOpts{ID: "too-old", Time: Now.Add(-91 * 24 * time.Hour)}),
		InsightRecord(t, "insight-1", Now),
	)
}

// LookupResp is a LookupEvents response.
type LookupResp struct {
	Events []struct {
		EventId, EventName, ReadOnly, AccessKeyId, EventSource, Username, CloudTrailEvent string
		EventTime                                                                         float64
		Resources                                                                         []struct{ ResourceType, ResourceName string }
	}
	NextToken string
}

// DecodeLookup decodes a LookupEvents response, failing t unless status
// is 200 and body decodes.
func DecodeLookup(t testing.TB, status int, body string) LookupResp {
	t.Helper()
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var r LookupResp
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("bad body: %v: %s", err, body)
	}
	return r
}

// EDSARN is the event data store channels of the tests deliver to.
const EDSARN = "arn:aws:cloudtrail:eu-central-1:210987654321:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"

// ChannelBody is a CreateChannel request for a Custom channel named name
// delivering to EDSARN.
func ChannelBody(name string) string {
	return fmt.Sprintf(`{"Name":%q,"Source":"Custom","Destinations":[{"Type":"EVENT_DATA_STORE","Location":%q}]}`, name, EDSARN)
}

// CreateChannel creates the channel name as account/region through r and
// returns its ARN, failing t when that does not succeed.
func CreateChannel(t testing.TB, r *awsapi.Router, account, region, name string) string {
	t.Helper()
	status, body := CallRouter(r, account, region, "CreateChannel", ChannelBody(name))
	if status != 200 {
		t.Fatalf("CreateChannel: %d %s", status, body)
	}
	var out struct{ ChannelArn string }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return out.ChannelArn
}

// TrailARNA is the ARN of the trail "audit" of AcctA in RegionA.
const TrailARNA = "arn:aws:cloudtrail:eu-central-1:210987654321:trail/audit"

// TrailBody is a CreateTrail request for the trail name delivering to the
// bucket audit-logs; extra is appended to its members (",..." or "").
func TrailBody(name string, extra string) string {
	return fmt.Sprintf(`{"Name":%q,"S3BucketName":"audit-logs"%s}`, name, extra)
}

// CreateTrail sends CreateTrail with body as account/region through r,
// failing t when that does not succeed.
func CreateTrail(t testing.TB, r *awsapi.Router, account, region, body string) {
	t.Helper()
	if status, out := CallRouter(r, account, region, "CreateTrail", body); status != 200 {
		t.Fatalf("CreateTrail %s: %d %s", body, status, out)
	}
}

// Buckets opens the buckets it names: an empty in-memory bucket for a nil
// error, else the error; objstore.ErrNoSuchBucket for any other name.
type Buckets map[string]error

// Bucket opens the bucket name.
func (f Buckets) Bucket(_ context.Context, name string) (objstore.Bucket, error) {
	if err, ok := f[name]; ok {
		if err != nil {
			return nil, err
		}
		return objstore.NewMemory(), nil
	}
	return nil, fmt.Errorf("bucket %s: %w", name, objstore.ErrNoSuchBucket)
}

// Delivery is trail delivery that reports Statuses and records what the
// service asks of it. Tests read Forgot and Wakes once the calls they
// check have returned.
type Delivery struct {
	mu       sync.Mutex
	Statuses map[string]trail.Status // by trail ARN
	Forgot   []string                // the ARNs passed to Forget
	Wakes    int                     // calls to Wake
}

// Status returns Statuses[arn].
func (f *Delivery) Status(_ context.Context, arn string) (trail.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Statuses[arn], nil
}

// Forget records arn in Forgot.
func (f *Delivery) Forget(_ context.Context, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Forgot = append(f.Forgot, arn)
	return nil
}

// Wake counts the call in Wakes.
func (f *Delivery) Wake() { f.mu.Lock(); f.Wakes++; f.mu.Unlock() }
