package s3api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/s3api"
)

// Accounts of the tests: in local mode a 12-digit access key id is the
// account it names.
const (
	acctA = "111111111111"
	acctB = "222222222222"
	acctC = "333333333333"
)

// auditLog is an awsapi.Auditor that keeps what it is given.
type auditLog struct {
	mu   sync.Mutex
	recs [][]byte
}

func (a *auditLog) Audit(rec []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, rec)
}

// events decodes the records kept so far and forgets them.
func (a *auditLog) events(t *testing.T) []map[string]any {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]any
	for _, r := range a.recs {
		var m map[string]any
		if err := json.Unmarshal(r, &m); err != nil {
			t.Fatalf("audit record %s: %v", r, err)
		}
		out = append(out, m)
	}
	a.recs = nil
	return out
}

// env is an S3 endpoint in front of a fresh registry.
type env struct {
	t     *testing.T
	reg   *objstore.FSBuckets
	h     *s3api.Handler
	srv   *httptest.Server
	audit *auditLog
}

// credentialScope returns the access key id and region of a SigV4
// Authorization header.
func credentialScope(authz string) (akid, region string) {
	_, cred, ok := strings.Cut(authz, "Credential=")
	if !ok {
		return "", ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) < 3 {
		return parts[0], ""
	}
	return parts[0], parts[2]
}

// newEnv starts a server that does what opentrail's server does before
// it calls Serve: read the body and put the caller in the context. It
// trusts the access key id of the Authorization header without checking
// the signature.
func newEnv(t *testing.T) *env {
	t.Helper()
	reg, err := objstore.OpenFSBuckets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, reg: reg, audit: &auditLog{}}
	e.h = s3api.New(reg, s3api.Options{
		Auditor: e.audit,
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	dir := auth.Local()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		akid, region := credentialScope(r.Header.Get("Authorization"))
		p, ok := dir.Principal(akid)
		if !ok {
			http.Error(w, "no credentials", http.StatusForbidden)
			return
		}
		c := &awsapi.Caller{Principal: p, Region: region, Service: "s3", SourceIP: "127.0.0.1", UserAgent: r.UserAgent()}
		e.h.Serve(w, r.WithContext(awsapi.WithCaller(r.Context(), c)), body)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client returns an SDK client for the account, signing for region.
func (e *env) client(account, region string) *s3.Client {
	return s3.New(s3.Options{
		Region:           region,
		BaseEndpoint:     aws.String(e.srv.URL),
		UsePathStyle:     true,
		HTTPClient:       e.srv.Client(),
		RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: account, SecretAccessKey: "test"}, nil
		}),
	})
}

// bucket creates a bucket owned by owner in us-east-1 through the
// registry and fills it with objects (key → body).
func (e *env) bucket(name, owner string, objects map[string]string) objstore.Bucket {
	e.t.Helper()
	if err := e.reg.CreateBucket(e.t.Context(), name, owner, "us-east-1"); err != nil {
		e.t.Fatal(err)
	}
	b, err := e.reg.Bucket(e.t.Context(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range objects {
		if err := b.PutIfAbsent(e.t.Context(), k, []byte(v), nil); err != nil {
			e.t.Fatal(err)
		}
	}
	return b
}

// raw sends an unsigned request with account's credential scope and
// returns the response with its body read.
func (e *env) raw(method, path, account string, hdr map[string]string, body string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+account+"/20261126/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

// wantErr checks that err is an S3 error with code (when not empty) and
// HTTP status, and returns its message.
func wantErr(t *testing.T, what string, err error, code string, status int) string {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s (%d)", what, code, status)
		return ""
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("%s: err = %v, want HTTP %d", what, err, status)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: err = %v, not an API error", what, err)
		return ""
	}
	if code != "" && ae.ErrorCode() != code {
		t.Errorf("%s: code %q (%s), want %q", what, ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	return ae.ErrorMessage()
}
