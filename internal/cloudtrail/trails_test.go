package cloudtrail

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/servicetest"
)

func (e *env) createTrail(account, region, body string) {
	e.t.Helper()
	servicetest.CreateTrail(e.t, e.json, account, region, body)
}

func TestTrailLifecycle(t *testing.T) {
	e := newEnv(t, Options{})
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "CreateTrail",
		`{"Name":"audit","S3BucketName":"audit-logs","S3KeyPrefix":"ct","EnableLogFileValidation":true,`+
			`"SnsTopicName":"alerts","TagsList":[{"Key":"team","Value":"sec"}]}`)
	want := `{"Name":"audit","S3BucketName":"audit-logs","S3KeyPrefix":"ct","SnsTopicName":"alerts",` +
		`"SnsTopicARN":"arn:aws:sns:eu-central-1:210987654321:alerts","IncludeGlobalServiceEvents":true,` +
		`"IsMultiRegionTrail":false,"TrailARN":"` + servicetest.TrailARNA + `","LogFileValidationEnabled":true,"IsOrganizationTrail":false}`
	if status != 200 || body != want {
		t.Fatalf("create: %d\n got %s\nwant %s", status, body, want)
	}
	wantTrail := `{"Name":"audit","S3BucketName":"audit-logs","S3KeyPrefix":"ct","SnsTopicName":"alerts",` +
		`"SnsTopicARN":"arn:aws:sns:eu-central-1:210987654321:alerts","IncludeGlobalServiceEvents":true,` +
		`"IsMultiRegionTrail":false,"HomeRegion":"eu-central-1","TrailARN":"` + servicetest.TrailARNA + `","LogFileValidationEnabled":true,` +
		`"HasCustomEventSelectors":false,"HasInsightSelectors":false,"IsOrganizationTrail":false}`
	for _, ref := range []string{"audit", servicetest.TrailARNA} {
		status, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetTrail", fmt.Sprintf(`{"Name":%q}`, ref))
		if status != 200 || body != `{"Trail":`+wantTrail+`}` {
			t.Errorf("get %s: %d %s", ref, status, body)
		}
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "DescribeTrails", `{}`)
	if status != 200 || body != `{"trailList":[`+wantTrail+`]}` {
		t.Errorf("describe: %d %s", status, body)
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "DescribeTrails", `{"trailNameList":["audit","missing"]}`)
	if status != 200 || body != `{"trailList":[`+wantTrail+`]}` {
		t.Errorf("describe by name: %d %s", status, body)
	}

	// Not logging until StartLogging.
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetTrailStatus", `{"Name":"audit"}`)
	if want := `{"IsLogging":false,"LatestDeliveryAttemptTime":"","LatestNotificationAttemptTime":"","LatestNotificationAttemptSucceeded":"","LatestDeliveryAttemptSucceeded":"","TimeLoggingStarted":"","TimeLoggingStopped":""}`; status != 200 || body != want {
		t.Errorf("status: %d %s", status, body)
	}
	e.clock.Advance(time.Minute)
	if status, body = e.call(servicetest.AcctA, servicetest.RegionA, "StartLogging", `{"Name":"audit"}`); status != 200 || body != `{}` {
		t.Fatalf("start: %d %s", status, body)
	}
	started := servicetest.Now.Add(time.Minute)
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetTrailStatus", `{"Name":"`+servicetest.TrailARNA+`"}`)
	if want := fmt.Sprintf(`{"IsLogging":true,"StartLoggingTime":%d,"LatestDeliveryAttemptTime":"","LatestNotificationAttemptTime":"","LatestNotificationAttemptSucceeded":"","LatestDeliveryAttemptSucceeded":"","TimeLoggingStarted":"2024-05-06T12:01:00Z","TimeLoggingStopped":""}`, started.Unix()); status != 200 || body != want {
		t.Errorf("status after start: %d %s, want %s", status, body, want)
	}
	e.clock.Advance(time.Minute)
	if status, body = e.call(servicetest.AcctA, servicetest.RegionA, "StopLogging", `{"Name":"audit"}`); status != 200 || body != `{}` {
		t.Fatalf("stop: %d %s", status, body)
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetTrailStatus", `{"Name":"audit"}`)
	if want := fmt.Sprintf(`{"IsLogging":false,"StartLoggingTime":%d,"StopLoggingTime":%d,"LatestDeliveryAttemptTime":"","LatestNotificationAttemptTime":"","LatestNotificationAttemptSucceeded":"","LatestDeliveryAttemptSucceeded":"","TimeLoggingStarted":"2024-05-06T12:01:00Z","TimeLoggingStopped":"2024-05-06T12:02:00Z"}`,
		started.Unix(), started.Unix()+60); status != 200 || body != want {
		t.Errorf("status after stop: %d %s, want %s", status, body, want)
	}

	// Update keeps what is not sent.
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "UpdateTrail", `{"Name":"audit","S3KeyPrefix":"","EnableLogFileValidation":false,"KmsKeyId":"alias/ct"}`)
	want = `{"Name":"audit","S3BucketName":"audit-logs","SnsTopicName":"alerts",` +
		`"SnsTopicARN":"arn:aws:sns:eu-central-1:210987654321:alerts","IncludeGlobalServiceEvents":true,` +
		`"IsMultiRegionTrail":false,"TrailARN":"` + servicetest.TrailARNA + `","LogFileValidationEnabled":false,"KmsKeyId":"alias/ct","IsOrganizationTrail":false}`
	if status != 200 || body != want {
		t.Errorf("update: %d\n got %s\nwant %s", status, body, want)
	}

	// Other accounts see nothing, even by ARN.
	status, body = e.call(servicetest.AcctB, servicetest.RegionA, "GetTrail", `{"Name":"`+servicetest.TrailARNA+`"}`)
	servicetest.WantError(t, status, body, 400, "TrailNotFoundException", "Unknown trail: "+servicetest.TrailARNA+" for the user: "+servicetest.AcctB)
	status, body = e.call(servicetest.AcctB, servicetest.RegionA, "DescribeTrails", `{}`)
	if status != 200 || body != `{"trailList":[]}` {
		t.Errorf("describe as B: %d %s", status, body)
	}
	status, body = e.call(servicetest.AcctB, servicetest.RegionA, "ListTrails", `{}`)
	if status != 200 || body != `{"Trails":[]}` {
		t.Errorf("list as B: %d %s", status, body)
	}
	// A single-region trail is not found by name in another region.
	status, body = e.call(servicetest.AcctA, servicetest.RegionB, "GetTrail", `{"Name":"audit"}`)
	servicetest.WantError(t, status, body, 400, "TrailNotFoundException", "Unknown trail: audit for the user: "+servicetest.AcctA)

	if status, body = e.call(servicetest.AcctA, servicetest.RegionA, "DeleteTrail", `{"Name":"audit"}`); status != 200 || body != `{}` {
		t.Fatalf("delete: %d %s", status, body)
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "DeleteTrail", `{"Name":"audit"}`)
	servicetest.WantError(t, status, body, 400, "TrailNotFoundException", "Unknown trail: audit for the user: "+servicetest.AcctA)
}

func TestMultiRegionShadowTrails(t *testing.T) {
	e := newEnv(t, Options{})
	e.createTrail(servicetest.AcctA, servicetest.RegionB, servicetest.TrailBody("org-wide", `,"IsMultiRegionTrail":true`))
	e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody("local", ``))
	arn := "arn:aws:cloudtrail:us-east-1:210987654321:trail/org-wide"

	var d DescribeTrailsOutput
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "DescribeTrails", `{}`)
	if err := json.Unmarshal([]byte(body), &d); status != 200 || err != nil || len(d.TrailList) != 2 {
		t.Fatalf("describe: %d %s", status, body)
	}
	if d.TrailList[0].Name != "local" || d.TrailList[1].Name != "org-wide" || d.TrailList[1].HomeRegion != servicetest.RegionB {
		t.Errorf("describe: %s", body)
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "DescribeTrails", `{"includeShadowTrails":false}`)
	if err := json.Unmarshal([]byte(body), &d); status != 200 || err != nil || len(d.TrailList) != 1 || d.TrailList[0].Name != "local" {
		t.Errorf("describe without shadows: %d %s", status, body)
	}
	// A shadow is readable by name in any region, but only the home region
	// may change it.
	if status, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetTrailStatus", `{"Name":"org-wide"}`); status != 200 {
		t.Errorf("status of shadow: %d %s", status, body)
	}
	for _, op := range []string{"StartLogging", "StopLogging", "DeleteTrail", "UpdateTrail"} {
		status, body = e.call(servicetest.AcctA, servicetest.RegionA, op, `{"Name":"org-wide"}`)
		servicetest.WantError(t, status, body, 400, "InvalidHomeRegionException",
			"This operation must be called from the trail's home region us-east-1; the request was made in eu-central-1.")
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "PutEventSelectors", `{"TrailName":"`+arn+`","EventSelectors":[{"ReadWriteType":"ReadOnly"}]}`)
	servicetest.WantError(t, status, body, 400, "InvalidHomeRegionException",
		"This operation must be called from the trail's home region us-east-1; the request was made in eu-central-1.")
	// The name is taken in every region.
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody("org-wide", ``))
	servicetest.WantError(t, status, body, 400, "TrailAlreadyExistsException", "Trail org-wide already exists for customer: "+servicetest.AcctA)

	// ListTrails lists every region's trails with their home region.
	status, body = e.call(servicetest.AcctA, servicetest.RegionB, "ListTrails", `{}`)
	want := `{"Trails":[{"TrailARN":"` + servicetest.TrailARNA[:len(servicetest.TrailARNA)-5] + `local","Name":"local","HomeRegion":"eu-central-1"},` +
		`{"TrailARN":"` + arn + `","Name":"org-wide","HomeRegion":"us-east-1"}]}`
	if status != 200 || body != want {
		t.Errorf("list: %d\n got %s\nwant %s", status, body, want)
	}
}

func TestListTrailsPaging(t *testing.T) {
	e := newEnv(t, Options{})
	n := 0
	for r := 0; r < 11; r++ {
		for i := 0; i < maxTrailsPerRegion; i++ {
			e.createTrail(servicetest.AcctA, fmt.Sprintf("xx-test-%d", r), servicetest.TrailBody(fmt.Sprintf("t-%02d-%d", r, i), ``))
			n++
		}
	}
	seen := map[string]bool{}
	tok := ""
	pages := 0
	for {
		req := `{}`
		if tok != "" {
			req = fmt.Sprintf(`{"NextToken":%q}`, tok)
		}
		status, body := e.call(servicetest.AcctA, servicetest.RegionA, "ListTrails", req)
		var out ListTrailsOutput
		if err := json.Unmarshal([]byte(body), &out); status != 200 || err != nil {
			t.Fatalf("page %d: %d %s", pages, status, body)
		}
		pages++
		for _, s := range out.Trails {
			if seen[s.TrailARN] {
				t.Fatalf("%s twice", s.TrailARN)
			}
			seen[s.TrailARN] = true
		}
		if tok = out.NextToken; tok == "" {
			break
		}
		status, body = e.call(servicetest.AcctB, servicetest.RegionA, "ListTrails", req)
		if pages > 1 && status == 200 {
			t.Errorf("token accepted for another account: %s", body)
		}
	}
	if len(seen) != n || pages != 2 {
		t.Errorf("%d trails in %d pages, want %d in 2", len(seen), pages, n)
	}
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "ListTrails", `{"NextToken":"garbage"}`)
	servicetest.WantError(t, status, body, 400, "InvalidNextTokenException", "The NextToken is not valid.")
}

func TestEventAndInsightSelectors(t *testing.T) {
	e := newEnv(t, Options{})
	e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody("audit", ``))
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "GetEventSelectors", `{"TrailName":"audit"}`)
	want := `{"TrailARN":"` + servicetest.TrailARNA + `","EventSelectors":[{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[]}]}`
	if status != 200 || body != want {
		t.Errorf("default selectors: %d\n got %s\nwant %s", status, body, want)
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "PutEventSelectors",
		`{"TrailName":"audit","EventSelectors":[{"ReadWriteType":"WriteOnly","DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::bucket/"]}]}]}`)
	want = `{"TrailARN":"` + servicetest.TrailARNA + `","EventSelectors":[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true,` +
		`"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::bucket/"]}]}]}`
	if status != 200 || body != want {
		t.Errorf("put basic: %d\n got %s\nwant %s", status, body, want)
	}
	if _, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetEventSelectors", `{"TrailName":"`+servicetest.TrailARNA+`"}`); body != want {
		t.Errorf("get basic: %s", body)
	}
	if _, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetTrail", `{"Name":"audit"}`); !strings.Contains(body, `"HasCustomEventSelectors":true`) {
		t.Errorf("HasCustomEventSelectors not set: %s", body)
	}
	adv := `[{"Name":"writes","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["false"]},` +
		`{"Field":"eventSource","NotEquals":["kms.amazonaws.com","rdsdata.amazonaws.com"]}]}]`
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "PutEventSelectors", `{"TrailName":"audit","AdvancedEventSelectors":`+adv+`}`)
	want = `{"TrailARN":"` + servicetest.TrailARNA + `","AdvancedEventSelectors":` + adv + `}`
	if status != 200 || body != want {
		t.Errorf("put advanced: %d\n got %s\nwant %s", status, body, want)
	}
	if _, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetEventSelectors", `{"TrailName":"audit"}`); body != want {
		t.Errorf("advanced replaces basic: %s", body)
	}

	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetInsightSelectors", `{"TrailName":"audit"}`)
	servicetest.WantError(t, status, body, 400, "InsightNotEnabledException", "Trail "+servicetest.TrailARNA+" does not have Insights enabled.")
	ins := `[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight","EventCategories":["Management"]}]`
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "PutInsightSelectors", `{"TrailName":"audit","InsightSelectors":`+ins+`}`)
	want = `{"TrailARN":"` + servicetest.TrailARNA + `","InsightSelectors":` + ins + `}`
	if status != 200 || body != want {
		t.Errorf("put insights: %d %s", status, body)
	}
	if _, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetInsightSelectors", `{"TrailName":"audit"}`); body != want {
		t.Errorf("get insights: %s", body)
	}
	if _, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetTrail", `{"Name":"audit"}`); !strings.Contains(body, `"HasInsightSelectors":true`) {
		t.Errorf("HasInsightSelectors not set: %s", body)
	}
	if status, _ = e.call(servicetest.AcctA, servicetest.RegionA, "PutInsightSelectors", `{"TrailName":"audit","InsightSelectors":[]}`); status != 200 {
		t.Errorf("turn off insights: %d", status)
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "GetInsightSelectors", `{"TrailName":"audit"}`)
	servicetest.WantError(t, status, body, 400, "InsightNotEnabledException", "Trail "+servicetest.TrailARNA+" does not have Insights enabled.")
}

func TestTrailTags(t *testing.T) {
	e := newEnv(t, Options{})
	e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody("audit", `,"TagsList":[{"Key":"team","Value":"sec"}]`))
	list := func() string {
		_, body := e.call(servicetest.AcctA, servicetest.RegionA, "ListTags", `{"ResourceIdList":["`+servicetest.TrailARNA+`"]}`)
		return body
	}
	if got, want := list(), `{"ResourceTagList":[{"ResourceId":"`+servicetest.TrailARNA+`","TagsList":[{"Key":"team","Value":"sec"}]}]}`; got != want {
		t.Errorf("tags after create: %s", got)
	}
	if status, body := e.call(servicetest.AcctA, servicetest.RegionA, "AddTags", `{"ResourceId":"`+servicetest.TrailARNA+`","TagsList":[{"Key":"team","Value":"ops"},{"Key":"bare"}]}`); status != 200 || body != `{}` {
		t.Fatalf("add: %d %s", status, body)
	}
	if got, want := list(), `{"ResourceTagList":[{"ResourceId":"`+servicetest.TrailARNA+`","TagsList":[{"Key":"team","Value":"ops"},{"Key":"bare"}]}]}`; got != want {
		t.Errorf("tags after add: %s", got)
	}
	if status, body := e.call(servicetest.AcctA, servicetest.RegionA, "RemoveTags", `{"ResourceId":"`+servicetest.TrailARNA+`","TagsList":[{"Key":"team"},{"Key":"absent"}]}`); status != 200 {
		t.Fatalf("remove: %d %s", status, body)
	}
	if got, want := list(), `{"ResourceTagList":[{"ResourceId":"`+servicetest.TrailARNA+`","TagsList":[{"Key":"bare"}]}]}`; got != want {
		t.Errorf("tags after remove: %s", got)
	}
	var many []string
	for i := 0; i < 49; i++ {
		many = append(many, fmt.Sprintf(`{"Key":"k%d","Value":"v"}`, i))
	}
	if status, body := e.call(servicetest.AcctA, servicetest.RegionA, "AddTags", `{"ResourceId":"`+servicetest.TrailARNA+`","TagsList":[`+strings.Join(many, ",")+`]}`); status != 200 {
		t.Fatalf("add 49: %d %s", status, body)
	}
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "AddTags", `{"ResourceId":"`+servicetest.TrailARNA+`","TagsList":[{"Key":"one-more"}]}`)
	servicetest.WantError(t, status, body, 400, "TagsLimitExceededException", "A resource can have at most 50 tags; the trail would have 51.")
}

func TestTrailErrors(t *testing.T) {
	long := strings.Repeat("p", 201)
	tests := []struct {
		name, account, region, op, body, code, msg string
	}{
		{"name too short", servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody("ab", ``), "InvalidTrailNameException",
			"Trail name too short. Minimum allowed length: 3 characters. Specified name length: 2 characters."},
		{"name bad char", servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody("my trail", ``), "InvalidTrailNameException",
			"Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_)."},
		{"name adjacent specials", servicetest.AcctA, servicetest.RegionA, "GetTrail", `{"Name":"my-_x"}`, "InvalidTrailNameException",
			"Trail name cannot contain consecutive special characters (., -, _)."},
		{"name missing", servicetest.AcctA, servicetest.RegionA, "CreateTrail", `{"S3BucketName":"audit-logs"}`, "InvalidParameterException", "Name is required."},
		{"bucket missing", servicetest.AcctA, servicetest.RegionA, "CreateTrail", `{"Name":"audit2"}`, "InvalidParameterException", "S3BucketName is required."},
		{"bucket invalid", servicetest.AcctA, servicetest.RegionA, "CreateTrail", `{"Name":"audit2","S3BucketName":"Bad_Bucket"}`, "InvalidS3BucketNameException",
			"Bucket name is not valid: Bad_Bucket"},
		{"prefix too long", servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody("audit2", `,"S3KeyPrefix":"`+long+`"`), "InvalidS3PrefixException",
			"S3KeyPrefix is 201 characters long; the maximum is 200."},
		{"prefix too long on update", servicetest.AcctA, servicetest.RegionA, "UpdateTrail", `{"Name":"audit","S3KeyPrefix":"` + long + `"}`, "InvalidS3PrefixException",
			"S3KeyPrefix is 201 characters long; the maximum is 200."},
		{"exists", servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody("audit", ``), "TrailAlreadyExistsException",
			"Trail audit already exists for customer: " + servicetest.AcctA},
		{"org trail by member", servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody("audit2", `,"IsOrganizationTrail":true`), "NotOrganizationMasterAccountException",
			"The request was made from an account that is not the management account of the organization; only the management account can create or update an organization trail."},
		{"multi-region without global events", servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody("audit2", `,"IsMultiRegionTrail":true,"IncludeGlobalServiceEvents":false`),
			"InvalidParameterCombinationException", "Multi-Region trail must include global service events."},
		{"too many tags", servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody("audit2", `,"TagsList":[`+strings.TrimSuffix(strings.Repeat(`{"Key":"k"},`, 51), ",")+`]`),
			"TagsLimitExceededException", "A resource can have at most 50 tags; got 51."},
		{"unknown name", servicetest.AcctA, servicetest.RegionA, "GetTrail", `{"Name":"nope"}`, "TrailNotFoundException", "Unknown trail: nope for the user: " + servicetest.AcctA},
		// GetTrailStatus names an unknown trail by the ARN it would have.
		{"unknown name in status", servicetest.AcctA, servicetest.RegionA, "GetTrailStatus", `{"Name":"nope"}`, "TrailNotFoundException",
			"Unknown trail: arn:aws:cloudtrail:eu-central-1:210987654321:trail/nope for the user: " + servicetest.AcctA},
		{"unknown ARN in status", servicetest.AcctA, servicetest.RegionA, "GetTrailStatus", `{"Name":"arn:aws:cloudtrail:us-east-1:210987654321:trail/nope"}`, "TrailNotFoundException",
			"Unknown trail: arn:aws:cloudtrail:us-east-1:210987654321:trail/nope for the user: " + servicetest.AcctA},
		{"unknown ARN", servicetest.AcctA, servicetest.RegionA, "StartLogging", `{"Name":"arn:aws:cloudtrail:eu-central-1:210987654321:trail/nope"}`, "TrailNotFoundException",
			"Unknown trail: arn:aws:cloudtrail:eu-central-1:210987654321:trail/nope for the user: " + servicetest.AcctA},
		{"other account", servicetest.AcctB, servicetest.RegionA, "DeleteTrail", `{"Name":"audit"}`, "TrailNotFoundException", "Unknown trail: audit for the user: " + servicetest.AcctB},
		{"malformed ARN", servicetest.AcctA, servicetest.RegionA, "GetTrail", `{"Name":"arn:aws:cloudtrail:eu-central-1:1234:trail/x"}`, "CloudTrailARNInvalidException",
			"ARN arn:aws:cloudtrail:eu-central-1:1234:trail/x is invalid: want arn:aws:cloudtrail:<region>:<account>:trail/<name>"},
		{"malformed ARN in describe", servicetest.AcctA, servicetest.RegionA, "DescribeTrails", `{"trailNameList":["arn:aws:s3:::bucket"]}`, "CloudTrailARNInvalidException",
			"ARN arn:aws:s3:::bucket is invalid: want arn:aws:cloudtrail:<region>:<account>:trail/<name>"},
		{"both selector kinds", servicetest.AcctA, servicetest.RegionA, "PutEventSelectors",
			`{"TrailName":"audit","EventSelectors":[{}],"AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}]}`,
			"InvalidEventSelectorsException", "You cannot apply both event selectors and advanced event selectors to a trail."},
		{"no selectors", servicetest.AcctA, servicetest.RegionA, "PutEventSelectors", `{"TrailName":"audit"}`, "InvalidEventSelectorsException",
			"Specify either EventSelectors or AdvancedEventSelectors, with at least one selector."},
		{"bad ReadWriteType", servicetest.AcctA, servicetest.RegionA, "PutEventSelectors", `{"TrailName":"audit","EventSelectors":[{"ReadWriteType":"Some"}]}`,
			"InvalidEventSelectorsException", `EventSelectors[0].ReadWriteType "Some" is not valid; use ReadOnly, WriteOnly or All.`},
		{"advanced without category", servicetest.AcctA, servicetest.RegionA, "PutEventSelectors",
			`{"TrailName":"audit","AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventName","Equals":["X"]}]}]}`,
			"InvalidEventSelectorsException", "AdvancedEventSelectors[0] must have a field selector for eventCategory (Equals Management, Data or NetworkActivity)."},
		{"advanced with a bogus category", servicetest.AcctA, servicetest.RegionA, "PutEventSelectors",
			`{"TrailName":"audit","AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Bogus"]}]}]}`,
			"InvalidEventSelectorsException", `AdvancedEventSelectors[0]: eventCategory "Bogus" is not valid; use Management, Data or NetworkActivity.`},
		{"advanced readOnly maybe", servicetest.AcctA, servicetest.RegionA, "PutEventSelectors",
			`{"TrailName":"audit","AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["maybe"]}]}]}`,
			"InvalidEventSelectorsException", `AdvancedEventSelectors[0]: "maybe" is not a valid value for field readOnly; use true or false.`},
		{"advanced data without a resource type", servicetest.AcctA, servicetest.RegionA, "PutEventSelectors",
			`{"TrailName":"audit","AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]}]}]}`,
			"InvalidEventSelectorsException", `AdvancedEventSelectors[0]: Data events need a field selector for resources.type.`},
		{"selectors of unknown trail", servicetest.AcctA, servicetest.RegionA, "GetEventSelectors", `{"TrailName":"nope"}`, "TrailNotFoundException",
			"Unknown trail: nope for the user: " + servicetest.AcctA},
		{"bad insight type", servicetest.AcctA, servicetest.RegionA, "PutInsightSelectors", `{"TrailName":"audit","InsightSelectors":[{"InsightType":"Bogus"}]}`,
			"InvalidInsightSelectorsException", `InsightType "Bogus" is not valid; use ApiCallRateInsight or ApiErrorRateInsight.`},
		{"insights not enabled", servicetest.AcctA, servicetest.RegionA, "GetInsightSelectors", `{"TrailName":"audit"}`, "InsightNotEnabledException",
			"Trail " + servicetest.TrailARNA + " does not have Insights enabled."},
		{"tag unknown trail", servicetest.AcctA, servicetest.RegionA, "AddTags", `{"ResourceId":"arn:aws:cloudtrail:eu-central-1:210987654321:trail/nope","TagsList":[{"Key":"k"}]}`,
			"ResourceNotFoundException", "Resource arn:aws:cloudtrail:eu-central-1:210987654321:trail/nope not found."},
		{"tag by name", servicetest.AcctA, servicetest.RegionA, "AddTags", `{"ResourceId":"audit","TagsList":[{"Key":"k"}]}`,
			"CloudTrailARNInvalidException", "audit is not a valid trail ARN: tagging takes a full ARN."},
		{"tag channel", servicetest.AcctA, servicetest.RegionA, "ListTags", `{"ResourceIdList":["arn:aws:cloudtrail:eu-central-1:210987654321:channel/abc"]}`,
			"ResourceTypeNotSupportedException", "Tagging arn:aws:cloudtrail:eu-central-1:210987654321:channel/abc is not supported; only trails can be tagged."},
		{"tag reserved key", servicetest.AcctA, servicetest.RegionA, "AddTags", `{"ResourceId":"` + servicetest.TrailARNA + `","TagsList":[{"Key":"aws:x"}]}`,
			"InvalidTagParameterException", `Tag key "aws:x" uses the reserved prefix aws:.`},
		{"list tags token", servicetest.AcctA, servicetest.RegionA, "ListTags", `{"ResourceIdList":["` + servicetest.TrailARNA + `"],"NextToken":"x"}`,
			"InvalidTokenException", "The NextToken is not valid: ListTags answers in a single page."},
		{"list tags none", servicetest.AcctA, servicetest.RegionA, "ListTags", `{"ResourceIdList":[]}`,
			"InvalidParameterException", "ResourceIdList must name 1 to 20 resources; got 0."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody("audit", ``))
			status, body := e.call(tc.account, tc.region, tc.op, tc.body)
			servicetest.WantError(t, status, body, 400, tc.code, tc.msg)
		})
	}
}

func TestTrailQuotaAndOrganisation(t *testing.T) {
	e := newEnv(t, Options{})
	for i := 0; i < maxTrailsPerRegion; i++ {
		e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody(fmt.Sprintf("trail-%d", i), ``))
	}
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody("trail-5", ``))
	servicetest.WantError(t, status, body, 400, "MaximumNumberOfTrailsExceededException", "User: "+servicetest.AcctA+" already has 5 trails in eu-central-1.")
	// Another region has its own quota, but a multi-region trail counts in
	// every region.
	e.createTrail(servicetest.AcctA, servicetest.RegionB, servicetest.TrailBody("everywhere", `,"IsMultiRegionTrail":true`))
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "DescribeTrails", `{}`)
	var d DescribeTrailsOutput
	if err := json.Unmarshal([]byte(body), &d); status != 200 || err != nil || len(d.TrailList) != 6 {
		t.Errorf("describe: %d %s", status, body)
	}

	// The organisation's management account may create organisation trails.
	svcCtx := servicetest.CallerContext(t.Context(), servicetest.AcctOrg, servicetest.RegionA)
	awsapi.CallerFrom(svcCtx).Principal.Management = true
	yes := true
	out, err := e.svc.CreateTrail(svcCtx, &CreateTrailInput{Name: ptr("org-trail"), S3BucketName: ptr("org-logs"), IsOrganizationTrail: &yes})
	if err != nil || !out.IsOrganizationTrail {
		t.Fatalf("org trail: %+v %v", out, err)
	}
}

func TestTrailConcurrentChanges(t *testing.T) {
	e := newEnv(t, Options{})
	e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody("audit", ``))
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if status, body := e.call(servicetest.AcctA, servicetest.RegionA, "AddTags", fmt.Sprintf(`{"ResourceId":%q,"TagsList":[{"Key":"k%d"}]}`, servicetest.TrailARNA, i)); status != 200 {
				t.Errorf("add %d: %d %s", i, status, body)
			}
		}()
		go func() {
			defer wg.Done()
			e.call(servicetest.AcctA, servicetest.RegionA, "CreateTrail", servicetest.TrailBody(fmt.Sprintf("race-%d", i), ``))
		}()
	}
	wg.Wait()
	var out ListTagsOutput
	_, body := e.call(servicetest.AcctA, servicetest.RegionA, "ListTags", `{"ResourceIdList":["`+servicetest.TrailARNA+`"]}`)
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.ResourceTagList[0].TagsList) != 20 {
		t.Errorf("after concurrent AddTags: %s", body)
	}
	var d DescribeTrailsOutput
	_, body = e.call(servicetest.AcctA, servicetest.RegionA, "DescribeTrails", `{}`)
	if err := json.Unmarshal([]byte(body), &d); err != nil || len(d.TrailList) != maxTrailsPerRegion {
		t.Errorf("quota under concurrency: %d trails", len(d.TrailList))
	}
}
