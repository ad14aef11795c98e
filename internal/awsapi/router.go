package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
)

// AuditParamser is implemented by operation inputs that log something other
// than their own JSON encoding as the self-audit record's
// requestParameters (to leave out payloads, or to format timestamps).
type AuditParamser interface {
	AuditParams() any
}

// AuditResponser is implemented by operation outputs that log something
// other than their own JSON encoding as responseElements.
type AuditResponser interface {
	AuditResponse() any
}

// QueryBinder is implemented by REST-JSON operation inputs that take
// members from the query string. BindQuery runs after the body is decoded.
type QueryBinder interface {
	BindQuery(q url.Values) error
}

// sentParams logs an operation's input with only the members the request
// body holds, at every level: CloudTrail's requestParameters are what the
// caller sent, not the zero values of the members it left out.
type sentParams struct {
	in   any
	body []byte
}

func (p sentParams) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(p.in)
	if err != nil {
		return nil, err
	}
	var v, sent any
	if err := decodeNumbers(b, &v); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(p.body)) == 0 {
		return []byte("null"), nil
	}
	if err := decodeNumbers(p.body, &sent); err != nil {
		return nil, err
	}
	return json.Marshal(keepSent(v, sent))
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// keepSent drops from v the object members that sent, the request's own
// JSON at the same place, lacks. Names match without regard to case, as
// the decoder matched them.
func keepSent(v, sent any) any {
	switch x := v.(type) {
	case map[string]any:
		s, ok := sent.(map[string]any)
		if !ok {
			return x
		}
		names := make(map[string]string, len(s))
		for k := range s {
			names[strings.ToLower(k)] = k
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			if sk, ok := names[strings.ToLower(k)]; ok {
				out[k] = keepSent(val, s[sk])
			}
		}
		return out
	case []any:
		s, ok := sent.([]any)
		if !ok || len(s) != len(x) {
			return x
		}
		for i := range x {
			x[i] = keepSent(x[i], s[i])
		}
		return x
	}
	return v
}

// operation is one registered API operation, type-erased.
type operation struct {
	name     string
	readOnly bool
	// inType is the input struct's type (the query protocol decodes a
	// form by it); nil for raw operations.
	inType reflect.Type
	// invoke decodes the request, asks check (the dispatcher's
	// authorization, given the decoded input), runs the operation and
	// returns the output plus what to log in the self-audit record.
	invoke func(ctx context.Context, req *http.Request, body []byte, check func(in any) error) (out, params, resp any, err error)
	// raw operations (PathRouter) are bound to pattern; rawRes names
	// their resources, and rawMapped says that it was given.
	raw       bool
	pattern   string
	rawRes    RawResources
	rawMapped bool
}

func newOperation[In, Out any](name string, readOnly bool, fn func(context.Context, *In) (*Out, error)) *operation {
	return &operation{name: name, readOnly: readOnly, inType: reflect.TypeFor[In](), invoke: func(ctx context.Context, req *http.Request, body []byte, check func(in any) error) (any, any, any, error) {
		in := new(In)
		if err := DecodeObject(body, in); err != nil {
			return nil, nil, nil, err
		}
		if b, ok := any(in).(QueryBinder); ok {
			if err := b.BindQuery(req.URL.Query()); err != nil {
				return nil, nil, nil, err
			}
		}
		var params any = sentParams{in: in, body: body}
		if p, ok := any(in).(AuditParamser); ok {
			params = p.AuditParams()
		} else if _, ok := any(in).(QueryBinder); ok {
			params = in
		}
		if err := check(in); err != nil {
			return nil, params, nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, params, nil, err
		}
		if out == nil {
			out = new(Out)
		}
		var resp any = out
		if r, ok := any(out).(AuditResponser); ok {
			resp = r.AuditResponse()
		}
		return out, params, resp, nil
	}}
}

// dispatcher holds what both routers share.
type dispatcher struct {
	service     string
	contentType string
	auditor     Auditor
	logger      *slog.Logger
	// authorizer decides every call (nil: all allowed); deny is how a
	// refusal is answered.
	authorizer Authorizer
	deny       denial
}

// run executes op for the caller in ctx and writes the response with enc
// (nil: JSON of d's content type); unknown operations arrive with op ==
// nil and opErr set. body is the request as a JSON object, whatever the
// protocol it arrived in.
func (d *dispatcher) run(w http.ResponseWriter, req *http.Request, body []byte, opName string, op *operation, opErr error, enc encoder) {
	ctx := req.Context()
	if enc == nil {
		enc = jsonEncoder{contentType: d.contentType}
	}
	c := CallerFrom(ctx)
	if c == nil {
		d.logger.ErrorContext(ctx, "request reached the API without a caller", slog.String("path", req.URL.Path))
		enc.fail(w, NewUUID(), Internal())
		return
	}
	if c.RequestID == "" {
		cc := *c
		cc.RequestID = NewUUID()
		c = &cc
		ctx = WithCaller(ctx, c)
	}
	readOnly := false
	var out, params, resp any
	err := opErr
	if op != nil {
		readOnly = op.readOnly
		out, params, resp, err = d.safeInvoke(ctx, op, req, body)
	}
	var errCode, errMsg string
	var e *Error
	audited := false
	if raw, ok := out.(*RawResponse); ok && err == nil {
		audited = raw.Audited
	}
	if err != nil && isAuditNotStored(err) {
		// The operation's own record failed to commit: answer as any
		// failed commit of a record does, and record nothing more.
		d.logger.ErrorContext(ctx, "self-audit record not stored; answering 503", slog.String("operation", opName),
			slog.String("request_id", c.RequestID), slog.Any("err", err))
		e, audited = AuditUnavailable(), true
	} else if err != nil {
		e = AsError(ctx, d.logger, c.RequestID, err)
		errCode, errMsg = e.Code, e.Message
		if e.denied {
			errCode = AuditAccessDenied
			e = d.deny.apply(e)
		}
	}
	// The record of a call that changes something is committed before the
	// answer (see CommitAuditor).
	if d.auditor != nil && opName != "" && !audited {
		rec := AuditRecord(c, d.service, opName, readOnly, params, resp, errCode, errMsg)
		if aerr := RecordCall(ctx, d.auditor, readOnly, rec); aerr != nil {
			d.logger.ErrorContext(ctx, "self-audit record not stored; answering 503", slog.String("operation", opName),
				slog.String("request_id", c.RequestID), slog.Any("err", aerr))
			// A call that already failed with 503 (its store unavailable,
			// a full disk) changed nothing; its own answer says so, where
			// AuditUnavailable's "may have been applied" would not.
			if e == nil || e.Status != http.StatusServiceUnavailable {
				e = AuditUnavailable()
			}
		}
	}
	switch raw, isRaw := out.(*RawResponse); {
	case e != nil:
		enc.fail(w, c.RequestID, e)
	case isRaw:
		d.writeRaw(w, req, c.RequestID, raw)
	default:
		if err := enc.ok(w, c.RequestID, opName, out); err != nil {
			d.logger.ErrorContext(ctx, "encode response failed", slog.String("operation", opName),
				slog.String("request_id", c.RequestID), slog.Any("err", err))
			enc.fail(w, c.RequestID, Internal())
		}
	}
}

func (d *dispatcher) safeInvoke(ctx context.Context, op *operation, req *http.Request, body []byte) (out, params, resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			d.logger.ErrorContext(ctx, "operation panicked", slog.String("operation", op.name),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			out, resp, err = nil, nil, fmt.Errorf("operation %s panicked: %v", op.name, p)
		}
	}()
	return op.invoke(ctx, req, body, func(in any) error { return d.authorize(ctx, op, in) })
}

// Router serves an AWS RPC service: by default AWS JSON 1.1 (POST / with
// an X-Amz-Target header), and with [Router.Speak] any of AWS JSON 1.0,
// the AWS query protocol and Smithy RPC v2 CBOR, all from the same
// registered operations. Register operations (and call Speak) before
// serving; a Router is then safe for concurrent use.
type Router struct {
	d   dispatcher
	ops map[string]*operation
	p   Protocols
}

// NewRouter returns a Router for the service with SigV4 signing name
// service (it names the eventSource of self-audit records). auditor may be
// nil (no self-audit); logger nil means slog.Default().
func NewRouter(service string, auditor Auditor, logger *slog.Logger) *Router {
	if logger == nil {
		logger = slog.Default()
	}
	return &Router{
		d: dispatcher{service: service, contentType: contentTypeJSON11, auditor: auditor, logger: logger,
			deny: denial{code: CodeAccessDenied, status: http.StatusBadRequest}},
		ops: make(map[string]*operation),
		p:   Protocols{JSON11: true},
	}
}

// Register adds operation name to r. fn receives the decoded request body
// and returns the response (nil means an empty object) or an error;
// readOnly is recorded in the self-audit record, whose responseElements are
// null for read-only operations. Registering a name twice panics.
func Register[In, Out any](r *Router, name string, readOnly bool, fn func(context.Context, *In) (*Out, error)) {
	if _, dup := r.ops[name]; dup {
		panic("awsapi: operation registered twice: " + name)
	}
	r.ops[name] = newOperation(name, readOnly, fn)
}

// Operations lists the registered operation names in order.
func (r *Router) Operations() []string {
	names := make([]string, 0, len(r.ops))
	for n := range r.ops {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// maxOpName bounds the operation name recorded for unknown targets.
const maxOpName = 128

// RESTRouter serves an AWS REST-JSON service: operations are bound to a
// method and path, take members from the query string (see [QueryBinder])
// and a JSON body, and answer application/json. Register routes before
// serving; a RESTRouter is then safe for concurrent use.
type RESTRouter struct {
	d      dispatcher
	routes map[string]*operation // "METHOD /path"
}

// NewRESTRouter is NewRouter for a REST-JSON service.
func NewRESTRouter(service string, auditor Auditor, logger *slog.Logger) *RESTRouter {
	if logger == nil {
		logger = slog.Default()
	}
	return &RESTRouter{
		d: dispatcher{service: service, contentType: contentTypeJSON, auditor: auditor, logger: logger,
			deny: denial{code: CodeAccessDenied, status: http.StatusForbidden}},
		routes: make(map[string]*operation),
	}
}

// RegisterREST binds operation name to method and path (matched exactly)
// on r; otherwise as Register.
func RegisterREST[In, Out any](r *RESTRouter, method, path, name string, readOnly bool, fn func(context.Context, *In) (*Out, error)) {
	key := method + " " + path
	if _, dup := r.routes[key]; dup {
		panic("awsapi: route registered twice: " + key)
	}
	r.routes[key] = newOperation(name, readOnly, fn)
}

// Handle serves one request whose body the server has already read. The
// request context must carry a Caller. Requests matching no route get 404
// UnknownOperationException and no self-audit record (there is no
// operation to name).
func (r *RESTRouter) Handle(w http.ResponseWriter, req *http.Request, body []byte) {
	op := r.routes[req.Method+" "+req.URL.Path]
	if op == nil {
		e := &Error{Code: CodeUnknownOperation, Status: http.StatusNotFound,
			Message: fmt.Sprintf("No operation is bound to %s %s.", req.Method, truncate(req.URL.Path, 256))}
		r.d.run(w, req, body, "", nil, e, nil)
		return
	}
	r.d.run(w, req, body, op.name, op, nil, nil)
}
