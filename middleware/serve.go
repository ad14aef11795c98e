package middleware

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/capture"
)

// Wrap returns a handler that records every call to h. h may be a
// ServeMux (the pattern a request matches then names its operation) or
// one route's handler.
func (m *Middleware) Wrap(h http.Handler) http.Handler {
	mux, _ := h.(*http.ServeMux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, h, mux)
	})
}

// call is one request on its way through the middleware.
type call struct {
	ex         capture.Exchange
	before     bool // the intent is stored before the handler runs
	unrecorded bool // let through without a stored intent (FailOpen)
	storeErr   error
	keep       int // bytes of a successful answer kept for responseElements
	panicked   string
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, h http.Handler, mux *http.ServeMux) {
	c := &call{}
	c.ex.Time = m.o.Now()
	c.ex.EventID = awsapi.NewUUID()
	c.ex.SourceIP = capture.SourceIP(r, m.o.TrustedProxyHeader, m.proxies)
	c.ex.UserAgent = r.UserAgent()
	c.ex.Host = r.Host
	c.ex.TLS = awsapi.TLSDetailsFrom(r)
	c.ex.Region = m.o.Region
	if m.o.AWSProtocol {
		if refused := m.identifyAWS(w, r, c); refused {
			return
		}
	} else {
		m.identify(r, c, mux)
	}
	if m.o.Identity != nil {
		if p := m.o.Identity(r); p != nil {
			c.ex.Principal = principal(p)
		}
	}
	if !c.ex.Call.ReadOnly && m.o.ResponseElements > 0 {
		c.keep = min(m.o.ResponseElements, capture.MaxResponseBody)
	}

	c.before = !c.ex.Call.ReadOnly || m.o.ReadOnlyBefore
	if c.before {
		if err := m.intend(r.Context(), c); err != nil {
			if !m.o.FailOpen {
				m.log.Warn("capture: call refused, its record cannot be stored", "eventName", c.ex.Call.Name, "err", err)
				m.refuse(w, r, c, http.StatusServiceUnavailable, "ServiceUnavailable",
					"The call was not made because its audit record cannot be stored; retry later.")
				return
			}
			m.log.Warn("capture: call let through unrecorded (fail_open)", "eventName", c.ex.Call.Name, "err", err)
			c.unrecorded, c.storeErr = true, err
		} else {
			m.inflight.add(c.ex.EventID)
			defer m.inflight.remove(c.ex.EventID)
		}
	}

	rw := &responseWriter{ResponseWriter: w, call: c}
	var in *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		in = &countingBody{ReadCloser: r.Body}
		r.Body = in
	}
	defer func() {
		p := recover()
		if in != nil {
			c.ex.BytesIn = in.n.Load()
		}
		c.ex.BytesOut = rw.n
		c.ex.Status = rw.status
		c.ex.ResponseHeader = w.Header()
		c.ex.ResponseBody = rw.kept()
		c.ex.RequestID = requestID(w.Header())
		if p != nil {
			if c.ex.Status == 0 || !rw.wrote {
				c.ex.Status = http.StatusInternalServerError
			}
			c.panicked = fmt.Sprintf("The handler panicked: %v", p)
		} else {
			if c.ex.Status == 0 {
				c.ex.Status = http.StatusOK
			}
			rw.flush()
		}
		m.complete(r.Context(), c)
		if p != nil {
			panic(p) // as if unwrapped: net/http logs it and drops the connection
		}
	}()
	h.ServeHTTP(rw, r)
}

// intend stores the call's intent.
func (m *Middleware) intend(ctx context.Context, c *call) error {
	rec := m.record(c)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.CommitTimeout)
	defer cancel()
	return m.rec.Intend(ctx, rec, m.o.Lease)
}

// complete stores the call's final record, or queues it when the store
// cannot take it.
func (m *Middleware) complete(ctx context.Context, c *call) {
	rec := m.record(c)
	if c.unrecorded {
		m.gap.add(m.o.Account, rec, true, c.ex.Time, c.storeErr)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.CommitTimeout)
	defer cancel()
	if err := m.rec.Complete(ctx, rec); err != nil {
		if c.before {
			m.log.Warn("capture: a call's final record cannot be stored; its intent records it until the record is retried", "eventID", c.ex.EventID, "err", err)
		} else {
			m.log.Warn("capture: a call's record cannot be stored; it is queued and retried", "eventID", c.ex.EventID, "err", err)
		}
		m.gap.add(m.o.Account, rec, !c.before, c.ex.Time, err)
	}
}

// record is the call's CloudTrail record: its intent while c.ex.Status is
// 0, its final record after. capture.Record writes it; what it does not
// say for a service's own calls is added here: recipientAccountId is the
// service's account, a final record carries the bytes transferred (S3
// calls have them already), an error without message the handler's
// panic, and a successful mutating call its small JSON answer as
// responseElements when Options.ResponseElements allows.
func (m *Middleware) record(c *call) []byte {
	rec := capture.Record(&c.ex)
	set := map[string]any{"recipientAccountId": m.o.Account}
	if c.ex.Status != 0 {
		if c.ex.Call.Protocol != capture.ProtocolS3 {
			set["additionalEventData"] = map[string]any{
				"bytesTransferredIn":  c.ex.BytesIn,
				"bytesTransferredOut": c.ex.BytesOut,
			}
		}
		if c.panicked != "" {
			set["errorMessage"] = awsapi.Clip(c.panicked, 1024)
		}
		if c.keep > 0 && c.ex.Status < 300 && len(c.ex.ResponseBody) > 0 {
			var v map[string]any
			if json.Unmarshal(c.ex.ResponseBody, &v) == nil && len(v) > 0 {
				set["responseElements"] = capture.RedactParams(v, m.o.Redact)
			}
		}
	}
	return amend(rec, set)
}

// amend sets top-level members of a compact JSON record, keeping the
// order of the members it has; an object value is merged into an object
// member.
func amend(rec []byte, set map[string]any) []byte {
	dec := json.NewDecoder(bytes.NewReader(rec))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return rec
	}
	var out bytes.Buffer
	out.WriteByte('{')
	write := func(k string, v json.RawMessage) {
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		out.Write(kb)
		out.WriteByte(':')
		out.Write(v)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return rec
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return rec
		}
		if nv, ok := set[k]; ok {
			delete(set, k)
			if obj, isObj := nv.(map[string]any); isObj && len(v) > 0 && v[0] == '{' {
				var old map[string]any
				if json.Unmarshal(v, &old) == nil {
					for ok, ov := range old {
						if _, taken := obj[ok]; !taken {
							obj[ok] = ov
						}
					}
				}
			}
			v = marshal(nv)
		}
		write(k, v)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		write(k, marshal(set[k]))
	}
	out.WriteByte('}')
	return out.Bytes()
}

func marshal(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return json.RawMessage("null")
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// refuse answers a call that is not made, in the shape its protocol's
// clients read, and records the refusal when it is no store failure.
func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request, c *call, status int, code, message string) {
	writeError(w, r, c.ex.Call.Protocol, m.o.AWSProtocol, c.ex.EventID, status, code, message)
}

// countingBody counts the bytes the handler reads of a request body.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// responseWriter counts what the handler writes and keeps the start of an
// error answer (for errorCode and errorMessage) or of a small JSON answer
// (responseElements); the rest streams through unbuffered.
type responseWriter struct {
	http.ResponseWriter
	call   *call
	status int
	wrote  bool
	n      int64
	limit  int // bytes to keep; -1 once the answer is too long to keep
	buf    []byte
}

func (w *responseWriter) WriteHeader(status int) {
	if !w.wrote {
		if status >= 100 && status < 200 {
			w.ResponseWriter.WriteHeader(status)
			return
		}
		w.wrote, w.status = true, status
		switch {
		case status >= 400:
			w.limit = capture.MaxResponseBody
		case w.call.keep > 0 && isJSON(w.Header().Get("Content-Type")):
			w.limit = w.call.keep
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.limit > 0 {
		if len(w.buf)+len(p) <= w.limit {
			w.buf = append(w.buf, p...)
		} else if w.status >= 400 {
			w.buf = append(w.buf, p[:w.limit-len(w.buf)]...) // the start names the error
			w.limit = -1
		} else {
			w.buf, w.limit = nil, -1
		}
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *responseWriter) kept() []byte {
	if w.limit == 0 || (w.limit < 0 && w.status < 400) {
		return nil
	}
	return w.buf
}

// Flush passes a flush on, so streaming handlers stream.
func (w *responseWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.flush()
}

func (w *responseWriter) flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSockets): the call is recorded with
// status 101 and the bytes written before.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && !w.wrote {
		w.wrote, w.status = true, http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestID is the request id the handler answered with, if any.
func requestID(h http.Header) string {
	for _, k := range []string{"X-Amzn-Requestid", "X-Amz-Request-Id", "X-Request-Id"} {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}

func isJSON(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(strings.ToLower(ct))
	return ct == "application/json" || strings.HasSuffix(ct, "+json") || strings.HasPrefix(ct, "application/x-amz-json")
}

func principal(p *Principal) *auth.Principal {
	typ := p.Type
	if typ == "" {
		typ = "Unknown"
	}
	return &auth.Principal{Type: typ, PrincipalID: p.PrincipalID, ARN: p.ARN, AccountID: p.AccountID,
		UserName: p.UserName, AccessKeyID: p.AccessKeyID}
}

var errTooLarge = errors.New("request body too large")
