package capture_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/capture"
)

// BenchmarkS3Call is a gateway's recording work for one small S3 write:
// naming the call, its intent record and its final record.
func BenchmarkS3Call(b *testing.B) {
	r := httptest.NewRequest("PUT", "http://photos.s3.localhost:7070/2025/cat.jpg", nil)
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	r.Header.Set("X-Amz-Date", "20250613T074248Z")
	r.Header.Set("x-amz-storage-class", "STANDARD")
	hdr := http.Header{"X-Amz-Id-2": {"ZDchP4lV"}, "Etag": {`"d41d8cd98f00b204e9800998ecf8427f"`}, "X-Amz-Version-Id": {"001"}}
	b.ReportAllocs()
	for b.Loop() {
		ex := &capture.Exchange{Call: capture.Identify(r, "s3", nil, nil), Principal: alice, Region: "us-east-1",
			SourceIP: "192.0.2.7", UserAgent: "aws-cli/2.9.19", AuthMethod: "AuthHeader", SignatureVersion: "SigV4",
			Time: time.Unix(1749800568, 0), EventID: "85da6631-a4b5-47dc-b296-95574e53b41a"}
		_ = capture.Record(ex)
		ex.Status, ex.ResponseHeader, ex.BytesIn = 200, hdr, 4096
		_ = capture.Record(ex)
	}
}

// BenchmarkJSONCall is the same for a JSON-protocol write with a small
// input.
func BenchmarkJSONCall(b *testing.B) {
	body := []byte(`{"TableName":"Music","Item":{"Artist":{"S":"No One"},"Song":{"S":"Call Me Today"}}}`)
	r := httptest.NewRequest("POST", "https://dynamodb.us-east-1.amazonaws.com/", nil)
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810.PutItem")
	b.ReportAllocs()
	for b.Loop() {
		ex := &capture.Exchange{Call: capture.Identify(r, "dynamodb", body, nil), Principal: alice, Region: "us-east-1",
			Time: time.Unix(1749800568, 0), EventID: "85da6631-a4b5-47dc-b296-95574e53b41a"}
		_ = capture.Record(ex)
		ex.Status, ex.ResponseBody = 200, []byte(`{}`)
		_ = capture.Record(ex)
	}
}
