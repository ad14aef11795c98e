package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Self-signed certificates are valid for SelfSignedValidity and made
// again when they expire within RenewBefore.
const (
	SelfSignedValidity = 365 * 24 * time.Hour
	RenewBefore        = 30 * 24 * time.Hour
)

// File names of the self-signed pair inside its directory.
const (
	CertName = "cert.pem"
	KeyName  = "key.pem"
)

// SelfSignedHosts are the names a self-signed certificate for a server
// listening on addr (host:port) covers: localhost, 127.0.0.1, ::1, the
// machine's host name, and addr's host unless it is a wildcard (0.0.0.0,
// ::, empty).
func SelfSignedHosts(addr string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, strings.ToLower(h))
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, strings.ToLower(host))
		}
	}
	var out []string
	for _, h := range hosts {
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// SelfSigned makes sure dir holds a self-signed certificate (cert.pem)
// and its ECDSA P-256 key (key.pem) that cover hosts
// and stay valid for more than RenewBefore after now; it keeps the pair
// it finds when it does, and otherwise makes a new one valid for a year.
// dir is created with mode 0700. It returns the two paths and whether it
// made a new pair. Both files are owner-only (0600), as everything in
// the server's data directory is: the certificate is public, but the
// store makes the directory owner-only at every start, so a readable
// certificate would only be narrowed then (with a warning); clients get a
// copy of it.
func SelfSigned(dir string, hosts []string, now time.Time) (certFile, keyFile string, created bool, err error) {
	certFile, keyFile = filepath.Join(dir, CertName), filepath.Join(dir, KeyName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", false, fmt.Errorf("tls: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", "", false, fmt.Errorf("tls: %w", err)
	}
	if cert, err := load(certFile, keyFile); err == nil && covers(cert.Leaf, hosts) && cert.Leaf.NotAfter.Sub(now) > RenewBefore {
		return certFile, keyFile, false, os.Chmod(keyFile, 0o600)
	}
	certPEM, keyPEM, err := makeSelfSigned(hosts, now)
	if err != nil {
		return "", "", false, err
	}
	// The key first: a crash between the two leaves a pair that does not
	// load, which the next start replaces.
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", false, err
	}
	if err := writeFile(certFile, certPEM, 0o600); err != nil {
		return "", "", false, err
	}
	return certFile, keyFile, true, nil
}

// covers reports whether c names every host.
func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func makeSelfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("tls: serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "opentrail self-signed", Organization: []string{"opentrail"}},
		NotBefore:    now.Add(-time.Hour), // clocks of clients a little behind
		NotAfter:     now.Add(SelfSignedValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// A CA certificate that is its own issuer: clients given it as
		// their CA bundle (--ca-bundle, AWS_CA_BUNDLE, verify=) accept it.
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: create certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// writeFile writes b to path durably with mode perm: a temporary file,
// fsync, rename, fsync of the directory.
func writeFile(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("tls: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("tls: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("tls: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	defer d.Close()
	return d.Sync()
}
