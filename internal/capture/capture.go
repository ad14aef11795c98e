// Package capture is the record model of opentrail's capture gateway and
// middleware: it names the operation an AWS-protocol request asks for
// (S3 REST, JSON 1.0/1.1, query, REST-JSON by route) and writes the
// CloudTrail record of a call from what was seen of its request and its
// answer, in CloudTrail's shapes for S3 and in the generic shape of the
// protocol for other services.
//
// A [Recorder] stores those records durably. A mutating call is forwarded
// only after its intent is committed ([Recorder.Intend]); its final record
// replaces the intent once the upstream has answered ([Recorder.Complete]).
// An intent whose lease runs out without a final record becomes the call's
// record, with its outcome unknown.
package capture

import (
	"context"
	"net/http"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
)

// Protocols a request may speak, as [Call.Protocol] names them.
const (
	ProtocolS3       = "s3"          // S3 REST (path or virtual-hosted style)
	ProtocolJSON     = "json"        // AWS JSON 1.0/1.1: X-Amz-Target
	ProtocolQuery    = "query"       // Action= in the query or a form body
	ProtocolRESTJSON = "rest-json"   // identified by a configured Route
	ProtocolCBOR     = "rpc-v2-cbor" // Smithy RPC v2 CBOR: /service/<Service>/operation/<Op>
	ProtocolUnknown  = "unknown"     // none of those: recorded by method and path
)

// Call is what a request asks for.
type Call struct {
	Service  string // SigV4 signing name: s3, dynamodb, sqs, ...
	Source   string // eventSource: s3.amazonaws.com
	Name     string // eventName: PutObject, ListTables, ...
	Protocol string // one of the Protocol constants
	ReadOnly bool
	// Data marks a data event (S3 object calls): managementEvent false,
	// eventCategory Data.
	Data bool
	// Params is the call's requestParameters, redacted; nil for none.
	Params map[string]any
	// Resources are the record's resources (ARNs and types).
	Resources []awsapi.AuditResource
	// Bucket and Key are the S3 bucket and object key the call names.
	Bucket, Key string
	// redact is Options.Redact as Identify was given it, for the answer's
	// elements Record writes.
	redact []string
}

// Route names a REST-JSON operation by its method and path pattern, as in
// a service model's http trait: "/2015-03-31/functions/{FunctionName}".
type Route struct {
	Service  string
	Method   string
	Pattern  string
	Name     string
	ReadOnly bool
}

// Options tune identification and records.
type Options struct {
	// Redact names request parameters whose values are recorded as
	// "HIDDEN_DUE_TO_SECURITY_REASONS", in addition to the built-in list
	// (passwords, secrets, tokens, ...). Names compare without case.
	Redact []string
	// Routes identify REST-JSON operations.
	Routes []Route
}

// Exchange is one call's request and answer as a gateway or middleware saw
// them.
type Exchange struct {
	Call Call
	// Principal is the verified caller; nil when the caller's signature was
	// passed through unverified (AccessKeyID is then recorded as given).
	Principal   *auth.Principal
	AccessKeyID string
	// Account is the record's recipientAccountId, the account it is
	// stored under; empty means the principal's. A call without a
	// verified principal (passed through, or unsigned) needs it: a record
	// names an account.
	Account string
	// Region is the region of the request's credential scope; empty (an
	// unsigned request) is recorded as us-east-1.
	Region    string
	SourceIP  string
	UserAgent string
	Host      string // the Host the client sent
	TLS       *awsapi.TLSDetails
	// AuthMethod is AuthHeader or QueryString (presigned); empty for an
	// unsigned request. SignatureVersion is SigV4 for signed requests.
	AuthMethod       string
	SignatureVersion string
	Time             time.Time // when the request arrived
	EventID          string
	// RequestID is the upstream's request id (x-amz-request-id,
	// x-amzn-RequestId), else one made up by the gateway.
	RequestID string
	// Status is the upstream's HTTP status; 0 when there is no answer (yet):
	// the record is then an intent's.
	Status         int
	ResponseHeader http.Header
	// ResponseBody holds the upstream's body when it is an error or a small
	// answer whose elements are recorded (at most MaxResponseBody bytes);
	// nil otherwise.
	ResponseBody      []byte
	BytesIn, BytesOut int64
	// Err is the transport error talking to the upstream, if any.
	Err error
}

// MaxResponseBody bounds the bytes of an answer kept for its record.
const MaxResponseBody = 64 << 10

// Recorder stores captured records durably. Records are compact CloudTrail
// JSON; each carries its eventID and recipientAccountId. Methods are safe
// for concurrent use and batch concurrent callers (group commit).
type Recorder interface {
	// Intend commits the intent record of a call about to be forwarded and
	// returns once it is durable (fsynced), or with the reason it could not
	// be: the call must then not be forwarded. If no final record replaces
	// it before lease runs out (Renew extends it), the intent is recorded
	// as the call's record, its outcome unknown.
	Intend(ctx context.Context, rec []byte, lease time.Duration) error
	// Renew extends the leases of intents still in flight.
	Renew(ctx context.Context, eventIDs []string, lease time.Duration) error
	// Complete commits a call's final record (with its intent's eventID,
	// if it had one) and drops the intent; it returns once durable.
	Complete(ctx context.Context, rec []byte) error
}
