package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailwire"
	"github.com/opentrail/opentrail/internal/trail"
)

func TestAge(t *testing.T) {
	now := time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ago  time.Duration
		want string
	}{
		{0, "0s ago"},
		{-500 * time.Millisecond, "0s ago"}, // sub-second skew is not worth a word
		{12*time.Second + 900*time.Millisecond, "12s ago"},
		{5*time.Minute + 59*time.Second, "5m ago"},
		{3 * time.Hour, "3h ago"},
		{3*time.Hour + 20*time.Minute, "3h20m ago"},
		{47 * time.Hour, "47h ago"},
		{50 * time.Hour, "2d ago"},
		{-3 * time.Second, "in 3s"},
		{-2 * time.Hour, "in 2h"},
	} {
		if got := age(now.Add(-c.ago), now); got != c.want {
			t.Errorf("age(now-%v) = %q, want %q", c.ago, got, c.want)
		}
	}
}

func TestWithMember(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"Name":"a","B":true}`, `{"Name":"a","B":true,"Status":{"IsLogging":true}}`},
		{` {} `, `{"Status":{"IsLogging":true}}`},
		{"{\n}", "{\n" + `"Status":{"IsLogging":true}}`},
	} {
		got, err := withMember(json.RawMessage(c.in), "Status", json.RawMessage(`{"IsLogging":true}`))
		if err != nil || string(got) != c.want {
			t.Errorf("withMember(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":}`} {
		if _, err := withMember(json.RawMessage(bad), "Status", json.RawMessage(`1`)); err == nil {
			t.Errorf("withMember(%q) succeeded", bad)
		}
	}
}

func TestDescribeSelectors(t *testing.T) {
	no := false
	for _, c := range []struct {
		sel  trail.EventSelector
		want string
	}{
		{trail.EventSelector{ReadWriteType: "All"}, "read and write events; management events: yes; data events: none"},
		{trail.EventSelector{ReadWriteType: "ReadOnly", IncludeManagementEvents: &no, DataResources: []trail.DataResource{
			{Type: "AWS::S3::Object", Values: []string{"arn:aws:s3:::", "arn:aws:s3:::logs/app/"}},
			{Type: "AWS::DynamoDB::Table", Values: []string{"arn:aws:dynamodb"}},
		}}, "read-only events; management events: no; data events: AWS::S3::Object (all, arn:aws:s3:::logs/app/), AWS::DynamoDB::Table (all)"},
		{trail.EventSelector{ReadWriteType: "WriteOnly", ExcludeManagementEventSources: []string{"kms.amazonaws.com", "rdsdata.amazonaws.com"}},
			"write-only events; management events: yes; excluding kms.amazonaws.com, rdsdata.amazonaws.com; data events: none"},
	} {
		if got := describeBasic(c.sel); got != c.want {
			t.Errorf("describeBasic(%+v) =\n  %s\nwant\n  %s", c.sel, got, c.want)
		}
	}
	adv := trail.AdvancedEventSelector{FieldSelectors: []trail.AdvancedFieldSelector{
		{Field: "eventCategory", Equals: []string{"Data"}},
		{Field: "resources.type", Equals: []string{"AWS::Lambda::Function", "AWS::S3::Object"}},
		{Field: "eventName", NotEquals: []string{"Invoke"}, EndsWith: []string{"Object"}, NotEndsWith: []string{"Acl", "Tagging"}},
		{Field: "userIdentity.arn", NotStartsWith: []string{"arn:aws:iam::111122223333:role/ci"}},
	}}
	want := "(unnamed): eventCategory = Data and resources.type is one of AWS::Lambda::Function, AWS::S3::Object and " +
		"eventName != Invoke and eventName ends with Object and eventName ends with none of Acl, Tagging and " +
		"userIdentity.arn does not start with arn:aws:iam::111122223333:role/ci"
	if got := describeAdvanced(adv); got != want {
		t.Errorf("describeAdvanced =\n  %s\nwant\n  %s", got, want)
	}
}

func TestLogLocations(t *testing.T) {
	for _, c := range []struct {
		info             cloudtrailwire.TrailInfo
		logs, digs, note string
	}{
		{cloudtrailwire.TrailInfo{S3BucketName: "b", HomeRegion: "eu-west-1", TrailARN: "arn:aws:cloudtrail:eu-west-1:123456789012:trail/t"},
			"s3://b/AWSLogs/123456789012/CloudTrail/eu-west-1/YYYY/MM/DD/",
			"s3://b/AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/YYYY/MM/DD/", ""},
		{cloudtrailwire.TrailInfo{S3BucketName: "b", S3KeyPrefix: "p/q", HomeRegion: "us-east-1", IsMultiRegionTrail: true, IsOrganizationTrail: true,
			TrailARN: "arn:aws:cloudtrail:us-east-1:123456789012:trail/org"},
			"s3://b/p/q/AWSLogs/<organization-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/",
			"s3://b/p/q/AWSLogs/<organization-id>/<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/",
			" (a folder per region, a folder per member account)"},
	} {
		logs, digs, note := logLocations(&c.info)
		if logs != c.logs || digs != c.digs || note != c.note {
			t.Errorf("logLocations(%+v) = %q %q %q", c.info, logs, digs, note)
		}
	}
}

func TestWriteTrailTable(t *testing.T) {
	now := time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)
	rows := []trailRow{
		{info: cloudtrailwire.TrailInfo{Name: "a", HomeRegion: "us-east-1", S3BucketName: "b", S3KeyPrefix: "p", IsMultiRegionTrail: true},
			status: cloudtrailwire.GetTrailStatusOutput{IsLogging: true, DeliveredThroughTime: &awsapi.Time{Time: now.Add(-12 * time.Second)},
				LatestDeliveryError: "AccessDenied:\n the bucket policy refuses"}},
		{info: cloudtrailwire.TrailInfo{Name: "bb", HomeRegion: "eu-west-1", S3BucketName: "b"}},
	}
	var sb strings.Builder
	if err := writeTrailTable(&sb, rows, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(sb.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME  HOME REGION  MULTI-REGION") || strings.Join(strings.Fields(lines[1]), " ") != "a us-east-1 yes yes s3://b/p 12s ago AccessDenied: the bucket policy refuses" ||
		strings.Join(strings.Fields(lines[2]), " ") != "bb eu-west-1 no no s3://b - -" {
		t.Errorf("table:\n%s", sb.String())
	}
}
