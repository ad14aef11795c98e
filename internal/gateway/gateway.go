// Package gateway is opentrail's capture gateway: a SigV4-aware reverse
// proxy put in front of an AWS-protocol service that has no CloudTrail of
// its own (an S3-compatible store, LocalStack, one's own service), which
// records every call through it as a CloudTrail record.
//
// Clients sign for the gateway as they sign for opentrail (the credential
// directory); the gateway verifies the signature before it reads the body,
// identifies the call ([capture.Identify]), and forwards it re-signed with
// the upstream's credentials, or unchanged when the client signed for the
// upstream itself. Bodies stream through, checked as they pass; only the
// small bodies of the JSON and query protocols are read whole, to record
// their input.
//
// A mutating call is forwarded only after its intent is committed through
// the [capture.Recorder]; if it cannot be, the gateway answers 503 in the
// protocol's error shape and the upstream never sees the call, unless
// FailOpen lets it through and the gap is recorded once the store commits
// again. Leases of intents still in flight are renewed. The final record
// is completed after the answer has been streamed to the client.
//
// The package sits on floor 4 (beside the services): it imports capture,
// auth, awsapi and sigv4, and is wired by internal/server and internal/cli.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/config"
)

// Defaults of Options.
const (
	DefaultLease        = 60 * time.Second
	DefaultMaxBodyBytes = 10 << 20
	DefaultGapQueue     = 10000
	// DefaultCommitTimeout bounds how long a call waits for its intent.
	DefaultCommitTimeout = 10 * time.Second
)

// Read-only modes (Options.ReadOnly).
const (
	ReadOnlyAfter  = "after"  // read-only calls are recorded after the answer
	ReadOnlyBefore = "before" // read-only calls are recorded like mutating ones
)

// Options configure a Gateway. Upstream, Directory and Recorder are
// required; the rest may stay zero.
type Options struct {
	// Addr is the host:port Start listens on.
	Addr string
	// TLS, when set, makes Start serve HTTPS (tlsDetails are recorded).
	TLS *tls.Config
	// Upstream is the service's base URL: http://127.0.0.1:7070.
	Upstream string
	// UpstreamAccessKeyID and UpstreamSecret sign what is forwarded. Without
	// them, verified requests are forwarded as the client signed them: the
	// upstream must accept the clients' keys (LocalStack does; an
	// S3-compatible store configured with the same key and secret does).
	UpstreamAccessKeyID, UpstreamSecret string
	// Directory verifies clients (local mode or configured principals).
	Directory *auth.Directory
	// Recorder stores records.
	Recorder capture.Recorder
	// FailOpen forwards a mutating call whose intent cannot be committed,
	// and records the gap once the store commits again.
	FailOpen bool
	// ReadOnly is ReadOnlyAfter (default) or ReadOnlyBefore.
	ReadOnly string
	// PassThroughUnknownKeys forwards requests signed with keys the
	// directory does not know, unchanged and unverified, recorded with
	// userIdentity.type Unknown; otherwise they are refused.
	PassThroughUnknownKeys bool
	// TrustedProxyHeader (X-Forwarded-For) names the client's address
	// when the peer is one of TrustedProxies.
	TrustedProxyHeader string
	TrustedProxies     []netip.Prefix
	// Account is the account the records of calls without a verified
	// principal are stored under (passed-through unknown keys, or the
	// upstream's own key when the directory does not hold it); default
	// the directory's organisation management account.
	Account string
	// Capture tunes identification and records (Redact, Routes).
	Capture capture.Options
	// Lease is the lease of an intent (default DefaultLease); in-flight
	// intents are renewed every Lease/3.
	Lease time.Duration
	// MaxBodyBytes bounds the bodies read whole (JSON, query, REST-JSON);
	// default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// GapQueue bounds the final records kept in memory while the store
	// cannot commit (default DefaultGapQueue).
	GapQueue int
	// CommitTimeout bounds the wait for an intent (default
	// DefaultCommitTimeout).
	CommitTimeout time.Duration
	// Transport reaches the upstream; nil means a transport of the
	// gateway's own.
	Transport http.RoundTripper
	Logger    *slog.Logger
	Clock     clock.Clock
}

// Gateway is the capture proxy. It is safe for concurrent use; create it
// with New, serve it with Start (or use it as an http.Handler), stop it
// with Close.
type Gateway struct {
	o        Options
	upstream *url.URL
	verifier verifiers
	client   *http.Client
	log      *slog.Logger
	clk      clock.Clock

	inflight inflight
	gaps     gaps
	pending  sync.WaitGroup // completions running after their answer
	stored   atomic.Uint64  // records the store has taken (kept records' refusals are judged by it)
	slots    chan struct{}  // bounds completions running in the background

	mu      sync.Mutex
	srv     *http.Server
	ln      net.Listener
	stop    chan struct{}
	stopped sync.WaitGroup
}

// New checks o and returns a Gateway; it starts nothing.
func New(o Options) (*Gateway, error) {
	if o.Upstream == "" {
		return nil, errors.New("gateway: no upstream: give the service's URL (--upstream http://127.0.0.1:7070, gateway.upstream)")
	}
	u, err := url.Parse(o.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway: upstream %q: want an http:// or https:// URL such as http://127.0.0.1:7070", o.Upstream)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return nil, fmt.Errorf("gateway: upstream %q: give the service's base URL without a path or query", o.Upstream)
	}
	if (o.UpstreamAccessKeyID == "") != (o.UpstreamSecret == "") {
		return nil, errors.New("gateway: give both the upstream access key id and its secret (--upstream-access-key-id and --upstream-secret-env), or neither to forward requests as clients signed them")
	}
	if o.Directory == nil {
		return nil, errors.New("gateway: no credential directory to verify clients with")
	}
	if o.Recorder == nil {
		return nil, errors.New("gateway: no recorder: records need a store (--endpoint of a running opentrail server, or --data)")
	}
	if o.Account == "" {
		o.Account = o.Directory.ManagementAccount()
	}
	_, upstreamKnown := o.Directory.Principal(o.UpstreamAccessKeyID)
	if o.Account == "" && (o.PassThroughUnknownKeys || (o.UpstreamAccessKeyID != "" && !upstreamKnown)) {
		return nil, errors.New("gateway: calls passed through unverified (pass_through_unknown_keys, or signed with the upstream's own key, which no principal holds) need an account to be recorded under: set gateway.account (--account), or configure an organisation")
	}
	switch o.ReadOnly {
	case "":
		o.ReadOnly = ReadOnlyAfter
	case ReadOnlyAfter, ReadOnlyBefore:
	default:
		return nil, fmt.Errorf("gateway: read_only %q: want after or before", o.ReadOnly)
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.GapQueue <= 0 {
		o.GapQueue = DefaultGapQueue
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = DefaultCommitTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Transport == nil {
		o.Transport = &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true, // bodies pass as they are
			WriteBufferSize:       64 << 10,
			ReadBufferSize:        64 << 10,
		}
	}
	g := &Gateway{
		o:        o,
		upstream: u,
		client: &http.Client{Transport: o.Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		log:   o.Logger,
		clk:   o.Clock,
		slots: make(chan struct{}, 4096),
		stop:  make(chan struct{}),
	}
	g.verifier.init(&g.o)
	g.gaps.limit = o.GapQueue
	g.stopped.Add(2)
	go g.renewLoop()
	go g.flushLoop()
	return g, nil
}

// Start listens on Options.Addr and serves in the background.
func (g *Gateway) Start() error {
	ln, err := net.Listen("tcp", g.o.Addr)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", g.o.Addr, err)
	}
	if g.o.TLS != nil {
		ln = tls.NewListener(ln, g.o.TLS)
	}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)}
	g.mu.Lock()
	g.srv, g.ln = srv, ln
	g.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("gateway: serve", "err", err)
		}
	}()
	return nil
}

// Addr is the address Start listens on ("" before Start).
func (g *Gateway) Addr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ln == nil {
		return ""
	}
	return g.ln.Addr().String()
}

// Close stops listening, waits for calls in flight and their records
// (until ctx ends), and makes a last attempt to write records kept in
// memory and the gap.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	srv := g.srv
	g.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
	}
	done := make(chan struct{})
	go func() { g.pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	close(g.stop)
	g.stopped.Wait()
	g.flush(ctx)
	if n := g.gaps.unwritten(); n > 0 {
		g.log.Error("gateway: records of calls forwarded while the store was unavailable are lost", "records", n)
	}
	return err
}

// FromConfig returns the Options of the configuration's gateway: section
// (validated); the caller adds Directory, Recorder, Logger, Clock and TLS.
func FromConfig(gc *config.Gateway) Options {
	routes := make([]capture.Route, len(gc.Routes))
	for i, r := range gc.Routes {
		routes[i] = capture.Route{Service: r.Service, Method: r.Method, Pattern: r.Pattern, Name: r.Name, ReadOnly: r.ReadOnly}
	}
	return Options{
		Addr:                   gc.Addr,
		Upstream:               gc.Upstream,
		UpstreamAccessKeyID:    gc.UpstreamAccessKeyID,
		UpstreamSecret:         gc.UpstreamSecret,
		FailOpen:               gc.FailOpen,
		ReadOnly:               gc.ReadOnly,
		PassThroughUnknownKeys: gc.PassThroughUnknownKeys,
		Account:                gc.Account,
		TrustedProxyHeader:     gc.TrustedProxyHeader,
		TrustedProxies:         gc.Prefixes(),
		Capture:                capture.Options{Redact: gc.Redact, Routes: routes},
		Lease:                  gc.Lease,
		MaxBodyBytes:           gc.MaxBodyBytes,
	}
}
