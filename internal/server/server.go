// Package server builds every opentrail component from a Config and runs
// them: the event store, the ingester, the AWS-compatible APIs and the
// native endpoints, all on one HTTP port. Components start in dependency
// order and stop in reverse.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/opentrail/opentrail/internal/aggregate"
	"github.com/opentrail/opentrail/internal/alarms"
	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/authz"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/compact"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/console"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/eventrules"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/geoip"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/insights"
	"github.com/opentrail/opentrail/internal/keys"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/metrics"
	"github.com/opentrail/opentrail/internal/native"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/rollup"
	"github.com/opentrail/opentrail/internal/s3api"
	"github.com/opentrail/opentrail/internal/sigmawatch"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/sts"
	"github.com/opentrail/opentrail/internal/tlsconf"
	"github.com/opentrail/opentrail/internal/topics"
	"github.com/opentrail/opentrail/internal/trail"
	"github.com/opentrail/opentrail/internal/users"
)

// Server is a running opentrail. Create it with New, then Run.
type Server struct {
	cfg config.Config
	log *slog.Logger

	dir *auth.Directory
	// authz decides what each principal may do (docs/authorization.md).
	authz     *authz.Authorizer
	verifier  *sigv4.Verifier
	reg       *metrics.Registry
	store     *store.Store
	ingester  *ingest.Ingester
	compactor *compact.Compactor

	buckets   objstore.Buckets
	fsBuckets *objstore.FSBuckets // nil unless the built-in store is in use
	keys      *keys.Keys          // digest signing keys: delivery, ListPublicKeys and /v1/keys
	deliverer *delivery.Deliverer
	// trailsChanged is signalled when a trail is created or changed; the
	// CIS pack's start-up retry waits on it (startCIS).
	trailsChanged chan struct{}
	s3            *s3api.Handler // the S3 API of the built-in store; nil with an external one
	sts           *sts.Handler   // GetCallerIdentity
	// logwatch keeps CloudWatch Logs' log groups, fed from the stream.
	logwatch *logwatch.Watch
	// aggregate makes aggregating trails' 5-minute AwsAggregatedEvent
	// summaries, appended through the ingester.
	aggregate *aggregate.Aggregator
	// eventRules keeps EventBridge rules and runs them over the stream.
	eventRules *eventrules.Rules
	// insights is the CloudTrail Insights detector over the stream.
	insights *insights.Detector
	// rollups keeps the built-in dashboards' hourly rollups of the stream.
	rollups *rollup.Rollups
	// capture holds the capture intents, their Recorder and reaper, and
	// the capture gateway of the gateway: section (capture.go).
	capture *capture

	cloudtrail     *awsapi.Router
	cloudtrailData *awsapi.RESTRouter
	// monitoring (CloudWatch: RPC v2 CBOR, JSON 1.0 and query), logs
	// (CloudWatch Logs: JSON 1.1) and sns (query) are routed by their
	// signing names; their services register operations into them.
	monitoring *awsapi.Router
	logs       *awsapi.Router
	sns        *awsapi.Router
	events     *awsapi.Router // EventBridge (JSON 1.1): event rules over the stream
	// topics is SNS's component: topics, subscriptions and delivery.
	topics *topics.Topics
	native *awsapi.PathRouter // the native /v1 API
	// console is the web console, served to browsers (handler.go); users
	// are its users (users.go).
	console *console.Console
	users   *users.Store
	// geoip places source IPs for the console's dashboards (nil: none
	// configured).
	geoip  *geoip.DB
	lake   *lake.Service  // Lake's queries and imports: started and closed with the server
	alarms *alarms.Engine // CloudWatch metrics and alarms: started and closed with the server
	// findings is the findings store every detector reports to (watch.go);
	// sigma the Sigma detector over the stream.
	findings *findings.Store
	sigma    *sigmawatch.Watch

	pollers []*importer.Poller // one per configured source (sources.go)
	// notify serves the S3 event notifications of the sources that take
	// them (notify.go).
	notify *notifications

	httpSrv  *http.Server
	listener net.Listener
	ready    chan struct{}
	started  time.Time // when Run began serving

	// tls serves the certificate when the port speaks HTTPS (tls.go);
	// nil for plain HTTP. selfSignedCert is the self-signed certificate's
	// file, "" when the certificate is the operator's.
	tls            *tlsconf.Reloader
	selfSignedCert string

	// bodyBudget bounds the request bytes held in memory at once; door
	// admits bodies into it (frontdoor.go).
	bodyBudget *semaphore.Weighted
	door       *frontDoor

	requests  *metrics.CounterVec
	authFails *metrics.Counter

	clock clock.Clock // retention's ticker; nil means clock.Real

	// inFlight counts API requests being served; lastRequest is when the
	// newest began (UnixNano). releaseMemoryLoop reads them.
	inFlight    atomic.Int64
	lastRequest atomic.Int64
}

// New opens the store and builds every component; it does not listen yet.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: logger, reg: metrics.NewRegistry(), ready: make(chan struct{}), trailsChanged: make(chan struct{}, 1)}
	s.dir = auth.FromConfig(&cfg)
	az, err := authz.New(&cfg, cfg.BaseDir)
	if err != nil {
		return nil, err
	}
	az.SetLogger(logger)
	s.authz = az
	mem := boundMemory(cfg.Limits)
	s.bodyBudget = semaphore.NewWeighted(mem.bodies)
	s.door = newFrontDoor(s.bodyBudget, mem.bodies, cfg.Limits.MaxBodyBytes, s.reg)
	s.verifier = &sigv4.Verifier{Credentials: s.dir.Secret}

	st, err := store.Open(ctx, cfg.Data, store.Options{Retention: cfg.RetentionDuration(), RetentionCoversImported: cfg.History.RetentionCoversImported, Logger: logger,
		LockWait: storeLockWait, MemoryLimit: mem.duckdb, BlockCache: mem.blocks})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.store = st
	if s.tls, s.selfSignedCert, err = setupTLS(&s.cfg, s.log, s.reg); err != nil {
		st.Close()
		return nil, err
	}
	s.ingester = ingest.New(st, ingest.Options{Logger: logger, Metrics: s.reg})
	s.compactor = compact.New(st, compact.Options{After: cfg.Storage.CompactAfter, MinEvents: cfg.Storage.CompactMinEvents,
		MaxWait: cfg.Storage.CompactMaxWait, Clock: s.clock, Logger: logger})

	tokenKey, err := s.tokenKey(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := s.openBuckets(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if s.keys, err = s.openKeys(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if s.topics, err = newTopics(&cfg, st, logger); err != nil {
		st.Close()
		return nil, err
	}
	s.deliverer = delivery.New(st, delivery.Options{
		Notices:        s.topics,
		Interval:       cfg.Delivery.Interval,
		MaxFileBytes:   cfg.Delivery.MaxFileBytes,
		DigestInterval: cfg.Delivery.DigestInterval,
		Keys:           s.keys,
		VerifyDigests:  cfg.Delivery.VerifyDigests,
		Buckets:        s.buckets,
		Org:            orgOf(&cfg),
		Logger:         logger,
		Metrics:        s.reg,
	})
	if err := s.newWatch(); err != nil {
		st.Close()
		return nil, err
	}
	s.cloudtrail = awsapi.NewRouter("cloudtrail", s, logger)
	s.cloudtrailData = awsapi.NewRESTRouter("cloudtrail-data", s, logger)
	s.monitoring = awsapi.NewRouter("monitoring", s, logger)
	s.monitoring.Speak(awsapi.CloudWatchProtocols())
	s.logs = awsapi.NewRouter("logs", s, logger)
	s.sns = awsapi.NewRouter("sns", s, logger)
	s.sns.Speak(awsapi.SNSProtocols())
	s.events = awsapi.NewRouter("events", s, logger)
	s.native = awsapi.NewPathRouter(nativeService, s, logger, native.NotFound(NotificationsPath))
	// Every call is authorized by the principal's policies before it runs
	// (docs/authorization.md).
	calls := callAuthorizer{s.authz}
	s.cloudtrail.SetAuthorizer(calls)
	s.cloudtrailData.SetAuthorizer(calls)
	s.monitoring.SetAuthorizer(calls)
	s.logs.SetAuthorizer(calls)
	s.sns.SetAuthorizer(calls)
	s.events.SetAuthorizer(calls)
	s.native.SetAuthorizer(calls)
	if err := s.newUsers(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if s.capture, err = newCapture(captureDeps{cfg: &s.cfg, dir: s.dir, ingester: s.ingester, tls: s.tls, clock: s.clock, log: logger}); err != nil {
		st.Close()
		return nil, err
	}
	if err := s.newServices(tokenKey); err != nil {
		s.capture.closeJournal()
		st.Close()
		return nil, err
	}
	if err := s.newConsole(); err != nil {
		st.Close()
		return nil, err
	}
	var targets []notifyTarget
	if s.pollers, targets, err = s.newPollers(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if s.fsBuckets != nil {
		s.s3 = s3api.New(s.fsBuckets, s3api.Options{Logger: logger, Auditor: s})
		s.s3.SetAuthorizer(calls)
	}
	s.sts = sts.New(sts.Options{Auditor: s, Logger: logger})

	s.requests = s.reg.NewCounterVec("opentrail_http_requests_total", "Authenticated API requests, by the service they were signed for.", "service",
		append([]string{nativeService}, apiServices...)...)
	s.authFails = s.reg.NewCounter("opentrail_auth_failures_total", "Requests refused for a missing or bad SigV4 signature or credential scope.")
	s.notify = newNotifications(targets, ownAccount(&s.cfg), s, s.reg, s.authFails, logger)
	s.reg.NewGaugeFunc("opentrail_store_last_sequence", "Sequence number of the newest committed event.", func() float64 {
		return float64(st.LastSeq())
	})
	s.reg.NewGaugeFunc("opentrail_store_columnar_through", "Sequence number through which events are in the columnar files.", func() float64 {
		return float64(st.ColdThrough())
	})
	s.reg.NewGaugeFunc("opentrail_store_disk_bytes", "Bytes of the event store files on disk.", func() float64 {
		stats, err := st.Stats(context.Background())
		if err != nil {
			return 0
		}
		return float64(stats.DiskBytes)
	})
	return s, nil
}

// openBuckets opens where trails deliver: the built-in store under the
// data directory, or the configured S3-compatible service.
func (s *Server) openBuckets(ctx context.Context) error {
	o := s.cfg.ObjectStore
	if o.Type == "s3" {
		b, err := objstore.NewS3Buckets(ctx, objstore.S3Options{
			Endpoint: o.Endpoint, Region: o.Region, PathStyle: o.PathStyle,
			AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey,
			ServerSideEncryption: o.ServerSideEncryption, SSEKMSKeyID: o.SSEKMSKeyID,
		})
		if err != nil {
			return fmt.Errorf("object store: %w", err)
		}
		s.buckets = b
		return nil
	}
	b, err := objstore.OpenFSBuckets(filepath.Join(s.cfg.Data, "buckets"))
	if err != nil {
		return fmt.Errorf("open buckets: %w", err)
	}
	s.buckets, s.fsBuckets = b, b
	return nil
}

func orgOf(cfg *config.Config) *trail.Organization {
	o := cfg.Organization
	if o == nil {
		return nil
	}
	return &trail.Organization{ID: o.ID, Management: o.ManagementAccount, Members: o.Members}
}

// Deliverer returns the trail deliverer (for tests in this process).
func (s *Server) Deliverer() *delivery.Deliverer { return s.deliverer }

// storeLockWait is how long start-up waits for a store another process
// holds: a server just killed, or still stopping, releases it within
// moments.
const storeLockWait = 5 * time.Second

// memoryPlan is how limits.memory_bytes is shared out.
type memoryPlan struct {
	goHeap int64 // Go's soft memory limit
	duckdb int64 // DuckDB's memory_limit
	bodies int64 // the body budget: request body bytes held at once
	blocks int   // decompressed record blocks the store caches
}

// cachedBlockBytes is about what one cached block of 256 decompressed
// ~1.5 KB records takes.
const cachedBlockBytes = 256 * 1536

// boundMemory applies limits.memory_bytes to Go's heap (a soft limit: the
// collector works harder as the heap nears it) and works out DuckDB's
// share and the body budget. The budget holds body bytes (the front door
// takes them as they arrive), and is sized so that each takes
// config.BodyMemoryFactor bytes of Go's share: the body, its records and
// their compressed blocks all live until the request ends.
func boundMemory(l config.Limits) memoryPlan {
	rest := float64(l.MemoryBytes - config.BaseMemoryBytes)
	p := memoryPlan{
		goHeap: int64(rest * config.GoMemoryShare),
		duckdb: int64(rest * config.DuckDBMemoryShare),
	}
	// The front door counts body bytes; each is worth BodyMemoryFactor
	// bytes of heap until the request ends.
	p.bodies = max(int64(float64(p.goHeap)*config.BodyMemoryShare)/config.BodyMemoryFactor, l.MaxBodyBytes+bodyChunk)
	// The block cache stays after a burst; it gets a tenth of Go's share,
	// 256 blocks (the store's default) at most: ~96 MiB, under the
	// default bound.
	p.blocks = int(min(256, max(16, p.goHeap/10/cachedBlockBytes)))
	debug.SetMemoryLimit(p.goHeap)
	return p
}

// idleRelease is how long the server must be without requests before the
// memory a burst left behind is returned to the system.
const idleRelease = 5 * time.Second

// releaseMemoryLoop returns memory to the system once a burst of requests
// is over. Without it the heap a burst grew stays resident: with no
// allocations there is no collection, and the runtime's scavenger only
// returns what a collection freed.
func (s *Server) releaseMemoryLoop(ctx context.Context) {
	t := time.NewTicker(idleRelease / 2)
	defer t.Stop()
	released := int64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		last := s.lastRequest.Load()
		if s.inFlight.Load() == 0 && last > released && time.Since(time.Unix(0, last)) >= idleRelease {
			debug.FreeOSMemory()
			released = last
		}
	}
}

// openKeys opens the digest signing keys where the configuration keeps
// them (docs/security.md): a key file others may read, or a store whose
// keys are kept elsewhere and not configured, stops the start.
func (s *Server) openKeys(ctx context.Context) (*keys.Keys, error) {
	kc := s.cfg.Keys
	if kc.File != "" {
		if rel, err := filepath.Rel(s.cfg.Data, kc.File); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			s.log.Warn("the key file is inside the data directory, so a copy of the data directory can sign digests; keep it elsewhere (docs/security.md)", "file", kc.File, "data", s.cfg.Data)
		}
	}
	k, err := keys.Open(ctx, s.store, keys.Options{Rotation: s.cfg.Delivery.KeyRotation, Logger: s.log,
		File: kc.File, NewRing: kc.NewRing, SignCommand: kc.SignCommand, PublicKeysFile: kc.PublicKeysFile, SignTimeout: kc.SignTimeout})
	if err != nil {
		return nil, fmt.Errorf("digest signing keys: %w", err)
	}
	return k, nil
}

// tokenKey returns the store's key for NextToken MACs, made on first use,
// so tokens stay valid across restarts.
func (s *Server) tokenKey(ctx context.Context) ([]byte, error) {
	k, err := s.store.Meta(ctx, "lookup-token-key")
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("make token key: %w", err)
	}
	if err := s.store.SetMeta(ctx, "lookup-token-key", k); err != nil {
		return nil, err
	}
	return k, nil
}

// Listen binds the configured address. Run serves on it.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	s.listener = ln
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Store returns the event store (for tests and tools in this process).
func (s *Server) Store() *store.Store { return s.store }

// Run serves until ctx ends, then shuts down: it stops accepting requests,
// lets in-flight requests (and so their commits) finish, drains the
// ingester and closes the store.
func (s *Server) Run(ctx context.Context) error {
	if s.listener == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.ingester.Start()
	if s.cfg.Notifications.PublicURL == "" {
		s.topics.SetPublicURL(s.URL())
	}
	if err := s.topics.Start(ctx); err != nil {
		return err
	}
	s.deliverer.Start()
	s.httpSrv = &http.Server{
		Handler: s.Handler(),
		// Headers must arrive promptly; API bodies get their own deadline,
		// relative to their size (frontdoor.go).
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.retentionLoop(bg)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.releaseMemoryLoop(bg)
	}()
	if err := s.alarms.Start(bg); err != nil {
		stopBG()
		wg.Wait()
		return fmt.Errorf("start alarms: %w", err)
	}
	s.logwatch.Start()
	s.aggregate.Start()
	s.eventRules.Start()
	if err := s.sigma.Start(bg); err != nil {
		stopBG()
		wg.Wait()
		return fmt.Errorf("start the sigma detector: %w", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.drainFindingsLoop(bg)
	}()
	s.insights.Start()
	s.rollups.Start()
	s.compactor.Start()
	s.startPollers(bg, &wg)
	s.lake.Start()
	if err := s.capture.Start(); err != nil {
		stopBG()
		wg.Wait()
		return err
	}

	errc := make(chan error, 1)
	go func() {
		if s.tls != nil {
			s.httpSrv.TLSConfig = tlsconf.ServerConfig(s.tls)
			errc <- s.httpSrv.ServeTLS(s.listener, "", "")
			return
		}
		errc <- s.httpSrv.Serve(s.listener)
	}()
	s.started = time.Now()
	close(s.ready)
	s.startCIS(bg)
	s.log.Info("listening", "addr", s.Addr(), "data", s.cfg.Data)
	s.log.Info("web console: open it in a browser", "url", ConsoleURL(s.scheme(), s.Addr()))
	logTLSStart(s.log, s.tls, s.selfSignedCert, s.Addr())
	if s.dir.IsLocal() {
		s.log.Info("web console: local mode's default user", "user", "admin", "password", "opentrail")
	}
	if s.dir.IsLocal() {
		s.log.Warn("local mode: no principals configured, so any access key id is accepted with the secret \"test\"; " +
			"access key \"test\" acts for account 000000000000 (the organisation's management account, which may write events for any account), " +
			"a 12-digit access key id for that account; listening on loopback only")
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		errs = append(errs, serveErr)
	}
	if err := s.httpSrv.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	stopBG()
	wg.Wait()
	// The aggregator appends through the ingester: stop it first.
	if err := s.aggregate.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.lake.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.insights.Close(shutdownCtx); err != nil { // it appends through the ingester
		errs = append(errs, err)
	}
	if err := s.capture.Close(shutdownCtx); err != nil { // the gateway and the reaper record through the ingester
		errs = append(errs, err)
	}
	if err := s.ingester.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.deliverer.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.eventRules.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.rollups.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.sigma.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.logwatch.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.compactor.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.alarms.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.topics.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if err := s.keys.Close(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	if s.geoip != nil {
		s.geoip.Close()
	}
	if err := s.capture.closeJournal(); err != nil {
		errs = append(errs, fmt.Errorf("close capture intents: %w", err))
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	s.log.Info("stopped")
	return errors.Join(errs...)
}

// Ready is closed once the server accepts requests.
func (s *Server) Ready() <-chan struct{} { return s.ready }

func (s *Server) retentionLoop(ctx context.Context) {
	t := clock.Or(s.clock).NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := s.store.ApplyRetention(ctx)
		if err != nil {
			s.log.Error("retention", "err", err)
		} else if n > 0 {
			s.log.Info("retention removed old events", "events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AuditCommit stores a self-audit record and returns once it is committed
// (implementing awsapi.CommitAuditor): the record of a call that changes
// something is durable before the call is answered.
func (s *Server) AuditCommit(ctx context.Context, rec []byte) error {
	r, err := event.Parse(rec)
	if err != nil {
		return fmt.Errorf("self-audit record is invalid: %w", err)
	}
	_, err = s.ingester.Submit(ctx, "self-audit", []*event.Record{r})
	return err
}

// Audit queues a self-audit record for the next group commit without
// waiting for it (read-only calls); it implements awsapi.Auditor.
func (s *Server) Audit(rec []byte) {
	r, err := event.Parse(rec)
	if err != nil {
		s.log.Error("self-audit record is invalid", "err", err)
		return
	}
	if err := s.ingester.SubmitAsync("self-audit", []*event.Record{r}); err != nil {
		s.log.Warn("self-audit record not queued", "err", err, "eventName", r.EventName)
	}
}
