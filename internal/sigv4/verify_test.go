package sigv4_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/sigv4"
)

var signTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// jsonBody is a 1.5 KB CloudTrail-like JSON body.
var jsonBody = func() string {
	rec := `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"Mozilla/5.0","requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"eventID":"3f1c7b2e-0000-4000-8000-000000000000","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}`
	var b strings.Builder
	b.WriteString(`{"auditEvents":[`)
	for i := 0; b.Len() < 1400; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":"e` + strconv.Itoa(i) + `","eventData":` + jsonQuote(rec) + `}`)
	}
	b.WriteString(`]}`)
	return b.String()
}()

func jsonQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signReq describes a client request for the aws-sdk-go-v2 signer.
type signReq struct {
	service string
	method  string
	url     string      // absolute, path and query already escaped as sent
	headers [][2]string // added in order; a name may repeat
	body    string
	// payloadHash is what the client signs as payload hash; "" means the
	// SHA-256 of body. sendHash also sends it as X-Amz-Content-Sha256.
	payloadHash string
	sendHash    bool
	token       string        // session token
	presign     time.Duration // > 0: presigned with this X-Amz-Expires
}

// signWithSDK signs rq with aws-sdk-go-v2's signer at signTime and returns
// the request as a server reads it off the wire, and its body.
func signWithSDK(t testing.TB, rq signReq, akid, secret string, at time.Time) (*http.Request, []byte) {
	t.Helper()
	method := rq.method
	if method == "" {
		method = http.MethodPost
	}
	u := rq.url
	if rq.presign > 0 {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "X-Amz-Expires=" + strconv.Itoa(int(rq.presign/time.Second))
	}
	req, err := http.NewRequest(method, u, strings.NewReader(rq.body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range rq.headers {
		req.Header.Add(h[0], h[1])
	}
	hash := rq.payloadHash
	if hash == "" {
		hash = sha256Hex([]byte(rq.body))
	}
	if rq.sendHash {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = rq.service == "s3" })
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: rq.token}
	if rq.presign > 0 {
		signed, hdr, err := signer.PresignHTTP(context.Background(), creds, req, hash, rq.service, "us-east-1", at)
		if err != nil {
			t.Fatal(err)
		}
		req, err = http.NewRequest(method, signed, strings.NewReader(rq.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			if !strings.EqualFold(k, "Host") {
				req.Header[k] = v
			}
		}
	} else if err := signer.SignHTTP(context.Background(), creds, req, hash, rq.service, "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return onWire(t, req)
}

// onWire writes req as a client would and reads it back as a server does.
func onWire(t testing.TB, req *http.Request) (*http.Request, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, body
}

// s3Key escapes an object key as S3 clients put it in the path.
func s3Key(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

const endpoint = "http://127.0.0.1:4566"

var (
	channelARN  = "arn:aws:cloudtrail:us-east-1:123456789012:channel/01234567-89ab-cdef-0123-456789abcdef"
	unicodeKey  = "AWSLogs/123456789012/CloudTrail/us-east-1/my key é ü 日本+!$&'()*,;=:@.json.gz"
	sdkRequests = map[string]signReq{
		"cloudtrail json 1.1": {service: "cloudtrail", url: endpoint + "/", body: jsonBody, headers: [][2]string{
			{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", "CloudTrail_20131101.LookupEvents"}}},
		"cloudtrail-data rest-json query": {service: "cloudtrail-data",
			url:  endpoint + "/PutAuditEvents?channelArn=" + url.QueryEscape(channelARN) + "&externalId=a%20b%2Bc%26d%3De%2A~%27",
			body: jsonBody, headers: [][2]string{{"Content-Type", "application/json"}}},
		"query with raw plus and unsorted names": {service: "cloudtrail-data",
			url: endpoint + "/PutAuditEvents?z=1&externalId=a+b&channelArn=abc&a=%7e&empty=&flag", body: "{}"},
		"logs": {service: "logs", url: endpoint + "/", body: `{"logGroupName":"CloudTrail/DefaultLogGroup"}`, headers: [][2]string{
			{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", "Logs_20140328.DescribeMetricFilters"}}},
		"repeated and spaced headers": {service: "cloudtrail", url: endpoint + "/", body: "{}", headers: [][2]string{
			{"X-Amz-Target", "CloudTrail_20131101.ListTrails"}, {"X-Custom", "one"}, {"X-Custom", "  two   three  "},
			{"X-Spaced", "a    b c"}}},
		"session token": {service: "cloudtrail", url: endpoint + "/", body: "{}", token: "FwoGZXIvYXdzEXAMPLETOKEN"},
		"s3 get unicode key": {service: "s3", method: http.MethodGet, url: endpoint + "/ct-bucket/" + s3Key(unicodeKey),
			payloadHash: sha256Hex(nil), sendHash: true},
		"s3 list objects v2": {service: "s3", method: http.MethodGet,
			url:         endpoint + "/ct-bucket?list-type=2&prefix=AWSLogs%2F123456789012%2F&continuation-token=YWJj%3D%3D&delimiter=%2F&encoding-type=url",
			payloadHash: sha256Hex(nil), sendHash: true},
		"s3 get bucket location": {service: "s3", method: http.MethodGet, url: endpoint + "/ct-bucket?location",
			payloadHash: sha256Hex(nil), sendHash: true},
		"s3 put declared hash with metadata": {service: "s3", method: http.MethodPut, url: endpoint + "/ct-bucket/" + s3Key("digest/a b.json.gz"),
			body: jsonBody, sendHash: true, headers: [][2]string{{"X-Amz-Meta-Signature", "abcd"}, {"X-Amz-Meta-Signature-Algorithm", "SHA256withRSA"}}},
		"s3 unsigned payload": {service: "s3", method: http.MethodPut, url: endpoint + "/ct-bucket/k", body: "data",
			payloadHash: sigv4.UnsignedPayload, sendHash: true},
		"s3 presigned get unicode key": {service: "s3", method: http.MethodGet, url: endpoint + "/ct-bucket/" + s3Key(unicodeKey),
			payloadHash: sigv4.UnsignedPayload, presign: 15 * time.Minute},
		"s3 presigned get with token": {service: "s3", method: http.MethodGet, url: endpoint + "/ct-bucket/k?versionId=3",
			payloadHash: sigv4.UnsignedPayload, presign: time.Hour, token: "tok"},
		"cloudtrail presigned": {service: "cloudtrail", method: http.MethodGet,
			url: endpoint + "/?Action=LookupEvents&Version=2013-11-01", presign: 5 * time.Minute},
	}
)

// TestVerifySDKSigned checks that requests signed by aws-sdk-go-v2's signer
// verify, and fail with a wrong secret.
func TestVerifySDKSigned(t *testing.T) {
	for name, rq := range sdkRequests {
		t.Run(name, func(t *testing.T) {
			r, body := signWithSDK(t, rq, testAKID, testSecret, signTime)
			a, err := sigv4.Parse(r)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if a.Service != rq.service || a.Region != "us-east-1" || a.Date != "20240101" || !a.Time.Equal(signTime) {
				t.Errorf("Parse = %+v", a)
			}
			if a.Presigned != (rq.presign > 0) || a.Expires != rq.presign {
				t.Errorf("Presigned, Expires = %v, %v; want %v", a.Presigned, a.Expires, rq.presign)
			}
			if a.SessionToken != rq.token {
				t.Errorf("SessionToken = %q, want %q", a.SessionToken, rq.token)
			}
			v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime.Add(2 * time.Minute) }}
			payload, err := v.VerifyPayload(r, a, body)
			if err != nil {
				t.Fatalf("VerifyPayload: %v", err)
			}
			if string(payload) != rq.body {
				t.Errorf("payload = %q, want %q", payload, rq.body)
			}
			wrong := &sigv4.Verifier{Credentials: func(string) (string, bool) { return testSecret + "x", true }, Now: v.Now}
			if err := wrong.Verify(r, a, body); kind(err) != sigv4.KindSignatureMismatch {
				t.Errorf("wrong secret: %v", err)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	ct := sdkRequests["cloudtrail json 1.1"]
	s3put := sdkRequests["s3 put declared hash with metadata"]
	presigned := sdkRequests["s3 presigned get unicode key"]
	tests := []struct {
		name string
		rq   signReq
		// signedAt is when the client signed; now is the server's clock.
		signedAt, now time.Time
		akid          string
		tamper        func(r *http.Request, body []byte) []byte
		want          sigv4.Kind
		wantCode      map[string]string // service → code
		wantMsg       string            // substring of the message
	}{
		{name: "unknown key", rq: ct, akid: "AKIDUNKNOWN", want: sigv4.KindUnknownAccessKey,
			wantCode: map[string]string{"cloudtrail": "UnrecognizedClientException", "s3": "InvalidAccessKeyId"},
			wantMsg:  "The security token included in the request is invalid."},
		{name: "tampered body", rq: ct, tamper: func(r *http.Request, b []byte) []byte {
			return bytes.Replace(b, []byte("alice"), []byte("mallory"), 1)
		}, want: sigv4.KindSignatureMismatch, wantCode: map[string]string{"cloudtrail": "InvalidSignatureException", "s3": "SignatureDoesNotMatch"},
			wantMsg: "The request signature we calculated does not match the signature you provided."},
		{name: "truncated body", rq: ct, tamper: func(r *http.Request, b []byte) []byte { return b[:len(b)-1] },
			want: sigv4.KindSignatureMismatch},
		{name: "tampered signed header", rq: ct, tamper: func(r *http.Request, b []byte) []byte {
			r.Header.Set("X-Amz-Target", "CloudTrail_20131101.DeleteTrail")
			return b
		}, want: sigv4.KindSignatureMismatch},
		{name: "signed header removed", rq: ct, tamper: func(r *http.Request, b []byte) []byte {
			r.Header.Del("Content-Type")
			return b
		}, want: sigv4.KindSignatureMismatch},
		{name: "repeated header value reordered", rq: sdkRequests["repeated and spaced headers"], tamper: func(r *http.Request, b []byte) []byte {
			v := r.Header["X-Custom"]
			v[0], v[1] = v[1], v[0]
			return b
		}, want: sigv4.KindSignatureMismatch},
		{name: "query parameter added", rq: sdkRequests["cloudtrail-data rest-json query"], tamper: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery += "&x=1"
			return b
		}, want: sigv4.KindSignatureMismatch},
		{name: "signature altered", rq: ct, tamper: func(r *http.Request, b []byte) []byte {
			h := r.Header.Get("Authorization")
			last := h[len(h)-1]
			r.Header.Set("Authorization", h[:len(h)-1]+map[bool]string{true: "0", false: "1"}[last != '0'])
			return b
		}, want: sigv4.KindSignatureMismatch},
		{name: "s3 body not matching declared hash", rq: s3put, tamper: func(r *http.Request, b []byte) []byte {
			return append(b, ' ')
		}, want: sigv4.KindContentSHA256Mismatch, wantCode: map[string]string{"s3": "XAmzContentSHA256Mismatch"}},
		{name: "skew 6 min late", rq: ct, now: signTime.Add(6 * time.Minute), want: sigv4.KindTimeSkew,
			wantCode: map[string]string{"cloudtrail": "InvalidSignatureException", "s3": "RequestTimeTooSkewed"},
			wantMsg:  "Signature expired: 20240101T000000Z is now earlier than 20240101T000100Z (20240101T000600Z - 5 min.)"},
		{name: "skew 6 min early", rq: ct, now: signTime.Add(-6 * time.Minute), want: sigv4.KindTimeSkew,
			wantMsg: "Signature not yet current: 20240101T000000Z is still later than 20231231T235900Z (20231231T235400Z + 5 min.)"},
		{name: "s3 skew", rq: s3put, now: signTime.Add(6 * time.Minute), want: sigv4.KindTimeSkew,
			wantMsg: "The difference between the request time and the current time is too large."},
		{name: "presign expired", rq: presigned, now: signTime.Add(16 * time.Minute), want: sigv4.KindExpired,
			wantCode: map[string]string{"s3": "AccessDenied"}, wantMsg: "Request has expired"},
		{name: "presign from the future", rq: presigned, now: signTime.Add(-6 * time.Minute), want: sigv4.KindExpired,
			wantMsg: "not valid yet"},
		{name: "presign expires changed", rq: presigned, tamper: func(r *http.Request, b []byte) []byte {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=900", "X-Amz-Expires=3600", 1)
			return b
		}, want: sigv4.KindSignatureMismatch},
		{name: "unsigned payload outside s3", rq: signReq{service: "cloudtrail", url: endpoint + "/", body: "{}",
			payloadHash: sigv4.UnsignedPayload, sendHash: true}, want: sigv4.KindIncompleteSignature,
			wantCode: map[string]string{"cloudtrail": "IncompleteSignatureException"}},
		{name: "bad content sha256", rq: signReq{service: "s3", method: http.MethodGet, url: endpoint + "/b/k",
			payloadHash: "not-a-hash", sendHash: true}, want: sigv4.KindIncompleteSignature,
			wantCode: map[string]string{"s3": "AuthorizationHeaderMalformed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signedAt, now, akid := signTime, tc.now, tc.akid
			if now.IsZero() {
				now = signTime
			}
			if akid == "" {
				akid = testAKID
			}
			r, body := signWithSDK(t, tc.rq, akid, testSecret, signedAt)
			a, err := sigv4.Parse(r)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.tamper != nil {
				body = tc.tamper(r, body)
				if a, err = sigv4.Parse(r); err != nil {
					t.Fatalf("Parse after tampering: %v", err)
				}
			}
			v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return now }}
			err = v.Verify(r, a, body)
			if kind(err) != tc.want {
				t.Fatalf("Verify = %v, want kind %v", err, tc.want)
			}
			e := err.(*sigv4.Error)
			for svc, code := range tc.wantCode {
				if got := e.Code(svc); got != code {
					t.Errorf("Code(%q) = %q, want %q", svc, got, code)
				}
			}
			if !strings.Contains(e.Message, tc.wantMsg) {
				t.Errorf("Message = %q, want it to contain %q", e.Message, tc.wantMsg)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

// TestVerifyWithinSkew accepts requests up to MaxSkew away, either side.
func TestVerifyWithinSkew(t *testing.T) {
	rq := sdkRequests["cloudtrail json 1.1"]
	for _, d := range []time.Duration{-5 * time.Minute, -4 * time.Minute, 0, 4 * time.Minute, 5 * time.Minute} {
		r, body := signWithSDK(t, rq, testAKID, testSecret, signTime)
		a, err := sigv4.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime.Add(d) }}
		if err := v.Verify(r, a, body); err != nil {
			t.Errorf("now = sign time %+v: %v", d, err)
		}
	}
	// A custom MaxSkew applies.
	r, body := signWithSDK(t, rq, testAKID, testSecret, signTime)
	a, _ := sigv4.Parse(r)
	v := &sigv4.Verifier{Credentials: testCredentials, MaxSkew: time.Minute, Now: func() time.Time { return signTime.Add(90 * time.Second) }}
	err := v.Verify(r, a, body)
	if kind(err) != sigv4.KindTimeSkew || !strings.Contains(err.Error(), "(20240101T000130Z - 1 min.)") {
		t.Errorf("MaxSkew 1m, 90s late: %v", err)
	}
}

// TestVerifyUnsignedHeaderAdded: headers outside SignedHeaders may change.
func TestVerifyUnsignedHeaderAdded(t *testing.T) {
	r, body := signWithSDK(t, sdkRequests["cloudtrail json 1.1"], testAKID, testSecret, signTime)
	r.Header.Set("User-Agent", "something else")
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	a, err := sigv4.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime }}
	if err := v.Verify(r, a, body); err != nil {
		t.Fatal(err)
	}
}

// TestVerifySecretRotation: a changed secret is used at once, not the
// signing key cached for the old one.
func TestVerifySecretRotation(t *testing.T) {
	secret := testSecret
	v := &sigv4.Verifier{Credentials: func(string) (string, bool) { return secret, true }, Now: func() time.Time { return signTime }}
	r, body := signWithSDK(t, sdkRequests["cloudtrail json 1.1"], testAKID, testSecret, signTime)
	a, _ := sigv4.Parse(r)
	if err := v.Verify(r, a, body); err != nil {
		t.Fatal(err)
	}
	secret = "rotated"
	if err := v.Verify(r, a, body); kind(err) != sigv4.KindSignatureMismatch {
		t.Fatalf("after rotation: %v", err)
	}
	r, body = signWithSDK(t, sdkRequests["cloudtrail json 1.1"], testAKID, "rotated", signTime)
	a, _ = sigv4.Parse(r)
	if err := v.Verify(r, a, body); err != nil {
		t.Fatalf("signed with the new secret: %v", err)
	}
}

// TestVerifyNilCredentials: a Verifier without credentials knows no key.
func TestVerifyNilCredentials(t *testing.T) {
	r, body := signWithSDK(t, sdkRequests["logs"], testAKID, testSecret, signTime)
	a, _ := sigv4.Parse(r)
	if err := (&sigv4.Verifier{}).Verify(r, a, body); kind(err) != sigv4.KindUnknownAccessKey {
		t.Fatal(err)
	}
}
