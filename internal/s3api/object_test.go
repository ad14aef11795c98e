package s3api_test

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/opentrail/opentrail/internal/objstore"
)

const logKey = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/26/111111111111_CloudTrail_us-east-1_20261126T1200Z_abc.json.gz"

func TestGetObject(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b := e.bucket("logs", acctA, map[string]string{"empty": ""})
	body := "0123456789abcdefghij"
	since := time.Now().Add(-2 * time.Second)
	if err := b.PutIfAbsent(ctx, logKey, []byte(body), map[string]string{"Signature": "abc123", "signing-algorithm": "SHA256withRSA"}); err != nil {
		t.Fatal(err)
	}
	etag := `"` + objstore.ETag([]byte(body)) + `"`
	a := e.client(acctA, "us-east-1")

	out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey)})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	data, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(data) != body {
		t.Errorf("GetObject body = %q, want %q", data, body)
	}
	if aws.ToString(out.ETag) != etag || aws.ToInt64(out.ContentLength) != int64(len(body)) ||
		aws.ToString(out.ContentType) != "application/octet-stream" || aws.ToString(out.AcceptRanges) != "bytes" ||
		out.ContentEncoding != nil || out.ContentRange != nil {
		t.Errorf("GetObject headers: ETag %q Length %d Type %q Ranges %q Encoding %v Range %v",
			aws.ToString(out.ETag), aws.ToInt64(out.ContentLength), aws.ToString(out.ContentType),
			aws.ToString(out.AcceptRanges), out.ContentEncoding, out.ContentRange)
	}
	if lm := aws.ToTime(out.LastModified); lm.Before(since) || lm.After(time.Now()) {
		t.Errorf("GetObject LastModified = %v", lm)
	}
	if out.Metadata["signature"] != "abc123" || out.Metadata["signing-algorithm"] != "SHA256withRSA" || len(out.Metadata) != 2 {
		t.Errorf("GetObject Metadata = %v", out.Metadata)
	}

	head, err := a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey)})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if aws.ToString(head.ETag) != etag || aws.ToInt64(head.ContentLength) != int64(len(body)) ||
		aws.ToString(head.ContentType) != "application/octet-stream" || head.Metadata["signature"] != "abc123" ||
		!aws.ToTime(head.LastModified).Equal(aws.ToTime(out.LastModified)) {
		t.Errorf("HeadObject = ETag %q Length %d Type %q Meta %v Modified %v",
			aws.ToString(head.ETag), aws.ToInt64(head.ContentLength), aws.ToString(head.ContentType), head.Metadata, head.LastModified)
	}
	// The raw headers: quoted ETag, RFC 1123 dates, x-amz-meta-*.
	resp, raw := e.raw("GET", "/logs/"+logKey, acctA, nil, "")
	if resp.StatusCode != 200 || raw != body || resp.Header.Get("ETag") != etag ||
		resp.Header.Get("x-amz-meta-signature") != "abc123" || resp.Header.Get("Content-Encoding") != "" ||
		len(resp.Header.Get("x-amz-request-id")) != 16 {
		t.Errorf("raw GetObject: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := time.Parse(http.TimeFormat, resp.Header.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified %q: %v", resp.Header.Get("Last-Modified"), err)
	}

	for _, tc := range []struct {
		rng, want, contentRange string
	}{
		{"bytes=0-4", "01234", "bytes 0-4/20"},
		{"bytes=5-9", "56789", "bytes 5-9/20"},
		{"bytes=15-", "fghij", "bytes 15-19/20"},
		{"bytes=-3", "hij", "bytes 17-19/20"},
		{"bytes=-100", body, "bytes 0-19/20"},
		{"bytes=18-1000", "ij", "bytes 18-19/20"},
		{"bytes=19-19", "j", "bytes 19-19/20"},
		{"bytes=x-y", body, ""},
		{"bytes=5-2", body, ""},
		{"bytes=0-1,5-6", body, ""},
		{"items=0-1", body, ""},
	} {
		out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey), Range: aws.String(tc.rng)})
		if err != nil {
			t.Errorf("GetObject Range %s: %v", tc.rng, err)
			continue
		}
		data, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(data) != tc.want || aws.ToString(out.ContentRange) != tc.contentRange || aws.ToInt64(out.ContentLength) != int64(len(tc.want)) {
			t.Errorf("GetObject Range %s = %q, Content-Range %q, Length %d; want %q, %q",
				tc.rng, data, aws.ToString(out.ContentRange), aws.ToInt64(out.ContentLength), tc.want, tc.contentRange)
		}
	}
	resp, raw = e.raw("GET", "/logs/"+logKey, acctA, map[string]string{"Range": "bytes=2-3"}, "")
	if resp.StatusCode != http.StatusPartialContent || raw != "23" {
		t.Errorf("raw ranged GetObject: %d %q", resp.StatusCode, raw)
	}
	for _, rng := range []string{"bytes=20-", "bytes=25-30", "bytes=-0"} {
		_, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey), Range: aws.String(rng)})
		wantErr(t, "GetObject Range "+rng, err, "InvalidRange", 416)
	}
	resp, raw = e.raw("GET", "/logs/"+logKey, acctA, map[string]string{"Range": "bytes=30-"}, "")
	var eb struct{ Code, RangeRequested, ActualObjectSize string }
	if xml.Unmarshal([]byte(raw), &eb); resp.StatusCode != 416 || eb.Code != "InvalidRange" || eb.RangeRequested != "bytes=30-" || eb.ActualObjectSize != "20" {
		t.Errorf("raw unsatisfiable range: %d %s", resp.StatusCode, raw)
	}
	hr, err := a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey), Range: aws.String("bytes=0-9")})
	if err != nil || aws.ToInt64(hr.ContentLength) != 10 || aws.ToString(hr.ContentRange) != "bytes 0-9/20" {
		t.Errorf("HeadObject with Range = %+v, %v", hr, err)
	}

	// An empty object has no byte to range over.
	out, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("empty")})
	if err != nil {
		t.Fatalf("GetObject(empty): %v", err)
	}
	data, _ = io.ReadAll(out.Body)
	out.Body.Close()
	if len(data) != 0 || aws.ToInt64(out.ContentLength) != 0 {
		t.Errorf("GetObject(empty) = %q, length %d", data, aws.ToInt64(out.ContentLength))
	}
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("empty"), Range: aws.String("bytes=0-")})
	wantErr(t, "GetObject(empty) with a range", err, "InvalidRange", 416)

	// Conditional requests and response overrides.
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey), IfNoneMatch: aws.String(etag)})
	wantErr(t, "GetObject If-None-Match", err, "", 304)
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey), IfMatch: aws.String(`"0000"`)})
	wantErr(t, "GetObject If-Match", err, "PreconditionFailed", 412)
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey), IfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
	wantErr(t, "GetObject If-Modified-Since", err, "", 304)
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey), IfUnmodifiedSince: aws.Time(since.Add(-time.Hour))})
	wantErr(t, "GetObject If-Unmodified-Since", err, "PreconditionFailed", 412)
	if out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey),
		IfMatch: aws.String(etag), IfModifiedSince: aws.Time(since.Add(-time.Hour))}); err != nil {
		t.Errorf("GetObject with conditions that hold: %v", err)
	} else {
		out.Body.Close()
	}
	ov, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey),
		ResponseContentType: aws.String("application/gzip"), ResponseContentDisposition: aws.String("attachment")})
	if err != nil || aws.ToString(ov.ContentType) != "application/gzip" || aws.ToString(ov.ContentDisposition) != "attachment" {
		t.Errorf("GetObject with response overrides = %+v, %v", ov, err)
	} else {
		ov.Body.Close()
	}
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey), VersionId: aws.String("v2")})
	wantErr(t, "GetObject of a version", err, "InvalidArgument", 400)
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(logKey), PartNumber: aws.Int32(2)})
	wantErr(t, "GetObject part 2", err, "InvalidPartNumber", 416)

	// Missing objects and buckets.
	for _, key := range []string{"missing", "AWSLogs", "AWSLogs/", "a//b", logKey + "/x"} {
		_, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(key)})
		wantErr(t, "GetObject("+key+")", err, "NoSuchKey", 404)
		var nsk *types.NoSuchKey
		if err != nil && !errors.As(err, &nsk) {
			t.Errorf("GetObject(%s): %T is not *types.NoSuchKey", key, err)
		}
		_, err = a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("logs"), Key: aws.String(key)})
		wantErr(t, "HeadObject("+key+")", err, "", 404)
	}
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(strings.Repeat("k", 1025))})
	wantErr(t, "GetObject of a too long key", err, "KeyTooLongError", 400)
	_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("missing"), Key: aws.String("k")})
	wantErr(t, "GetObject(missing bucket)", err, "NoSuchBucket", 404)
	_, err = a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("missing"), Key: aws.String("k")})
	wantErr(t, "HeadObject(missing bucket)", err, "", 404)
}

// TestErrorResponses checks the wire form of errors.
func TestErrorResponses(t *testing.T) {
	e := newEnv(t)
	e.bucket("logs", acctA, nil)
	resp, body := e.raw("GET", "/logs/AWSLogs/missing.json.gz", acctA, nil, "")
	var eb struct {
		XMLName                                 xml.Name `xml:"Error"`
		Code, Message, Key, Resource, RequestID string
	}
	if err := xml.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	reqID := resp.Header.Get("x-amz-request-id")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/xml" || eb.Code != "NoSuchKey" ||
		eb.Message != "The specified key does not exist." || eb.Key != "AWSLogs/missing.json.gz" ||
		eb.Resource != "/logs/AWSLogs/missing.json.gz" || reqID == "" {
		t.Errorf("NoSuchKey response: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	if !strings.Contains(body, "<RequestId>"+reqID+"</RequestId>") || !strings.HasPrefix(body, "<?xml") {
		t.Errorf("NoSuchKey body %s lacks the request id %s or the XML declaration", body, reqID)
	}
	resp, body = e.raw("HEAD", "/logs/missing", acctA, nil, "")
	if resp.StatusCode != 404 || body != "" || resp.Header.Get("x-amz-request-id") == "" {
		t.Errorf("HEAD of a missing key: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = e.raw("GET", "/nothing?list-type=2", acctA, nil, "")
	if resp.StatusCode != 404 || !strings.Contains(body, "<Code>NoSuchBucket</Code>") || !strings.Contains(body, "<BucketName>nothing</BucketName>") {
		t.Errorf("NoSuchBucket response: %d %s", resp.StatusCode, body)
	}

	// A request without a caller is a server bug: 500, not a guess.
	rec := httptest.NewRecorder()
	e.h.Serve(rec, httptest.NewRequest("GET", "/logs", nil), nil)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "<Code>InternalError</Code>") {
		t.Errorf("request without a caller: %d %s", rec.Code, rec.Body)
	}
}
