package reliability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/testserver"
)

// The principals of T7's server: local mode accepts any access key, so a
// configuration with principals makes an unknown key unknown.
const (
	t7Key     = "AKIAT7SIGV4ADMIN0001"
	t7Secret  = "t7-secret-0123456789abcdef"
	t7Account = "111111111111"
)

// t7Refusal is why a request must be refused; each protocol answers it
// with its own AWS code.
type t7Refusal int

const (
	t7Accept     t7Refusal = iota // a documented edge case: accepted
	t7Mismatch                    // the signature does not match
	t7UnknownKey                  // the access key is not known
	t7Incomplete                  // the claim is malformed
	t7Skew                        // the request time is more than 5 minutes off
	t7Expired                     // a presigned URL expired or is not valid yet
	t7Scope                       // the scope names a service or region not served
	t7Unsigned                    // an x-amz-* header is not signed
	t7BodyHash                    // the body does not hash to X-Amz-Content-Sha256
)

// t7Protocol is one way of signing requests, with a request that creates
// something named after the case (so that "stored nothing" can be
// checked) and AWS's answer to each refusal.
type t7Protocol struct {
	name, service, region string
	// build returns a valid request creating name.
	build func(base, name string) (method, target string, header http.Header, body []byte)
	// unsignedPayload signs with UNSIGNED-PAYLOAD (S3).
	unsignedPayload bool
	// want is the status and code AWS answers for a refusal.
	want func(t7Refusal) (int, string)
	// errCode reads the error code from an answer.
	errCode func([]byte) string
	// created lists what exists now; stored says whether name is in it.
	created func(t *testing.T, s *testserver.Server) string
	stored  func(t *testing.T, s *testserver.Server, listing, name string) bool
}

func t7JSONWant(r t7Refusal) (int, string) {
	switch r {
	case t7UnknownKey:
		return 403, "UnrecognizedClientException"
	case t7Incomplete:
		return 400, "IncompleteSignatureException"
	}
	return 403, "InvalidSignatureException"
}

func t7QueryWant(r t7Refusal) (int, string) {
	switch r {
	case t7UnknownKey:
		return 403, "InvalidClientTokenId"
	case t7Incomplete:
		return 400, "IncompleteSignature"
	}
	return 403, "SignatureDoesNotMatch"
}

func t7S3Want(r t7Refusal) (int, string) {
	switch r {
	case t7UnknownKey:
		return 403, "InvalidAccessKeyId"
	case t7Incomplete, t7Scope:
		return 400, "AuthorizationHeaderMalformed"
	case t7Skew:
		return 403, "RequestTimeTooSkewed"
	case t7Expired, t7Unsigned:
		return 403, "AccessDenied"
	case t7BodyHash:
		return 400, "XAmzContentSHA256Mismatch"
	}
	return 403, "SignatureDoesNotMatch"
}

var (
	xmlCode  = regexp.MustCompile(`<Code>([^<]*)</Code>`)
	t7Bucket = "t7-trail-logs"
)

func jsonErrCode(b []byte) string {
	var e struct {
		Type string `json:"__type"`
		Code string `json:"code"`
	}
	json.Unmarshal(b, &e)
	c := e.Type
	if c == "" {
		c = e.Code
	}
	if i := strings.LastIndex(c, "#"); i >= 0 {
		c = c[i+1:]
	}
	return c
}

func xmlErrCode(b []byte) string {
	if m := xmlCode.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

func t7Protocols() []t7Protocol {
	cloudtrail := t7Protocol{
		name: "cloudtrail (JSON, header-signed)", service: "cloudtrail", region: "us-east-1",
		build: func(base, name string) (string, string, http.Header, []byte) {
			return "POST", base + "/", http.Header{"X-Amz-Target": {"CloudTrail_20131101.CreateTrail"}, "Content-Type": {"application/x-amz-json-1.1"}},
				[]byte(fmt.Sprintf(`{"Name":%q,"S3BucketName":%q}`, name, t7Bucket))
		},
		want: t7JSONWant, errCode: jsonErrCode,
		stored: func(_ *testing.T, _ *testserver.Server, listing, name string) bool {
			return strings.Contains(listing, `"Name":"`+name+`"`)
		},
		created: func(t *testing.T, s *testserver.Server) string {
			return string(t7Call(t, s, "cloudtrail", "POST", s.URL+"/", http.Header{"X-Amz-Target": {"CloudTrail_20131101.DescribeTrails"}, "Content-Type": {"application/x-amz-json-1.1"}}, []byte(`{}`)))
		},
	}
	sns := t7Protocol{
		name: "sns (query)", service: "sns", region: "us-east-1",
		build: func(base, name string) (string, string, http.Header, []byte) {
			return "POST", base + "/", http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}},
				[]byte("Action=CreateTopic&Version=2010-03-31&Name=" + name)
		},
		want: t7QueryWant, errCode: xmlErrCode,
		stored: func(_ *testing.T, _ *testserver.Server, listing, name string) bool {
			return strings.Contains(listing, ":"+name+"</TopicArn>")
		},
		created: func(t *testing.T, s *testserver.Server) string {
			return string(t7Call(t, s, "sns", "POST", s.URL+"/", http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, []byte("Action=ListTopics&Version=2010-03-31")))
		},
	}
	s3Stored := func(_ *testing.T, _ *testserver.Server, listing, name string) bool {
		return strings.Contains(listing, "<Name>"+name+"</Name>")
	}
	s3List := func(t *testing.T, s *testserver.Server) string {
		return string(t7Call(t, s, "s3", "GET", s.URL+"/", http.Header{"X-Amz-Content-Sha256": {emptyPayloadSHA256}}, nil))
	}
	s3Unsigned := t7Protocol{
		name: "S3 REST, UNSIGNED-PAYLOAD", service: "s3", region: "us-east-1", unsignedPayload: true,
		build: func(base, name string) (string, string, http.Header, []byte) {
			return "PUT", base + "/" + name, http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}},
				[]byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"> </CreateBucketConfiguration>`)
		},
		want: t7S3Want, errCode: xmlErrCode, created: s3List, stored: s3Stored,
	}
	s3Signed := t7Protocol{
		name: "S3 REST, signed payload", service: "s3", region: "eu-west-1",
		build: func(base, name string) (string, string, http.Header, []byte) {
			body := []byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`)
			sum := sha256.Sum256(body)
			return "PUT", base + "/" + name, http.Header{"X-Amz-Content-Sha256": {hex.EncodeToString(sum[:])}}, body
		},
		want: t7S3Want, errCode: xmlErrCode, created: s3List, stored: s3Stored,
	}
	native := t7Protocol{
		name: "opentrail native (REST JSON)", service: "opentrail", region: "us-east-1",
		build: func(base, name string) (string, string, http.Header, []byte) {
			return "POST", base + "/v1/events", http.Header{"Content-Type": {"application/x-ndjson"}}, testserver.Record(testserver.Rec{
				ID: testserver.UUID("t7", t7Seq(name)), Name: name, Account: t7Account,
			})
		},
		want: t7JSONWant, errCode: jsonErrCode,
		created: func(*testing.T, *testserver.Server) string { return "" },
		stored: func(t *testing.T, s *testserver.Server, _, name string) bool {
			out := t7Call(t, s, "opentrail", "GET", s.URL+"/v1/events?category=all&region=*&EventName="+name, nil, nil)
			return strings.Contains(string(out), testserver.UUID("t7", t7Seq(name)))
		},
	}
	return []t7Protocol{cloudtrail, sns, s3Unsigned, s3Signed, native}
}

// t7Seq numbers the native protocol's events by the case name's hash, so
// each case's event has its own id.
func t7Seq(name string) int {
	sum := sha256.Sum256([]byte(name))
	return int(sum[0])<<16 | int(sum[1])<<8 | int(sum[2])
}

// t7Sign signs req as of at with the given payload hash.
func t7Sign(t testing.TB, c aws.Credentials, service, region string, req *http.Request, payloadHash string, at time.Time) {
	t.Helper()
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, payloadHash, service, region, at); err != nil {
		t.Fatal(err)
	}
}

// t7Call makes a valid signed call as the admin and returns its body; not
// 2xx fails the test.
func t7Call(t *testing.T, s *testserver.Server, service, method, target string, header http.Header, body []byte) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, target, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	sum := sha256.Sum256(body)
	t7Sign(t, aws.Credentials{AccessKeyID: t7Key, SecretAccessKey: t7Secret}, service, "us-east-1", req, hex.EncodeToString(sum[:]), time.Now())
	code, out, _ := testserver.Do(t, req)
	if code/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, target, code, out)
	}
	return out
}

// t7Case changes how a protocol's request is signed or sent.
type t7Case struct {
	name string
	// make returns the request to send, built from the protocol's valid
	// request for name.
	make func(t *testing.T, p t7Protocol, base, name string) *http.Request
	// why is the refusal expected, per protocol (nil: the same for all).
	why func(p t7Protocol) t7Refusal
}

func t7Creds() aws.Credentials { return aws.Credentials{AccessKeyID: t7Key, SecretAccessKey: t7Secret} }

// t7Signed builds p's request for name, lets before change it, signs it
// with c for service/region as of at, and lets after change it.
func t7Signed(t *testing.T, p t7Protocol, base, name string, c aws.Credentials, service, region string, at time.Time,
	before func(*http.Request), after func(*http.Request)) *http.Request {
	t.Helper()
	method, target, header, body := p.build(base, name)
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if before != nil {
		before(req)
	}
	hash := req.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	t7Sign(t, c, service, region, req, hash, at)
	if after != nil {
		after(req)
	}
	return req
}

func setBody(req *http.Request, b []byte) {
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
}

func t7Cases() []t7Case {
	same := func(r t7Refusal) func(t7Protocol) t7Refusal { return func(t7Protocol) t7Refusal { return r } }
	now := time.Now
	std := func(name string, why t7Refusal, c func(p t7Protocol) (aws.Credentials, string, string, time.Time), before, after func(*http.Request)) t7Case {
		return t7Case{name: name, why: same(why), make: func(t *testing.T, p t7Protocol, base, n string) *http.Request {
			cr, svc, region, at := c(p)
			return t7Signed(t, p, base, n, cr, svc, region, at, before, after)
		}}
	}
	valid := func(p t7Protocol) (aws.Credentials, string, string, time.Time) {
		return t7Creds(), p.service, p.region, now()
	}
	at := func(d time.Duration) func(p t7Protocol) (aws.Credentials, string, string, time.Time) {
		return func(p t7Protocol) (aws.Credentials, string, string, time.Time) {
			return t7Creds(), p.service, p.region, now().Add(d)
		}
	}
	editAuth := func(f func(string) string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", f(r.Header.Get("Authorization"))) }
	}
	cases := []t7Case{
		std("valid (control)", t7Accept, valid, nil, nil),
		std("wrong secret", t7Mismatch, func(p t7Protocol) (aws.Credentials, string, string, time.Time) {
			return aws.Credentials{AccessKeyID: t7Key, SecretAccessKey: "not-the-secret"}, p.service, p.region, now()
		}, nil, nil),
		std("unknown access key", t7UnknownKey, func(p t7Protocol) (aws.Credentials, string, string, time.Time) {
			return aws.Credentials{AccessKeyID: "AKIAT7NOSUCHKEY00001", SecretAccessKey: t7Secret}, p.service, p.region, now()
		}, nil, nil),
		// The request's shape names its service: each is told it as AWS
		// tells a request at that service's endpoint.
		{name: "scope names a service not served", why: same(t7Scope), make: func(t *testing.T, p t7Protocol, base, n string) *http.Request {
			return t7Signed(t, p, base, n, t7Creds(), "ec2", p.region, now(), nil, nil)
		}},
		{name: "region in the scope changed after signing", why: same(t7Mismatch), make: func(t *testing.T, p t7Protocol, base, n string) *http.Request {
			return t7Signed(t, p, base, n, t7Creds(), p.service, p.region, now(), nil, editAuth(func(a string) string {
				return strings.Replace(a, "/"+p.region+"/", "/ap-south-1/", 1)
			}))
		}},
		{name: "scope names another service served here", why: same(t7Scope), make: func(t *testing.T, p t7Protocol, base, n string) *http.Request {
			other := map[string]string{"cloudtrail": "logs", "sns": "cloudtrail", "s3": "cloudtrail", "opentrail": "cloudtrail"}[p.service]
			return t7Signed(t, p, base, n, t7Creds(), other, p.region, now(), nil, nil)
		}},
		std("malformed region", t7Scope, func(p t7Protocol) (aws.Credentials, string, string, time.Time) {
			return t7Creds(), p.service, "us-east-1x", now()
		}, nil, nil),
		std("date 6 min in the past", t7Skew, at(-6*time.Minute), nil, nil),
		std("date 6 min in the future", t7Skew, at(6*time.Minute), nil, nil),
		std("date 4 min 50 s in the past (inside 5 min)", t7Accept, at(-290*time.Second), nil, nil),
		std("date 4 min 50 s in the future (inside 5 min)", t7Accept, at(290*time.Second), nil, nil),
		std("header changed after signing", t7Mismatch, valid,
			func(r *http.Request) { r.Header.Set("X-T7-Tag", "signed") }, func(r *http.Request) { r.Header.Set("X-T7-Tag", "changed") }),
		std("unsigned x-amz-* header added", t7Unsigned, valid, nil, func(r *http.Request) { r.Header.Set("X-Amz-Meta-Added", "after signing") }),
		std("replayed on another path", t7Mismatch, valid, nil, func(r *http.Request) { r.URL.Path += "x" }),
		std("replayed with another method", t7Mismatch, valid, nil, func(r *http.Request) {
			r.Method = map[string]string{"POST": "PUT", "PUT": "POST"}[r.Method]
		}),
		std("replayed with another query", t7Mismatch, valid, nil, func(r *http.Request) { r.URL.RawQuery = "replayed=1" }),
		std("duplicated Authorization header", t7Incomplete, valid, nil, func(r *http.Request) {
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
		}),
		std("truncated signature", t7Mismatch, valid, nil, editAuth(func(a string) string { return a[:len(a)-20] })),
		std("garbage credential", t7Incomplete, valid, nil, editAuth(func(a string) string {
			return regexp.MustCompile(`Credential=[^,]*`).ReplaceAllString(a, "Credential=%00garbage")
		})),
		{name: "body changed after signing", make: func(t *testing.T, p t7Protocol, base, n string) *http.Request {
			return t7Signed(t, p, base, n, t7Creds(), p.service, p.region, now(), nil, func(r *http.Request) {
				// The same length: Content-Length is signed too.
				b, _ := io.ReadAll(r.Body)
				if i := bytes.Index(b, []byte("> <")); i >= 0 {
					b[i+1] = '\t' // still valid XML
				} else {
					b[len(b)-2] ^= 0x20
				}
				setBody(r, b)
			})
		}, why: func(p t7Protocol) t7Refusal {
			switch {
			case p.unsignedPayload:
				return t7Accept // UNSIGNED-PAYLOAD: the body is not signed, by design
			case p.service == "s3":
				return t7BodyHash
			}
			return t7Mismatch
		}},
	}
	return cases
}

// t7Presigned is a presigned S3 CreateBucket (PUT /name) and a presigned
// native read; cases change the URL.
type t7Presign struct {
	name   string
	why    t7Refusal
	expiry int
	at     time.Duration
	after  func(u string) string
}

func TestT7SigV4Adversarial(t *testing.T) {
	describe(t, "T7", "The SigV4 adversarial set against the real server, for header-signed JSON (CloudTrail, opentrail's native API), "+
		"the query protocol (SNS), S3 REST with UNSIGNED-PAYLOAD and with a signed payload, and presigned URLs: wrong secret, unknown key, "+
		"scope with a service not served, a region changed after signing or malformed, dates 6 minutes off (and 4 min 50 s off: accepted), "+
		"body or header changed after signing, an unsigned x-amz-* header, the signature replayed on another path, method or query, "+
		"a duplicated Authorization header, a truncated signature, a garbage credential, expired and future presigned URLs. Each refusal "+
		"must carry the status and error code AWS answers for that protocol, and every request creates something named after its case, "+
		"so that a refused one is shown to have stored nothing and the events stored before are all still there.")
	cfg := writeServerConfig(t, fmt.Sprintf("principals:\n  - access_key_id: %s\n    secret_access_key: %s\n    account: %q\n    user_name: t7-admin\n", t7Key, t7Secret, t7Account))
	s := startServer(t, "", "--config", cfg)
	t7Call(t, s, "s3", "PUT", s.URL+"/"+t7Bucket, http.Header{"X-Amz-Content-Sha256": {emptyPayloadSHA256}}, nil)

	// Events stored before the attack.
	var before [][]byte
	for i := range 200 {
		before = append(before, testserver.Record(testserver.Rec{ID: testserver.UUID("t7-before", i), Account: t7Account, Name: "T7Before"}))
	}
	req := testserver.Sign(t, t7Creds(), "opentrail", "us-east-1", "POST", s.URL+"/v1/events", nil, bytes.Join(before, []byte("\n")))
	if code, out, _ := testserver.Do(t, req); code != 200 {
		t.Fatalf("POST /v1/events: %d %s", code, out)
	}

	rounds := pick(1, 20)
	var cases, refused, wronglyAccepted, wrongCode, edge int
	accepted := map[string]t7Protocol{}     // names that must exist
	refusedNames := map[string]t7Protocol{} // names that must not
	seq := 0
	check := func(p t7Protocol, name, caseName string, why t7Refusal, req *http.Request) {
		t.Helper()
		cases++
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s, %s: %v", p.name, caseName, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if why == t7Accept {
			edge++
			if resp.StatusCode/100 != 2 {
				t.Errorf("%s, %s: %d %s, want it accepted", p.name, caseName, resp.StatusCode, body)
			}
			accepted[name] = p
			return
		}
		refusedNames[name] = p
		if resp.StatusCode/100 == 2 {
			wronglyAccepted++
			t.Errorf("%s, %s: accepted (%d %s)", p.name, caseName, resp.StatusCode, body)
			return
		}
		refused++
		wantStatus, wantCode := p.want(why)
		if got := p.errCode(body); resp.StatusCode != wantStatus || got != wantCode {
			wrongCode++
			t.Errorf("%s, %s: %d %s, want %d %s:\n%s", p.name, caseName, resp.StatusCode, got, wantStatus, wantCode, body)
		}
	}
	// checkAccepted checks that every accepted request's effect is stored,
	// after each round: CloudTrail allows 5 trails a region, so the
	// round's accepted trails are then deleted to make room for the next.
	checkAccepted := func() {
		listings := map[string]string{}
		for _, p := range t7Protocols() {
			listings[p.name] = p.created(t, s)
		}
		for name, p := range accepted {
			if !p.stored(t, s, listings[p.name], name) {
				t.Errorf("%s: accepted %s is not stored", p.name, name)
			}
			if p.service == "cloudtrail" {
				t7Call(t, s, "cloudtrail", "POST", s.URL+"/", http.Header{"X-Amz-Target": {"CloudTrail_20131101.DeleteTrail"},
					"Content-Type": {"application/x-amz-json-1.1"}}, []byte(fmt.Sprintf(`{"Name":%q}`, name)))
			}
		}
		clear(accepted)
	}
	for round := range rounds {
		if round > 0 {
			checkAccepted()
		}
		for _, p := range t7Protocols() {
			for _, c := range t7Cases() {
				seq++
				name := fmt.Sprintf("t7-%d-%d", round, seq)
				check(p, name, c.name, c.why(p), c.make(t, p, s.URL, name))
			}
		}
		// Presigned URLs: S3 CreateBucket.
		p := t7Protocols()[2]
		for _, c := range []t7Presign{
			{"presigned (control)", t7Accept, 300, 0, nil},
			{"presigned URL expired", t7Expired, 60, -2 * time.Minute, nil},
			{"presigned with a future date", t7Expired, 300, 10 * time.Minute, nil},
			{"presigned, X-Amz-Expires changed", t7Mismatch, 60, -2 * time.Minute, func(u string) string {
				return strings.Replace(u, "X-Amz-Expires=60", "X-Amz-Expires=600", 1)
			}},
			{"presigned, replayed on another path", t7Mismatch, 300, 0, func(u string) string { return strings.Replace(u, "/t7-", "/t7x-", 1) }},
			{"presigned, signature truncated", t7Mismatch, 300, 0, func(u string) string { return u[:len(u)-10] }},
			{"presigned with an Authorization header too", t7Incomplete, 300, 0, nil},
		} {
			seq++
			name := fmt.Sprintf("t7-%d-%d", round, seq)
			preq := presignS3(t, t7Creds(), "PUT", fmt.Sprintf("%s/%s?X-Amz-Expires=%d", s.URL, name, c.expiry), "us-east-1", time.Now().Add(c.at), c.after)
			if c.name == "presigned, replayed on another path" {
				name = strings.TrimPrefix(preq.URL.Path, "/")
			}
			if c.why == t7Incomplete {
				preq.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+t7Key+"/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
			}
			check(p, name, c.name, c.why, preq)
		}
	}

	// Nothing refused was stored; everything accepted was; the events
	// stored before are all there.
	checkAccepted()
	listings := map[string]string{}
	for _, p := range t7Protocols() {
		listings[p.name] = p.created(t, s)
	}
	leaked := 0
	for name, p := range refusedNames {
		if p.stored(t, s, listings[p.name], name) {
			leaked++
			t.Errorf("%s: refused %s was stored", p.name, name)
		}
	}
	lost := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := string(t7Call(t, s, "opentrail", "GET", s.URL+"/v1/events?category=all&region=*&limit=1000&EventName=T7Before", nil, nil))
		lost = 0
		for i := range before {
			if !strings.Contains(out, testserver.UUID("t7-before", i)) {
				lost++
			}
		}
		if lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	figure(t, "T7", "cases", float64(cases), "requests", "informational")
	figure(t, "T7", "documented accepted edge cases", float64(edge), "requests", "informational")
	figure(t, "T7", "refused", float64(refused), "requests", fmt.Sprintf("= cases − edge cases (%d)", cases-edge))
	figure(t, "T7", "wrongly accepted", float64(wronglyAccepted), "requests", "= 0")
	figure(t, "T7", "refused with a code other than AWS's", float64(wrongCode), "requests", "= 0")
	figure(t, "T7", "refused requests whose effect was stored", float64(leaked), "", "= 0")
	figure(t, "T7", "events stored before, lost", float64(lost), "events", "= 0")
	if refused != cases-edge || wronglyAccepted != 0 || lost != 0 || leaked != 0 || wrongCode != 0 {
		t.Errorf("T7: %d cases, %d edge, %d refused, %d wrongly accepted, %d wrong codes, %d stored, %d lost", cases, edge, refused, wronglyAccepted, wrongCode, leaked, lost)
	}
}
