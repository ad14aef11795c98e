package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strconv"
	"strings"
)

// maxChunkLine bounds a chunk header or trailer line.
const maxChunkLine = 4096

const trailerSignatureName = "x-amz-trailer-signature"

// DecodeChunked decodes an aws-chunked body (Content-Encoding: aws-chunked)
// as announced by a.ContentSHA256 and returns the payload:
//
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk carries a
//     chunk-signature chained from the seed a.Signature; all are verified
//     with secret.
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: as above, followed by
//     trailing headers signed by x-amz-trailer-signature.
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER: chunks without signatures (secret
//     is unused) followed by a trailing checksum.
//
// The decoded length must equal a.DecodedLength (X-Amz-Decoded-Content-Length)
// and a trailing x-amz-checksum-* (crc32, crc32c, crc64nvme, sha1, sha256)
// must match the payload. DecodeChunked does not verify the seed signature:
// call it only on a request [Verifier.Verify] accepted, or use
// [Verifier.VerifyPayload], which does both. Errors are [*Error]; work is
// linear in len(body).
func DecodeChunked(body []byte, a *Auth, secret string) ([]byte, error) {
	switch a.ContentSHA256 {
	case StreamingPayload, StreamingPayloadTrailer:
		key := deriveKey(secret, a.Date, a.Region, a.Service)
		return decodeChunked(body, a, &key)
	case StreamingUnsignedTrailer:
		return decodeChunked(body, a, nil)
	}
	return nil, incomplete("X-Amz-Content-Sha256 " + quoteClip(a.ContentSHA256) + " does not announce an aws-chunked payload.")
}

// chunkDecoder walks an aws-chunked body.
type chunkDecoder struct {
	a      *Auth
	key    *[32]byte // nil when chunks are unsigned
	signed bool      // chunk signatures expected
	prev   string    // previous signature, hex
	scope  string
	stamp  string
	rest   []byte
}

func incompleteBody(msg string) *Error { return &Error{Kind: KindIncompleteBody, Message: msg} }

func decodeChunked(body []byte, a *Auth, key *[32]byte) ([]byte, error) {
	mode := a.ContentSHA256
	signed := mode == StreamingPayload || mode == StreamingPayloadTrailer
	trailers := mode == StreamingPayloadTrailer || mode == StreamingUnsignedTrailer
	if a.DecodedLength < 0 {
		return nil, incompleteBody("An aws-chunked payload requires a valid x-amz-decoded-content-length header.")
	}
	d := &chunkDecoder{a: a, key: key, signed: signed, prev: strings.ToLower(a.Signature),
		scope: a.Scope(), stamp: a.stamp(), rest: body}
	out := make([]byte, 0, min(a.DecodedLength, int64(len(body))))
	for {
		data, last, err := d.next()
		if err != nil {
			return nil, err
		}
		if int64(len(out))+int64(len(data)) > a.DecodedLength {
			return nil, incompleteBody("The aws-chunked payload is longer than its x-amz-decoded-content-length " + strconv.FormatInt(a.DecodedLength, 10) + ".")
		}
		out = append(out, data...)
		if last {
			break
		}
	}
	if int64(len(out)) != a.DecodedLength {
		return nil, incompleteBody("The aws-chunked payload holds " + strconv.Itoa(len(out)) +
			" bytes, but x-amz-decoded-content-length is " + strconv.FormatInt(a.DecodedLength, 10) + ".")
	}
	if err := d.trailer(trailers, func(alg string) []byte {
		h := checksumHash(alg)
		if h == nil {
			return nil
		}
		h.Write(out)
		return h.Sum(nil)
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// line returns the next CRLF-terminated line without its CRLF.
func (d *chunkDecoder) line() ([]byte, error) {
	window := d.rest[:min(len(d.rest), maxChunkLine+2)]
	i := bytes.Index(window, []byte("\r\n"))
	if i < 0 {
		if len(d.rest) < maxChunkLine+2 {
			return nil, incompleteBody("The aws-chunked payload ends in the middle of a chunk header or trailer.")
		}
		return nil, incompleteBody("An aws-chunked chunk header or trailer line is too long.")
	}
	l := d.rest[:i]
	d.rest = d.rest[i+2:]
	return l, nil
}

// next decodes one chunk and checks its signature; last is true for the
// final, empty chunk.
func (d *chunkDecoder) next() (data []byte, last bool, err error) {
	l, err := d.line()
	if err != nil {
		return nil, false, err
	}
	size, sig, err := d.header(l)
	if err != nil {
		return nil, false, err
	}
	if size > int64(len(d.rest)) {
		return nil, false, incompleteBody("The aws-chunked payload ends in the middle of a chunk.")
	}
	data = d.rest[:size]
	d.rest = d.rest[size:]
	if size > 0 {
		if !bytes.HasPrefix(d.rest, []byte("\r\n")) {
			return nil, false, incompleteBody("An aws-chunked chunk is not followed by CRLF.")
		}
		d.rest = d.rest[2:]
	}
	if d.signed {
		if err := d.checkChunk(data, sig); err != nil {
			return nil, false, err
		}
	}
	return data, size == 0, nil
}

// header parses a chunk header line: the chunk's size and, for signed
// bodies, its chunk-signature.
func (d *chunkDecoder) header(l []byte) (size int64, sig []byte, err error) {
	sizeText, ext, hasExt := bytes.Cut(l, []byte(";"))
	if len(sizeText) == 0 || len(sizeText) > 15 || !isHex(string(sizeText)) {
		return 0, nil, incompleteBody("An aws-chunked chunk header has an invalid size " + quoteClip(string(sizeText)) + ".")
	}
	size, _ = strconv.ParseInt(string(sizeText), 16, 64)
	if d.signed {
		const prefix = "chunk-signature="
		if !hasExt || !bytes.HasPrefix(ext, []byte(prefix)) {
			return 0, nil, &Error{Kind: KindSignatureMismatch, Message: "An aws-chunked chunk lacks its chunk-signature."}
		}
		sig = ext[len(prefix):]
	}
	return size, sig, nil
}

// checkChunk verifies a chunk signature and advances the chain.
func (d *chunkDecoder) checkChunk(data, sig []byte) error {
	dataSum := sha256.Sum256(data)
	var dataHex [64]byte
	hex.Encode(dataHex[:], dataSum[:])
	m := hmac.New(sha256.New, d.key[:])
	m.Write([]byte("AWS4-HMAC-SHA256-PAYLOAD\n" + d.stamp + "\n" + d.scope + "\n" + d.prev + "\n" + emptySHA256 + "\n"))
	m.Write(dataHex[:])
	return d.advance(m.Sum(nil), sig, "chunk")
}

// advance compares a computed signature with the one sent and makes it the
// previous signature of the chain.
func (d *chunkDecoder) advance(computed, sent []byte, what string) error {
	var want [32]byte
	if len(sent) != 64 {
		return &Error{Kind: KindSignatureMismatch, Message: "An aws-chunked " + what + " signature is malformed."}
	}
	if _, err := hex.Decode(want[:], sent); err != nil || !hmac.Equal(computed, want[:]) {
		return &Error{Kind: KindSignatureMismatch, Message: "The " + what + " signature we calculated does not match the signature you provided."}
	}
	d.prev = hex.EncodeToString(computed)
	return nil
}

// trailer reads what follows the final chunk: nothing but CRLF, or (when
// trailers are expected) trailing headers and CRLF. It checks the trailer
// signature of signed bodies and the trailing checksum against checksum,
// which returns the payload's checksum by an algorithm's name (crc32,
// sha256, ...), nil for an algorithm it cannot compute.
func (d *chunkDecoder) trailer(expected bool, checksum func(alg string) []byte) error {
	type field struct{ name, value string }
	var fields []field
	var sig []byte
	var signedText []byte
	for {
		l, err := d.line()
		if err != nil {
			return err
		}
		if len(l) == 0 {
			break
		}
		if !expected {
			return incompleteBody("The aws-chunked payload has data after its final chunk.")
		}
		if sig != nil {
			return &Error{Kind: KindSignatureMismatch, Message: "An aws-chunked trailer follows the trailer signature."}
		}
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			return incompleteBody("An aws-chunked trailer line is not of the form name:value.")
		}
		lname := strings.ToLower(strings.TrimSpace(string(name)))
		if lname == trailerSignatureName {
			sig = bytes.TrimSpace(value)
			continue
		}
		if len(fields) >= 16 {
			return incompleteBody("The aws-chunked payload has too many trailers.")
		}
		v := strings.TrimSpace(string(value))
		fields = append(fields, field{lname, v})
		signedText = append(signedText, lname...)
		signedText = append(signedText, ':')
		signedText = append(signedText, v...)
		signedText = append(signedText, '\n')
	}
	if len(d.rest) != 0 {
		return incompleteBody("The aws-chunked payload has data after its end.")
	}
	if d.signed && expected {
		if sig == nil {
			return &Error{Kind: KindSignatureMismatch, Message: "The aws-chunked trailer lacks its x-amz-trailer-signature."}
		}
		sum := sha256.Sum256(signedText)
		m := hmac.New(sha256.New, d.key[:])
		m.Write([]byte("AWS4-HMAC-SHA256-TRAILER\n" + d.stamp + "\n" + d.scope + "\n" + d.prev + "\n"))
		m.Write([]byte(hex.EncodeToString(sum[:])))
		if err := d.advance(m.Sum(nil), sig, "trailer"); err != nil {
			return err
		}
	} else if sig != nil {
		return incompleteBody("An unsigned aws-chunked payload carries a trailer signature.")
	}
	declared := strings.ToLower(d.a.Trailer)
	found := declared == ""
	for _, f := range fields {
		if f.name == declared {
			found = true
		}
		alg, ok := strings.CutPrefix(f.name, "x-amz-checksum-")
		if !ok {
			continue
		}
		sum := checksum(alg)
		if sum == nil {
			return &Error{Kind: KindBadDigest, Message: "The trailing checksum algorithm " + quoteClip(alg) + " is not supported."}
		}
		if base64.StdEncoding.EncodeToString(sum) != f.value {
			return &Error{Kind: KindBadDigest, Message: "The " + f.name + " you specified did not match the calculated checksum."}
		}
	}
	if !found {
		return incompleteBody("The trailer " + quoteClip(declared) + " announced by x-amz-trailer is missing.")
	}
	return nil
}

// crc64NVME is the CRC-64/NVME table (reflected polynomial 0x9a6c9329ac4bc9b5).
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// checksumHash returns a hash for a flexible-checksum algorithm name, or nil.
func checksumHash(alg string) hash.Hash {
	switch alg {
	case "crc32":
		return crc32.NewIEEE()
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "crc64nvme":
		return crc64.New(crc64NVME)
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	}
	return nil
}
