package awsapi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Protocols says which AWS wire protocols a [Router] speaks. Every
// protocol reaches the same registered operations through the same
// dispatcher (decode limits, self-audit, error mapping, panics →
// InternalFailure); only the decoding of the request and the encoding of
// the answer differ:
//
//   - JSON11, JSON10: POST / with X-Amz-Target naming the operation and a
//     JSON body; answered application/x-amz-json-1.1 or -1.0 (as the
//     request's Content-Type asks).
//   - Query: a form (POST body or GET query string) Action=Op&Version=V
//     with members flattened as botocore's query serializer does
//     (Dims.member.1.Name, Attrs.entry.1.key/.value, A.B); answered with
//     XML <OpResponse xmlns=NS><OpResult>…</OpResult><ResponseMetadata>.
//   - CBOR: Smithy RPC v2 CBOR, POST /service/<ServiceShape>/operation/<Op>
//     with smithy-protocol: rpc-v2-cbor; answered application/cbor.
//
// A service package configures its router once, before serving:
//
//	r := awsapi.NewRouter("monitoring", auditor, logger)
//	r.Speak(awsapi.Protocols{JSON10: true, QueryCompatible: true,
//		Query: &awsapi.QuerySpec{Namespace: "http://monitoring.amazonaws.com/doc/2010-08-01/", Version: "2010-08-01"},
//		CBOR:  &awsapi.CBORSpec{ServiceShape: "GraniteServiceVersion20100801"}})
//
// Operations never see the protocol: their In and Out structs use json
// tags with the model's member names and [Time] for timestamps whatever
// the client speaks.
type Protocols struct {
	// JSON11 is AWS JSON 1.1, what NewRouter speaks by default.
	JSON11 bool
	// JSON10 is AWS JSON 1.0.
	JSON10 bool
	// Query is the AWS query protocol; nil means not spoken.
	Query *QuerySpec
	// CBOR is Smithy RPC v2 CBOR; nil means not spoken.
	CBOR *CBORSpec
	// QueryCompatible marks a service that was a query service and now
	// also speaks JSON or CBOR (Smithy's awsQueryCompatible): errors
	// answered in JSON or CBOR to requests carrying x-amzn-query-mode:
	// true carry the header x-amzn-query-error: Code;Sender (or
	// ;Receiver for 5xx), from which clients take the query error code.
	QueryCompatible bool
	// ErrorTypes maps an error code as operations return it (for a
	// query-compatible service, the query error code, e.g.
	// InvalidParameterValue) to the error shape name sent as __type in
	// JSON and CBOR errors (InvalidParameterValueException), where the
	// two differ. Codes not listed are sent as they are.
	ErrorTypes map[string]string
}

// QuerySpec is a query service's identity.
type QuerySpec struct {
	// Namespace is the xmlns of every answer, e.g.
	// http://monitoring.amazonaws.com/doc/2010-08-01/.
	Namespace string
	// Version is the API version requests name, e.g. 2010-08-01. A
	// request naming another version is refused (InvalidAction); one
	// naming none is served.
	Version string
	// AccessDenied is the error code of a refused call (HTTP 403); ""
	// means AccessDenied. SNS answers AuthorizationError.
	AccessDenied string
}

// CBORSpec is an RPC v2 CBOR service's identity.
type CBORSpec struct {
	// ServiceShape is the service shape's name in request paths
	// (/service/<ServiceShape>/operation/<Op>), e.g.
	// GraniteServiceVersion20100801.
	ServiceShape string
}

// Speak sets the protocols r speaks, replacing the default (JSON11 only).
// Call it before serving. It panics when p names no protocol or a spec
// lacks its identity.
func (r *Router) Speak(p Protocols) {
	if !p.JSON11 && !p.JSON10 && p.Query == nil && p.CBOR == nil {
		panic("awsapi: Speak needs at least one protocol")
	}
	if p.Query != nil && (p.Query.Namespace == "" || p.Query.Version == "") {
		panic("awsapi: QuerySpec needs Namespace and Version")
	}
	if p.CBOR != nil && p.CBOR.ServiceShape == "" {
		panic("awsapi: CBORSpec needs ServiceShape")
	}
	r.p = p
	if p.Query != nil {
		// A query service (and a query-compatible one, whatever the
		// request's protocol) answers a refusal with its query code and
		// 403; JSON and CBOR carry the code through ErrorTypes and
		// x-amzn-query-error.
		r.d.deny = denial{code: "AccessDenied", status: http.StatusForbidden}
		if p.Query.AccessDenied != "" {
			r.d.deny.code = p.Query.AccessDenied
		}
	}
}

// Protocols reports what r speaks.
func (r *Router) Protocols() Protocols { return r.p }

// protocol is one wire format a request arrived in.
type protocol int

const (
	protoJSON11 protocol = iota
	protoJSON10
	protoQuery
	protoCBOR
)

// cborPathPrefix starts every RPC v2 CBOR request path.
const cborPathPrefix = "/service/"

// IsCBORRequest reports whether req has the shape of a Smithy RPC v2 CBOR
// request (the smithy-protocol header, or a /service/…/operation/… path).
func IsCBORRequest(req *http.Request) bool {
	return strings.EqualFold(req.Header.Get("Smithy-Protocol"), "rpc-v2-cbor") ||
		strings.HasPrefix(req.URL.Path, cborPathPrefix) && strings.Contains(req.URL.Path, "/operation/")
}

// IsQueryRequest reports whether req has the shape of an AWS query
// request: a form-encoded body, or a GET with an Action parameter, and no
// X-Amz-Target.
func IsQueryRequest(req *http.Request) bool {
	if req.Header.Get("X-Amz-Target") != "" || IsCBORRequest(req) {
		return false
	}
	if mediaType(req) == "application/x-www-form-urlencoded" {
		return true
	}
	return req.Method == http.MethodGet && req.URL.Query().Get("Action") != ""
}

func mediaType(req *http.Request) string {
	ct, _, _ := strings.Cut(req.Header.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

// protocolOf picks the protocol r answers req in: the one the request's
// shape names when r speaks it, else r's first JSON protocol, else its
// query, else CBOR.
func (r *Router) protocolOf(req *http.Request) protocol {
	p := r.p
	switch {
	case p.CBOR != nil && IsCBORRequest(req):
		return protoCBOR
	case p.Query != nil && IsQueryRequest(req):
		return protoQuery
	}
	switch mediaType(req) {
	case contentTypeJSON10:
		if p.JSON10 {
			return protoJSON10
		}
	case contentTypeJSON11:
		if p.JSON11 {
			return protoJSON11
		}
	}
	switch {
	case p.JSON11:
		return protoJSON11
	case p.JSON10:
		return protoJSON10
	case p.Query != nil:
		return protoQuery
	}
	return protoCBOR
}

// WriteError answers req with err in the protocol r would answer req in,
// for requests refused before they reach r (the server's front door).
// Errors that are not *Error are logged and sent as InternalFailure.
func (r *Router) WriteError(w http.ResponseWriter, req *http.Request, reqID string, err error) {
	e := AsError(req.Context(), r.d.logger, reqID, err)
	r.encoder(r.protocolOf(req), req).fail(w, reqID, e)
}

// Handle serves one request whose body the server has already read (and
// size-limited), in the protocol its shape names (see [Protocols]). The
// request context must carry a Caller.
func (r *Router) Handle(w http.ResponseWriter, req *http.Request, body []byte) {
	proto := r.protocolOf(req)
	enc := r.encoder(proto, req)
	body, err := decodeContent(req, body)
	if err != nil {
		r.d.run(w, req, nil, "", nil, err, enc)
		return
	}
	switch proto {
	case protoQuery:
		r.handleQuery(w, req, body, enc)
	case protoCBOR:
		r.handleCBOR(w, req, body, enc)
	default:
		r.handleJSON(w, req, body, enc)
	}
}

// handleJSON serves AWS JSON 1.0 and 1.1: X-Amz-Target names the
// operation after its last dot (botocore sends
// com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.Op, Go SDKs
// CloudTrail_20131101.Op).
func (r *Router) handleJSON(w http.ResponseWriter, req *http.Request, body []byte, enc encoder) {
	target := req.Header.Get("X-Amz-Target")
	name := target[strings.LastIndexByte(target, '.')+1:]
	var op *operation
	var err error
	switch {
	case target == "":
		err = NewError(CodeUnknownOperation, "The request has no X-Amz-Target header naming an operation.")
	case req.Method != http.MethodPost:
		err = Errorf(CodeUnknownOperation, "Operation %s must be called with POST, not %s.", truncate(target, 256), req.Method)
	default:
		if op = r.ops[name]; op == nil {
			err = Errorf(CodeUnknownOperation, "Unknown operation %s.", truncate(target, 256))
		}
	}
	if len(name) > maxOpName {
		name = name[:maxOpName]
	}
	r.d.run(w, req, body, name, op, err, enc)
}

// MaxInflatedBody bounds a compressed request body once inflated: SDKs
// gzip large CloudWatch PutMetricData requests (the model's
// requestCompression), whose uncompressed payload AWS caps at 1 MB.
const MaxInflatedBody = 16 << 20

// decodeContent undoes the request's Content-Encoding (gzip, which SDKs
// use for request compression), after the signature was verified over
// the bytes as sent.
func decodeContent(req *http.Request, body []byte) ([]byte, error) {
	ce := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	switch ce {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
	default:
		return nil, &Error{Code: CodeSerialization, Status: http.StatusUnsupportedMediaType,
			Message: fmt.Sprintf("Content-Encoding %s is not supported; send gzip or no encoding.", Clip(ce, 32))}
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, NewError(CodeSerialization, "The request body is not valid gzip: "+err.Error()+".")
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxInflatedBody+1))
	if err != nil {
		return nil, NewError(CodeSerialization, "The request body is not valid gzip: "+err.Error()+".")
	}
	if len(out) > MaxInflatedBody {
		return nil, &Error{Code: "RequestEntityTooLargeException", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("The request body inflates to more than %d bytes.", MaxInflatedBody)}
	}
	return out, nil
}

// encoder writes answers in one protocol.
type encoder interface {
	// ok writes a successful answer; it reports an error (and writes
	// nothing) when out cannot be encoded.
	ok(w http.ResponseWriter, reqID, op string, out any) error
	fail(w http.ResponseWriter, reqID string, e *Error)
}

func (r *Router) encoder(p protocol, req *http.Request) encoder {
	qe := r.p.QueryCompatible && strings.EqualFold(strings.TrimSpace(req.Header.Get("X-Amzn-Query-Mode")), "true")
	switch p {
	case protoQuery:
		return queryEncoder{ns: r.p.Query.Namespace}
	case protoCBOR:
		return cborEncoder{types: r.p.ErrorTypes, queryError: qe}
	case protoJSON10:
		return jsonEncoder{contentType: contentTypeJSON10, types: r.p.ErrorTypes, queryError: qe}
	}
	return jsonEncoder{contentType: contentTypeJSON11, types: r.p.ErrorTypes, queryError: qe}
}

// jsonEncoder answers in AWS JSON (1.0, 1.1 or REST-JSON).
type jsonEncoder struct {
	contentType string
	types       map[string]string
	queryError  bool
}

func (j jsonEncoder) ok(w http.ResponseWriter, reqID, _ string, out any) error {
	b := marshalCompact(out)
	if b == nil {
		return fmt.Errorf("encode %T as JSON failed", out)
	}
	writeBody(w, j.contentType, reqID, http.StatusOK, b)
	return nil
}

func (j jsonEncoder) fail(w http.ResponseWriter, reqID string, e *Error) {
	if j.queryError {
		setQueryError(w, e)
	}
	if t := j.types[e.Code]; t != "" {
		c := *e
		c.Code = t
		e = &c
	}
	writeError(w, j.contentType, reqID, e)
}

// setQueryError sets the header from which clients of a query-compatible
// service read the query error code and fault.
func setQueryError(w http.ResponseWriter, e *Error) {
	w.Header().Set("x-amzn-query-error", e.Code+";"+faultOf(e))
}

// faultOf is the query protocol's Type of an error: Receiver for server
// faults (5xx), Sender otherwise.
func faultOf(e *Error) string {
	if e.HTTPStatus() >= 500 {
		return "Receiver"
	}
	return "Sender"
}

func writeBody(w http.ResponseWriter, contentType, reqID string, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	if reqID != "" {
		h.Set("x-amzn-RequestId", reqID)
	}
	h.Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// AnswersQuery reports whether r answers req in the query protocol (the
// server's front door maps its refusals to query error codes then).
func (r *Router) AnswersQuery(req *http.Request) bool {
	return r.protocolOf(req) == protoQuery
}
