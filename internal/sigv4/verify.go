package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxSkew is the clock skew allowed when Verifier.MaxSkew is zero.
const DefaultMaxSkew = 5 * time.Minute

// emptySHA256 is the hex SHA-256 of no bytes.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Verifier checks SigV4 signatures. Set Credentials before use; the other
// fields may stay zero. A Verifier is safe for concurrent use and must not
// be copied after first use (it caches derived signing keys).
type Verifier struct {
	// Credentials resolves access keys. A nil Credentials knows no key.
	Credentials Credentials
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the largest difference allowed between the request time
	// and Now for the header form, and how far in the future a presigned
	// request may be dated; zero means DefaultMaxSkew.
	MaxSkew time.Duration

	keys keyCache
}

// Verify checks the signature of r, whose claim a was read from r by [Parse]
// (a nil a is refused as missing authentication). body
// is the full request body, already read by the caller (who enforces size
// limits). The payload hash signed is X-Amz-Content-Sha256 when the header is
// present — a hex SHA-256 that body must then match, or for service "s3" one
// of UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] and
// STREAMING-UNSIGNED-PAYLOAD-TRAILER — and otherwise the SHA-256 of body
// (UNSIGNED-PAYLOAD for a presigned s3 request). For aws-chunked bodies every
// chunk signature and the trailing checksum are verified as well; use
// [Verifier.VerifyPayload] to also obtain the decoded payload.
//
// Errors are [*Error].
func (v *Verifier) Verify(r *http.Request, a *Auth, body []byte) error {
	_, err := v.VerifyPayload(r, a, body)
	return err
}

// VerifyPayload is [Verifier.Verify] returning the payload the request
// carries: body itself, or the decoded bytes of an aws-chunked body. It is
// [Verifier.Begin] followed by [Pending.Finish].
func (v *Verifier) VerifyPayload(r *http.Request, a *Auth, body []byte) ([]byte, error) {
	p, err := v.Begin(r, a)
	if err != nil {
		return nil, err
	}
	return p.Finish(body)
}

// Pending is a request whose claim passed every check that needs no body;
// [Verifier.Begin] returns it and [Pending.Finish] completes it. It is used
// by one goroutine.
type Pending struct {
	r     *http.Request
	a     *Auth
	key   [32]byte
	mode  int
	hash  string // the payload hash signed, unless mode is payloadFromBody
	valid bool   // the signature has been verified already
}

// Begin checks everything about r that can be checked before its body is
// read, so that a server reserves no memory and waits for no bytes on
// behalf of a request that cannot be authentic: the access key is known,
// the request time is within the allowed skew (or a presigned URL within
// its validity), the credential scope names a valid region, and every
// x-amz-* header is signed. When the payload hash is declared in
// X-Amz-Content-Sha256 (or the payload is unsigned or aws-chunked, which
// only s3 accepts), the signature is verified too, and
// [Pending.Authenticated] reports true; otherwise the signature covers the
// hash of a body not read yet and is verified by [Pending.Finish].
//
// Errors are [*Error].
func (v *Verifier) Begin(r *http.Request, a *Auth) (*Pending, error) {
	if a == nil {
		return nil, &Error{Kind: KindMissingAuthentication, Message: "Missing Authentication Token"}
	}
	var secret string
	ok := false
	if v.Credentials != nil {
		secret, ok = v.Credentials(a.AccessKeyID)
	}
	if !ok {
		return nil, unknownKey(a.Service)
	}
	if err := v.checkTime(a); err != nil {
		return nil, err
	}
	if err := checkRegion(a); err != nil {
		return nil, err
	}
	if err := checkSignedHeaders(r, a); err != nil {
		return nil, err
	}
	hash, mode, err := payloadHashOf(a)
	if err != nil {
		return nil, err
	}
	p := &Pending{r: r, a: a, key: v.keys.signingKey(secret, a), mode: mode, hash: hash}
	if mode != payloadFromBody {
		if !signatureMatches(r, a, &p.key, hash) {
			return nil, mismatch(a.Service)
		}
		p.valid = true
	}
	return p, nil
}

// Authenticated reports whether the signature has been verified already,
// before the body: the request comes from the holder of the access key, and
// only the body remains to be checked against what was signed.
func (p *Pending) Authenticated() bool { return p.valid }

// Finish verifies body, the full request body, against the claim and
// returns the payload the request carries: body itself, or the decoded
// bytes of an aws-chunked body. Errors are [*Error].
func (p *Pending) Finish(body []byte) ([]byte, error) {
	switch p.mode {
	case payloadFromBody:
		sum := sha256.Sum256(body)
		if !signatureMatches(p.r, p.a, &p.key, hex.EncodeToString(sum[:])) {
			return nil, mismatch(p.a.Service)
		}
	case payloadDeclared:
		sum := sha256.Sum256(body)
		var got [64]byte
		hex.Encode(got[:], sum[:])
		if !strings.EqualFold(string(got[:]), p.a.ContentSHA256) {
			return nil, &Error{Kind: KindContentSHA256Mismatch, Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
		}
	case payloadChunked:
		return decodeChunked(body, p.a, &p.key)
	}
	return body, nil
}

// payload modes: how the payload hash relates to the body.
const (
	payloadFromBody = iota // the hash of the body, computed once it is read
	payloadUnsigned        // UNSIGNED-PAYLOAD: the body is not signed
	payloadDeclared        // hex hash declared by the client, body must match
	payloadChunked         // aws-chunked body, decoded and checked after the seed
)

// payloadHashOf returns the payload hash of the canonical request, "" for
// payloadFromBody.
func payloadHashOf(a *Auth) (string, int, error) {
	h := a.ContentSHA256
	switch {
	case h == "":
		if a.Presigned && isS3(a.Service) {
			return UnsignedPayload, payloadUnsigned, nil
		}
		return "", payloadFromBody, nil
	case len(h) == 64 && isHex(h):
		return h, payloadDeclared, nil
	case h == UnsignedPayload, h == StreamingPayload, h == StreamingPayloadTrailer, h == StreamingUnsignedTrailer:
		if !isS3(a.Service) {
			return "", 0, incomplete("X-Amz-Content-Sha256 " + h + " is accepted only by s3; sign the payload.")
		}
		if h == UnsignedPayload {
			return h, payloadUnsigned, nil
		}
		return h, payloadChunked, nil
	default:
		return "", 0, incomplete("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid sha256 value.")
	}
}

// checkSignedHeaders refuses a request carrying an x-amz-* header its
// signature does not cover, as S3 does: such a header changes what the
// request asks for (X-Amz-Target names the operation, x-amz-copy-source
// the object copied, X-Amz-Security-Token the session), so a captured
// request could otherwise be replayed as another. X-Amz-Content-Sha256 is
// exempt, as on S3: its value is the payload hash line of the canonical
// request, so it is signed whether listed or not.
func checkSignedHeaders(r *http.Request, a *Auth) error {
	var missing []string
	for name := range r.Header {
		if len(name) < 6 || !strings.EqualFold(name[:6], "x-amz-") {
			continue
		}
		lower := strings.ToLower(name)
		if lower == "x-amz-content-sha256" || slices.ContainsFunc(a.SignedHeaders, func(s string) bool { return strings.EqualFold(s, lower) }) {
			continue
		}
		missing = append(missing, lower)
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	list := strings.Join(missing, ", ")
	if len(list) > 512 {
		list = list[:512] + "..."
	}
	msg := "There were headers present in the request which were not signed"
	if !isS3(a.Service) {
		msg += ": " + list + ". Sign every x-amz-* header the request carries."
	}
	return &Error{Kind: KindHeadersNotSigned, Message: msg, HeadersNotSigned: list}
}

// ValidRegion reports whether s has the form of an AWS region name: a
// two-to-four-letter area, one or more words and a number, as in
// us-east-1, us-gov-west-1, cn-north-1 or eusc-de-east-1.
func ValidRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(s) > 32 || len(parts) < 3 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		last := i == len(parts)-1
		for j := 0; j < len(p); j++ {
			c := p[j]
			if last && !(c >= '0' && c <= '9') || !last && !(c >= 'a' && c <= 'z') {
				return false
			}
		}
		if i == 0 && len(p) > 4 || last && len(p) > 2 {
			return false
		}
	}
	return len(parts[0]) >= 2
}

// checkRegion refuses a credential scope whose region is not an AWS
// region name, in AWS's words.
func checkRegion(a *Auth) error {
	if ValidRegion(a.Region) {
		return nil
	}
	if isS3(a.Service) {
		return &Error{Kind: KindInvalidScope, Message: "The authorization header is malformed; the region " + quoteClip(a.Region) +
			" is wrong; sign for an AWS region such as 'us-east-1'."}
	}
	return &Error{Kind: KindInvalidScope, Message: "Credential should be scoped to a valid region, not " + quoteClip(a.Region) + ". "}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// checkTime rejects requests dated too far from now, and presigned requests
// outside their validity.
func (v *Verifier) checkTime(a *Auth) error {
	now := v.now().UTC()
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	stamp := a.stamp()
	if a.Presigned {
		switch {
		case a.Time.Sub(now) > skew:
			return &Error{Kind: KindExpired, Message: "Request is not valid yet: it is dated " + stamp + ", and the time is now " + now.Format(TimeFormat) + "."}
		case now.After(a.Time.Add(a.Expires)):
			return &Error{Kind: KindExpired, Message: "Request has expired: it was valid until " + a.Time.Add(a.Expires).Format(TimeFormat) + "."}
		}
		return nil
	}
	var msg string
	switch {
	case now.Sub(a.Time) > skew:
		msg = fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s)",
			stamp, now.Add(-skew).Format(TimeFormat), now.Format(TimeFormat), skewText(skew))
	case a.Time.Sub(now) > skew:
		msg = fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s)",
			stamp, now.Add(skew).Format(TimeFormat), now.Format(TimeFormat), skewText(skew))
	default:
		return nil
	}
	if isS3(a.Service) {
		msg = "The difference between the request time and the current time is too large. " + msg
	}
	return &Error{Kind: KindTimeSkew, Message: msg}
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min."
	}
	return d.String()
}

func unknownKey(service string) *Error {
	msg := "The security token included in the request is invalid."
	if isS3(service) {
		msg = "The AWS Access Key Id you provided does not exist in our records."
	}
	return &Error{Kind: KindUnknownAccessKey, Message: msg}
}

func mismatch(service string) *Error {
	msg := "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	if isS3(service) {
		msg = "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return &Error{Kind: KindSignatureMismatch, Message: msg}
}

// stamp returns the request time as it appears in the string to sign.
func (a *Auth) stamp() string {
	if a.timestamp != "" {
		return a.timestamp
	}
	return a.Time.UTC().Format(TimeFormat)
}

// bufPool holds scratch buffers for canonical requests.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledBuf keeps buffers grown by unusual requests out of the pool.
const maxPooledBuf = 64 << 10

// signatureMatches rebuilds the canonical request of r and compares its
// signature with the claimed one in constant time. A request whose path or
// query has more than one reading that clients are known to sign (see
// canonicalURIs, canonicalQueries) matches if any reading does.
func signatureMatches(r *http.Request, a *Auth, key *[32]byte, payloadHash string) bool {
	var want [32]byte
	if len(a.Signature) != 64 {
		return false
	}
	if _, err := hex.Decode(want[:], []byte(a.Signature)); err != nil {
		return false
	}
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= maxPooledBuf {
			*bp = buf[:0]
			bufPool.Put(bp)
		}
	}()

	signedList := a.signedHeaderList
	if signedList == "" {
		signedList = strings.Join(a.SignedHeaders, ";")
	}
	// buf[:tailLen] holds the part of the canonical request after the query
	// line — headers, signed header list, payload hash — and each reading's
	// canonical request is assembled after it.
	buf = appendCanonicalHeaders(buf, r, a.SignedHeaders)
	buf = append(buf, '\n')
	buf = append(buf, signedList...)
	buf = append(buf, '\n')
	buf = append(buf, payloadHash...)
	tailLen := len(buf)

	mac := hmac.New(sha256.New, key[:])
	prefix := Algorithm + "\n" + a.stamp() + "\n" + a.Scope() + "\n"
	queries := canonicalQueries(r.URL.RawQuery, a.Presigned)
	for _, uri := range canonicalURIs(r, isS3(a.Service)) {
		for _, query := range queries {
			buf = buf[:tailLen]
			buf = append(buf, r.Method...)
			buf = append(buf, '\n')
			buf = append(buf, uri...)
			buf = append(buf, '\n')
			buf = append(buf, query...)
			buf = append(buf, '\n')
			buf = append(buf, buf[:tailLen]...)
			sum := sha256.Sum256(buf[tailLen:])

			var sumHex [64]byte
			hex.Encode(sumHex[:], sum[:])
			mac.Reset()
			mac.Write([]byte(prefix))
			mac.Write(sumHex[:])
			var got [32]byte
			if hmac.Equal(mac.Sum(got[:0]), want[:]) {
				return true
			}
		}
	}
	return false
}

// appendCanonicalHeaders appends "name:value\n" for every signed header in
// the order the client listed them, values trimmed, inner runs of spaces
// collapsed, repeated headers joined with ",".
func appendCanonicalHeaders(b []byte, r *http.Request, names []string) []byte {
	for _, name := range names {
		lower := strings.ToLower(name)
		b = append(b, lower...)
		b = append(b, ':')
		switch lower {
		case "host":
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			b = appendTrimmed(b, host)
		case "content-length":
			if vals := headerValues(r.Header, "Content-Length", lower); len(vals) > 0 {
				b = appendJoined(b, vals)
			} else if r.ContentLength >= 0 {
				b = strconv.AppendInt(b, r.ContentLength, 10)
			}
		case "transfer-encoding":
			if vals := headerValues(r.Header, "Transfer-Encoding", lower); len(vals) > 0 {
				b = appendJoined(b, vals)
			} else {
				b = appendJoined(b, r.TransferEncoding)
			}
		default:
			b = appendJoined(b, headerValues(r.Header, "", lower))
		}
		b = append(b, '\n')
	}
	return b
}

// headerValues returns the values of the header named lower (lower case);
// canonical is its canonical MIME form when the caller knows it.
func headerValues(h http.Header, canonical, lower string) []string {
	if canonical == "" {
		canonical = commonHeaders[lower]
		if canonical == "" {
			canonical = textproto.CanonicalMIMEHeaderKey(lower)
		}
	}
	if v, ok := h[canonical]; ok {
		return v
	}
	// A key that is not a valid token is stored as sent.
	for k, v := range h {
		if strings.EqualFold(k, lower) {
			return v
		}
	}
	return nil
}

// commonHeaders spares the canonicalisation of the headers clients sign most.
var commonHeaders = map[string]string{
	"content-type":                 "Content-Type",
	"content-md5":                  "Content-Md5",
	"content-encoding":             "Content-Encoding",
	"x-amz-date":                   "X-Amz-Date",
	"x-amz-target":                 "X-Amz-Target",
	"x-amz-content-sha256":         "X-Amz-Content-Sha256",
	"x-amz-security-token":         "X-Amz-Security-Token",
	"x-amz-user-agent":             "X-Amz-User-Agent",
	"x-amz-decoded-content-length": "X-Amz-Decoded-Content-Length",
	"x-amz-trailer":                "X-Amz-Trailer",
	"amz-sdk-invocation-id":        "Amz-Sdk-Invocation-Id",
	"amz-sdk-request":              "Amz-Sdk-Request",
}

func appendJoined(b []byte, vals []string) []byte {
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrimmed(b, v)
	}
	return b
}

// appendTrimmed appends v without leading and trailing blanks and with inner
// runs of spaces collapsed to one.
func appendTrimmed(b []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}

// rawPath returns the request path exactly as the client sent it.
func rawPath(r *http.Request) string {
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return u
	}
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	return p
}

// canonicalURIs returns the canonical URI of r, and a second reading when
// clients are known to differ on it. S3 signs the path as sent (encoded
// once), and a second reading re-encodes the decoded path per RFC 3986.
// Other services encode the sent path once more; aws-sdk-go-v2 does so as
// is, botocore after removing dot segments and empty segments first.
func canonicalURIs(r *http.Request, s3 bool) []string {
	raw := rawPath(r)
	if s3 {
		uris := []string{raw}
		// An encoded slash would become a segment boundary in the second
		// reading, so a path holding one has only the first.
		if strings.Contains(raw, "%2F") || strings.Contains(raw, "%2f") {
			return uris
		}
		if dec, err := url.PathUnescape(raw); err == nil {
			if alt := string(appendEscaped(nil, dec, true)); alt != raw {
				uris = append(uris, alt)
			}
		}
		return uris
	}
	first := string(appendEscaped(nil, raw, true))
	uris := []string{first}
	if norm := normalizePath(raw); norm != raw {
		uris = append(uris, string(appendEscaped(nil, norm, true)))
	}
	return uris
}

// normalizePath removes "." and ".." segments and empty segments, keeping
// a leading and a trailing slash.
func normalizePath(p string) string {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	s := "/" + strings.Join(out, "/")
	if len(out) > 0 && strings.HasSuffix(p, "/") {
		s += "/"
	}
	return s
}

// canonicalQueries returns the canonical query string of raw, followed by
// the other readings of it that known clients sign, when they differ:
//
//   - the SigV4 reading (aws-sdk-go-v2): every name and value decoded ("+"
//     is a space), RFC 3986 encoded, sorted by name then value;
//   - botocore's reading of a query it did not build: the pairs as sent,
//     sorted by name then value;
//   - the query exactly as sent, which curl up to 8.0 signs;
//   - the reading of later curl: each "name=value" as sent with upper-case
//     percent escapes, anything else outside the unreserved set (and "=")
//     encoded, sorted as sent. It reads "+" as a literal plus where servers
//     read a space, so it is not used for a query holding "+": a signature
//     over "a%2Bb" must not vouch for "a+b".
//
// X-Amz-Signature is left out of presigned requests. Every reading is a
// function of the bytes received, and the server decodes those same bytes.
func canonicalQueries(raw string, presigned bool) []string {
	if raw == "" {
		return []string{""}
	}
	type pair struct{ k, v string }
	var enc, sent []pair
	var whole, kept []string
	for part := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		kept = append(kept, part)
		sent = append(sent, pair{k, v})
		if part == "" {
			continue
		}
		whole = append(whole, part)
		enc = append(enc, pair{encodeQueryPart(k), encodeQueryPart(v)})
	}
	cmp := func(x, y pair) int {
		if c := strings.Compare(x.k, y.k); c != 0 {
			return c
		}
		return strings.Compare(x.v, y.v)
	}
	join := func(ps []pair) string {
		n := 0
		for _, p := range ps {
			n += len(p.k) + len(p.v) + 2
		}
		b := make([]byte, 0, n)
		for i, p := range ps {
			if i > 0 {
				b = append(b, '&')
			}
			b = append(b, p.k...)
			b = append(b, '=')
			b = append(b, p.v...)
		}
		return string(b)
	}
	slices.SortFunc(enc, cmp)
	readings := []string{join(enc)}
	add := func(s string) {
		if !slices.Contains(readings, s) {
			readings = append(readings, s)
		}
	}
	add(strings.Join(kept, "&"))
	slices.SortFunc(sent, cmp)
	add(join(sent))
	if !strings.Contains(raw, "+") {
		slices.Sort(whole)
		var b []byte
		for i, part := range whole {
			if i > 0 {
				b = append(b, '&')
			}
			b = appendCurlQueryPart(b, part)
		}
		add(string(b))
	}
	return readings
}

// appendCurlQueryPart appends a "name=value" pair as curl canonicalises it.
func appendCurlQueryPart(b []byte, part string) []byte {
	const hexUpper = "0123456789ABCDEF"
	equals := false
	for i := 0; i < len(part); i++ {
		c := part[i]
		switch {
		case unreserved(c):
			b = append(b, c)
		case c == '=':
			b = append(b, c)
			equals = true
		case c == '%' && i+2 < len(part) && isHex(part[i+1:i+3]):
			b = append(b, '%', upperHex(part[i+1]), upperHex(part[i+2]))
			i += 2
		default:
			b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	if !equals {
		b = append(b, '=')
	}
	return b
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// encodeQueryPart decodes a query name or value as form encoding does ("+"
// is a space) and encodes it per RFC 3986. Text that does not decode is
// encoded as it stands.
func encodeQueryPart(s string) string {
	if !strings.ContainsAny(s, "%+") && isUnreserved(s) {
		return s
	}
	if dec, err := url.QueryUnescape(s); err == nil {
		s = dec
	}
	return string(appendEscaped(nil, s, false))
}

func isUnreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return false
		}
	}
	return true
}

func unreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// appendEscaped appends s with every byte outside the RFC 3986 unreserved
// set (and "/" when keepSlash) percent-encoded with upper-case hex.
func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || keepSlash && c == '/' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return b
}

// deriveKey derives the SigV4 signing key for a credential scope.
func deriveKey(secret, date, region, service string) [32]byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k[:], region)
	k = hmacSHA256(k[:], service)
	return hmacSHA256(k[:], "aws4_request")
}

func hmacSHA256(key []byte, data string) [32]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// keyCache remembers derived signing keys per access key and scope. A key
// is re-derived when the secret returned for the access key changes.
type keyCache struct {
	mu sync.Mutex
	m  map[keyID]cachedKey
}

type keyID struct{ akid, date, region, service string }

type cachedKey struct {
	secret string
	key    [32]byte
}

// maxCachedKeys bounds the cache; it is emptied when full.
const maxCachedKeys = 4096

func (c *keyCache) signingKey(secret string, a *Auth) [32]byte {
	id := keyID{a.AccessKeyID, a.Date, a.Region, a.Service}
	c.mu.Lock()
	ck, ok := c.m[id]
	c.mu.Unlock()
	if ok && ck.secret == secret {
		return ck.key
	}
	key := deriveKey(secret, a.Date, a.Region, a.Service)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedKeys {
		c.m = make(map[keyID]cachedKey)
	}
	c.m[id] = cachedKey{secret: secret, key: key}
	c.mu.Unlock()
	return key
}
