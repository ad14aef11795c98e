package server

import (
	"context"
	"fmt"

	"github.com/opentrail/opentrail/internal/gateway"
	"github.com/opentrail/opentrail/internal/tlsconf"
)

// newGateway builds the capture gateway of the configuration's gateway:
// section, recording through this server's own store (CaptureRecorder).
// It is started by Run once the ingester runs, and closed before it.
func (s *Server) newGateway() error {
	gc := s.cfg.Gateway
	if gc == nil {
		return nil
	}
	o := gateway.FromConfig(gc)
	o.Directory, o.Recorder = s.dir, s.CaptureRecorder()
	o.Logger, o.Clock = s.log.With("component", "gateway"), s.clock
	if s.tls != nil {
		o.TLS = tlsconf.ServerConfig(s.tls)
	}
	g, err := gateway.New(o)
	if err != nil {
		return err
	}
	s.gateway = g
	return nil
}

// startGateway starts the gateway's listener.
func (s *Server) startGateway() error {
	if s.gateway == nil {
		return nil
	}
	if err := s.gateway.Start(); err != nil {
		return err
	}
	s.log.Info("capture gateway listening", "addr", s.gateway.Addr(), "upstream", s.cfg.Gateway.Upstream, "records", "this server's store")
	return nil
}

// closeGateway stops the gateway and waits for its records.
func (s *Server) closeGateway(ctx context.Context) error {
	if s.gateway == nil {
		return nil
	}
	if err := s.gateway.Close(ctx); err != nil {
		return fmt.Errorf("close the capture gateway: %w", err)
	}
	return nil
}

// GatewayAddr is the address the capture gateway listens on, "" when the
// configuration has no gateway: section or Run has not started it.
func (s *Server) GatewayAddr() string {
	if s.gateway == nil {
		return ""
	}
	return s.gateway.Addr()
}
