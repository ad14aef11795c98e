package sigv4_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/sigv4"
)

const goodAuth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/cloudtrail/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" +
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name    string
		auth    []string // Authorization header values
		date    string   // X-Amz-Date
		httpDay string   // Date
		query   string
		want    sigv4.Kind // 0: no error
		msg     string     // substring of the error message
	}{
		{name: "good", auth: []string{goodAuth}, date: "20240101T000000Z"},
		{name: "good without spaces", auth: []string{strings.ReplaceAll(goodAuth, ", ", ",")}, date: "20240101T000000Z"},
		{name: "good with Date header only", auth: []string{goodAuth}, httpDay: "Mon, 01 Jan 2024 00:00:00 GMT"},
		{name: "no authentication", want: sigv4.KindMissingAuthentication, msg: "Missing Authentication Token"},
		{name: "two authorization headers", auth: []string{goodAuth, goodAuth}, date: "20240101T000000Z", want: sigv4.KindIncompleteSignature},
		{name: "header and presigned query", auth: []string{goodAuth}, date: "20240101T000000Z",
			query: "X-Amz-Algorithm=AWS4-HMAC-SHA256", want: sigv4.KindIncompleteSignature, msg: "Only one auth mechanism allowed"},
		{name: "sigv2", auth: []string{"AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="}, date: "20240101T000000Z",
			want: sigv4.KindIncompleteSignature, msg: "Unsupported AWS 'algorithm': 'AWS'"},
		{name: "sigv4a", auth: []string{strings.Replace(goodAuth, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature, msg: "Unsupported"},
		{name: "missing credential", auth: []string{"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc"}, date: "20240101T000000Z",
			want: sigv4.KindIncompleteSignature, msg: "Authorization header requires 'Credential' parameter."},
		{name: "missing signed headers", auth: []string{"AWS4-HMAC-SHA256 Credential=A/20240101/us-east-1/s3/aws4_request, Signature=abc"},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature, msg: "requires 'SignedHeaders' parameter."},
		{name: "missing all", auth: []string{"AWS4-HMAC-SHA256"}, date: "20240101T000000Z", want: sigv4.KindIncompleteSignature,
			msg: "requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders'"},
		{name: "parameter without value", auth: []string{goodAuth + ", Junk"}, date: "20240101T000000Z", want: sigv4.KindIncompleteSignature},
		{name: "unknown parameter", auth: []string{goodAuth + ", Foo=bar"}, date: "20240101T000000Z", want: sigv4.KindIncompleteSignature},
		{name: "repeated parameter", auth: []string{goodAuth + ", Signature=00"}, date: "20240101T000000Z", want: sigv4.KindIncompleteSignature},
		{name: "short credential", auth: []string{strings.Replace(goodAuth, "/cloudtrail/aws4_request", "/aws4_request", 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature, msg: "must be of the form"},
		{name: "bad terminator", auth: []string{strings.Replace(goodAuth, "aws4_request", "aws4_reqest", 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature, msg: "valid terminator"},
		{name: "bad credential date", auth: []string{strings.Replace(goodAuth, "/20240101/", "/2024011/", 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature},
		{name: "impossible credential date", auth: []string{strings.Replace(goodAuth, "/20240101/", "/20241301/", 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature},
		{name: "empty region", auth: []string{strings.Replace(goodAuth, "/us-east-1/", "//", 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature, msg: "valid region"},
		{name: "upper-case service", auth: []string{strings.Replace(goodAuth, "/cloudtrail/", "/CloudTrail/", 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature, msg: "correct service"},
		{name: "host not signed", auth: []string{strings.Replace(goodAuth, "content-type;host;x-amz-date", "content-type;x-amz-date", 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature, msg: "'Host' or ':authority' must be a 'SignedHeader'"},
		{name: "empty signed header name", auth: []string{strings.Replace(goodAuth, "content-type;host", "content-type;;host", 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature},
		{name: "no date", auth: []string{goodAuth}, want: sigv4.KindIncompleteSignature,
			msg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{name: "bad x-amz-date", auth: []string{goodAuth}, date: "2024-01-01T00:00:00Z", want: sigv4.KindIncompleteSignature, msg: "ISO8601"},
		{name: "bad date header", auth: []string{goodAuth}, httpDay: "yesterday", want: sigv4.KindIncompleteSignature},
		{name: "scope date differs", auth: []string{goodAuth}, date: "20240102T000000Z", want: sigv4.KindIncompleteSignature,
			msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240101' != '20240102'"},
		{name: "huge header", auth: []string{goodAuth + strings.Repeat(" ", 9000)}, date: "20240101T000000Z", want: sigv4.KindIncompleteSignature},
		{name: "too many signed headers", auth: []string{strings.Replace(goodAuth, "content-type;", strings.Repeat("x;", 200), 1)},
			date: "20240101T000000Z", want: sigv4.KindIncompleteSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := "/"
			if tc.query != "" {
				target += "?" + tc.query
			}
			r := httptest.NewRequest(http.MethodPost, target, nil)
			for _, v := range tc.auth {
				r.Header.Add("Authorization", v)
			}
			if tc.date != "" {
				r.Header.Set("X-Amz-Date", tc.date)
			}
			if tc.httpDay != "" {
				r.Header.Set("Date", tc.httpDay)
			}
			a, err := sigv4.Parse(r)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if a.AccessKeyID != "AKIDEXAMPLE" || a.Date != "20240101" || a.Region != "us-east-1" || a.Service != "cloudtrail" ||
					strings.Join(a.SignedHeaders, ";") != "content-type;host;x-amz-date" || len(a.Signature) != 64 ||
					!a.Time.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || a.Presigned || a.DecodedLength != -1 {
					t.Errorf("Parse = %+v", a)
				}
				if a.Scope() != "20240101/us-east-1/cloudtrail/aws4_request" {
					t.Errorf("Scope = %q", a.Scope())
				}
				return
			}
			if kind(err) != tc.want {
				t.Fatalf("Parse = %v, want kind %v", err, tc.want)
			}
			if !strings.Contains(err.(*sigv4.Error).Message, tc.msg) {
				t.Errorf("message %q does not contain %q", err.(*sigv4.Error).Message, tc.msg)
			}
		})
	}
}

func TestParsePresigned(t *testing.T) {
	const base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name  string
		query string
		want  sigv4.Kind
		msg   string
	}{
		{name: "good", query: base + "&X-Amz-Expires=900"},
		{name: "good with token", query: base + "&X-Amz-Expires=604800&X-Amz-Security-Token=tok"},
		{name: "missing expires", query: base, want: sigv4.KindIncompleteSignature, msg: "requires the X-Amz-Algorithm, X-Amz-Credential"},
		{name: "missing signature", query: strings.Replace(base, "&X-Amz-Signature=", "&X-Amz-Sig=", 1) + "&X-Amz-Expires=1", want: sigv4.KindIncompleteSignature},
		{name: "expires over a week", query: base + "&X-Amz-Expires=604801", want: sigv4.KindIncompleteSignature, msg: "604800"},
		{name: "expires huge", query: base + "&X-Amz-Expires=99999999999999999999999", want: sigv4.KindIncompleteSignature, msg: "604800"},
		{name: "expires negative", query: base + "&X-Amz-Expires=-1", want: sigv4.KindIncompleteSignature, msg: "non-negative"},
		{name: "expires not a number", query: base + "&X-Amz-Expires=soon", want: sigv4.KindIncompleteSignature, msg: "should be a number"},
		{name: "repeated parameter", query: base + "&X-Amz-Expires=1&X-Amz-Expires=2", want: sigv4.KindIncompleteSignature},
		{name: "bad algorithm", query: strings.Replace(base, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1) + "&X-Amz-Expires=1", want: sigv4.KindIncompleteSignature},
		{name: "bad date", query: strings.Replace(base, "20240101T000000Z", "20240101", 1) + "&X-Amz-Expires=1", want: sigv4.KindIncompleteSignature},
		{name: "host unsigned", query: strings.Replace(base, "X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date", 1) + "&X-Amz-Expires=1",
			want: sigv4.KindIncompleteSignature},
		{name: "bad escape", query: base + "&X-Amz-Expires=1&x=%zz", want: sigv4.KindIncompleteSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/bucket/key?"+tc.query, nil)
			a, err := sigv4.Parse(r)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if !a.Presigned || a.Service != "s3" || a.Expires <= 0 || !a.Time.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("Parse = %+v", a)
				}
				return
			}
			if kind(err) != tc.want {
				t.Fatalf("Parse = %v, want kind %v", err, tc.want)
			}
			if !strings.Contains(err.(*sigv4.Error).Message, tc.msg) {
				t.Errorf("message %q does not contain %q", err.(*sigv4.Error).Message, tc.msg)
			}
		})
	}
}

// TestErrorMessagesAreSafe: client text quoted in messages is clipped and
// printable.
func TestErrorMessagesAreSafe(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+strings.Repeat("\x01", 500)+"/x, SignedHeaders=host, Signature=00")
	_, err := sigv4.Parse(r)
	if kind(err) != sigv4.KindIncompleteSignature {
		t.Fatal(err)
	}
	msg := err.(*sigv4.Error).Message
	if len(msg) > 300 || strings.ContainsRune(msg, '\x01') {
		t.Errorf("unsafe message %q", msg)
	}
}

func TestErrorCodes(t *testing.T) {
	tests := []struct {
		kind       sigv4.Kind
		json, s3   string
		httpStatus int
	}{
		{sigv4.KindMissingAuthentication, "MissingAuthenticationTokenException", "AccessDenied", 403},
		{sigv4.KindIncompleteSignature, "IncompleteSignatureException", "AuthorizationHeaderMalformed", 400},
		{sigv4.KindUnknownAccessKey, "UnrecognizedClientException", "InvalidAccessKeyId", 403},
		{sigv4.KindSignatureMismatch, "InvalidSignatureException", "SignatureDoesNotMatch", 403},
		{sigv4.KindTimeSkew, "InvalidSignatureException", "RequestTimeTooSkewed", 403},
		{sigv4.KindExpired, "InvalidSignatureException", "AccessDenied", 403},
		{sigv4.KindContentSHA256Mismatch, "InvalidSignatureException", "XAmzContentSHA256Mismatch", 400},
		{sigv4.KindBadDigest, "InvalidSignatureException", "BadDigest", 400},
		{sigv4.KindIncompleteBody, "IncompleteSignatureException", "IncompleteBody", 400},
		{sigv4.KindHeadersNotSigned, "InvalidSignatureException", "AccessDenied", 403},
		{sigv4.KindInvalidScope, "InvalidSignatureException", "AuthorizationHeaderMalformed", 403},
	}
	for _, tc := range tests {
		e := &sigv4.Error{Kind: tc.kind, Message: "m"}
		for _, svc := range []string{"cloudtrail", "cloudtrail-data", "logs"} {
			if got := e.Code(svc); got != tc.json {
				t.Errorf("%v: Code(%s) = %s, want %s", tc.kind, svc, got, tc.json)
			}
		}
		if got := e.Code("s3"); got != tc.s3 {
			t.Errorf("%v: Code(s3) = %s, want %s", tc.kind, got, tc.s3)
		}
		if got := e.Status("cloudtrail"); got != tc.httpStatus {
			t.Errorf("%v: Status = %d, want %d", tc.kind, got, tc.httpStatus)
		}
		if tc.kind.String() == "unknown" || !strings.Contains(e.Error(), tc.kind.String()) {
			t.Errorf("%v: Error() = %q", tc.kind, e.Error())
		}
	}
}

// referenceSign signs like curl --aws-sigv4 does for a body-less path: only
// host and x-amz-date, the body hash computed by the client itself. It is
// written from the SigV4 specification, independently of the package.
func referenceSign(method, host, path, canonQuery, amzDate string, body []byte, akid, secret, region, service string) string {
	mac := func(key []byte, data string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(data))
		return m.Sum(nil)
	}
	bodySum := sha256.Sum256(body)
	canonical := method + "\n" + path + "\n" + canonQuery + "\n" +
		"host:" + host + "\n" + "x-amz-date:" + amzDate + "\n\n" +
		"host;x-amz-date\n" + hex.EncodeToString(bodySum[:])
	crSum := sha256.Sum256([]byte(canonical))
	day := amzDate[:8]
	scope := day + "/" + region + "/" + service + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(crSum[:])
	k := mac([]byte("AWS4"+secret), day)
	k = mac(k, region)
	k = mac(k, service)
	k = mac(k, "aws4_request")
	return "AWS4-HMAC-SHA256 Credential=" + akid + "/" + scope + ", SignedHeaders=host;x-amz-date, Signature=" +
		hex.EncodeToString(mac(k, toSign))
}

func TestVerifyReferenceHostAndDateOnly(t *testing.T) {
	body := []byte(`{"MaxResults":3}`)
	tests := []struct {
		name, method, path, query, canonQuery, service string
	}{
		{"cloudtrail json", http.MethodPost, "/", "", "", "cloudtrail"},
		{"cloudtrail-data query", http.MethodPost, "/PutAuditEvents", "channelArn=arn%3Aaws%3Acloudtrail%3Aeu-west-1%3A123456789012%3Achannel%2Fabc",
			"channelArn=arn%3Aaws%3Acloudtrail%3Aeu-west-1%3A123456789012%3Achannel%2Fabc", "cloudtrail-data"},
		{"s3 path with escapes", http.MethodGet, "/b/my%20key%C3%A9.json", "", "", "s3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const host, amzDate = "127.0.0.1:4566", "20240101T000000Z"
			b := body
			if tc.method == http.MethodGet {
				b = nil
			}
			target := tc.path
			if tc.query != "" {
				target += "?" + tc.query
			}
			path := tc.path
			if tc.service != "s3" {
				path = strings.ReplaceAll(path, "%", "%25") // encoded twice outside s3
			}
			r := httptest.NewRequest(tc.method, target, strings.NewReader(string(b)))
			r.Host = host
			r.Header.Set("X-Amz-Date", amzDate)
			r.Header.Set("Content-Type", "application/x-amz-json-1.1") // unsigned
			r.Header.Set("Authorization", referenceSign(tc.method, host, path, tc.canonQuery, amzDate, b, testAKID, testSecret, "eu-west-1", tc.service))
			a, err := sigv4.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime }}
			if err := v.Verify(r, a, b); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := v.Verify(r, a, append([]byte("x"), b...)); kind(err) != sigv4.KindSignatureMismatch {
				t.Errorf("tampered body: %v", err)
			}
		})
	}
}
