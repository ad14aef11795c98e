package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/server"
	"github.com/opentrail/opentrail/internal/store"
)

type serveCmd struct{ env *Env }

func (*serveCmd) Name() string     { return "serve" }
func (*serveCmd) Synopsis() string { return "run the server (local mode on 127.0.0.1:4747 by default)" }

func (c *serveCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "serve", "[--addr HOST:PORT] [--data DIR] [--config FILE]")
	var (
		addr, data, cfgFile, logLevel string
		demo                          bool
		keysFile                      string
		keysNewRing                   bool
		demoEvents                    int
		interval, digestInterval      time.Duration
	)
	fs.StringVar(&addr, "addr", "", "listen address (default "+config.DefaultAddr+")")
	fs.StringVar(&data, "data", "", "data directory (default ./opentrail-data)")
	fs.StringVar(&cfgFile, "config", "", "configuration file (YAML or JSON; see docs/configuration.md)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&interval, "delivery-interval", 0, "trail delivery window (default 5m; down to 1s, for tests)")
	fs.DurationVar(&digestInterval, "digest-interval", 0, "digest period of trails with log file validation (default 1h; down to 1s, for tests)")
	fs.BoolVar(&demo, "demo", false, "fill an empty store with a realistic day of demo activity at start-up")
	fs.IntVar(&demoEvents, "demo-events", 20000, "events --demo generates")
	fs.StringVar(&keysFile, "keys-file", "", "key file holding the digest signing keys, owner-only, instead of the event store (keys.file; docs/security.md)")
	fs.BoolVar(&keysNewRing, "keys-new-ring", false, "with --keys-file: start a new signing key ring when this store's key file is lost (keys.new_ring)")
	var tlsFlags config.TLS
	fs.StringVar(&tlsFlags.CertFile, "tls-cert", "", "serve HTTPS with this PEM certificate (chain), re-read when it changes; with --tls-key (docs/tls.md)")
	fs.StringVar(&tlsFlags.KeyFile, "tls-key", "", "the PEM private key of --tls-cert")
	fs.BoolVar(&tlsFlags.SelfSigned, "tls-self-signed", false, "serve HTTPS with a self-signed certificate made once and kept in <data>/tls (clients trust it with --ca-bundle or AWS_CA_BUNDLE)")
	fs.BoolVar(&tlsFlags.AllowPlainHTTP, "allow-plain-http", false, "serve plain HTTP on a non-loopback address with principals configured (a TLS-terminating proxy in front)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// "serve ./data" would otherwise serve ./opentrail-data.
		return fmt.Errorf("unexpected argument %q; serve takes flags only: the data directory goes in --data DIR, the address in --addr HOST:PORT", fs.Arg(0))
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	if addr != "" {
		cfg.Addr = addr
	}
	if data != "" {
		cfg.Data = data
	}
	if keysFile != "" {
		cfg.Keys.File = keysFile
	}
	if keysNewRing {
		cfg.Keys.NewRing = true
	}
	if interval != 0 {
		cfg.Delivery.Interval = interval
	}
	if tlsFlags.CertFile != "" || tlsFlags.KeyFile != "" || tlsFlags.SelfSigned {
		// A certificate on the command line replaces the file's choice.
		cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.SelfSigned = tlsFlags.CertFile, tlsFlags.KeyFile, tlsFlags.SelfSigned
	}
	if tlsFlags.AllowPlainHTTP {
		cfg.TLS.AllowPlainHTTP = true
	}
	if digestInterval != 0 {
		cfg.Delivery.DigestInterval = digestInterval
	} else if interval != 0 && cfg.Delivery.DigestInterval%interval != 0 {
		// A delivery window that does not divide the digest period is
		// rounded for the digests rather than refused.
		cfg.Delivery.DigestInterval = max(interval, cfg.Delivery.DigestInterval/interval*interval)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
	}
	logger := slog.New(slog.NewTextHandler(c.env.Stderr, &slog.HandlerOptions{Level: level}))

	warnOpenConfig(logger, cfgFile, &cfg)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger.Info("starting", "version", strings.TrimPrefix(versionLine(), "opentrail "))
	srv, err := server.New(ctx, cfg, logger)
	if err != nil {
		if store.IsLocked(err) {
			holder := "another opentrail process"
			var le *store.LockedError
			if errors.As(err, &le) && le.PID > 0 {
				holder = fmt.Sprintf("process %d", le.PID)
				if le.Command != "" {
					holder += " (" + le.Command + ")"
				}
				if le.Waited > 0 {
					holder += fmt.Sprintf(", still after waiting %s", le.Waited)
				}
			}
			return &hintError{
				msg:  fmt.Sprintf("the data directory %s is in use by %s", cfg.Data, holder),
				hint: "one server at a time holds a data directory: use the server that is running (commands such as `opentrail demo` and `opentrail send` talk to it), stop it first, or give this one another --data",
				err:  err,
			}
		}
		return err
	}
	if err := srv.Listen(); err != nil {
		srv.Close()
		return err
	}
	if demo {
		if err := srv.FillDemo(ctx, demoEvents); err != nil {
			srv.Close()
			return err
		}
	}
	return srv.Run(ctx)
}

// warnOpenConfig warns when the configuration file holds secrets and its
// group or others may read it (docs/security.md).
func warnOpenConfig(logger *slog.Logger, path string, cfg *config.Config) {
	if path == "" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	if secrets := cfg.InlineSecrets(); len(secrets) > 0 {
		logger.Warn(fmt.Sprintf("the configuration file holds secrets and its group or others may read it: run chmod 600 %s, or move the secrets to environment variables (secret_env, password_env)", path),
			"file", path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()), "secrets", strings.Join(secrets, ","))
	}
}
