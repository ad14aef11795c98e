// Package sigv4 verifies AWS Signature Version 4 requests as AWS services
// do, so that unmodified AWS clients (aws-sdk-go-v2, botocore and the AWS
// CLI, curl --aws-sigv4) can call opentrail.
//
// Verification is split in two steps because the server routes a request by
// the service named in its credential scope before it knows how to answer:
//
//  1. [Parse] reads what the request claims — the Authorization header or the
//     presigned X-Amz-* query parameters — without checking anything that
//     needs a secret. Its result names the access key, the credential scope
//     (date, region, service), the signed headers and the request time.
//  2. [Verifier.Verify] (or [Verifier.VerifyPayload]) looks the access key up,
//     checks the request time against the clock, the scope's region and that
//     every x-amz-* header is signed, rebuilds the canonical request from the
//     received request and body, and compares signatures in constant time.
//     For aws-chunked bodies it also verifies every chunk signature and the
//     trailing checksum, and returns the decoded payload.
//
// A server that must not spend memory or wait on requests that cannot be
// authentic splits step 2: [Verifier.Begin] does everything that needs no
// body — and verifies the signature itself when the payload hash is
// declared in X-Amz-Content-Sha256 — and [Pending.Finish] the rest.
//
// Every failure is an [*Error] whose [Kind] maps to the AWS error code of the
// calling service ([Error.Code]) and to an HTTP status ([Error.Status]). Error
// messages are safe to return to clients: they never contain a secret, a
// derived key or the signature the server expected.
//
// The canonical request is built here rather than by re-signing with the SDK
// signer: a server must reproduce exactly what each client signed, and the
// SDK signer drops headers it never signs itself (User-Agent, Expect, ...),
// derives Content-Length from the body, and hoists X-Amz-* headers into the
// query when presigning. Tests sign requests with the real aws-sdk-go-v2
// signer and clients, and replay requests captured from botocore and curl.
//
// The package is pure: it does no I/O and keeps no global state. It may be
// imported by any package of opentrail.
package sigv4

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// Special values of the X-Amz-Content-Sha256 header: the payload hash of a
// request whose body is not signed as a whole.
const (
	// UnsignedPayload marks a body that is not covered by the signature.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// StreamingPayload marks an aws-chunked body whose chunks are each signed.
	StreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingPayloadTrailer is StreamingPayload followed by signed trailers.
	StreamingPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// StreamingUnsignedTrailer marks an aws-chunked body without chunk
	// signatures, followed by a trailing checksum.
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// MaxPresignExpires is the longest validity a presigned URL may ask for.
const MaxPresignExpires = 7 * 24 * time.Hour

// TimeFormat is the layout of X-Amz-Date (ISO 8601 basic format, UTC).
const TimeFormat = "20060102T150405Z"

// Limits that keep parsing bounded whatever the client sends.
const (
	maxAuthorizationLen = 8 << 10
	maxSignedHeaders    = 128
	maxScopePartLen     = 128
)

// Credentials returns the secret access key for an access key id; ok is
// false if the key is unknown. It is called once per verified request and
// must be safe for concurrent use.
type Credentials func(accessKeyID string) (secret string, ok bool)

// Auth is what a request claims about its signature, as read by [Parse].
// Nothing in it is verified until [Verifier.Verify] succeeds.
type Auth struct {
	// AccessKeyID is the access key of the credential scope.
	AccessKeyID string
	// Date is the credential scope date, yyyymmdd.
	Date string
	// Region and Service are the credential scope region and service
	// (signing name), for example "us-east-1" and "cloudtrail".
	Region, Service string
	// SignedHeaders are the names of the signed headers, as the client
	// listed them (lower case, sorted, for every known client).
	SignedHeaders []string
	// Signature is the claimed signature, lowercase hex for every known client.
	Signature string
	// Time is the request time: X-Amz-Date (header or presigned query), or
	// the Date header when X-Amz-Date is absent. It is UTC.
	Time time.Time
	// Presigned is true for the query-string form.
	Presigned bool
	// Expires is X-Amz-Expires of a presigned request; zero otherwise.
	Expires time.Duration
	// SessionToken is X-Amz-Security-Token (header or query) if sent. It is
	// part of what is signed when the client signed it, but this package does
	// not judge it: callers that issue no session tokens should refuse it.
	SessionToken string
	// ContentSHA256 is the X-Amz-Content-Sha256 header, "" if absent.
	ContentSHA256 string
	// DecodedLength is X-Amz-Decoded-Content-Length, or -1 if absent or not
	// a non-negative integer. aws-chunked bodies must declare it.
	DecodedLength int64
	// Trailer is the X-Amz-Trailer header: the trailing header (a checksum)
	// an aws-chunked body carries after its last chunk.
	Trailer string

	// timestamp is Time in TimeFormat, as it appears in the string to sign.
	timestamp string
	// signedHeaderList is SignedHeaders joined by ";" as the client sent it.
	signedHeaderList string
}

// Scope returns the credential scope, "yyyymmdd/region/service/aws4_request".
func (a *Auth) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

// Parse reads the signature claim of r without verifying it: the
// Authorization header form, or the presigned query form (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
// X-Amz-Signature). It needs no secret and does bounded work whatever the
// request holds. Errors are [*Error] of kind [KindMissingAuthentication]
// (neither form present) or [KindIncompleteSignature] (malformed or
// incomplete claim, unsupported algorithm, missing request time, host not
// signed).
func Parse(r *http.Request) (*Auth, error) {
	headers := r.Header["Authorization"]
	presigned := hasPresignParams(r.URL.RawQuery)
	switch {
	case len(headers) > 0 && presigned:
		return nil, incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.")
	case presigned:
		return parsePresigned(r)
	case len(headers) == 0:
		return nil, &Error{Kind: KindMissingAuthentication, Message: "Missing Authentication Token"}
	case len(headers) > 1:
		return nil, incomplete("Only one Authorization header may be sent.")
	}
	a, err := parseAuthorization(headers[0])
	if err != nil {
		return nil, err
	}
	if err := a.setTime(r); err != nil {
		return nil, err
	}
	a.SessionToken = r.Header.Get("X-Amz-Security-Token")
	a.readPayloadHeaders(r)
	return a, nil
}

// hasPresignParams reports whether raw carries any of the presigned-URL
// authentication parameters.
func hasPresignParams(raw string) bool {
	if !strings.Contains(raw, "X-Amz-") {
		return false
	}
	for _, p := range [...]string{"X-Amz-Algorithm=", "X-Amz-Credential=", "X-Amz-Signature="} {
		if strings.HasPrefix(raw, p) || strings.Contains(raw, "&"+p) {
			return true
		}
	}
	return false
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
func parseAuthorization(h string) (*Auth, error) {
	if len(h) > maxAuthorizationLen {
		return nil, incomplete("Authorization header is too long.")
	}
	algo, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if algo != Algorithm {
		return nil, unsupportedAlgorithm(algo)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, incomplete("Authorization header parameter " + quoteClip(part) + " is not of the form name=value.")
		}
		var dup bool
		switch name {
		case "Credential":
			dup, haveCred, cred = haveCred, true, value
		case "SignedHeaders":
			dup, haveSigned, signed = haveSigned, true, value
		case "Signature":
			dup, haveSig, sig = haveSig, true, value
		default:
			return nil, incomplete("Authorization header has an unknown parameter " + quoteClip(name) + ".")
		}
		if dup {
			return nil, incomplete("Authorization header repeats the '" + name + "' parameter.")
		}
	}
	var missing []string
	if !haveCred {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !haveSig {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !haveSigned {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if len(missing) > 0 {
		return nil, incomplete(strings.Join(missing, " "))
	}
	a := &Auth{Signature: sig, DecodedLength: -1}
	if err := a.setCredential(cred); err != nil {
		return nil, err
	}
	if err := a.setSignedHeaders(signed); err != nil {
		return nil, err
	}
	return a, nil
}

// parsePresigned parses the presigned query form.
func parsePresigned(r *http.Request) (*Auth, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, incomplete("The query string is not validly encoded.")
	}
	get := func(name string) (string, bool, error) {
		v, ok := q[name]
		if len(v) > 1 {
			return "", false, incomplete("Query parameter " + name + " is repeated.")
		}
		if !ok {
			return "", false, nil
		}
		return v[0], true, nil
	}
	var vals [6]string
	names := [6]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"}
	for i, name := range names {
		v, ok, err := get(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, incomplete("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
		vals[i] = v
	}
	if vals[0] != Algorithm {
		return nil, unsupportedAlgorithm(vals[0])
	}
	a := &Auth{Signature: vals[2], Presigned: true, DecodedLength: -1}
	if err := a.setCredential(vals[1]); err != nil {
		return nil, err
	}
	if err := a.setSignedHeaders(vals[4]); err != nil {
		return nil, err
	}
	t, err := time.Parse(TimeFormat, vals[3])
	if err != nil {
		return nil, incomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".")
	}
	if err := a.setTimeValue(t, vals[3]); err != nil {
		return nil, err
	}
	secs, err := strconv.ParseInt(vals[5], 10, 64)
	switch {
	case err != nil && len(vals[5]) > 0 && strings.Trim(vals[5], "0123456789") == "":
		// All digits but too large for int64.
		return nil, incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800.")
	case err != nil:
		return nil, incomplete("X-Amz-Expires should be a number.")
	case secs < 0:
		return nil, incomplete("X-Amz-Expires must be non-negative.")
	case secs > int64(MaxPresignExpires/time.Second):
		return nil, incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800.")
	}
	a.Expires = time.Duration(secs) * time.Second
	if tok, ok, err := get("X-Amz-Security-Token"); err != nil {
		return nil, err
	} else if ok {
		a.SessionToken = tok
	}
	if a.SessionToken == "" {
		a.SessionToken = r.Header.Get("X-Amz-Security-Token")
	}
	a.readPayloadHeaders(r)
	return a, nil
}

// setCredential parses "AKID/yyyymmdd/region/service/aws4_request".
func (a *Auth) setCredential(c string) error {
	parts := strings.Split(c, "/")
	if len(parts) != 5 {
		return incomplete("Credential " + quoteClip(c) + " must be of the form <access key id>/<yyyymmdd>/<region>/<service>/aws4_request.")
	}
	akid, date, region, service, term := parts[0], parts[1], parts[2], parts[3], parts[4]
	if !validScopePart(akid, false) {
		return incomplete("Credential must name a valid access key id.")
	}
	if len(date) != 8 || strings.Trim(date, "0123456789") != "" {
		return incomplete("Credential date " + quoteClip(date) + " must be of the form yyyymmdd.")
	}
	if _, err := time.Parse("20060102", date); err != nil {
		return incomplete("Credential date " + quoteClip(date) + " is not a valid date.")
	}
	if !validScopePart(region, true) {
		return incomplete("Credential should be scoped to a valid region, not " + quoteClip(region) + ".")
	}
	if !validScopePart(service, true) {
		return incomplete("Credential should be scoped to correct service, not " + quoteClip(service) + ".")
	}
	if term != "aws4_request" {
		return incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not " + quoteClip(term) + ".")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = akid, date, region, service
	return nil
}

// validScopePart reports whether s is a plausible access key id, or (lower)
// a lower-case region or service name.
func validScopePart(s string, lower bool) bool {
	if s == "" || len(s) > maxScopePartLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case !lower && (c >= 'A' && c <= 'Z' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// setSignedHeaders parses "host;x-amz-date;...". host must be among them.
func (a *Auth) setSignedHeaders(s string) error {
	if s == "" {
		return incomplete("SignedHeaders must not be empty.")
	}
	n := strings.Count(s, ";") + 1
	if n > maxSignedHeaders {
		return incomplete("SignedHeaders lists more than " + strconv.Itoa(maxSignedHeaders) + " headers.")
	}
	names := make([]string, 0, n)
	host := false
	for name := range strings.SplitSeq(s, ";") {
		if !validHeaderName(name) {
			return incomplete("SignedHeaders has an invalid header name " + quoteClip(name) + ".")
		}
		if strings.EqualFold(name, "host") {
			host = true
		}
		names = append(names, name)
	}
	if !host {
		return incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	a.SignedHeaders, a.signedHeaderList = names, s
	return nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110).
func validHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// setTime sets the request time of the header form from X-Amz-Date, or from
// Date when X-Amz-Date is absent.
func (a *Auth) setTime(r *http.Request) error {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(TimeFormat, strings.TrimSpace(v))
		if err != nil {
			return incomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".")
		}
		return a.setTimeValue(t, strings.TrimSpace(v))
	}
	if v := r.Header.Get("Date"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return incomplete("Date header " + quoteClip(v) + " is not a valid HTTP date.")
		}
		t = t.UTC()
		return a.setTimeValue(t, t.Format(TimeFormat))
	}
	return incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// setTimeValue records the request time and checks it against the scope date.
func (a *Auth) setTimeValue(t time.Time, stamp string) error {
	if day := stamp[:8]; day != a.Date {
		return incomplete("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			a.Date + "' != '" + day + "', from '" + stamp + "'.")
	}
	a.Time, a.timestamp = t.UTC(), stamp
	return nil
}

// readPayloadHeaders records the headers that describe the payload.
func (a *Auth) readPayloadHeaders(r *http.Request) {
	a.ContentSHA256 = strings.TrimSpace(r.Header.Get("X-Amz-Content-Sha256"))
	a.Trailer = strings.TrimSpace(r.Header.Get("X-Amz-Trailer"))
	a.DecodedLength = -1
	if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
			a.DecodedLength = n
		}
	}
}

// quoteClip quotes client-supplied text for an error message, cut to a
// readable length and stripped of anything unprintable.
func quoteClip(s string) string {
	const max = 64
	clipped := len(s) > max
	if clipped {
		s = s[:max]
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '\'' {
			b.WriteByte('?')
			continue
		}
		b.WriteByte(c)
	}
	if clipped {
		b.WriteString("...")
	}
	b.WriteByte('\'')
	return b.String()
}
