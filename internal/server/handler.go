package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/console"
	"github.com/opentrail/opentrail/internal/native"
	"github.com/opentrail/opentrail/internal/s3api"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/sts"
	"github.com/opentrail/opentrail/internal/topics"
)

// Handler returns the server's whole HTTP surface.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	health := &healthCheck{door: s.door, ready: s.ready, started: &s.started, s3: s.s3 != nil}
	mux.HandleFunc("GET /healthz", health.healthz)
	mux.HandleFunc("GET "+HealthPath, health.healthz)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.reg.Write(w)
	})
	// S3 event notifications come from webhooks that cannot sign; they
	// carry a source's token instead (notify.go).
	mux.HandleFunc("POST "+NotificationsPath, s.notify.serve)
	mux.HandleFunc(NotificationsPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		awsapi.WriteRESTJSONError(w, awsapi.NewUUID(), &awsapi.Error{Code: "MethodNotAllowedException", Status: http.StatusMethodNotAllowed,
			Message: "S3 event notifications are POSTed to " + NotificationsPath})
	})
	// SNS subscribers fetch the signing certificate and follow the
	// SubscribeURL and UnsubscribeURL without credentials (topics.Handler).
	mux.Handle("GET "+topics.PublicPrefix, s.topics.Handler())
	mux.HandleFunc("/", s.serveRoot)
	return mux
}

// serveRoot sends a browser's request to the console and everything else
// to the APIs: API clients sign their requests, browsers do not
// (console.IsBrowserRequest).
func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	if console.IsBrowserRequest(r) {
		s.console.ServeHTTP(w, r)
		return
	}
	s.serveAPI(w, r)
}

// nativeService is the credential scope service of the native endpoints.
const nativeService = native.Service

// apiServices are the services of the AWS APIs, routed by the credential
// scope's service; they are also the values of the service label of
// opentrail_http_requests_total, with nativeService.
var apiServices = []string{"cloudtrail", "cloudtrail-data", "events", "logs", "monitoring", "s3", "sns", "sts"}

// apiHandler returns what serves the AWS API a credential scope names, or
// an error for a service this server does not serve.
func (s *Server) apiHandler(r *http.Request, service string) (func(http.ResponseWriter, *http.Request, []byte), error) {
	// A request whose shape names another served service is not routed
	// by its scope (a CloudTrail target signed for logs would otherwise
	// reach the logs router as an unknown operation).
	if want := impliedService(r); want != "" && want != service {
		return nil, &sigv4.Error{Kind: sigv4.KindInvalidScope, Message: "Credential should be scoped to correct service: '" + want + "'. "}
	}
	if isQueryRequest(r) && service != "sns" && service != "monitoring" && service != "sts" {
		return nil, &sigv4.Error{Kind: sigv4.KindInvalidScope, Message: "Credential should be scoped to a service of the query protocol ('sns', 'monitoring' or 'sts'), not " + clip(service) + ". "}
	}
	switch service {
	case "cloudtrail":
		return s.cloudtrail.Handle, nil
	case "cloudtrail-data":
		return s.cloudtrailData.Handle, nil
	case "monitoring", "logs", "sns", "events":
		return s.rpcRouter(service).Handle, nil
	case "sts":
		return s.sts.Serve, nil
	case "s3":
		if s.s3 == nil {
			return nil, &awsapi.Error{Code: "NotImplemented", Status: http.StatusNotImplemented,
				Message: "opentrail delivers to the S3-compatible service configured as object_store, not to its built-in store; read the logs there"}
		}
		return s.s3.Serve, nil
	}
	return nil, awsapi.Errorf("UnknownServiceException",
		"opentrail does not serve the service %s named in the request's credential scope; sign requests for cloudtrail, cloudtrail-data, monitoring (CloudWatch), logs, sns, events (EventBridge), sts or s3 (and the native /v1 endpoints for opentrail)", clip(service))
}

// rpcRouter is the router of the monitoring, logs, sns or events service; nil
// for any other.
func (s *Server) rpcRouter(service string) *awsapi.Router {
	switch service {
	case "monitoring":
		return s.monitoring
	case "logs":
		return s.logs
	case "sns":
		return s.sns
	case "events":
		return s.events
	}
	return nil
}

// impliedService names the service a request's shape belongs to, when it
// is unmistakable, so that a scope naming another can be told which.
func impliedService(r *http.Request) string {
	t := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(t, "CloudTrail_20131101.") || strings.HasPrefix(t, "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."):
		return "cloudtrail"
	case t == "" && r.Method == http.MethodPost && r.URL.Path == "/PutAuditEvents":
		return "cloudtrail-data"
	case strings.HasPrefix(t, "GraniteServiceVersion20100801.") || strings.HasPrefix(r.URL.Path, "/service/GraniteServiceVersion20100801/"):
		return "monitoring"
	case strings.HasPrefix(t, "Logs_20140328."):
		return "logs"
	case strings.HasPrefix(t, "AWSEvents."):
		return "events"
	case looksS3(r):
		return "s3"
	}
	return ""
}

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// serveAPI authenticates a request with SigV4 and routes it: native
// endpoints by path (/v1/...), AWS APIs by the credential scope's service.
//
// Everything that can be checked before the body is: the claim parses, the
// scope names a service served here and a valid region, the access key is
// known, the request time is within the skew, every x-amz-* header is
// signed — and the signature itself when the payload hash is declared in
// X-Amz-Content-Sha256. Only then is the body read, into a budget taken as
// its bytes arrive (frontdoor.go).
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	reqID := awsapi.NewUUID()
	native := strings.HasPrefix(r.URL.Path, "/v1/")

	a, err := sigv4.Parse(r)
	if err != nil {
		s.authFails.Add(1)
		s.writeErr(w, r, reqID, errorService(r, native), native, err)
		return
	}
	service := a.Service
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.lastRequest.Store(time.Now().UnixNano())
	var serve func(http.ResponseWriter, *http.Request, []byte)
	if native {
		serve = s.native.Handle
		if service != nativeService {
			err = &sigv4.Error{Kind: sigv4.KindInvalidScope, Message: "Credential should be scoped to correct service: '" + nativeService + "'. "}
		}
	} else {
		serve, err = s.apiHandler(r, service)
	}
	if err != nil {
		s.authFails.Add(1)
		s.writeErr(w, r, reqID, errorService(r, native), native, err)
		return
	}
	pending, err := s.verifier.Begin(r, a)
	if err != nil {
		s.authFails.Add(1)
		s.auditAuthFailure(r, a, reqID, err)
		s.writeErr(w, r, reqID, service, native, err)
		return
	}
	body, hold, err := s.door.readBody(w, r, s.cfg.Limits.MaxBodyBytes, pending.Authenticated(), sourceIP(r))
	defer hold.release()
	if err != nil {
		s.writeErr(w, r, reqID, service, native, err)
		return
	}
	payload, err := pending.Finish(body)
	if err != nil {
		s.authFails.Add(1)
		s.auditAuthFailure(r, a, reqID, err)
		s.writeErr(w, r, reqID, service, native, err)
		return
	}
	hold.authenticated()
	p, ok := s.dir.Principal(a.AccessKeyID)
	if !ok { // the verifier knew the key, so this cannot happen
		s.writeErr(w, r, reqID, service, native, &sigv4.Error{Kind: sigv4.KindUnknownAccessKey, Message: "The security token included in the request is invalid."})
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
	// Only verified, bounded values label the metric: the scope's service
	// is one of apiServices or nativeService by now.
	s.requests.Add(service, 1)
	serve(w, r, payload)
}

// errorService is the service whose error format answers a request
// refused before its claimed service could be trusted: "s3" for what looks
// like an S3 request (so that S3 clients read S3's XML errors), the
// claimed monitoring, logs or sns (whose routers answer in the protocol
// the request speaks), "monitoring" for an RPC v2 CBOR request (only
// CloudWatch speaks it), "" (JSON) otherwise.
func errorService(r *http.Request, native bool) string {
	if native {
		return ""
	}
	cred := r.Header.Get("Authorization")
	if cred == "" {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	for _, svc := range []string{"monitoring", "logs", "sns"} {
		if strings.Contains(cred, "/"+svc+"/aws4_request") {
			return svc
		}
	}
	if awsapi.IsCBORRequest(r) {
		return "monitoring"
	}
	if r.Header.Get("X-Amz-Target") != "" || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json") {
		return ""
	}
	if strings.Contains(cred, "/sts/aws4_request") {
		return "sts"
	}
	if isQueryRequest(r) {
		// The query protocol (SNS, CloudWatch, STS share its error codes):
		// answered in its XML, whatever the scope claims.
		return "sns"
	}
	if strings.Contains(cred, "/aws4_request") {
		if strings.Contains(cred, "/s3/aws4_request") || looksS3(r) {
			return "s3"
		}
		if strings.Contains(cred, "/sts/aws4_request") {
			return "sts"
		}
		return ""
	}
	if r.Method == http.MethodPost && r.URL.Path == "/PutAuditEvents" {
		return ""
	}
	// Unsigned, or signed some other way (SigV2 "AWS key:signature"):
	// plain REST requests are S3's.
	return "s3"
}

// isQueryRequest reports whether r speaks the AWS query protocol: a form
// POST to /, or a GET of / with an Action parameter.
func isQueryRequest(r *http.Request) bool {
	if r.URL.Path != "/" || r.Header.Get("X-Amz-Target") != "" {
		return false
	}
	if r.Method == http.MethodPost {
		return strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
	}
	return r.Method == http.MethodGet && r.URL.Query().Has("Action")
}

// looksS3 reports whether r has the shape of an S3 REST request and of
// nothing else served here: no X-Amz-Target, no JSON, CBOR or form body,
// no query Action, not PutAuditEvents.
func looksS3(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return r.Header.Get("X-Amz-Target") == "" && !strings.HasPrefix(ct, "application/x-amz-json") &&
		!awsapi.IsCBORRequest(r) && !isQueryRequest(r) && !r.URL.Query().Has("Action") &&
		!(r.Method == http.MethodPost && (r.URL.Path == "/PutAuditEvents" || r.URL.Path == "/"))
}

// bodyTooLargeError is answered with 413.
type bodyTooLargeError struct{ limit int64 }

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("request body is larger than %d bytes; send fewer events per request (or raise limits.max_body_bytes)", e.limit)
}

// writeErr answers a request refused before it reached its service's
// router, in the error format of service: S3's XML ("s3"), the STS query
// protocol's XML ("sts"), the protocol the monitoring, logs or sns router
// would answer the request in (query XML, JSON 1.0/1.1 or RPC v2 CBOR),
// or AWS JSON — REST-JSON for the native API and cloudtrail-data, JSON 1.1
// otherwise — each written in one place (s3api.WriteError,
// sts.WriteError, awsapi's error writers). What the front door refuses
// (body too large, slow down, timeout, SigV4 errors) is mapped to each
// format's codes here.
func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, reqID, service string, native bool, err error) {
	switch rt := s.rpcRouter(service); {
	case !native && rt != nil && rt.AnswersQuery(r):
		rt.WriteError(w, r, reqID, queryError(err))
	case !native && rt != nil:
		rt.WriteError(w, r, reqID, jsonError(service, err))
	case service == "sts":
		writeSTSError(w, reqID, err)
	case service == "s3":
		writeS3Error(w, r, reqID, err)
	case native || service == "cloudtrail-data":
		awsapi.WriteRESTJSONError(w, reqID, jsonError(service, err))
	default:
		awsapi.WriteJSON11Error(w, reqID, jsonError(service, err))
	}
}

// jsonError maps a front-door refusal to the AWS JSON error clients read.
func jsonError(service string, err error) error {
	var (
		se      *sigv4.Error
		tl      *bodyTooLargeError
		slow    *errSlowDown
		timeout errBodyTimeout
	)
	switch {
	case errors.As(err, &se):
		return &awsapi.Error{Code: se.Code(service), Message: se.Message, Status: se.Status(service)}
	case errors.As(err, &tl):
		return &awsapi.Error{Code: "RequestEntityTooLargeException", Message: tl.Error(), Status: http.StatusRequestEntityTooLarge}
	case errors.As(err, &slow):
		return awsapi.NewError(awsapi.CodeThrottling, "Rate exceeded: "+slow.Error())
	case errors.As(err, &timeout):
		return &awsapi.Error{Code: "RequestTimeoutException", Message: timeout.Error(), Status: http.StatusRequestTimeout}
	}
	return err
}

// queryError maps a front-door refusal to the query protocol's error
// codes (those STS answers, which every query service shares).
func queryError(err error) error {
	var (
		se      *sigv4.Error
		tl      *bodyTooLargeError
		slow    *errSlowDown
		timeout errBodyTimeout
	)
	switch {
	case errors.As(err, &se):
		e := sts.AuthError(se)
		return &awsapi.Error{Code: e.Code, Message: e.Message, Status: e.Status}
	case errors.As(err, &tl):
		return &awsapi.Error{Code: "RequestEntityTooLarge", Message: tl.Error(), Status: http.StatusRequestEntityTooLarge}
	case errors.As(err, &slow):
		return awsapi.NewError("Throttling", "Rate exceeded: "+slow.Error())
	case errors.As(err, &timeout):
		return &awsapi.Error{Code: "RequestTimeout", Message: timeout.Error(), Status: http.StatusRequestTimeout}
	}
	return err
}

// writeS3Error answers an S3 request refused before the S3 handler with
// S3's XML error and codes.
func writeS3Error(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	var (
		se      *sigv4.Error
		tl      *bodyTooLargeError
		slow    *errSlowDown
		timeout errBodyTimeout
	)
	switch {
	case errors.As(err, &se):
		msg := se.Message
		if se.Kind == sigv4.KindMissingAuthentication {
			msg = "Access Denied: the request is not signed; opentrail serves only requests signed with AWS Signature Version 4 (no anonymous access)."
		}
		s3api.WriteError(w, r, reqID, se.Code("s3"), msg, se.Status("s3"), se.HeadersNotSigned)
	case errors.As(err, &tl):
		s3api.WriteError(w, r, reqID, "EntityTooLarge", tl.Error(), http.StatusRequestEntityTooLarge, "")
	case errors.As(err, &slow):
		s3api.WriteError(w, r, reqID, "SlowDown", "Please reduce your request rate: "+slow.Error()+".", http.StatusServiceUnavailable, "")
	case errors.As(err, &timeout):
		s3api.WriteError(w, r, reqID, "RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period: "+timeout.Error()+".", http.StatusBadRequest, "")
	default:
		ae := &awsapi.Error{Code: "InternalError", Message: "We encountered an internal error. Please try again.", Status: http.StatusInternalServerError}
		errors.As(err, &ae)
		s3api.WriteError(w, r, reqID, ae.Code, ae.Message, ae.HTTPStatus(), "")
	}
}

// writeSTSError answers an STS request refused before reaching the STS
// handler with the query protocol's XML error and codes.
func writeSTSError(w http.ResponseWriter, reqID string, err error) {
	var (
		se   *sigv4.Error
		e    *sts.Error
		ae   *awsapi.Error
		tl   *bodyTooLargeError
		slow *errSlowDown
	)
	switch {
	case errors.As(err, &se):
		e = sts.AuthError(se)
	case errors.As(err, &e):
	case errors.As(err, &tl):
		e = &sts.Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Sender: true, Message: tl.Error()}
	case errors.As(err, &slow):
		e = &sts.Error{Status: http.StatusBadRequest, Code: "Throttling", Sender: true, Message: "Rate exceeded: " + slow.Error()}
	case errors.As(err, &ae):
		e = &sts.Error{Status: ae.HTTPStatus(), Code: ae.Code, Sender: ae.HTTPStatus() < 500, Message: ae.Message}
		if ae.Code == awsapi.CodeThrottling {
			e.Code = "Throttling" // the query protocol's name for it
		}
	default:
		e = &sts.Error{Status: http.StatusBadRequest, Code: "InvalidRequest", Sender: true, Message: err.Error()}
	}
	sts.WriteError(w, reqID, e)
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
	code := se.Code(a.Service)
	if a.Service == "sts" || a.Service == "sns" {
		code = sts.AuthError(se).Code
	}
	s.Audit(awsapi.AuditRecord(c, a.Service, op, false, nil, nil, code, se.Message))
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
	if _, op, ok := strings.Cut(p, "/operation/"); ok && strings.HasPrefix(p, "service/") {
		p = op // RPC v2 CBOR
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
