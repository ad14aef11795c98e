package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/trail"
)

// apiCall is one call the fake API received.
type apiCall struct {
	Op, Region, Account, Principal string
	In                             map[string]any
}

// fakeTrailAPI answers CloudTrail's trail operations from a map of
// trails by ARN, per account, and records every call. fail makes an
// operation refuse with the error given.
type fakeTrailAPI struct {
	mu     sync.Mutex
	calls  []apiCall
	trails map[string]map[string]any // ARN → TrailInfo fields
	sel    map[string]map[string]any // ARN → GetEventSelectors output
	fail   map[string]*awsapi.Error
}

func newFakeTrailAPI() *fakeTrailAPI {
	return &fakeTrailAPI{trails: map[string]map[string]any{}, sel: map[string]map[string]any{}, fail: map[string]*awsapi.Error{}}
}

func (f *fakeTrailAPI) add(account, region, name string, extra map[string]any) string {
	arn := "arn:aws:cloudtrail:" + region + ":" + account + ":trail/" + name
	t := map[string]any{"Name": name, "TrailARN": arn, "HomeRegion": region, "S3BucketName": "logs-" + account, "IsMultiRegionTrail": true,
		"IncludeGlobalServiceEvents": true, "LogFileValidationEnabled": true}
	for k, v := range extra {
		t[k] = v
	}
	f.trails[arn] = t
	return arn
}

func (f *fakeTrailAPI) Call(ctx context.Context, service, op string, in, out any) error {
	c := awsapi.CallerFrom(ctx)
	b, _ := json.Marshal(in)
	var m map[string]any
	json.Unmarshal(b, &m)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, apiCall{Op: op, Region: c.Region, Account: c.Principal.AccountID, Principal: c.Principal.ARN, In: m})
	if e := f.fail[op]; e != nil {
		return e
	}
	acct := c.Principal.AccountID
	own := func(arn string) map[string]any {
		if t := f.trails[arn]; t != nil && strings.Contains(arn, ":"+acct+":") {
			return t
		}
		return nil
	}
	var resp any
	switch op {
	case "ListTrails":
		var ts []map[string]any
		for arn, t := range f.trails {
			if own(arn) != nil {
				ts = append(ts, map[string]any{"TrailARN": arn, "Name": t["Name"], "HomeRegion": t["HomeRegion"]})
			}
		}
		slices.SortFunc(ts, func(a, b map[string]any) int { return strings.Compare(a["TrailARN"].(string), b["TrailARN"].(string)) })
		resp = map[string]any{"Trails": ts}
	case "DescribeTrails":
		var ts []map[string]any
		for _, v := range m["trailNameList"].([]any) {
			if t := own(v.(string)); t != nil {
				ts = append(ts, t)
			}
		}
		resp = map[string]any{"trailList": ts}
	case "GetTrailStatus":
		t := own(m["Name"].(string))
		if t == nil {
			return &awsapi.Error{Code: "TrailNotFoundException", Message: "Unknown trail"}
		}
		resp = map[string]any{"IsLogging": t["logging"] == true, "LatestDeliveryTime": 1.7e9, "DeliveredThroughTime": 1.7e9}
	case "GetEventSelectors":
		resp = f.sel[m["TrailName"].(string)]
	case "GetInsightSelectors":
		return &awsapi.Error{Code: "InsightNotEnabledException", Message: "no insights"}
	case "CreateTrail":
		arn := f.add(acct, c.Region, m["Name"].(string), map[string]any{"S3BucketName": m["S3BucketName"]})
		resp = f.trails[arn]
	case "StartLogging", "StopLogging":
		if t := own(m["Name"].(string)); t != nil {
			t["logging"] = op == "StartLogging"
		}
	case "PutEventSelectors":
		arn := m["TrailName"].(string)
		if !strings.HasPrefix(arn, "arn:") {
			arn = "arn:aws:cloudtrail:" + c.Region + ":" + acct + ":trail/" + arn
		}
		f.sel[arn] = m
	}
	if out != nil && resp != nil {
		b, _ := json.Marshal(resp)
		return json.Unmarshal(b, out)
	}
	return nil
}

func (f *fakeTrailAPI) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Op+"@"+c.Region+"/"+c.Account)
	}
	return out
}

func (f *fakeTrailAPI) last(op string) apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].Op == op {
			return f.calls[i]
		}
	}
	return apiCall{}
}

type fakeAccounts []string

func (a fakeAccounts) TrailAccounts(context.Context) ([]string, error) { return a, nil }

func TestTrailListScoping(t *testing.T) {
	api := newFakeTrailAPI()
	api.add("111111111111", "us-east-1", "org-main", map[string]any{"IsOrganizationTrail": true, "S3KeyPrefix": "audit",
		"CloudWatchLogsLogGroupArn": "arn:aws:logs:us-east-1:111111111111:log-group:trail-events:*"})
	api.add("222222222222", "eu-west-1", "bob-trail", nil)
	api.add("333333333333", "eu-west-1", "other-trail", nil)
	c := newTestConsole(t, Config{API: api, Trails: TrailDeps{Accounts: fakeAccounts{"222222222222", "333333333333"}}})

	// bob sees his account's trail only, and no account column.
	bob := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	resp, body := bob.get("/trails")
	if resp.StatusCode != 200 || !strings.Contains(body, "bob-trail") || strings.Contains(body, "org-main") || strings.Contains(body, "other-trail") {
		t.Fatalf("bob's list: %d\n%s", resp.StatusCode, body)
	}
	for _, c := range api.calls {
		if c.Account != "222222222222" {
			t.Errorf("bob's list called %s as account %s", c.Op, c.Account)
		}
	}
	resp, body = bob.get("/trails/333333333333/eu-west-1/other-trail")
	if resp.StatusCode != 404 || strings.Contains(body, "logs-333333333333") {
		t.Fatalf("bob opened another account's trail: %d", resp.StatusCode)
	}
	resp, _ = bob.post("/trails/333333333333/eu-west-1/other-trail/stop", nil)
	if resp.StatusCode != 404 || api.last("StopLogging").Op != "" {
		t.Fatalf("bob stopped another account's trail: %d %v", resp.StatusCode, api.ops())
	}

	// alice, of the management account, sees every account's trails,
	// each listed as its own account (the organisation access role).
	alice := signedInAs(t, c, testUser("alice", "111111111111", true, true))
	resp, body = alice.get("/trails")
	for _, want := range []string{"org-main", "bob-trail", "other-trail", "organization", "trail-events", "audit", "333333333333"} {
		if !strings.Contains(body, want) {
			t.Errorf("alice's list lacks %q", want)
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("alice's list: %d", resp.StatusCode)
	}
	if p := api.last("ListTrails").Principal; p != "arn:aws:sts::333333333333:assumed-role/OrganizationAccountAccessRole/alice" {
		t.Errorf("alice listed account 333333333333 as %s", p)
	}
}

func TestTrailListEmpty(t *testing.T) {
	c := newTestConsole(t, Config{API: newFakeTrailAPI()})
	cl := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	resp, body := cl.get("/trails")
	if resp.StatusCode != 200 || !strings.Contains(body, "No trails yet") || !strings.Contains(body, `href="/trails/new"`) || !strings.Contains(body, "create-trail") {
		t.Fatalf("empty list: %d\n%s", resp.StatusCode, body)
	}
}

func TestTrailCreateCallsInRegion(t *testing.T) {
	api := newFakeTrailAPI()
	c := newTestConsole(t, Config{API: api})
	cl := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	form := url.Values{"name": {"main"}, "region": {"eu-west-1"}, "bucket": {"my-logs"}, "multiregion": {"on"}, "global": {"on"},
		"validation": {"on"}, "start": {"on"}, "mode": {"simple"}, "management": {"all"}, "excludekms": {"on"},
		"s3": {"customer-data\nreports/2026"}, "datarw": {"write"}}
	resp, _ := cl.post("/trails/new", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/trails/222222222222/eu-west-1/main?done=created" {
		t.Fatalf("create: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	want := []string{"CreateTrail@eu-west-1/222222222222", "PutEventSelectors@eu-west-1/222222222222", "StartLogging@eu-west-1/222222222222"}
	if got := api.ops(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	put := api.last("PutEventSelectors").In
	b, _ := json.Marshal(put["EventSelectors"])
	const wantSel = `[{"DataResources":[],"ExcludeManagementEventSources":["kms.amazonaws.com"],"IncludeManagementEvents":true,"ReadWriteType":"All"},` +
		`{"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::customer-data/","arn:aws:s3:::reports/2026"]}],"IncludeManagementEvents":false,"ReadWriteType":"WriteOnly"}]`
	if string(b) != wantSel {
		t.Errorf("selectors\n%s\nwant\n%s", b, wantSel)
	}
	if in := api.last("CreateTrail").In; in["EnableLogFileValidation"] != true || in["IsMultiRegionTrail"] != true || in["S3BucketName"] != "my-logs" {
		t.Errorf("CreateTrail input %v", in)
	}

	// The detail page reads them back in words.
	resp, body := cl.get("/trails/222222222222/eu-west-1/main?done=created")
	for _, want := range []string{"The trail was created.", "Management events: read and write; excluding AWS KMS events",
		"Data events: S3 objects in bucket customer-data; S3 objects in bucket reports under prefix 2026, write only", "Insights are off"} {
		if !strings.Contains(body, want) {
			t.Errorf("detail page lacks %q", want)
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("detail: %d", resp.StatusCode)
	}
}

func TestTrailCreateErrorKeepsValues(t *testing.T) {
	api := newFakeTrailAPI()
	api.fail["CreateTrail"] = &awsapi.Error{Code: "InvalidTrailNameException", Status: 400, Message: "Trail name must starts with a letter or number."}
	c := newTestConsole(t, Config{API: api})
	cl := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	form := url.Values{"name": {"-bad"}, "region": {"us-east-1"}, "bucket": {"my-logs"}, "prefix": {"keep/me"}, "mode": {"advanced"},
		"advanced": {`[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}]`}}
	resp, body := cl.post("/trails/new", form)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Trail name must starts with a letter or number.") ||
		!strings.Contains(body, `value="-bad"`) || !strings.Contains(body, `value="keep/me"`) || !strings.Contains(body, "eventCategory") {
		t.Fatalf("refused create: %d\n%s", resp.StatusCode, body)
	}
	// Bad JSON never reaches the API.
	form.Set("advanced", "[{")
	n := len(api.calls)
	resp, body = cl.post("/trails/new", form)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not a JSON array") || len(api.calls) != n {
		t.Fatalf("bad JSON: %d, %d calls", resp.StatusCode, len(api.calls)-n)
	}
}

func TestTrailStartStopDeleteInHomeRegion(t *testing.T) {
	api := newFakeTrailAPI()
	api.add("222222222222", "ap-south-1", "t1", nil)
	c := newTestConsole(t, Config{API: api})
	cl := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	resp, _ := cl.post("/trails/222222222222/ap-south-1/t1/start", nil)
	if resp.StatusCode != http.StatusSeeOther || api.last("StartLogging").Region != "ap-south-1" {
		t.Fatalf("start: %d %v", resp.StatusCode, api.ops())
	}
	resp, body := cl.get("/trails/222222222222/ap-south-1/t1?done=started")
	if !strings.Contains(body, "Logging started") || !strings.Contains(body, `id="stop-logging"`) {
		t.Fatalf("after start: %d", resp.StatusCode)
	}
	api.fail["StopLogging"] = &awsapi.Error{Code: "AccessDeniedException", Status: 400, Message: "You may not."}
	resp, body = cl.post("/trails/222222222222/ap-south-1/t1/stop", nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "You may not. (AccessDeniedException from StopLogging)") {
		t.Fatalf("refused stop: %d\n%s", resp.StatusCode, body)
	}
	resp, body = cl.post("/trails/222222222222/ap-south-1/t1/delete", url.Values{"confirm": {"t2"}})
	if resp.StatusCode != http.StatusBadRequest || api.last("DeleteTrail").Op != "" || !strings.Contains(body, "type its name") {
		t.Fatalf("delete without confirmation: %d", resp.StatusCode)
	}
	resp, _ = cl.post("/trails/222222222222/ap-south-1/t1/delete", url.Values{"confirm": {"t1"}})
	if resp.StatusCode != http.StatusSeeOther || api.last("DeleteTrail").Region != "ap-south-1" {
		t.Fatalf("delete: %d %v", resp.StatusCode, api.ops())
	}
}

func TestTrailEditOnlyPutsWhatChanged(t *testing.T) {
	api := newFakeTrailAPI()
	arn := api.add("222222222222", "us-east-1", "t1", nil)
	yes, no := true, false
	api.sel[arn] = map[string]any{"TrailARN": arn, "EventSelectors": []trail.EventSelector{
		{ReadWriteType: "ReadOnly", IncludeManagementEvents: &yes, DataResources: []trail.DataResource{}},
		{ReadWriteType: "All", IncludeManagementEvents: &no, DataResources: []trail.DataResource{{Type: "AWS::Lambda::Function", Values: []string{"arn:aws:lambda"}}}},
	}}
	c := newTestConsole(t, Config{API: api})
	cl := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	_, body := cl.get("/trails/222222222222/us-east-1/t1/edit")
	if !strings.Contains(body, `<option value="read" selected>`) || !strings.Contains(body, `name="lambdaall" checked`) {
		t.Fatalf("edit form does not show the selectors:\n%s", body)
	}
	form := url.Values{"bucket": {"logs-222222222222"}, "multiregion": {"on"}, "global": {"on"}, "validation": {"on"},
		"mode": {"simple"}, "management": {"read"}, "lambdaall": {"on"}, "datarw": {"all"}}
	resp, _ := cl.post("/trails/222222222222/us-east-1/t1/edit", form)
	if resp.StatusCode != http.StatusSeeOther || api.last("UpdateTrail").Op == "" || api.last("PutEventSelectors").Op != "" {
		t.Fatalf("unchanged selectors: %d %v", resp.StatusCode, api.ops())
	}
	form.Set("management", "all")
	cl.post("/trails/222222222222/us-east-1/t1/edit", form)
	if api.last("PutEventSelectors").Op == "" {
		t.Fatalf("changed selectors not put: %v", api.ops())
	}
}

func TestDescribeSelectors(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		basic []trail.EventSelector
		adv   []trail.AdvancedEventSelector
		want  []string
	}{
		{nil, nil, []string{"Management events: read and write (CloudTrail's default)"}},
		{[]trail.EventSelector{{ReadWriteType: "WriteOnly", IncludeManagementEvents: &yes, ExcludeManagementEventSources: []string{"rdsdata.amazonaws.com"},
			DataResources: []trail.DataResource{{Type: "AWS::S3::Object", Values: []string{"arn:aws:s3"}}}}},
			nil, []string{"Management events: write only; excluding Amazon RDS Data API events", "Data events: S3 objects in all buckets, write only"}},
		{nil, []trail.AdvancedEventSelector{
			{Name: "mgmt", FieldSelectors: []trail.AdvancedFieldSelector{{Field: "eventCategory", Equals: []string{"Management"}}, {Field: "eventSource", NotEquals: []string{"kms.amazonaws.com"}}}},
			{FieldSelectors: []trail.AdvancedFieldSelector{{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.type", Equals: []string{"AWS::S3::Object"}},
				{Field: "resources.ARN", StartsWith: []string{"arn:aws:s3:::bucket-x/"}}, {Field: "readOnly", Equals: []string{"false"}}, {Field: "eventName", NotEquals: []string{"DeleteObject"}}}},
			{FieldSelectors: []trail.AdvancedFieldSelector{{Field: "eventCategory", Equals: []string{"Data"}}, {Field: "resources.type", Equals: []string{"AWS::DynamoDB::Table"}}}},
		}, []string{`"mgmt" — Management events: read and write; excluding AWS KMS events`,
			"Data events: S3 objects in bucket bucket-x, write only; eventName is not DeleteObject",
			"Data events: DynamoDB items, read and write"}},
	} {
		if got := describeSelectors(tc.basic, tc.adv); !slices.Equal(got, tc.want) {
			t.Errorf("describeSelectors:\n got %q\nwant %q", got, tc.want)
		}
	}
}

// fakeDelivery serves a validation source with nothing delivered.
type fakeDelivery struct{ st trail.Status }

func (d fakeDelivery) Status(context.Context, string) (trail.Status, error) { return d.st, nil }
func (d fakeDelivery) Source(string) digest.Source                          { return emptySource{} }

type emptySource struct{}

func (emptySource) ListDigests(context.Context, digest.Trail, time.Time, time.Time) ([]digest.ObjectRef, error) {
	return nil, nil
}
func (emptySource) Get(context.Context, digest.ObjectRef) ([]byte, map[string]string, error) {
	return nil, nil, digest.ErrNotFound
}
func (emptySource) PublicKeys(context.Context, time.Time, time.Time) ([]digest.PublicKey, error) {
	return nil, nil
}

func TestTrailValidateBoundsRange(t *testing.T) {
	api := newFakeTrailAPI()
	api.add("222222222222", "us-east-1", "t1", nil)
	c := newTestConsole(t, Config{API: api, Trails: TrailDeps{Delivery: fakeDelivery{st: trail.Status{LatestLogFile: "s3://logs/AWSLogs/x.json.gz"}}}})
	cl := signedInAs(t, c, testUser("bob", "222222222222", false, false))
	_, body := cl.get("/trails/222222222222/us-east-1/t1")
	if !strings.Contains(body, "s3://logs/AWSLogs/x.json.gz") || !strings.Contains(body, `id="validate-now"`) {
		t.Fatalf("detail lacks the latest log file or the validate form")
	}
	resp, body := cl.post("/trails/222222222222/us-east-1/t1/validate", url.Values{"start": {"2026-01-01T00:00"}, "end": {"2026-03-01T00:00"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "at most 7 days") || !strings.Contains(body, "2026-02-22 00:00:00 UTC") || !strings.Contains(body, "No digests") {
		t.Fatalf("validate over 2 months: %d\n%s", resp.StatusCode, body)
	}
	resp, body = cl.post("/trails/222222222222/us-east-1/t1/validate", url.Values{"start": {"yesterday"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "is not a time") {
		t.Fatalf("bad start: %d", resp.StatusCode)
	}
}
