package gateway_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

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

// TestSDKThroughGatewayVersitygw drives versitygw through the gateway
// with aws-sdk-go-v2's S3 client, whichever payload mode it chooses
// (flexible checksums, aws-chunked with trailers), and reads it back.
func TestSDKThroughGatewayVersitygw(t *testing.T) {
	v := testserver.StartVersitygw(t, upKey, upSecret)
	rec := gateway.NewTestRecorder()
	g, err := gateway.New(gateway.Options{Upstream: v.URL, UpstreamAccessKeyID: upKey, UpstreamSecret: upSecret, Directory: auth.Local(), Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := gateway.Serve(t, g)
	ctx := context.Background()
	cl := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("sdk "), 300000)
	for _, alg := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmSha256} {
		key := "obj-" + string(alg)
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk"), Key: aws.String(key), Body: bytes.NewReader(body), ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatalf("PutObject %s: %v", alg, err)
		}
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GetObject %s: %v", alg, err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, body) {
			t.Errorf("%s: read back %d bytes of %d", alg, len(got), len(body))
		}
	}
	if _, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String("missing")}); err == nil || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Errorf("missing key: %v", err)
	}
}
