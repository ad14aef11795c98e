package objstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned (wrapped) by bucket registries.
var (
	ErrNoSuchBucket      = errors.New("bucket does not exist")
	ErrAccessDenied      = errors.New("access denied")
	ErrBucketExists      = errors.New("bucket already exists")
	ErrBucketNotEmpty    = errors.New("bucket is not empty")
	ErrNoSuchPolicy      = errors.New("bucket has no policy")
	ErrInvalidBucketName = errors.New("invalid bucket name")
	ErrMalformedPolicy   = errors.New("malformed bucket policy")
)

// Buckets resolves bucket names to buckets. Implementations are safe for
// concurrent use.
type Buckets interface {
	// Bucket returns the bucket called name. The error wraps
	// ErrNoSuchBucket when the bucket does not exist and ErrAccessDenied
	// when the store refuses to say; any other failure (an unreachable
	// endpoint, say) is returned wrapped as it is.
	Bucket(ctx context.Context, name string) (Bucket, error)
}

// BucketInfo describes a bucket of a registry that keeps its own bucket
// list, such as [FSBuckets].
type BucketInfo struct {
	Name    string
	Owner   string // 12-digit id of the owning account
	Region  string // the bucket's region, as GetBucketLocation reports it
	Created time.Time
}

// BucketExistsError is the error CreateBucket returns when the name is
// taken. It wraps ErrBucketExists; OwnedByCaller tells S3's
// BucketAlreadyOwnedByYou from BucketAlreadyExists without revealing who
// owns the bucket.
type BucketExistsError struct {
	Name          string
	OwnedByCaller bool // the bucket belongs to the account that asked to create it
}

func (e *BucketExistsError) Error() string {
	if e.OwnedByCaller {
		return fmt.Sprintf("create bucket %s: %v and is owned by the caller", e.Name, ErrBucketExists)
	}
	return fmt.Sprintf("create bucket %s: %v and is owned by another account", e.Name, ErrBucketExists)
}

// Unwrap returns ErrBucketExists.
func (e *BucketExistsError) Unwrap() error { return ErrBucketExists }

// ValidateBucketName reports whether name follows S3's rules for new
// general purpose buckets: 3 to 63 characters; lowercase letters, digits,
// '.' and '-' only; a letter or digit at both ends; no ".."; not shaped
// like an IPv4 address; none of the prefixes ("xn--", "sthree-",
// "amzn-s3-demo-") and suffixes ("-s3alias", "--ol-s3", ".mrap",
// "--x-s3", "--table-s3") S3 reserves. The error wraps
// ErrInvalidBucketName and says what is wrong.
func ValidateBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("validate bucket name %q: %s: %w", truncate(name), why, ErrInvalidBucketName)
	}
	if len(name) < 3 || len(name) > 63 {
		return bad(fmt.Sprintf("%d characters, want 3 to 63", len(name)))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad(fmt.Sprintf("character %q not allowed (only lowercase letters, digits, '.' and '-')", c))
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("must begin and end with a lowercase letter or digit")
	}
	if strings.Contains(name, "..") {
		return bad("two adjacent periods")
	}
	if looksLikeIPv4(name) {
		return bad("formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad(fmt.Sprintf("prefix %q is reserved", p))
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad(fmt.Sprintf("suffix %q is reserved", s))
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// looksLikeIPv4 reports whether name is four dot-separated groups of one
// to three digits.
func looksLikeIPv4(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if len(p) == 0 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// MaxPolicySize is the largest bucket policy, in bytes, that S3 accepts.
const MaxPolicySize = 20 << 10

// checkPolicy does the minimal validation every stored bucket policy
// passes: at most MaxPolicySize bytes, one JSON object, with a Statement
// that is an object or a non-empty array of objects. Deeper checks
// (effects, principals, actions, resources) belong to the caller that
// evaluates the policy. The error wraps ErrMalformedPolicy.
func checkPolicy(policy []byte) error {
	bad := func(why string) error { return fmt.Errorf("%s: %w", why, ErrMalformedPolicy) }
	if len(policy) > MaxPolicySize {
		return bad(fmt.Sprintf("policy is %d bytes, larger than %d", len(policy), MaxPolicySize))
	}
	trimmed := bytes.TrimSpace(policy)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return bad("policy must be a JSON object")
	}
	if !json.Valid(trimmed) {
		return bad("policy is not valid JSON")
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &doc); err != nil {
		return bad("policy must be a JSON object")
	}
	st, ok := doc["Statement"]
	if !ok {
		return bad("missing required field Statement")
	}
	var one map[string]json.RawMessage
	if json.Unmarshal(st, &one) == nil {
		return nil
	}
	var many []map[string]json.RawMessage
	if err := json.Unmarshal(st, &many); err != nil {
		return bad("Statement must be an object or an array of objects")
	}
	if len(many) == 0 {
		return bad("Statement is empty")
	}
	for i, s := range many {
		if s == nil {
			return bad(fmt.Sprintf("statement %d is not an object", i+1))
		}
	}
	return nil
}
