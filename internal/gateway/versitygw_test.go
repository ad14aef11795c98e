package gateway_test

import (
	"bytes"
	"testing"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/gateway"
	"github.com/opentrail/opentrail/internal/testserver"
)

const (
	upKey    = "UPSTREAMKEY"
	upSecret = "upstream-secret"
)

// TestAWSChunkedVersitygw: versitygw accepts aws-chunked uploads re-signed
// chunk by chunk by the gateway, and stores nothing of one whose last
// chunk is forged. (Forwarded decoded with UNSIGNED-PAYLOAD instead, the
// forged upload was stored truncated: versitygw keeps what it received of
// a body cut off before its Content-Length.)
func TestAWSChunkedVersitygw(t *testing.T) {
	v := testserver.StartVersitygw(t, upKey, upSecret)
	g, err := gateway.New(gateway.Options{Upstream: v.URL, UpstreamAccessKeyID: upKey, UpstreamSecret: upSecret, Directory: auth.Local(), Recorder: gateway.NewTestRecorder()})
	if err != nil {
		t.Fatal(err)
	}
	srv := gateway.Serve(t, g)
	if resp, body := gateway.Do(t, gateway.Signed(t, "PUT", srv+"/chunky", "s3", nil, "", nil, "test", "test")); resp.StatusCode != 200 {
		t.Fatalf("CreateBucket: %d %s", resp.StatusCode, body)
	}
	payload := bytes.Repeat([]byte("versitygw aws-chunked "), 10000)
	if resp, body := gateway.Do(t, gateway.ChunkedRequest(t, srv+"/chunky/obj", payload, 8192, false)); resp.StatusCode != 200 {
		t.Fatalf("aws-chunked PUT: %d %s", resp.StatusCode, body)
	}
	resp, got := gateway.Do(t, gateway.Signed(t, "GET", srv+"/chunky/obj", "s3", nil, "", nil, "test", "test"))
	if resp.StatusCode != 200 || !bytes.Equal(got, payload) {
		t.Fatalf("GET: %d, %d bytes of %d", resp.StatusCode, len(got), len(payload))
	}
	if resp, _ := gateway.Do(t, gateway.ChunkedRequest(t, srv+"/chunky/tampered", payload, 8192, true)); resp.StatusCode != 403 {
		t.Errorf("tampered aws-chunked PUT: %d", resp.StatusCode)
	}
	if resp, b := gateway.Do(t, gateway.Signed(t, "GET", srv+"/chunky/tampered", "s3", nil, "", nil, "test", "test")); resp.StatusCode != 404 {
		t.Errorf("the tampered upload is stored: GET %d, %d bytes of %d", resp.StatusCode, len(b), len(payload))
	}
}
