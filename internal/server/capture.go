package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/gateway"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/intents"
	"github.com/opentrail/opentrail/internal/tlsconf"
)

// capture is the server's side of capture gateways and middleware
// (docs/capture.md): the durable intent table in the data directory, the
// local Recorder over it and the ingester, the reaper that records
// intents whose lease ran out, and the capture gateway of the
// configuration's gateway: section, which records through the local
// Recorder.
//
// It is built by newCapture (in New, once the ingester exists), started
// by Start once the ingester runs, and stopped by Close before the
// ingester; closeJournal closes the intent table once nothing records
// any more.
type capture struct {
	table  *intents.Table
	local  *intents.Local
	reaper *intents.Reaper
	// gateway is nil without a gateway: section; upstream is its
	// upstream, for the log.
	gateway  *gateway.Gateway
	upstream string
	log      *slog.Logger
}

// captureDeps is what the capture side is built from.
type captureDeps struct {
	cfg      *config.Config
	dir      *auth.Directory
	ingester *ingest.Ingester
	tls      *tlsconf.Reloader // nil: the gateway speaks plain HTTP
	clock    clock.Clock
	log      *slog.Logger
}

// newCapture opens the intent table and builds the Recorder, the reaper
// and the gateway; nothing runs until Start.
func newCapture(d captureDeps) (*capture, error) {
	t, err := intents.Open(d.cfg.Data, intents.Options{Logger: d.log})
	if err != nil {
		return nil, fmt.Errorf("open capture intents: %w", err)
	}
	c := &capture{
		table:  t,
		local:  intents.NewLocal(t, d.ingester, d.clock, d.log),
		reaper: intents.NewReaper(intents.ReaperOptions{Table: t, Ingester: d.ingester, Clock: d.clock, Logger: d.log}),
		log:    d.log,
	}
	c.local.WakeOnQueued(c.reaper.Wake)
	if gc := d.cfg.Gateway; gc != nil {
		o := gateway.FromConfig(gc)
		o.Directory, o.Recorder = d.dir, c.local
		o.Logger, o.Clock = d.log.With("component", "gateway"), d.clock
		if d.tls != nil {
			o.TLS = tlsconf.ServerConfig(d.tls)
		}
		g, err := gateway.New(o)
		if err != nil {
			t.Close()
			return nil, err
		}
		c.gateway, c.upstream = g, gc.Upstream
	}
	return c, nil
}

// Start starts the reaper, then the gateway's listener. The ingester
// must be running.
func (c *capture) Start() error {
	c.reaper.Start()
	if c.gateway == nil {
		return nil
	}
	if err := c.gateway.Start(); err != nil {
		return err
	}
	c.log.Info("capture gateway listening", "addr", c.gateway.Addr(), "upstream", c.upstream, "records", "this server's store")
	return nil
}

// Close stops the gateway, waiting for its records, then the reaper;
// both record through the ingester, so Close comes before the
// ingester's.
func (c *capture) Close(ctx context.Context) error {
	var errs []error
	if c.gateway != nil {
		if err := c.gateway.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close the capture gateway: %w", err))
		}
	}
	if err := c.reaper.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// closeJournal closes the intent table, once nothing records any more.
func (c *capture) closeJournal() error { return c.table.Close() }

// gatewayAddr is the address the gateway listens on, "" without one or
// before Start.
func (c *capture) gatewayAddr() string {
	if c.gateway == nil {
		return ""
	}
	return c.gateway.Addr()
}

// CaptureRecorder is the Recorder (internal/capture.Recorder) that stores
// captured calls' records in this server's own store: a capture gateway
// run by serve records through it. Intend works from New on; Complete
// needs Run (the ingester) and must not be called after Run returns, so
// a gateway in the same process is shut down before Run's shutdown
// reaches the ingester.
func (s *Server) CaptureRecorder() *intents.Local { return s.capture.local }

// GatewayAddr is the address the capture gateway listens on, "" when the
// configuration has no gateway: section or Run has not started it.
func (s *Server) GatewayAddr() string { return s.capture.gatewayAddr() }
