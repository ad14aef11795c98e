package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/sigv4"
)

const (
	upKey    = "UPSTREAMKEY"
	upSecret = "upstream-secret"
)

// seen is a request as the upstream received it.
type seen struct {
	method, path, query, host string
	header                    http.Header
	body                      []byte
	n                         int64 // bytes of a streamed body
	authErr                   error
	readErr                   error
}

// upstream is a small AWS-protocol service that checks every request's
// SigV4 signature with internal/sigv4 (the upstream's key, and "test" for
// requests passed through unchanged), keeps S3 objects in memory and
// answers JSON and query calls with an echo.
type upstream struct {
	*httptest.Server
	v sigv4.Verifier

	mu      sync.Mutex
	seen    []seen
	objects map[string][]byte
	// stream makes PUT bodies be discarded as they arrive (counted), and
	// GET of /big/<n> answer n bytes generated on the fly.
	stream bool
	// block, when set, holds requests until it is closed.
	block chan struct{}
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{objects: map[string][]byte{}}
	u.v.Credentials = func(k string) (string, bool) {
		switch k {
		case upKey:
			return upSecret, true
		case "test":
			return "test", true
		}
		return "", false
	}
	u.Server = httptest.NewServer(u)
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.seen...)
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u.block != nil {
		<-u.block
	}
	s := seen{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, host: r.Host, header: r.Header.Clone()}
	a, err := sigv4.Parse(r)
	var p *sigv4.Pending
	if err == nil {
		p, err = u.v.Begin(r, a)
	}
	if u.stream && err == nil {
		s.n, s.readErr = io.Copy(io.Discard, p.Reader(r.Body, r.ContentLength))
	} else {
		s.body, s.readErr = io.ReadAll(r.Body)
		s.n = int64(len(s.body))
		if err == nil && s.readErr == nil {
			s.body, err = p.Finish(s.body)
		}
	}
	s.authErr = err
	u.mu.Lock()
	u.seen = append(u.seen, s)
	u.mu.Unlock()
	if err != nil {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>`+err.Error()+`</Message></Error>`)
		return
	}
	if s.readErr != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Amz-Request-Id", "UPSTREAMREQ1")
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{"ok":true}`))
	case strings.Contains(r.Header.Get("Content-Type"), "x-www-form-urlencoded") || r.URL.Query().Has("Action"):
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<SendMessageResponse><SendMessageResult><MessageId>m-1</MessageId></SendMessageResult></SendMessageResponse>`))
	case u.stream && r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/big/"):
		var n int64
		_, _ = json.Unmarshal([]byte(strings.TrimPrefix(r.URL.Path, "/big/")), &n), 0
		w.Header().Set("Content-Length", strings.TrimPrefix(r.URL.Path, "/big/"))
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for n > 0 {
			m := min(n, int64(len(chunk)))
			if _, err := w.Write(chunk[:m]); err != nil {
				return
			}
			n -= m
		}
	case r.Method == http.MethodPut:
		u.mu.Lock()
		u.objects[r.URL.Path] = s.body
		u.mu.Unlock()
		w.Header().Set("ETag", `"etag1"`)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		u.mu.Lock()
		b, ok := u.objects[r.URL.Path]
		u.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
			return
		}
		w.Write(b)
	}
}

// recorder is a capture.Recorder in memory whose store can be taken down.
type recorder struct {
	mu       sync.Mutex
	down     error
	intents  map[string][]byte
	records  []map[string]any
	renewed  map[string]int
	complete chan struct{}
	// refuse, when set, refuses the records it matches even when up.
	refuse func(rec []byte) bool
}

func newRecorder() *recorder {
	return &recorder{intents: map[string][]byte{}, renewed: map[string]int{}, complete: make(chan struct{}, 1024)}
}

func eventID(rec []byte) string {
	var r struct {
		EventID string `json:"eventID"`
	}
	_ = json.Unmarshal(rec, &r)
	return r.EventID
}

func (m *recorder) setDown(err error) {
	m.mu.Lock()
	m.down = err
	m.mu.Unlock()
}

func (m *recorder) Intend(_ context.Context, rec []byte, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down != nil {
		return m.down
	}
	m.intents[eventID(rec)] = rec
	return nil
}

func (m *recorder) Renew(_ context.Context, ids []string, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down != nil {
		return m.down
	}
	for _, id := range ids {
		m.renewed[id]++
	}
	return nil
}

func (m *recorder) Complete(_ context.Context, rec []byte) error {
	m.mu.Lock()
	if err := m.down; err != nil {
		m.mu.Unlock()
		return err
	}
	if m.refuse != nil && m.refuse(rec) {
		m.mu.Unlock()
		return errors.New("final record is not a valid CloudTrail record")
	}
	var r map[string]any
	if err := json.Unmarshal(rec, &r); err != nil {
		m.mu.Unlock()
		return err
	}
	m.records = append(m.records, r)
	delete(m.intents, eventID(rec))
	m.mu.Unlock()
	m.complete <- struct{}{}
	return nil
}

// wait returns the records once n have been completed.
func (m *recorder) wait(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		m.mu.Lock()
		got := len(m.records)
		recs := append([]map[string]any(nil), m.records...)
		m.mu.Unlock()
		if got >= n {
			return recs
		}
		select {
		case <-m.complete:
		case <-deadline:
			t.Fatalf("%d records completed, want %d", got, n)
		}
	}
}

var errStoreDown = errors.New("records cannot be stored at http://127.0.0.1:1: connection refused")

// testGateway serves a gateway in front of up, recording into rec.
func testGateway(t *testing.T, up *upstream, rec capture.Recorder, tune func(*Options)) (*Gateway, *httptest.Server) {
	t.Helper()
	o := Options{Upstream: up.URL, UpstreamAccessKeyID: upKey, UpstreamSecret: upSecret,
		Directory: auth.Local(), Recorder: rec, Lease: 3 * time.Second}
	if tune != nil {
		tune(&o)
	}
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return g, newServer(t, g)
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signed builds a request signed as an AWS SDK signs it: for s3 with
// X-Amz-Content-Sha256 set to payloadHash ("" means the body's hash).
func signed(t testing.TB, method, url, service string, body io.Reader, payloadHash string, hdr map[string]string, akid, secret string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if payloadHash == "" {
		var b []byte
		if body != nil {
			b, _ = io.ReadAll(body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.ContentLength = int64(len(b))
		}
		payloadHash = hashHex(b)
	}
	if service == "s3" {
		r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, r, payloadHash, service, "us-east-1", time.Now(),
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func do(t testing.TB, r *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func field(rec map[string]any, path ...string) any {
	var v any = rec
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func ioNopCloser(r io.Reader) io.ReadCloser { return io.NopCloser(r) }

// newServer serves g on a test listener and closes both at the end.
func newServer(t testing.TB, g *Gateway) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	return srv
}

func testDirectory() *auth.Directory { return auth.Local() }

// discardRecorder takes every record at once and keeps none.
type discardRecorder struct{}

func newDiscardRecorder() discardRecorder { return discardRecorder{} }

func (discardRecorder) Intend(context.Context, []byte, time.Duration) error  { return nil }
func (discardRecorder) Renew(context.Context, []string, time.Duration) error { return nil }
func (discardRecorder) Complete(context.Context, []byte) error               { return nil }
