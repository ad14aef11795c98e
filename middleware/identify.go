package middleware

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// identify names a call to the service's own API: eventName from the
// Operation option or the ServeMux pattern, requestParameters from the
// pattern's path values and the query string, redacted as the capture
// gateway redacts (the pattern is handed to capture.Identify as a route).
func (m *Middleware) identify(r *http.Request, c *call, mux *http.ServeMux) {
	pattern := r.Pattern
	if pattern == "" && mux != nil {
		_, pattern = mux.Handler(r)
	}
	name := ""
	if m.o.Operation != nil {
		name = m.o.Operation(r)
	}
	if name == "" {
		name = OperationName(r.Method, pattern, r.URL.Path)
	}
	readOnly := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	if m.o.ReadOnly != nil {
		readOnly = m.o.ReadOnly(r)
	}
	o := capture.Options{Redact: m.o.Redact}
	if p := routePattern(pattern); p != "" {
		o.Routes = []capture.Route{{Service: m.o.Service, Method: r.Method, Pattern: p, Name: name, ReadOnly: readOnly}}
	}
	c.ex.Call = capture.Identify(r, m.o.Service, nil, &o)
	c.ex.Call.Source, c.ex.Call.Name, c.ex.Call.ReadOnly = m.o.Service, name, readOnly
	// A service's own API is REST with JSON answers: a JSON answer kept
	// for the record (Options.ResponseElements) becomes responseElements.
	c.ex.Call.Protocol = capture.ProtocolRESTJSON
}

// routePattern is the path of a ServeMux pattern in the syntax of
// capture.Route: {rest...} becomes {rest+}; "" for a pattern that matches
// a prefix (trailing slash) or none.
func routePattern(pattern string) string {
	if _, rest, ok := strings.Cut(pattern, " "); ok {
		pattern = strings.TrimSpace(rest)
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // drop the host
	}
	pattern = strings.TrimSuffix(pattern, "{$}")
	if pattern == "" || (strings.HasSuffix(pattern, "/") && pattern != "/") {
		return ""
	}
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}") {
			segs[i] = s[:len(s)-4] + "+}"
		}
	}
	return strings.Join(segs, "/")
}

// OperationName is the eventName the middleware records for a request
// when Options.Operation does not name it: the method, then each literal
// segment of the ServeMux pattern the request matched, then "By" and the
// name of each wildcard, in CamelCase:
//
//	GET /orders               → GetOrders
//	GET /orders/{id}          → GetOrdersById
//	POST /orders/{id}/cancel  → PostOrdersByIdCancel
//	DELETE /files/{path...}   → DeleteFilesByPath
//	GET /                     → GetRoot
//
// A pattern's host is ignored. Without a pattern (a handler that is no
// ServeMux and no route of one), the name is the method and the path's
// first segment (GET /orders/42 → GetOrders), so ids in paths never become
// names.
func OperationName(method, pattern, path string) string {
	var b strings.Builder
	if m, rest, ok := strings.Cut(pattern, " "); ok {
		method, pattern = m, strings.TrimSpace(rest)
	}
	b.WriteString(camel(strings.ToLower(method)))
	if pattern != "" {
		if i := strings.IndexByte(pattern, '/'); i > 0 {
			pattern = pattern[i:] // drop the host
		}
	} else {
		first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		pattern = "/" + first
	}
	n := b.Len()
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "" || seg == "{$}" {
			continue
		}
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			b.WriteString("By")
			seg = strings.TrimSuffix(strings.TrimSuffix(seg[1:len(seg)-1], "..."), "...")
		}
		b.WriteString(camel(seg))
	}
	if b.Len() == n {
		b.WriteString("Root")
	}
	s := b.String()
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// camel turns "order-items" or "order_items" into "OrderItems", dropping
// what is not a letter or digit.
func camel(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r)) || r > unicode.MaxASCII {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// identifyAWS names a call to an AWS-protocol service as the capture
// gateway does, verifying its signature when Options.Credentials is set.
// It reports true when it has answered the request itself (refused it).
func (m *Middleware) identifyAWS(w http.ResponseWriter, r *http.Request, c *call) bool {
	service := m.o.Service
	a, _ := sigv4.Parse(r)
	if a != nil {
		service = a.Service
		c.ex.AccessKeyID = a.AccessKeyID
		c.ex.Region = a.Region
		c.ex.SignatureVersion = "SigV4"
		c.ex.AuthMethod = "AuthHeader"
		if a.Presigned {
			c.ex.AuthMethod = "QueryString"
		}
	}
	var body []byte
	if service != "s3" && carriesInput(r) {
		b, err := readBounded(r, m.o.MaxBodyBytes)
		if err != nil {
			c.ex.Call = capture.Identify(r, service, nil, &m.capOpts)
			if err == errTooLarge {
				m.refuseRecorded(w, r, c, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
					"The request body is larger than the service accepts.")
			} else {
				m.refuseRecorded(w, r, c, http.StatusBadRequest, "IncompleteBody",
					"The request body could not be read: "+err.Error())
			}
			return true
		}
		body = b
	}
	c.ex.Call = capture.Identify(r, service, body, &m.capOpts)
	if m.verifier == nil {
		return false
	}
	if err := m.verify(r, a, body); err != nil {
		if c.ex.Region == "" {
			c.ex.Region = m.o.Region
		}
		e, _ := err.(*sigv4.Error)
		code, status, msg := "AccessDenied", http.StatusForbidden, err.Error()
		if e != nil {
			code, status, msg = e.Code(service), e.Status(service), e.Message
		}
		m.refuseRecorded(w, r, c, status, code, msg)
		return true
	}
	_, p, _ := m.o.Credentials(a.AccessKeyID)
	if p != nil {
		c.ex.Principal = principal(p)
		if c.ex.Principal.AccessKeyID == "" {
			c.ex.Principal.AccessKeyID = a.AccessKeyID
		}
	}
	return false
}

// verify checks the request's signature; a request without one fails.
func (m *Middleware) verify(r *http.Request, a *sigv4.Auth, body []byte) error {
	if a == nil {
		_, err := sigv4.Parse(r)
		return err
	}
	p, err := m.verifier.Begin(r, a)
	if err != nil {
		return err
	}
	if p.Authenticated() {
		return nil // the header signature covers the declared payload hash
	}
	if body == nil && r.Body != nil && r.Body != http.NoBody {
		b, err := readBounded(r, m.o.MaxBodyBytes)
		if err != nil {
			return err
		}
		body = b
	}
	_, err = p.Finish(body)
	return err
}

// refuseRecorded refuses a call and records the refusal.
func (m *Middleware) refuseRecorded(w http.ResponseWriter, r *http.Request, c *call, status int, code, message string) {
	m.refuse(w, r, c, status, code, message)
	c.ex.Account = m.o.Account
	c.ex.Status = status
	c.ex.ResponseHeader = w.Header()
	c.ex.ResponseBody = errorBody(c.ex.Call.Protocol, true, c.ex.EventID, code, message)
	m.complete(r.Context(), c)
}

// carriesInput reports whether a request's body holds the call's input
// (JSON, query form, REST-JSON) rather than data (S3 objects).
func carriesInput(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	if r.Header.Get("X-Amz-Target") != "" {
		return true
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	return isJSON(ct) || strings.HasPrefix(ct, "application/x-www-form-urlencoded")
}

// readBounded reads r's body, at most limit bytes, and puts it back so the
// handler reads the same bytes.
func readBounded(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}
