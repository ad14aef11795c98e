package cli

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/tlsconf"
)

func TestGatewayFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gateway"}, "--upstream is required"},
		{[]string{"gateway", "--upstream", "http://127.0.0.1:7070", "--data", t.TempDir(), "--endpoint", "http://127.0.0.1:4747"}, "not both"},
		{[]string{"gateway", "--upstream", "ftp://x"}, `gateway.upstream "ftp://x"`},
		{[]string{"gateway", "--upstream", "http://127.0.0.1:7070", "--upstream-access-key-id", "k"}, "gateway.upstream_secret_env"},
		{[]string{"gateway", "--upstream", "http://127.0.0.1:7070", "--addr", "0.0.0.0:4749"}, "loopback only"},
		{[]string{"gateway", "--upstream", "http://127.0.0.1:7070", "extra"}, `unexpected argument "extra"`},
	} {
		_, stderr, code := runMain(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestGatewayRemote runs `opentrail gateway` in front of a service,
// recording to a server `serve` runs: a call through it is stored there.
func TestGatewayRemote(t *testing.T) {
	serverAddr, gatewayAddr := freeAddr(t), freeAddr(t)
	gatewayThrough(t, serverAddr, "http://"+gatewayAddr, http.DefaultClient, []string{"serve", "--addr", serverAddr, "--data", t.TempDir()},
		[]string{"gateway", "--addr", gatewayAddr, "--endpoint", "http://" + serverAddr})
}

// TestGatewayRemoteTLS: `opentrail gateway --tls-cert --tls-key` serves
// HTTPS, and the calls' records carry tlsDetails.
func TestGatewayRemoteTLS(t *testing.T) {
	serverAddr, gatewayAddr := freeAddr(t), freeAddr(t)
	certFile, keyFile, _, err := tlsconf.SelfSigned(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool, err := client.LoadCABundle(certFile)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	gatewayThrough(t, serverAddr, "https://"+gatewayAddr, cl, []string{"serve", "--addr", serverAddr, "--data", t.TempDir()},
		[]string{"gateway", "--addr", gatewayAddr, "--endpoint", "http://" + serverAddr, "--tls-cert", certFile, "--tls-key", keyFile},
		func() {
			stdout, stderr, _ := runMain(t, "lookup", "--endpoint", "http://"+serverAddr, "--event-category", "data", "--json", "--attr", "EventName=DeleteObject")
			if !strings.Contains(stdout, `"tlsDetails"`) || !strings.Contains(stdout, `"tlsVersion":"TLSv1.`) {
				t.Errorf("the DeleteObject record of a call over HTTPS has no tlsDetails: %s%s", stdout, stderr)
			}
		})
}

// TestGatewayOwnStore runs `opentrail gateway --data`: the gateway with a
// server of its own on the data directory.
func TestGatewayOwnStore(t *testing.T) {
	serverAddr, gatewayAddr := freeAddr(t), freeAddr(t)
	t.Setenv("OPENTRAIL_ADDR", serverAddr)
	gatewayThrough(t, serverAddr, "http://"+gatewayAddr, http.DefaultClient, nil, []string{"gateway", "--addr", gatewayAddr, "--data", t.TempDir()})
}

// gatewayThrough runs the commands (the server's, if any, and the
// gateway's, given an --upstream), sends a call through the gateway and
// waits for its record on the server.
func gatewayThrough(t *testing.T, serverAddr, gatewayURL string, cl *http.Client, serve, gw []string, then ...func()) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(args ...string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The server and the gateway print from goroutines of their own.
			out := &lockedBuilder{}
			Main(ctx, args, &Env{Stdout: out, Stderr: out, Stdin: strings.NewReader("")})
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	if serve != nil {
		run(serve...)
	}
	run(append(gw, "--upstream", up.URL)...)
	var resp *http.Response
	for deadline := time.Now().Add(30 * time.Second); ; {
		r, _ := http.NewRequest("DELETE", gatewayURL+"/bucket/key", nil)
		r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, r, emptySHA256, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		var err error
		if resp, err = cl.Do(r); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("DELETE through the gateway: %v %v", resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		stdout, _, _ := runMain(t, "query", "--endpoint", "http://"+serverAddr, "SELECT eventName FROM cloudtrail_events WHERE eventSource = 's3.amazonaws.com'")
		if strings.Contains(stdout, "DeleteObject") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DeleteObject record on the server: %s", stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, f := range then {
		f()
	}
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuilder is a strings.Builder several goroutines may write to.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
