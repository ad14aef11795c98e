package s3api

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/objstore"
)

// Options configures a Handler. The zero value is usable.
type Options struct {
	// Logger receives internal errors; nil means slog.Default().
	Logger *slog.Logger
	// Auditor receives the CloudTrail record of every request that names
	// an operation; nil records nothing.
	Auditor awsapi.Auditor
	// Region is the region of requests whose caller has none; empty means
	// "us-east-1".
	Region string
}

// Handler serves the S3 API for the buckets of an FSBuckets. It is safe
// for concurrent use.
type Handler struct {
	buckets *objstore.FSBuckets
	logger  *slog.Logger
	auditor awsapi.Auditor
	region  string
	// authorizer decides every call (see SetAuthorizer).
	authorizer awsapi.Authorizer
}

// New returns a Handler for the buckets of b.
func New(b *objstore.FSBuckets, opts Options) *Handler {
	h := &Handler{buckets: b, logger: opts.Logger, auditor: opts.Auditor, region: opts.Region}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.region == "" {
		h.region = "us-east-1"
	}
	return h
}

// xmlns is the namespace of S3's XML documents.
const xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"

// request is one request being served.
type request struct {
	h      *Handler
	w      http.ResponseWriter
	r      *http.Request
	body   []byte
	caller *awsapi.Caller
	reqID  string
	bucket string
	key    string
	query  url.Values
	op     *operation
	// params is logged as the audit record's requestParameters.
	params map[string]any
}

// account returns the caller's account id.
func (rq *request) account() string { return rq.caller.Principal.AccountID }

// region returns the region the request was signed for.
func (rq *request) region() string {
	if rq.caller.Region != "" {
		return rq.caller.Region
	}
	return rq.h.region
}

// Serve answers one S3 request whose signature the server has verified
// and whose body it has read. The request context must carry the caller
// (see awsapi.WithCaller).
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, body []byte) {
	rq := &request{h: h, w: w, r: r, body: body, query: r.URL.Query()}
	rq.bucket, rq.key = target(r)
	rq.op = route(r.Method, rq.bucket, rq.key, rq.query, r.Header)
	c := awsapi.CallerFrom(r.Context())
	if c == nil || c.Principal == nil {
		rq.reqID = newRequestID()
		h.logger.ErrorContext(r.Context(), "s3 request reached the API without a caller", slog.String("path", r.URL.Path))
		rq.writeError(internalError())
		return
	}
	rq.caller = c
	rq.reqID = c.RequestID
	if rq.reqID == "" {
		rq.reqID = newRequestID()
		cc := *c
		cc.RequestID = rq.reqID
		rq.caller = &cc
	}
	rq.params = rq.auditParams()

	// A call that changes something is answered only once its record is
	// committed (awsapi.CommitAuditor): its answer is held until then.
	var held *heldResponse
	if _, ok := h.auditor.(awsapi.CommitAuditor); ok && !rq.op.readOnly && rq.op.name != "" {
		held = &heldResponse{header: http.Header{}, status: http.StatusOK}
		rq.w = held
	}
	var errCode, errMsg string
	if e := rq.authorizeIdentity(); e != nil {
		// A refused call never runs; its record says AccessDenied, as
		// CloudTrail records S3's identity-policy denials.
		errCode, errMsg = e.Code, e.Message
		rq.writeError(e)
	} else if err := rq.invoke(); err != nil {
		e := rq.toS3Error(err)
		errCode, errMsg = e.Code, e.Message
		rq.writeError(e)
	}
	if h.auditor != nil && rq.op.name != "" {
		call := awsapi.AuditCall{Service: "s3", Op: rq.op.name, ReadOnly: rq.op.readOnly, Params: rq.params,
			ErrCode: errCode, ErrMsg: errMsg, RawParams: true}
		if rq.op.data && rq.bucket != "" && rq.key != "" {
			// Object-level calls are data events, with the object and its
			// bucket as resources, as CloudTrail records them.
			call.Data = true
			call.Resources = []awsapi.AuditResource{
				{Type: "AWS::S3::Object", ARN: objectARN(rq.bucket, rq.key)},
				{AccountID: rq.ownerAccount(), Type: "AWS::S3::Bucket", ARN: bucketARN(rq.bucket)},
			}
		}
		err := awsapi.RecordCall(r.Context(), h.auditor, rq.op.readOnly, call.Record(rq.caller))
		if err != nil {
			h.logger.ErrorContext(r.Context(), "self-audit record not stored; answering 503", slog.String("operation", rq.op.name), slog.Any("err", err))
			rq.w = w
			rq.writeError(&s3Error{Code: "ServiceUnavailable", Message: awsapi.AuditUnavailable().Message, Status: http.StatusServiceUnavailable})
			return
		}
	}
	if held != nil {
		for k, v := range held.header {
			w.Header()[k] = v
		}
		w.WriteHeader(held.status)
		w.Write(held.body.Bytes())
	}
}

// heldResponse keeps an answer until the call's record is committed.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) { h.status = status }

func (h *heldResponse) Write(p []byte) (int, error) { return h.body.Write(p) }

// invoke runs the operation, turning a panic into an error.
func (rq *request) invoke() (err error) {
	defer func() {
		if p := recover(); p != nil {
			rq.h.logger.ErrorContext(rq.r.Context(), "s3 operation panicked", slog.String("operation", rq.op.name),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("operation %s panicked: %v", rq.op.name, p)
		}
	}()
	return rq.op.run(rq)
}

// splitPath splits a path-style request path into bucket and key.
func splitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// newRequestID returns an id in S3's form: 16 upper-case hex digits.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// canonicalID is the owner id reported for an account: S3 reports a
// 64-hex-digit canonical user id, which opentrail derives from the
// account id.
func canonicalID(account string) string {
	sum := sha256.Sum256([]byte("opentrail canonical user " + account))
	return hex.EncodeToString(sum[:])
}

// auditParams returns the requestParameters CloudTrail logs for S3
// calls: bucketName, Host, key and the query parameters.
func (rq *request) auditParams() map[string]any {
	p := map[string]any{"Host": rq.r.Host}
	if rq.bucket != "" {
		p["bucketName"] = rq.bucket
	}
	if rq.key != "" {
		p["key"] = rq.key
	}
	for k, vs := range rq.query {
		if k == "x-id" || strings.HasPrefix(strings.ToLower(k), "x-amz-") || len(vs) == 0 {
			continue
		}
		p[k] = vs[0]
	}
	return p
}

// writeXML sends v as an XML document with the given status.
func (rq *request) writeXML(status int, v any) error {
	b, err := xml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	b = append([]byte(xml.Header), b...)
	h := rq.w.Header()
	h.Set("x-amz-request-id", rq.reqID)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write(b)
	return nil
}

// writeEmpty sends a response without a body.
func (rq *request) writeEmpty(status int) {
	rq.w.Header().Set("x-amz-request-id", rq.reqID)
	rq.w.WriteHeader(status)
}
