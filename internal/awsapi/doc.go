// Package awsapi is opentrail's AWS wire layer: it speaks AWS JSON 1.1
// (X-Amz-Target routing, used by the cloudtrail and logs services) and,
// from the same registered operations ([Router.Speak]), AWS JSON 1.0, the
// AWS query protocol (forms in, XML out) and Smithy RPC v2 CBOR (used by
// monitoring and sns), REST-JSON (used by cloudtrail-data) and
// method-and-path routing with raw bodies (the native /v1 API,
// [PathRouter]); it decodes request bodies, encodes responses and is the
// one place that turns Go errors into AWS errors on the wire
// ({"__type","message"} plus the X-Amzn-ErrorType header and a status
// code, or each protocol's equivalent). It is not the front door (SigV4, the body budget, routing by
// service: internal/server) nor the XML error formats of S3 and STS
// (internal/s3api, internal/sts).
//
// Every call routed through a [Router], [RESTRouter] or [PathRouter] takes
// one path — decode, call, error mapping, self-audit — and is recorded as
// a CloudTrail event of itself (see [AuditRecord]) handed to an
// [Auditor], committed before the answer when it changes something.
//
// # Callers
//
// The server's authentication middleware verifies the request signature,
// builds a [Caller] and stores it in the request context with [WithCaller]
// before calling a router. Handlers read it back with [CallerFrom].
//
// # Errors
//
// Operations return *[Error] (possibly wrapped) for conditions the client
// should see. Any other error becomes InternalFailure/500 with a generic
// message; the detail is logged, never sent.
//
// The package depends only on the standard library, internal/auth and
// github.com/fxamacker/cbor/v2 (CBOR); it is
// imported by the wire-service packages (internal/cloudtrail,
// cloudtraildata, lake, native, s3api), the pure packages beside them
// (pagetoken, cloudtrailwire), internal/server and the CLI.
package awsapi
