package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/opentrail/opentrail/internal/cli"
	"github.com/opentrail/opentrail/internal/testserver"
)

// TestMain lets the test binary act as the opentrail command, so tests can
// run the real server in its own process without building it first.
func TestMain(m *testing.M) {
	if os.Getenv("OPENTRAIL_E2E_AS_COMMAND") == "1" {
		os.Exit(cli.Process(os.Args[1:]))
	}
	code := m.Run()
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// cleanups run once every test has finished.
var cleanups []func()

// server is an opentrail process under test.
type server struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string
	url    string
	data   string
	stderr *bytes.Buffer
	errw   *lockedWriter // writes stderr; output reads it
	exited chan struct{}
	// ca is the certificate file an https server's clients trust ("" for
	// plain HTTP); roots holds it, and client is an HTTP client trusting it.
	ca     string
	roots  *x509.CertPool
	client *http.Client
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs `opentrail serve` on a free loopback port with data in
// dir (a new temporary directory when dir is "") and waits for /healthz.
func startServer(t testing.TB, dir string, extra ...string) *server {
	t.Helper()
	return startServerBinary(t, os.Args[0], dir, extra...)
}

var plainBin struct {
	once sync.Once
	path string
	err  error
}

// plainBinary is the opentrail command built without the race detector,
// for tests that measure the server's own resources (the race detector's
// shadow memory would be measured too). Without -race it is this test
// binary; with it, the command is built once, into a directory removed
// when the tests end.
func plainBinary(t testing.TB) string {
	t.Helper()
	if !raceEnabled {
		return os.Args[0]
	}
	plainBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "opentrail-e2e-bin-")
		if err != nil {
			plainBin.err = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		plainBin.path = filepath.Join(dir, "opentrail")
		build := exec.Command("go", "build", "-o", plainBin.path, "./cmd/opentrail")
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			plainBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if plainBin.err != nil {
		t.Fatal(plainBin.err)
	}
	return plainBin.path
}

// startServerBinary is startServer with the command at bin.
func startServerBinary(t testing.TB, bin, dir string, extra ...string) *server {
	t.Helper()
	return launch(t, bin, dir, "", extra...)
}

// startServerTLS runs `opentrail serve` serving HTTPS: with a self-signed
// certificate (<dir>/tls/cert.pem) when extra names no --tls-cert, else
// with that certificate, which ca (the file clients trust) names. It waits
// for /healthz over https, trusting ca.
func startServerTLS(t testing.TB, dir, ca string, extra ...string) *server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if ca == "" {
		ca = filepath.Join(dir, "tls", "cert.pem")
		extra = append([]string{"--tls-self-signed"}, extra...)
	}
	return launch(t, os.Args[0], dir, ca, extra...)
}

// launch starts the server; ca, when set, makes it an https server whose
// certificate clients find in that file.
func launch(t testing.TB, bin, dir, ca string, extra ...string) *server {
	t.Helper()
	return launchAt(t, bin, freeAddr(t), dir, ca, extra...)
}

// launchAt is launch on addr: a server started again where clients knew it.
func launchAt(t testing.TB, bin, addr, dir, ca string, extra ...string) *server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	args := append([]string{"serve", "--addr", addr, "--data", dir}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OPENTRAIL_E2E_AS_COMMAND=1")
	var stderr bytes.Buffer
	errw := &lockedWriter{w: &stderr}
	cmd.Stderr = errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, addr: addr, url: "http://" + addr, data: dir, stderr: &stderr, errw: errw,
		exited: make(chan struct{}), ca: ca, client: http.DefaultClient}
	if ca != "" {
		s.url = "https://" + addr
	}
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ca != "" && s.roots == nil {
			// A self-signed certificate appears during start-up.
			if b, err := os.ReadFile(ca); err == nil {
				s.roots = x509.NewCertPool()
				s.roots.AppendCertsFromPEM(b)
				s.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}}}
			}
		}
		resp, err := s.client.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("server exited during start-up:\n%s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy after 60 s:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.t.Errorf("server exited with %d after SIGTERM:\n%s", code, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("server did not stop within 30 s of SIGTERM")
	}
}

// kill sends SIGKILL and waits.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// output is what the server has written to stderr so far; safe while it
// runs.
func (s *server) output() string {
	s.errw.mu.Lock()
	defer s.errw.mu.Unlock()
	return s.stderr.String()
}

// creds are local-mode credentials for an access key (secret "test").
func creds(akid string) aws.Credentials { return testserver.Creds(akid) }

// signedRequest builds and signs a request for service in region.
func signedRequest(t testing.TB, c aws.Credentials, service, region, method, url string, header http.Header, body []byte) *http.Request {
	t.Helper()
	return testserver.Sign(t, c, service, region, method, url, header, body)
}

// signedRequestAt signs as of time at.
func signedRequestAt(t testing.TB, c aws.Credentials, service, region, method, url string, header http.Header, body []byte, at time.Time) *http.Request {
	t.Helper()
	return testserver.SignAt(t, c, service, region, method, url, header, body, at)
}

// do sends req and returns status and body.
func do(t testing.TB, req *http.Request) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// postEvents sends NDJSON records to POST /v1/events as account akid.
func (s *server) postEvents(t testing.TB, akid string, recs [][]byte) (accepted, duplicates int) {
	t.Helper()
	body := bytes.Join(recs, []byte("\n"))
	req := signedRequest(t, creds(akid), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, body)
	code, out, _ := do(t, req)
	if code != 200 {
		t.Fatalf("POST /v1/events: %d %s", code, out)
	}
	var r struct{ Accepted, Duplicates int }
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r.Accepted, r.Duplicates
}

// record builds a valid CloudTrail record.
type recOpts struct {
	id, name, source, region, account, user, key, category string
	readOnly                                               bool
	t                                                      time.Time
	resources                                              string
}

func record(o recOpts) []byte {
	return testserver.Record(testserver.Rec{ID: o.id, Name: o.name, Source: o.source, Region: o.region, Account: o.account,
		User: o.user, Key: o.key, Category: o.category, ReadOnly: o.readOnly, Time: o.t, Resources: o.resources})
}

func uuid(prefix string, i int) string { return testserver.UUID(prefix, i) }

// awsCLI runs the Debian AWS CLI against the server.
// mustCLI runs the AWS CLI as access key "test" and returns its output,
// failing the test unless it exits with 0.
func (s *server) mustCLI(t testing.TB, region string, args ...string) string {
	t.Helper()
	out, errs, code := s.awsCLI(t, "test", region, args...)
	if code != 0 {
		t.Fatalf("aws %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (s *server) awsCLI(t testing.TB, akid, region string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return s.awsCLIEnv(t, nil, akid, region, args...)
}

// awsCLIEnv is awsCLI with more environment variables (AWS_CA_BUNDLE).
func (s *server) awsCLIEnv(t testing.TB, env []string, akid, region string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := "/usr/bin/aws"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the AWS CLI is not installed at %s; scripts/test installs it (apt-get install awscli)", bin)
	}
	cmd := exec.Command(bin, append([]string{"--endpoint-url", s.url, "--region", region, "--output", "json"}, args...)...)
	home := t.TempDir()
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "AWS_PAGER=", "AWS_ACCESS_KEY_ID=" + akid, "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), errb.String(), ee.ExitCode()
		}
		t.Fatal(err)
	}
	return out.String(), strings.TrimSpace(errb.String()), 0
}
