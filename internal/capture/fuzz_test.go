package capture_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/event"
)

// FuzzIdentify: any request is named (never an empty name), and its
// recorded parameters are JSON holding no signature and no session token.
func FuzzIdentify(f *testing.F) {
	f.Add("GET", "/b/k", "x-id=GetObject", "b.s3.localhost", "s3", "", "", "")
	f.Add("PUT", "/b/k", "partNumber=1&uploadId=u&X-Amz-Signature=SIG", "h", "s3", "", "", "")
	f.Add("POST", "/", "", "h", "dynamodb", "DynamoDB_20120810.PutItem", "application/x-amz-json-1.0", `{"TableName":"t","Password":"p"}`)
	f.Add("POST", "/", "Action=Send", "h", "sqs", "", "application/x-www-form-urlencoded", "Action=SendMessage&A.member.1.B.member.2=x&X-Amz-Security-Token=TOK")
	f.Add("POST", "/2015-03-31/functions/f/invocations", "", "h", "lambda", "", "", `{"a":[{"b":{}}]}`)
	f.Add("PUT", "/b", "policy", "h", "s3", "", "", `<a xmlns:x="u" x:t="v"><b>1</b><b>2</b></a>`)
	f.Add("PUT", "/b", "policy", "h", "s3", "", "", `{"a":`+strings.Repeat("[", 70)+strings.Repeat("]", 70)+`}`)
	f.Add("POST", "/", "", "h", "svc", "S.Op", "", `{"a":`+strings.Repeat(`{"b":`, 70)+"1"+strings.Repeat("}", 70)+`}`)
	f.Add("PUT", "/b", "tagging", "h", "s3", "", "", strings.Repeat("<a>", 40)+strings.Repeat("</a>", 40))
	routes := []capture.Route{{Service: "lambda", Method: "POST", Pattern: "/2015-03-31/functions/{FunctionName}/invocations", Name: "Invoke"},
		{Pattern: "/files/{Path+}", Name: "PutFile"}}
	f.Fuzz(func(t *testing.T, method, path, query, host, service, target, ctype, body string) {
		if !validMethod(method) {
			return
		}
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: query}, Host: host, Header: http.Header{}}
		if target != "" {
			r.Header.Set("X-Amz-Target", target)
		}
		r.Header.Set("Content-Type", ctype)
		r.Header.Set("X-Amz-Security-Token", "TOKEN-IN-HEADER")
		c := capture.Identify(r, service, []byte(body), &capture.Options{Routes: routes, Redact: []string{"b"}})
		if c.Name == "" {
			t.Fatalf("no name for %s %s?%s", method, path, query)
		}
		ex := &capture.Exchange{Call: c, Status: 200, Account: "111122223333"}
		rec := capture.Record(ex)
		if _, err := event.Parse(rec); err != nil {
			t.Fatalf("the store refuses the record: %v\n%s", err, rec)
		}
		if !json.Valid(rec) {
			t.Fatalf("record is not JSON: %s", rec)
		}
		if bytes.Contains(rec, []byte("TOKEN-IN-HEADER")) {
			t.Fatalf("the session token is recorded: %s", rec)
		}
		if q, err := url.ParseQuery(query); err == nil {
			for k, vs := range q {
				if strings.EqualFold(k, "X-Amz-Signature") && len(vs) > 0 && len(vs[0]) > 3 && utf8.ValidString(vs[0]) &&
					!strings.Contains(path+host+body, vs[0]) && bytes.Contains(rec, mustJSON(vs[0])) {
					t.Fatalf("the signature %q is recorded: %s", vs[0], rec)
				}
			}
		}
	})
}

// FuzzRecord: any answer, error or not, gives a record that is JSON, with
// the call's name, and an errorCode exactly when the status says failure.
func FuzzRecord(f *testing.F) {
	f.Add(200, "application/xml", "<InitiateMultipartUploadResult><UploadId>u</UploadId></InitiateMultipartUploadResult>", "")
	f.Add(404, "application/xml", "<Error><Code>NoSuchKey</Code><Message>m</Message></Error>", "")
	f.Add(400, "application/json", `{"__type":"a#B:c","message":"m"}`, "")
	f.Add(400, "", "", "X:y")
	f.Add(0, "", "", "")
	f.Add(500, "text/xml", "<ErrorResponse><Error><Code>\xff</Code></Error>", "")
	calls := []capture.Call{}
	for _, r := range []*http.Request{
		{Method: "POST", URL: &url.URL{Path: "/b/k", RawQuery: "uploads"}, Host: "h", Header: http.Header{}},
		{Method: "HEAD", URL: &url.URL{Path: "/b/k"}, Host: "h", Header: http.Header{}},
		{Method: "POST", URL: &url.URL{Path: "/"}, Host: "h", Header: http.Header{"X-Amz-Target": {"S.CreateThing"}}},
		{Method: "POST", URL: &url.URL{Path: "/", RawQuery: "Action=CreateThing"}, Host: "h", Header: http.Header{}},
	} {
		svc := "s3"
		if r.URL.Path == "/" {
			svc = "svc"
		}
		calls = append(calls, capture.Identify(r, svc, nil, nil))
	}
	f.Fuzz(func(t *testing.T, status int, ctype, body, errType string) {
		if status < 0 || status > 999 {
			return
		}
		for _, c := range calls {
			ex := &capture.Exchange{Call: c, Status: status, ResponseBody: []byte(body), Account: "111122223333",
				ResponseHeader: http.Header{"Content-Type": {ctype}, "X-Amzn-Errortype": {errType}}}
			rec := capture.Record(ex)
			if _, err := event.Parse(rec); err != nil {
				t.Fatalf("the store refuses the record: %v\n%s", err, rec)
			}
			var m map[string]any
			if err := json.Unmarshal(rec, &m); err != nil {
				t.Fatalf("record is not JSON: %v\n%s", err, rec)
			}
			if m["eventName"] != c.Name {
				t.Fatalf("eventName %v, want %s", m["eventName"], c.Name)
			}
			code, _ := m["errorCode"].(string)
			if status >= 400 && code == "" || status < 300 && code != "" || status == http.StatusNotModified && code != "" {
				t.Fatalf("status %d: errorCode %q", status, code)
			}
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func mustJSON(s string) []byte {
	b, _ := json.Marshal(s)
	return bytes.Trim(b, `"`)
}
