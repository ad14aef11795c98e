package awsapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/auth"
)

// pathSink records what reaches it, and fails commits with fail.
type pathSink struct {
	recs []string
	fail error
}

func (s *pathSink) Audit(rec []byte) { s.recs = append(s.recs, string(rec)) }
func (s *pathSink) AuditCommit(_ context.Context, rec []byte) error {
	if s.fail != nil {
		return s.fail
	}
	s.recs = append(s.recs, string(rec))
	return nil
}

func servePath(r *PathRouter, method, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	req = req.WithContext(WithCaller(req.Context(), &Caller{Principal: &auth.Principal{AccountID: "123456789012"}, Region: "eu-west-1", RequestID: "r-1"}))
	w := httptest.NewRecorder()
	r.Handle(w, req, nil)
	return w
}

func TestPathRouter(t *testing.T) {
	sink := &pathSink{}
	r := NewPathRouter("opentrail", sink, nil, nil)
	r.RegisterRaw("GET /v1/things", "ListThings", true, func(ctx context.Context, req *RawRequest) (*RawResponse, error) {
		req.Params = map[string]any{"q": req.HTTP.URL.Query().Get("q")}
		if req.HTTP.URL.Query().Get("q") == "bad" {
			return nil, NewError(CodeValidation, "q is bad")
		}
		return &RawResponse{Body: []byte(`{"raw":"<&>"}`)}, nil
	})
	r.RegisterRaw("POST /v1/things", "PutThing", false, func(ctx context.Context, req *RawRequest) (*RawResponse, error) {
		if req.HTTP.URL.Query().Get("own") == "fail" {
			return nil, AuditNotStored(errors.New("disk full"))
		}
		return &RawResponse{Body: []byte(`{}`), Audited: req.HTTP.URL.Query().Get("own") == "ok"}, nil
	})

	// The body is sent verbatim, with the request ID; HEAD gets the
	// headers only.
	w := servePath(r, "GET", "/v1/things?q=x")
	if w.Code != 200 || w.Body.String() != `{"raw":"<&>"}` || w.Header().Get("x-amzn-RequestId") != "r-1" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	if len(sink.recs) != 1 || !strings.Contains(sink.recs[0], `"eventName":"ListThings"`) || !strings.Contains(sink.recs[0], `"requestParameters":{"q":"x"}`) {
		t.Errorf("GET record: %q", sink.recs)
	}
	w = servePath(r, "HEAD", "/v1/things")
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "13" {
		t.Errorf("HEAD: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	// Errors go through the one writer, and are recorded with the params.
	sink.recs = nil
	w = servePath(r, "GET", "/v1/things?q=bad")
	if w.Code != 400 || w.Body.String() != `{"__type":"ValidationException","message":"q is bad"}` || w.Header().Get("X-Amzn-ErrorType") != CodeValidation {
		t.Errorf("GET bad: %d %q", w.Code, w.Body.String())
	}
	if len(sink.recs) != 1 || !strings.Contains(sink.recs[0], `"errorCode":"ValidationException"`) || !strings.Contains(sink.recs[0], `"requestParameters":{"q":"bad"}`) {
		t.Errorf("GET bad record: %q", sink.recs)
	}
	// No route: 404, no record.
	sink.recs = nil
	w = servePath(r, "DELETE", "/v1/things")
	if w.Code != 404 || !strings.Contains(w.Body.String(), "No operation is bound to DELETE /v1/things.") || len(sink.recs) != 0 {
		t.Errorf("DELETE: %d %q %q", w.Code, w.Body.String(), sink.recs)
	}
	// An operation that commits its own record gets none from the router;
	// if its own commit failed, the answer is AuditUnavailable.
	w = servePath(r, "POST", "/v1/things?own=ok")
	if w.Code != 200 || len(sink.recs) != 0 {
		t.Errorf("POST own: %d %q", w.Code, sink.recs)
	}
	w = servePath(r, "POST", "/v1/things?own=fail")
	if w.Code != 503 || !strings.Contains(w.Body.String(), "ServiceUnavailableException") || len(sink.recs) != 0 {
		t.Errorf("POST own fail: %d %q %q", w.Code, w.Body.String(), sink.recs)
	}
	// Otherwise the router commits the record before answering, and a
	// failed commit is 503.
	w = servePath(r, "POST", "/v1/things")
	if w.Code != 200 || len(sink.recs) != 1 {
		t.Errorf("POST: %d %q", w.Code, sink.recs)
	}
	sink.fail = errors.New("store down")
	w = servePath(r, "POST", "/v1/things")
	if w.Code != 503 {
		t.Errorf("POST with the audit store down: %d %q", w.Code, w.Body.String())
	}
}
