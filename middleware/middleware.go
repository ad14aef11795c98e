// Package middleware records every call to a Go net/http service as a
// CloudTrail record in opentrail, with the capture gateway's record model:
// a mutating call reaches the wrapped handler only after its intent record
// is durable, and its final record (status, bytes, error) replaces the
// intent once the handler has returned. If the intent cannot be stored the
// call is refused with 503 (fail-closed) unless [Options.FailOpen] is set,
// in which case the call proceeds, its record waits in a bounded queue and
// a CaptureGap record says what happened once the store commits again.
//
// The package is public so that other modules can import it:
//
//	m, err := middleware.New(middleware.Options{
//		Endpoint: "http://127.0.0.1:4747",
//		Service:  "orders.example.com",
//		Account:  "123456789012",
//	})
//	...
//	http.ListenAndServe(":8080", m.Wrap(mux))
//	...
//	m.Close(ctx)
//
// A Middleware is safe for concurrent use. docs/middleware.md is the one-page
// guide.
package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// Recorder stores records durably; it has the method set of the capture
// gateway's recorder, so the opentrail server's remote recorder and an
// embedder's own both plug in. Records are compact CloudTrail JSON carrying
// their eventID and recipientAccountId. Methods must be safe for concurrent
// use.
type Recorder interface {
	// Intend returns once the intent record rec is durable, or with the
	// reason it is not. An intent not replaced by a final record (same
	// eventID) before its lease runs out is stored as the call's record.
	Intend(ctx context.Context, rec []byte, lease time.Duration) error
	// Renew extends the leases of intents still in flight.
	Renew(ctx context.Context, eventIDs []string, lease time.Duration) error
	// Complete stores a final record, replacing its intent if it had one.
	Complete(ctx context.Context, rec []byte) error
}

var _ capture.Recorder = Recorder(nil)

// Principal is who made a call, recorded as the record's userIdentity.
type Principal struct {
	Type        string // IAMUser, AssumedRole, WebIdentityUser, ... ; empty means Unknown
	PrincipalID string
	ARN         string
	AccountID   string
	UserName    string
	AccessKeyID string
}

// Route names an operation of a REST-JSON AWS-protocol service by method
// and path pattern ("/2015-03-31/functions/{FunctionName}"); see
// [Options.AWSProtocol].
type Route struct {
	Service  string // SigV4 signing name
	Method   string
	Pattern  string
	Name     string
	ReadOnly bool
}

// Options configure a [Middleware]. Service and Account are required, and
// one of Endpoint or Recorder.
type Options struct {
	// Endpoint is the opentrail server records are sent to
	// (http://127.0.0.1:4747). Requests to it are signed with AccessKeyID
	// and SecretAccessKey, or when those are empty with the usual AWS
	// credential chain, falling back to the local-mode pair test/test.
	Endpoint                     string
	AccessKeyID, SecretAccessKey string
	// Recorder stores the records instead of an Endpoint: tests and
	// embedders plug in their own.
	Recorder Recorder

	// Service is the records' eventSource, e.g. "orders.example.com".
	Service string
	// Account is the 12-digit account the records belong to
	// (recipientAccountId).
	Account string
	// Region is the records' awsRegion; empty means us-east-1.
	Region string

	// Identity names the caller of a request; nil, or a nil result, records
	// the caller as anonymous (userIdentity {"type": "AWSAccount"}, no
	// account), known by its sourceIPAddress; with
	// AWSProtocol, a signed request's access key (type Unknown) or its
	// verified principal. Identity runs before the handler.
	Identity func(*http.Request) *Principal
	// Operation names a request's eventName; nil means the name of the
	// ServeMux pattern that matched it (see [OperationName]).
	Operation func(*http.Request) string
	// ReadOnly says whether a request changes nothing; nil means GET, HEAD
	// and OPTIONS are read-only.
	ReadOnly func(*http.Request) bool
	// ReadOnlyBefore records read-only calls like mutating ones: intent
	// first, call refused if it cannot be stored. By default they are
	// recorded after the answer.
	ReadOnlyBefore bool
	// Redact names request parameters (query parameters, path values, AWS
	// inputs) recorded as "HIDDEN_DUE_TO_SECURITY_REASONS", in addition to
	// the built-in list. Names compare without case, at any depth.
	Redact []string
	// ResponseElements is the largest JSON answer of a successful mutating
	// call recorded as its responseElements; 0 records none.
	ResponseElements int

	// FailOpen lets a call through when its intent cannot be stored; its
	// record is queued (at most QueueSize records, default 10,000) and a
	// CaptureGap record is written once the store commits again.
	FailOpen  bool
	QueueSize int

	// TrustedProxyHeader (X-Forwarded-For) gives the client's address when
	// the connection comes from one of TrustedProxies (CIDRs or addresses).
	// The rightmost address in the header that is not itself a trusted
	// proxy is recorded as sourceIPAddress.
	TrustedProxyHeader string
	TrustedProxies     []string

	// AWSProtocol records the wrapped service as an AWS-protocol service:
	// the operation, input and principal are identified as the capture
	// gateway identifies them (S3 REST, JSON X-Amz-Target, query Action=,
	// REST-JSON by Routes), eventSource is the SigV4 signing name's
	// (Service when the request is unsigned), and a refusal is written in
	// the protocol's error shape. Signatures are not verified unless
	// Credentials is set; the service does its own authentication.
	AWSProtocol bool
	Routes      []Route
	// Credentials, with AWSProtocol, verifies SigV4 signatures: it returns
	// the secret and principal of an access key. Requests that fail are
	// refused in the protocol's error shape (and recorded).
	Credentials func(accessKeyID string) (secret string, p *Principal, ok bool)
	// MaxBodyBytes bounds the body of a JSON or query AWS-protocol request,
	// read to record its input (default 10 MiB; larger is refused with 413).
	MaxBodyBytes int64

	// MaxPending bounds the final records being written in the background
	// after their answers (default 10,000); a call finding it full writes
	// its record before its answer goes out.
	MaxPending int

	// Lease is how long an intent outlives a silent middleware (default
	// 60 s); leases of calls in flight are renewed every Lease/3.
	Lease time.Duration
	// CommitTimeout bounds the wait for an intent (default 10 s).
	CommitTimeout time.Duration
	// Logger gets the store's errors; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultLease         = 60 * time.Second
	DefaultCommitTimeout = 10 * time.Second
	DefaultQueueSize     = 10000
	DefaultMaxBodyBytes  = 10 << 20
)

// Middleware records the calls of the handlers it wraps. Create it with
// [New] and stop it with [Middleware.Close].
type Middleware struct {
	o        Options
	rec      Recorder
	capOpts  capture.Options
	proxies  []netip.Prefix
	verifier *sigv4.Verifier
	log      *slog.Logger

	inflight *inflight
	gap      *gapQueue
	// slots bounds, and pending counts, final records written in the
	// background.
	slots   chan struct{}
	pending sync.WaitGroup

	// closeRecorder stops the Recorder the middleware made (Endpoint).
	closeRecorder func(context.Context) error

	stop    chan struct{}
	done    sync.WaitGroup
	closeMu sync.Once
}

// New checks o and returns a Middleware; with an Endpoint it resolves the
// credentials to sign with. Its background work (lease renewal, the
// fail-open queue) runs until Close.
func New(o Options) (*Middleware, error) {
	if o.Service == "" {
		return nil, errors.New("middleware: Options.Service is empty: set the eventSource the records carry, e.g. orders.example.com")
	}
	if !cloudtrailarn.IsAccountID(o.Account) {
		return nil, fmt.Errorf("middleware: Options.Account %q is not a 12-digit account id: set the account the records belong to", o.Account)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = DefaultCommitTimeout
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultQueueSize
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Middleware{o: o, log: o.Logger, stop: make(chan struct{})}
	if m.log == nil {
		m.log = slog.Default()
	}
	for _, s := range o.TrustedProxies {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("middleware: Options.TrustedProxies: %w", err)
		}
		m.proxies = append(m.proxies, p)
	}
	m.capOpts.Redact = o.Redact
	for _, r := range o.Routes {
		m.capOpts.Routes = append(m.capOpts.Routes, capture.Route(r))
	}
	if o.Credentials != nil {
		m.verifier = &sigv4.Verifier{Credentials: func(akid string) (string, bool) {
			secret, _, ok := o.Credentials(akid)
			return secret, ok
		}, Now: o.Now}
	}
	switch {
	case o.Recorder != nil:
		m.rec = o.Recorder
	case o.Endpoint != "":
		r, closeRemote, err := remote(o)
		if err != nil {
			return nil, err
		}
		m.rec, m.closeRecorder = r, closeRemote
	default:
		return nil, errors.New("middleware: neither Options.Endpoint nor Options.Recorder is set: name the opentrail server records go to")
	}
	m.inflight = newInflight()
	m.slots = make(chan struct{}, o.MaxPending)
	m.gap = newGapQueue(o.QueueSize)
	m.done.Add(1)
	go m.background()
	return m, nil
}

// Close waits for the final records being written in the background,
// stops the background work after a last attempt to store what the
// fail-open queue holds, and returns an error counting the records still
// not stored when ctx ends (they are lost). Call it after the HTTP server
// has shut down: calls still in flight keep their intents, which the
// server records with an unknown outcome once their leases run out.
func (m *Middleware) Close(ctx context.Context) error {
	m.pending.Wait()
	m.closeMu.Do(func() { close(m.stop) })
	m.done.Wait()
	m.flush(ctx)
	var err error
	if n := m.gap.pending(); n > 0 {
		err = fmt.Errorf("middleware: %d records could not be stored before close: %w", n, m.gap.lastErr())
	}
	if m.closeRecorder != nil {
		err = errors.Join(err, m.closeRecorder(ctx))
	}
	return err
}

// background renews the leases of calls in flight every Lease/3 and
// retries the fail-open queue every second.
func (m *Middleware) background() {
	defer m.done.Done()
	renew := time.NewTicker(m.o.Lease / 3)
	defer renew.Stop()
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-renew.C:
			m.renew()
		case <-retry.C:
			ctx, cancel := context.WithTimeout(context.Background(), m.o.CommitTimeout)
			m.flush(ctx)
			cancel()
		}
	}
}

func (m *Middleware) renew() {
	ids := m.inflight.ids()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.o.CommitTimeout)
	defer cancel()
	if err := m.rec.Renew(ctx, ids, m.o.Lease); err != nil {
		m.log.Warn("capture: renewing the leases of calls in flight failed; a call still running when its lease ends is recorded with an unknown outcome", "calls", len(ids), "err", err)
	}
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not a CIDR: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an address nor a CIDR", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
