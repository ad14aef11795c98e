package native

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrail"
	"github.com/opentrail/opentrail/internal/servicetest"
)

func (e *env) native(p *auth.Principal, region, method, query string) (int, string) {
	e.t.Helper()
	req := httptest.NewRequest(method, "/v1/events?"+query, nil)
	if p != nil {
		req = req.WithContext(awsapi.WithCaller(req.Context(), &awsapi.Caller{Principal: p, Region: region, RequestID: "n-1"}))
	}
	w := httptest.NewRecorder()
	e.rest.Handle(w, req, nil)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("Content-Type %q", ct)
	}
	return w.Code, w.Body.String()
}

type nativeResp struct {
	Events []map[string]any `json:"events"`
	Next   string           `json:"next"`
}

func (e *env) nativeIDs(p *auth.Principal, region, query string) ([]string, string) {
	e.t.Helper()
	status, body := e.native(p, region, "GET", query)
	if status != 200 {
		e.t.Fatalf("native %s: %d %s", query, status, body)
	}
	var r nativeResp
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, ev := range r.Events {
		ids = append(ids, ev["eventID"].(string))
	}
	return ids, r.Next
}

func TestNativeLookup(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	servicetest.SeedPaging(t, e.st, 3)
	e.st.Add(servicetest.Record(t, servicetest.RecordOpts{ID: "bob-op1", Time: servicetest.Now.Add(-time.Hour), Name: "Op1", User: "bob"}))
	org := servicetest.Principal(servicetest.AcctOrg)
	org.Management = true
	pa := servicetest.Principal(servicetest.AcctA)
	tests := []struct {
		name  string
		p     *auth.Principal
		query string
		want  string
	}{
		{"defaults", pa, "", "a-002 a-001 a-000 bob-op1 too-old"},
		{"two attributes", pa, "EventName=Op1&Username=alice", "a-001"},
		{"attribute", pa, "Username=bob", "bob-op1"},
		{"data", pa, "category=data", "data"},
		{"insight", pa, "category=insight", "insight-1"},
		{"all", pa, "category=all", "insight-1 data a-002 a-001 a-000 bob-op1 too-old"},
		{"all regions", pa, "region=*", "other-region a-002 a-001 a-000 bob-op1 too-old"},
		{"other region", pa, "region=" + servicetest.RegionB, "other-region"},
		{"own account named", pa, "account=" + servicetest.AcctA + "&limit=2", "a-002 a-001"},
		{"range", pa, "start=" + url.QueryEscape(servicetest.Now.Add(-2*time.Hour).Format(time.RFC3339)) + "&end=" +
			url.QueryEscape(servicetest.Now.Add(-time.Second).Format(time.RFC3339)), "bob-op1"},
		{"management account sees all", org, "", "other-account a-002 a-001 a-000 bob-op1 too-old"},
		{"management account narrows", org, "account=" + servicetest.AcctB, "other-account"},
		{"signing parameters ignored", pa, "X-Amz-Date=20240506T000000Z&EventName=Op2", "a-002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, next := e.nativeIDs(tt.p, servicetest.RegionA, tt.query)
			if got := strings.Join(ids, " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if next != "" && !strings.Contains(tt.query, "limit") {
				t.Errorf("unexpected next %q", next)
			}
		})
	}
}

func TestNativeLookupBody(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	r := servicetest.Record(t, servicetest.RecordOpts{ID: "x-1", Time: servicetest.Now, Set: map[string]any{"requestParameters": map[string]any{"html": "<b>&"}}})
	e.st.Add(r)
	status, body := e.native(servicetest.Principal(servicetest.AcctA), servicetest.RegionA, "GET", "")
	if want := `{"events":[` + string(r.Raw) + `]}`; status != 200 || body != want {
		t.Errorf("got %d %s\nwant %s", status, body, want)
	}
	status, body = e.native(servicetest.Principal(servicetest.AcctA), servicetest.RegionA, "HEAD", "")
	if status != 200 || body != "" {
		t.Errorf("HEAD: %d %q", status, body)
	}
}

func TestNativeLookupPaging(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	servicetest.SeedPaging(t, e.st, 25)
	pa := servicetest.Principal(servicetest.AcctA)
	var all []string
	q := "limit=10&category=management"
	next := ""
	for i := 0; ; i++ {
		query := q
		if next != "" {
			query += "&next=" + url.QueryEscape(next)
		}
		var ids []string
		ids, next = e.nativeIDs(pa, servicetest.RegionA, query)
		all = append(all, ids...)
		if next == "" {
			break
		}
		if i > 5 {
			t.Fatal("paging does not end")
		}
		// The token is bound to the query.
		status, body := e.native(pa, servicetest.RegionA, "GET", "limit=10&category=all&next="+url.QueryEscape(next))
		servicetest.WantError(t, status, body, 400, "InvalidNextTokenException",
			"The NextToken was issued for a request with different parameters; repeat the original parameters with it.")
		// A LookupEvents token is not a native token.
		lt := e.lookupOK(servicetest.AcctA, servicetest.RegionA, `{"MaxResults":1}`).NextToken
		status, body = e.native(pa, servicetest.RegionA, "GET", q+"&next="+url.QueryEscape(lt))
		servicetest.WantError(t, status, body, 400, "InvalidNextTokenException", "The NextToken is not valid.")
	}
	if len(all) != 26 { // 25 + too-old: no retention window here
		t.Errorf("paged through %d events, want 26", len(all))
	}
}

func TestNativeLookupErrors(t *testing.T) {
	e := newEnv(t, cloudtrail.Options{})
	pa := servicetest.Principal(servicetest.AcctA)
	tests := []struct {
		name, method, query string
		status              int
		code, msg           string
	}{
		{"bad start", "GET", "start=yesterday", 400, "ValidationException",
			`Parameter start must be an RFC 3339 time such as 2024-05-06T07:00:00Z; got "yesterday".`},
		{"start after end", "GET", "start=2024-05-06T00:00:01Z&end=2024-05-06T00:00:00Z", 400, "ValidationException",
			"Parameter start must not be after end."},
		{"bad category", "GET", "category=Management", 400, "ValidationException",
			`Parameter category must be management, data, insight or all; got "Management".`},
		{"limit 0", "GET", "limit=0", 400, "ValidationException", `Parameter limit must be an integer from 1 to 1000; got "0".`},
		{"limit 1001", "GET", "limit=1001", 400, "ValidationException", `Parameter limit must be an integer from 1 to 1000; got "1001".`},
		{"repeated limit", "GET", "limit=1&limit=2", 400, "ValidationException", "Parameter limit may be given only once."},
		{"unknown", "GET", "eventName=x", 400, "ValidationException", `Unknown parameter "eventName".`},
		{"empty attribute", "GET", "EventName=", 400, "ValidationException", "Parameter EventName needs a value of 1 to 2000 characters."},
		{"bad ReadOnly", "GET", "ReadOnly=yes", 400, "ValidationException", `Parameter ReadOnly must be true or false; got "yes".`},
		{"bad account", "GET", "account=abc", 400, "ValidationException", `Parameter account must be a 12-digit account ID; got "abc".`},
		{"other account", "GET", "account=" + servicetest.AcctB, 403, "AccessDeniedException",
			"Account 210987654321 may not read the events of account 123456789012."},
		{"garbled token", "GET", "next=zzz", 400, "InvalidNextTokenException", "The NextToken is not valid."},
		{"DELETE", "DELETE", "", 404, "ResourceNotFoundException", "no endpoint DELETE /v1/events; the native API has POST /v1/events, GET /v1/events, GET /v1/trails, GET /v1/keys, POST /v1/keys/rotate, GET /v1/notifications, GET /v1/findings, GET /v1/findings/{id}, POST /v1/findings/{id}/state, PUT and GET /v1/sigma/rules, GET and POST /v1/console/users, DELETE /v1/console/users/{name}, PUT /v1/console/users/{name}/password, POST and DELETE /v1/console/users/{name}/mfa, POST /v1/console/users/{name}/mfa/confirm, PUT /v1/console/users/{name}/policies, POST /v1/capture/intents, /v1/capture/renew and /v1/capture/complete (and POST /v1/s3-notifications for S3 event notifications)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.native(pa, servicetest.RegionA, tt.method, tt.query)
			servicetest.WantError(t, status, body, tt.status, tt.code, tt.msg)
		})
	}
	status, body := e.native(nil, servicetest.RegionA, "GET", "")
	servicetest.WantError(t, status, body, 500, "InternalFailure", "We encountered an internal error. Please try again.")
	e.st.Fail = errSecret
	status, body = e.native(pa, servicetest.RegionA, "GET", "")
	servicetest.WantError(t, status, body, 500, "InternalFailure", "We encountered an internal error. Please try again.")
}
