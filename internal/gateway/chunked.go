package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/sigv4"
)

// An aws-chunked upload is forwarded aws-chunked again, its chunks signed
// with the upstream's key (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): the
// upstream checks every chunk and sees the body complete only with its
// final, signed, empty chunk, which the gateway sends only once the
// client's body has been verified to its end. Forwarding the decoded
// payload with UNSIGNED-PAYLOAD instead would leave an upstream that keeps
// what it received of a cut-off body (versitygw does) with a truncated
// object when a client's last chunk turns out forged.

// resignChunk is the size of the chunks sent upstream.
const resignChunk = 64 << 10

// emptyHash is the hex SHA-256 of no bytes.
const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// chunkedLength is the length of payloadLen bytes framed in chunks of
// resignChunk bytes, each with a chunk-signature, and the final chunk.
func chunkedLength(payloadLen int64) int64 {
	frame := func(n int64) int64 {
		return int64(len(strconv.FormatInt(n, 16))) + int64(len(";chunk-signature=")) + 64 + 2 + n + 2
	}
	full := payloadLen / resignChunk
	total := full*frame(resignChunk) + frame(0)
	if rest := payloadLen % resignChunk; rest > 0 {
		total += frame(rest)
	}
	return total
}

// chunkSigner frames a payload as aws-chunked, signing each chunk in the
// chain that starts at the seed signature of the request's headers.
type chunkSigner struct {
	src   io.Reader
	key   [32]byte
	head  string // "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n"
	prev  string
	buf   []byte
	out   []byte
	done  bool
	err   error
	final bool // the final chunk is framed
}

// newChunkSigner frames src for the request out, whose Authorization
// header (signed with secret) holds the seed signature.
func newChunkSigner(src io.Reader, out *http.Request, secret, region, service string, at time.Time) *chunkSigner {
	authz := out.Header.Get("Authorization")
	seed := authz[strings.LastIndex(authz, "Signature=")+len("Signature="):]
	date := at.UTC().Format("20060102")
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	k := mac(mac(mac(mac([]byte("AWS4"+secret), date), region), service), "aws4_request")
	c := &chunkSigner{src: src, prev: seed, buf: make([]byte, resignChunk),
		head: "AWS4-HMAC-SHA256-PAYLOAD\n" + at.UTC().Format(sigv4.TimeFormat) + "\n" + date + "/" + region + "/" + service + "/aws4_request\n"}
	copy(c.key[:], k)
	return c
}

func (c *chunkSigner) Read(b []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.done {
			return 0, io.EOF
		}
		n, err := io.ReadFull(c.src, c.buf)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			// The source is verified to its end: the last data chunk and
			// the final one may go.
			c.frame(c.buf[:n])
			c.frame(nil)
			c.done = true
		case err != nil:
			c.err = err
			return 0, err
		default:
			c.frame(c.buf[:n])
		}
	}
	n := copy(b, c.out)
	c.out = c.out[n:]
	return n, nil
}

// frame appends one signed chunk (none for an empty data chunk that is
// not the final one).
func (c *chunkSigner) frame(data []byte) {
	if len(data) == 0 {
		if c.final {
			return
		}
		c.final = true
	}
	sum := sha256.Sum256(data)
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(c.head + c.prev + "\n" + emptyHash + "\n"))
	m.Write([]byte(hex.EncodeToString(sum[:])))
	c.prev = hex.EncodeToString(m.Sum(nil))
	c.out = append(c.out, strconv.FormatInt(int64(len(data)), 16)+";chunk-signature="+c.prev+"\r\n"...)
	c.out = append(c.out, data...)
	c.out = append(c.out, "\r\n"...)
}
