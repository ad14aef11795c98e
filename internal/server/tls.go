package server

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"time"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/metrics"
	"github.com/opentrail/opentrail/internal/tlsconf"
)

// setupTLS loads the configured certificate, or makes (or keeps) the
// self-signed one under <data>/tls, and returns its reloader and the
// self-signed certificate's file ("" for one the operator provided);
// without TLS configured it returns nil and the port serves plain HTTP.
func setupTLS(cfg *config.Config, log *slog.Logger, reg *metrics.Registry) (r *tlsconf.Reloader, selfSigned string, err error) {
	t := cfg.TLS
	if !t.Enabled() {
		return nil, "", nil
	}
	certFile, keyFile := t.CertFile, t.KeyFile
	if t.SelfSigned {
		var created bool
		var err error
		certFile, keyFile, created, err = tlsconf.SelfSigned(filepath.Join(cfg.Data, "tls"), tlsconf.SelfSignedHosts(cfg.Addr), time.Now())
		if err != nil {
			return nil, "", err
		}
		if created {
			log.Info("tls: made a self-signed certificate", "cert", certFile)
		}
		selfSigned = certFile
		if abs, err := filepath.Abs(certFile); err == nil {
			selfSigned = abs
		}
	}
	r, err = tlsconf.NewReloader(certFile, keyFile, log)
	if err != nil {
		return nil, "", fmt.Errorf("%w; check tls.cert_file and tls.key_file (--tls-cert, --tls-key)", err)
	}
	reg.NewGaugeFunc("opentrail_tls_certificate_expiry_timestamp_seconds",
		"When the served TLS certificate expires (Unix time); alert well before it.",
		func() float64 { return float64(r.Certificate().Leaf.NotAfter.Unix()) })
	return r, selfSigned, nil
}

// scheme is "https" when the port serves TLS, else "http".
func (s *Server) scheme() string {
	if s.tls != nil {
		return "https"
	}
	return "http"
}

// URL is the server's own base URL (after Listen): scheme://addr.
func (s *Server) URL() string { return s.scheme() + "://" + s.Addr() }

// CACertFile is the self-signed certificate clients must be told to
// trust, or "" when the server has none (plain HTTP, or a certificate the
// operator provided).
func (s *Server) CACertFile() string { return s.selfSignedCert }

// logTLSStart tells the operator how clients reach the server on addr
// over r and trust its self-signed certificate, if any.
func logTLSStart(log *slog.Logger, r *tlsconf.Reloader, selfSigned, addr string) {
	if r == nil {
		return
	}
	leaf := r.Certificate().Leaf
	log.Info("tls: serving HTTPS", "names", certNames(leaf), "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339), "minVersion", "TLS1.2")
	if selfSigned == "" {
		return
	}
	url := "https://" + consoleHost(addr)
	log.Info("tls: the certificate is self-signed; AWS clients trust it with --ca-bundle or AWS_CA_BUNDLE",
		"aws", "aws --endpoint-url "+url+" --ca-bundle "+selfSigned+" cloudtrail describe-trails",
		"export", "export AWS_CA_BUNDLE="+selfSigned,
		"curl", "curl --cacert "+selfSigned+" "+url+"/healthz")
}

// certNames lists the names and addresses c is valid for.
func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// ConsoleURL is the web console's address for a server listening on addr
// (host:port) with scheme (http or https); an unspecified host (0.0.0.0,
// ::) becomes localhost.
func ConsoleURL(scheme, addr string) string {
	return scheme + "://" + consoleHost(addr) + "/"
}

// consoleHost is addr with an unspecified host (0.0.0.0, ::) replaced by
// localhost, as a browser or client on this machine reaches it.
func consoleHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
