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
	getObject := mustRecord(t, "s3.amazonaws.com", "GetObject", "Data", true, "AWS::S3::Object", "arn:aws:s3:::logs-bucket/app/2024/x.gz", `,"sessionCredentialFromConsole":"true"`)
	putObject := mustRecord(t, "s3.amazonaws.com", "PutObject", "Data", false, "AWS::S3::Object", "arn:aws:s3:::other-bucket/y", "")
	invoke := mustRecord(t, "lambda.amazonaws.com", "Invoke", "Data", false, "AWS::Lambda::Function", "arn:aws:lambda:us-east-1:111122223333:function:f", "")
	console := mustRecord(t, "s3.amazonaws.com", "ListBuckets", "Management", true, "", "", `,"sessionCredentialFromConsole":"true"`)
	vpceDenied := mustRecord(t, "ec2.amazonaws.com", "GetConsoleOutput", "NetworkActivity", true, "", "", `,"errorCode":"VpceAccessDenied","vpcEndpointId":"vpce-0abc"`)
	all := []*event.Record{descInstances, runInstances, kmsDecrypt, getObject, putObject, invoke, console, vpceDenied}
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
		{"advanced: management not kms", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Management"}}, {Field: "eventSource", NotEquals: []string{"kms.amazonaws.com"}}}}}}, "DescribeInstances,RunInstances,ListBuckets"},
		{"advanced: management writes", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Management"}}, {Field: "readOnly", Equals: []string{"false"}}}}}}, "RunInstances"},
		{"advanced: data, names ending Object", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.type", Equals: []string{"AWS::S3::Object"}}, {Field: "eventName", EndsWith: []string{"Object"}}}}}}, "GetObject,PutObject"},
		{"advanced: ARN prefix and NotStartsWith", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.type", Equals: []string{"AWS::S3::Object"}},
			{Field: "resources.ARN", StartsWith: []string{"arn:aws:s3:::"}, NotStartsWith: []string{"arn:aws:s3:::other-"}}}}}}, "GetObject"},
		{"advanced: console sessions", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.type", Equals: []string{"AWS::S3::Object"}},
			{Field: "sessionCredentialFromConsole", Equals: []string{"true"}}}}}}, "GetObject"},
		{"advanced: network activity", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
			{Field: "eventCategory", Equals: []string{"NetworkActivity"}}, {Field: "eventSource", Equals: []string{"ec2.amazonaws.com"}},
			{Field: "errorCode", Equals: []string{"VpceAccessDenied"}}}}}}, "GetConsoleOutput"},
		{"advanced: two selectors OR", trail.Selectors{Advanced: []trail.AdvancedEventSelector{
			{FieldSelectors: []trail.AdvancedFieldSelector{{Field: "eventCategory", Equals: []string{"Management"}}, {Field: "readOnly", Equals: []string{"true"}},
				{Field: "eventSource", NotEquals: []string{"kms.amazonaws.com"}}}},
			{FieldSelectors: []trail.AdvancedFieldSelector{{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.type", Equals: []string{"AWS::Lambda::Function"}}}}}}, "DescribeInstances,Invoke,ListBuckets"},
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
	type fs = trail.AdvancedFieldSelector
	adv := func(f ...fs) trail.Selectors {
		return trail.Selectors{Advanced: []trail.AdvancedEventSelector{{FieldSelectors: f}}}
	}
	mgmt := fs{Field: "eventCategory", Equals: []string{"Management"}}
	data := fs{Field: "eventCategory", Equals: []string{"Data"}}
	s3 := fs{Field: "resources.type", Equals: []string{"AWS::S3::Object"}}
	network := fs{Field: "eventCategory", Equals: []string{"NetworkActivity"}}
	cases := []struct {
		name string
		sel  trail.Selectors
		want string
	}{
		{"both kinds", trail.Selectors{Basic: []trail.EventSelector{{}}, Advanced: []trail.AdvancedEventSelector{{FieldSelectors: []fs{mgmt}}}}, "both"},
		{"six selectors", trail.Selectors{Basic: six}, "at most 5"},
		{"bad read/write type", trail.Selectors{Basic: []trail.EventSelector{{ReadWriteType: "Sometimes"}}}, "ReadWriteType"},
		{"exclude s3", trail.Selectors{Basic: []trail.EventSelector{{ExcludeManagementEventSources: []string{"s3.amazonaws.com"}}}}, "ExcludeManagementEventSources"},
		{"unknown data type", trail.Selectors{Basic: []trail.EventSelector{{DataResources: []trail.DataResource{{Type: "AWS::EC2::Instance", Values: []string{"x"}}}}}}, "not a supported data resource type"},
		{"bad value", trail.Selectors{Basic: []trail.EventSelector{{DataResources: []trail.DataResource{{Type: "AWS::S3::Object", Values: []string{"bucket/x"}}}}}}, "not valid"},
		{"251 data resources", trail.Selectors{Basic: []trail.EventSelector{{DataResources: []trail.DataResource{{Type: "AWS::S3::Object", Values: many}}}}}, "at most 250"},

		// Advanced selectors, one case per rule.
		{"no field selectors", adv(), "no FieldSelectors"},
		{"name too long", trail.Selectors{Advanced: []trail.AdvancedEventSelector{{Name: strings.Repeat("n", 1001), FieldSelectors: []fs{mgmt}}}}, "longer than 1000"},
		{"malformed field", adv(mgmt, fs{Field: "event-name", Equals: []string{"x"}}), `Field "event-name" is not valid`},
		{"no eventCategory", adv(fs{Field: "eventName", Equals: []string{"x"}}), "must have a field selector for eventCategory"},
		{"eventCategory Bogus", adv(fs{Field: "eventCategory", Equals: []string{"Bogus"}}), `eventCategory "Bogus" is not valid`},
		{"eventCategory of event data stores", adv(fs{Field: "eventCategory", Equals: []string{"Insight"}}), "only for event data stores"},
		{"eventCategory NotEquals", adv(fs{Field: "eventCategory", NotEquals: []string{"Data"}}), "only the Equals operator"},
		{"eventCategory two values", adv(fs{Field: "eventCategory", Equals: []string{"Management", "Data"}}), "exactly one value"},
		{"eventCategory twice", adv(mgmt, mgmt), "more than one field selector for eventCategory"},
		{"readOnly maybe", adv(mgmt, fs{Field: "readOnly", Equals: []string{"maybe"}}), `"maybe" is not a valid value for field readOnly; use true or false`},
		{"readOnly StartsWith", adv(mgmt, fs{Field: "readOnly", StartsWith: []string{"t"}}), "only the Equals operator"},
		{"readOnly both values", adv(mgmt, fs{Field: "readOnly", Equals: []string{"true", "false"}}), "exactly one value"},
		{"unknown field", adv(mgmt, fs{Field: "awsRegion", Equals: []string{"x"}}), "Field awsRegion is not supported for Management events"},
		{"eventName on management", adv(mgmt, fs{Field: "eventName", Equals: []string{"x"}}), "Field eventName is not supported for Management events"},
		{"management eventSource Equals", adv(mgmt, fs{Field: "eventSource", Equals: []string{"kms.amazonaws.com"}}), "only the NotEquals operator"},
		{"management eventSource other service", adv(mgmt, fs{Field: "eventSource", NotEquals: []string{"s3.amazonaws.com"}}), "use kms.amazonaws.com or rdsdata.amazonaws.com"},
		{"data without resources.type", adv(data, fs{Field: "eventName", Equals: []string{"GetObject"}}), "Data events need a field selector for resources.type"},
		{"resources.type StartsWith", adv(data, fs{Field: "resources.type", StartsWith: []string{"AWS::S3"}}), "only the Equals operator"},
		{"resources.type two types", adv(data, fs{Field: "resources.type", Equals: []string{"AWS::S3::Object", "AWS::Lambda::Function"}}), "exactly one value"},
		{"resources.type not a type", adv(data, fs{Field: "resources.type", Equals: []string{"s3 objects"}}), "not a resource type"},
		{"errorCode on data", adv(data, s3, fs{Field: "errorCode", Equals: []string{"AccessDenied"}}), "Field errorCode is not supported for Data events"},
		{"network without eventSource", adv(network, fs{Field: "eventName", Equals: []string{"x"}}), "NetworkActivity events need a field selector for eventSource"},
		{"network errorCode", adv(network, fs{Field: "eventSource", Equals: []string{"s3.amazonaws.com"}}, fs{Field: "errorCode", Equals: []string{"AccessDenied"}}), "use VpceAccessDenied"},
		{"network readOnly", adv(network, fs{Field: "eventSource", Equals: []string{"s3.amazonaws.com"}}, fs{Field: "readOnly", Equals: []string{"true"}}), "Field readOnly is not supported for NetworkActivity"},
		{"empty operator", adv(data, s3, fs{Field: "eventName", Equals: []string{}}), "at least one value"},
		{"no operator", adv(data, s3, fs{Field: "eventName"}), "has no operator"},
		{"empty value", adv(data, s3, fs{Field: "eventName", Equals: []string{""}}), "1 to 2048 characters"},
		{"501 values", adv(data, s3, fs{Field: "resources.ARN", StartsWith: many, NotStartsWith: many}), "at most 500"},
	}
	for _, c := range cases {
		err := c.sel.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}

	// What AWS documents as valid stays valid; resource types are an open
	// list (AWS adds types every quarter).
	valid := []trail.Selectors{
		adv(mgmt),
		adv(mgmt, fs{Field: "readOnly", Equals: []string{"true"}}, fs{Field: "eventSource", NotEquals: []string{"kms.amazonaws.com", "rdsdata.amazonaws.com"}}),
		adv(data, fs{Field: "resources.type", Equals: []string{"AWS::DynamoDB::Stream"}}),
		adv(data, fs{Field: "resources.type", Equals: []string{"AWS::S3Express::Object"}}, fs{Field: "resources.ARN", NotStartsWith: []string{"arn:aws:s3express:"}},
			fs{Field: "eventName", NotEquals: []string{"GetObject"}}, fs{Field: "readOnly", Equals: []string{"false"}}, fs{Field: "userIdentity.arn", EndsWith: []string{"/ci"}}),
		adv(network, fs{Field: "eventSource", Equals: []string{"cloudtrail.amazonaws.com"}}, fs{Field: "errorCode", Equals: []string{"VpceAccessDenied"}},
			fs{Field: "vpcEndpointId", NotEquals: []string{"vpce-1"}}),
		{Advanced: make([]trail.AdvancedEventSelector, 8)}, // filled below: more than 5 advanced selectors is fine
	}
	for i := range valid[len(valid)-1].Advanced {
		valid[len(valid)-1].Advanced[i] = trail.AdvancedEventSelector{FieldSelectors: []fs{data, s3}}
	}
	for i, sel := range valid {
		if err := sel.Validate(); err != nil {
			t.Errorf("valid[%d]: %v", i, err)
		}
	}
}
