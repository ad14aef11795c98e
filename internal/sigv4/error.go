package sigv4

import "net/http"

// Kind classifies why a request was refused.
type Kind int

// Kinds of [Error].
const (
	// KindMissingAuthentication: neither an Authorization header nor a
	// presigned query was sent.
	KindMissingAuthentication Kind = iota + 1
	// KindIncompleteSignature: the claim is malformed or incomplete
	// (missing Credential, SignedHeaders or Signature, bad credential scope,
	// unsupported algorithm, missing or bad X-Amz-Date, host not signed,
	// an X-Amz-Content-Sha256 value not allowed for the service).
	KindIncompleteSignature
	// KindUnknownAccessKey: the access key id is not known.
	KindUnknownAccessKey
	// KindSignatureMismatch: the signature (or a chunk or trailer
	// signature) does not match.
	KindSignatureMismatch
	// KindTimeSkew: the request time is too far from the server's clock.
	KindTimeSkew
	// KindExpired: a presigned URL has expired or is not valid yet.
	KindExpired
	// KindContentSHA256Mismatch: the body does not hash to the value of
	// X-Amz-Content-Sha256.
	KindContentSHA256Mismatch
	// KindBadDigest: the trailing checksum of an aws-chunked body does not
	// match the decoded payload, or names an unsupported algorithm.
	KindBadDigest
	// KindIncompleteBody: an aws-chunked body is malformed or truncated, or
	// its decoded length differs from X-Amz-Decoded-Content-Length.
	KindIncompleteBody
	// KindHeadersNotSigned: the request carries an x-amz-* header its
	// signature does not cover (Error.HeadersNotSigned names them).
	KindHeadersNotSigned
	// KindInvalidScope: the credential scope names no AWS region, or a
	// service the endpoint does not serve.
	KindInvalidScope
)

var kindNames = [...]string{
	KindMissingAuthentication: "missing authentication",
	KindIncompleteSignature:   "incomplete signature",
	KindUnknownAccessKey:      "unknown access key",
	KindSignatureMismatch:     "signature mismatch",
	KindTimeSkew:              "request time skewed",
	KindExpired:               "presigned request expired",
	KindContentSHA256Mismatch: "content sha256 mismatch",
	KindBadDigest:             "bad digest",
	KindIncompleteBody:        "incomplete body",
	KindHeadersNotSigned:      "headers not signed",
	KindInvalidScope:          "invalid credential scope",
}

// String returns a short lower-case name of k for logs.
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Error is the one error type of this package. Message is written for the
// client, in AWS's wording where AWS has one; it never contains a secret, a
// signing key or the signature the server computed.
type Error struct {
	Kind    Kind
	Message string
	// HeadersNotSigned lists the unsigned x-amz-* headers of a
	// KindHeadersNotSigned error ("x-amz-a, x-amz-b"), as S3 reports them in
	// the HeadersNotSigned element of its error document.
	HeadersNotSigned string
}

// Error implements error.
func (e *Error) Error() string { return "sigv4: " + e.Kind.String() + ": " + e.Message }

// Code returns the AWS error code for e as the given service answers it:
// S3's codes for "s3", and the codes of the AWS JSON protocols (CloudTrail,
// CloudTrail Data, CloudWatch Logs) for any other service name.
func (e *Error) Code(service string) string {
	if service == "s3" {
		switch e.Kind {
		case KindIncompleteSignature:
			return "AuthorizationHeaderMalformed"
		case KindUnknownAccessKey:
			return "InvalidAccessKeyId"
		case KindSignatureMismatch:
			return "SignatureDoesNotMatch"
		case KindTimeSkew:
			return "RequestTimeTooSkewed"
		case KindContentSHA256Mismatch:
			return "XAmzContentSHA256Mismatch"
		case KindBadDigest:
			return "BadDigest"
		case KindIncompleteBody:
			return "IncompleteBody"
		case KindInvalidScope:
			return "AuthorizationHeaderMalformed"
		default: // missing authentication, expired presigned URL, headers not signed
			return "AccessDenied"
		}
	}
	switch e.Kind {
	case KindMissingAuthentication:
		return "MissingAuthenticationTokenException"
	case KindIncompleteSignature, KindIncompleteBody:
		return "IncompleteSignatureException"
	case KindUnknownAccessKey:
		return "UnrecognizedClientException"
	default: // mismatches of every kind, skew, expiry, scope, unsigned headers
		return "InvalidSignatureException"
	}
}

// Status returns the HTTP status the given service answers e with: 400 for
// a malformed request or body (and, on s3, a credential scope naming no
// region), 403 for everything else.
func (e *Error) Status(service string) int {
	switch e.Kind {
	case KindIncompleteSignature, KindContentSHA256Mismatch, KindBadDigest, KindIncompleteBody:
		return http.StatusBadRequest
	case KindInvalidScope:
		if isS3(service) {
			return http.StatusBadRequest
		}
	}
	return http.StatusForbidden
}

func incomplete(msg string) *Error { return &Error{Kind: KindIncompleteSignature, Message: msg} }

func unsupportedAlgorithm(algo string) *Error {
	return incomplete("Unsupported AWS 'algorithm': " + quoteClip(algo) + "; only " + Algorithm + " is accepted.")
}

// isS3 reports whether service answers with S3's error codes and rules.
func isS3(service string) bool { return service == "s3" }
