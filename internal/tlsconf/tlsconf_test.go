package tlsconf_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/tlsconf"
)

func TestSelfSignedKeptAndRenewed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Now()
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	cf, kf, created, err := tlsconf.SelfSigned(dir, hosts, now)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, kf: 0o600, cf: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	leaf := leafOf(t, cf)
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key algorithm %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}
	if d := leaf.NotAfter.Sub(now); d < 360*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("valid for %v, want about a year", d)
	}
	if !slices.Contains(leaf.DNSNames, "localhost") || len(leaf.IPAddresses) != 2 {
		t.Errorf("SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	before, _ := os.ReadFile(cf)

	// Restart: the same pair.
	if _, _, created, err := tlsconf.SelfSigned(dir, hosts, now.Add(time.Hour)); err != nil || created {
		t.Fatalf("restart: created=%v err=%v", created, err)
	}
	if after, _ := os.ReadFile(cf); !bytes.Equal(before, after) {
		t.Error("restart replaced a certificate that was still good")
	}
	// A new address the certificate does not name: a new pair.
	if _, _, created, _ := tlsconf.SelfSigned(dir, append(hosts, "audit.example.com"), now); !created {
		t.Error("a host the certificate does not cover kept the old pair")
	}
	if !slices.Contains(leafOf(t, cf).DNSNames, "audit.example.com") {
		t.Error("renewed certificate does not name the new host")
	}
	// Within 30 days of expiry: renewed.
	if _, _, created, _ := tlsconf.SelfSigned(dir, hosts, now.Add(340*24*time.Hour)); !created {
		t.Error("a certificate expiring within 30 days was kept")
	}
	// A damaged pair is replaced.
	os.WriteFile(kf, []byte("garbage"), 0o600)
	if _, _, created, err := tlsconf.SelfSigned(dir, hosts, now); err != nil || !created {
		t.Errorf("damaged key: created=%v err=%v", created, err)
	}
}

func TestSelfSignedHosts(t *testing.T) {
	h, _ := os.Hostname()
	for addr, extra := range map[string]string{"0.0.0.0:4747": "", "[::]:1": "", ":4747": "", "10.1.2.3:4747": "10.1.2.3", "Audit.Example.com:443": "audit.example.com"} {
		got := tlsconf.SelfSignedHosts(addr)
		want := []string{"localhost", "127.0.0.1", "::1"}
		if h != "" && !slices.Contains(want, strings.ToLower(h)) {
			want = append(want, strings.ToLower(h))
		}
		if extra != "" && !slices.Contains(want, extra) {
			want = append(want, extra)
		}
		if !slices.Equal(got, want) {
			t.Errorf("SelfSignedHosts(%q) = %v, want %v", addr, got, want)
		}
	}
}

func leafOf(t *testing.T, certFile string) *x509.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(certFile, strings.TrimSuffix(certFile, "cert.pem")+"key.pem")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// TestReload serves over a real listener and replaces the files: a new
// handshake sees the new certificate; a broken replacement keeps the old
// one and is logged once.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	// Two pairs made in their own directories, copied into place.
	a1, a2, _, err := tlsconf.SelfSigned(filepath.Join(dir, "a"), []string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b1, b2, _, err := tlsconf.SelfSigned(filepath.Join(dir, "b"), []string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cf, kf := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	install := func(c, k string) {
		t.Helper()
		cb, _ := os.ReadFile(c)
		kb, _ := os.ReadFile(k)
		// As a rotation does: write beside, rename over.
		for path, b := range map[string][]byte{cf: cb, kf: kb} {
			if err := os.WriteFile(path+".new", b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(a1, a2)
	var logs bytes.Buffer
	r, err := tlsconf.NewReloader(cf, kf, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.CheckInterval = 0
	addr := serve(t, r)

	served := func() []byte {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
	if !bytes.Equal(served(), leafOf(t, a1).Raw) {
		t.Fatal("not serving the first certificate")
	}
	install(b1, b2)
	if !bytes.Equal(served(), leafOf(t, b1).Raw) {
		t.Fatal("a new handshake after the files changed does not see the new certificate")
	}
	// A broken pair: b's certificate with a's key.
	kb, _ := os.ReadFile(a2)
	os.WriteFile(kf, kb, 0o600)
	for range 3 {
		if !bytes.Equal(served(), leafOf(t, b1).Raw) {
			t.Fatal("a pair that does not load replaced the working one")
		}
	}
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Errorf("failed reload logged %d times, want once:\n%s", n, logs.String())
	}
	// Fixed: served again.
	install(a1, a2)
	if !bytes.Equal(served(), leafOf(t, a1).Raw) {
		t.Fatal("the fixed pair is not served")
	}
	// TLS 1.1 is refused.
	if _, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}
}

// TestCheckInterval: within the interval the files are not looked at.
func TestCheckInterval(t *testing.T) {
	dir := t.TempDir()
	a1, a2, _, _ := tlsconf.SelfSigned(filepath.Join(dir, "a"), []string{"localhost"}, time.Now())
	b1, _, _, _ := tlsconf.SelfSigned(filepath.Join(dir, "b"), []string{"localhost"}, time.Now())
	r, err := tlsconf.NewReloader(a1, a2, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r.CheckInterval = time.Hour
	first := r.Certificate()
	b, _ := os.ReadFile(b1)
	os.WriteFile(a1, b, 0o644)
	if r.Certificate() != first {
		t.Error("files looked at again within the check interval")
	}
}

func TestSelfClientConfig(t *testing.T) {
	dir := t.TempDir()
	a1, a2, _, _ := tlsconf.SelfSigned(filepath.Join(dir, "a"), []string{"example.org"}, time.Now())
	b1, b2, _, _ := tlsconf.SelfSigned(filepath.Join(dir, "b"), []string{"example.org"}, time.Now())
	ra, _ := tlsconf.NewReloader(a1, a2, nil)
	rb, _ := tlsconf.NewReloader(b1, b2, nil)
	addr := serve(t, ra)
	// Dialled by IP although the certificate names only example.org.
	if c, err := tls.Dial("tcp", addr, tlsconf.SelfClientConfig(ra)); err != nil {
		t.Errorf("own certificate refused: %v", err)
	} else {
		c.Close()
	}
	if _, err := tls.Dial("tcp", addr, tlsconf.SelfClientConfig(rb)); err == nil {
		t.Error("another server's certificate accepted")
	}
}

// serve runs an HTTPS server with r's certificate on a loopback port.
func serve(t *testing.T, r *tlsconf.Reloader) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), TLSConfig: tlsconf.ServerConfig(r), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
