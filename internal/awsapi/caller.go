package awsapi

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
)

// Caller describes an authenticated request: who made it, where to and how.
// The authentication middleware fills it in once per request; it is not
// modified afterwards and is safe to read from several goroutines.
type Caller struct {
	// Principal is the verified caller. Handlers may assume it is non-nil
	// for requests that reached them through the routers.
	Principal *auth.Principal
	// Region is the region of the request's SigV4 credential scope.
	Region string
	// Service is the SigV4 signing name (cloudtrail, cloudtrail-data, ...).
	Service   string
	SourceIP  string
	UserAgent string
	// RequestID is sent back in x-amzn-RequestId and recorded as the
	// self-audit record's requestID. Empty means the router makes one up.
	RequestID string
	// Time is recorded as the self-audit record's eventTime. Zero means the
	// time the call completed.
	Time time.Time
	// TLS describes the connection when the request arrived over TLS; nil
	// on plain HTTP, and then records carry no tlsDetails.
	TLS *TLSDetails
	// MFA says that the caller authenticated with a second factor (a
	// console user who signed in with MFA): aws:MultiFactorAuthPresent.
	MFA bool
}

// TLSDetails is a record's tlsDetails object.
type TLSDetails struct {
	TLSVersion               string `json:"tlsVersion,omitempty"`
	CipherSuite              string `json:"cipherSuite,omitempty"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader,omitempty"`
}

type callerKey struct{}

// WithCaller returns a copy of ctx that carries c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the Caller stored in ctx, or nil if there is none.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// ErrNoCaller is what [Authenticated] returns for a context without an
// authenticated caller: an internal error, since the server puts a Caller
// with a Principal into every request context it routes.
var ErrNoCaller = errors.New("no authenticated caller in request context")

// Authenticated returns the Caller stored in ctx and its Principal, or
// ErrNoCaller when either is missing. Operations call it first.
func Authenticated(ctx context.Context) (*Caller, *auth.Principal, error) {
	c := CallerFrom(ctx)
	if c == nil || c.Principal == nil {
		return nil, nil, ErrNoCaller
	}
	return c, c.Principal, nil
}

// TLSDetailsFrom describes the TLS connection req arrived on, in the form
// CloudTrail records it, or returns nil for a plain HTTP request.
func TLSDetailsFrom(req *http.Request) *TLSDetails {
	if req.TLS == nil {
		return nil
	}
	return &TLSDetails{
		TLSVersion:               tlsVersionName(req.TLS.Version),
		CipherSuite:              cipherSuiteName(req.TLS.CipherSuite),
		ClientProvidedHostHeader: req.Host,
	}
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return ""
}

// opensslNames maps the IANA names Go uses to the OpenSSL names CloudTrail
// writes for TLS 1.2 suites. TLS 1.3 suites have one name in both worlds.
var opensslNames = map[uint16]string{
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "ECDHE-RSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "ECDHE-ECDSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            "ECDHE-RSA-AES128-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            "ECDHE-RSA-AES256-SHA",
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256:               "AES128-GCM-SHA256",
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384:               "AES256-GCM-SHA384",
}

func cipherSuiteName(id uint16) string {
	if n, ok := opensslNames[id]; ok {
		return n
	}
	return tls.CipherSuiteName(id)
}
