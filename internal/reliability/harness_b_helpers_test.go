package reliability

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/testserver"
)

// writeServerConfig writes a configuration file for `serve --config` and
// returns its path.
func writeServerConfig(t testing.TB, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "opentrail.yml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// awsCall makes one signed call as local-mode access key akid (secret
// "test") and returns the answer's body; an answer other than 2xx fails
// the test. For the JSON services op is the operation (target prefix by
// service) and in the input; for "s3", op is the method and path the
// path.
func awsCall(t testing.TB, s *testserver.Server, akid, region, service, op, path string, in any) []byte {
	t.Helper()
	code, out := awsTry(t, s, testserver.Creds(akid), region, service, op, path, in)
	if code/100 != 2 {
		t.Fatalf("%s %s %s as %s: %d %s", service, op, path, akid, code, out)
	}
	return out
}

// jsonTargets is the X-Amz-Target prefix of each JSON service.
var jsonTargets = map[string]string{
	"cloudtrail": "CloudTrail_20131101.",
	"logs":       "Logs_20140328.",
	"events":     "AWSEvents.",
}

// awsTry is awsCall that returns the status instead of failing.
func awsTry(t testing.TB, s *testserver.Server, c awsCreds, region, service, op, path string, in any) (int, []byte) {
	t.Helper()
	var req *http.Request
	switch {
	case service == "s3":
		req = testserver.Sign(t, c, "s3", region, op, s.URL+path, http.Header{"X-Amz-Content-Sha256": {emptyPayloadSHA256}}, nil)
	case jsonTargets[service] != "":
		body, _ := json.Marshal(in)
		req = testserver.Sign(t, c, service, region, "POST", s.URL+"/", http.Header{
			"X-Amz-Target": {jsonTargets[service] + op}, "Content-Type": {"application/x-amz-json-1.1"}}, body)
	default: // the query protocol: in is the form
		req = testserver.Sign(t, c, service, region, "POST", s.URL+"/", http.Header{
			"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"}}, []byte(in.(string)))
	}
	code, out, _ := testserver.Do(t, req)
	return code, out
}

const emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// awsCreds are the credentials a request is signed with.
type awsCreds = aws.Credentials

// ioCopy reads an answer's body into b and closes it.
func ioCopy(b *strings.Builder, resp *http.Response) {
	defer resp.Body.Close()
	io.Copy(b, resp.Body)
}

// presignS3 presigns an S3 request (UNSIGNED-PAYLOAD) for url, which
// carries X-Amz-Expires, as of at, lets edit change the presigned URL,
// and returns the request to send.
func presignS3(t testing.TB, c awsCreds, method, target, region string, at time.Time, edit func(string) string) *http.Request {
	t.Helper()
	r, _ := http.NewRequest(method, target, nil)
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), c, r, "UNSIGNED-PAYLOAD", "s3", region, at)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		u = edit(u)
	}
	preq, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if !strings.EqualFold(k, "host") {
			preq.Header[k] = v
		}
	}
	return preq
}
