package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// clientFrom returns an HTTP client whose connections come from the
// loopback address local (Linux routes all of 127.0.0.0/8 to lo).
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
}

// slowAttack keeps n connections from 127.0.0.1 sending a request with a
// made-up Authorization header (a current date, a valid scope, a wrong
// signature) that declares an 8 MiB body and never sends it. A connection
// the server closes is opened again, until ctx ends. It returns the number
// of requests sent once ctx has ended and every connection is closed.
func slowAttack(ctx context.Context, t *testing.T, addr string, n int) func() int64 {
	var sent atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
				if err != nil {
					return
				}
				stop := context.AfterFunc(ctx, func() { c.Close() })
				now := time.Now().UTC()
				fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.1\r\n"+
					"X-Amz-Target: CloudTrail_20131101.ListTrails\r\nX-Amz-Date: %s\r\n"+
					"Authorization: AWS4-HMAC-SHA256 Credential=MADEUP%03d/%s/us-east-1/cloudtrail/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%064x\r\n"+
					"Content-Length: %d\r\n\r\n",
					addr, now.Format("20060102T150405Z"), i, now.Format("20060102"), i, 8<<20)
				sent.Add(1)
				io.Copy(io.Discard, c) // until the server answers and closes
				stop()
				c.Close()
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}
	return func() int64 { wg.Wait(); return sent.Load() }
}

// TestUnauthenticatedCannotStarve is the regression test for slow,
// unauthenticated requests starving everyone: 33 connections with a
// made-up Authorization header and no body used to reserve the whole body
// budget from their Content-Length and hold it for the 2-minute read
// timeout, so every API call failed with ThrottlingException while
// /healthz said ok. Now authenticated clients keep being served — from
// another address, and from the same address when their signature can be
// checked before the body — and /healthz says degraded.
func TestUnauthenticatedCannotStarve(t *testing.T) {
	s := startServer(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	wait := slowAttack(ctx, t, s.addr, 100)
	defer func() { cancel(); wait() }()
	time.Sleep(300 * time.Millisecond) // let the attack take hold

	// A real client (aws-sdk-go-v2, which signs the body hash: its
	// requests are unauthenticated until their body is read) from another
	// address.
	ct := cloudtrail.New(cloudtrail.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.url), HTTPClient: clientFrom("127.0.0.2"), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds("test"), nil }),
	})
	// And from the attackers' own address, a client that declares its
	// payload hash (the S3 SDK), which is authenticated before its body.
	s3c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.url), UsePathStyle: true, HTTPClient: clientFrom("127.0.0.1"), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds("test"), nil }),
	})
	if _, err := s3c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("frontdoor-logs")}); err != nil {
		t.Fatalf("CreateBucket during the attack: %v", err)
	}

	degraded := ""
	deadline := time.Now().Add(9 * time.Second) // past the attackers' 5 s body grace
	calls := 0
	for time.Now().Before(deadline) {
		start := time.Now()
		if _, err := ct.ListTrails(t.Context(), &cloudtrail.ListTrailsInput{}); err != nil {
			t.Fatalf("ListTrails from another address during the attack (call %d): %v", calls, err)
		}
		if _, err := s3c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("frontdoor-logs")}); err != nil {
			t.Fatalf("ListObjectsV2 from the attackers' address during the attack (call %d): %v", calls, err)
		}
		if d := time.Since(start); d > 4*time.Second { // a starved call waits 5 s for room, then fails
			t.Fatalf("two calls took %v during the attack", d)
		}
		calls++
		{
			resp, err := http.Get(s.url + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("/healthz answered %d: %s", resp.StatusCode, b)
			}
			if strings.HasPrefix(string(b), "degraded: ") {
				degraded = string(b)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if degraded == "" {
		t.Fatal("/healthz never reported degraded during the attack")
	}
	t.Logf("%d rounds of calls succeeded; /healthz: %s", calls, strings.TrimSpace(degraded))
	for _, want := range []string{"unauthenticated requests refused", "requests cut off"} {
		if !strings.Contains(degraded, want) {
			t.Errorf("/healthz does not say %q: %s", want, degraded)
		}
	}

	var h struct {
		Status   string
		Degraded []string
		Services map[string]string
		Version  string
	}
	getJSON(t, s.url+"/_opentrail/health", &h)
	if h.Status != "degraded" || len(h.Degraded) == 0 || h.Version == "" || h.Services["cloudtrail"] != "running" {
		t.Errorf("/_opentrail/health during the attack = %+v", h)
	}

	cancel()
	if n := wait(); n < 100 {
		t.Errorf("the attack sent only %d requests", n)
	}
	m := metricsText(t, s)
	if strings.Contains(m, "MADEUP") {
		t.Error("/metrics holds a value from the attackers' requests")
	}
	for _, re := range []string{`opentrail_http_requests_refused_total\{reason="source"\} [1-9]`, `opentrail_http_requests_refused_total\{reason="slow_body"\} [1-9]`} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", url, err, b)
	}
}

// series lists the series of a Prometheus text exposition (names and
// labels, without values).
func series(text string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			line = line[:i]
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

// TestBogusRequestsAddNoSeries: /metrics labels come only from verified,
// bounded values. 1,000 requests naming made-up services (and regions,
// access keys, targets) in their credential scope add no series.
func TestBogusRequestsAddNoSeries(t *testing.T) {
	s := startServer(t, "")
	// Every family has its series from the start; one good call of each
	// kind makes sure nothing appears later for a reason of its own.
	s.postEvents(t, "test", [][]byte{record(recOpts{id: uuid("series", 1)})})
	before := series(metricsText(t, s))
	now := time.Now().UTC()
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for i := range 1000 {
		req, _ := http.NewRequest("POST", s.url+"/", strings.NewReader("{}"))
		svc := fmt.Sprintf("bogus-service-%d", i)
		if i%2 == 1 {
			svc = "cloudtrail"
		}
		req.Header.Set("X-Amz-Target", fmt.Sprintf("Bogus_%d.Op%d", i, i))
		req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
		req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=AKID%d/%s/region-%d-1/%s/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=%064d",
			i, now.Format("20060102"), i%3, svc, i))
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 && resp.StatusCode != 400 {
			t.Fatalf("bogus request %d answered %d", i, resp.StatusCode)
		}
	}
	after := series(metricsText(t, s))
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatalf("1,000 bogus requests changed the series of /metrics from %d to %d:\n%s", len(before), len(after), strings.Join(after, "\n"))
	}
}

// TestScopeChecks: the credential scope names a region AWS could and a
// service served here; the native endpoints accept only their own name.
func TestScopeChecks(t *testing.T) {
	s := startServer(t, "")
	target := http.Header{"X-Amz-Target": {"CloudTrail_20131101.ListTrails"}, "Content-Type": {"application/x-amz-json-1.1"}}
	for _, c := range []struct {
		name                 string
		service, region, url string
		header               http.Header
		status               int
		errType, message     string
	}{
		{"native endpoint signed for cloudtrail", "cloudtrail", "us-east-1", "/v1/events", nil, 403,
			"InvalidSignatureException", "Credential should be scoped to correct service: 'opentrail'. "},
		{"cloudtrail call signed for another service", "logs", "us-east-1", "/", target, 403,
			"InvalidSignatureException", "Credential should be scoped to correct service: 'cloudtrail'. "},
		{"region that is no AWS region", "cloudtrail", "local", "/", target, 403,
			"InvalidSignatureException", "Credential should be scoped to a valid region, not 'local'. "},
		{"unknown service", "dynamodb", "us-east-1", "/", http.Header{"X-Amz-Target": {"DynamoDB_20120810.ListTables"}}, 400,
			"UnknownServiceException", `opentrail does not serve the service "dynamodb"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body, _ := do(t, signedRequest(t, creds("test"), c.service, c.region, "POST", s.url+c.url, c.header, []byte("{}")))
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			json.Unmarshal(body, &e)
			if code != c.status || e.Type != c.errType || !strings.HasPrefix(e.Message, c.message) {
				t.Errorf("got %d %s %q, want %d %s %q", code, e.Type, e.Message, c.status, c.errType, c.message)
			}
		})
	}
}

// TestUnsignedTargetNotReplayable: a request whose X-Amz-Target is not
// signed cannot be replayed as another operation.
func TestUnsignedTargetNotReplayable(t *testing.T) {
	s := startServer(t, "")
	// Signed without X-Amz-Target, which is added afterwards, as an
	// attacker replaying a captured GetTrailStatus would set DeleteTrail.
	r := signedRequest(t, creds("test"), "cloudtrail", "us-east-1", "POST", s.url+"/", http.Header{"Content-Type": {"application/x-amz-json-1.1"}}, []byte(`{"Name":"t"}`))
	r.Header.Set("X-Amz-Target", "CloudTrail_20131101.DeleteTrail")
	code, body, _ := do(t, r)
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	json.Unmarshal(body, &e)
	if code != 403 || e.Type != "InvalidSignatureException" || !strings.Contains(e.Message, "not signed: x-amz-target") {
		t.Fatalf("unsigned X-Amz-Target: %d %s", code, body)
	}
}

// TestS3FrontDoorErrors: requests to the S3 API that fail before it —
// unsigned, wrongly signed, with unsigned x-amz-* headers — get S3's XML
// errors, seen through the AWS CLI and curl; virtual-hosted-style
// requests reach their bucket.
func TestS3FrontDoorErrors(t *testing.T) {
	s := startServer(t, "")
	ctx := t.Context()
	s3c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.url), UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds("test"), nil }),
	})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vh-logs")}); err != nil {
		t.Fatal(err)
	}

	xmlErr := func(body []byte) (code, msg string) {
		c := regexp.MustCompile(`<Code>([^<]*)</Code>`).FindSubmatch(body)
		m := regexp.MustCompile(`<Message>([^<]*)</Message>`).FindSubmatch(body)
		if c == nil || m == nil {
			return "", ""
		}
		return string(c[1]), string(m[1])
	}

	// Unsigned: S3's AccessDenied, as XML.
	resp, err := http.Get(s.url + "/vh-logs/AWSLogs/x.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code, msg := xmlErr(b); resp.StatusCode != 403 || code != "AccessDenied" || !strings.HasPrefix(msg, "Access Denied") ||
		resp.Header.Get("Content-Type") != "application/xml" {
		t.Errorf("unsigned GET: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}

	// Wrongly signed.
	r := signedRequest(t, creds("test"), "s3", "us-east-1", "GET", s.url+"/vh-logs", nil, nil)
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Signature=", "Signature=0", 1))
	code, b, _ := do(t, r)
	if c, _ := xmlErr(b); code != 403 || c != "SignatureDoesNotMatch" {
		t.Errorf("wrong signature: %d %s", code, b)
	}

	// An x-amz-* header added after signing.
	r = signedRequest(t, creds("test"), "s3", "us-east-1", "GET", s.url+"/vh-logs", nil, nil)
	r.Header.Set("X-Amz-Expected-Bucket-Owner", "000000000000")
	code, b, _ = do(t, r)
	if c, m := xmlErr(b); code != 403 || c != "AccessDenied" || m != "There were headers present in the request which were not signed" ||
		!strings.Contains(string(b), "<HeadersNotSigned>x-amz-expected-bucket-owner</HeadersNotSigned>") {
		t.Errorf("unsigned x-amz header: %d %s", code, b)
	}

	// The AWS CLI without signing reads S3's error.
	if _, err := exec.LookPath("aws"); err == nil {
		cmd := exec.Command("aws", "--endpoint-url", s.url, "--region", "us-east-1", "--no-sign-request", "s3api", "list-objects-v2", "--bucket", "vh-logs")
		cmd.Env = append(cmd.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(string(out), "An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied") {
			t.Errorf("aws --no-sign-request: %v\n%s", err, out)
		}
	} else {
		t.Log("aws CLI not installed; skipped its part")
	}

	// curl resolves *.localhost to the loopback address itself, so it can
	// send a virtual-hosted-style request as SDKs do for
	// http://localhost:PORT.
	_, port, _ := net.SplitHostPort(s.addr)
	out, err := exec.Command("curl", "-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "test:test",
		"http://vh-logs.localhost:"+port+"/?list-type=2").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "<Name>vh-logs</Name>") || strings.Contains(string(out), "ListAllMyBucketsResult") {
		t.Errorf("curl virtual-hosted ListObjectsV2: %v\n%s", err, out)
	}
}

// TestRealClientsSignEveryAmzHeader: the clients users have sign every
// x-amz-* header they send, so none is refused for an unsigned one:
// curl --aws-sigv4 as the README uses it, and boto3 (the library of the
// AWS CLI, whose own runs are in TestAWSCLI) with S3 checksums and
// expected-owner headers.
func TestRealClientsSignEveryAmzHeader(t *testing.T) {
	s := startServer(t, "")
	rec := record(recOpts{id: uuid("curl", 1)})
	out, err := exec.Command("curl", "-sS", "--aws-sigv4", "aws:amz:us-east-1:opentrail", "--user", "test:test",
		"-H", "Content-Type: application/x-ndjson", "--data-binary", string(rec), s.url+"/v1/events").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"accepted":1`) {
		t.Errorf("curl POST /v1/events: %v %s", err, out)
	}
	out, err = exec.Command("curl", "-sS", "--aws-sigv4", "aws:amz:us-east-1:cloudtrail", "--user", "test:test",
		"-H", "Content-Type: application/x-amz-json-1.1", "-H", "X-Amz-Target: CloudTrail_20131101.LookupEvents",
		"-d", `{"MaxResults":5}`, s.url+"/").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"Events"`) {
		t.Errorf("curl LookupEvents: %v %s", err, out)
	}

	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	script := `
import sys, boto3, botocore
from botocore.config import Config
url = sys.argv[1]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
ct = boto3.client("cloudtrail", **kw)
ct.lookup_events(MaxResults=5)
ct.list_trails()
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kw)
s3.create_bucket(Bucket="boto-logs")
s3.list_objects_v2(Bucket="boto-logs", ExpectedBucketOwner="000000000000")
try:
    s3.put_object(Bucket="boto-logs", Key="k", Body=b"x" * 1000, ChecksumAlgorithm="SHA256")
except botocore.exceptions.ClientError as e:
    print("put:", e.response["Error"]["Code"], e.response["Error"]["Message"])
try:
    s3.get_object(Bucket="boto-logs", Key="missing", ChecksumMode="ENABLED")
except botocore.exceptions.ClientError as e:
    print("get:", e.response["Error"]["Code"])
print("done")
`
	out, err = exec.Command("python3", "-c", script, s.url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "done") || strings.Contains(string(out), "not signed") ||
		!strings.Contains(string(out), "put: AccessDenied Access Denied: opentrail's log delivery") || !strings.Contains(string(out), "get: NoSuchKey") {
		t.Errorf("boto3: %v\n%s", err, out)
	}
}
