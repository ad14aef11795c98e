// Package testserver runs the real opentrail server as a separate process
// for tests that need one: the reliability harness kills it, fills its
// disk and feeds it hostile input. The test binary acts as the opentrail
// command (call [Main] from TestMain), so no build step is needed; [Plain]
// builds the command without the race detector for tests that measure the
// server's own memory.
package testserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/cli"
)

// asCommand is the environment variable that makes the test binary run as
// the opentrail command.
const asCommand = "OPENTRAIL_TESTSERVER_AS_COMMAND"

// Main runs the opentrail command instead of the tests when the binary was
// started by [Start]; otherwise it runs the tests, then cleanups, and
// exits. Call it from TestMain.
func Main(m *testing.M, after func()) {
	if os.Getenv(asCommand) == "1" {
		os.Exit(cli.Process(os.Args[1:]))
	}
	code := m.Run()
	if after != nil {
		after()
	}
	plain.mu.Lock()
	if plain.dir != "" {
		os.RemoveAll(plain.dir)
	}
	plain.mu.Unlock()
	os.Exit(code)
}

// Server is an opentrail process under test.
type Server struct {
	t      testing.TB
	bin    string
	args   []string
	env    []string
	cmd    *exec.Cmd
	Addr   string
	URL    string
	Data   string
	stderr *lockedBuffer
	exited chan struct{}
}

// Options say how to start a server.
type Options struct {
	// Dir is the data directory; "" means a new temporary directory.
	Dir string
	// Bin is the command to run; "" means this test binary.
	Bin string
	// Args are added after `serve --addr A --data D`.
	Args []string
	// Env is added to the process's environment.
	Env []string
}

// FreeAddr returns a loopback address nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs `opentrail serve` on a free loopback port and waits until
// /healthz answers 200. The server is stopped (SIGTERM) when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Bin == "" {
		o.Bin = os.Args[0]
	}
	s := &Server{t: t, bin: o.Bin, Data: o.Dir, env: o.Env, args: o.Args}
	s.Addr = FreeAddr(t)
	s.URL = "http://" + s.Addr
	s.start()
	t.Cleanup(func() { s.Stop() })
	return s
}

func (s *Server) start() {
	t := s.t
	t.Helper()
	args := append([]string{"serve", "--addr", s.Addr, "--data", s.Data}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(append(os.Environ(), asCommand+"=1"), s.env...)
	s.stderr = &lockedBuffer{}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	exited := make(chan struct{})
	s.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	if err := s.WaitHealthy(60 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// WaitHealthy waits until /healthz answers 200, the process exits, or the
// time is up.
func (s *Server) WaitHealthy(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited during start-up:\n%s", s.Stderr())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not healthy after %v:\n%s", limit, s.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart starts the server again on the same address and data after
// [Server.Kill] or [Server.Stop] and returns how long it took to become
// healthy.
func (s *Server) Restart() time.Duration {
	s.t.Helper()
	began := time.Now()
	s.start()
	return time.Since(began)
}

// Stderr is what the server has written to its standard error.
func (s *Server) Stderr() string { return s.stderr.String() }

// Stop sends SIGTERM and waits for a clean exit.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.t.Errorf("server exited with %d after SIGTERM:\n%s", code, s.Stderr())
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		s.t.Errorf("server did not stop within 30 s of SIGTERM")
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// Pid is the server process's id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var plain struct {
	mu   sync.Mutex
	dir  string
	path string
}

// Plain returns the opentrail command built without the race detector
// (this test binary when it has none), for tests that measure the
// server's own resources. It is built once per test binary.
func Plain(t testing.TB) string {
	t.Helper()
	if !RaceEnabled {
		return os.Args[0]
	}
	plain.mu.Lock()
	defer plain.mu.Unlock()
	if plain.path != "" {
		return plain.path
	}
	dir, err := os.MkdirTemp("", "opentrail-testserver-bin-")
	if err != nil {
		t.Fatal(err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "opentrail")
	build := exec.Command("go", "build", "-o", bin, "./cmd/opentrail")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("go build: %v\n%s", err, out)
	}
	plain.dir, plain.path = dir, bin
	return bin
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Creds are local-mode credentials for an access key (secret "test").
func Creds(akid string) aws.Credentials {
	return aws.Credentials{AccessKeyID: akid, SecretAccessKey: "test"}
}

// Sign builds and signs a request for service in region, as of now.
func Sign(t testing.TB, c aws.Credentials, service, region, method, url string, header http.Header, body []byte) *http.Request {
	t.Helper()
	return SignAt(t, c, service, region, method, url, header, body, time.Now())
}

// SignAt is Sign as of time at.
func SignAt(t testing.TB, c aws.Credentials, service, region, method, url string, header http.Header, body []byte, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k != "Authorization" && k != "X-Amz-Date" {
			req.Header[k] = v
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatal(err)
	}
	return req
}

// Do sends req and returns the status, body and header; a transport error
// fails the test.
func Do(t testing.TB, req *http.Request) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// PostResult is the answer of POST /v1/events.
type PostResult struct {
	Accepted, Duplicates, Conflicts int
}

// PostEvents sends NDJSON records to POST /v1/events as access key akid
// and returns the status and, for a 200, the counts. A transport error is
// returned, not fatal: tests that kill the server expect some.
func (s *Server) PostEvents(ctx context.Context, t testing.TB, akid string, recs [][]byte) (int, PostResult, error) {
	t.Helper()
	body := bytes.Join(recs, []byte("\n"))
	req := Sign(t, Creds(akid), "opentrail", "us-east-1", "POST", s.URL+"/v1/events", nil, body)
	req = req.WithContext(ctx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, PostResult{}, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, PostResult{}, err
	}
	var r PostResult
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(out, &r); err != nil {
			return resp.StatusCode, r, fmt.Errorf("POST /v1/events answer %q: %w", out, err)
		}
	}
	return resp.StatusCode, r, nil
}

// Rec describes a CloudTrail record for [Record]; empty fields get
// defaults.
type Rec struct {
	ID, Name, Source, Region, Account, User, Key, Category string
	ReadOnly                                               bool
	Time                                                   time.Time
	// Resources is the resources array's JSON; "" means [].
	Resources string
}

// Record builds a valid CloudTrail record.
func Record(o Rec) []byte {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&o.Name, "DescribeInstances")
	def(&o.Source, "ec2.amazonaws.com")
	def(&o.Region, "us-east-1")
	def(&o.Account, "000000000000")
	def(&o.User, "alice")
	def(&o.Key, "AKIAEXAMPLEKEY000001")
	def(&o.Category, "Management")
	def(&o.Resources, "[]")
	if o.Time.IsZero() {
		o.Time = time.Now().UTC().Add(-time.Hour)
	}
	mgmt := o.Category == "Management"
	return []byte(fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::%[1]s:user/%[2]s","accountId":"%[1]s","accessKeyId":"%[3]s","userName":"%[2]s"},"eventTime":"%[4]s","eventSource":"%[5]s","eventName":"%[6]s","awsRegion":"%[7]s","sourceIPAddress":"198.51.100.9","userAgent":"aws-cli/2.9.19","requestParameters":{"instancesSet":{}},"responseElements":null,"requestID":"%[8]s","eventID":"%[8]s","readOnly":%[9]t,"resources":%[10]s,"eventType":"AwsApiCall","managementEvent":%[11]t,"recipientAccountId":"%[1]s","eventCategory":"%[12]s"}`,
		o.Account, o.User, o.Key, o.Time.UTC().Format(time.RFC3339), o.Source, o.Name, o.Region, o.ID, o.ReadOnly, o.Resources, mgmt, o.Category))
}

// UUID makes a distinct, valid event id from a prefix and a number.
func UUID(prefix string, i int) string {
	sum := sha256.Sum256([]byte(prefix))
	return fmt.Sprintf("%x-0000-4000-8000-%012d", sum[0:4], i)
}

// AWSCLI runs the Debian AWS CLI (/usr/bin/aws) against the server as
// access key akid (secret "test") and returns its output and exit code.
func (s *Server) AWSCLI(t testing.TB, akid, region string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := "/usr/bin/aws"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the AWS CLI is not installed at %s; scripts/test installs it (apt-get install awscli)", bin)
	}
	cmd := exec.Command(bin, append([]string{"--endpoint-url", s.URL, "--region", region, "--output", "json"}, args...)...)
	home := t.TempDir()
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "AWS_PAGER=", "AWS_ACCESS_KEY_ID=" + akid, "AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
	}
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

// Command runs the opentrail command (this test binary, as [Main] makes
// it) with args and extra environment, and returns its output and exit
// code.
func Command(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), asCommand+"=1"), env...)
	return Run(t, cmd)
}

// Run runs cmd and returns its output and exit code; failing to start
// it fails the test.
func Run(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// PeakMemory is the server process's peak resident memory (VmHWM), in
// bytes.
func (s *Server) PeakMemory() int64 {
	s.t.Helper()
	return PeakMemoryOf(s.t, s.Pid())
}

// PeakMemoryOf is the peak resident memory (VmHWM) of process pid, in
// bytes.
func PeakMemoryOf(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
