package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/testserver"
)

// The capture gateway's tests run three real processes: an opentrail
// server (the store), `opentrail gateway` recording into it over its
// native endpoints, and an upstream behind the gateway (versitygw for S3,
// or a small JSON / query protocol server of the test's own).

// upstreamSecretEnv names the environment variable holding the upstream's
// secret for `opentrail gateway --upstream-secret-env`.
const upstreamSecretEnv = "OT_E2E_UPSTREAM_SECRET"

// The upstream's own credentials (versitygw's root, the test upstreams'
// only key).
const (
	upstreamAccess = "e2e-access"
	upstreamSecret = "e2e-secret-key"
)

// gatewayProc is an `opentrail gateway` process under test.
type gatewayProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string
	url    string
	stderr *bytes.Buffer
	errw   *lockedWriter
	exited chan struct{}
}

// startGateway runs `opentrail gateway --addr A args...` (the command at
// bin; "" means this test binary) on a free loopback port and waits until
// it accepts connections. It is stopped (SIGTERM) when the test ends.
func startGateway(t testing.TB, bin string, args ...string) *gatewayProc {
	t.Helper()
	if bin == "" {
		bin = os.Args[0]
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"gateway", "--addr", addr}, args...)...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "OPENTRAIL_E2E_AS_COMMAND=1", upstreamSecretEnv+"="+upstreamSecret, "OT_E2E_USER_SECRET=e2e-user-secret",
		// The gateway signs its records for the server with the usual
		// credential chain: local mode's key, stated rather than found.
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "HOME="+home,
		"AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))
	var stderr bytes.Buffer
	errw := &lockedWriter{w: &stderr}
	cmd.Stderr, cmd.Stdout = errw, errw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{t: t, cmd: cmd, addr: addr, url: "http://" + addr, stderr: &stderr, errw: errw, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(g.exited) }()
	t.Cleanup(g.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return g
		}
		select {
		case <-g.exited:
			t.Fatalf("opentrail gateway exited during start-up:\n%s", g.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("opentrail gateway does not listen on %s after 30 s:\n%s", addr, g.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (g *gatewayProc) output() string {
	g.errw.mu.Lock()
	defer g.errw.mu.Unlock()
	return g.stderr.String()
}

// stop sends SIGTERM and waits for the gateway to exit.
func (g *gatewayProc) stop() {
	select {
	case <-g.exited:
		return
	default:
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(30 * time.Second):
		g.cmd.Process.Kill()
		g.t.Errorf("opentrail gateway did not stop within 30 s of SIGTERM:\n%s", g.output())
	}
}

// kill sends SIGKILL and waits.
func (g *gatewayProc) kill() {
	g.cmd.Process.Kill()
	<-g.exited
}

// peakMemory is the gateway's peak resident memory (VmHWM), in bytes.
func (g *gatewayProc) peakMemory() int64 {
	g.t.Helper()
	return testserver.PeakMemoryOf(g.t, g.cmd.Process.Pid)
}

// captureServerConfig is a server configuration whose LookupEvents also
// returns data events (S3 object calls), so the tests can read every
// captured record back through the CloudTrail API. extra is appended.
func captureServerConfig(t testing.TB, extra string) string {
	t.Helper()
	return writeConfig(t, "history:\n  include_data_events: true\n"+extra)
}

// gatewayConfig is a configuration file holding a gateway: section (yaml
// is indented under it).
func gatewayConfig(t testing.TB, yaml string) string {
	t.Helper()
	return writeConfig(t, "gateway:\n"+yaml)
}

// upstreamArgs are the gateway's flags for an upstream at url, its
// records going to the server s.
func upstreamArgs(url string, s *server) []string {
	return []string{"--upstream", url, "--upstream-access-key-id", upstreamAccess,
		"--upstream-secret-env", upstreamSecretEnv, "--endpoint", s.url}
}

// s3Stack is versitygw behind a gateway recording into a server.
type s3Stack struct {
	srv *server
	vgw *versitygw
	gw  *gatewayProc
}

// startS3Stack starts a server, versitygw and a gateway in front of it;
// gwArgs are added to the gateway's flags.
func startS3Stack(t *testing.T, gwArgs ...string) *s3Stack {
	t.Helper()
	vgw := startVersitygw(t) // upstreamAccess, upstreamSecret
	srv := startServer(t, "", "--config", captureServerConfig(t, ""))
	gw := startGateway(t, "", append(upstreamArgs(vgw.URL, srv), gwArgs...)...)
	return &s3Stack{srv: srv, vgw: vgw, gw: gw}
}

// gatewayCLI runs the Debian AWS CLI against the gateway at url as local
// mode's key (test/test).
func gatewayCLI(t testing.TB, url string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	s := &server{url: url}
	return s.awsCLI(t, "test", "us-east-1", args...)
}

// mustGatewayCLI is gatewayCLI failing the test unless the CLI exits 0.
func mustGatewayCLI(t testing.TB, url string, args ...string) string {
	t.Helper()
	out, errs, code := gatewayCLI(t, url, args...)
	if code != 0 {
		t.Fatalf("aws %s (through the gateway): exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// capturedRecords returns the CloudTrail records of the server's history
// (management and data events, every region the gateway's clients sign
// for: us-east-1) whose eventSource is source, oldest first.
func capturedRecords(t testing.TB, s *server, source string) []map[string]any {
	t.Helper()
	c := ctClient(s, "test", "us-east-1")
	var out []map[string]any
	p := cloudtrail.NewLookupEventsPaginator(c, &cloudtrail.LookupEventsInput{
		LookupAttributes: attr("EventSource", source), MaxResults: aws.Int32(50)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		for _, e := range page.Events {
			var rec map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec); err != nil {
				t.Fatalf("CloudTrailEvent is not JSON: %v", err)
			}
			out = append(out, rec)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// waitRecords polls the history until match holds for the records of
// source, and returns them.
func waitRecords(t testing.TB, s *server, source string, within time.Duration, what string, match func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		recs := capturedRecords(t, s, source)
		if match(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			var names []string
			for _, r := range recs {
				names = append(names, fmt.Sprint(r["eventName"]))
			}
			t.Fatalf("waited %s for %s; the history holds %d records of %s: %v", within, what, len(recs), source, names)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// byName returns the records named name.
func byName(recs []map[string]any, name string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["eventName"] == name {
			out = append(out, r)
		}
	}
	return out
}

// recField reads a nested field of a record: recField(rec,
// "requestParameters", "bucketName").
func recField(rec map[string]any, keys ...string) any {
	var v any = rec
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// signS3 signs an S3 request to the gateway as local mode's key, declaring
// payloadHash (UNSIGNED-PAYLOAD or the body's SHA-256).
func signS3(t testing.TB, req *http.Request, payloadHash string) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds("test"), req, payloadHash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// protocolUpstream is a small AWS-protocol service of the test's own
// (JSON 1.0 as DynamoDB speaks it, or query as SNS does): it answers a few
// operations and keeps every request it saw, its own view of what
// reached it.
type protocolUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	Target, Action, Auth string
	Body                 string
}

// requests returns what the upstream has seen so far.
func (u *protocolUpstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

// startJSONUpstream serves DynamoDB's JSON 1.0: ListTables, DeleteTable
// (ResourceNotFoundException for a table named "missing").
func startJSONUpstream(t testing.TB) *protocolUpstream {
	u := &protocolUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		target := r.Header.Get("X-Amz-Target")
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{Target: target, Auth: r.Header.Get("Authorization"), Body: string(body)})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-RequestId", "UPSTREAMJSONREQUEST0000000000000000000000000000000")
		var in map[string]any
		json.Unmarshal(body, &in)
		switch target {
		case "DynamoDB_20120810.ListTables":
			io.WriteString(w, `{"TableNames":["orders"]}`)
		case "DynamoDB_20120810.DeleteTable":
			if in["TableName"] == "missing" {
				w.WriteHeader(400)
				io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found: Table: missing not found"}`)
				return
			}
			fmt.Fprintf(w, `{"TableDescription":{"TableName":%q,"TableStatus":"DELETING"}}`, in["TableName"])
		default:
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"com.amazon.coral.service#UnknownOperationException"}`)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// startQueryUpstream serves SNS's query protocol: CreateTopic, ListTopics.
func startQueryUpstream(t testing.TB) *protocolUpstream {
	u := &protocolUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ParseForm()
		action := r.Form.Get("Action")
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{Action: action, Auth: r.Header.Get("Authorization"), Body: string(body)})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("x-amzn-RequestId", "a1b2c3d4-0000-4000-8000-000000000001")
		switch action {
		case "CreateTopic":
			fmt.Fprintf(w, `<CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:123456789012:%s</TopicArn></CreateTopicResult><ResponseMetadata><RequestId>a1b2c3d4-0000-4000-8000-000000000001</RequestId></ResponseMetadata></CreateTopicResponse>`, r.Form.Get("Name"))
		case "ListTopics":
			io.WriteString(w, `<ListTopicsResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ListTopicsResult><Topics/></ListTopicsResult><ResponseMetadata><RequestId>a1b2c3d4-0000-4000-8000-000000000001</RequestId></ResponseMetadata></ListTopicsResponse>`)
		case "DeleteTopic":
			w.WriteHeader(404)
			io.WriteString(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>a1b2c3d4-0000-4000-8000-000000000001</RequestId></ErrorResponse>`)
		default:
			w.WriteHeader(400)
			io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>unknown action</Message></Error></ErrorResponse>`)
		}
	}))
	t.Cleanup(u.Close)
	return u
}
