package digest

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// requiredKeys are the keys validate-logs requires in a digest before it
// looks at anything else; all but previousDigestSignature must be
// strings.
var requiredKeys = []string{
	"digestPublicKeyFingerprint", "digestS3Bucket", "digestS3Object",
	"previousDigestSignature", "digestEndTime", "digestStartTime",
}

// digestKeys are the top-level keys of a digest, for the case check in
// Parse.
var digestKeys = []string{
	"awsAccountId", "digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
	"digestPublicKeyFingerprint", "digestSignatureAlgorithm", "newestEventTime", "oldestEventTime",
	"previousDigestS3Bucket", "previousDigestS3Object", "previousDigestHashValue",
	"previousDigestHashAlgorithm", "previousDigestSignature", "logFiles", "opentrailGap",
}

// Parse reads a digest from its uncompressed bytes. Like validate-logs it
// requires digestPublicKeyFingerprint, digestS3Bucket, digestS3Object,
// digestEndTime and digestStartTime as strings and the key
// previousDigestSignature (a string or null); it also rejects what a
// lenient decoder would read differently from a strict one: a top-level
// key given twice, and a known key spelled in another case. Other keys
// are ignored. A missing or null logFiles is an empty list.
func Parse(plain []byte) (*Digest, error) {
	dec := json.NewDecoder(bytes.NewReader(plain))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("parse digest: %w", err)
	}
	if tok != json.Delim('{') {
		return nil, errors.New("parse digest: not a JSON object")
	}
	seen := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("parse digest: %w", err)
		}
		k := tok.(string) // object keys are always strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("parse digest: %s: %w", k, err)
		}
		if _, dup := seen[k]; dup {
			return nil, fmt.Errorf("parse digest: key %s given twice", k)
		}
		for _, known := range digestKeys {
			if k != known && strings.EqualFold(k, known) {
				return nil, fmt.Errorf("parse digest: key %s is spelled %s", known, k)
			}
		}
		seen[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("parse digest: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("parse digest: data after the JSON object")
	}
	for _, k := range requiredKeys {
		v, ok := seen[k]
		if !ok {
			return nil, fmt.Errorf("parse digest: %s is missing", k)
		}
		if k == "previousDigestSignature" && string(v) == "null" {
			continue
		}
		if len(v) == 0 || v[0] != '"' {
			return nil, fmt.Errorf("parse digest: %s is not a string", k)
		}
	}
	d := &Digest{}
	if err := json.Unmarshal(plain, d); err != nil {
		return nil, fmt.Errorf("parse digest: %w", err)
	}
	if d.LogFiles == nil {
		d.LogFiles = []LogFile{}
	}
	return d, nil
}

// maxPlain bounds what Gunzip inflates: far above any digest (a digest
// of 10,000 log files is about 4 MB), far below a gzip bomb.
const maxPlain = 256 << 20

// Gunzip returns the uncompressed bytes of a gzip file. Like gzip(1) it
// reads concatenated members as one stream; unlike validate-logs, which
// stops after the first member, bytes after the last member that are not
// a gzip member are an error, and so is a file that inflates to more
// than 256 MiB.
func Gunzip(gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, gzipError(err)
	}
	var out bytes.Buffer
	out.Grow(4 * len(gz))
	n, err := out.ReadFrom(io.LimitReader(zr, maxPlain+1))
	if err != nil {
		return nil, gzipError(err)
	}
	if n > maxPlain {
		return nil, fmt.Errorf("gunzip: more than %d bytes", maxPlain)
	}
	return out.Bytes(), nil
}

// gzipError says what is wrong with a gzip file.
func gzipError(err error) error {
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("gunzip: empty file")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("gunzip: truncated")
	}
	return fmt.Errorf("gunzip: %w", err)
}

// Gzip compresses plain as digests and log files are stored: one gzip
// member, no name or modification time, so equal input gives equal
// bytes.
func Gzip(plain []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(plain) // writes to a bytes.Buffer do not fail
	zw.Close()
	return buf.Bytes()
}

// HashGzip returns the lowercase hex SHA-256 of the uncompressed bytes of
// the gzip stream r, as a digest records a log file's hash, without
// holding the file in memory. Errors from r are returned as they are;
// damage to the stream is reported as a "gunzip: ..." error.
func HashGzip(r io.Reader) (string, error) {
	var h logHasher
	return h.hash(r)
}

// logHasher hashes gzip streams, reusing its buffers from one file to the
// next. It is not safe for concurrent use.
type logHasher struct {
	zr  gzip.Reader
	sha hash.Hash
	sum [sha256.Size]byte
}

// hash returns the hex SHA-256 of r's uncompressed content. A read error
// of r is returned wrapped in a *readError, so that the caller can tell
// it from a damaged file.
func (h *logHasher) hash(r io.Reader) (string, error) {
	if h.sha == nil {
		h.sha = sha256.New()
	}
	h.sha.Reset()
	// A *bytes.Reader cannot fail and is read by the inflater directly;
	// other readers are watched for read errors.
	var tr *trackReader
	if _, ok := r.(*bytes.Reader); !ok {
		tr = &trackReader{r: r}
		r = tr
	}
	err := h.zr.Reset(r)
	if err == nil {
		_, err = h.zr.WriteTo(h.sha)
	}
	if tr != nil && tr.err != nil {
		return "", &readError{tr.err}
	}
	if err != nil {
		return "", gzipError(err)
	}
	return hex.EncodeToString(h.sha.Sum(h.sum[:0])), nil
}

// trackReader remembers the first error of its reader other than EOF.
type trackReader struct {
	r   io.Reader
	err error
}

func (t *trackReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// readError is a failure to read a file, as opposed to damage in it.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// SignDigest returns the bytes to store for d (before gzip) and their
// signature with key, as hex for the object's x-amz-meta-signature.
// d.DigestPublicKeyFingerprint must already name key.
func SignDigest(d *Digest, key *rsa.PrivateKey) (plain []byte, sig string, err error) {
	plain = d.Marshal()
	sig, err = Sign(key, SigningString(d, Hash(plain)))
	if err != nil {
		return nil, "", err
	}
	return plain, sig, nil
}

// Signer signs digests with one key, SHA256withRSA. A key ring's key
// signs in process; an external signing command holds its key elsewhere.
type Signer interface {
	// Fingerprint names the key, as digestPublicKeyFingerprint does.
	Fingerprint() string
	// Sign returns the lowercase hex signature of s. It must verify with
	// the public key of Fingerprint.
	Sign(ctx context.Context, s string) (string, error)
}

// SignDigestWith names s's key in d (digestPublicKeyFingerprint), then
// returns the bytes to store for d (before gzip) and their signature.
func SignDigestWith(ctx context.Context, d *Digest, s Signer) (plain []byte, sig string, err error) {
	d.DigestPublicKeyFingerprint = s.Fingerprint()
	plain = d.Marshal()
	sig, err = s.Sign(ctx, SigningString(d, Hash(plain)))
	if err != nil {
		return nil, "", err
	}
	return plain, sig, nil
}

// ObjectMetadata is the user metadata of a digest object with signature
// sig (keys without "x-amz-meta-").
func ObjectMetadata(sig string) map[string]string {
	return map[string]string{MetaSignature: sig, MetaSignatureAlgorithm: SignatureAlgorithm}
}
