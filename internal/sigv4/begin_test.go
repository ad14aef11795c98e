package sigv4_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/sigv4"
)

// TestUnsignedAmzHeaderRefused: an x-amz-* header outside SignedHeaders is
// refused, so that a captured request cannot be replayed as another
// operation (X-Amz-Target) or with another session or copy source.
func TestUnsignedAmzHeaderRefused(t *testing.T) {
	tests := []struct {
		name   string
		rq     signReq
		header string
		value  string
		// msg is the message for the request's service.
		msg string
	}{
		{"json target", signReq{service: "cloudtrail", url: endpoint + "/", body: "{}",
			headers: [][2]string{{"Content-Type", "application/x-amz-json-1.1"}}},
			"X-Amz-Target", "CloudTrail_20131101.DeleteTrail",
			"There were headers present in the request which were not signed: x-amz-target. Sign every x-amz-* header the request carries."},
		{"json security token", sdkRequests["cloudtrail json 1.1"], "X-Amz-Security-Token", "other-session",
			"There were headers present in the request which were not signed: x-amz-security-token. Sign every x-amz-* header the request carries."},
		{"s3 copy source", sdkRequests["s3 put declared hash with metadata"], "x-amz-copy-source", "/other-bucket/k",
			"There were headers present in the request which were not signed"},
		{"s3 presigned acl", sdkRequests["s3 presigned get unicode key"], "X-Amz-Acl", "public-read",
			"There were headers present in the request which were not signed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, body := signWithSDK(t, tc.rq, testAKID, testSecret, signTime)
			v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime }}
			a, err := sigv4.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(r, a, body); err != nil {
				t.Fatalf("as signed: %v", err)
			}
			r.Header.Set(tc.header, tc.value)
			err = v.Verify(r, a, body)
			var e *sigv4.Error
			if kind(err) != sigv4.KindHeadersNotSigned {
				t.Fatalf("with unsigned %s: err = %v, want headers not signed", tc.header, err)
			}
			e = err.(*sigv4.Error)
			if e.Message != tc.msg || e.HeadersNotSigned != strings.ToLower(tc.header) {
				t.Errorf("message %q, HeadersNotSigned %q", e.Message, e.HeadersNotSigned)
			}
			want := map[bool]string{true: "AccessDenied", false: "InvalidSignatureException"}[tc.rq.service == "s3"]
			if got := e.Code(tc.rq.service); got != want || e.Status(tc.rq.service) != http.StatusForbidden {
				t.Errorf("code %s status %d, want %s 403", got, e.Status(tc.rq.service), want)
			}
		})
	}
}

// TestUnsignedHeadersTolerated: what real clients send unsigned passes —
// other headers than x-amz-* (User-Agent, X-Amzn-Trace-Id, amz-sdk-*) and
// X-Amz-Content-Sha256, whose value is the signed payload hash anyway.
func TestUnsignedHeadersTolerated(t *testing.T) {
	r, body := signWithSDK(t, sdkRequests["cloudtrail json 1.1"], testAKID, testSecret, signTime)
	r.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")
	r.Header.Set("Amz-Sdk-Invocation-Id", "d0c20045-a35e-4f94-91c9-e087db1d932c")
	r.Header.Set("X-Amz-Content-Sha256", sha256Hex(body))
	v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime }}
	a, err := sigv4.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(r, a, body); err != nil {
		t.Fatal(err)
	}
	// The unsigned X-Amz-Content-Sha256 is still bound: another value breaks
	// the signature.
	r.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte("other")))
	a, _ = sigv4.Parse(r)
	if err := v.Verify(r, a, []byte("other")); kind(err) != sigv4.KindSignatureMismatch {
		t.Fatalf("changed unsigned hash: err = %v, want mismatch", err)
	}
}

// TestBeginBeforeBody: what needs no body is checked by Begin, and a
// request declaring its payload hash is authenticated before its body.
func TestBeginBeforeBody(t *testing.T) {
	v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime }}
	begin := func(rq signReq, akid, secret string, at time.Time) (*sigv4.Pending, []byte, error) {
		t.Helper()
		r, body := signWithSDK(t, rq, akid, secret, at)
		a, err := sigv4.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Begin(r, a)
		return p, body, err
	}
	declared := sdkRequests["s3 put declared hash with metadata"]
	jsonReq := sdkRequests["cloudtrail json 1.1"]

	p, body, err := begin(declared, testAKID, testSecret, signTime)
	if err != nil || !p.Authenticated() {
		t.Fatalf("declared hash: Begin = %v, authenticated %v", err, p != nil && p.Authenticated())
	}
	if _, err := p.Finish(body); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Finish(append(body, 'x')); kind(err) != sigv4.KindContentSHA256Mismatch {
		t.Fatalf("body not matching the declared hash: %v", err)
	}
	for _, rq := range []signReq{sdkRequests["s3 unsigned payload"], sdkRequests["s3 presigned get unicode key"]} {
		if p, _, err := begin(rq, testAKID, testSecret, signTime); err != nil || !p.Authenticated() {
			t.Fatalf("%s: Begin = %v", rq.url, err)
		}
	}
	// Without a declared hash, the signature waits for the body.
	p, body, err = begin(jsonReq, testAKID, testSecret, signTime)
	if err != nil || p.Authenticated() {
		t.Fatalf("body hash: Begin = %v, authenticated %v", err, p != nil && p.Authenticated())
	}
	if _, err := p.Finish(body); err != nil {
		t.Fatal(err)
	}
	p, body, _ = begin(jsonReq, testAKID, "wrong", signTime)
	if _, err := p.Finish(body); kind(err) != sigv4.KindSignatureMismatch {
		t.Fatalf("wrong secret, body hash: Finish = %v", err)
	}

	// Refused before any body: a wrong secret with a declared hash, an
	// unknown key, a request time out of skew.
	for name, tc := range map[string]struct {
		rq           signReq
		akid, secret string
		at           time.Time
		want         sigv4.Kind
	}{
		"wrong secret": {declared, testAKID, "wrong", signTime, sigv4.KindSignatureMismatch},
		"unknown key":  {jsonReq, "AKIDUNKNOWN", testSecret, signTime, sigv4.KindUnknownAccessKey},
		"skew":         {jsonReq, testAKID, testSecret, signTime.Add(-time.Hour), sigv4.KindTimeSkew},
	} {
		if _, _, err := begin(tc.rq, tc.akid, tc.secret, tc.at); kind(err) != tc.want {
			t.Errorf("%s: Begin = %v, want %v", name, err, tc.want)
		}
	}
}

// TestCredentialScopeRegion: the scope's region must be an AWS region
// name; AWS's message names what was sent.
func TestCredentialScopeRegion(t *testing.T) {
	for region, ok := range map[string]bool{
		"us-east-1": true, "eu-west-3": true, "ap-southeast-5": true, "us-gov-west-1": true, "cn-north-1": true,
		"us-isob-east-1": true, "eusc-de-east-1": true, "il-central-1": true,
		"xx": false, "local": false, "us-east": false, "US-EAST-1": false, "us-east-1a": false, "us--1": false,
		"u-east-1": false, "useast-east-1": false, "us-east-123": false, "-us-east-1": false, "": false,
	} {
		if sigv4.ValidRegion(region) != ok {
			t.Errorf("ValidRegion(%q) = %v", region, !ok)
		}
	}
	v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime }}
	for _, service := range []string{"cloudtrail", "s3"} {
		r, body := signWithSDK(t, signReq{service: service, method: http.MethodGet, url: endpoint + "/"}, testAKID, testSecret, signTime)
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/xx/", 1))
		a, err := sigv4.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		err = v.Verify(r, a, body)
		if kind(err) != sigv4.KindInvalidScope {
			t.Fatalf("%s: err = %v, want invalid scope", service, err)
		}
		e := err.(*sigv4.Error)
		want := map[string]string{
			"cloudtrail": "InvalidSignatureException 403 Credential should be scoped to a valid region, not 'xx'. ",
			"s3":         "AuthorizationHeaderMalformed 400 The authorization header is malformed; the region 'xx' is wrong; sign for an AWS region such as 'us-east-1'.",
		}[service]
		if got := e.Code(service) + " " + strconv.Itoa(e.Status(service)) + " " + e.Message; got != want {
			t.Errorf("%s: got %q, want %q", service, got, want)
		}
	}
}
