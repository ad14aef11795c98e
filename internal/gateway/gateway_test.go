package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/config"
)

// TestS3PutGetResigned: a PUT and a GET signed for the gateway reach the
// upstream re-signed with its own key (the upstream checks the signature),
// the PUT's intent is committed first and completed with the same eventID,
// and the records name the calls.
func TestS3PutGetResigned(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	_, gw := testGateway(t, up, rec, nil)

	obj := []byte("hello, gateway")
	resp, _ := do(t, signed(t, "PUT", gw.URL+"/bucket/dir/key.txt", "s3", bytes.NewReader(obj), "", map[string]string{"X-Amz-Meta-Color": "blue"}, "test", "test"))
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"etag1"` {
		t.Fatalf("PUT: %d %v", resp.StatusCode, resp.Header)
	}
	resp, got := do(t, signed(t, "GET", gw.URL+"/bucket/dir/key.txt", "s3", nil, "", nil, "test", "test"))
	if resp.StatusCode != 200 || !bytes.Equal(got, obj) {
		t.Fatalf("GET: %d %q", resp.StatusCode, got)
	}
	for _, s := range up.requests() {
		if s.authErr != nil {
			t.Fatalf("upstream refused %s %s: %v", s.method, s.path, s.authErr)
		}
		if !strings.Contains(s.header.Get("Authorization"), "Credential="+upKey+"/") {
			t.Errorf("%s not re-signed with the upstream key: %s", s.method, s.header.Get("Authorization"))
		}
	}
	if up.requests()[0].header.Get("X-Amz-Meta-Color") != "blue" {
		t.Error("metadata header not forwarded")
	}
	recs := rec.wait(t, 2)
	byName := map[string]map[string]any{}
	for _, r := range recs {
		byName[r["eventName"].(string)] = r
	}
	put, get := byName["PutObject"], byName["GetObject"]
	if put == nil || get == nil {
		t.Fatalf("records: %v", recs)
	}
	if field(put, "requestParameters", "bucketName") != "bucket" || field(put, "requestParameters", "key") != "dir/key.txt" {
		t.Errorf("PutObject params: %v", put["requestParameters"])
	}
	if field(put, "additionalEventData", "bytesTransferredIn") != float64(len(obj)) || field(get, "additionalEventData", "bytesTransferredOut") != float64(len(obj)) {
		t.Errorf("bytes: put %v, get %v", put["additionalEventData"], get["additionalEventData"])
	}
	if put["requestID"] != "UPSTREAMREQ1" || field(put, "userIdentity", "accountId") != auth.LocalAccount {
		t.Errorf("PutObject: requestID %v, identity %v", put["requestID"], put["userIdentity"])
	}
	rec.mu.Lock()
	left := len(rec.intents)
	rec.mu.Unlock()
	if left != 0 {
		t.Errorf("%d intents left after their calls completed", left)
	}
}

// TestIntentBeforeForward: the upstream receives a mutating call only
// once its intent is stored; a read is recorded after the fact only.
func TestIntentBeforeForward(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	up.block = make(chan struct{})
	_, gw := testGateway(t, up, rec, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, signed(t, "DELETE", gw.URL+"/bucket/k", "s3", nil, "", nil, "test", "test"))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.intents)
		var intent []byte
		for _, b := range rec.intents {
			intent = b
		}
		rec.mu.Unlock()
		if n == 1 {
			if !bytes.Contains(intent, []byte(`"outcome":"unknown"`)) || !bytes.Contains(intent, []byte(`"eventName":"DeleteObject"`)) {
				t.Errorf("intent: %s", intent)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no intent stored while the call is upstream")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(up.block)
	<-done
	r := rec.wait(t, 1)[0]
	if r["eventName"] != "DeleteObject" || field(r, "additionalEventData", "outcome") != nil {
		t.Errorf("final record: %v", r)
	}
}

// TestFailClosed: with the store down, mutating calls of every protocol
// are answered 503 in the protocol's own shape and never reach the
// upstream; reads still pass (recorded after the fact).
func TestFailClosed(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	rec.setDown(errStoreDown)
	_, gw := testGateway(t, up, rec, nil)

	cases := []struct {
		name string
		req  *http.Request
		want []string // in the body
		ct   string
	}{
		{"s3", signed(t, "PUT", gw.URL+"/bucket/k", "s3", strings.NewReader("x"), "", nil, "test", "test"),
			[]string{"<Error><Code>ServiceUnavailable</Code><Message>", "<RequestId>"}, "application/xml"},
		{"json", signed(t, "POST", gw.URL+"/", "dynamodb", strings.NewReader(`{"TableName":"t","Item":{}}`), "",
			map[string]string{"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"}, "test", "test"),
			[]string{`"__type":"ServiceUnavailableException"`, `"message":"The call was not forwarded`}, "application/x-amz-json-1.0"},
		{"query", signed(t, "POST", gw.URL+"/", "sqs", strings.NewReader("Action=SendMessage&Version=2012-11-05&QueueUrl=q&MessageBody=hi"), "",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "test", "test"),
			[]string{"<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>"}, "text/xml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.req)
			if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != tc.ct {
				t.Fatalf("status %d, content type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("body %s lacks %s", body, w)
				}
			}
			if tc.name == "json" && resp.Header.Get("X-Amzn-ErrorType") != "ServiceUnavailableException" {
				t.Errorf("x-amzn-ErrorType %q", resp.Header.Get("X-Amzn-ErrorType"))
			}
		})
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("the upstream saw %d refused calls", n)
	}
	// A read is forwarded: it is recorded after the fact.
	if resp, _ := do(t, signed(t, "GET", gw.URL+"/bucket/k", "s3", nil, "", nil, "test", "test")); resp.StatusCode != 404 {
		t.Errorf("GET with the store down: %d", resp.StatusCode)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("the upstream saw %d calls, want the read only", n)
	}
}

// TestFailOpenGap: with fail_open, calls pass while the store is down;
// once it is back, their records are written and a CaptureGap record
// says what happened.
func TestFailOpenGap(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	rec.setDown(errStoreDown)
	_, gw := testGateway(t, up, rec, func(o *Options) { o.FailOpen = true })
	for i := range 3 {
		resp, _ := do(t, signed(t, "PUT", gw.URL+"/bucket/k"+strconv.Itoa(i), "s3", strings.NewReader("x"), "", nil, "test", "test"))
		if resp.StatusCode != 200 {
			t.Fatalf("PUT with fail_open: %d", resp.StatusCode)
		}
	}
	if n := len(up.requests()); n != 3 {
		t.Fatalf("upstream saw %d calls, want 3", n)
	}
	time.Sleep(50 * time.Millisecond)
	rec.setDown(nil)
	recs := rec.wait(t, 4)
	var gap map[string]any
	puts := 0
	for _, r := range recs {
		switch r["eventName"] {
		case "CaptureGap":
			gap = r
		case "PutObject":
			puts++
		}
	}
	if puts != 3 || gap == nil {
		t.Fatalf("records after recovery: %d PutObject, gap %v", puts, gap)
	}
	d := gap["serviceEventDetails"].(map[string]any)
	if d["callsForwarded"] != 3.0 || d["recordsRecoveredLate"] != 3.0 || d["recordsLost"] != 0.0 || !strings.Contains(d["reason"].(string), "connection refused") {
		t.Errorf("gap details: %v", d)
	}
	if gap["eventSource"] != GapSource || gap["eventType"] != "AwsServiceEvent" || gap["readOnly"] != false ||
		gap["managementEvent"] != true || gap["recipientAccountId"] != auth.LocalAccount {
		t.Errorf("gap record: %v", gap)
	}
	if d["firstUnrecordedTime"] == "" || d["lastUnrecordedTime"] == "" {
		t.Errorf("gap times: %v", d)
	}
}

// TestGapQueueBounded: beyond the queue, records are counted lost.
func TestGapQueueBounded(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	rec.setDown(errStoreDown)
	_, gw := testGateway(t, up, rec, func(o *Options) { o.FailOpen = true; o.GapQueue = 2 })
	for i := range 4 {
		do(t, signed(t, "PUT", gw.URL+"/bucket/k"+strconv.Itoa(i), "s3", strings.NewReader("x"), "", nil, "test", "test"))
	}
	time.Sleep(50 * time.Millisecond)
	rec.setDown(nil)
	recs := rec.wait(t, 3)
	var d map[string]any
	for _, r := range recs {
		if r["eventName"] == "CaptureGap" {
			d = r["serviceEventDetails"].(map[string]any)
		}
	}
	if d == nil || d["callsForwarded"] != 4.0 || d["recordsRecoveredLate"] != 2.0 || d["recordsLost"] != 2.0 {
		t.Errorf("gap details: %v (records %v)", d, recs)
	}
}

// TestJSONAndQueryProtocols: calls are named by X-Amz-Target and Action,
// their input recorded, and the upstream checks the re-signed body.
func TestJSONAndQueryProtocols(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	_, gw := testGateway(t, up, rec, nil)
	resp, body := do(t, signed(t, "POST", gw.URL+"/", "dynamodb", strings.NewReader(`{"TableName":"orders","Item":{"id":{"S":"1"}}}`), "",
		map[string]string{"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"}, "test", "test"))
	if resp.StatusCode != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("json: %d %s", resp.StatusCode, body)
	}
	resp, _ = do(t, signed(t, "POST", gw.URL+"/", "sqs", strings.NewReader("Action=SendMessage&Version=2012-11-05&QueueUrl=q1&MessageBody=hi"), "",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "test", "test"))
	if resp.StatusCode != 200 {
		t.Fatalf("query: %d", resp.StatusCode)
	}
	for _, s := range up.requests() {
		if s.authErr != nil {
			t.Fatalf("upstream refused: %v", s.authErr)
		}
	}
	recs := rec.wait(t, 2)
	names := map[string]map[string]any{}
	for _, r := range recs {
		names[r["eventName"].(string)] = r
	}
	if p := names["PutItem"]; p == nil || p["eventSource"] != "dynamodb.amazonaws.com" || field(p, "requestParameters", "tableName") != "orders" {
		t.Errorf("PutItem record: %v", p)
	}
	if s := names["SendMessage"]; s == nil || field(s, "requestParameters", "queueUrl") != "q1" {
		t.Errorf("SendMessage record: %v", s)
	}
}

// TestBodyLimit: a JSON body over max_body_bytes is refused with 413.
func TestBodyLimit(t *testing.T) {
	up := newUpstream(t)
	_, gw := testGateway(t, up, newRecorder(), func(o *Options) { o.MaxBodyBytes = 100 })
	resp, body := do(t, signed(t, "POST", gw.URL+"/", "dynamodb", strings.NewReader(`{"TableName":"`+strings.Repeat("x", 200)+`"}`), "",
		map[string]string{"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"}, "test", "test"))
	if resp.StatusCode != 413 || !strings.Contains(string(body), "RequestEntityTooLargeException") || len(up.requests()) != 0 {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

// TestVirtualHostedStyle: a virtual-hosted-style request goes upstream
// path-style.
func TestVirtualHostedStyle(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	_, gw := testGateway(t, up, rec, nil)
	r := signed(t, "PUT", gw.URL+"/k.txt", "s3", strings.NewReader("v"), "", nil, "test", "test")
	r.Host = "mybucket.s3.localhost"
	r = resignWithHost(t, r, "mybucket.s3.localhost", []byte("v"))
	resp, _ := do(t, r)
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	if s := up.requests()[0]; s.path != "/mybucket/k.txt" || s.authErr != nil {
		t.Errorf("upstream saw %s (%v)", s.path, s.authErr)
	}
	if r := rec.wait(t, 1)[0]; field(r, "requestParameters", "bucketName") != "mybucket" {
		t.Errorf("record: %v", r["requestParameters"])
	}
}

func resignWithHost(t *testing.T, r *http.Request, host string, body []byte) *http.Request {
	t.Helper()
	r.Header.Del("Authorization")
	r.Host = host
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, r, hashHex(body), "s3", "us-east-1", time.Now(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPresigned: a presigned GET is verified and re-presigned for the
// upstream.
func TestPresigned(t *testing.T) {
	up := newUpstream(t)
	up.objects["/bucket/k"] = []byte("presigned body")
	rec := newRecorder()
	_, gw := testGateway(t, up, rec, nil)
	r, _ := http.NewRequest("GET", gw.URL+"/bucket/k?X-Amz-Expires=300", nil)
	uri, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	b := new(bytes.Buffer)
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || b.String() != "presigned body" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	s := up.requests()[0]
	q, _ := url.ParseQuery(s.query)
	if s.authErr != nil || !strings.HasPrefix(q.Get("X-Amz-Credential"), upKey+"/") {
		t.Errorf("upstream saw %s (%v)", s.query, s.authErr)
	}
	r2 := rec.wait(t, 1)[0]
	if field(r2, "additionalEventData", "AuthenticationMethod") != "QueryString" {
		t.Errorf("record: %v", r2["additionalEventData"])
	}
	if _, ok := field(r2, "requestParameters").(map[string]any)["X-Amz-Signature"]; ok {
		t.Error("the signature is recorded")
	}
	// A tampered presigned URL is refused before the upstream.
	bad := strings.Replace(uri, "X-Amz-Signature=", "X-Amz-Signature=0", 1)
	resp, _ = http.Get(bad)
	if resp.StatusCode != 403 || len(up.requests()) != 1 {
		t.Errorf("tampered presigned URL: %d", resp.StatusCode)
	}
}

// TestAuthRefused: wrong secrets and unknown keys are refused in the
// protocol's shape, before the upstream; unknown keys pass unchanged with
// pass_through_unknown_keys.
func TestAuthRefused(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	cfg := config.Default()
	cfg.Principals = []config.Principal{{AccessKeyID: "AKIAGATEWAYCLIENT", SecretAccessKey: "client-secret", Account: "111122223333", Type: "IAMUser", UserName: "alice"}}
	dir := auth.FromConfig(&cfg)
	_, gw := testGateway(t, up, rec, func(o *Options) { o.Directory = dir; o.Account = "111122223333" })

	resp, body := do(t, signed(t, "PUT", gw.URL+"/bucket/k", "s3", strings.NewReader("x"), "", nil, "AKIAGATEWAYCLIENT", "wrong"))
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("wrong secret: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, signed(t, "PUT", gw.URL+"/bucket/k", "s3", strings.NewReader("x"), "", nil, "AKIANOBODY", "x"))
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>InvalidAccessKeyId</Code>") {
		t.Errorf("unknown key: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, signed(t, "POST", gw.URL+"/", "dynamodb", strings.NewReader(`{}`), "",
		map[string]string{"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}, "AKIANOBODY", "x"))
	if resp.StatusCode != 403 || !strings.Contains(string(body), `"__type":"UnrecognizedClientException"`) {
		t.Errorf("unknown key, json: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, mustRequest(t, "GET", gw.URL+"/bucket/k"))
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
		t.Errorf("unsigned: %d %s", resp.StatusCode, body)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream saw %d refused calls", n)
	}
	// The wrong secret of a known key is recorded, naming the caller; the
	// unknown keys and the unsigned call are not.
	if r := rec.wait(t, 1)[0]; r["errorCode"] != "SignatureDoesNotMatch" || r["eventName"] != "PutObject" || field(r, "userIdentity", "userName") != "alice" {
		t.Errorf("the refused call's record: %v", r)
	}
	time.Sleep(100 * time.Millisecond)
	rec.mu.Lock()
	n := len(rec.records)
	rec.records = nil
	rec.mu.Unlock()
	if n != 1 {
		t.Errorf("%d records of refused calls, want 1 (the known key's)", n)
	}
	// The configured principal is recorded as itself.
	resp, _ = do(t, signed(t, "PUT", gw.URL+"/bucket/k", "s3", strings.NewReader("x"), "", nil, "AKIAGATEWAYCLIENT", "client-secret"))
	if resp.StatusCode != 200 {
		t.Fatalf("configured principal: %d", resp.StatusCode)
	}
	if r := rec.wait(t, 1)[0]; field(r, "userIdentity", "userName") != "alice" || r["recipientAccountId"] != "111122223333" {
		t.Errorf("identity: %v", r["userIdentity"])
	}

	// Pass-through of unknown keys: forwarded as signed, recorded Unknown.
	up2 := newUpstream(t)
	rec2 := newRecorder()
	if _, err := New(Options{Upstream: up2.URL, Directory: dir, Recorder: rec2, PassThroughUnknownKeys: true}); err == nil || !strings.Contains(err.Error(), "gateway.account") {
		t.Errorf("pass-through without an account: %v", err)
	}
	_, gw2 := testGateway(t, up2, rec2, func(o *Options) { o.Directory = dir; o.PassThroughUnknownKeys = true; o.Account = "444455556666" })
	resp, body = do(t, signed(t, "PUT", gw2.URL+"/bucket/k", "s3", strings.NewReader("x"), "", nil, "test", "test"))
	if resp.StatusCode != 200 {
		t.Fatalf("passed-through key: %d %s", resp.StatusCode, body)
	}
	if s := up2.requests()[0]; s.authErr != nil || !strings.Contains(s.header.Get("Authorization"), "Credential=test/") {
		t.Errorf("not passed unchanged: %v %s", s.authErr, s.header.Get("Authorization"))
	}
	if r := rec2.wait(t, 1)[0]; field(r, "userIdentity", "type") != "Unknown" || field(r, "userIdentity", "accessKeyId") != "test" || r["recipientAccountId"] != "444455556666" {
		t.Errorf("identity: %v", r["userIdentity"])
	}
}

// TestPassThroughUpstreamKey: a client signing with the upstream's own key
// is verified with its secret and forwarded unchanged, Host preserved.
func TestPassThroughUpstreamKey(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	cfg := config.Default()
	cfg.Principals = []config.Principal{{AccessKeyID: "AKIAGATEWAYCLIENT", SecretAccessKey: "client-secret", Account: "111122223333", Type: "IAMUser", UserName: "alice"}}
	_, gw := testGateway(t, up, rec, func(o *Options) { o.Directory = auth.FromConfig(&cfg); o.Account = "111122223333" })
	resp, body := do(t, signed(t, "PUT", gw.URL+"/bucket/k", "s3", strings.NewReader("x"), "", nil, upKey, upSecret))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	s := up.requests()[0]
	if s.authErr != nil || s.host != strings.TrimPrefix(gw.URL, "http://") {
		t.Errorf("upstream: host %s, %v", s.host, s.authErr)
	}
	resp, body = do(t, signed(t, "PUT", gw.URL+"/bucket/k", "s3", strings.NewReader("x"), "", nil, upKey, "wrong"))
	if resp.StatusCode != 403 || len(up.requests()) != 1 {
		t.Errorf("upstream key, wrong secret: %d %s", resp.StatusCode, body)
	}
}

// chunkedBody signs payload as aws-chunked (STREAMING-AWS4-HMAC-SHA256-
// PAYLOAD) for the gateway, in chunks of n bytes.
func chunkedRequest(t *testing.T, url string, payload []byte, n int, tamper bool) *http.Request {
	t.Helper()
	r, _ := http.NewRequest("PUT", url, nil)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
	r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	now := time.Now().UTC()
	// The encoded length must be known before signing.
	var chunks [][]byte
	for off := 0; off < len(payload); off += n {
		chunks = append(chunks, payload[off:min(off+n, len(payload))])
	}
	chunks = append(chunks, nil)
	var framed int
	for _, c := range chunks {
		framed += len(strconv.FormatInt(int64(len(c)), 16)) + len(";chunk-signature=") + 64 + 2 + len(c) + 2
	}
	r.ContentLength = int64(framed)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, r, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "s3", "us-east-1", now,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	authz := r.Header.Get("Authorization")
	prev := authz[strings.LastIndex(authz, "Signature=")+len("Signature="):]
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	date := now.Format("20060102")
	k := mac(mac(mac(mac([]byte("AWS4test"), date), "us-east-1"), "s3"), "aws4_request")
	scope := date + "/us-east-1/s3/aws4_request"
	var b bytes.Buffer
	for i, c := range chunks {
		prev = hex.EncodeToString(mac(k, "AWS4-HMAC-SHA256-PAYLOAD\n"+now.Format("20060102T150405Z")+"\n"+scope+"\n"+prev+"\n"+hashHex(nil)+"\n"+hashHex(c)))
		data := c
		if tamper && i == len(chunks)-2 {
			data = bytes.Clone(c)
			data[0] ^= 1
		}
		b.WriteString(strconv.FormatInt(int64(len(c)), 16) + ";chunk-signature=" + prev + "\r\n")
		b.Write(data)
		b.WriteString("\r\n")
	}
	if b.Len() != framed {
		t.Fatalf("framed %d, computed %d", b.Len(), framed)
	}
	r.Body = ioNopCloser(bytes.NewReader(b.Bytes()))
	return r
}

// TestAWSChunked: an aws-chunked upload is checked chunk by chunk and
// forwarded aws-chunked, its chunks re-signed with the upstream's key; a
// tampered last chunk never completes upstream.
func TestAWSChunked(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	_, gw := testGateway(t, up, rec, nil)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 000 bytes
	resp, body := do(t, chunkedRequest(t, gw.URL+"/bucket/chunked", payload, 64<<10, false))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	s := up.requests()[0]
	// The upstream checked every chunk, re-signed with its own key.
	if s.authErr != nil || !bytes.Equal(s.body, payload) || s.header.Get("X-Amz-Content-Sha256") != "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" ||
		!strings.Contains(s.header.Get("Authorization"), "Credential="+upKey+"/") {
		t.Fatalf("upstream saw %d bytes, %v, headers %v", len(s.body), s.authErr, s.header)
	}
	if r := rec.wait(t, 1)[0]; field(r, "additionalEventData", "bytesTransferredIn") != float64(len(payload)) {
		t.Errorf("bytesTransferredIn: %v", r["additionalEventData"])
	}

	resp, body = do(t, chunkedRequest(t, gw.URL+"/bucket/tampered", payload, 64<<10, true))
	if resp.StatusCode != 403 || !strings.Contains(string(body), "SignatureDoesNotMatch") {
		t.Errorf("tampered: %d %s", resp.StatusCode, body)
	}
	up.mu.Lock()
	_, stored := up.objects["/bucket/tampered"]
	up.mu.Unlock()
	if stored {
		t.Error("the upstream stored a tampered upload")
	}
	recs := rec.wait(t, 2)
	if r := recs[1]; r["errorCode"] != "SignatureDoesNotMatch" {
		t.Errorf("tampered upload's record: %v", r)
	}
}

// TestBucketConfigurationBody: an S3 bucket configuration document (the
// policy of PutBucketPolicy) is read, recorded and forwarded; the
// upstream checks it against the re-signed hash.
func TestBucketConfigurationBody(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	_, gw := testGateway(t, up, rec, nil)
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}`
	resp, body := do(t, signed(t, "PUT", gw.URL+"/bucket?policy", "s3", strings.NewReader(policy), "", nil, "test", "test"))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if s := up.requests()[0]; s.authErr != nil || string(s.body) != policy {
		t.Errorf("upstream: %v, %q", s.authErr, s.body)
	}
	r := rec.wait(t, 1)[0]
	if r["eventName"] != "PutBucketPolicy" || r["eventCategory"] != "Management" {
		t.Errorf("record: %v", r)
	}
	if p := field(r, "requestParameters", "bucketPolicy"); p == nil {
		t.Errorf("the policy is not recorded: %v", r["requestParameters"])
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestKeptRecordRefused: a kept record the store refuses while it takes
// the others does not hold the queue up; it is dropped as lost after a
// few tries, and the gap says so.
func TestKeptRecordRefused(t *testing.T) {
	up := newUpstream(t)
	rec := newRecorder()
	rec.setDown(errStoreDown)
	_, gw := testGateway(t, up, rec, func(o *Options) { o.FailOpen = true })
	for _, k := range []string{"poison", "good1", "good2"} {
		do(t, signed(t, "PUT", gw.URL+"/bucket/"+k, "s3", strings.NewReader("x"), "", nil, "test", "test"))
	}
	time.Sleep(50 * time.Millisecond)
	rec.mu.Lock()
	rec.refuse = func(b []byte) bool { return bytes.Contains(b, []byte(`"key":"poison"`)) }
	rec.down = nil
	rec.mu.Unlock()
	rec.wait(t, 2) // good1 and good2
	// More traffic: the store keeps taking records, so the refused one is
	// not mistaken for a store that is down.
	for range 3 {
		do(t, signed(t, "GET", gw.URL+"/bucket/good1", "s3", nil, "", nil, "test", "test"))
		time.Sleep(1100 * time.Millisecond)
	}
	recs := rec.wait(t, 6)
	var d map[string]any
	for _, r := range recs {
		if r["eventName"] == "CaptureGap" {
			d = r["serviceEventDetails"].(map[string]any)
		}
		if field(r, "requestParameters", "key") == "poison" {
			t.Error("the refused record was stored")
		}
	}
	if d == nil || d["callsForwarded"] != 3.0 || d["recordsRecoveredLate"] != 2.0 || d["recordsLost"] != 1.0 {
		t.Errorf("gap: %v (records %v)", d, recs)
	}
}
