package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/opentrail/opentrail/bench/internal/benchsrv"
	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/gateway"
)

// secretEnv carries the upstream's secret to the gateway's configuration,
// as an operator's environment would.
const secretEnv = "OPENTRAIL_BENCH_UPSTREAM_SECRET"

// startGateway runs an opentrail server of this process on a fresh data
// directory and a gateway in front of upstream, recording into it:
//
//   - mode "serve": serve's gateway: section, recording through the
//     server's own store (the local Recorder);
//   - mode "remote": the gateway `opentrail gateway --endpoint` runs,
//     recording over the server's native capture endpoints (the remote
//     Recorder, signed requests over loopback HTTP).
//
// It returns the gateway's URL and a function that stops both.
func startGateway(ctx context.Context, mode, upstream, data string) (string, func(), error) {
	if err := os.Setenv(secretEnv, upstreamSecret); err != nil {
		return "", nil, err
	}
	cfg := benchsrv.Config(data)
	if mode == "serve" {
		addr, err := freeAddr()
		if err != nil {
			return "", nil, err
		}
		cfg.Gateway = &config.Gateway{Addr: addr, Upstream: upstream, UpstreamAccessKeyID: upstreamAccess,
			UpstreamSecretEnv: secretEnv}
		cfg.Gateway.LoadSecret()
	}
	srv, err := benchsrv.Start(ctx, cfg)
	if err != nil {
		return "", nil, fmt.Errorf("start the server: %w", err)
	}
	switch mode {
	case "serve":
		return "http://" + srv.Srv.GatewayAddr(), func() { srv.Stop() }, nil
	case "remote":
		rec := capture.NewRemote(client.NewStatic("http://"+srv.Srv.Addr(), region, "test", "test"), capture.RemoteOptions{})
		addr, err := freeAddr()
		if err != nil {
			srv.Stop()
			return "", nil, err
		}
		g, err := gateway.New(gateway.Options{Addr: addr, Upstream: upstream, UpstreamAccessKeyID: upstreamAccess,
			UpstreamSecret: upstreamSecret, Directory: auth.Local(), Recorder: rec})
		if err == nil {
			err = g.Start()
		}
		if err != nil {
			srv.Stop()
			return "", nil, err
		}
		return "http://" + g.Addr(), func() { g.Close(ctx); rec.Close(ctx); srv.Stop() }, nil
	}
	srv.Stop()
	return "", nil, errors.New("--mode: serve or remote")
}
