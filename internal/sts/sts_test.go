package sts

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
)

type records struct{ recs [][]byte }

func (r *records) Audit(rec []byte) { r.recs = append(r.recs, rec) }

var alice = &auth.Principal{AccessKeyID: "AKIAEXAMPLE000000001", AccountID: "210987654321", Type: "IAMUser",
	UserName: "alice", ARN: "arn:aws:iam::210987654321:user/alice", PrincipalID: "AIDAEXAMPLEUSER00001"}

func serve(h *Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c := &awsapi.Caller{Principal: alice, Region: "us-east-1", Service: "sts", SourceIP: "198.51.100.9", RequestID: "c0ffee00-0000-4000-8000-000000000001"}
	req = req.WithContext(awsapi.WithCaller(req.Context(), c))
	w := httptest.NewRecorder()
	h.Serve(w, req, []byte(body))
	return w
}

func TestGetCallerIdentity(t *testing.T) {
	rec := &records{}
	h := New(Options{Auditor: rec})
	for _, tc := range []struct{ method, target, ct, body string }{
		{"POST", "/", "application/x-www-form-urlencoded; charset=utf-8", "Action=GetCallerIdentity&Version=2011-06-15"},
		{"GET", "/?Action=GetCallerIdentity&Version=2011-06-15", "", ""},
	} {
		w := serve(h, tc.method, tc.target, tc.ct, tc.body)
		want := `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::210987654321:user/alice</Arn>
    <UserId>AIDAEXAMPLEUSER00001</UserId>
    <Account>210987654321</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>c0ffee00-0000-4000-8000-000000000001</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
`
		if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "text/xml" || w.Header().Get("x-amzn-RequestId") != "c0ffee00-0000-4000-8000-000000000001" {
			t.Errorf("%s %s: %d %v\n%s", tc.method, tc.target, w.Code, w.Header(), w.Body.String())
		}
	}
	if len(rec.recs) != 2 {
		t.Fatalf("%d records, want 2", len(rec.recs))
	}
	var r map[string]any
	json.Unmarshal(rec.recs[0], &r)
	if r["eventSource"] != "sts.amazonaws.com" || r["eventName"] != "GetCallerIdentity" || r["readOnly"] != true ||
		r["requestParameters"] != nil || r["responseElements"] != nil || r["requestID"] != "c0ffee00-0000-4000-8000-000000000001" {
		t.Errorf("record: %s", rec.recs[0])
	}
}

func TestErrors(t *testing.T) {
	rec := &records{}
	h := New(Options{Auditor: rec})
	for _, tc := range []struct {
		body, code, msg string
		status          int
	}{
		{"Action=Frobnicate&Version=2011-06-15", "InvalidAction", "Could not find operation Frobnicate for version 2011-06-15", 400},
		{"Action=AssumeRole&Version=2011-06-15&RoleArn=x", "InvalidAction", "Could not find operation AssumeRole for version 2011-06-15: opentrail's STS answers only GetCallerIdentity", 400},
		{"Version=2011-06-15", "MissingAction", "Missing Action", 400},
		{"Action=%zz", "MalformedQueryString", "", 400},
	} {
		w := serve(h, "POST", "/", "application/x-www-form-urlencoded", tc.body)
		var doc struct {
			XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
			Error     struct{ Type, Code, Message string }
			RequestID string `xml:"RequestId"`
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Errorf("%s: not an ErrorResponse: %v\n%s", tc.body, err, w.Body.String())
			continue
		}
		if w.Code != tc.status || doc.Error.Code != tc.code || doc.Error.Type != "Sender" || (tc.msg != "" && doc.Error.Message != tc.msg) ||
			doc.RequestID != "c0ffee00-0000-4000-8000-000000000001" {
			t.Errorf("%s: %d %+v", tc.body, w.Code, doc)
		}
	}
	// Unknown actions are recorded with their error; a request naming no
	// action (or none that can be read) is not: there is no operation to
	// name.
	if len(rec.recs) != 2 {
		t.Errorf("%d records, want 2", len(rec.recs))
	}
	w := serve(h, "POST", "/", "application/json", `{"Action":"GetCallerIdentity"}`)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "form-encoded") {
		t.Errorf("JSON body: %d %s", w.Code, w.Body.String())
	}
}

// FuzzServe: no request body or query string makes the handler panic or
// answer anything but a well-formed XML document.
func FuzzServe(f *testing.F) {
	f.Add("Action=GetCallerIdentity&Version=2011-06-15", "")
	f.Add("Action=AssumeRole", "Version=1")
	f.Add("%", "Action=%ff")
	h := New(Options{})
	f.Fuzz(func(t *testing.T, body, query string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req = req.WithContext(awsapi.WithCaller(context.Background(), &awsapi.Caller{Principal: alice}))
		w := httptest.NewRecorder()
		h.Serve(w, req, []byte(body))
		var v struct{ XMLName xml.Name }
		if err := xml.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("answer is not XML: %v\n%s", err, w.Body.String())
		}
	})
}
