package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/s3op"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// verifiers check clients' signatures: with the directory's secrets, and
// with the upstream's own secret for clients that sign for the upstream.
type verifiers struct {
	clients  sigv4.Verifier
	upstream sigv4.Verifier
}

func (v *verifiers) init(o *Options) {
	v.clients.Credentials = o.Directory.Secret
	v.clients.Now = o.Clock.Now
	akid, secret := o.UpstreamAccessKeyID, o.UpstreamSecret
	v.upstream.Credentials = func(k string) (string, bool) { return secret, akid != "" && k == akid }
	v.upstream.Now = o.Clock.Now
}

// how a verified request is forwarded.
const (
	resign      = iota // re-signed with the upstream credentials
	passThrough        // forwarded as the client signed it
)

// call is one request through the gateway.
type call struct {
	ex      capture.Exchange
	proto   string
	mode    int
	auth    *sigv4.Auth
	pending *sigv4.Pending // nil for an unverified pass-through
	body    []byte         // the body read whole (non-S3), nil otherwise
	reqID   string         // the gateway's request id
	intent  bool           // an intent was committed
	gap     bool           // forwarded without its intent (fail-open)
}

// ServeHTTP verifies, identifies, records and forwards one call.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{reqID: awsapi.NewUUID()}
	c.ex.Time = g.clk.Now().UTC()
	c.ex.EventID = awsapi.NewUUID()
	c.ex.SourceIP = g.sourceIP(r)
	c.ex.UserAgent = r.UserAgent()
	c.ex.Host = r.Host
	c.ex.TLS = awsapi.TLSDetailsFrom(r)

	a, err := sigv4.Parse(r)
	if err != nil {
		// Unsigned and malformed requests are refused: every call through
		// the gateway has a verified (or deliberately passed) principal.
		c.proto = protocolOf(r, "")
		service := ""
		if c.proto == capture.ProtocolRESTJSON {
			// Neither JSON nor query: most likely an anonymous S3 call.
			c.proto, service = capture.ProtocolS3, "s3"
		}
		writeError(w, r, c.proto, c.reqID, authError(c.proto, service, err))
		return
	}
	c.auth = a
	c.proto = protocolOf(r, a.Service)
	c.ex.AccessKeyID, c.ex.Region = a.AccessKeyID, a.Region
	c.ex.SignatureVersion = "SigV4"
	c.ex.AuthMethod = "AuthHeader"
	if a.Presigned {
		c.ex.AuthMethod = "QueryString"
	}
	if aerr := g.authenticate(r, c); aerr != nil {
		g.refuse(w, r, c, aerr)
		return
	}
	if capture.BodyRecorded(r, a.Service) && !(c.mode == passThrough && isChunked(a)) {
		// The input of the JSON and query protocols, and S3's bucket
		// configuration documents, are recorded: read them, bounded, and
		// check them against the signature.
		if r.ContentLength > g.o.MaxBodyBytes {
			writeError(w, r, c.proto, c.reqID, tooLarge(c.proto, g.o.MaxBodyBytes))
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, g.o.MaxBodyBytes+1))
		if err != nil {
			writeError(w, r, c.proto, c.reqID, &apiError{status: http.StatusBadRequest, code: "IncompleteBody", message: "The request body could not be read: " + err.Error()})
			return
		}
		if int64(len(b)) > g.o.MaxBodyBytes {
			writeError(w, r, c.proto, c.reqID, tooLarge(c.proto, g.o.MaxBodyBytes))
			return
		}
		if c.pending != nil {
			if b, err = c.pending.Finish(b); err != nil {
				g.refuse(w, r, c, authError(c.proto, a.Service, err))
				return
			}
		}
		c.body = b
		c.ex.BytesIn = int64(len(b))
	}
	c.ex.Call = capture.Identify(r, a.Service, c.body, &g.o.Capture)
	if c.ex.Principal == nil {
		c.ex.Account = g.o.Account
	}

	if !c.ex.Call.ReadOnly || g.o.ReadOnly == ReadOnlyBefore {
		if err := g.intend(r.Context(), c); err != nil {
			if !g.o.FailOpen {
				g.log.Warn("gateway: call refused: its record cannot be stored", "event", c.ex.Call.Name, "err", err)
				writeError(w, r, c.proto, c.reqID, unavailable(c.proto, err.Error()))
				return
			}
			g.log.Warn("gateway: call forwarded unrecorded (fail_open)", "event", c.ex.Call.Name, "err", err)
			c.gap = true
		}
	}
	g.forward(w, r, c)
	g.complete(c)
}

// authenticate verifies the client's signature before its body is read
// and decides how the request is forwarded.
func (g *Gateway) authenticate(r *http.Request, c *call) *apiError {
	a := c.auth
	v := &g.verifier.clients
	c.mode = resign
	switch {
	case g.o.UpstreamAccessKeyID != "" && a.AccessKeyID == g.o.UpstreamAccessKeyID:
		v, c.mode = &g.verifier.upstream, passThrough
	case g.o.UpstreamAccessKeyID == "":
		c.mode = passThrough
	}
	if _, known := v.Credentials(a.AccessKeyID); !known {
		if !g.o.PassThroughUnknownKeys {
			return authError(c.proto, a.Service, &sigv4.Error{Kind: sigv4.KindUnknownAccessKey, Message: unknownKeyMessage(a.Service)})
		}
		c.mode = passThrough
		return nil // forwarded unverified: the upstream judges it
	}
	p, err := v.Begin(r, a)
	if err != nil {
		return authError(c.proto, a.Service, err)
	}
	if a.SessionToken != "" && c.mode == resign {
		// The directory issues no session tokens; a token is the upstream's
		// business only when the client signs for the upstream.
		e := authError(c.proto, a.Service, &sigv4.Error{Kind: sigv4.KindUnknownAccessKey})
		e.message = "The security token included in the request is invalid: the gateway issues no session tokens; sign with a configured access key."
		return e
	}
	// The body is checked as it passes when the gateway forwards it
	// re-signed, or reads it whole; a body forwarded as signed is checked
	// by the upstream.
	if c.mode == resign || c.proto != capture.ProtocolS3 {
		c.pending = p
	}
	// A client signing with the upstream's own key is recorded as the
	// directory's principal if the directory knows the key, else by the
	// key (userIdentity type Unknown).
	c.ex.Principal, _ = g.o.Directory.Principal(a.AccessKeyID)
	return nil
}

// refuse answers a call whose signature the gateway refused. A call signed
// with a key the directory knows is recorded too, with the error, as
// CloudTrail records its known principals' wrongly signed calls (a wrong
// secret, an expired signature): the upstream never sees it. Calls by keys
// nobody knows are not recorded: nothing names their caller.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, c *call, e *apiError) {
	body := writeError(w, r, c.proto, c.reqID, e)
	p, known := g.o.Directory.Principal(c.auth.AccessKeyID)
	if !known {
		return
	}
	c.ex.Principal = p
	c.ex.Call = capture.Identify(r, c.auth.Service, nil, &g.o.Capture)
	c.ex.Status, c.ex.ResponseHeader, c.ex.ResponseBody = e.status, w.Header(), body
	g.complete(c)
}

func unknownKeyMessage(service string) string {
	if service == "s3" {
		return "The AWS Access Key Id you provided does not exist in our records."
	}
	return "The security token included in the request is invalid."
}

// forward sends the call upstream and streams the answer back.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, c *call) {
	in := &countingReader{r: r.Body}
	var body io.Reader = in
	length := r.ContentLength
	if c.body != nil {
		body, length = bytes.NewReader(c.body), int64(len(c.body))
	} else if c.pending != nil && c.mode == resign {
		body = c.pending.Reader(in, r.ContentLength)
		if isChunked(c.auth) {
			length = chunkedLength(c.auth.DecodedLength)
		}
	}
	if length == 0 {
		body = http.NoBody
	}
	out, err := g.upstreamRequest(r, c, body, length)
	if err != nil {
		g.fail(w, r, c, badGateway(c.proto, err))
		return
	}
	resp, err := g.client.Do(out)
	if c.body == nil {
		c.ex.BytesIn = in.n
		if isChunked(c.auth) && c.mode == resign {
			c.ex.BytesIn = max(0, min(in.n, c.auth.DecodedLength))
		}
	}
	if err != nil {
		var se *sigv4.Error
		switch {
		case errors.As(err, &se):
			// The body did not match its signature: the upstream was cut
			// off before the body completed.
			g.fail(w, r, c, authError(c.proto, c.auth.Service, se))
		case r.Context().Err() != nil || in.err != nil:
			c.ex.Err = errors.New("the client closed the connection before the request body was sent")
			c.ex.Status = 0
		default:
			g.fail(w, r, c, badGateway(c.proto, err))
		}
		return
	}
	defer resp.Body.Close()
	c.ex.Status = resp.StatusCode
	c.ex.ResponseHeader = resp.Header
	c.ex.RequestID = firstHeader(resp.Header, "X-Amz-Request-Id", "X-Amzn-Requestid", "X-Amz-Id-2")
	h := w.Header()
	for k, vs := range resp.Header {
		if hopByHop[k] {
			continue
		}
		h[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	keep := keepBody(c, resp)
	var kept *bytes.Buffer
	dst := io.Writer(w)
	if keep {
		kept = &bytes.Buffer{}
		dst = io.MultiWriter(w, &limitedBuffer{b: kept, n: capture.MaxResponseBody})
	}
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(dst, onlyReader{resp.Body}, *buf)
	copyBufs.Put(buf)
	c.ex.BytesOut = n
	if kept != nil {
		c.ex.ResponseBody = kept.Bytes()
	}
	if err != nil {
		c.ex.Err = errors.New("the answer was cut short: " + err.Error())
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// fail answers the client with the gateway's own error and records it.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, c *call, e *apiError) {
	c.ex.Status = e.status
	c.ex.ResponseBody = writeError(w, r, c.proto, c.reqID, e)
	c.ex.ResponseHeader = w.Header().Clone()
}

// keepBody says whether the answer is kept for the record: errors, and
// the small XML or JSON answers whose elements are recorded — never an
// object read.
func keepBody(c *call, resp *http.Response) bool {
	if resp.StatusCode >= 300 {
		return true
	}
	if c.ex.Call.Data && (c.ex.Call.ReadOnly || resp.Request.Method == http.MethodGet) {
		return false
	}
	return resp.ContentLength < 0 || resp.ContentLength <= capture.MaxResponseBody
}

// upstreamRequest builds the request sent upstream.
func (g *Gateway) upstreamRequest(r *http.Request, c *call, body io.Reader, length int64) (*http.Request, error) {
	u := *g.upstream
	path := r.URL.EscapedPath()
	query := r.URL.RawQuery
	host := r.Host
	if c.mode == resign {
		host = u.Host
		if c.proto == capture.ProtocolS3 {
			// A virtual-hosted-style request goes upstream path-style: the
			// upstream is reached by its own name.
			if b, ok := s3op.VirtualHostBucket(r.Host); ok {
				path = "/" + b + path
				if path == "/"+b+"/" && r.URL.EscapedPath() == "/" {
					path = "/" + b
				}
			}
		}
		if c.auth.Presigned {
			query = stripPresign(r.URL.Query())
		}
	}
	u.Path, _ = url.PathUnescape(path)
	u.RawPath = path
	u.RawQuery = query
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	out.URL.RawPath, out.URL.Path = u.RawPath, u.Path
	out.ContentLength = length
	if length == 0 {
		out.Body = http.NoBody
	}
	out.Host = host
	for k, vs := range r.Header {
		if hopByHop[k] || k == "Expect" || k == "Content-Length" {
			continue
		}
		out.Header[k] = vs
	}
	if r.ContentLength < 0 && length < 0 {
		out.TransferEncoding = []string{"chunked"}
	}
	if c.mode == passThrough {
		return out, nil
	}
	return out, g.sign(out, c)
}

// sign re-signs out with the upstream credentials, for the service and
// region of the client's scope and the payload hash it declared.
func (g *Gateway) sign(out *http.Request, c *call) error {
	a := c.auth
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
		out.Header.Del(k)
	}
	hash := a.ContentSHA256
	switch {
	case c.body != nil:
		sum := sha256.Sum256(c.body)
		hash = hex.EncodeToString(sum[:])
		if isChunked(a) {
			// A small aws-chunked document, read and decoded whole.
			for _, k := range []string{"Content-Encoding", "X-Amz-Decoded-Content-Length", "X-Amz-Trailer", "X-Amz-Sdk-Checksum-Algorithm"} {
				out.Header.Del(k)
			}
		}
	case isChunked(a):
		// Re-chunked and signed for the upstream (chunked.go); the
		// client's trailing checksum is checked here, not forwarded.
		hash = sigv4.StreamingPayload
		out.Header.Set("X-Amz-Decoded-Content-Length", strconv.FormatInt(a.DecodedLength, 10))
		out.Header.Del("X-Amz-Trailer")
		out.Header.Del("X-Amz-Sdk-Checksum-Algorithm")
		if !strings.Contains(strings.ToLower(out.Header.Get("Content-Encoding")), "aws-chunked") {
			out.Header.Set("Content-Encoding", "aws-chunked")
		}
	case hash == "":
		hash = sigv4.UnsignedPayload // a presigned S3 request
	}
	if a.Service == "s3" {
		out.Header.Set("X-Amz-Content-Sha256", hash)
	}
	creds := aws.Credentials{AccessKeyID: g.o.UpstreamAccessKeyID, SecretAccessKey: g.o.UpstreamSecret}
	s3 := func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = a.Service == "s3"
		o.DisableHeaderHoisting = true
	}
	now := g.clk.Now()
	if a.Presigned {
		q := out.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(presignValidity))
		out.URL.RawQuery = q.Encode()
		out.Header.Del("X-Amz-Content-Sha256")
		uri, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, out, hash, a.Service, a.Region, now, s3)
		if err != nil {
			return err
		}
		nu, err := out.URL.Parse(uri)
		if err != nil {
			return err
		}
		out.URL.RawQuery = nu.RawQuery
		return nil
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, out, hash, a.Service, a.Region, now, s3); err != nil {
		return err
	}
	if hash == sigv4.StreamingPayload {
		out.Body = io.NopCloser(newChunkSigner(out.Body, out, g.o.UpstreamSecret, a.Region, a.Service, now))
	}
	return nil
}

// presignValidity is the X-Amz-Expires of a request re-presigned for the
// upstream: it is sent at once.
const presignValidity = 60

func isChunked(a *sigv4.Auth) bool {
	switch a.ContentSHA256 {
	case sigv4.StreamingPayload, sigv4.StreamingPayloadTrailer, sigv4.StreamingUnsignedTrailer:
		return true
	}
	return false
}

// hopByHop are the headers that concern one connection, never forwarded.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// countingReader counts the bytes read from a client's body and keeps its
// error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// limitedBuffer keeps the first n bytes written to it and accepts the rest
// unkept.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// onlyReader hides a reader's WriterTo, so that CopyBuffer uses the
// pooled buffer.
type onlyReader struct{ io.Reader }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// stripPresign returns the query of a presigned request without its
// signature parameters.
func stripPresign(q url.Values) string {
	for k := range q {
		switch strings.ToLower(k) {
		case "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
			"x-amz-signedheaders", "x-amz-signature", "x-amz-security-token":
			q.Del(k)
		}
	}
	return q.Encode()
}
