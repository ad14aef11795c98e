package s3api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/s3api"
)

func TestVirtualHostBucket(t *testing.T) {
	for host, want := range map[string]string{
		"logs.localhost:4747":                         "logs",
		"my.dotted.bucket.localhost":                  "my.dotted.bucket",
		"LOGS.LOCALHOST.:4747":                        "logs",
		"logs.s3.localhost.localstack.cloud:4566":     "logs",
		"logs.s3.us-east-1.amazonaws.com":             "logs",
		"a.s3.b.s3.example.com":                       "a.s3.b",
		"localhost:4747":                              "",
		"127.0.0.1:4747":                              "",
		"[::1]:4747":                                  "",
		"s3.localhost:4747":                           "",
		"s3.us-east-1.amazonaws.com":                  "",
		"opentrail.corp.example:4747":                 "",
		"":                                            "",
		".localhost":                                  "",
		"s3.localhost.localstack.cloud":               "",
		"opentrail-s3.corp.example":                   "",
		"trail-logs.opentrail.internal.localhost:443": "trail-logs.opentrail.internal",
	} {
		got, ok := s3api.VirtualHostBucket(host)
		if got != want || ok != (want != "") {
			t.Errorf("VirtualHostBucket(%q) = %q, %v; want %q", host, got, ok, want)
		}
	}
}

// TestVirtualHostedRequests: an SDK given http://localhost:PORT without
// path style addresses BUCKET.localhost:PORT; those requests reach the
// bucket and its objects, never ListBuckets.
func TestVirtualHostedRequests(t *testing.T) {
	e := newEnv(t)
	e.bucket("trail-logs", acctA, map[string]string{"AWSLogs/a.json.gz": "one", "AWSLogs/b.json.gz": "two"})
	e.bucket("other", acctA, nil)
	addr := e.srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	var hosts []string
	cl := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://localhost:" + port),
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			hosts = append(hosts, r.URL.Host)
			return (&http.Transport{DialContext: dial}).RoundTrip(r)
		})},
		RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: acctA, SecretAccessKey: "test"}, nil
		}),
	})
	ctx := t.Context()
	out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("trail-logs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 2 || aws.ToString(out.Name) != "trail-logs" {
		t.Fatalf("ListObjectsV2 = %d objects in %q", len(out.Contents), aws.ToString(out.Name))
	}
	obj, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail-logs"), Key: aws.String("AWSLogs/b.json.gz")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(b) != "two" {
		t.Fatalf("GetObject = %q", b)
	}
	_, err = cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing-bucket")})
	wantErr(t, "HeadBucket of a missing bucket", err, "NotFound", http.StatusNotFound)
	_, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("missing-bucket"), Key: aws.String("k")})
	wantErr(t, "GetObject in a missing bucket", err, "NoSuchBucket", http.StatusNotFound)
	if len(hosts) == 0 || !strings.HasPrefix(hosts[0], "trail-logs.localhost:") {
		t.Fatalf("the SDK sent Host %q, not virtual-hosted style; the test does not test what it should", hosts)
	}

	// A Host opentrail does not read buckets from: a bucket operation at
	// the root is refused with a clear error, not answered as ListBuckets.
	other := s3.New(cl.Options(), func(o *s3.Options) { o.BaseEndpoint = aws.String("http://opentrail.internal:" + port) })
	_, err = other.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("trail-logs")})
	msg := wantErr(t, "ListObjectsV2 at an unknown virtual host", err, "InvalidRequest", http.StatusBadRequest)
	if !strings.Contains(msg, "Use path-style addressing") {
		t.Errorf("message %q", msg)
	}
	if h := hosts[len(hosts)-1]; !strings.HasPrefix(h, "trail-logs.opentrail.internal:") {
		t.Fatalf("the SDK sent Host %q", h)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzVirtualHostBucket: any Host either names no bucket or names a
// non-empty, lower-case one that the Host starts with.
func FuzzVirtualHostBucket(f *testing.F) {
	for _, h := range []string{"logs.localhost:4747", "a.s3.b.s3.example.com", "[::1]:80", "s3.localhost", ".", "x.s3."} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		b, ok := s3api.VirtualHostBucket(host)
		if !ok {
			if b != "" {
				t.Fatalf("%q: bucket %q without ok", host, b)
			}
			return
		}
		if b == "" || b != strings.ToLower(b) || !strings.HasPrefix(strings.ToLower(host), b+".") {
			t.Fatalf("%q: bucket %q", host, b)
		}
	})
}
