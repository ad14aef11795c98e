package sigv4_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/opentrail/opentrail/internal/sigv4"
)

// AWS's published chunked-upload examples (S3 API reference, "Signature
// Calculations for the Authorization Header: Transferring Payload in Multiple
// Chunks", and its trailer variant): 65536 and 1024 bytes of 'a' in two
// chunks and a final empty one.
const (
	awsDocAKID   = "AKIAIOSFODNN7EXAMPLE"
	awsDocSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	awsDocDate   = "20130524T000000Z"
)

type awsDocExample struct {
	mode, signedHeaders, seed string
	chunkSigs                 [3]string
	trailer, trailerSig       string
}

var (
	awsDocPlain = awsDocExample{
		mode:          sigv4.StreamingPayload,
		signedHeaders: "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
		seed:          "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
		chunkSigs: [3]string{
			"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
			"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
			"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
		},
	}
	awsDocTrailer = awsDocExample{
		mode:          sigv4.StreamingPayloadTrailer,
		signedHeaders: "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
		seed:          "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
		chunkSigs: [3]string{
			"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
			"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
			"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
		},
		trailer:    "x-amz-checksum-crc32c:sOO8/Q==",
		trailerSig: "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435",
	}
	awsDocChunk1 = strings.Repeat("a", 65536)
	awsDocChunk2 = strings.Repeat("a", 1024)
)

func (e awsDocExample) body() string {
	b := "10000;chunk-signature=" + e.chunkSigs[0] + "\r\n" + awsDocChunk1 + "\r\n" +
		"400;chunk-signature=" + e.chunkSigs[1] + "\r\n" + awsDocChunk2 + "\r\n" +
		"0;chunk-signature=" + e.chunkSigs[2] + "\r\n"
	if e.trailer != "" {
		b += e.trailer + "\r\n" + "x-amz-trailer-signature:" + e.trailerSig + "\r\n"
	}
	return b + "\r\n"
}

// request returns the example request as a server reads it.
func (e awsDocExample) request(t *testing.T, body string) (*http.Request, []byte) {
	t.Helper()
	var raw strings.Builder
	raw.WriteString("PUT /examplebucket/chunkObject.txt HTTP/1.1\r\nHost: s3.amazonaws.com\r\n")
	raw.WriteString("x-amz-date: " + awsDocDate + "\r\nx-amz-storage-class: REDUCED_REDUNDANCY\r\n")
	raw.WriteString("Authorization: AWS4-HMAC-SHA256 Credential=" + awsDocAKID + "/20130524/us-east-1/s3/aws4_request,SignedHeaders=" +
		e.signedHeaders + ",Signature=" + e.seed + "\r\n")
	raw.WriteString("x-amz-content-sha256: " + e.mode + "\r\nContent-Encoding: aws-chunked\r\nx-amz-decoded-content-length: 66560\r\n")
	if e.trailer != "" {
		raw.WriteString("x-amz-trailer: x-amz-checksum-crc32c\r\n")
	}
	raw.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw.String())))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

func awsDocVerifier() *sigv4.Verifier {
	at, _ := time.Parse(sigv4.TimeFormat, awsDocDate)
	return &sigv4.Verifier{
		Credentials: func(k string) (string, bool) { return awsDocSecret, k == awsDocAKID },
		Now:         func() time.Time { return at },
	}
}

// TestAWSPublishedChunkedExamples verifies AWS's examples end to end: the
// seed signature over the headers, every chunk signature, the trailer
// signature and the trailing CRC32C.
func TestAWSPublishedChunkedExamples(t *testing.T) {
	for _, e := range []awsDocExample{awsDocPlain, awsDocTrailer} {
		t.Run(e.mode, func(t *testing.T) {
			r, body := e.request(t, e.body())
			if e.trailer == "" && len(body) != 66824 {
				t.Fatalf("example body is %d bytes, AWS documents 66824", len(body))
			}
			a, err := sigv4.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			payload, err := awsDocVerifier().VerifyPayload(r, a, body)
			if err != nil {
				t.Fatalf("VerifyPayload: %v", err)
			}
			if string(payload) != awsDocChunk1+awsDocChunk2 {
				t.Errorf("payload is %d bytes, want 66560 bytes of 'a'", len(payload))
			}
			if p, err := streamDecode(body, a, awsDocSecret); err != nil || string(p) != string(payload) {
				t.Errorf("ChunkedReader: %v", err)
			}
			// DecodeChunked alone gives the same.
			if p, err := sigv4.DecodeChunked(body, a, awsDocSecret); err != nil || string(p) != string(payload) {
				t.Errorf("DecodeChunked: %v", err)
			}
		})
	}
}

func TestDecodeChunkedRefusesTampering(t *testing.T) {
	e := awsDocPlain
	sigs := e.chunkSigs
	chunk := func(data, sig string) string {
		return strconv.FormatInt(int64(len(data)), 16) + ";chunk-signature=" + sig + "\r\n" + data + "\r\n"
	}
	final := "0;chunk-signature=" + sigs[2] + "\r\n\r\n"
	good := e.body()
	tests := []struct {
		name string
		body string
		want sigv4.Kind
	}{
		{"flipped byte in chunk", strings.Replace(good, "a\r\n400;", "b\r\n400;", 1), sigv4.KindSignatureMismatch},
		{"wrong chunk signature", strings.Replace(good, sigs[1], strings.Repeat("0", 64), 1), sigv4.KindSignatureMismatch},
		{"upper-case signature of another chunk", strings.Replace(good, sigs[1], strings.ToUpper(sigs[0]), 1), sigv4.KindSignatureMismatch},
		{"short chunk signature", strings.Replace(good, sigs[1], sigs[1][:10], 1), sigv4.KindSignatureMismatch},
		{"chunk signature missing", strings.Replace(good, "400;chunk-signature="+sigs[1], "400", 1), sigv4.KindSignatureMismatch},
		{"final signature wrong", strings.Replace(good, sigs[2], sigs[1], 1), sigv4.KindSignatureMismatch},
		{"chunks reordered", chunk(awsDocChunk2, sigs[1]) + chunk(awsDocChunk1, sigs[0]) + final, sigv4.KindSignatureMismatch},
		{"chunk dropped", chunk(awsDocChunk1, sigs[0]) + final, sigv4.KindSignatureMismatch},
		{"truncated in data", good[:60000], sigv4.KindIncompleteBody},
		{"truncated in header", good[:len(good)-40], sigv4.KindIncompleteBody},
		{"final chunk missing", chunk(awsDocChunk1, sigs[0]) + chunk(awsDocChunk2, sigs[1]), sigv4.KindIncompleteBody},
		{"no CRLF after data", strings.Replace(good, "a\r\n400;", "aX\n400;", 1), sigv4.KindIncompleteBody},
		{"bad size", strings.Replace(good, "400;", "4g0;", 1), sigv4.KindIncompleteBody},
		{"size beyond body", strings.Replace(good, "400;", "fffffff;", 1), sigv4.KindIncompleteBody},
		{"data after end", good + "x", sigv4.KindIncompleteBody},
		{"trailer on untrailed body", strings.TrimSuffix(good, "\r\n") + "x-amz-checksum-crc32:AAAAAA==\r\n\r\n", sigv4.KindIncompleteBody},
		{"empty", "", sigv4.KindIncompleteBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, body := e.request(t, tc.body)
			a, err := sigv4.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sigv4.DecodeChunked(body, a, awsDocSecret)
			if kind(err) != tc.want {
				t.Errorf("DecodeChunked = %v, want kind %v", err, tc.want)
			}
			if _, err := streamDecode(body, a, awsDocSecret); kind(err) != tc.want {
				t.Errorf("ChunkedReader = %v, want kind %v", err, tc.want)
			}
		})
	}
	// The untampered body decodes through the same path.
	r, body := e.request(t, good)
	a, _ := sigv4.Parse(r)
	if _, err := sigv4.DecodeChunked(body, a, awsDocSecret); err != nil {
		t.Fatal(err)
	}
	// A wrong secret breaks the first chunk.
	if _, err := sigv4.DecodeChunked(body, a, "wrong"); kind(err) != sigv4.KindSignatureMismatch {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestDecodeChunkedTrailerTampering(t *testing.T) {
	e := awsDocTrailer
	good := e.body()
	tests := []struct {
		name string
		body string
		want sigv4.Kind
	}{
		{"checksum changed", strings.Replace(good, "sOO8/Q==", "AAAAAA==", 1), sigv4.KindSignatureMismatch},
		{"trailer added", strings.Replace(good, e.trailer+"\r\n", e.trailer+"\r\nx-amz-meta-extra:1\r\n", 1), sigv4.KindSignatureMismatch},
		{"trailer dropped", strings.Replace(good, e.trailer+"\r\n", "", 1), sigv4.KindSignatureMismatch},
		{"trailer signature changed", strings.Replace(good, e.trailerSig, e.seed, 1), sigv4.KindSignatureMismatch},
		{"trailer signature missing", strings.Replace(good, "x-amz-trailer-signature:"+e.trailerSig+"\r\n", "", 1), sigv4.KindSignatureMismatch},
		{"trailer after signature", strings.Replace(good, e.trailerSig+"\r\n", e.trailerSig+"\r\nx-amz-meta-x:1\r\n", 1), sigv4.KindSignatureMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, body := e.request(t, tc.body)
			a, err := sigv4.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sigv4.DecodeChunked(body, a, awsDocSecret); kind(err) != tc.want {
				t.Errorf("DecodeChunked = %v, want kind %v", err, tc.want)
			}
			if _, err := streamDecode(body, a, awsDocSecret); kind(err) != tc.want {
				t.Errorf("ChunkedReader = %v, want kind %v", err, tc.want)
			}
		})
	}
}

// unsignedChunked frames payload as aws-chunked without chunk signatures,
// in chunks of size n, followed by trailer lines.
func unsignedChunked(payload string, n int, trailers ...string) string {
	var b strings.Builder
	for len(payload) > 0 {
		c := payload[:min(n, len(payload))]
		payload = payload[len(c):]
		b.WriteString(strconv.FormatInt(int64(len(c)), 16) + "\r\n" + c + "\r\n")
	}
	b.WriteString("0\r\n")
	for _, t := range trailers {
		b.WriteString(t + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func checksum(alg, payload string) string {
	var sum []byte
	switch alg {
	case "crc32":
		sum = binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE([]byte(payload)))
	case "crc32c":
		sum = binary.BigEndian.AppendUint32(nil, crc32.Checksum([]byte(payload), crc32.MakeTable(crc32.Castagnoli)))
	case "crc64nvme":
		sum = binary.BigEndian.AppendUint64(nil, crc64.Checksum([]byte(payload), crc64.MakeTable(0x9a6c9329ac4bc9b5)))
	case "sha256":
		s := sha256.Sum256([]byte(payload))
		sum = s[:]
	}
	return base64.StdEncoding.EncodeToString(sum)
}

func TestCRC64NVMECheckValue(t *testing.T) {
	// The catalogued check value of CRC-64/NVME over "123456789".
	got := crc64.Checksum([]byte("123456789"), crc64.MakeTable(0x9a6c9329ac4bc9b5))
	if got != 0xae8b14860a799888 {
		t.Fatalf("crc64nvme check = %#x", got)
	}
	// And the package computes the same trailer value.
	payload := "123456789"
	a := &sigv4.Auth{ContentSHA256: sigv4.StreamingUnsignedTrailer, DecodedLength: 9, Trailer: "x-amz-checksum-crc64nvme"}
	var want [8]byte
	binary.BigEndian.PutUint64(want[:], 0xae8b14860a799888)
	body := unsignedChunked(payload, 4, "x-amz-checksum-crc64nvme:"+base64.StdEncoding.EncodeToString(want[:]))
	if _, err := sigv4.DecodeChunked([]byte(body), a, ""); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeUnsignedTrailer(t *testing.T) {
	payload := strings.Repeat(`{"eventName":"PutObject"}`+"\n", 100)
	tests := []struct {
		name     string
		body     string
		declared int64
		trailer  string // x-amz-trailer
		want     sigv4.Kind
	}{
		{"crc32", unsignedChunked(payload, 1000, "x-amz-checksum-crc32:"+checksum("crc32", payload)), int64(len(payload)), "x-amz-checksum-crc32", 0},
		{"crc32c one chunk", unsignedChunked(payload, 1<<20, "x-amz-checksum-crc32c:"+checksum("crc32c", payload)), int64(len(payload)), "x-amz-checksum-crc32c", 0},
		{"sha256", unsignedChunked(payload, 7, "x-amz-checksum-sha256:"+checksum("sha256", payload)), int64(len(payload)), "x-amz-checksum-sha256", 0},
		{"crc64nvme", unsignedChunked(payload, 64, "x-amz-checksum-crc64nvme:"+checksum("crc64nvme", payload)), int64(len(payload)), "x-amz-checksum-crc64nvme", 0},
		{"empty payload", unsignedChunked("", 1, "x-amz-checksum-crc32:"+checksum("crc32", "")), 0, "x-amz-checksum-crc32", 0},
		{"no trailer declared or sent", unsignedChunked(payload, 1000), int64(len(payload)), "", 0},
		{"bad checksum", unsignedChunked(payload, 1000, "x-amz-checksum-crc32:"+checksum("crc32", payload+"x")), int64(len(payload)), "x-amz-checksum-crc32", sigv4.KindBadDigest},
		{"flipped byte", strings.Replace(unsignedChunked(payload, 1000, "x-amz-checksum-crc32:"+checksum("crc32", payload)), "Put", "Pot", 1),
			int64(len(payload)), "x-amz-checksum-crc32", sigv4.KindBadDigest},
		{"unsupported algorithm", unsignedChunked(payload, 1000, "x-amz-checksum-md5:AAAA"), int64(len(payload)), "x-amz-checksum-md5", sigv4.KindBadDigest},
		{"declared trailer missing", unsignedChunked(payload, 1000), int64(len(payload)), "x-amz-checksum-crc32", sigv4.KindIncompleteBody},
		{"decoded length larger", unsignedChunked(payload, 1000), int64(len(payload)) + 1, "", sigv4.KindIncompleteBody},
		{"decoded length smaller", unsignedChunked(payload, 1000), int64(len(payload)) - 1, "", sigv4.KindIncompleteBody},
		{"decoded length missing", unsignedChunked(payload, 1000), -1, "", sigv4.KindIncompleteBody},
		{"truncated", unsignedChunked(payload, 1000)[:500], int64(len(payload)), "", sigv4.KindIncompleteBody},
		{"trailer signature on unsigned body", unsignedChunked(payload, 1000, "x-amz-trailer-signature:"+strings.Repeat("0", 64)), int64(len(payload)), "", sigv4.KindIncompleteBody},
		{"malformed trailer", unsignedChunked(payload, 1000, "no colon"), int64(len(payload)), "", sigv4.KindIncompleteBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &sigv4.Auth{ContentSHA256: sigv4.StreamingUnsignedTrailer, DecodedLength: tc.declared, Trailer: tc.trailer}
			got, err := sigv4.DecodeChunked([]byte(tc.body), a, "")
			if kind(err) != tc.want {
				t.Fatalf("DecodeChunked = %v, want kind %v", err, tc.want)
			}
			if tc.want == 0 && tc.declared >= 0 && string(got) != payload[:tc.declared] {
				t.Errorf("payload differs")
			}
			got, err = streamDecode([]byte(tc.body), a, "")
			if kind(err) != tc.want {
				t.Fatalf("ChunkedReader = %v, want kind %v", err, tc.want)
			}
			if tc.want == 0 && string(got) != payload[:tc.declared] {
				t.Errorf("streamed payload differs")
			}
		})
	}
}

// signedChunked frames payload as aws-chunked with chained chunk signatures,
// computed here from the specification independently of the package.
func signedChunked(payload string, n int, secret, amzDate, scope, seed string) string {
	mac := func(key []byte, data string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(data))
		return m.Sum(nil)
	}
	parts := strings.Split(scope, "/")
	k := mac([]byte("AWS4"+secret), parts[0])
	k = mac(k, parts[1])
	k = mac(k, parts[2])
	k = mac(k, "aws4_request")
	empty := sha256.Sum256(nil)
	prev := seed
	var b strings.Builder
	for {
		c := payload[:min(n, len(payload))]
		payload = payload[len(c):]
		sum := sha256.Sum256([]byte(c))
		prev = hex.EncodeToString(mac(k, "AWS4-HMAC-SHA256-PAYLOAD\n"+amzDate+"\n"+scope+"\n"+prev+"\n"+
			hex.EncodeToString(empty[:])+"\n"+hex.EncodeToString(sum[:])))
		b.WriteString(strconv.FormatInt(int64(len(c)), 16) + ";chunk-signature=" + prev + "\r\n" + c)
		if len(c) > 0 {
			b.WriteString("\r\n")
		}
		if len(c) == 0 {
			break
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

func TestDecodeSignedChunkedGenerated(t *testing.T) {
	const amzDate, scope, seed = "20240101T000000Z", "20240101/us-east-1/s3/aws4_request", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, size := range []int{0, 1, 8191, 8192, 100000} {
		payload := strings.Repeat("x", size)
		body := signedChunked(payload, 8192, testSecret, amzDate, scope, seed)
		a := &sigv4.Auth{AccessKeyID: testAKID, Date: "20240101", Region: "us-east-1", Service: "s3", Signature: seed,
			Time: signTime, ContentSHA256: sigv4.StreamingPayload, DecodedLength: int64(size)}
		got, err := sigv4.DecodeChunked([]byte(body), a, testSecret)
		if err != nil || string(got) != payload {
			t.Errorf("size %d: %v", size, err)
		}
		if got, err := streamDecode([]byte(body), a, testSecret); err != nil || string(got) != payload {
			t.Errorf("size %d, streamed: %v", size, err)
		}
		a.Signature = strings.Repeat("f", 64)
		if _, err := sigv4.DecodeChunked([]byte(body), a, testSecret); kind(err) != sigv4.KindSignatureMismatch {
			t.Errorf("size %d, other seed: %v", size, err)
		}
	}
	a := &sigv4.Auth{ContentSHA256: sigv4.UnsignedPayload}
	if _, err := sigv4.DecodeChunked(nil, a, ""); kind(err) != sigv4.KindIncompleteSignature {
		t.Errorf("not chunked: %v", err)
	}
}

// streamDecode reads body through ChunkedReader in small reads, as a proxy
// forwarding it would.
func streamDecode(body []byte, a *sigv4.Auth, secret string) ([]byte, error) {
	return readAllSmall(sigv4.ChunkedReader(iotest.OneByteReader(bytes.NewReader(body)), a, secret))
}
