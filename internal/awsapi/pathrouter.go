package awsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// RawRequest is what a raw operation (see [RegisterRaw]) receives: the
// HTTP request (method, path, query, headers; its body is already read)
// and the body, read and size-limited by the server.
type RawRequest struct {
	HTTP *http.Request
	Body []byte
	// Params is what the operation sets, as soon as it knows it, to be
	// logged as the self-audit record's requestParameters, whether the
	// call then succeeds or fails.
	Params any
}

// RawResponse is a raw operation's answer: Body is sent verbatim (the
// operation encodes it; stored records stay byte for byte what was
// stored), with Content-Type ContentType ("" means application/json).
type RawResponse struct {
	ContentType string
	Body        []byte
	// Response is logged as the record's responseElements (for calls that
	// are not read-only).
	Response any
	// Audited says that the operation committed the call's own record
	// itself, before answering (POST /v1/events commits it in the same
	// group commit as the events): the router records nothing more.
	Audited bool
}

// RawFunc is a raw operation.
type RawFunc func(ctx context.Context, req *RawRequest) (*RawResponse, error)

// auditNotStored marks an operation's error as its own record failing to
// commit (see [AuditNotStored]).
type auditNotStored struct{ err error }

func (e *auditNotStored) Error() string { return "self-audit record not stored: " + e.err.Error() }
func (e *auditNotStored) Unwrap() error { return e.err }

// AuditNotStored is what an operation that commits its own record (see
// RawResponse.Audited) returns when that commit failed: the router logs
// err, records nothing more and answers [AuditUnavailable].
func AuditNotStored(err error) error { return &auditNotStored{err: err} }

// PathRouter serves an HTTP API whose operations are bound to a method and
// a path pattern (net/http.ServeMux patterns such as "GET /v1/events"; a
// GET pattern serves HEAD too, without the body), with the same decode →
// call → error mapping → self-audit path as [Router]: opentrail's native
// /v1 API. Operations are raw: they get the request and body and answer
// bytes, so that stored records can be streamed as they are and query
// strings read as the endpoint documents them. Register routes before
// serving; a PathRouter is then safe for concurrent use.
type PathRouter struct {
	d        dispatcher
	ops      []*operation
	mux      *http.ServeMux
	notFound func(req *http.Request) *Error
	listed   []OperationInfo // for OperationList
}

// pathRoute is a registered route; the mux finds it by pattern.
type pathRoute struct{ op *operation }

func (pathRoute) ServeHTTP(http.ResponseWriter, *http.Request) {} // never served: the router dispatches

// NewPathRouter is NewRouter for a method-and-path API answering
// application/json. notFound makes the error for a request no route
// matches (nil: a generic 404 UnknownOperationException); such requests
// get no self-audit record (there is no operation to name).
func NewPathRouter(service string, auditor Auditor, logger *slog.Logger, notFound func(req *http.Request) *Error) *PathRouter {
	if logger == nil {
		logger = slog.Default()
	}
	return &PathRouter{
		d: dispatcher{service: service, contentType: contentTypeJSON, auditor: auditor, logger: logger,
			deny: denial{code: CodeAccessDenied, status: http.StatusForbidden}},
		mux:      http.NewServeMux(),
		notFound: notFound,
	}
}

// RegisterRaw binds operation name to pattern on r. readOnly is recorded
// in the self-audit record; a call that is not read-only has its record
// committed before the answer, as on [Router]. Registering a pattern
// twice panics.
func (r *PathRouter) RegisterRaw(pattern, name string, readOnly bool, fn RawFunc) {
	r.register(pattern, name, readOnly, nil, false, fn)
}

// RegisterRawResources is RegisterRaw for an operation authorized on the
// resources res names (nil res: "*", a decision made explicitly; see
// [PathRouter.IAMOperations]).
func (r *PathRouter) RegisterRawResources(pattern, name string, readOnly bool, res RawResources, fn RawFunc) {
	r.register(pattern, name, readOnly, res, true, fn)
}

func (r *PathRouter) register(pattern, name string, readOnly bool, res RawResources, mapped bool, fn RawFunc) {
	op := &operation{name: name, readOnly: readOnly, raw: true, pattern: pattern, rawRes: res, rawMapped: mapped}
	op.invoke = func(ctx context.Context, req *http.Request, body []byte, check func(in any) error) (any, any, any, error) {
		rr := &RawRequest{HTTP: req, Body: body}
		if err := check(rawInput{req: req, res: res}); err != nil {
			return nil, nil, nil, err
		}
		out, err := fn(ctx, rr)
		if err != nil {
			return nil, rr.Params, nil, err
		}
		if out == nil {
			out = &RawResponse{Body: []byte("{}")}
		}
		return out, rr.Params, out.Response, nil
	}
	r.ops = append(r.ops, op)
	r.mux.Handle(pattern, pathRoute{op: op})
	method, path, _ := strings.Cut(pattern, " ")
	r.listed = append(r.listed, OperationInfo{Service: r.d.service, Name: name, ReadOnly: readOnly, Method: method, Path: path})
}

// Handle serves one request whose body the server has already read. The
// request context must carry a Caller.
func (r *PathRouter) Handle(w http.ResponseWriter, req *http.Request, body []byte) {
	h, pattern := r.mux.Handler(req)
	route, ok := h.(pathRoute)
	if !ok || pattern == "" {
		var e *Error
		if r.notFound != nil {
			e = r.notFound(req)
		}
		if e == nil {
			e = &Error{Code: CodeUnknownOperation, Status: http.StatusNotFound,
				Message: fmt.Sprintf("No operation is bound to %s %s.", req.Method, truncate(req.URL.Path, 256))}
		}
		r.d.run(w, req, body, "", nil, e, nil)
		return
	}
	setPathValues(req, pattern)
	r.d.run(w, req, body, route.op.name, route.op, nil, nil)
}

// setPathValues sets req's path values ({name} and {name...} segments of
// pattern, which the mux matched): ServeMux.Handler finds the route but
// leaves them unset.
func setPathValues(req *http.Request, pattern string) {
	_, pp, _ := strings.Cut(pattern, " ")
	if i := strings.IndexByte(pp, '/'); i > 0 {
		pp = pp[i:] // a host in the pattern
	}
	ps := strings.Split(pp, "/")
	rs := strings.Split(req.URL.Path, "/")
	for i, seg := range ps {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") || i >= len(rs) {
			continue
		}
		name := seg[1 : len(seg)-1]
		if n, ok := strings.CutSuffix(name, "..."); ok {
			req.SetPathValue(n, strings.Join(rs[i:], "/"))
			continue
		}
		if name != "$" {
			req.SetPathValue(name, rs[i])
		}
	}
}

// writeRaw writes a raw operation's answer.
func (d *dispatcher) writeRaw(w http.ResponseWriter, req *http.Request, reqID string, out *RawResponse) {
	h := w.Header()
	ct := out.ContentType
	if ct == "" {
		ct = d.contentType
	}
	h.Set("Content-Type", ct)
	h.Set("x-amzn-RequestId", reqID)
	h.Set("Content-Length", strconv.Itoa(len(out.Body)))
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = w.Write(out.Body)
	}
}

// isAuditNotStored reports whether err says the operation's own record
// failed to commit.
func isAuditNotStored(err error) bool {
	var a *auditNotStored
	return errors.As(err, &a)
}
