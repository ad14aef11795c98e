package trail_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/trail"
)

func mustRecord(t *testing.T, source, name, category string, readOnly bool, resType, resARN string, extra string) *event.Record {
	t.Helper()
	mgmt := category == "Management"
	res := "[]"
	if resType != "" {
		res = fmt.Sprintf(`[{"type":%q,"ARN":%q}]`, resType, resARN)
	}
	raw := fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"eventTime":"2024-05-06T07:00:00Z","eventSource":%q,"eventName":%q,"awsRegion":"us-east-1","sourceIPAddress":"198.51.100.1","requestParameters":null,"responseElements":null,"eventID":"e-%s-%s","readOnly":%t,"resources":%s,"eventType":"AwsApiCall","managementEvent":%t,"recipientAccountId":"111122223333","eventCategory":%q%s}`,
		source, name, source, name, readOnly, res, mgmt, category, extra)
	r, err := event.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	return r
}

func TestSelectorsMatch(t *testing.T) {
	f := false
	descInstances := mustRecord(t, "ec2.amazonaws.com", "DescribeInstances", "Management", true, "", "", "")
	runInstances := mustRecord(t, "ec2.amazonaws.com", "RunInstances", "Management", false, "", "", "")
	kmsDecrypt := mustRecord(t, "kms.amazonaws.com", "Decrypt", "Management", true, "", "", "")
	getObject := mustRecord(t, "s3.amazonaws.com", "GetObject", "Data", true, "AWS::S3::Object", "arn:aws:s3:::logs-bucket/app/2024/x.gz", "")
	putObject := mustRecord(t, "s3.amazonaws.com", "PutObject", "Data", false, "AWS::S3::Object", "arn:aws:s3:::other-bucket/y", "")
	invoke := mustRecord(t, "lambda.amazonaws.com", "Invoke", "Data", false, "AWS::Lambda::Function", "arn:aws:lambda:us-east-1:111122223333:function:f", "")
	console := mustRecord(t, "s3.amazonaws.com", "ListBuckets", "Management", true, "", "", `,"sessionCredentialFromConsole":"true"`)
	all := []*event.Record{descInstances, runInstances, kmsDecrypt, getObject, putObject, invoke, console}
	names := func(s trail.Selectors) string {
		var out []string
		for _, r := range all {
			if s.Match(r) {
				out = append(out, r.EventName)
			}
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name string
		sel  trail.Selectors
		want string
	}{
		{"default", trail.Selectors{}, "DescribeInstances,RunInstances,Decrypt,ListBuckets"},
		{"write-only management", trail.Selectors{Basic: []trail.EventSelector{{ReadWriteType: "WriteOnly"}}}, "RunInstances"},
		{"read-only management", trail.Selectors{Basic: []trail.EventSelector{{ReadWriteType: "ReadOnly"}}}, "DescribeInstances,Decrypt,ListBuckets"},
		{"exclude kms", trail.Selectors{Basic: []trail.EventSelector{{ExcludeManagementEventSources: []string{"kms.amazonaws.com"}}}}, "DescribeInstances,RunInstances,ListBuckets"},
		{"s3 prefix, no management", trail.Selectors{Basic: []trail.EventSelector{{IncludeManagementEvents: &f,
			DataResources: []trail.DataResource{{Type: "AWS::S3::Object", Values: []string{"arn:aws:s3:::logs-bucket/app/"}}}}}}, "GetObject"},
		{"all s3 and all lambda", trail.Selectors{Basic: []trail.EventSelector{{IncludeManagementEvents: &f,
			DataResources: []trail.DataResource{{Type: "AWS::S3::Object", Values: []string{"arn:aws:s3"}}, {Type: "AWS::Lambda::Function", Values: []string{"arn:aws:lambda"}}}}}}, "GetObject,PutObject,Invoke"},
		{"advanced: data S3 writes", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.type", Equals: []string{"AWS::S3::Object"}}, {Field: "readOnly", Equals: []string{"false"}}}}}}, "PutObject"},
		{"advanced: management not kms, names ending Instances", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Management"}}, {Field: "eventSource", NotEquals: []string{"kms.amazonaws.com"}}, {Field: "eventName", EndsWith: []string{"Instances"}}}}}}, "DescribeInstances,RunInstances"},
		{"advanced: ARN prefix and NotStartsWith", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.ARN", StartsWith: []string{"arn:aws:s3:::"}, NotStartsWith: []string{"arn:aws:s3:::other-"}}}}}}, "GetObject"},
		{"advanced: console sessions", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Management"}}, {Field: "sessionCredentialFromConsole", Equals: []string{"true"}}}}}}, "ListBuckets"},
		{"advanced: two selectors OR", trail.Selectors{Advanced: []trail.AdvancedEventSelector{
			{FieldSelectors: []trail.AdvancedFieldSelector{{Field: "eventCategory", Equals: []string{"Management"}}, {Field: "eventName", Equals: []string{"Decrypt"}}}},
			{FieldSelectors: []trail.AdvancedFieldSelector{{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "eventName", Equals: []string{"Invoke"}}}}}}, "Decrypt,Invoke"},
	}
	for _, c := range cases {
		if err := c.sel.Validate(); err != nil {
			t.Fatalf("%s: Validate: %v", c.name, err)
		}
		if got := names(c.sel); got != c.want {
			t.Errorf("%s: selected %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSelectorsValidate(t *testing.T) {
	six := make([]trail.EventSelector, 6)
	many := make([]string, 251)
	for i := range many {
		many[i] = fmt.Sprintf("arn:aws:s3:::b/%d", i)
	}
	cat := trail.AdvancedFieldSelector{Field: "eventCategory", Equals: []string{"Management"}}
	cases := []struct {
		name string
		sel  trail.Selectors
		want string
	}{
		{"both kinds", trail.Selectors{Basic: []trail.EventSelector{{}}, Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{cat}}}}, "both"},
		{"six selectors", trail.Selectors{Basic: six}, "at most 5"},
		{"bad read/write type", trail.Selectors{Basic: []trail.EventSelector{{ReadWriteType: "Sometimes"}}}, "ReadWriteType"},
		{"exclude s3", trail.Selectors{Basic: []trail.EventSelector{{ExcludeManagementEventSources: []string{"s3.amazonaws.com"}}}}, "ExcludeManagementEventSources"},
		{"unknown data type", trail.Selectors{Basic: []trail.EventSelector{{DataResources: []trail.DataResource{{Type: "AWS::EC2::Instance", Values: []string{"x"}}}}}}, "not a supported data resource type"},
		{"bad value", trail.Selectors{Basic: []trail.EventSelector{{DataResources: []trail.DataResource{{Type: "AWS::S3::Object", Values: []string{"bucket/x"}}}}}}, "not valid"},
		{"251 data resources", trail.Selectors{Basic: []trail.EventSelector{{DataResources: []trail.DataResource{{Type: "AWS::S3::Object", Values: many}}}}}, "at most 250"},
		{"no eventCategory", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{{Field: "eventName", Equals: []string{"x"}}}}}}, "eventCategory"},
		{"StartsWith on readOnly", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{cat, {Field: "readOnly", StartsWith: []string{"t"}}}}}}, "only the Equals"},
		{"unknown field", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{cat, {Field: "awsRegion", Equals: []string{"x"}}}}}}, "not a supported field"},
		{"empty operator", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{cat, {Field: "eventName", Equals: []string{}}}}}}, "at least one value"},
		{"501 values", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{cat, {Field: "eventName", Equals: many, NotEquals: many}}}}}, "at most 500"},
	}
	for _, c := range cases {
		err := c.sel.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}
