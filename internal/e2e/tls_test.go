package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/tlsconf"
)

// sdkTLS returns a CloudTrail client of aws-sdk-go-v2 for s whose
// transport trusts roots (nil: the system's roots).
func sdkTLS(s *server, roots *x509.CertPool) *cloudtrail.Client {
	return cloudtrail.New(cloudtrail.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.url),
		Credentials:  aws.NewCredentialsCache(credProvider("test")),
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: roots}
		}),
		RetryMaxAttempts: 1,
	})
}

// TestTLSSelfSigned serves HTTPS with `serve --tls-self-signed` and
// talks to it as users would: the AWS CLI with --ca-bundle and with
// AWS_CA_BUNDLE, aws-sdk-go-v2 with its own roots, opentrail's own
// commands, curl-like plain clients that do not trust the certificate or
// speak plain HTTP. Every call is recorded with its tlsDetails.
func TestTLSSelfSigned(t *testing.T) {
	dir := t.TempDir()
	s := startServerTLS(t, dir, "")
	ca := filepath.Join(dir, "tls", "cert.pem")

	t.Run("files", func(t *testing.T) {
		for path, want := range map[string]os.FileMode{filepath.Join(dir, "tls"): os.ModeDir | 0o700, ca: 0o600, filepath.Join(dir, "tls", "key.pem"): 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != want {
				t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
			}
		}
	})

	t.Run("expiry metric", func(t *testing.T) {
		b, _ := os.ReadFile(ca)
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatalf("%s holds no PEM block", ca)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.client.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("opentrail_tls_certificate_expiry_timestamp_seconds %d\n", cert.NotAfter.Unix())
		if !strings.Contains(string(b), want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	})

	t.Run("banner", func(t *testing.T) {
		log := s.output()
		for _, want := range []string{"url=" + s.url + "/", "--endpoint-url " + s.url + " --ca-bundle " + ca, "export AWS_CA_BUNDLE=" + ca} {
			if !strings.Contains(log, want) {
				t.Errorf("start-up output lacks %q:\n%s", want, log)
			}
		}
	})

	t.Run("aws cli", func(t *testing.T) {
		out, errs, code := s.awsCLI(t, "test", "us-east-1", "--ca-bundle", ca, "cloudtrail", "describe-trails")
		if code != 0 || !strings.Contains(out, "trailList") {
			t.Fatalf("describe-trails --ca-bundle: exit %d\n%s\n%s", code, out, errs)
		}
		out, errs, code = s.awsCLIEnv(t, []string{"AWS_CA_BUNDLE=" + ca}, "test", "us-east-1", "cloudtrail", "lookup-events", "--max-results", "1")
		if code != 0 || !strings.Contains(out, "Events") {
			t.Fatalf("lookup-events with AWS_CA_BUNDLE: exit %d\n%s\n%s", code, out, errs)
		}
		// Not trusted: refused by the client, saying why.
		_, errs, code = s.awsCLI(t, "test", "us-east-1", "cloudtrail", "describe-trails")
		if code == 0 || !strings.Contains(errs, "CERTIFICATE_VERIFY_FAILED") {
			t.Fatalf("an untrusted certificate was accepted, or the refusal is unclear: exit %d\n%s", code, errs)
		}
	})

	t.Run("aws cli v1 and boto3", func(t *testing.T) {
		home := t.TempDir()
		env := append(os.Environ(), "HOME="+home, "AWS_PAGER=", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
			"AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))
		v1 := exec.Command(filepath.Join(os.Getenv("HOME"), ".pyenv", "shims", "aws"), "--endpoint-url", s.url, "--region", "us-east-1",
			"--ca-bundle", ca, "cloudtrail", "list-trails")
		v1.Env = env
		if out, err := v1.CombinedOutput(); err != nil || !strings.Contains(string(out), "Trails") {
			t.Fatalf("AWS CLI v1 with --ca-bundle: %v\n%s", err, out)
		}
		script := `
import sys, boto3
c = boto3.client("cloudtrail", endpoint_url=sys.argv[1], region_name="us-east-1", verify=sys.argv[2])
print(c.lookup_events(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"])
`
		py := exec.Command("python3", "-c", script, s.url, ca)
		py.Env = env
		if out, err := py.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "200" {
			t.Fatalf("boto3 with verify=: %v\n%s", err, out)
		}
	})

	t.Run("sdk", func(t *testing.T) {
		roots := x509.NewCertPool()
		caPEM, _ := os.ReadFile(ca)
		roots.AppendCertsFromPEM(caPEM)
		ctx := context.Background()
		if _, err := sdkTLS(s, roots).LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)}); err != nil {
			t.Fatalf("LookupEvents trusting the certificate: %v", err)
		}
		_, err := sdkTLS(s, nil).LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("LookupEvents not trusting the certificate: err = %v, want an unknown-authority error", err)
		}
	})

	t.Run("plain http to the tls port", func(t *testing.T) {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "Client sent an HTTP request to an HTTPS server") {
			t.Fatalf("plain HTTP: %d %q", resp.StatusCode, b)
		}
		// The native API answers over https only.
		req := signedRequest(t, creds("test"), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, record(recOpts{id: uuid("tls", 1)}))
		resp, err = s.client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST /v1/events over https: %v %v", resp, err)
		}
		resp.Body.Close()
	})

	t.Run("console", func(t *testing.T) {
		// Signing in over https gives a Secure session cookie.
		req, _ := http.NewRequest("POST", s.url+"/signin", strings.NewReader("username=admin&password=opentrail&next=/"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", s.url)
		noRedirect := *s.client
		noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cookie := resp.Header.Get("Set-Cookie")
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(cookie, "; Secure") {
			t.Fatalf("sign-in over https: %d, Set-Cookie %q", resp.StatusCode, cookie)
		}
	})

	t.Run("opentrail cli", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "test")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
		t.Setenv("AWS_CA_BUNDLE", "")
		out, errs, code := runCLI(t, "lookup", "--endpoint", s.url, "--ca-bundle", ca, "--max-results", "5")
		if code != 0 {
			t.Fatalf("lookup --ca-bundle: %d %s %s", code, out, errs)
		}
		_, errs, code = runCLI(t, "lookup", "--endpoint", s.url, "--max-results", "5")
		if code == 0 || !strings.Contains(errs, "hint: the server's certificate is not signed by a CA this machine trusts: pass --ca-bundle FILE (or set AWS_CA_BUNDLE=FILE)") {
			t.Fatalf("lookup without the CA bundle: %d %s", code, errs)
		}
		t.Setenv("AWS_CA_BUNDLE", ca)
		if out, errs, code := runCLI(t, "lookup", "--endpoint", s.url, "--max-results", "5"); code != 0 {
			t.Fatalf("lookup with AWS_CA_BUNDLE: %d %s %s", code, out, errs)
		}
		_, errs, code = runCLI(t, "lookup", "--endpoint", "http://"+s.addr, "--max-results", "5")
		if code == 0 || !strings.Contains(errs, "hint: the server speaks HTTPS: use an https:// endpoint") {
			t.Fatalf("lookup over plain HTTP: %d %s", code, errs)
		}
	})

	t.Run("tlsDetails recorded", func(t *testing.T) {
		c := ctClient(s, "test", "us-east-1")
		c = cloudtrail.New(c.Options(), func(o *cloudtrail.Options) { o.HTTPClient = s.client })
		got := recordedTLS(t, c, "DescribeTrails", "aws-cli/")
		if got == nil {
			t.Fatal("the AWS CLI's DescribeTrails over https is not recorded with tlsDetails")
		}
		// CloudTrail's names: TLSv1.3 suites keep their IANA names.
		if got["tlsVersion"] != "TLSv1.3" || !strings.HasPrefix(got["cipherSuite"], "TLS_AES_") || got["clientProvidedHostHeader"] != s.addr {
			t.Fatalf("tlsDetails = %v", got)
		}
		// A TLS 1.2 client: OpenSSL's suite name, as CloudTrail writes it.
		tls12 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots, MaxVersion: tls.VersionTLS12}}}
		c12 := cloudtrail.New(c.Options(), func(o *cloudtrail.Options) { o.HTTPClient = tls12 })
		if _, err := c12.ListTrails(context.Background(), &cloudtrail.ListTrailsInput{}); err != nil {
			t.Fatal(err)
		}
		got = recordedTLS(t, c, "ListTrails", "aws-sdk-go-v2/")
		if got["tlsVersion"] != "TLSv1.2" || got["cipherSuite"] != "ECDHE-ECDSA-AES128-GCM-SHA256" {
			t.Fatalf("TLS 1.2 tlsDetails = %v", got)
		}
	})

	// Restart: the same certificate, so clients keep trusting it.
	before, _ := os.ReadFile(ca)
	s.stop()
	s2 := startServerTLS(t, dir, "")
	after, _ := os.ReadFile(ca)
	if !bytes.Equal(before, after) {
		t.Fatal("a restart made a new self-signed certificate")
	}
	if fi, err := os.Stat(filepath.Join(dir, "tls", "key.pem")); err != nil || fi.Mode() != 0o600 {
		t.Fatalf("key after restart: %v %v", fi, err)
	}
	if strings.Contains(s2.output(), "made the data directory owner-only") {
		t.Errorf("the self-signed pair left the data directory readable by others:\n%s", s2.output())
	}
	if out, errs, code := s2.awsCLI(t, "test", "us-east-1", "--ca-bundle", ca, "cloudtrail", "describe-trails"); code != 0 {
		t.Fatalf("after restart: exit %d %s %s", code, out, errs)
	}
}

// recordedTLS waits for the record of a call named eventName made by a
// client whose user agent starts with agent, and returns its tlsDetails
// (nil when none arrives within 10 s).
func recordedTLS(t *testing.T, c *cloudtrail.Client, eventName, agent string) map[string]string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := c.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{
			LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String(eventName)}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			var rec struct {
				UserAgent  string
				TLSDetails map[string]string `json:"tlsDetails"`
			}
			json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec)
			if strings.HasPrefix(rec.UserAgent, agent) && rec.TLSDetails != nil {
				return rec.TLSDetails
			}
		}
	}
	return nil
}

// TestTLSCertificateReload serves certificate files and replaces them: a
// new handshake sees the new certificate, without a restart.
func TestTLSCertificateReload(t *testing.T) {
	dir := t.TempDir()
	aCert, aKey, _, err := tlsconf.SelfSigned(filepath.Join(dir, "a"), []string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bCert, bKey, _, err := tlsconf.SelfSigned(filepath.Join(dir, "b"), []string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	install := func(c, k string) {
		for src, dst := range map[string]string{c: certFile, k: keyFile} {
			b, _ := os.ReadFile(src)
			if err := os.WriteFile(dst+".new", b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(dst+".new", dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(aCert, aKey)
	s := startServerTLS(t, "", aCert, "--tls-cert", certFile, "--tls-key", keyFile)
	served := func() []byte {
		conn, err := tls.Dial("tcp", s.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
	der := func(file string) []byte {
		c, err := tls.LoadX509KeyPair(file, strings.TrimSuffix(file, "cert.pem")+"key.pem")
		if err != nil {
			t.Fatal(err)
		}
		return c.Certificate[0]
	}
	if !bytes.Equal(served(), der(aCert)) {
		t.Fatal("not serving the configured certificate")
	}
	install(bCert, bKey)
	start := time.Now()
	for !bytes.Equal(served(), der(bCert)) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the replaced certificate was not served within 10 s:\n%s", s.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("new certificate served %v after the files were replaced", time.Since(start).Round(time.Millisecond))
	// The AWS CLI trusting only the new certificate is served.
	if out, errs, code := s.awsCLI(t, "test", "us-east-1", "--ca-bundle", bCert, "cloudtrail", "describe-trails"); code != 0 {
		t.Fatalf("after rotation: exit %d %s %s", code, out, errs)
	}
	if !strings.Contains(s.output(), "tls: certificate reloaded") {
		t.Errorf("the reload is not logged:\n%s", s.output())
	}
}

// TestTLSPlainHTTPRefused: with principals configured, a non-loopback
// address without TLS is refused at start-up, naming the fixes.
func TestTLSPlainHTTPRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "opentrail.yml")
	os.WriteFile(cfg, []byte(`
principals:
  - access_key_id: AKIAADMIN00000000001
    secret_access_key: admin-secret
    account: "111111111111"
    user_name: admin
`), 0o600)
	// A server that starts anyway is stopped after a minute, and fails.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "serve", "--addr", "0.0.0.0:0", "--data", filepath.Join(dir, "data"), "--config", cfg)
	cmd.Env = append(os.Environ(), "OPENTRAIL_E2E_AS_COMMAND=1")
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("server started on 0.0.0.0 over plain HTTP with principals configured:\n%s", out)
	}
	for _, want := range []string{"clear text", "--tls-self-signed", "--tls-cert", "allow_plain_http: true (--allow-plain-http)", "docs/tls.md"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("refusal does not mention %q: %s", want, out)
		}
	}
}

// TestTLSCISSelfCall: the CIS pack, enabled in the configuration, is set
// up by the server calling its own API, which over https must trust the
// server's own certificate.
func TestTLSCISSelfCall(t *testing.T) {
	cfg := writeConfig(t, "cis:\n  enabled: true\n")
	s := startServerTLS(t, "", "", "--config", cfg)
	bundle := []string{"AWS_CA_BUNDLE=" + s.ca}
	for _, args := range [][]string{
		{"s3", "mb", "s3://cis-trail-logs"},
		{"cloudtrail", "create-trail", "--name", "main", "--s3-bucket-name", "cis-trail-logs", "--is-multi-region-trail"},
		{"cloudtrail", "start-logging", "--name", "main"},
	} {
		if out, errs, code := s.awsCLIEnv(t, bundle, "test", "us-east-1", args...); code != 0 {
			t.Fatalf("aws %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
		}
	}
	waitFor(t, 30*time.Second, "the pack set up over https", func() bool {
		return strings.Contains(s.output(), "cis: monitoring pack enabled")
	})
}
