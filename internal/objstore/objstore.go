// Package objstore stores trail log and digest files in an object store:
// a directory tree on the local filesystem (the embedded default), memory
// (for tests), or any S3-compatible service. [S3Reader] is opentrail's one
// path for reading S3 objects, its own buckets' and others' (import,
// validate-logs). Where in a bucket CloudTrail's files go is package
// layout's, not this one's.
//
// # Contract
//
// A [Bucket] holds objects named by keys. Every implementation behaves the
// same way, and the conformance suite in package objstoretest checks it:
//
//   - Keys are non-empty UTF-8 strings of at most 1024 bytes with no leading
//     "/", no empty segment ("a//b", trailing "/"), no "." or ".." segment and
//     no NUL byte. Any other key is refused with an error wrapping
//     [ErrInvalidKey] before any I/O. The filesystem implementation further
//     refuses a key with a segment longer than its file-name limit allows.
//   - Put stores an object, replacing any object with the same key.
//   - PutIfAbsent stores an object only if the key is free. If the key holds
//     identical bytes it returns nil, so that a replay after a crash
//     succeeds; if it holds different bytes it returns an error wrapping
//     [ErrExists] and leaves the object unchanged. When several writers race
//     on one key exactly one content wins; every writer of that content sees
//     nil and every other writer sees ErrExists. Metadata does not take part
//     in the comparison.
//   - Get and Head return an error wrapping [ErrNotFound] for a missing key.
//   - List returns the objects whose keys start with prefix and sort after
//     startAfter, in ascending byte order of their keys, at most limit of
//     them (limit <= 0 means [DefaultListLimit]), and reports whether more
//     such objects exist. List fills Key, Size, ETag and Modified; it leaves
//     Meta nil, as S3's ListObjects does.
//   - Info.ETag is the lower-case hex MD5 of the object's bytes, without the
//     double quotes S3 puts around it on the wire.
//   - User metadata keys are stored lower-case, without the "x-amz-meta-"
//     prefix; they must be non-empty and made of ASCII letters, digits and
//     '-'. Values must be printable ASCII without leading or trailing spaces.
//     A nil or empty map stores no metadata; Get and Head then return a nil
//     Meta.
//
// Delivered logs are write-once, so there is no Delete.
package objstore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"maps"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors returned (wrapped) by every Bucket implementation.
var (
	ErrNotFound    = errors.New("object not found")
	ErrExists      = errors.New("object exists with different content")
	ErrInvalidKey  = errors.New("invalid object key")
	ErrInvalidMeta = errors.New("invalid object metadata")
)

// MaxKeyLen is the longest key, in bytes, that any Bucket accepts.
const MaxKeyLen = 1024

// DefaultListLimit is the number of objects List returns when called with
// a limit of zero or less; it matches S3's page size.
const DefaultListLimit = 1000

// Bucket is one bucket of an object store. Implementations are safe for
// concurrent use. See the package documentation for the contract.
type Bucket interface {
	// Put stores data under key, replacing any existing object.
	Put(ctx context.Context, key string, data []byte, meta map[string]string) error
	// PutIfAbsent stores data under key unless the key exists. Identical
	// existing bytes give nil; different bytes give ErrExists.
	PutIfAbsent(ctx context.Context, key string, data []byte, meta map[string]string) error
	// Get returns the object's bytes and description, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, *Info, error)
	// Head returns the object's description, or ErrNotFound.
	Head(ctx context.Context, key string) (*Info, error)
	// List returns up to limit objects whose keys start with prefix and
	// sort after startAfter, in key order, and whether more exist.
	List(ctx context.Context, prefix, startAfter string, limit int) ([]Info, bool, error)
}

// Info describes one object.
type Info struct {
	Key      string
	Size     int64
	ETag     string            // lower-case hex MD5 of the bytes, unquoted
	Modified time.Time         // time of the last write
	Meta     map[string]string // user metadata; lower-case keys without "x-amz-meta-"
}

// ValidateKey reports whether key is acceptable to every Bucket. The error
// wraps ErrInvalidKey and says what is wrong.
func ValidateKey(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("validate key %q: %s: %w", truncate(key), why, ErrInvalidKey)
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > MaxKeyLen:
		return bad(fmt.Sprintf("%d bytes, longer than %d", len(key), MaxKeyLen))
	case !utf8.ValidString(key):
		return bad("not valid UTF-8")
	case strings.IndexByte(key, 0) >= 0:
		return bad("contains a NUL byte")
	case key[0] == '/':
		return bad("starts with /")
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return bad("empty path segment")
		case ".", "..":
			return bad(fmt.Sprintf("%q path segment", seg))
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// normalizeMeta validates meta and returns a copy with lower-case keys, or
// nil when meta is empty.
func normalizeMeta(meta map[string]string) (map[string]string, error) {
	if len(meta) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		if k == "" {
			return nil, fmt.Errorf("validate metadata: empty key: %w", ErrInvalidMeta)
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return nil, fmt.Errorf("validate metadata: key %q: character %q not allowed: %w", k, c, ErrInvalidMeta)
			}
		}
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return nil, fmt.Errorf("validate metadata: value of %q: byte %#x not printable ASCII: %w", k, v[i], ErrInvalidMeta)
			}
		}
		if strings.TrimSpace(v) != v {
			return nil, fmt.Errorf("validate metadata: value of %q has leading or trailing space: %w", k, ErrInvalidMeta)
		}
		lk := strings.ToLower(k)
		if _, dup := out[lk]; dup {
			return nil, fmt.Errorf("validate metadata: key %q given twice in different case: %w", lk, ErrInvalidMeta)
		}
		out[lk] = v
	}
	return out, nil
}

func cloneMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// ETag returns the entity tag every Bucket reports for data: the
// lower-case hex MD5 of the bytes.
func ETag(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// checkList validates List arguments and returns the effective limit.
func checkList(limit int) int {
	if limit <= 0 {
		return DefaultListLimit
	}
	return limit
}

// All pages through List and yields every object whose key starts with
// prefix, in key order. Iteration stops at the first error, which is
// yielded with a zero Info.
func All(ctx context.Context, b Bucket, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		after := ""
		for {
			infos, more, err := b.List(ctx, prefix, after, 0)
			if err != nil {
				yield(Info{}, err)
				return
			}
			for _, in := range infos {
				if !yield(in, nil) {
					return
				}
				after = in.Key
			}
			if !more || len(infos) == 0 {
				return
			}
		}
	}
}
