package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBadInput sends malformed, oversized, deeply nested and badly signed
// requests: each gets a 4xx AWS-shaped error quickly, nothing partial is
// stored, and the server stays up.
func TestBadInput(t *testing.T) {
	s := startServer(t, "")
	good := record(recOpts{id: uuid("bad", 1)})
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	target := func(op string) http.Header {
		return http.Header{"X-Amz-Target": {"CloudTrail_20131101." + op}, "Content-Type": {"application/x-amz-json-1.1"}}
	}
	big := bytes.Repeat([]byte(" "), 10<<20)

	cases := []struct {
		name     string
		req      func() *http.Request
		status   int
		errType  string
		contains string
	}{
		{"malformed JSON record", func() *http.Request {
			return signedRequest(t, creds("test"), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, append(append([]byte{}, good...), []byte("\n{\"eventVersion\":")...))
		}, 400, "", "line 2"},
		{"invalid UTF-8", func() *http.Request {
			b := bytes.Replace(good, []byte("alice"), []byte("al\xffce"), 1)
			return signedRequest(t, creds("test"), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, b)
		}, 400, "", "UTF-8"},
		{"missing required field", func() *http.Request {
			b := bytes.Replace(good, []byte(`"eventTime"`), []byte(`"eventTimeX"`), 1)
			return signedRequest(t, creds("test"), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, append(append(record(recOpts{id: uuid("bad", 2)}), '\n'), b...))
		}, 400, "", "eventTime"},
		{"10 MB body", func() *http.Request {
			return signedRequest(t, creds("test"), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, big)
		}, 413, "RequestEntityTooLargeException", "larger than"},
		{"10,000-deep nesting in a record", func() *http.Request {
			return signedRequest(t, creds("test"), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, []byte(deep))
		}, 400, "", "deep"},
		{"10,000-deep nesting in an API body", func() *http.Request {
			return signedRequest(t, creds("test"), "cloudtrail", "us-east-1", "POST", s.url+"/", target("LookupEvents"), []byte(deep))
		}, 400, "SerializationException", ""},
		{"malformed API body", func() *http.Request {
			return signedRequest(t, creds("test"), "cloudtrail", "us-east-1", "POST", s.url+"/", target("LookupEvents"), []byte(`{"MaxResults":`))
		}, 400, "SerializationException", ""},
		{"unknown X-Amz-Target", func() *http.Request {
			return signedRequest(t, creds("test"), "cloudtrail", "us-east-1", "POST", s.url+"/", target("DropEverything"), []byte(`{}`))
		}, 400, "UnknownOperationException", "DropEverything"},
		{"unsigned", func() *http.Request {
			r, _ := http.NewRequest("POST", s.url+"/", strings.NewReader("{}"))
			r.Header = target("LookupEvents")
			return r
		}, 403, "MissingAuthenticationTokenException", ""},
		{"wrong signature", func() *http.Request {
			r := signedRequest(t, creds("test"), "cloudtrail", "us-east-1", "POST", s.url+"/", target("LookupEvents"), []byte(`{}`))
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Signature=", "Signature=00", 1)[:len(r.Header.Get("Authorization"))])
			return r
		}, 403, "InvalidSignatureException", ""},
		{"tampered body", func() *http.Request {
			r := signedRequest(t, creds("test"), "cloudtrail", "us-east-1", "POST", s.url+"/", target("LookupEvents"), []byte(`{"MaxResults":5}`))
			r.Body = http.NoBody
			r.ContentLength = 0
			return r
		}, 403, "InvalidSignatureException", ""},
		{"stale signature", func() *http.Request {
			r := signedRequest(t, creds("test"), "cloudtrail", "us-east-1", "POST", s.url+"/", target("LookupEvents"), []byte(`{}`))
			return resign(t, r, []byte(`{}`), time.Now().Add(-10*time.Minute))
		}, 403, "InvalidSignatureException", "expired"},
	}
	// A refusal must come at least as fast as a small valid call: 100 ms
	// on a quiet machine, or three times what such a call takes now (the
	// race-enabled server on a loaded 2-core machine takes longer for
	// both).
	var valid []time.Duration
	for range 3 {
		start := time.Now()
		if code, body, _ := do(t, signedRequest(t, creds("test"), "cloudtrail", "us-east-1", "POST", s.url+"/", target("LookupEvents"), []byte(`{"MaxResults":5}`))); code != 200 {
			t.Fatalf("a valid LookupEvents: %d %s", code, body)
		}
		valid = append(valid, time.Since(start))
	}
	slices.Sort(valid)
	quick := max(100*time.Millisecond, 3*valid[1])
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			code, body, hdr := do(t, c.req())
			elapsed := time.Since(start)
			if code != c.status {
				t.Fatalf("status %d, want %d: %s", code, c.status, body)
			}
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
				t.Fatalf("not an AWS-shaped error: %s", body)
			}
			typ := e.Type
			if typ == "" {
				typ = hdr.Get("X-Amzn-ErrorType")
			}
			if c.errType != "" && !strings.HasPrefix(typ, c.errType) {
				t.Fatalf("__type %q, want %q (%s)", typ, c.errType, e.Message)
			}
			if typ == "" {
				t.Fatalf("error has no type: %s", body)
			}
			if !strings.Contains(e.Message, c.contains) {
				t.Fatalf("message %q does not mention %q", e.Message, c.contains)
			}
			if elapsed > quick && c.name != "10 MB body" {
				t.Errorf("took %v, want < %v (100 ms, or three times a valid call's %v)", elapsed, quick, valid[1])
			}
		})
	}

	// Nothing from any rejected batch was stored; the server still works.
	code, body, _ := do(t, signedRequest(t, creds("test"), "opentrail", "us-east-1", "GET", s.url+"/v1/events?category=all&limit=100", nil, nil))
	if code != 200 {
		t.Fatalf("lookup after bad input: %d %s", code, body)
	}
	if bytes.Contains(body, []byte(uuid("bad", 2))) {
		t.Fatalf("a record from a rejected batch was stored")
	}
	if acc, _ := s.postEvents(t, "test", [][]byte{good}); acc != 1 {
		t.Fatalf("server did not accept a good record after bad input")
	}
}

// resign signs r again as of time at.
func resign(t *testing.T, r *http.Request, body []byte, at time.Time) *http.Request {
	r2 := signedRequestAt(t, creds("test"), "cloudtrail", "us-east-1", r.Method, r.URL.String(), r.Header, body, at)
	return r2
}
