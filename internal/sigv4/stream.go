package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
	"strings"
)

// MaxStreamChunk bounds one chunk of an aws-chunked body read by
// [Pending.Reader]: a chunk is held whole until its signature is checked.
const MaxStreamChunk = 16 << 20

// Reader returns the payload of the request as it streams from body,
// verified against the claim as it goes, for callers that must not hold a
// body whole (a proxy). contentLength is the body's length, -1 if unknown.
//
//   - aws-chunked bodies are decoded; each chunk is released only after its
//     signature is checked, and the last chunk only after the trailer (its
//     signature and checksum) and the decoded length are checked.
//   - A body whose hash is declared in X-Amz-Content-Sha256, or covered by
//     the signature (Begin could not verify it), is hashed as it passes;
//     its final bytes are released only once the hash or the signature
//     matches, when contentLength is known, and the mismatch is the
//     reader's error otherwise.
//   - An unsigned payload passes as it is.
//
// A mismatch is returned as an [*Error] by Read, before the bytes that
// complete the payload: a consumer that forwards what it reads (an
// http.Request body) never forwards a whole body that was not authentic.
// The reader is used by one goroutine.
func (p *Pending) Reader(body io.Reader, contentLength int64) io.Reader {
	switch p.mode {
	case payloadChunked:
		return newChunkedReader(body, p.a, &p.key)
	case payloadDeclared, payloadFromBody:
		return &hashingReader{p: p, body: body, left: contentLength, h: sha256.New()}
	}
	return body
}

// ChunkedReader is [DecodeChunked] for a body that streams: it returns a
// reader of the decoded payload that checks each chunk as it arrives and
// releases the last one only once the trailer and the decoded length are
// checked (see [Pending.Reader], which also checks the seed signature).
// Errors are [*Error], returned by Read.
func ChunkedReader(body io.Reader, a *Auth, secret string) io.Reader {
	switch a.ContentSHA256 {
	case StreamingPayload, StreamingPayloadTrailer:
		key := deriveKey(secret, a.Date, a.Region, a.Service)
		return newChunkedReader(body, a, &key)
	case StreamingUnsignedTrailer:
		return newChunkedReader(body, a, nil)
	}
	return &chunkedReader{err: incomplete("X-Amz-Content-Sha256 " + quoteClip(a.ContentSHA256) + " does not announce an aws-chunked payload.")}
}

func newChunkedReader(body io.Reader, a *Auth, key *[32]byte) *chunkedReader {
	signed := a.ContentSHA256 == StreamingPayload || a.ContentSHA256 == StreamingPayloadTrailer
	c := &chunkedReader{
		br:       bufio.NewReaderSize(body, 64<<10),
		d:        &chunkDecoder{a: a, signed: signed, prev: strings.ToLower(a.Signature), scope: a.Scope(), stamp: a.stamp()},
		trailers: a.ContentSHA256 == StreamingPayloadTrailer || a.ContentSHA256 == StreamingUnsignedTrailer,
	}
	if signed {
		c.d.key = key
	}
	if a.DecodedLength < 0 {
		c.err = incompleteBody("An aws-chunked payload requires a valid x-amz-decoded-content-length header.")
	}
	if alg, ok := strings.CutPrefix(strings.ToLower(a.Trailer), "x-amz-checksum-"); ok {
		c.alg, c.sum = alg, checksumHash(alg)
	}
	return c
}

// hashingReader checks a streamed body against its declared hash or the
// signature.
type hashingReader struct {
	p    *Pending
	body io.Reader
	left int64 // bytes still expected; -1 when the length is unknown
	h    hash.Hash
	err  error
}

func (r *hashingReader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.left >= 0 && int64(len(b)) > r.left {
		b = b[:r.left]
	}
	n, err := r.body.Read(b)
	r.h.Write(b[:n])
	if r.left >= 0 {
		r.left -= int64(n)
		if r.left == 0 {
			if r.err = r.check(); r.err != nil {
				return 0, r.err
			}
			r.err = io.EOF
			return n, nil
		}
		if err == io.EOF {
			r.err = incompleteBody("The request body ended before its Content-Length.")
			return n, r.err
		}
	} else if err == io.EOF {
		if r.err = r.check(); r.err != nil {
			return n, r.err
		}
		r.err = io.EOF
	}
	return n, err
}

// check compares the hash of what passed with what was signed.
func (r *hashingReader) check() error {
	var got [64]byte
	hex.Encode(got[:], r.h.Sum(nil))
	if r.p.mode == payloadFromBody {
		if !signatureMatches(r.p.r, r.p.a, &r.p.key, string(got[:])) {
			return mismatch(r.p.a.Service)
		}
		return nil
	}
	if !strings.EqualFold(string(got[:]), r.p.a.ContentSHA256) {
		return &Error{Kind: KindContentSHA256Mismatch, Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	return nil
}

// chunkedReader decodes an aws-chunked body as it streams, holding one
// verified chunk back until the next is read, so that the payload's last
// bytes leave only once the whole body is verified.
type chunkedReader struct {
	br       *bufio.Reader
	d        *chunkDecoder
	trailers bool
	alg      string    // the checksum algorithm x-amz-trailer announces
	sum      hash.Hash // its running checksum of the payload, nil if none
	total    int64     // payload bytes decoded so far
	held     []byte    // the last verified chunk, not yet released
	spare    []byte    // a buffer to read the next chunk into
	out      []byte    // released bytes not yet read
	done     bool
	err      error
}

func (c *chunkedReader) Read(b []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.done {
			return 0, io.EOF
		}
		if err := c.step(); err != nil {
			c.err, c.out = err, nil
			return 0, err
		}
	}
	n := copy(b, c.out)
	c.out = c.out[n:]
	return n, nil
}

// step reads one chunk and releases the one held before it.
func (c *chunkedReader) step() error {
	l, err := c.line()
	if err != nil {
		return err
	}
	size, sig, err := c.d.header(l)
	if err != nil {
		return err
	}
	if size > MaxStreamChunk {
		return incompleteBody("An aws-chunked chunk of " + strconv.FormatInt(size, 10) + " bytes is larger than the " + strconv.Itoa(MaxStreamChunk>>20) + " MiB accepted.")
	}
	if c.total+size > c.d.a.DecodedLength {
		return incompleteBody("The aws-chunked payload is longer than its x-amz-decoded-content-length " + strconv.FormatInt(c.d.a.DecodedLength, 10) + ".")
	}
	data := c.spare[:0]
	if int64(cap(data)) < size {
		data = make([]byte, size)
	}
	data = data[:size]
	if _, err := io.ReadFull(c.br, data); err != nil {
		return incompleteBody("The aws-chunked payload ends in the middle of a chunk.")
	}
	if size > 0 {
		var crlf [2]byte
		if _, err := io.ReadFull(c.br, crlf[:]); err != nil || crlf != [2]byte{'\r', '\n'} {
			return incompleteBody("An aws-chunked chunk is not followed by CRLF.")
		}
	}
	if c.d.signed {
		if err := c.d.checkChunk(data, sig); err != nil {
			return err
		}
	}
	c.total += size
	if c.sum != nil {
		c.sum.Write(data)
	}
	if size == 0 {
		if err := c.finish(); err != nil {
			return err
		}
		c.out, c.held, c.done = c.held, nil, true
		return nil
	}
	c.out, c.spare, c.held = c.held, c.held, data
	return nil
}

// finish checks what follows the final chunk.
func (c *chunkedReader) finish() error {
	if c.total != c.d.a.DecodedLength {
		return incompleteBody("The aws-chunked payload holds " + strconv.FormatInt(c.total, 10) +
			" bytes, but x-amz-decoded-content-length is " + strconv.FormatInt(c.d.a.DecodedLength, 10) + ".")
	}
	var rest []byte
	for i := 0; ; i++ {
		if i > 32 {
			return incompleteBody("The aws-chunked payload has too many trailers.")
		}
		l, err := c.line()
		if err != nil {
			return err
		}
		rest = append(append(rest, l...), '\r', '\n')
		if len(l) == 0 {
			break
		}
	}
	if n, _ := c.br.Read(make([]byte, 1)); n > 0 {
		return incompleteBody("The aws-chunked payload has data after its end.")
	}
	c.d.rest = rest
	return c.d.trailer(c.trailers, func(alg string) []byte {
		if c.sum == nil || alg != c.alg {
			return nil
		}
		return c.sum.Sum(nil)
	})
}

// line reads a CRLF-terminated line of at most maxChunkLine bytes.
func (c *chunkedReader) line() ([]byte, error) {
	l, err := c.br.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull || len(l) > maxChunkLine+2:
		return nil, incompleteBody("An aws-chunked chunk header or trailer line is too long.")
	case err != nil:
		return nil, incompleteBody("The aws-chunked payload ends in the middle of a chunk header or trailer.")
	}
	l, ok := bytes.CutSuffix(l, []byte("\r\n"))
	if !ok {
		return nil, incompleteBody("An aws-chunked chunk header or trailer line does not end in CRLF.")
	}
	return bytes.Clone(l), nil
}
