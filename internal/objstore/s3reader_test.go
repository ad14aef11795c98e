package objstore_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/objstore"
)

// TestS3Reader reads a bucket written through an S3 bucket: walks from a
// start key and stopping early, folders, streamed reads with metadata,
// heads, and missing objects as ErrNotFound.
func TestS3Reader(t *testing.T) {
	endpoint, access, secret := s3Env(t)
	ctx := t.Context()
	name := fmt.Sprintf("reader-%d", time.Now().UnixNano())
	b, err := objstore.NewS3(ctx, objstore.S3Options{Bucket: name, Endpoint: endpoint, Region: "us-east-1", PathStyle: true,
		AccessKeyID: access, SecretAccessKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	keys := []string{"p/a/1", "p/a/2", "p/b/1", "p/c/1", "q/1"}
	for _, k := range keys {
		if err := b.Put(ctx, k, []byte("data of "+k), map[string]string{"signature": "s-" + k[len(k)-1:]}); err != nil {
			t.Fatal(err)
		}
	}
	r := objstore.NewS3Reader(objstore.S3ReaderOptions{Endpoint: endpoint + "/", PathStyle: true, Parallel: 4,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, "")})

	var got []string
	err = r.Walk(ctx, name, "p/", "p/a/1", func(in objstore.Info) error {
		got = append(got, in.Key)
		if in.Size != int64(len("data of "+in.Key)) || in.ETag != objstore.ETag([]byte("data of "+in.Key)) {
			t.Errorf("%s: size %d etag %s", in.Key, in.Size, in.ETag)
		}
		if in.Key == "p/b/1" {
			return objstore.ErrStop
		}
		return nil
	})
	if err != nil || !slices.Equal(got, []string{"p/a/2", "p/b/1"}) {
		t.Fatalf("Walk after p/a/1, stopping at p/b/1: %q, %v", got, err)
	}
	boom := errors.New("boom")
	if err := r.Walk(ctx, name, "", "", func(objstore.Info) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Walk returned %v, not the callback's error", err)
	}

	folders, err := r.Folders(ctx, name, "p/")
	if err != nil || !slices.Equal(folders, []string{"p/a/", "p/b/", "p/c/"}) {
		t.Fatalf("Folders(p/) = %q, %v", folders, err)
	}

	body, in, err := r.Open(ctx, name, "p/b/1")
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(body)
	body.Close()
	if err != nil || string(data) != "data of p/b/1" || in.Meta["signature"] != "s-1" {
		t.Fatalf("Open(p/b/1) = %q meta %v, %v", data, in.Meta, err)
	}
	if h, err := r.Head(ctx, name, "q/1"); err != nil || h.Meta["signature"] != "s-1" || h.Size != int64(len("data of q/1")) {
		t.Fatalf("Head(q/1) = %+v, %v", h, err)
	}
	if _, _, err := r.Open(ctx, name, "p/zz"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Open of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := r.Head(ctx, name, "p/zz"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Head of a missing key: %v, want ErrNotFound", err)
	}
	if err := r.Walk(ctx, name+"-missing", "", "", func(objstore.Info) error { return nil }); err == nil || errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Walk of a missing bucket: %v, want an error that is not ErrNotFound", err)
	}
}
