package sigv4_test

import (
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/sigv4"
)

// BenchmarkVerify measures Parse and Verify of a header-signed
// PutAuditEvents-style request with a 1.5 KB JSON body, as the ingest path
// runs them for every request.
func BenchmarkVerify(b *testing.B) {
	r, body := signWithSDK(b, sdkRequests["cloudtrail-data rest-json query"], testAKID, testSecret, signTime)
	v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime }}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		a, err := sigv4.Parse(r)
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Verify(r, a, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyChunked measures an S3 upload of 64 KiB in 8 KiB signed
// chunks.
func BenchmarkVerifyChunked(b *testing.B) {
	const amzDate, scope, seed = "20240101T000000Z", "20240101/us-east-1/s3/aws4_request", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	payload := make([]byte, 64<<10)
	body := []byte(signedChunked(string(payload), 8<<10, testSecret, amzDate, scope, seed))
	a := &sigv4.Auth{AccessKeyID: testAKID, Date: "20240101", Region: "us-east-1", Service: "s3", Signature: seed,
		Time: signTime, ContentSHA256: sigv4.StreamingPayload, DecodedLength: int64(len(payload))}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sigv4.DecodeChunked(body, a, testSecret); err != nil {
			b.Fatal(err)
		}
	}
}
