package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/gateway"
	"github.com/opentrail/opentrail/internal/server"
	"github.com/opentrail/opentrail/internal/tlsconf"
)

type gatewayCmd struct{ env *Env }

func (*gatewayCmd) Name() string { return "gateway" }
func (*gatewayCmd) Synopsis() string {
	return "record every call to an AWS-protocol service (S3-compatible store, LocalStack, ...) through a capture proxy"
}

func (c *gatewayCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "gateway", "--upstream URL [--addr HOST:PORT] [--upstream-access-key-id KEY --upstream-secret-env VAR] [--endpoint URL | --data DIR] [--config FILE] [--fail-open]")
	var (
		gc                      config.Gateway
		data, cfgFile, logLevel string
		cf                      clientFlags
	)
	cf.register(fs)
	fs.StringVar(&gc.Addr, "addr", "", "address the gateway listens on (default "+config.DefaultGatewayAddr+")")
	fs.StringVar(&gc.Upstream, "upstream", "", "the service's base URL, e.g. http://127.0.0.1:7070 (required)")
	fs.StringVar(&gc.UpstreamAccessKeyID, "upstream-access-key-id", "", "access key the gateway signs forwarded requests with (default: forward requests as clients signed them)")
	fs.StringVar(&gc.UpstreamSecretEnv, "upstream-secret-env", "", "environment variable holding the secret of --upstream-access-key-id")
	fs.StringVar(&data, "data", "", "record into a store of the gateway's own in this data directory (a server runs there too, at the configuration's addr) instead of a running server's --endpoint")
	fs.StringVar(&cfgFile, "config", "", "configuration file: principals clients sign with, and the gateway: section the flags override")
	fs.BoolVar(&gc.FailOpen, "fail-open", false, "forward mutating calls whose record cannot be stored (and record the gap later) instead of answering 503")
	fs.StringVar(&gc.ReadOnly, "read-only", "", "when read-only calls are recorded: after (default) or before they are forwarded")
	fs.BoolVar(&gc.PassThroughUnknownKeys, "pass-through-unknown-keys", false, "forward requests signed with unknown keys unverified (recorded with type Unknown) instead of refusing them")
	fs.StringVar(&gc.Account, "account", "", "account the records of calls passed through unverified are stored under (default the organisation's management account)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	var tlsCert, tlsKey string
	fs.StringVar(&tlsCert, "tls-cert", "", "PEM certificate (chain) the gateway serves HTTPS with, re-read when it changes (default the configuration's tls.cert_file); calls' records then carry tlsDetails")
	fs.StringVar(&tlsKey, "tls-key", "", "the certificate's PEM private key (default the configuration's tls.key_file)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; gateway takes flags only, the service's URL in --upstream URL", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if data != "" && set["endpoint"] {
		return errors.New("give --endpoint (record into a running server) or --data (a store of the gateway's own), not both")
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	merged := mergeGateway(cfg.Gateway, &gc, set)
	if merged.Upstream == "" {
		return errors.New("--upstream is required: the URL of the service the gateway fronts, e.g. --upstream http://127.0.0.1:7070")
	}
	cfg.Gateway = merged
	if set["tls-cert"] || set["tls-key"] {
		cfg.TLS.CertFile, cfg.TLS.KeyFile = tlsCert, tlsKey
	}
	if data == "" && cfg.TLS.SelfSigned && cfg.TLS.CertFile == "" {
		return errors.New("tls.self_signed makes the certificate of a server's data directory; give opentrail gateway a certificate with --tls-cert and --tls-key (or run it with --data)")
	}
	if (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == "") {
		return errors.New("give --tls-cert and --tls-key together (or tls.cert_file and tls.key_file): the certificate and its key")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	logger := slog.New(slog.NewTextHandler(c.env.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if data != "" {
		return c.runWithStore(ctx, cfg, data, logger)
	}
	return c.runRemote(ctx, cfg, cf, logger)
}

// runWithStore runs a server on data with the gateway enabled: the
// simplest store of the gateway's own is opentrail's, with its console,
// trails and history, recording through the server's local Recorder.
func (c *gatewayCmd) runWithStore(ctx context.Context, cfg config.Config, data string, logger *slog.Logger) error {
	cfg.Data = data
	if err := cfg.Validate(); err != nil {
		return err
	}
	srv, err := server.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		srv.Close()
		return err
	}
	go func() {
		select {
		case <-srv.Ready():
			fmt.Fprintf(c.env.Stdout, "gateway listening on %s, forwarding to %s, recording into %s (opentrail server at %s)\n",
				srv.GatewayAddr(), cfg.Gateway.Upstream, data, srv.URL())
		case <-ctx.Done():
		}
	}()
	return srv.Run(ctx)
}

// runRemote records into a running server through its capture endpoints,
// signed with the usual client credentials.
func (c *gatewayCmd) runRemote(ctx context.Context, cfg config.Config, cf clientFlags, logger *slog.Logger) error {
	gc := cfg.Gateway
	if err := gc.Validate(cfg.LocalMode()); err != nil {
		return err
	}
	if !cfg.LocalMode() {
		// Principals are validated (and their ARNs filled) with the rest.
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	rec := capture.NewRemote(cl, capture.RemoteOptions{})
	o := gateway.FromConfig(gc)
	o.Directory, o.Recorder, o.Logger = auth.FromConfig(&cfg), rec, logger
	if cfg.TLS.CertFile != "" {
		r, err := tlsconf.NewReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile, logger)
		if err != nil {
			rec.Close(context.Background())
			return fmt.Errorf("%w; check --tls-cert and --tls-key", err)
		}
		o.TLS = tlsconf.ServerConfig(r)
	}
	g, err := gateway.New(o)
	if err != nil {
		rec.Close(context.Background())
		return err
	}
	if err := g.Start(); err != nil {
		rec.Close(context.Background())
		return err
	}
	scheme := "http"
	if o.TLS != nil {
		scheme = "https"
	}
	fmt.Fprintf(c.env.Stdout, "gateway listening on %s://%s, forwarding to %s, recording to the opentrail server at %s\n", scheme, g.Addr(), gc.Upstream, cl.Endpoint)
	if cfg.LocalMode() {
		logger.Info("local mode: clients sign with any access key and the secret \"test\"; configure principals (--config) to name who calls")
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = g.Close(shutdown)
	return errors.Join(err, rec.Close(shutdown))
}

// mergeGateway overlays the flags that were set on the file's gateway:
// section.
func mergeGateway(file, flags *config.Gateway, set map[string]bool) *config.Gateway {
	g := config.Gateway{}
	if file != nil {
		g = *file
	}
	if set["addr"] {
		g.Addr = flags.Addr
	}
	if set["upstream"] {
		g.Upstream = flags.Upstream
	}
	if set["upstream-access-key-id"] {
		g.UpstreamAccessKeyID = flags.UpstreamAccessKeyID
	}
	if set["upstream-secret-env"] {
		g.UpstreamSecretEnv, g.UpstreamSecret = flags.UpstreamSecretEnv, ""
	}
	if set["fail-open"] {
		g.FailOpen = flags.FailOpen
	}
	if set["read-only"] {
		g.ReadOnly = flags.ReadOnly
	}
	if set["account"] {
		g.Account = flags.Account
	}
	if set["pass-through-unknown-keys"] {
		g.PassThroughUnknownKeys = flags.PassThroughUnknownKeys
	}
	return &g
}
