// Package pagetoken issues and opens the pagination tokens (NextToken) of
// every opentrail API: LookupEvents, the trail, channel and Lake listings
// and the native GET /v1/events. A token is opaque to clients:
//
//	base64url( kind(1) | queryHash(16) | payload | mac(16) )
//
// kind separates the token families (a LookupEvents token is never a
// ListChannels token; every family's kind is declared here, so that two
// services cannot pick the same one), queryHash binds the token to the
// parameters of the request that issued it, payload is the resume
// position, and mac is the first 16 bytes of HMAC-SHA256(key, everything
// before it).
//
// The package is pure: no I/O, no state beyond the key. Any wire-service
// package may import it; it imports only awsapi (for the error the client
// sees).
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// Token families. Each listing has its own.
const (
	KindLookup            byte = 'L' // LookupEvents
	KindChannels          byte = 'C' // ListChannels
	KindNative            byte = 'N' // GET /v1/events
	KindTrails            byte = 'T' // ListTrails
	KindQueryResults      byte = 'Q' // GetQueryResults
	KindListQueries       byte = 'q' // ListQueries
	KindListImports       byte = 'I' // ListImports
	KindListImportFailure byte = 'F' // ListImportFailures

	// CloudWatch Logs (internal/logs).
	KindLogGroups           byte = 'g' // DescribeLogGroups
	KindLogStreams          byte = 'w' // DescribeLogStreams
	KindMetricFilters       byte = 'f' // DescribeMetricFilters
	KindSubscriptionFilters byte = 'u' // DescribeSubscriptionFilters
	KindFilterLogEvents     byte = 'e' // FilterLogEvents
	KindDescribeQueries     byte = 'd' // DescribeQueries

	// EventBridge (internal/events).
	KindEventRules        byte = 'r' // ListRules
	KindEventTargets      byte = 't' // ListTargetsByRule
	KindEventRuleByTarget byte = 'n' // ListRuleNamesByTarget

	// The web console (internal/console).
	KindConsoleHistory byte = 'H' // the event history's after token
)

const (
	// HashLen is the size of a query hash.
	HashLen = 16
	macLen  = 16
)

// MinKeyLen is the shortest key NewSigner accepts.
const MinKeyLen = 16

// Signer issues and checks pagination tokens. The zero value is not
// usable; make one with NewSigner.
type Signer struct{ key []byte }

// NewSigner returns a Signer with a copy of key (HMAC-SHA256). Tokens stay
// valid across restarts only if the key does.
func NewSigner(key []byte) Signer { return Signer{key: append([]byte(nil), key...)} }

func (t Signer) mac(b []byte) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(b)
	return m.Sum(nil)[:macLen]
}

// Issue returns the token of kind for a request with this query hash,
// resuming at payload.
func (t Signer) Issue(kind byte, query [HashLen]byte, payload []byte) string {
	b := make([]byte, 0, 1+HashLen+len(payload)+macLen)
	b = append(b, kind)
	b = append(b, query[:]...)
	b = append(b, payload...)
	b = append(b, t.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Open verifies tok and returns its payload. A token that is garbled, was
// altered, or belongs to another kind is reported as ErrInvalid; a genuine
// token issued for other parameters as ErrMismatch.
func (t Signer) Open(kind byte, query [HashLen]byte, tok string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+HashLen+macLen {
		return nil, ErrInvalid
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sum, t.mac(body)) || body[0] != kind {
		return nil, ErrInvalid
	}
	if !hmac.Equal(body[1:1+HashLen], query[:]) {
		return nil, ErrMismatch
	}
	return body[1+HashLen:], nil
}

// The errors Open returns, as the client sees them.
var (
	ErrInvalid  = awsapi.NewError("InvalidNextTokenException", "The NextToken is not valid.")
	ErrMismatch = awsapi.NewError("InvalidNextTokenException",
		"The NextToken was issued for a request with different parameters; repeat the original parameters with it.")
)

// Hasher builds a query hash from length-prefixed fields, so that
// ("ab","c") and ("a","bc") differ.
type Hasher struct{ h hash.Hash }

// NewHasher returns an empty Hasher.
func NewHasher() *Hasher { return &Hasher{h: sha256.New()} }

// Str adds s.
func (q *Hasher) Str(s string) *Hasher {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	q.h.Write(n[:])
	q.h.Write([]byte(s))
	return q
}

// Int adds v.
func (q *Hasher) Int(v int64) *Hasher {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(v))
	q.h.Write(n[:])
	return q
}

// Time adds t; the zero time (no bound) differs from every other.
func (q *Hasher) Time(t time.Time) *Hasher {
	if t.IsZero() {
		return q.Str("")
	}
	return q.Str("t").Int(t.Unix()).Int(int64(t.Nanosecond()))
}

// Sum returns the query hash.
func (q *Hasher) Sum() [HashLen]byte {
	var out [HashLen]byte
	copy(out[:], q.h.Sum(nil))
	return out
}

// positionLen is the size of a position payload: Unix seconds (8 bytes),
// nanoseconds (4) and sequence number (8).
const positionLen = 20

// Position is the payload of a history token: resume after the event at
// (Time, Seq) in newest-first order.
func Position(t time.Time, seq int64) []byte {
	var b [positionLen]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[8:12], uint32(t.Nanosecond()))
	binary.BigEndian.PutUint64(b[12:20], uint64(seq))
	return b[:]
}

// ParsePosition reads a Position payload, or returns ErrInvalid.
func ParsePosition(b []byte) (time.Time, int64, error) {
	if len(b) != positionLen {
		return time.Time{}, 0, ErrInvalid
	}
	t := time.Unix(int64(binary.BigEndian.Uint64(b[0:8])), int64(binary.BigEndian.Uint32(b[8:12]))).UTC()
	return t, int64(binary.BigEndian.Uint64(b[12:20])), nil
}

// OpenPosition opens a history token (Open) and reads its Position
// payload: the event after which the listing resumes.
func (t Signer) OpenPosition(kind byte, query [HashLen]byte, tok string) (time.Time, int64, error) {
	b, err := t.Open(kind, query, tok)
	if err != nil {
		return time.Time{}, 0, err
	}
	return ParsePosition(b)
}
