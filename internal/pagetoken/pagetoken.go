package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// Pagination tokens are opaque to clients:
//
//	base64url( kind(1) | queryHash(16) | payload | mac(16) )
//
// kind separates the token families (a LookupEvents token is never a
// ListChannels token), queryHash binds the token to the parameters of the
// request that issued it, payload is the resume position, and mac is the
// first 16 bytes of HMAC-SHA256(key, everything before it).

const (
	tokenLookup   byte = 'L'
	tokenChannels byte = 'C'
	tokenNative   byte = 'N'

	hashLen = 16
	macLen  = 16
)

// tokenSigner issues and checks pagination tokens.
type tokenSigner struct{ key []byte }

func (t tokenSigner) mac(b []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(b)
	return m.Sum(nil)[:macLen]
}

func (t tokenSigner) issue(kind byte, query [hashLen]byte, payload []byte) string {
	b := make([]byte, 0, 1+hashLen+len(payload)+macLen)
	b = append(b, kind)
	b = append(b, query[:]...)
	b = append(b, payload...)
	b = append(b, t.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// open verifies tok and returns its payload. A token that is garbled, was
// altered, or belongs to another kind is reported as invalid; a genuine
// token issued for other parameters is reported as such.
func (t tokenSigner) open(kind byte, query [hashLen]byte, tok string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+hashLen+macLen {
		return nil, errTokenInvalid
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sum, t.mac(body)) || body[0] != kind {
		return nil, errTokenInvalid
	}
	if !hmac.Equal(body[1:1+hashLen], query[:]) {
		return nil, errTokenMismatch
	}
	return body[1+hashLen:], nil
}

var (
	errTokenInvalid  = awsapi.NewError("InvalidNextTokenException", "The NextToken is not valid.")
	errTokenMismatch = awsapi.NewError("InvalidNextTokenException",
		"The NextToken was issued for a request with different parameters; repeat the original parameters with it.")
)

// queryHasher builds a query hash from length-prefixed fields, so that
// ("ab","c") and ("a","bc") differ.
type queryHasher struct{ h hash.Hash }

func newQueryHasher() *queryHasher { return &queryHasher{h: sha256.New()} }

func (q *queryHasher) str(s string) *queryHasher {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	q.h.Write(n[:])
	q.h.Write([]byte(s))
	return q
}

func (q *queryHasher) int(v int64) *queryHasher {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(v))
	q.h.Write(n[:])
	return q
}

// time adds t; the zero time (no bound) differs from every other.
func (q *queryHasher) time(t time.Time) *queryHasher {
	if t.IsZero() {
		return q.str("")
	}
	return q.str("t").int(t.Unix()).int(int64(t.Nanosecond()))
}

func (q *queryHasher) sum() [hashLen]byte {
	var out [hashLen]byte
	copy(out[:], q.h.Sum(nil))
	return out
}
