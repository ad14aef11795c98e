// Package benchsrv runs an opentrail server inside a benchmark's process
// and calls its APIs as a client would (signed, over HTTP).
package benchsrv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/server"
)

// Region is the region the benchmarks' client signs for.
const Region = "us-east-1"

// Running is a server of this process and a client of it.
type Running struct {
	Srv  *server.Server
	API  *client.Client
	stop func() error
}

// Config is the default configuration on a free port of 127.0.0.1 with
// its data under data.
func Config(data string) config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = data
	return cfg
}

// Benchmark principal: an IAM user of the local account, which is the
// organisation's management account (so it may read every account's
// findings and run detectors over history). Unlike local mode's keys, it
// is not the account's root, whose every call SigmaHQ's root-usage rule
// would flag in the benchmark's own self-audit records.
const (
	AccessKeyID = "AKIABENCHMARK0000001"
	secret      = "benchmark-secret"
)

// WithUser is cfg with the benchmark principal as its only credential.
func WithUser(cfg config.Config) config.Config {
	cfg.Principals = []config.Principal{{AccessKeyID: AccessKeyID, SecretAccessKey: secret,
		Account: auth.LocalAccount, Type: "IAMUser", UserName: "benchmark"}}
	cfg.Organization = &config.Organization{ID: "o-benchmark00", ManagementAccount: auth.LocalAccount}
	return cfg
}

// Start runs a server with cfg (its logs discarded) until Stop.
func Start(ctx context.Context, cfg config.Config) (*Running, error) {
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		srv.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return nil, err
	}
	akid, sec := "test", "test"
	if len(cfg.Principals) > 0 && cfg.Principals[0].AccessKeyID == AccessKeyID {
		akid, sec = AccessKeyID, secret
	}
	return &Running{Srv: srv, API: client.NewStatic("http://"+srv.Addr(), Region, akid, sec),
		stop: func() error { cancel(); return <-done }}, nil
}

// Stop stops the server and waits for it.
func (r *Running) Stop() error { return r.stop() }

// RPC calls a JSON-protocol operation: service is the credential scope's
// service, version "1.0" or "1.1", target the X-Amz-Target prefix.
func (r *Running) RPC(ctx context.Context, service, version, target, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-"+version)
	h.Set("X-Amz-Target", target+"."+op)
	raw, err := r.API.Do(ctx, service, http.MethodPost, "/", h, body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// CloudTrail calls a CloudTrail operation.
func (r *Running) CloudTrail(ctx context.Context, op string, in, out any) error {
	return r.RPC(ctx, "cloudtrail", "1.1", "CloudTrail_20131101", op, in, out)
}
