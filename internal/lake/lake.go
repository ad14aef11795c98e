// Package lake is CloudTrail Lake as AWS JSON 1.1 operations,
// func(ctx, *In) (*Out, error), registered into the CloudTrail
// awsapi.Router beside internal/cloudtrail's: SQL queries (StartQuery,
// DescribeQuery, GetQueryResults, ListQueries, CancelQuery) over the event
// store, the one event data store that store is shown as
// (ListEventDataStores, GetEventDataStore), and imports of trail logs from
// the object store (StartImport, GetImport, ListImports,
// ListImportFailures, StopImport).
//
// A Service is also the component that runs them: New builds it, Start
// resumes the imports that were running when the server last stopped, and
// Close(ctx) cancels running queries and imports and waits for them
// (imports resume at the next Start). The SQL itself is internal/query's;
// reading log files is internal/importer's. The package reaches the store
// through the interfaces declared here. Only internal/server imports it.
package lake

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

// Meta keeps small named values with the events (*store.Store implements
// it): the event data store's identity and the imports.
type Meta interface {
	// Meta returns the value of key, or an error wrapping
	// store.ErrNotFound.
	Meta(ctx context.Context, key string) ([]byte, error)
	// SetMeta durably sets key to value.
	SetMeta(ctx context.Context, key string, value []byte) error
}

// Engine runs Lake SQL over the event store (StoreEngine wraps
// internal/query over a *store.Store).
type Engine interface {
	// Check reports a statement that cannot run, as a
	// *query.InvalidQueryError.
	Check(ctx context.Context, statement string) error
	// Run runs statement with opts.
	Run(ctx context.Context, statement string, opts query.Options) (*query.Result, error)
}

// StoreEngine is the Engine of internal/query over st.
func StoreEngine(st *store.Store) Engine { return storeEngine{st} }

type storeEngine struct{ st *store.Store }

func (e storeEngine) Check(ctx context.Context, statement string) error {
	return query.Check(ctx, e.st, statement)
}

func (e storeEngine) Run(ctx context.Context, statement string, opts query.Options) (*query.Result, error) {
	return query.Run(ctx, e.st, statement, opts)
}

// Options change behaviour beyond what AWS does.
type Options struct {
	// StoreRetention is how long the store keeps events (0 = forever),
	// which GetEventDataStore reports as RetentionPeriod.
	StoreRetention time.Duration
}

// Config configures a Service. Without Meta, every operation answers
// UnsupportedOperationException; without Engine, the query operations
// do; without ImportSink, Buckets and ImportStateDir, the import
// operations do.
type Config struct {
	Meta   Meta
	Engine Engine
	// TokenKey signs pagination tokens (HMAC-SHA256); at least
	// pagetoken.MinKeyLen bytes.
	TokenKey []byte
	Options  Options
	// Buckets is where imports read.
	Buckets objstore.Buckets
	// ImportSink stores the events of imports.
	ImportSink importer.Sink
	// ImportStateDir holds each import's resume state, so that an import
	// continues after the files it had finished.
	ImportStateDir string
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger // nil means slog.Default()
}

// Service implements the Lake operations and runs queries and imports.
// Create it with New.
type Service struct {
	meta       Meta
	engine     Engine
	tokens     pagetoken.Signer
	opts       Options
	buckets    objstore.Buckets
	stateDir   string
	now        func() time.Time
	logger     *slog.Logger
	queries    lakeQueries // queries.go
	eds        edsCache    // the one event data store's identity (eds.go)
	imports    lakeImports // imports.go
	importSink importer.Sink

	// stop cancels the context of every query and import run.
	stop    context.CancelFunc
	running sync.WaitGroup // queries
}

// New checks cfg and returns a Service, not yet started.
func New(cfg Config) (*Service, error) {
	if len(cfg.TokenKey) < pagetoken.MinKeyLen {
		return nil, errors.New("new lake service: TokenKey is too short")
	}
	s := &Service{
		meta:       cfg.Meta,
		engine:     cfg.Engine,
		tokens:     pagetoken.NewSigner(cfg.TokenKey),
		opts:       cfg.Options,
		buckets:    cfg.Buckets,
		stateDir:   cfg.ImportStateDir,
		now:        cfg.Now,
		logger:     cfg.Logger,
		importSink: cfg.ImportSink,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s, nil
}

// Register adds the CloudTrail Lake (JSON 1.1) operations to r.
func (s *Service) Register(r *awsapi.Router) {
	awsapi.Register(r, "StartQuery", false, s.StartQuery)
	awsapi.Register(r, "DescribeQuery", true, s.DescribeQuery)
	awsapi.Register(r, "GetQueryResults", true, s.GetQueryResults)
	awsapi.Register(r, "ListQueries", true, s.ListQueries)
	awsapi.Register(r, "CancelQuery", false, s.CancelQuery)
	awsapi.Register(r, "ListEventDataStores", true, s.ListEventDataStores)
	awsapi.Register(r, "GetEventDataStore", true, s.GetEventDataStore)
	awsapi.Register(r, "StartImport", false, s.StartImport)
	awsapi.Register(r, "GetImport", true, s.GetImport)
	awsapi.Register(r, "ListImports", true, s.ListImports)
	awsapi.Register(r, "ListImportFailures", true, s.ListImportFailures)
	awsapi.Register(r, "StopImport", false, s.StopImport)
}

// Start resumes the imports that were running when the server last
// stopped and lets StartImport run new ones, until Close.
func (s *Service) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.startImports(ctx)
}

// Close cancels running queries and imports and waits, until ctx ends,
// for them to stop; the imports resume at the next Start.
func (s *Service) Close(ctx context.Context) error {
	if s.stop != nil {
		s.stop()
	}
	s.queries.cancelAll()
	done := make(chan struct{})
	go func() {
		s.imports.wg.Wait()
		s.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("lake: queries or imports still running at shutdown: " + ctx.Err().Error())
	}
}

// Error codes the Lake operations share with the rest of CloudTrail.
const (
	codeInvalidParameter  = "InvalidParameterException"
	codeInvalidMaxResults = "InvalidMaxResultsException"
	codeEventDataStoreARN = "EventDataStoreARNInvalidException"
)

func allRunes(s string, ok func(rune) bool) bool {
	for _, r := range s {
		if !ok(r) {
			return false
		}
	}
	return true
}
