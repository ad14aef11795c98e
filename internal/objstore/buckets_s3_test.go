package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/objstore"
)

// TestS3BucketsErrors checks how HeadBucket answers map to errors, and
// that only positive answers are cached, against a scripted server.
func TestS3BucketsErrors(t *testing.T) {
	var (
		mu    sync.Mutex
		heads = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.Trim(r.URL.Path, "/")
		mu.Lock()
		heads[r.Method+" "+name]++
		mu.Unlock()
		switch name {
		case "exists":
			w.WriteHeader(http.StatusOK)
		case "missing":
			w.WriteHeader(http.StatusNotFound)
		case "denied":
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	r, err := objstore.NewS3Buckets(t.Context(), objstore.S3Options{
		Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "AKID", SecretAccessKey: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for range 3 {
		b, err := r.Bucket(ctx, "exists")
		if err != nil {
			t.Fatalf("Bucket(exists): %v", err)
		}
		if s, ok := b.(*objstore.S3); !ok || s.Bucket() != "exists" || s.Client() != r.Client() {
			t.Fatalf("Bucket(exists) = %#v, want an *S3 for it on the shared client", b)
		}
	}
	for range 2 {
		if _, err := r.Bucket(ctx, "missing"); !errors.Is(err, objstore.ErrNoSuchBucket) || errors.Is(err, objstore.ErrAccessDenied) {
			t.Errorf("Bucket(missing): err = %v, want ErrNoSuchBucket", err)
		}
		if _, err := r.Bucket(ctx, "denied"); !errors.Is(err, objstore.ErrAccessDenied) || errors.Is(err, objstore.ErrNoSuchBucket) {
			t.Errorf("Bucket(denied): err = %v, want ErrAccessDenied", err)
		}
	}
	if _, err := r.Bucket(ctx, "odd"); err == nil || errors.Is(err, objstore.ErrNoSuchBucket) || errors.Is(err, objstore.ErrAccessDenied) {
		t.Errorf("Bucket(odd) answered 400: err = %v, want a plain error", err)
	}
	for _, name := range []string{"", "a/b", "a b", strings.Repeat("a", 256)} {
		if _, err := r.Bucket(ctx, name); !errors.Is(err, objstore.ErrNoSuchBucket) {
			t.Errorf("Bucket(%q): err = %v, want ErrNoSuchBucket", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if heads["HEAD exists"] != 1 {
		t.Errorf("HeadBucket(exists) sent %d times, want 1 (cached)", heads["HEAD exists"])
	}
	if heads["HEAD missing"] != 2 || heads["HEAD denied"] != 2 {
		t.Errorf("HeadBucket of missing/denied sent %d/%d times, want 2/2 (not cached)", heads["HEAD missing"], heads["HEAD denied"])
	}
	if len(heads) != 4 {
		t.Errorf("requests = %v, want HEADs of exists, missing, denied, odd only", heads)
	}
}

func TestS3BucketsUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r, err := objstore.NewS3Buckets(t.Context(), objstore.S3Options{
		Endpoint: url, Region: "us-east-1", PathStyle: true, AccessKeyID: "AKID", SecretAccessKey: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = r.Bucket(ctx, "logs")
	if err == nil || errors.Is(err, objstore.ErrNoSuchBucket) || errors.Is(err, objstore.ErrAccessDenied) {
		t.Errorf("Bucket on an unreachable endpoint: err = %v, want a plain error", err)
	}
}

// TestS3BucketsServer runs against the S3-compatible server scripts/test
// starts.
func TestS3BucketsServer(t *testing.T) {
	endpoint, access, secret := s3Env(t)
	ctx := t.Context()
	r, err := objstore.NewS3Buckets(ctx, objstore.S3Options{
		Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: access, SecretAccessKey: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("objstore-buckets-%d", time.Now().UnixNano())
	if _, err := r.Bucket(ctx, name); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Fatalf("Bucket before CreateBucket: err = %v, want ErrNoSuchBucket", err)
	}
	if _, err := r.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	b, err := r.Bucket(ctx, name)
	if err != nil {
		t.Fatalf("Bucket after CreateBucket: %v", err)
	}
	key := "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/26/f.json.gz"
	if err := b.PutIfAbsent(ctx, key, []byte("log"), map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	data, in, err := b.Get(ctx, key)
	if err != nil || string(data) != "log" || in.Meta["k"] != "v" {
		t.Fatalf("Get = %q, %+v, %v", data, in, err)
	}

	wrong, err := objstore.NewS3Buckets(ctx, objstore.S3Options{
		Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: access, SecretAccessKey: secret + "-wrong",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Bucket(ctx, name); !errors.Is(err, objstore.ErrAccessDenied) {
		t.Errorf("Bucket with a wrong secret: err = %v, want ErrAccessDenied", err)
	}
}
