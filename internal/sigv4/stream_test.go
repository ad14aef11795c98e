package sigv4_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/sigv4"
)

// readAllSmall reads r in small reads and returns what it released before
// its first error.
func readAllSmall(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 5)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// TestPendingReader streams bodies through Pending.Reader: a declared hash
// and a body covered by the signature are checked as they pass, and a body
// that does not match never has its last bytes released.
func TestPendingReader(t *testing.T) {
	v := &sigv4.Verifier{Credentials: testCredentials, Now: func() time.Time { return signTime }}
	begin := func(rq signReq) (*sigv4.Pending, []byte) {
		t.Helper()
		r, body := signWithSDK(t, rq, testAKID, testSecret, signTime)
		a, err := sigv4.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Begin(r, a)
		if err != nil {
			t.Fatal(err)
		}
		return p, body
	}
	for _, name := range []string{"s3 put declared hash with metadata", "cloudtrail json 1.1", "s3 unsigned payload"} {
		rq := sdkRequests[name]
		p, body := begin(rq)
		for _, length := range []int64{int64(len(body)), -1} {
			got, err := readAllSmall(p.Reader(bytes.NewReader(body), length))
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("%s, length %d: %v", name, length, err)
			}
		}
		if name == "s3 unsigned payload" || len(body) == 0 {
			continue
		}
		tampered := bytes.Clone(body)
		tampered[len(tampered)-1] ^= 1
		got, err := readAllSmall(p.Reader(bytes.NewReader(tampered), int64(len(tampered))))
		if err == nil || len(got) >= len(body) {
			t.Errorf("%s tampered, length known: released %d of %d bytes, err %v", name, len(got), len(body), err)
		}
		want := sigv4.KindContentSHA256Mismatch
		if !strings.HasPrefix(name, "s3") {
			want = sigv4.KindSignatureMismatch
		}
		if kind(err) != want {
			t.Errorf("%s tampered: %v, want kind %v", name, err, want)
		}
		if _, err := readAllSmall(p.Reader(bytes.NewReader(tampered), -1)); kind(err) != want {
			t.Errorf("%s tampered, length unknown: %v", name, err)
		}
		if _, err := readAllSmall(p.Reader(bytes.NewReader(body[:len(body)-1]), int64(len(body)))); kind(err) != sigv4.KindIncompleteBody {
			t.Errorf("%s short: %v", name, err)
		}
	}
}

// TestChunkedReaderHoldsBackLastChunk: a bad trailing checksum is found
// before the payload's last chunk is released.
func TestChunkedReaderHoldsBackLastChunk(t *testing.T) {
	e := awsDocTrailer
	r, body := e.request(t, strings.Replace(e.body(), "sOO8/Q==", "AAAAAA==", 1))
	a, err := sigv4.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAllSmall(sigv4.ChunkedReader(bytes.NewReader(body), a, awsDocSecret))
	if kind(err) != sigv4.KindSignatureMismatch || len(got) > len(awsDocChunk1) {
		t.Errorf("released %d bytes, err %v; want at most the first chunk (%d) and a mismatch", len(got), err, len(awsDocChunk1))
	}
}
