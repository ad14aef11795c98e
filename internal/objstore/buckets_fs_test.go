package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/objstoretest"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

func openRegistry(t *testing.T, root string) *objstore.FSBuckets {
	t.Helper()
	r, err := objstore.OpenFSBuckets(root)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFSBucketsConformance(t *testing.T) {
	r := openRegistry(t, t.TempDir())
	var n atomic.Int64
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
		name := fmt.Sprintf("conformance-%d", n.Add(1))
		if err := r.CreateBucket(t.Context(), name, acctA, "us-east-1"); err != nil {
			t.Fatal(err)
		}
		b, err := r.Bucket(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestFSBucketsLifecycle(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	r := openRegistry(t, root)

	if got, err := r.ListBuckets(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListBuckets of a new registry = %v, %v", got, err)
	}
	before := time.Now().Add(-time.Second)
	for _, c := range []struct{ name, owner, region string }{
		{"zeta-logs", acctA, "eu-west-1"},
		{"alpha-logs", acctB, "us-east-1"},
		{"mid.logs", acctA, "us-east-1"},
	} {
		if err := r.CreateBucket(ctx, c.name, c.owner, c.region); err != nil {
			t.Fatalf("CreateBucket(%s): %v", c.name, err)
		}
	}
	got, err := r.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, bi := range got {
		names = append(names, bi.Name)
		if bi.Created.Before(before) || bi.Created.After(time.Now()) {
			t.Errorf("%s: Created = %v", bi.Name, bi.Created)
		}
	}
	if want := []string{"alpha-logs", "mid.logs", "zeta-logs"}; !slices.Equal(names, want) {
		t.Errorf("ListBuckets names = %q, want %q", names, want)
	}
	info, err := r.Info(ctx, "zeta-logs")
	if err != nil || info.Owner != acctA || info.Region != "eu-west-1" || info.Name != "zeta-logs" {
		t.Errorf("Info(zeta-logs) = %+v, %v", info, err)
	}

	// Taken names say whose they are.
	err = r.CreateBucket(ctx, "zeta-logs", acctA, "us-east-1")
	var ee *objstore.BucketExistsError
	if !errors.As(err, &ee) || !ee.OwnedByCaller || !errors.Is(err, objstore.ErrBucketExists) {
		t.Errorf("CreateBucket of own bucket: err = %v, want BucketExistsError owned by caller", err)
	}
	err = r.CreateBucket(ctx, "zeta-logs", acctB, "us-east-1")
	if !errors.As(err, &ee) || ee.OwnedByCaller {
		t.Errorf("CreateBucket of another's bucket: err = %v, want BucketExistsError not owned by caller", err)
	}
	if err := r.CreateBucket(ctx, "Bad_Name", acctA, "us-east-1"); !errors.Is(err, objstore.ErrInvalidBucketName) {
		t.Errorf("CreateBucket(Bad_Name): err = %v, want ErrInvalidBucketName", err)
	}
	if err := r.CreateBucket(ctx, "no-owner", "", "us-east-1"); err == nil {
		t.Error("CreateBucket without an owner succeeded")
	}

	// Lookups of names that cannot be buckets never touch other files.
	for _, name := range []string{"missing", "", "..", "../x", "a/b", ".create-1", "Zeta-logs", filepath.Join(root, "zeta-logs")} {
		if _, err := r.Bucket(ctx, name); !errors.Is(err, objstore.ErrNoSuchBucket) {
			t.Errorf("Bucket(%q): err = %v, want ErrNoSuchBucket", name, err)
		}
		if _, err := r.Info(ctx, name); !errors.Is(err, objstore.ErrNoSuchBucket) {
			t.Errorf("Info(%q): err = %v, want ErrNoSuchBucket", name, err)
		}
	}

	// Objects live under the bucket's objects directory.
	b, err := r.Bucket(ctx, "mid.logs")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "AWSLogs/x.json.gz", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "mid.logs", "objects", "AWSLogs%D", "x.json.gz")); err != nil {
		t.Errorf("object file: %v", err)
	}
	if b2, _ := r.Bucket(ctx, "mid.logs"); b2 != b {
		t.Error("Bucket does not reuse the opened handle")
	}

	if err := r.DeleteBucket(ctx, "mid.logs"); !errors.Is(err, objstore.ErrBucketNotEmpty) {
		t.Errorf("DeleteBucket of a bucket with objects: err = %v, want ErrBucketNotEmpty", err)
	}
	if err := r.DeleteBucket(ctx, "missing"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("DeleteBucket(missing): err = %v, want ErrNoSuchBucket", err)
	}
	if err := r.DeleteBucket(ctx, "zeta-logs"); err != nil {
		t.Fatalf("DeleteBucket(zeta-logs): %v", err)
	}
	if _, err := r.Bucket(ctx, "zeta-logs"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("Bucket after delete: err = %v, want ErrNoSuchBucket", err)
	}
	if _, err := os.Stat(filepath.Join(root, "zeta-logs")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bucket directory after delete: %v", err)
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("DeleteBucket left %s behind", e.Name())
		}
	}
	// The name is free again, for anyone.
	if err := r.CreateBucket(ctx, "zeta-logs", acctB, "us-east-2"); err != nil {
		t.Fatalf("re-create after delete: %v", err)
	}
	if info, _ := r.Info(ctx, "zeta-logs"); info.Owner != acctB || info.Region != "us-east-2" {
		t.Errorf("re-created bucket info = %+v", info)
	}
}

func TestFSBucketsPolicy(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	r := openRegistry(t, root)
	if err := r.CreateBucket(ctx, "logs", acctA, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Policy(ctx, "logs"); !errors.Is(err, objstore.ErrNoSuchPolicy) {
		t.Errorf("Policy of a new bucket: err = %v, want ErrNoSuchPolicy", err)
	}
	if err := r.DeletePolicy(ctx, "logs"); err != nil {
		t.Errorf("DeletePolicy without a policy: %v", err)
	}
	for _, p := range []string{
		``,
		`   `,
		`[]`,
		`"x"`,
		`{"Version":"2012-10-17"`,
		`{"Version":"2012-10-17"}`,
		`{"Statement":[]}`,
		`{"Statement":"x"}`,
		`{"Statement":[1]}`,
		`{"Statement":[null]}`,
		`{"Statement":{}} trailing`,
		`{"Statement":{"Effect":"Allow"},"Pad":"` + string(make([]byte, objstore.MaxPolicySize)) + `"}`,
	} {
		if err := r.PutPolicy(ctx, "logs", []byte(p)); !errors.Is(err, objstore.ErrMalformedPolicy) {
			t.Errorf("PutPolicy(%.40q): err = %v, want ErrMalformedPolicy", p, err)
		}
	}
	policy := []byte(`{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Principal": {"AWS": "222222222222"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs/*"}]
}`)
	if err := r.PutPolicy(ctx, "logs", policy); err != nil {
		t.Fatalf("PutPolicy: %v", err)
	}
	if err := r.PutPolicy(ctx, "missing", policy); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("PutPolicy(missing): err = %v, want ErrNoSuchBucket", err)
	}
	if got, err := r.Policy(ctx, "logs"); err != nil || string(got) != string(policy) {
		t.Errorf("Policy = %q, %v; want the stored bytes", got, err)
	}
	// The policy and info survive a restart.
	r2 := openRegistry(t, root)
	if got, err := r2.Policy(ctx, "logs"); err != nil || string(got) != string(policy) {
		t.Errorf("Policy after reopen = %q, %v", got, err)
	}
	if info, err := r2.Info(ctx, "logs"); err != nil || info.Owner != acctA {
		t.Errorf("Info after reopen = %+v, %v", info, err)
	}
	if err := r2.DeletePolicy(ctx, "logs"); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Policy(ctx, "logs"); !errors.Is(err, objstore.ErrNoSuchPolicy) {
		t.Errorf("Policy after DeletePolicy: err = %v, want ErrNoSuchPolicy", err)
	}
	if _, err := openRegistry(t, root).Policy(ctx, "logs"); !errors.Is(err, objstore.ErrNoSuchPolicy) {
		t.Errorf("Policy after DeletePolicy and reopen: err = %v, want ErrNoSuchPolicy", err)
	}
}

func TestFSBucketsReopen(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	r := openRegistry(t, root)
	if err := r.CreateBucket(ctx, "kept", acctA, "eu-central-1"); err != nil {
		t.Fatal(err)
	}
	b, _ := r.Bucket(ctx, "kept")
	if err := b.Put(ctx, "k", []byte("v"), map[string]string{"m": "1"}); err != nil {
		t.Fatal(err)
	}
	// What interrupted creates and deletes leave is cleared; directories
	// that are not buckets are ignored.
	for _, d := range []string{".create-123", ".trash-456/gone/objects", "not-a-bucket/objects", "empty-dir"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "stray-file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r2 := openRegistry(t, root)
	for _, d := range []string{".create-123", ".trash-456"} {
		if _, err := os.Stat(filepath.Join(root, d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after reopen: %v, want it removed", d, err)
		}
	}
	list, err := r2.ListBuckets(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "kept" || list[0].Region != "eu-central-1" {
		t.Errorf("ListBuckets after reopen = %+v, %v", list, err)
	}
	b2, err := r2.Bucket(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if data, in, err := b2.Get(ctx, "k"); err != nil || string(data) != "v" || in.Meta["m"] != "1" {
		t.Errorf("Get after reopen = %q, %+v, %v", data, in, err)
	}
	for _, name := range []string{"not-a-bucket", "empty-dir", "stray-file"} {
		if _, err := r2.Bucket(ctx, name); !errors.Is(err, objstore.ErrNoSuchBucket) {
			t.Errorf("Bucket(%s): err = %v, want ErrNoSuchBucket", name, err)
		}
	}
	// A directory with content that is not a bucket keeps its name taken
	// (with an error that is not ErrBucketExists); an empty one does not.
	err = r2.CreateBucket(ctx, "not-a-bucket", acctA, "us-east-1")
	if err == nil || errors.Is(err, objstore.ErrBucketExists) {
		t.Errorf("CreateBucket over a foreign directory: err = %v", err)
	}
	if err := r2.CreateBucket(ctx, "empty-dir", acctA, "us-east-1"); err != nil {
		t.Errorf("CreateBucket over an empty directory: %v", err)
	}
	if err := r2.CreateBucket(ctx, "stray-file", acctA, "us-east-1"); err == nil || errors.Is(err, objstore.ErrBucketExists) {
		t.Errorf("CreateBucket over a file: err = %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "stray-file")); err != nil || string(data) != "x" {
		t.Errorf("file in the way was touched: %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(root, "not-a-bucket", "objects")); err != nil {
		t.Errorf("foreign directory was touched: %v", err)
	}
}

// TestFSBucketsCreateRace races creators of one name, in one registry
// and in two registries on the same directory (as two processes would):
// exactly one wins.
func TestFSBucketsCreateRace(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	regs := []*objstore.FSBuckets{openRegistry(t, root), openRegistry(t, root)}
	for round := range 5 {
		name := fmt.Sprintf("race-%d", round)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = regs[i%2].CreateBucket(ctx, name, fmt.Sprintf("%012d", i), "us-east-1")
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
			case !errors.Is(err, objstore.ErrBucketExists):
				t.Errorf("%s: creator %d: %v, want nil or ErrBucketExists", name, i, err)
			}
		}
		if winners != 1 {
			t.Errorf("%s: %d creators won, want 1", name, winners)
		}
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("racing creates left %s behind", e.Name())
		}
	}
}

func TestFSBucketsCanceled(t *testing.T) {
	r := openRegistry(t, t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.CreateBucket(ctx, "logs", acctA, "us-east-1"); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateBucket with a canceled context: %v", err)
	}
	if _, err := r.ListBuckets(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ListBuckets with a canceled context: %v", err)
	}
}
