package sigv4_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/sigv4"
)

// FuzzParse feeds arbitrary Authorization headers, X-Amz-Date values and
// query strings to Parse, and what it accepts to Verify. Neither may panic;
// errors must be *sigv4.Error; an accepted claim must be well formed.
func FuzzParse(f *testing.F) {
	f.Add(goodAuth, "20240101T000000Z", "")
	f.Add("", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
	f.Fuzz(func(t *testing.T, authorization, amzDate, query string) {
		r := &http.Request{
			Method: http.MethodPost,
			URL:    &url.URL{Path: "/", RawQuery: query},
			Header: http.Header{},
			Host:   "127.0.0.1:4566",
		}
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		start := time.Now()
		a, err := sigv4.Parse(r)
		if err != nil {
			var e *sigv4.Error
			if !errors.As(err, &e) || e.Kind == 0 || e.Message == "" {
				t.Fatalf("Parse error %T %v is not a *sigv4.Error with kind and message", err, err)
			}
			return
		}
		if !slices.ContainsFunc(a.SignedHeaders, func(h string) bool { return strings.EqualFold(h, "host") }) {
			t.Fatalf("accepted a claim without host signed: %q", a.SignedHeaders)
		}
		if len(a.Date) != 8 || a.Region == "" || a.Service == "" || a.AccessKeyID == "" {
			t.Fatalf("accepted a bad scope: %+v", a)
		}
		if !strings.HasPrefix(a.Time.Format("20060102"), a.Date) {
			t.Fatalf("time %v does not match scope date %s", a.Time, a.Date)
		}
		v := &sigv4.Verifier{Credentials: func(string) (string, bool) { return "secret", true }, Now: func() time.Time { return a.Time }}
		if err := v.Verify(r, a, []byte("{}")); err == nil {
			t.Fatalf("random claim verified: %+v", a)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Parse and Verify took %v", d)
		}
	})
}

// FuzzDecodeChunked feeds arbitrary bodies to DecodeChunked in each of its
// modes. It must not panic, must return *sigv4.Error on failure, and on
// success must return exactly the declared number of bytes.
func FuzzDecodeChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint8(2), int64(5), "")
	f.Add([]byte(unsignedChunked("hello world", 4, "x-amz-checksum-crc32:"+checksum("crc32", "hello world"))), uint8(2), int64(11), "x-amz-checksum-crc32")
	f.Fuzz(func(t *testing.T, body []byte, mode uint8, decoded int64, trailer string) {
		modes := []string{sigv4.StreamingPayload, sigv4.StreamingPayloadTrailer, sigv4.StreamingUnsignedTrailer}
		a := &sigv4.Auth{AccessKeyID: testAKID, Date: "20240101", Region: "us-east-1", Service: "s3",
			Signature: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Time: signTime,
			ContentSHA256: modes[int(mode)%len(modes)], DecodedLength: decoded, Trailer: trailer}
		out, err := sigv4.DecodeChunked(body, a, testSecret)
		if err != nil {
			var e *sigv4.Error
			if !errors.As(err, &e) || e.Kind == 0 {
				t.Fatalf("error %T %v is not a *sigv4.Error", err, err)
			}
			return
		}
		if int64(len(out)) != decoded || len(out) > len(body) {
			t.Fatalf("decoded %d bytes from %d, declared %d", len(out), len(body), decoded)
		}
	})
}
