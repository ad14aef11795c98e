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
	renewing   bool // the intent's lease is being renewed
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
	c.ex.Account = m.o.Account
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
			c.renewing = true
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
		if !rw.hijacked {
			c.ex.ResponseHeader = w.Header().Clone()
		}
		c.ex.ResponseBody = rw.kept()
		c.ex.RequestID = requestID(c.ex.ResponseHeader)
		if p != nil {
			if c.ex.Status == 0 || !rw.wrote {
				c.ex.Status = http.StatusInternalServerError
			}
			c.panicked = fmt.Sprintf("The handler panicked: %v", p)
		} else if c.ex.Status == 0 {
			c.ex.Status = http.StatusOK
		}
		m.finish(r.Context(), c, p == nil)
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

// finish writes the call's final record: in the background when it may
// (the answer then goes out without waiting for the store; Close waits
// for these writes), else before returning, as when too many writes are
// already waiting (MaxPending) or the handler panicked.
func (m *Middleware) finish(ctx context.Context, c *call, background bool) {
	if background {
		select {
		case m.slots <- struct{}{}:
			m.pending.Add(1)
			go func() {
				defer func() { <-m.slots; m.pending.Done() }()
				m.complete(ctx, c)
			}()
			return
		default:
		}
	}
	m.complete(ctx, c)
}

// complete stores the call's final record, or queues it when the store
// cannot take it.
func (m *Middleware) complete(ctx context.Context, c *call) {
	if c.renewing {
		defer m.inflight.remove(c.ex.EventID) // renewed until its final record is stored or queued
	}
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
// say for a service's own calls is added here: a final record's bytes
// transferred (S3 calls have them already), and the panic of a handler
// that panicked as its errorMessage.
func (m *Middleware) record(c *call) []byte {
	rec := capture.Record(&c.ex)
	if c.ex.Status == 0 {
		return rec
	}
	set := map[string]any{}
	if c.ex.Call.Protocol != capture.ProtocolS3 {
		set["additionalEventData"] = map[string]any{
			"bytesTransferredIn":  c.ex.BytesIn,
			"bytesTransferredOut": c.ex.BytesOut,
		}
	}
	if c.panicked != "" {
		set["errorMessage"] = awsapi.Clip(c.panicked, 1024)
	}
	return amend(rec, set)
}

// amend sets top-level members of a compact JSON record, keeping the
// order of the members it has; an object value is merged into an object
// member.
func amend(rec []byte, set map[string]any) []byte {
	members, ok := topMembers(rec)
	if !ok {
		return rec
	}
	out := make([]byte, 0, len(rec)+128)
	out = append(out, '{')
	write := func(quotedKey, v []byte) {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, quotedKey...)
		out = append(out, ':')
		out = append(out, v...)
	}
	for _, mb := range members {
		v := mb.val
		if nv, ok := set[mb.key]; ok {
			delete(set, mb.key)
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
		write(mb.quoted, v)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		write(marshal(k), marshal(set[k]))
	}
	return append(out, '}')
}

// member is one member of a JSON object: key is its name as written
// between the quotes (escapes not undone: the names amend sets have none).
type member struct {
	key         string
	quoted, val []byte
}

// topMembers splits a compact JSON object, as capture.Record writes it,
// into its members without decoding their values. ok is false for
// anything else.
func topMembers(b []byte) (ms []member, ok bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, false
	}
	i := 1
	for i < len(b)-1 {
		if b[i] != '"' {
			return nil, false
		}
		end := stringEnd(b, i)
		if end < 0 || end+1 >= len(b) || b[end+1] != ':' {
			return nil, false
		}
		start := end + 2
		j, depth := start, 0
		for ; j < len(b); j++ {
			c := b[j]
			if c == '"' {
				if j = stringEnd(b, j); j < 0 {
					return nil, false
				}
				continue
			}
			if c == '{' || c == '[' {
				depth++
			} else if c == ']' || (c == '}' && depth > 0) {
				depth--
			} else if depth == 0 && (c == ',' || c == '}') {
				break
			}
		}
		if j >= len(b) || j == start {
			return nil, false
		}
		ms = append(ms, member{key: string(b[i+1 : end]), quoted: b[i : end+1], val: b[start:j]})
		i = j + 1
	}
	return ms, true
}

// stringEnd is the index of the quote closing the string that opens at i.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return -1
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
	// hijacked: the handler took the connection; the ResponseWriter is
	// not touched again (its header belongs to net/http no more).
	hijacked bool
	n        int64
	limit    int // bytes to keep; -1 once the answer is too long to keep
	buf      []byte
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
	if err == nil {
		w.hijacked = true
		if !w.wrote {
			w.wrote, w.status = true, http.StatusSwitchingProtocols
		}
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
