// Package client is the signed HTTP client the opentrail subcommands use to
// talk to a server: it resolves the endpoint and the usual AWS credentials
// (environment variables, shared config and credentials files, profiles)
// and signs every request with SigV4.
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// DefaultEndpoint is where a local server listens.
const DefaultEndpoint = "http://127.0.0.1:4747"

// Client signs and sends requests to one opentrail server.
type Client struct {
	Endpoint string
	Region   string
	creds    aws.CredentialsProvider
	signer   *v4.Signer
	http     *http.Client
}

// Options select the endpoint, region and profile; empty fields take their
// defaults from the environment (OPENTRAIL_ENDPOINT, AWS_REGION,
// AWS_PROFILE, AWS_CA_BUNDLE, ...).
type Options struct {
	Endpoint string
	Region   string
	Profile  string
	// CABundle is a PEM file of the certificates that an https endpoint's
	// certificate must chain to, instead of the system's, as the AWS
	// CLI's --ca-bundle; empty means $AWS_CA_BUNDLE, then the system's.
	CABundle string
}

// New resolves credentials and returns a client. With no credentials
// anywhere it uses the local-mode pair test/test, which a local server
// accepts.
func New(ctx context.Context, o Options) (*Client, error) {
	if o.Endpoint == "" {
		o.Endpoint = os.Getenv("OPENTRAIL_ENDPOINT")
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	cfg, err := LoadAWSConfig(ctx, o.Profile)
	if err != nil {
		return nil, err
	}
	region := o.Region
	if region == "" {
		region = cfg.Region
	}
	if region == "" {
		region = "us-east-1"
	}
	creds := cfg.Credentials
	if creds == nil || !hasCredentials(ctx, creds) {
		creds = aws.NewCredentialsCache(staticCreds{})
	}
	c := &Client{
		Endpoint: strings.TrimRight(o.Endpoint, "/"),
		Region:   region,
		creds:    creds,
		signer:   v4.NewSigner(),
		http:     &http.Client{Timeout: 5 * time.Minute},
	}
	if o.CABundle == "" {
		o.CABundle = os.Getenv("AWS_CA_BUNDLE")
	}
	if o.CABundle != "" {
		roots, err := LoadCABundle(o.CABundle)
		if err != nil {
			return nil, err
		}
		c.SetTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	}
	return c, nil
}

// LoadCABundle reads a PEM file of CA certificates (--ca-bundle,
// AWS_CA_BUNDLE) into a pool.
func LoadCABundle(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate (want -----BEGIN CERTIFICATE----- blocks, such as the server's <data>/tls/cert.pem)", path)
	}
	return roots, nil
}

// SetTLSConfig makes the client verify https endpoints with cfg (before
// first use).
func (c *Client) SetTLSConfig(cfg *tls.Config) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	c.http.Transport = t
}

// TLSConfig is the configuration set with SetTLSConfig (or by
// Options.CABundle); nil means Go's default, the system's roots.
func (c *Client) TLSConfig() *tls.Config {
	if t, ok := c.http.Transport.(*http.Transport); ok {
		return t.TLSClientConfig
	}
	return nil
}

// NewStatic returns a client that signs with one fixed access key, for a
// server calling its own API (the CIS pack at start-up).
func NewStatic(endpoint, region, accessKeyID, secret string) *Client {
	return &Client{
		Endpoint: strings.TrimRight(endpoint, "/"),
		Region:   region,
		creds:    aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(accessKeyID, secret, "")),
		signer:   v4.NewSigner(),
		http:     &http.Client{Timeout: time.Minute},
	}
}

// NewInProcess returns a client whose requests rt serves instead of the
// network: the server's console runs the CIS pack's status through it in
// process, as the signed-in user (rt sets the caller; the signature, made
// with a placeholder key, is not checked).
func NewInProcess(region string, rt http.RoundTripper) *Client {
	c := NewStatic("http://in-process", region, "in-process", "in-process")
	c.http = &http.Client{Transport: rt, Timeout: time.Minute}
	return c
}

// LoadAWSConfig loads the user's usual AWS configuration (environment,
// shared files, profile). The instance metadata service is not asked
// unless the user opts in (AWS_EC2_METADATA_DISABLED=false): off EC2 it
// only adds a delay and a warning before the local-mode fallback.
func LoadAWSConfig(ctx context.Context, profile string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if os.Getenv("AWS_EC2_METADATA_DISABLED") != "false" {
		opts = append(opts, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// Credentials are what the client signs with: the configured ones, or the
// local-mode pair. Other clients of the same server (S3) use them too.
func (c *Client) Credentials() aws.CredentialsProvider { return c.creds }

func hasCredentials(ctx context.Context, p aws.CredentialsProvider) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := p.Retrieve(ctx)
	return err == nil && c.HasKeys()
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "opentrail local-mode default"}, nil
}

// Do signs and sends a request for service with body (nil for none) and
// extra headers, and returns the response body; a non-2xx answer becomes an
// *APIError.
func (c *Client) Do(ctx context.Context, service, method, path string, header http.Header, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", "opentrail-cli")
	sum := sha256.Sum256(body)
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("get credentials: %w", err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, c.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &ConnError{Endpoint: c.Endpoint, Err: err}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, parseAPIError(resp, out)
	}
	return out, nil
}

// APIError is an error answer from the server.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func parseAPIError(resp *http.Response, body []byte) error {
	e := &APIError{Status: resp.StatusCode, Code: resp.Header.Get("X-Amzn-ErrorType")}
	var b struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg2    string `json:"Message"`
	}
	if json.Unmarshal(body, &b) == nil {
		if b.Type != "" {
			e.Code = b.Type
		}
		e.Message = b.Message + b.Msg2
	}
	if i := strings.IndexByte(e.Code, ':'); i >= 0 {
		e.Code = e.Code[:i]
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
	}
	return e
}

// ConnError reports that the server could not be reached.
type ConnError struct {
	Endpoint string
	Err      error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("cannot reach opentrail at %s: %v", e.Endpoint, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// Hint suggests what to do about err, or returns "".
func Hint(err error) string {
	var ce *ConnError
	var ae *APIError
	switch {
	case errors.As(err, &ce):
		if h := tlsHint(ce); h != "" {
			return h
		}
		return "is the server running? start one with `opentrail serve`, or point --endpoint (or OPENTRAIL_ENDPOINT) at it"
	case errors.As(err, &ae) && ae.Status == 400 && strings.Contains(ae.Message, "HTTP request to an HTTPS server"):
		return "the server speaks HTTPS: use an https:// endpoint (--endpoint or OPENTRAIL_ENDPOINT), and --ca-bundle (or AWS_CA_BUNDLE) when its certificate is self-signed"
	case errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403):
		return "check your credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or --profile); a local-mode server accepts the secret \"test\""
	}
	return ""
}

// tlsHint says what to do about a failed TLS connection, or returns "".
func tlsHint(ce *ConnError) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(ce.Err, &unknown):
		return "the server's certificate is not signed by a CA this machine trusts: pass --ca-bundle FILE (or set AWS_CA_BUNDLE=FILE) " +
			"naming the certificate to trust — for `opentrail serve --tls-self-signed`, <data>/tls/cert.pem, as the server prints at start-up"
	case errors.As(ce.Err, &hostname):
		return fmt.Sprintf("the server's certificate does not name the host of %s: use an endpoint with a name it covers (%s), "+
			"or give the server a certificate that names this host", ce.Endpoint, strings.Join(certNames(hostname.Certificate), ", "))
	case errors.As(ce.Err, &invalid):
		return "the server's certificate is not valid (" + invalid.Error() + "): renew it on the server; a --tls-self-signed server renews its own at start-up"
	case errors.As(ce.Err, &record) || strings.Contains(ce.Err.Error(), "server gave HTTP response to HTTPS client"):
		return "the server does not speak TLS at this address: use an http:// endpoint, or serve HTTPS (docs/tls.md)"
	}
	return ""
}

func certNames(c *x509.Certificate) []string {
	if c == nil {
		return nil
	}
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}
