package objstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FSBuckets is the registry of the embedded object store: a directory
// whose subdirectories are buckets. It keeps each bucket's owner, region,
// creation time and policy, as S3 does, so that it can back an S3 API.
//
// # Layout
//
// Bucket name is the directory root/name, holding bucket.json (the
// bucket's info and policy, see [BucketInfo]) and objects/, an [FS]
// bucket. Names in root that start with '.' belong to the registry:
// ".create-*" directories are buckets being built and ".trash-*"
// directories buckets being deleted; OpenFSBuckets removes leftovers of
// both. A directory without bucket.json is not a bucket.
//
// # Durability
//
// CreateBucket builds the whole bucket directory under a temporary name,
// fsyncs it and renames it into place, so a bucket either exists with its
// info or not at all, and two processes racing to create one name cannot
// both win. bucket.json is rewritten atomically (temporary file, fsync,
// rename, fsync of the directory).
//
// # Concurrency
//
// FSBuckets is safe for concurrent use and caches what it reads; it
// assumes it is the only process changing root. DeleteBucket refuses a
// bucket that holds objects, but a Bucket handle obtained before the
// delete may still write; that write then fails or lands in a directory
// that is not a bucket (and that keeps the name from being created again
// until it is removed by hand). Callers that deliver into buckets should
// not race with deleting them.
type FSBuckets struct {
	root string

	mu    sync.Mutex
	cache map[string]*fsBucket
}

var _ Buckets = (*FSBuckets)(nil)

// fsBucket is one opened bucket.
type fsBucket struct {
	fs   *FS
	file bucketFile
}

// bucketFile is the content of bucket.json.
type bucketFile struct {
	Name    string    `json:"name"`
	Owner   string    `json:"owner"`
	Region  string    `json:"region"`
	Created time.Time `json:"created"`
	// Policy is kept as the exact bytes the owner stored.
	Policy string `json:"policy,omitempty"`
}

func (f bucketFile) info() BucketInfo {
	return BucketInfo{Name: f.Name, Owner: f.Owner, Region: f.Region, Created: f.Created}
}

const (
	bucketFileName = "bucket.json"
	objectsDir     = "objects"
	createPattern  = ".create-*"
	trashPattern   = ".trash-*"
)

// OpenFSBuckets opens the registry stored in root, creating the directory
// if needed and removing what interrupted creates and deletes left behind.
func OpenFSBuckets(root string) (*FSBuckets, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open fs buckets %s: %w", root, err)
	}
	if err := mkdirs(abs); err != nil {
		return nil, fmt.Errorf("open fs buckets %s: %w", root, err)
	}
	des, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("open fs buckets %s: %w", root, err)
	}
	for _, de := range des {
		n := de.Name()
		if de.IsDir() && (strings.HasPrefix(n, ".create-") || strings.HasPrefix(n, ".trash-")) {
			if err := os.RemoveAll(filepath.Join(abs, n)); err != nil {
				return nil, fmt.Errorf("open fs buckets %s: remove leftover %s: %w", root, n, err)
			}
		}
	}
	return &FSBuckets{root: abs, cache: make(map[string]*fsBucket)}, nil
}

// Root returns the registry's directory.
func (r *FSBuckets) Root() string { return r.root }

// load returns the bucket called name, from the cache or from disk. The
// caller holds r.mu.
func (r *FSBuckets) load(name string) (*fsBucket, error) {
	if b, ok := r.cache[name]; ok {
		return b, nil
	}
	// Every bucket was created under a valid name; anything else cannot
	// exist, and must not be joined to a path.
	if ValidateBucketName(name) != nil {
		return nil, ErrNoSuchBucket
	}
	dir := filepath.Join(r.root, name)
	raw, err := os.ReadFile(filepath.Join(dir, bucketFileName))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, ErrNoSuchBucket
	}
	if err != nil {
		return nil, err
	}
	var f bucketFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("read %s: %w", bucketFileName, err)
	}
	if f.Name != name {
		return nil, fmt.Errorf("read %s: it names bucket %q", bucketFileName, f.Name)
	}
	ofs, err := OpenFS(filepath.Join(dir, objectsDir))
	if err != nil {
		return nil, err
	}
	b := &fsBucket{fs: ofs, file: f}
	r.cache[name] = b
	return b, nil
}

// get is load under the lock, with the error wrapped for op.
func (r *FSBuckets) get(ctx context.Context, op, name string) (*fsBucket, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := r.load(name)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, name, err)
	}
	return b, nil
}

// Bucket implements Buckets. It returns an *FS.
func (r *FSBuckets) Bucket(ctx context.Context, name string) (Bucket, error) {
	b, err := r.get(ctx, "open bucket", name)
	if err != nil {
		return nil, err
	}
	return b.fs, nil
}

// Info describes the bucket called name, or returns an error wrapping
// ErrNoSuchBucket.
func (r *FSBuckets) Info(ctx context.Context, name string) (BucketInfo, error) {
	b, err := r.get(ctx, "describe bucket", name)
	if err != nil {
		return BucketInfo{}, err
	}
	return b.file.info(), nil
}

// writeJSONFile atomically replaces dir/name with v encoded as JSON.
func writeJSONFile(dir, name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, _, err := writeTemp(dir, append(data, '\n'))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// CreateBucket creates an empty bucket owned by the account owner in
// region. The name must pass ValidateBucketName. A taken name gives a
// *BucketExistsError (wrapping ErrBucketExists) that says whether owner
// already owns the bucket.
func (r *FSBuckets) CreateBucket(ctx context.Context, name, owner, region string) error {
	if err := ValidateBucketName(name); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	if owner == "" || region == "" {
		return fmt.Errorf("create bucket %s: owner and region are required", name)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := r.load(name)
	switch {
	case err == nil:
		return &BucketExistsError{Name: name, OwnedByCaller: b.file.Owner == owner}
	case !errors.Is(err, ErrNoSuchBucket):
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	f := bucketFile{Name: name, Owner: owner, Region: region, Created: time.Now().UTC().Truncate(time.Millisecond)}
	if err := r.build(name, f); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	if _, err := r.load(name); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// build makes the bucket directory under a temporary name and renames it
// into place. The caller holds r.mu.
func (r *FSBuckets) build(name string, f bucketFile) error {
	tmp, err := os.MkdirTemp(r.root, createPattern)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return fail(err)
	}
	if err := writeJSONFile(tmp, bucketFileName, f); err != nil {
		return fail(err)
	}
	objects := filepath.Join(tmp, objectsDir)
	if _, err := OpenFS(objects); err != nil {
		return fail(err)
	}
	if err := syncDir(objects); err != nil {
		return fail(err)
	}
	if err := syncDir(tmp); err != nil {
		return fail(err)
	}
	final := filepath.Join(r.root, name)
	err = os.Rename(tmp, final)
	if fi, lerr := os.Lstat(final); err != nil && lerr == nil && fi.IsDir() && os.Remove(final) == nil {
		// os.Rename never replaces a directory; an empty one left by
		// hand or by a late write is no bucket and may go.
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.RemoveAll(tmp)
		// Another process won the name, or something that is not a
		// bucket sits there.
		if b, lerr := r.load(name); lerr == nil {
			return &BucketExistsError{Name: name, OwnedByCaller: b.file.Owner == f.Owner}
		}
		if _, serr := os.Lstat(final); serr == nil {
			return fmt.Errorf("%s exists and is not a bucket: %w", final, err)
		}
		return err
	}
	return syncDir(r.root)
}

// DeleteBucket deletes the bucket called name, which must hold no
// objects: else the error wraps ErrBucketNotEmpty.
func (r *FSBuckets) DeleteBucket(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := r.load(name)
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	objs, _, err := b.fs.List(ctx, "", "", 1)
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if len(objs) > 0 {
		return fmt.Errorf("delete bucket %s: %w", name, ErrBucketNotEmpty)
	}
	// Move the bucket out of the way in one step, then remove it at
	// leisure; a crash in between leaves trash that OpenFSBuckets clears.
	trash, err := os.MkdirTemp(r.root, trashPattern)
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if err := os.Rename(filepath.Join(r.root, name), filepath.Join(trash, name)); err != nil {
		os.Remove(trash)
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	delete(r.cache, name)
	if err := syncDir(r.root); err != nil {
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("delete bucket %s: remove its files: %w", name, err)
	}
	return nil
}

// ListBuckets describes every bucket, sorted by name.
func (r *FSBuckets) ListBuckets(ctx context.Context) ([]BucketInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	des, err := os.ReadDir(r.root) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	var out []BucketInfo
	for _, de := range des {
		name := de.Name()
		if !de.IsDir() || ValidateBucketName(name) != nil {
			continue
		}
		b, err := r.load(name)
		if errors.Is(err, ErrNoSuchBucket) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list buckets: %s: %w", name, err)
		}
		out = append(out, b.file.info())
	}
	return out, nil
}

// PutPolicy stores policy as the bucket's policy, replacing any other. It
// must be a JSON object of at most MaxPolicySize bytes with a Statement
// that is an object or a non-empty array of objects; else the error wraps
// ErrMalformedPolicy. The bytes are stored as they are.
func (r *FSBuckets) PutPolicy(ctx context.Context, name string, policy []byte) error {
	if err := checkPolicy(policy); err != nil {
		return fmt.Errorf("put policy of bucket %s: %w", name, err)
	}
	return r.setPolicy(ctx, "put policy of bucket", name, string(policy))
}

// DeletePolicy removes the bucket's policy. A bucket without a policy is
// left as it is and gives nil, as in S3.
func (r *FSBuckets) DeletePolicy(ctx context.Context, name string) error {
	return r.setPolicy(ctx, "delete policy of bucket", name, "")
}

func (r *FSBuckets) setPolicy(ctx context.Context, op, name, policy string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := r.load(name)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	if b.file.Policy == policy {
		return nil
	}
	f := b.file
	f.Policy = policy
	if err := writeJSONFile(filepath.Join(r.root, name), bucketFileName, f); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	r.cache[name] = &fsBucket{fs: b.fs, file: f}
	return nil
}

// Policy returns the bucket's policy as it was stored, or an error
// wrapping ErrNoSuchPolicy when it has none.
func (r *FSBuckets) Policy(ctx context.Context, name string) ([]byte, error) {
	b, err := r.get(ctx, "get policy of bucket", name)
	if err != nil {
		return nil, err
	}
	if b.file.Policy == "" {
		return nil, fmt.Errorf("get policy of bucket %s: %w", name, ErrNoSuchPolicy)
	}
	return []byte(b.file.Policy), nil
}
