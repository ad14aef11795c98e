// Package tlsconf gives the server its TLS configuration: a certificate
// and key read from files and re-read when either file changes
// (Reloader), and a self-signed pair made once and kept under the data
// directory for a quick start (SelfSigned).
//
// It imports no other opentrail package; the server (internal/server)
// uses it.
package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// MinVersion is the oldest protocol version served: TLS 1.2, as AWS's
// endpoints require.
const MinVersion = tls.VersionTLS12

// DefaultCheckInterval is how often, at most, a Reloader looks at the
// files' modification times.
const DefaultCheckInterval = 2 * time.Second

// Reloader serves a certificate and key read from files. A handshake
// checks (at most every CheckInterval) whether either file changed, and
// then loads the pair again; when the new pair does not load (a rotation
// half done, a key that does not match), it keeps serving the old pair and
// logs why once per change. A Reloader is safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	// CheckInterval bounds how often the files are looked at (set before
	// first use; 0 looks at every handshake).
	CheckInterval time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   stamp     // the files as last loaded or tried
	checked time.Time // when the files were last looked at
}

// stamp identifies a version of the two files.
type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func stat(certFile, keyFile string) (stamp, error) {
	c, err := os.Stat(certFile)
	if err != nil {
		return stamp{}, err
	}
	k, err := os.Stat(keyFile)
	if err != nil {
		return stamp{}, err
	}
	return stamp{c.ModTime(), k.ModTime(), c.Size(), k.Size()}, nil
}

// NewReloader loads the pair once; an error says which file is wrong.
// log (nil: slog.Default) hears about reloads and failed reloads.
func NewReloader(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log, CheckInterval: DefaultCheckInterval}
	st, err := stat(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	cert, err := load(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert, r.stamp, r.checked = cert, st, time.Now()
	return r, nil
}

// load reads and parses a certificate chain and its key.
func load(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load certificate %s and key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("tls: parse certificate %s: %w", certFile, err)
		}
		cert.Leaf = leaf
	}
	return &cert, nil
}

// Certificate returns the pair to serve, loading the files again first
// when they changed since the last look (at most every CheckInterval).
func (r *Reloader) Certificate() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.checked) < r.CheckInterval {
		return r.cert
	}
	r.checked = now
	st, err := stat(r.certFile, r.keyFile)
	if err != nil {
		if st != r.stamp {
			r.log.Warn("tls: certificate files are unreadable; still serving the previous certificate", "err", err)
			r.stamp = st
		}
		return r.cert
	}
	if st == r.stamp {
		return r.cert
	}
	r.stamp = st
	cert, err := load(r.certFile, r.keyFile)
	if err != nil {
		r.log.Warn("tls: the changed certificate files do not load; still serving the previous certificate", "err", err)
		return r.cert
	}
	r.cert = cert
	r.log.Info("tls: certificate reloaded", "file", r.certFile, "subject", cert.Leaf.Subject.String(),
		"dnsNames", cert.Leaf.DNSNames, "notAfter", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return r.cert
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.Certificate(), nil
}

// ServerConfig returns the server's TLS configuration: TLS 1.2 or newer,
// the certificate from r, HTTP/2 and HTTP/1.1.
func ServerConfig(r *Reloader) *tls.Config {
	return &tls.Config{
		MinVersion:     MinVersion,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// SelfClientConfig returns a client configuration for the server calling
// its own API: it accepts exactly the certificate r serves now, whatever
// names it carries (the server dials its own address, which a real
// certificate need not name).
func SelfClientConfig(r *Reloader) *tls.Config {
	return &tls.Config{
		MinVersion:         MinVersion,
		InsecureSkipVerify: true, // replaced by the exact match below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server presented no certificate")
			}
			if !bytes.Equal(cs.PeerCertificates[0].Raw, r.Certificate().Certificate[0]) {
				return errors.New("tls: the server presented a certificate other than this server's own")
			}
			return nil
		},
	}
}
