package digest

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Algorithm names as digests and object metadata spell them.
const (
	SignatureAlgorithm = "SHA256withRSA"
	HashAlgorithm      = "SHA-256"
	// MetaSignature and MetaSignatureAlgorithm are the user-metadata keys
	// (x-amz-meta-…) of a digest object.
	MetaSignature          = "signature"
	MetaSignatureAlgorithm = "signature-algorithm"
	// TimeLayout is how digests write times.
	TimeLayout = "2006-01-02T15:04:05Z"
)

// Digest is one digest file. Field order and names are CloudTrail's;
// pointer fields are JSON null when nil. Gap is opentrail's own: AWS
// clients ignore it.
type Digest struct {
	AWSAccountID                string    `json:"awsAccountId"`
	DigestStartTime             string    `json:"digestStartTime"`
	DigestEndTime               string    `json:"digestEndTime"`
	DigestS3Bucket              string    `json:"digestS3Bucket"`
	DigestS3Object              string    `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string    `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string    `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string   `json:"newestEventTime"`
	OldestEventTime             *string   `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string   `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string   `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string   `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string   `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string   `json:"previousDigestSignature"`
	LogFiles                    []LogFile `json:"logFiles"`
	Gap                         *Gap      `json:"opentrailGap,omitempty"`
}

// LogFile is one log file a digest lists.
type LogFile struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

// Gap records, in a digest that starts a new chain, why the chain broke
// and the interval no digest covers. The previous digest it follows is
// named so that a validator can tell an explained gap from a deleted
// digest.
type Gap struct {
	Start          string `json:"start"` // the previous chain's last digestEndTime
	End            string `json:"end"`   // this digest's digestStartTime
	Reason         string `json:"reason"`
	PreviousBucket string `json:"previousDigestS3Bucket,omitempty"`
	PreviousObject string `json:"previousDigestS3Object,omitempty"`
}

// Gap reasons.
const (
	GapLoggingStopped     = "logging was stopped"
	GapValidationDisabled = "log file validation was turned off"
	GapRestart            = "opentrail restarted without its delivery state"
)

// Marshal returns the digest's bytes as stored (before gzip): compact
// JSON, logFiles always an array.
func (d *Digest) Marshal() []byte {
	c := *d
	if c.LogFiles == nil {
		c.LogFiles = []LogFile{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		panic(fmt.Sprintf("encode digest: %v", err)) // only strings and slices of them
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Hash returns the lowercase hex SHA-256 of b: a log file's or a digest's
// uncompressed bytes.
func Hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// SigningString is what a digest's signature covers: its end time, its
// bucket/key, the hex SHA-256 of its uncompressed bytes and the previous
// digest's signature (or "null"), one per line, no trailing newline.
func SigningString(d *Digest, hashHex string) string {
	prev := "null"
	if d.PreviousDigestSignature != nil {
		prev = *d.PreviousDigestSignature
	}
	return d.DigestEndTime + "\n" + d.DigestS3Bucket + "/" + d.DigestS3Object + "\n" + hashHex + "\n" + prev
}

// Sign signs s with RSASSA-PKCS1-v1_5 over SHA-256 and returns the
// signature as lowercase hex. The signature is deterministic.
func Sign(key *rsa.PrivateKey, s string) (string, error) {
	h := sha256.Sum256([]byte(s))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
	if err != nil {
		return "", fmt.Errorf("sign digest: %w", err)
	}
	return hex.EncodeToString(sig), nil
}

// ErrBadSignature is returned by Verify for a signature that does not
// match.
var ErrBadSignature = errors.New("signature verification failed")

// Verify checks a hex signature of s.
func Verify(pub *rsa.PublicKey, s, sigHex string) error {
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrBadSignature)
	}
	h := sha256.Sum256([]byte(s))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
		return ErrBadSignature
	}
	return nil
}

// PublicKeyDER is the PKCS#1 RSAPublicKey DER of pub, as ListPublicKeys
// serves it.
func PublicKeyDER(pub *rsa.PublicKey) []byte { return x509.MarshalPKCS1PublicKey(pub) }

// ParsePublicKey reads a public key as ListPublicKeys serves it: PKCS#1
// DER, or X.509 SubjectPublicKeyInfo DER (which AWS has also served).
func ParsePublicKey(der []byte) (*rsa.PublicKey, error) {
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse public key: not PKCS#1 or X.509 DER: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parse public key: %T is not an RSA key", k)
	}
	return rk, nil
}

// Fingerprint is the lowercase hex MD5 of the DER bytes ListPublicKeys
// serves for a key.
func Fingerprint(der []byte) string {
	s := md5.Sum(der)
	return hex.EncodeToString(s[:])
}

// FormatTime writes t as digests do.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Str returns a pointer to s, for the digest's nullable fields.
func Str(s string) *string { return &s }
