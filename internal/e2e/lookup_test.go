package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtraildata"
	datatypes "github.com/aws/aws-sdk-go-v2/service/cloudtraildata/types"
)

func ctClient(s *server, akid, region string) *cloudtrail.Client {
	return cloudtrail.New(cloudtrail.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.url),
		Credentials:  aws.NewCredentialsCache(credProvider(akid)),
	})
}

func dataClient(s *server, akid, region string) *cloudtraildata.Client {
	return cloudtraildata.New(cloudtraildata.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.url),
		Credentials:  aws.NewCredentialsCache(credProvider(akid)),
	})
}

type credProvider string

func (c credProvider) Retrieve(context.Context) (aws.Credentials, error) {
	return creds(string(c)), nil
}

// seed stores a known mix of events and returns the server.
func seedServer(t *testing.T) *server {
	s := startServer(t, "")
	now := time.Now().UTC().Truncate(time.Second)
	var recs [][]byte
	for i := 0; i < 3000; i++ {
		o := recOpts{id: uuid("seed", i), t: now.Add(-time.Duration(i) * time.Second), readOnly: true}
		switch i % 10 {
		case 0:
			o.name, o.source, o.readOnly = "ConsoleLogin", "signin.amazonaws.com", false
		case 1:
			o.region = "eu-west-1"
		case 2:
			o.account = "111122223333"
		case 3:
			o.category = "Data"
			o.name, o.source = "GetObject", "s3.amazonaws.com"
		case 4:
			o.user, o.key = "bob", "AKIAEXAMPLEKEY000002"
			o.name, o.readOnly = "CreateUser", false
			o.source = "iam.amazonaws.com"
			o.resources = `[{"ARN":"arn:aws:iam::000000000000:user/carol","accountId":"000000000000","type":"AWS::IAM::User"}]`
		}
		recs = append(recs, record(o))
	}
	for i := 0; i < len(recs); i += 1000 {
		acc, dup := s.postEvents(t, "test", recs[i:i+1000])
		if acc != 1000 || dup != 0 {
			t.Fatalf("accepted %d duplicates %d", acc, dup)
		}
	}
	// A retry of the same batch stores nothing.
	if acc, dup := s.postEvents(t, "test", recs[:1000]); acc != 0 || dup != 1000 {
		t.Fatalf("retry: accepted %d duplicates %d", acc, dup)
	}
	return s
}

func lookupAll(t *testing.T, c *cloudtrail.Client, in *cloudtrail.LookupEventsInput) []types.Event {
	t.Helper()
	var out []types.Event
	p := cloudtrail.NewLookupEventsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Events...)
	}
	return out
}

func attr(k types.LookupAttributeKey, v string) []types.LookupAttribute {
	return []types.LookupAttribute{{AttributeKey: k, AttributeValue: aws.String(v)}}
}

func TestLookupEventsSDK(t *testing.T) {
	s := seedServer(t)
	c := ctClient(s, "test", "us-east-1")
	cases := []struct {
		name  string
		attrs []types.LookupAttribute
		want  int
	}{
		// 3000 seeded: 300 each in eu-west-1, account 1111…, Data; 2100 management events here.
		{"no attribute", nil, 2100},
		{"EventName", attr(types.LookupAttributeKeyEventName, "ConsoleLogin"), 300},
		{"EventSource", attr(types.LookupAttributeKeyEventSource, "iam.amazonaws.com"), 300},
		{"ReadOnly", attr(types.LookupAttributeKeyReadOnly, "false"), 600},
		{"Username", attr(types.LookupAttributeKeyUsername, "bob"), 300},
		{"AccessKeyId", attr(types.LookupAttributeKeyAccessKeyId, "AKIAEXAMPLEKEY000002"), 300},
		{"ResourceType", attr(types.LookupAttributeKeyResourceType, "AWS::IAM::User"), 300},
		{"ResourceName", attr(types.LookupAttributeKeyResourceName, "arn:aws:iam::000000000000:user/carol"), 300},
		{"EventId", attr(types.LookupAttributeKeyEventId, uuid("seed", 5)), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &cloudtrail.LookupEventsInput{LookupAttributes: tc.attrs, StartTime: aws.Time(time.Now().Add(-24 * time.Hour))}
			evs := lookupAll(t, c, in)
			if len(evs) < tc.want {
				t.Fatalf("got %d events, want %d", len(evs), tc.want)
			}
			// Self-audit records of these very calls may add a few to unfiltered lookups.
			seeded := 0
			for i, e := range evs {
				if i > 0 && e.EventTime.After(*evs[i-1].EventTime) {
					t.Fatalf("not newest first at %d", i)
				}
				if strings.HasPrefix(aws.ToString(e.EventId), uuid("seed", 0)[:8]) {
					seeded++
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec); err != nil {
					t.Fatalf("CloudTrailEvent is not a JSON record: %v", err)
				}
				if rec["eventID"] != aws.ToString(e.EventId) || rec["awsRegion"] != "us-east-1" {
					t.Fatalf("event %s does not match its record", aws.ToString(e.EventId))
				}
			}
			if seeded != tc.want {
				t.Fatalf("got %d seeded events, want %d", seeded, tc.want)
			}
		})
	}

	t.Run("time range", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Second)
		evs := lookupAll(t, c, &cloudtrail.LookupEventsInput{
			StartTime: aws.Time(now.Add(-109 * time.Second)), EndTime: aws.Time(now.Add(-100 * time.Second)),
			LookupAttributes: attr(types.LookupAttributeKeyEventName, "DescribeInstances")})
		// seconds 100..109 ago: i%10 in {5..9} are DescribeInstances in this account & region
		if len(evs) != 5 {
			t.Fatalf("got %d, want 5", len(evs))
		}
	})

	t.Run("region and account isolation", func(t *testing.T) {
		eu := lookupAll(t, ctClient(s, "test", "eu-west-1"), &cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyEventName, "DescribeInstances")})
		if len(eu) != 300 {
			t.Fatalf("eu-west-1: %d events, want 300", len(eu))
		}
		other := lookupAll(t, ctClient(s, "111122223333", "us-east-1"), &cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyEventName, "DescribeInstances")})
		if len(other) != 300 {
			t.Fatalf("account 111122223333: %d events, want 300", len(other))
		}
		for _, e := range other {
			if !strings.Contains(aws.ToString(e.CloudTrailEvent), `"recipientAccountId":"111122223333"`) {
				t.Fatalf("foreign event leaked: %s", aws.ToString(e.CloudTrailEvent))
			}
		}
	})

	t.Run("validation errors", func(t *testing.T) {
		ctx := context.Background()
		var (
			la  *types.InvalidLookupAttributesException
			tr  *types.InvalidTimeRangeException
			mr  *types.InvalidMaxResultsException
			nt  *types.InvalidNextTokenException
			cat *types.InvalidEventCategoryException
		)
		checks := []struct {
			name string
			in   *cloudtrail.LookupEventsInput
			want any
		}{
			{"two attributes", &cloudtrail.LookupEventsInput{LookupAttributes: append(attr(types.LookupAttributeKeyEventName, "a"), attr(types.LookupAttributeKeyUsername, "b")...)}, &la},
			{"bad key", &cloudtrail.LookupEventsInput{LookupAttributes: attr("Bogus", "x")}, &la},
			{"start after end", &cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now()), EndTime: aws.Time(time.Now().Add(-time.Hour))}, &tr},
			{"max results 51", &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, &mr},
			{"garbled token", &cloudtrail.LookupEventsInput{NextToken: aws.String("garbage")}, &nt},
			{"bad category", &cloudtrail.LookupEventsInput{EventCategory: "management"}, &cat},
		}
		for _, ch := range checks {
			_, err := c.LookupEvents(ctx, ch.in)
			if err == nil || !errors.As(err, ch.want) {
				t.Errorf("%s: err = %v, want %T", ch.name, err, ch.want)
			}
		}
		// A token reused with other parameters is refused.
		page, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(5)})
		if err != nil || page.NextToken == nil {
			t.Fatalf("first page: %v", err)
		}
		_, err = c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(5), NextToken: page.NextToken,
			LookupAttributes: attr(types.LookupAttributeKeyEventName, "ConsoleLogin")})
		if !errors.As(err, &nt) {
			t.Errorf("token with other parameters: err = %v", err)
		}
	})

	t.Run("self-audit", func(t *testing.T) {
		// Read-only calls' records are committed after the call is answered,
		// so look until both have arrived (or the deadline passes).
		var evs []types.Event
		var ok, failed bool
		for deadline := time.Now().Add(10 * time.Second); !(ok && failed) && time.Now().Before(deadline); {
			evs = lookupAll(t, c, &cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyEventSource, "cloudtrail.amazonaws.com")})
			for _, e := range evs {
				var rec struct {
					EventName, ErrorCode, SourceIPAddress, UserAgent string
					ReadOnly                                         *bool
					UserIdentity                                     struct{ AccountID, AccessKeyID, Type string }
				}
				json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec)
				if rec.EventName != "LookupEvents" || rec.UserIdentity.AccessKeyID != "test" || rec.UserIdentity.AccountID != "000000000000" ||
					rec.SourceIPAddress != "127.0.0.1" || rec.ReadOnly == nil || !*rec.ReadOnly || aws.ToString(e.ReadOnly) != "true" {
					continue
				}
				if rec.ErrorCode == "" {
					ok = true
				}
				if rec.ErrorCode == "InvalidLookupAttributesException" {
					failed = true
				}
			}
			if !(ok && failed) {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if !ok || !failed {
			t.Fatalf("self-audit records of LookupEvents missing (ok=%v failed=%v) among %d", ok, failed, len(evs))
		}
	})
}

func TestPutAuditEventsSDK(t *testing.T) {
	s := startServer(t, "")
	ctx := context.Background()
	ct := ctClient(s, "test", "us-east-1")
	ch, err := ct.CreateChannel(ctx, &cloudtrail.CreateChannelInput{
		Name: aws.String("my-app"), Source: aws.String("Custom"),
		Destinations: []types.Destination{{Type: types.DestinationTypeEventDataStore, Location: aws.String("arn:aws:cloudtrail:us-east-1:000000000000:eventdatastore/00000000-0000-4000-8000-000000000001")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dc := dataClient(s, "test", "us-east-1")
	eventData := func(uid, name string) string {
		return `{"version":"1.0","userIdentity":{"type":"CustomUser","principalId":"dev-7","details":{"team":"payments"}},"eventSource":"payments.example.com","eventName":"` + name +
			`","eventTime":"` + time.Now().UTC().Add(-time.Minute).Format(time.RFC3339) + `","UID":"` + uid + `","recipientAccountId":"000000000000","sourceIPAddress":"203.0.113.5","userAgent":"payments/1.0","requestParameters":{"amount":5}}`
	}
	in := &cloudtraildata.PutAuditEventsInput{
		ChannelArn: ch.ChannelArn,
		AuditEvents: []datatypes.AuditEvent{
			{Id: aws.String("a1"), EventData: aws.String(eventData("uid-1", "Refund"))},
			{Id: aws.String("a2"), EventData: aws.String(`{"version":"1.0"}`)},
		},
	}
	out, err := dc.PutAuditEvents(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 1 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "a2" {
		t.Fatalf("successful %v failed %v", out.Successful, out.Failed)
	}
	// A retry is idempotent: same eventID, nothing stored twice.
	out2, err := dc.PutAuditEvents(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out2.Successful[0].EventID) != aws.ToString(out.Successful[0].EventID) {
		t.Fatalf("retry got eventID %s, first %s", aws.ToString(out2.Successful[0].EventID), aws.ToString(out.Successful[0].EventID))
	}
	evs := lookupAll(t, ct, &cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyEventSource, "payments.example.com")})
	if len(evs) != 1 || aws.ToString(evs[0].EventName) != "Refund" {
		t.Fatalf("lookup of PutAuditEvents event: %+v", evs)
	}
	var nf *datatypes.ChannelNotFound
	_, err = dc.PutAuditEvents(ctx, &cloudtraildata.PutAuditEventsInput{ChannelArn: aws.String("arn:aws:cloudtrail:us-east-1:000000000000:channel/00000000-0000-0000-0000-000000000000"),
		AuditEvents: in.AuditEvents[:1]})
	if !errors.As(err, &nf) {
		t.Fatalf("unknown channel: %v", err)
	}
}
