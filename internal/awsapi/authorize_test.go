package awsapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// tableAuthorizer refuses the action+resource pairs it lists ("*" for
// any resource) and records what it was asked.
type tableAuthorizer struct {
	deny  map[string]bool
	asked []string
}

func (a *tableAuthorizer) Authorize(_ context.Context, c *Caller, action string, resources []string) error {
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	for _, r := range resources {
		a.asked = append(a.asked, action+" "+r)
		if a.deny[action+" *"] || a.deny[action+" "+r] {
			return AccessDenied(DeniedMessage(c.Principal.ARN, action, r))
		}
	}
	return nil
}

type trailIn struct {
	Name string `json:"Name"`
}

func (in *trailIn) IAMResources(c *Caller) []string {
	return []string{"arn:aws:cloudtrail:" + c.Region + ":" + c.Principal.AccountID + ":trail/" + in.Name}
}

type otherActionIn struct{ trailIn }

func (*otherActionIn) IAMAction() string { return "cloudtrail:GetTrail" }

func TestAuthorizeJSON(t *testing.T) {
	rec := &recorder{}
	r := NewRouter("cloudtrail", rec, nil)
	ran := 0
	Register(r, "StopLogging", false, func(ctx context.Context, in *trailIn) (*struct{}, error) { ran++; return nil, nil })
	Register(r, "GetTrailStatus", true, func(ctx context.Context, in *otherActionIn) (*struct{}, error) { ran++; return nil, nil })
	Register(r, "Unmapped", true, func(ctx context.Context, in *struct{}) (*struct{}, error) { ran++; return nil, nil })

	// No authorizer: everything runs.
	if w := call(r, testCaller(), "POST", "CloudTrail_20131101.StopLogging", `{"Name":"t"}`); w.Code != 200 || ran != 1 {
		t.Fatalf("without authorizer: %d %s ran %d", w.Code, w.Body, ran)
	}
	a := &tableAuthorizer{deny: map[string]bool{"cloudtrail:StopLogging arn:aws:cloudtrail:eu-central-1:210987654321:trail/t": true, "cloudtrail:GetTrail *": true}}
	r.SetAuthorizer(a)
	ran = 0
	w := call(r, testCaller(), "POST", "CloudTrail_20131101.StopLogging", `{"Name":"t"}`)
	msg := "User: arn:aws:iam::210987654321:user/alice is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:eu-central-1:210987654321:trail/t because no identity-based policy allows the cloudtrail:StopLogging action"
	if e := decodeError(t, w); w.Code != 400 || e.Type != "AccessDeniedException" || e.Message != msg || ran != 0 ||
		w.Header().Get("X-Amzn-ErrorType") != "AccessDeniedException" {
		t.Fatalf("denied: %d %+v ran %d", w.Code, e, ran)
	}
	m := rec.last(t)
	params, _ := json.Marshal(m["requestParameters"])
	if m["errorCode"] != "AccessDenied" || m["errorMessage"] != msg || m["eventName"] != "StopLogging" || string(params) != `{"name":"t"}` {
		t.Errorf("record of a refused call: %v", m)
	}
	// Another trail is allowed.
	if w := call(r, testCaller(), "POST", "CloudTrail_20131101.StopLogging", `{"Name":"u"}`); w.Code != 200 || ran != 1 {
		t.Errorf("allowed: %d %s", w.Code, w.Body)
	}
	// IAMAction names another action than the operation.
	if w := call(r, testCaller(), "POST", "CloudTrail_20131101.GetTrailStatus", `{"Name":"t"}`); w.Code != 400 || ran != 1 {
		t.Errorf("IAMActioner: %d %s", w.Code, w.Body)
	}
	// An input naming no resources is asked about "*"; a malformed body
	// is refused before authorization with its own error.
	a.asked = nil
	call(r, testCaller(), "POST", "CloudTrail_20131101.Unmapped", `{}`)
	if w := call(r, testCaller(), "POST", "CloudTrail_20131101.StopLogging", `{"Name":`); decodeError(t, w).Type != CodeSerialization {
		t.Errorf("malformed: %s", w.Body)
	}
	if !reflect.DeepEqual(a.asked, []string{"cloudtrail:Unmapped *"}) {
		t.Errorf("asked %v", a.asked)
	}

	ops := r.IAMOperations()
	want := []IAMOperation{
		{Name: "GetTrailStatus", Action: "cloudtrail:GetTrail", Mapped: true, Resources: []string{"arn:aws:cloudtrail:${Region}:${Account}:trail/${Name}"}},
		{Name: "StopLogging", Action: "cloudtrail:StopLogging", Mapped: true, Resources: []string{"arn:aws:cloudtrail:${Region}:${Account}:trail/${Name}"}},
		{Name: "Unmapped", Action: "cloudtrail:Unmapped"},
	}
	if !reflect.DeepEqual(ops, want) {
		t.Errorf("IAMOperations\n%+v\nwant\n%+v", ops, want)
	}
}

// TestAuthorizeShapes checks the answer to a refused call in every
// protocol the routers speak.
func TestAuthorizeShapes(t *testing.T) {
	deny := &tableAuthorizer{deny: map[string]bool{"cloudwatch:PutThing *": true, "sns:Publish *": true,
		"cloudtrail-data:PutAuditEvents *": true, "opentrail:GetFinding arn:aws:opentrail:eu-central-1:210987654321:finding/f-1": true}}

	cw := protoRouter(&recorder{})
	cw.SetAuthorizer(deny)
	q, qb := queryReq("Action=PutThing&Version=2010-08-01&Namespace=x")
	w := serve(cw, q, qb)
	if b := w.Body.String(); w.Code != 403 || !strings.Contains(b, "<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::210987654321:user/alice is not authorized to perform: cloudwatch:PutThing on resource: *") {
		t.Errorf("CloudWatch query: %d %s", w.Code, b)
	}
	j := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	j.Header.Set("Content-Type", "application/x-amz-json-1.0")
	j.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801.PutThing")
	j.Header.Set("X-Amzn-Query-Mode", "true")
	w = serve(cw, j, []byte(`{}`))
	if e := decodeError(t, w); w.Code != 403 || e.Type != "AccessDeniedException" || w.Header().Get("x-amzn-query-error") != "AccessDenied;Sender" {
		t.Errorf("CloudWatch JSON 1.0: %d %+v %v", w.Code, e, w.Header())
	}
	c, cb := cborReq(t, "PutThing", map[string]any{}, true)
	w = serve(cw, c, cb)
	if w.Code != 403 || w.Header().Get("x-amzn-query-error") != "AccessDenied;Sender" || !strings.Contains(w.Body.String(), "AccessDeniedException") {
		t.Errorf("CloudWatch CBOR: %d %v", w.Code, w.Header())
	}

	srec := &recorder{}
	sns := NewRouter("sns", srec, nil)
	sns.Speak(SNSProtocols())
	Register(sns, "Publish", false, func(ctx context.Context, in *struct{}) (*struct{}, error) { return nil, nil })
	sns.SetAuthorizer(deny)
	q, qb = queryReq("Action=Publish&Version=2010-03-31")
	w = serve(sns, q, qb)
	if b := w.Body.String(); w.Code != 403 || !strings.Contains(b, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>AuthorizationError</Code>`) {
		t.Errorf("SNS: %d %s", w.Code, b)
	}
	if m := srec.last(t); m["errorCode"] != "AccessDenied" {
		t.Errorf("SNS record: %v", m)
	}

	rest := NewRESTRouter("cloudtrail-data", &recorder{}, nil)
	RegisterREST(rest, "POST", "/PutAuditEvents", "PutAuditEvents", false, func(ctx context.Context, in *struct{}) (*struct{}, error) { return nil, nil })
	rest.SetAuthorizer(deny)
	req := httptest.NewRequest("POST", "/PutAuditEvents", strings.NewReader(`{}`))
	w = serve2(rest, req, []byte(`{}`))
	if e := decodeError(t, w); w.Code != 403 || e.Type != "AccessDeniedException" {
		t.Errorf("REST-JSON: %d %+v", w.Code, e)
	}

	sink := &pathSink{}
	p := NewPathRouter("opentrail", sink, nil, nil)
	ran := false
	p.RegisterRawResources("GET /v1/findings/{id}", "GetFinding", true, func(c *Caller, req *http.Request) []string {
		return []string{"arn:aws:opentrail:" + c.Region + ":" + c.Principal.AccountID + ":finding/" + req.PathValue("id")}
	}, func(ctx context.Context, req *RawRequest) (*RawResponse, error) { ran = true; return nil, nil })
	p.RegisterRaw("GET /v1/other", "Other", true, func(ctx context.Context, req *RawRequest) (*RawResponse, error) { return nil, nil })
	p.SetAuthorizer(deny)
	w = serve2(p, httptest.NewRequest("GET", "/v1/findings/f-1", nil), nil)
	if e := decodeError(t, w); w.Code != 403 || e.Type != "AccessDeniedException" || ran || len(sink.recs) != 1 ||
		!strings.Contains(sink.recs[0], `"errorCode":"AccessDenied"`) {
		t.Errorf("native: %d %+v ran %v %v", w.Code, e, ran, sink.recs)
	}
	if w = serve2(p, httptest.NewRequest("GET", "/v1/findings/f-2", nil), nil); w.Code != 200 || !ran {
		t.Errorf("native allowed: %d %s", w.Code, w.Body)
	}
	want := []IAMOperation{
		{Name: "GetFinding", Action: "opentrail:GetFinding", Mapped: true, Resources: []string{"arn:aws:opentrail:${Region}:${Account}:finding/${id}"}},
		{Name: "Other", Action: "opentrail:Other"},
	}
	if got := p.IAMOperations(); !reflect.DeepEqual(got, want) {
		t.Errorf("IAMOperations %+v", got)
	}
}

func serve2(r interface {
	Handle(http.ResponseWriter, *http.Request, []byte)
}, req *http.Request, body []byte) *httptest.ResponseRecorder {
	req = req.WithContext(WithCaller(req.Context(), testCaller()))
	w := httptest.NewRecorder()
	r.Handle(w, req, body)
	return w
}

type formattedIn struct{ Statement string }

func (in *formattedIn) IAMResources(c *Caller) []string { return nil }
func (*formattedIn) IAMResourceFormats() []string       { return []string{"arn:x:${ID}"} }

func TestIAMResourceFormats(t *testing.T) {
	r := NewRouter("cloudtrail", nil, nil)
	Register(r, "StartQuery", false, func(ctx context.Context, in *formattedIn) (*struct{}, error) { return nil, nil })
	if got := r.IAMOperations(); len(got) != 1 || !got[0].Mapped || !reflect.DeepEqual(got[0].Resources, []string{"arn:x:${ID}"}) {
		t.Errorf("%+v", got)
	}
}
