package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/event"
)

// recorder is an Auditor that keeps records.
type recorder struct {
	mu   sync.Mutex
	recs [][]byte
}

func (r *recorder) Audit(rec []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

func (r *recorder) last(t *testing.T) map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		t.Fatal("no audit record")
	}
	var m map[string]any
	if err := json.Unmarshal(r.recs[len(r.recs)-1], &m); err != nil {
		t.Fatalf("audit record is not JSON: %v\n%s", err, r.recs[len(r.recs)-1])
	}
	return m
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

var testPrincipal = &auth.Principal{
	AccessKeyID: "AKIAEXAMPLE000000001",
	AccountID:   "210987654321",
	Type:        "IAMUser",
	UserName:    "alice",
	ARN:         "arn:aws:iam::210987654321:user/alice",
	PrincipalID: "AIDAEXAMPLEUSER00001",
}

func testCaller() *Caller {
	return &Caller{
		Principal: testPrincipal,
		Region:    "eu-central-1",
		Service:   "cloudtrail",
		SourceIP:  "198.51.100.23",
		UserAgent: "aws-cli/2.9.19",
		RequestID: "11111111-2222-3333-4444-555555555555",
		Time:      time.Date(2024, 5, 6, 7, 1, 44, 0, time.UTC),
	}
}

type echoIn struct {
	Name       *string `json:",omitempty"`
	MaxResults *int    `json:",omitempty"`
	StartTime  *Time   `json:",omitempty"`
	Tags       []struct {
		Key   string
		Value string
	} `json:",omitempty"`
}

type echoOut struct {
	Name      string `json:",omitempty"`
	StartTime *Time  `json:",omitempty"`
}

func newTestRouter(t *testing.T, logger *slog.Logger) (*Router, *recorder) {
	t.Helper()
	rec := &recorder{}
	r := NewRouter("cloudtrail", rec, logger)
	Register(r, "Echo", true, func(ctx context.Context, in *echoIn) (*echoOut, error) {
		out := &echoOut{StartTime: in.StartTime}
		if in.Name != nil {
			out.Name = *in.Name
		}
		return out, nil
	})
	Register(r, "Write", false, func(ctx context.Context, in *echoIn) (*echoOut, error) {
		return &echoOut{Name: "written"}, nil
	})
	Register(r, "Fail", false, func(ctx context.Context, in *echoIn) (*echoOut, error) {
		return nil, fmt.Errorf("get trail: %w", NewError("TrailNotFoundException", "Unknown trail: x for the user: 210987654321"))
	})
	Register(r, "Broken", false, func(ctx context.Context, in *echoIn) (*echoOut, error) {
		return nil, errors.New("open /var/lib/opentrail/store.db: disk I/O error")
	})
	Register(r, "Panic", false, func(ctx context.Context, in *echoIn) (*echoOut, error) {
		panic("boom")
	})
	Register(r, "Nil", false, func(ctx context.Context, in *echoIn) (*echoOut, error) {
		return nil, nil
	})
	return r, rec
}

func call(r interface {
	Handle(http.ResponseWriter, *http.Request, []byte)
}, c *Caller, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if c != nil {
		req = req.WithContext(WithCaller(req.Context(), c))
	}
	w := httptest.NewRecorder()
	r.Handle(w, req, []byte(body))
	return w
}

func decodeError(t *testing.T, w *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, w.Body.String())
	}
	return e
}

func TestRouterDispatchesBothTargetSpellings(t *testing.T) {
	r, _ := newTestRouter(t, nil)
	for _, target := range []string{
		"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.Echo",
		"CloudTrail_20131101.Echo",
		"Echo",
	} {
		w := call(r, testCaller(), "POST", target, `{"Name":"x","StartTime":1709251200.5}`)
		if w.Code != 200 {
			t.Fatalf("%s: status %d: %s", target, w.Code, w.Body)
		}
		if got, want := w.Body.String(), `{"Name":"x","StartTime":1709251200.5}`; got != want {
			t.Errorf("%s: body = %s, want %s", target, got, want)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Errorf("Content-Type = %q", ct)
		}
		if id := w.Header().Get("x-amzn-RequestId"); id != testCaller().RequestID {
			t.Errorf("x-amzn-RequestId = %q", id)
		}
	}
}

func TestRouterErrors(t *testing.T) {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	tests := []struct {
		name, method, target, body string
		status                     int
		code, msg                  string
	}{
		{"unknown long target", "POST", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.CreateTrail", `{}`,
			400, "UnknownOperationException", "Unknown operation com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.CreateTrail."},
		{"unknown short target", "POST", "CloudTrail_20131101.Bogus", `{}`,
			400, "UnknownOperationException", "Unknown operation CloudTrail_20131101.Bogus."},
		{"no target", "POST", "", `{}`,
			400, "UnknownOperationException", "The request has no X-Amz-Target header naming an operation."},
		{"GET", "GET", "CloudTrail_20131101.Echo", ``,
			400, "UnknownOperationException", "Operation CloudTrail_20131101.Echo must be called with POST, not GET."},
		{"array body", "POST", "Echo", `[]`, 400, "SerializationException", "The request body must be a JSON object."},
		{"null body", "POST", "Echo", `null`, 400, "SerializationException", "The request body must be a JSON object."},
		{"string body", "POST", "Echo", `"x"`, 400, "SerializationException", "The request body must be a JSON object."},
		{"truncated", "POST", "Echo", `{"Name":`, 400, "SerializationException", "The request body is not valid JSON: unexpected end of JSON input (at byte 8)."},
		{"trailing", "POST", "Echo", `{} {}`, 400, "SerializationException", "The request body is not valid JSON: invalid character '{' after top-level value (at byte 4)."},
		{"wrong type", "POST", "Echo", `{"Name":5}`, 400, "SerializationException", "Cannot deserialize Name: expected a string, found a JSON number."},
		{"int as string", "POST", "Echo", `{"MaxResults":"5"}`, 400, "SerializationException", "Cannot deserialize MaxResults: expected an integer in range, found a JSON string."},
		{"fraction for int", "POST", "Echo", `{"MaxResults":5.5}`, 400, "SerializationException", "Cannot deserialize MaxResults: expected an integer in range, found a JSON number 5.5."},
		{"nested wrong type", "POST", "Echo", `{"Tags":[{"Key":1}]}`, 400, "SerializationException", "Cannot deserialize Tags.Key: expected a string, found a JSON number."},
		{"timestamp string", "POST", "Echo", `{"StartTime":"2024-03-01T00:00:00Z"}`, 400, "SerializationException", `Cannot deserialize timestamp "2024-03-01T00:00:00Z": expected epoch seconds as a JSON number.`},
		{"deep nesting", "POST", "Echo", `{"Tags":` + deep + `}`, 400, "SerializationException", "The request body is not valid: JSON nesting deeper than 64 levels."},
		{"typed error", "POST", "Fail", `{}`, 400, "TrailNotFoundException", "Unknown trail: x for the user: 210987654321"},
		{"internal error", "POST", "Broken", `{}`, 500, "InternalFailure", "We encountered an internal error. Please try again."},
		{"panic", "POST", "Panic", `{}`, 500, "InternalFailure", "We encountered an internal error. Please try again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			r, _ := newTestRouter(t, slog.New(slog.NewTextHandler(&logs, nil)))
			w := call(r, testCaller(), tt.method, tt.target, tt.body)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			e := decodeError(t, w)
			if e.Type != tt.code || e.Message != tt.msg {
				t.Errorf("error = {%q, %q}, want {%q, %q}", e.Type, e.Message, tt.code, tt.msg)
			}
			if h := w.Header().Get("X-Amzn-ErrorType"); h != tt.code {
				t.Errorf("X-Amzn-ErrorType = %q, want %q", h, tt.code)
			}
			if id := w.Header().Get("x-amzn-RequestId"); id == "" {
				t.Error("no x-amzn-RequestId")
			}
			if strings.Contains(w.Body.String(), "disk I/O") || strings.Contains(w.Body.String(), "boom") {
				t.Errorf("internal detail leaked: %s", w.Body)
			}
			if tt.status == 500 && !strings.Contains(logs.String(), testCaller().RequestID) {
				t.Errorf("internal error not logged with request id: %s", logs.String())
			}
		})
	}
}

func TestRouterDeepNestingIsFast(t *testing.T) {
	r, _ := newTestRouter(t, nil)
	for _, body := range []string{
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		`{"a":` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10001),
		strings.Repeat("{", 10000),
	} {
		start := time.Now()
		w := call(r, testCaller(), "POST", "Echo", body)
		if el := time.Since(start); el > 100*time.Millisecond {
			t.Errorf("took %v", el)
		}
		if w.Code < 400 || w.Code > 499 {
			t.Errorf("status %d, want 4xx", w.Code)
		}
	}
}

func TestRouterEmptyBodyIsEmptyObject(t *testing.T) {
	r, _ := newTestRouter(t, nil)
	for _, body := range []string{"", "  \n", "{}", `{"Unknown":{"x":[1,2]}}`} {
		w := call(r, testCaller(), "POST", "Echo", body)
		if w.Code != 200 || w.Body.String() != "{}" {
			t.Errorf("body %q: %d %s", body, w.Code, w.Body)
		}
	}
	w := call(r, testCaller(), "POST", "Nil", "{}")
	if w.Code != 200 || w.Body.String() != "{}" {
		t.Errorf("nil output: %d %s", w.Code, w.Body)
	}
}

func TestRouterWithoutCaller(t *testing.T) {
	r, rec := newTestRouter(t, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	w := call(r, nil, "POST", "Echo", "{}")
	if w.Code != 500 || decodeError(t, w).Type != "InternalFailure" {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
	if rec.count() != 0 {
		t.Error("audited a call without a caller")
	}
}

func TestRouterGeneratesRequestID(t *testing.T) {
	r, rec := newTestRouter(t, nil)
	c := testCaller()
	c.RequestID = ""
	w := call(r, c, "POST", "Echo", "{}")
	id := w.Header().Get("x-amzn-RequestId")
	if len(id) != 36 {
		t.Fatalf("request id %q", id)
	}
	if got := rec.last(t)["requestID"]; got != id {
		t.Errorf("audit requestID = %v, want %s", got, id)
	}
}

func TestRouterAudits(t *testing.T) {
	tests := []struct {
		name, target, body string
		want               map[string]any
	}{
		{"read-only", "Echo", `{"Name":"n","MaxResults":5,"Tags":[{"Key":"k","Value":"v"}]}`, map[string]any{
			"eventName":         "Echo",
			"readOnly":          true,
			"requestParameters": map[string]any{"name": "n", "maxResults": float64(5), "tags": []any{map[string]any{"key": "k", "value": "v"}}},
			"responseElements":  nil,
		}},
		{"write", "Write", `{}`, map[string]any{
			"eventName":         "Write",
			"readOnly":          false,
			"requestParameters": nil,
			"responseElements":  map[string]any{"name": "written"},
		}},
		{"error", "Fail", `{"Name":"x"}`, map[string]any{
			"eventName":         "Fail",
			"errorCode":         "TrailNotFoundException",
			"errorMessage":      "Unknown trail: x for the user: 210987654321",
			"requestParameters": map[string]any{"name": "x"},
			"responseElements":  nil,
		}},
		{"internal", "Broken", `{}`, map[string]any{
			"errorCode":    "InternalFailure",
			"errorMessage": "We encountered an internal error. Please try again.",
		}},
		{"bad body", "Echo", `[`, map[string]any{
			"eventName":         "Echo",
			"errorCode":         "SerializationException",
			"requestParameters": nil,
		}},
		{"unknown", "CloudTrail_20131101.CreateTrail", `{}`, map[string]any{
			"eventName": "CreateTrail",
			"errorCode": "UnknownOperationException",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rec := newTestRouter(t, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
			call(r, testCaller(), "POST", tt.target, tt.body)
			if rec.count() != 1 {
				t.Fatalf("%d audit records, want 1", rec.count())
			}
			got := rec.last(t)
			if got["eventSource"] != "cloudtrail.amazonaws.com" || got["requestID"] != testCaller().RequestID {
				t.Errorf("record: %v", got)
			}
			for k, want := range tt.want {
				if g, _ := json.Marshal(got[k]); string(g) != mustJSON(want) {
					t.Errorf("%s = %s, want %s", k, g, mustJSON(want))
				}
			}
		})
	}
}

// An input without omitempty tags is logged with the members the request
// sent only, at every level, however the sender spelt their case.
func TestRouterAuditsSentMembersOnly(t *testing.T) {
	type plainIn struct {
		Name       string
		MaxResults int
		Flag       bool
		NextToken  string
		Tags       []struct{ Key, Value string }
	}
	for _, c := range []struct{ body, want string }{
		{`{"name":"n","Tags":[{"Key":"k"},{"Value":"v"}],"Flag":false}`, `{"flag":false,"name":"n","tags":[{"key":"k"},{"value":"v"}]}`},
		{`{"MaxResults":0,"NextToken":null}`, `{"maxResults":0,"nextToken":""}`},
		{`{}`, `null`},
		{``, `null`},
	} {
		rec := &recorder{}
		r := NewRouter("cloudtrail", rec, slog.New(slog.DiscardHandler))
		Register(r, "Plain", true, func(ctx context.Context, in *plainIn) (*struct{}, error) { return nil, nil })
		call(r, testCaller(), "POST", "Plain", c.body)
		if got := mustJSON(rec.last(t)["requestParameters"]); got != c.want {
			t.Errorf("body %s: requestParameters %s, want %s", c.body, got, c.want)
		}
	}
}

func mustJSON(v any) string {
	return string(marshalCompact(v))
}

type dataIn struct {
	Channel string   `json:"-"`
	Items   []string `json:"items"`
}

func (in *dataIn) BindQuery(q url.Values) error {
	in.Channel = q.Get("channelArn")
	if in.Channel == "bad" {
		return NewError("InvalidChannelARN", "bad channel")
	}
	return nil
}

func (in *dataIn) AuditParams() any {
	return map[string]any{"channelArn": in.Channel, "count": len(in.Items)}
}

type dataOut struct {
	Channel string `json:"channel"`
	N       int    `json:"n"`
}

func (o *dataOut) AuditResponse() any { return map[string]int{"n": o.N} }

func TestRESTRouter(t *testing.T) {
	rec := &recorder{}
	r := NewRESTRouter("cloudtrail-data", rec, nil)
	RegisterREST(r, "POST", "/PutAuditEvents", "PutAuditEvents", false, func(ctx context.Context, in *dataIn) (*dataOut, error) {
		return &dataOut{Channel: in.Channel, N: len(in.Items)}, nil
	})
	do := func(method, target, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req = req.WithContext(WithCaller(req.Context(), testCaller()))
		w := httptest.NewRecorder()
		r.Handle(w, req, []byte(body))
		return w
	}
	w := do("POST", "/PutAuditEvents?channelArn=arn%3Aaws%3Acloudtrail%3Aeu-central-1%3A210987654321%3Achannel%2Fabc&externalId=x", `{"items":["a","b"]}`)
	if w.Code != 200 || w.Body.String() != `{"channel":"arn:aws:cloudtrail:eu-central-1:210987654321:channel/abc","n":2}` {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	got := rec.last(t)
	if got["eventSource"] != "cloudtrail-data.amazonaws.com" || got["eventName"] != "PutAuditEvents" ||
		mustJSON(got["requestParameters"]) != `{"channelArn":"arn:aws:cloudtrail:eu-central-1:210987654321:channel/abc","count":2}` ||
		mustJSON(got["responseElements"]) != `{"n":2}` {
		t.Errorf("audit record %v", got)
	}

	w = do("POST", "/PutAuditEvents?channelArn=bad", `{}`)
	if e := decodeError(t, w); w.Code != 400 || e.Type != "InvalidChannelARN" {
		t.Errorf("bad query: %d %s", w.Code, w.Body)
	}
	w = do("GET", "/PutAuditEvents", ``)
	if e := decodeError(t, w); w.Code != 404 || e.Type != "UnknownOperationException" || e.Message != "No operation is bound to GET /PutAuditEvents." {
		t.Errorf("wrong method: %d %s", w.Code, w.Body)
	}
	if rec.count() != 2 {
		t.Errorf("%d audit records, want 2 (unknown routes are not audited)", rec.count())
	}
	w = do("POST", "/PutAuditEvents", `{"items":"x"}`)
	if e := decodeError(t, w); e.Type != "SerializationException" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("bad body: %d %s", w.Code, w.Body)
	}
}

func TestWriteErrorFunctions(t *testing.T) {
	for _, tt := range []struct {
		write func(http.ResponseWriter, string, error)
		ct    string
	}{{WriteJSON11Error, "application/x-amz-json-1.1"}, {WriteRESTJSONError, "application/json"}} {
		w := httptest.NewRecorder()
		tt.write(w, "req-1", fmt.Errorf("wrapped: %w", Throttled()))
		if w.Code != 400 || w.Body.String() != `{"__type":"ThrottlingException","message":"Rate exceeded"}` ||
			w.Header().Get("Content-Type") != tt.ct || w.Header().Get("x-amzn-RequestId") != "req-1" {
			t.Errorf("throttled: %d %v %s", w.Code, w.Header(), w.Body)
		}
		w = httptest.NewRecorder()
		tt.write(w, "req-2", Unavailable("store is full"))
		if w.Code != 503 || decodeError(t, w).Type != "ServiceUnavailableException" {
			t.Errorf("unavailable: %d %s", w.Code, w.Body)
		}
		w = httptest.NewRecorder()
		e := NewError("MalformedQueryException", "bad query")
		e.Members = map[string]any{"queryCompileError": map[string]any{"message": "why", "message2": 1}, "message": "ignored"}
		tt.write(w, "req-4", e)
		if w.Code != 400 || w.Body.String() != `{"__type":"MalformedQueryException","message":"bad query","queryCompileError":{"message":"why","message2":1}}` {
			t.Errorf("error with members: %d %s", w.Code, w.Body)
		}
		w = httptest.NewRecorder()
		tt.write(w, "req-3", errors.New("secret detail"))
		if w.Code != 500 || strings.Contains(w.Body.String(), "secret") {
			t.Errorf("internal: %d %s", w.Code, w.Body)
		}
	}
}

func TestAuditCallDataEvent(t *testing.T) {
	c := &Caller{Principal: &auth.Principal{Type: "IAMUser", AccountID: "111111111111", ARN: "arn:aws:iam::111111111111:user/a", UserName: "a"},
		Region: "eu-west-1", RequestID: "r-1"}
	raw := AuditCall{Service: "s3", Op: "GetObject", ReadOnly: true, RawParams: true, Data: true,
		Params: map[string]any{"bucketName": "logs", "Host": "127.0.0.1", "key": "a/b"},
		Resources: []AuditResource{{Type: "AWS::S3::Object", ARN: "arn:aws:s3:::logs/a/b"},
			{AccountID: "111111111111", Type: "AWS::S3::Bucket", ARN: "arn:aws:s3:::logs"}}}.Record(c)
	rec, err := event.Parse(raw)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if rec.EventCategory != event.CategoryData || rec.ManagementEvent || len(rec.Resources) != 2 ||
		rec.Resources[0].Type != "AWS::S3::Object" || rec.Resources[0].Name != "arn:aws:s3:::logs/a/b" {
		t.Errorf("parsed %+v", rec)
	}
	if !strings.Contains(string(raw), `"requestParameters":{"Host":"127.0.0.1","bucketName":"logs","key":"a/b"}`) {
		t.Errorf("parameters not logged as sent: %s", raw)
	}
}
