package server

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// Handler returns the server's whole HTTP surface.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.ready:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "ok\n")
		default:
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.reg.Write(w)
	})
	// S3 event notifications come from webhooks that cannot sign; they
	// carry a source's token instead (notify.go).
	mux.HandleFunc("POST "+NotificationsPath, s.serveNotification)
	mux.HandleFunc(NotificationsPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		awsapi.WriteRESTJSONError(w, awsapi.NewUUID(), &awsapi.Error{Code: "MethodNotAllowedException", Status: http.StatusMethodNotAllowed,
			Message: "S3 event notifications are POSTed to " + NotificationsPath})
	})
	mux.HandleFunc("/", s.serveAPI)
	return mux
}

// serveAPI authenticates a request with SigV4 and routes it: native
// endpoints by path (/v1/...), AWS APIs by the credential scope's service.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	reqID := awsapi.NewUUID()
	native := strings.HasPrefix(r.URL.Path, "/v1/")

	a, err := sigv4.Parse(r)
	if err != nil {
		s.authFails.Add(1)
		s.writeAuthError(w, reqID, "", native, err)
		return
	}
	service := a.Service
	s.requests.Add(service, 1)

	// Bodies in memory at once are bounded: a request reserves what it may
	// read (its Content-Length, or the limit) before reading, and waits a
	// little for room before being told to slow down.
	reserve := s.cfg.Limits.MaxBodyBytes
	if r.ContentLength >= 0 && r.ContentLength < reserve {
		reserve = r.ContentLength
	}
	reserve = max(reserve, 1)
	waitCtx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	err = s.bodyBudget.Acquire(waitCtx, reserve)
	cancel()
	if err != nil {
		s.writeErr(w, reqID, service, native, awsapi.Throttled())
		return
	}
	defer s.bodyBudget.Release(reserve)
	body, err := readBody(r, s.cfg.Limits.MaxBodyBytes)
	if err != nil {
		s.writeErr(w, reqID, service, native, err)
		return
	}
	payload, err := s.verifier.VerifyPayload(r, a, body)
	if err != nil {
		s.authFails.Add(1)
		s.auditAuthFailure(r, a, reqID, err)
		s.writeAuthError(w, reqID, service, native, err)
		return
	}
	p, ok := s.dir.Principal(a.AccessKeyID)
	if !ok { // the verifier knew the key, so this cannot happen
		s.writeAuthError(w, reqID, service, native, &sigv4.Error{Kind: sigv4.KindUnknownAccessKey, Message: "The security token included in the request is invalid."})
		return
	}
	caller := &awsapi.Caller{
		Principal: p,
		Region:    a.Region,
		Service:   service,
		SourceIP:  sourceIP(r),
		UserAgent: r.UserAgent(),
		RequestID: reqID,
		Time:      time.Now().UTC(),
		TLS:       awsapi.TLSDetailsFrom(r),
	}
	r = r.WithContext(awsapi.WithCaller(r.Context(), caller))

	if native {
		s.serveNative(w, r, payload)
		return
	}
	switch service {
	case "cloudtrail":
		s.cloudtrail.Handle(w, r, payload)
	case "cloudtrail-data":
		s.cloudtrailData.Handle(w, r, payload)
	case "s3":
		if s.s3 == nil {
			s.writeErr(w, reqID, service, false, &awsapi.Error{Code: "NotImplemented", Status: http.StatusNotImplemented,
				Message: "opentrail delivers to the S3-compatible service configured as object_store, not to its built-in store; read the logs there"})
			return
		}
		s.s3.Serve(w, r, payload)
	default:
		awsapi.WriteJSON11Error(w, reqID, awsapi.Errorf("UnknownServiceException",
			"opentrail does not serve the service %q named in the request's credential scope; sign requests for cloudtrail or cloudtrail-data", service))
	}
}

func (s *Server) serveNative(w http.ResponseWriter, r *http.Request, body []byte) {
	switch {
	case r.URL.Path == "/v1/events" && r.Method == http.MethodPost:
		s.postEvents(w, r, body)
	case r.URL.Path == "/v1/events" && r.Method == http.MethodGet:
		params := map[string]any{}
		for k, v := range r.URL.Query() {
			if k != "next" {
				params[k] = strings.Join(v, ",")
			}
		}
		s.serveReadAudited(w, r, "LookupEvents", params, s.native.Lookup)
	case r.URL.Path == "/v1/keys" && r.Method == http.MethodGet, r.URL.Path == "/v1/keys/rotate" && r.Method == http.MethodPost:
		s.serveKeys(w, r)
	case r.URL.Path == "/v1/trails" && r.Method == http.MethodGet:
		s.serveReadAudited(w, r, "ListTrails", map[string]any{}, s.native.Trails)
	default:
		c := awsapi.CallerFrom(r.Context())
		awsapi.WriteRESTJSONError(w, c.RequestID, &awsapi.Error{Code: "ResourceNotFoundException",
			Message: fmt.Sprintf("no endpoint %s %s; the native API has POST /v1/events, GET /v1/events, GET /v1/trails, GET /v1/keys and POST /v1/keys/rotate (and POST %s for S3 event notifications)", r.Method, r.URL.Path, NotificationsPath), Status: http.StatusNotFound})
	}
}

// serveReadAudited serves a read-only native call with h and records it
// as op, with the error type h answered with, if any.
func (s *Server) serveReadAudited(w http.ResponseWriter, r *http.Request, op string, params map[string]any, h func(http.ResponseWriter, *http.Request)) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	h(rec, r)
	errCode := ""
	if rec.status >= 400 {
		errCode = rec.Header().Get("X-Amzn-ErrorType")
	}
	s.Audit(awsapi.AuditRecord(awsapi.CallerFrom(r.Context()), "opentrail", op, true, params, nil, errCode, ""))
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// bodyTooLargeError is answered with 413.
type bodyTooLargeError struct{ limit int64 }

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("request body is larger than %d bytes; send fewer events per request (or raise limits.max_body_bytes)", e.limit)
}

// readBody reads the whole request body, refusing more than limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &bodyTooLargeError{limit}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &awsapi.Error{Code: "SerializationException", Message: "could not read the request body: " + err.Error(), Status: http.StatusBadRequest}
	}
	if int64(len(b)) > limit {
		return nil, &bodyTooLargeError{limit}
	}
	return b, nil
}

// gunzip inflates a gzip body, refusing to inflate past limit bytes.
func gunzip(body []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, &awsapi.Error{Code: "SerializationException", Message: "Content-Encoding is gzip but the body is not gzip data: " + err.Error(), Status: http.StatusBadRequest}
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, &awsapi.Error{Code: "SerializationException", Message: "the gzip body is corrupt: " + err.Error(), Status: http.StatusBadRequest}
	}
	if int64(len(out)) > limit {
		return nil, &bodyTooLargeError{limit}
	}
	return out, nil
}

func (s *Server) writeErr(w http.ResponseWriter, reqID, service string, native bool, err error) {
	var tl *bodyTooLargeError
	if errors.As(err, &tl) {
		err = &awsapi.Error{Code: "RequestEntityTooLargeException", Message: tl.Error(), Status: http.StatusRequestEntityTooLarge}
	}
	if service == "s3" {
		if tl != nil {
			err = &awsapi.Error{Code: "EntityTooLarge", Message: tl.Error(), Status: http.StatusRequestEntityTooLarge}
		}
		writeS3Error(w, reqID, err)
		return
	}
	if native || service == "cloudtrail-data" {
		awsapi.WriteRESTJSONError(w, reqID, err)
		return
	}
	awsapi.WriteJSON11Error(w, reqID, err)
}

func (s *Server) writeAuthError(w http.ResponseWriter, reqID, service string, native bool, err error) {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		s.writeErr(w, reqID, service, native, err)
		return
	}
	code := se.Code(service)
	s.writeErr(w, reqID, service, native, &awsapi.Error{Code: code, Message: se.Message, Status: se.Status()})
}

// auditAuthFailure records a refused call whose access key is known, as
// CloudTrail records failed calls by known principals.
func (s *Server) auditAuthFailure(r *http.Request, a *sigv4.Auth, reqID string, err error) {
	p, ok := s.dir.Principal(a.AccessKeyID)
	if !ok || s.dir.IsLocal() && a.AccessKeyID == "" {
		return
	}
	var se *sigv4.Error
	if !errors.As(err, &se) || se.Kind == sigv4.KindUnknownAccessKey {
		return
	}
	c := &awsapi.Caller{Principal: p, Region: a.Region, Service: a.Service, SourceIP: sourceIP(r),
		UserAgent: r.UserAgent(), RequestID: reqID, Time: time.Now().UTC(), TLS: awsapi.TLSDetailsFrom(r)}
	op := operationName(r)
	s.Audit(awsapi.AuditRecord(c, a.Service, op, false, nil, nil, se.Code(a.Service), se.Message))
}

// operationName names the operation a request asks for, for records of
// requests refused before routing.
func operationName(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if i := strings.LastIndexByte(t, '.'); i >= 0 {
			t = t[i+1:]
		}
		if len(t) > 128 {
			t = t[:128]
		}
		return t
	}
	p := strings.Trim(r.URL.Path, "/")
	if p == "" {
		return r.Method
	}
	if len(p) > 128 {
		p = p[:128]
	}
	return p
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeS3Error answers an S3 request that failed before reaching the S3
// API (signature, body size) with S3's XML error document.
func writeS3Error(w http.ResponseWriter, reqID string, err error) {
	ae := &awsapi.Error{Code: "InternalError", Message: "We encountered an internal error. Please try again.", Status: http.StatusInternalServerError}
	errors.As(err, &ae)
	status := ae.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", reqID)
	w.WriteHeader(status)
	body, _ := xml.Marshal(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestID string `xml:"RequestId"`
	}{Code: ae.Code, Message: ae.Message, RequestID: reqID})
	io.WriteString(w, xml.Header)
	w.Write(body)
}
