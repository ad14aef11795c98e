package objstore_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/objstoretest"
)

// s3Env returns the S3-compatible server scripts/test starts. Under CI
// the server must be there: the test fails rather than skips.
func s3Env(t *testing.T) (endpoint, access, secret string) {
	endpoint = os.Getenv("OPENTRAIL_TEST_S3_ENDPOINT")
	access = os.Getenv("OPENTRAIL_TEST_S3_ACCESS_KEY")
	secret = os.Getenv("OPENTRAIL_TEST_S3_SECRET_KEY")
	if endpoint != "" && access != "" && secret != "" {
		return endpoint, access, secret
	}
	const msg = "OPENTRAIL_TEST_S3_ENDPOINT, OPENTRAIL_TEST_S3_ACCESS_KEY and OPENTRAIL_TEST_S3_SECRET_KEY are not all set; scripts/test starts an S3-compatible server and sets them"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return "", "", ""
}

func TestS3Conformance(t *testing.T) {
	endpoint, access, secret := s3Env(t)
	run := time.Now().UnixNano()
	var n atomic.Int64
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
		name := fmt.Sprintf("objstore-%d-%d", run, n.Add(1))
		b, err := objstore.NewS3(t.Context(), objstore.S3Options{
			Bucket:          name,
			Endpoint:        endpoint,
			Region:          "us-east-1",
			PathStyle:       true,
			AccessKeyID:     access,
			SecretAccessKey: secret,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Client().CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatalf("create bucket %s: %v", name, err)
		}
		return b
	})
}

// TestS3ConditionalWriteSupported pins down that the test server refuses a
// second If-None-Match: * write itself, so the conformance run exercises
// the conditional path rather than the Head-then-Put fallback.
func TestS3ConditionalWriteSupported(t *testing.T) {
	endpoint, access, secret := s3Env(t)
	name := fmt.Sprintf("objstore-cond-%d", time.Now().UnixNano())
	b, err := objstore.NewS3(t.Context(), objstore.S3Options{
		Bucket: name, Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: access, SecretAccessKey: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := b.Client()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	put := func() error {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{
			Bucket: aws.String(name), Key: aws.String("k"),
			Body: strings.NewReader("v"), IfNoneMatch: aws.String("*"),
		})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	err = put()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusPreconditionFailed {
		t.Fatalf("second conditional put: err = %v, want HTTP 412", err)
	}
}

// TestS3PutIfAbsentFallback checks the path for servers without
// conditional writes, against a handler that answers them with 501.
func TestS3PutIfAbsentFallback(t *testing.T) {
	var (
		mu          sync.Mutex
		objects     = map[string][]byte{}
		conditional int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		key := strings.TrimPrefix(r.URL.Path, "/bkt/")
		notFound := func() {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			if r.Method != http.MethodHead {
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
			}
		}
		switch r.Method {
		case http.MethodPut:
			if r.Header.Get("If-None-Match") != "" {
				conditional++
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusNotImplemented)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented.</Message></Error>`)
				return
			}
			data, _ := io.ReadAll(r.Body)
			objects[key] = data
			w.Header().Set("ETag", `"`+objstore.ETag(data)+`"`)
		case http.MethodHead, http.MethodGet:
			data, ok := objects[key]
			if !ok {
				notFound()
				return
			}
			w.Header().Set("ETag", `"`+objstore.ETag(data)+`"`)
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
			if r.Method == http.MethodGet {
				w.Write(data)
			}
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	defer srv.Close()

	b, err := objstore.NewS3(t.Context(), objstore.S3Options{
		Bucket: "bkt", Endpoint: srv.URL, Region: "us-east-1", PathStyle: true,
		AccessKeyID: "a", SecretAccessKey: "s",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := b.PutIfAbsent(ctx, "k", []byte("v1"), nil); err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	if err := b.PutIfAbsent(ctx, "k", []byte("v1"), nil); err != nil {
		t.Fatalf("identical PutIfAbsent: %v", err)
	}
	if err := b.PutIfAbsent(ctx, "k", []byte("v2"), nil); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("different PutIfAbsent: err = %v, want ErrExists", err)
	}
	if _, _, err := b.Get(ctx, "missing"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Get(missing): err = %v, want ErrNotFound", err)
	}
	if _, err := b.Head(ctx, "missing"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head(missing): err = %v, want ErrNotFound", err)
	}
	if conditional != 1 {
		t.Errorf("server saw %d conditional puts, want 1 (the bucket should remember the 501)", conditional)
	}
	if got := string(objects["k"]); got != "v1" {
		t.Errorf("object holds %q, want v1", got)
	}
}
