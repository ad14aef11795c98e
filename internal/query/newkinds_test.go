package query_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

// Records of the newer kinds, shaped as CloudTrail documents them: a VPC
// endpoint network activity event (eventType AwsVpceEvent, category
// NetworkActivity), a data event enriched with eventContext (CloudTrail
// Lake's context key selectors) and an aggregated event.
var newKinds = []string{
	`{"eventVersion":"1.11","userIdentity":{"type":"AWSAccount","principalId":"AIDAQEXAMPLEOUTSIDE","accountId":"444455556666"},` +
		`"eventTime":"2026-03-02T10:01:12Z","eventSource":"kms.amazonaws.com","eventName":"ListKeys","awsRegion":"eu-west-1",` +
		`"sourceIPAddress":"10.0.14.27","userAgent":"aws-cli/2.22.1 md/Botocore#1.35.70 ua/2.0 os/linux#6.1","errorCode":"VpceAccessDenied",` +
		`"errorMessage":"The request was denied due to a VPC endpoint policy","requestParameters":null,"responseElements":null,` +
		`"requestID":"5f1f2a4e-8d9c-4b1a-9e3f-0a1b2c3d4e5f","eventID":"7c0d9b3e-2f6a-4e1d-8c5b-9a0f1e2d3c4b","readOnly":true,` +
		`"eventType":"AwsVpceEvent","managementEvent":false,"recipientAccountId":"210987654321","sharedEventID":"3e2d1c0b-9a8f-4e7d-6c5b-4a3f2e1d0c9b",` +
		`"vpcEndpointId":"vpce-0a1b2c3d4e5f67890","vpcEndpointAccountId":"210987654321","eventCategory":"NetworkActivity"}`,
	`{"eventVersion":"1.11","userIdentity":{"type":"AssumedRole","principalId":"AROAQEXAMPLEROLE:app","arn":"arn:aws:sts::210987654321:assumed-role/app/app",` +
		`"accountId":"210987654321","accessKeyId":"ASIAQEXAMPLEKEY00002"},"eventTime":"2026-03-02T10:02:40Z","eventSource":"s3.amazonaws.com",` +
		`"eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.9","userAgent":"aws-sdk-go-v2/1.36.3",` +
		`"requestParameters":{"bucketName":"reports","key":"q1.csv"},"responseElements":null,"requestID":"AB12CD34EF56GH78",` +
		`"eventID":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::reports/q1.csv"}],` +
		`"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"210987654321","eventCategory":"Data",` +
		`"eventContext":{"requestContext":{"aws:SourceVpc":"vpc-0123456789abcdef0"},"tagContext":{"resourceTags":[{"arn":"arn:aws:s3:::reports","tags":{"env":"prod"}}]}}}`,
	`{"eventVersion":"1.0","accountId":"210987654321","eventId":"9d8c7b6a-5f4e-5d3c-8b2a-1f0e9d8c7b6a","eventCategory":"Aggregated","eventType":"AwsAggregatedEvent",` +
		`"awsRegion":"eu-west-1","eventSource":"s3.amazonaws.com","timeWindow":{"windowStart":"2026-03-02T10:00:00Z","windowEnd":"2026-03-02T10:05:00Z","windowSize":"PT5M"},` +
		`"summary":{"primaryDimension":{"dimension":"eventName","statistics":[{"name":"GetObject","value":1}],"aggregationType":"Count"},` +
		`"details":[{"dimension":"resourceARN","statistics":[{"name":"arn:aws:s3:::reports","value":1}],"aggregationType":"Count"}]}}`,
	`{"eventVersion":"1.09","userIdentity":{"type":"Root","principalId":"210987654321","arn":"arn:aws:iam::210987654321:root","accountId":"210987654321"},` +
		`"eventTime":"2026-03-02T10:03:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"eu-west-1",` +
		`"sourceIPAddress":"198.51.100.9","userAgent":"console.amazonaws.com","requestParameters":null,"responseElements":null,` +
		`"requestID":"0f9e8d7c-6b5a-4f3e-2d1c-0b9a8f7e6d5c","eventID":"2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e","readOnly":true,` +
		`"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"210987654321","eventCategory":"Management"}`,
}

var newKindQueries = []string{
	`SELECT eventCategory, eventType, eventName, vpcEndpointId, errorCode, eventTime FROM cloudtrail_events ORDER BY eventTime`,
	`SELECT eventJson->>'$.eventContext.tagContext.resourceTags[0].tags.env' AS env, eventJson->>'$.vpcEndpointAccountId' AS vpceAccount FROM cloudtrail_events ORDER BY eventTime`,
	`SELECT eventJson->>'$.eventId' AS id, eventJson->'$.summary.primaryDimension'->>'$.dimension' AS dim FROM cloudtrail_events WHERE eventCategory = 'Aggregated'`,
}

// TestNewerRecordKinds: network activity events, eventContext and
// aggregated events are stored, answer SQL the same from both tiers, come
// back byte for byte from the columnar tier, and stay out of the
// management-only history LookupEvents reads.
func TestNewerRecordKinds(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var recs []*event.Record
	for _, raw := range newKinds {
		r, err := event.Parse([]byte(raw))
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		recs = append(recs, r)
	}
	if got := []string{recs[0].EventCategory, recs[1].EventCategory, recs[2].EventCategory}; !reflect.DeepEqual(got, []string{"NetworkActivity", "Data", "Aggregated"}) {
		t.Fatalf("categories %v", got)
	}
	if _, err := st.Append(ctx, recs, time.Date(2026, 3, 2, 10, 10, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	run := func() [][][]string {
		var out [][][]string
		for _, q := range newKindQueries {
			res, err := query.Run(ctx, st, q, query.Options{AllAccounts: true})
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out = append(out, res.Rows)
		}
		return out
	}
	before := run()
	want := [][][]string{
		{{"Aggregated", "AwsAggregatedEvent", "", "", "", "2026-03-02 10:00:00.000"},
			{"NetworkActivity", "AwsVpceEvent", "ListKeys", "vpce-0a1b2c3d4e5f67890", "VpceAccessDenied", "2026-03-02 10:01:12.000"},
			{"Data", "AwsApiCall", "GetObject", "", "", "2026-03-02 10:02:40.000"},
			{"Management", "AwsApiCall", "ListUsers", "", "", "2026-03-02 10:03:00.000"}},
		{{"", ""}, {"", "210987654321"}, {"prod", ""}, {"", ""}},
		{{"9d8c7b6a-5f4e-5d3c-8b2a-1f0e9d8c7b6a", "eventName"}},
	}
	if !reflect.DeepEqual(before, want) {
		t.Errorf("SQL over the hot tier:\n got %q\nwant %q", before, want)
	}
	if _, err := st.Compact(ctx, st.LastSeq()); err != nil {
		t.Fatal(err)
	}
	if len(st.ColdFiles()) == 0 {
		t.Fatal("nothing compacted")
	}
	if after := run(); !reflect.DeepEqual(after, before) {
		t.Errorf("SQL over the columnar tier:\n got %q\nwant %q", after, before)
	}
	evs, err := st.ReadAfter(ctx, 0, 10)
	if err != nil || len(evs) != len(newKinds) {
		t.Fatalf("read back %d events: %v", len(evs), err)
	}
	for i, ev := range evs {
		if string(ev.Rec.Raw) != newKinds[i] {
			t.Errorf("record %d from the columnar tier:\n got %s\nwant %s", i, ev.Rec.Raw, newKinds[i])
		}
	}
	// The categories LookupEvents reads (management events) hold only the
	// management event.
	got, err := st.Lookup(ctx, store.LookupQuery{Accounts: []string{"210987654321"}, Region: "eu-west-1", Categories: []string{event.CategoryManagement},
		Limit: 10, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(got) != 1 || got[0].Rec.EventName != "ListUsers" {
		t.Errorf("management lookup: %d events, %v", len(got), err)
	}
}
