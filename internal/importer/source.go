package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/objstore"
)

// Object is one file of a source.
type Object struct {
	Key     string // path relative to the source ("/"-separated) or S3 key
	Size    int64
	ETag    string // S3 ETag; "" for local files
	ModTime time.Time
}

// Source lists and opens the files of an import. Implementations must be
// safe for concurrent Open calls.
type Source interface {
	// Name identifies the source in the resume state and in messages:
	// an absolute path or s3://bucket/prefix.
	Name() string
	// List calls fn for every object, in key order; it stops at fn's
	// first error and returns it.
	List(ctx context.Context, fn func(Object) error) error
	// Open returns the object's bytes.
	Open(ctx context.Context, o Object) (io.ReadCloser, error)
	// Path names an object in messages.
	Path(o Object) string
}

// Stater is a Source that can look up one object by key, as a Poller does
// for the keys event notifications name. Stat returns an error wrapping
// fs.ErrNotExist when there is no such object.
type Stater interface {
	Stat(ctx context.Context, key string) (Object, error)
}

// LocalFiles is a local directory tree or a single file.
type LocalFiles struct {
	root   string // absolute
	single bool
}

// NewLocalFiles returns the Source for the local file or directory path.
func NewLocalFiles(path string) (*LocalFiles, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	return &LocalFiles{root: abs, single: !fi.IsDir()}, nil
}

// Name returns the absolute path.
func (d *LocalFiles) Name() string { return d.root }

// Path returns the file's path.
func (d *LocalFiles) Path(o Object) string {
	if d.single {
		return d.root
	}
	return filepath.Join(d.root, filepath.FromSlash(o.Key))
}

// List walks the tree in lexical order.
func (d *LocalFiles) List(ctx context.Context, fn func(Object) error) error {
	if d.single {
		fi, err := os.Stat(d.root)
		if err != nil {
			return err
		}
		return fn(Object{Key: filepath.Base(d.root), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !e.Type().IsRegular() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		return fn(Object{Key: filepath.ToSlash(rel), Size: fi.Size(), ModTime: fi.ModTime()})
	})
}

// Stat looks up the file at key, a "/"-separated path under the
// directory.
func (d *LocalFiles) Stat(_ context.Context, key string) (Object, error) {
	if d.single || !filepath.IsLocal(filepath.FromSlash(key)) {
		return Object{}, fmt.Errorf("%s in %s: %w", key, d.root, fs.ErrNotExist)
	}
	fi, err := os.Stat(filepath.Join(d.root, filepath.FromSlash(key)))
	if err != nil {
		return Object{}, err
	}
	if !fi.Mode().IsRegular() {
		return Object{}, fmt.Errorf("%s in %s is not a file: %w", key, d.root, fs.ErrNotExist)
	}
	return Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Open opens the file.
func (d *LocalFiles) Open(_ context.Context, o Object) (io.ReadCloser, error) {
	return os.Open(d.Path(o))
}

// S3Source is the objects under a prefix of an S3 bucket, read through
// objstore's S3Reader.
type S3Source struct {
	r              *objstore.S3Reader
	bucket, prefix string
}

// ParseS3URL splits s3://bucket/prefix; ok is false for other strings.
func ParseS3URL(u string) (bucket, prefix string, ok bool) {
	rest, found := strings.CutPrefix(u, "s3://")
	if !found {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, prefix, bucket != ""
}

// NewS3Source returns the Source for the objects whose keys start with
// prefix in bucket.
func NewS3Source(r *objstore.S3Reader, bucket, prefix string) *S3Source {
	return &S3Source{r: r, bucket: bucket, prefix: prefix}
}

// Name returns s3://bucket/prefix.
func (s *S3Source) Name() string { return "s3://" + s.bucket + "/" + s.prefix }

// Path returns s3://bucket/key.
func (s *S3Source) Path(o Object) string { return "s3://" + s.bucket + "/" + o.Key }

// List walks the listing in key order.
func (s *S3Source) List(ctx context.Context, fn func(Object) error) error {
	return s.r.Walk(ctx, s.bucket, s.prefix, "", func(in objstore.Info) error {
		if strings.HasSuffix(in.Key, "/") {
			return nil
		}
		return fn(Object{Key: in.Key, Size: in.Size, ETag: in.ETag, ModTime: in.Modified})
	})
}

// Holds reports whether the object key of bucket is under the source's
// prefix.
func (s *S3Source) Holds(bucket, key string) bool {
	return bucket == s.bucket && strings.HasPrefix(key, s.prefix)
}

// Stat heads the object at key.
func (s *S3Source) Stat(ctx context.Context, key string) (Object, error) {
	if !strings.HasPrefix(key, s.prefix) {
		return Object{}, fmt.Errorf("%s is not under s3://%s/%s: %w", key, s.bucket, s.prefix, fs.ErrNotExist)
	}
	in, err := s.r.Head(ctx, s.bucket, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return Object{}, fmt.Errorf("s3://%s/%s: %w", s.bucket, key, fs.ErrNotExist)
	}
	if err != nil {
		return Object{}, fmt.Errorf("head s3://%s/%s: %w", s.bucket, key, err)
	}
	return Object{Key: key, Size: in.Size, ETag: in.ETag, ModTime: in.Modified}, nil
}

// Open gets the object.
func (s *S3Source) Open(ctx context.Context, o Object) (io.ReadCloser, error) {
	body, _, err := s.r.Open(ctx, s.bucket, o.Key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.Path(o), err)
	}
	return body, nil
}

// BucketSource is the objects under a prefix of a bucket of the server's
// object store (its built-in store or the S3-compatible service it
// delivers to), read through objstore.
type BucketSource struct {
	b              objstore.Bucket
	bucket, prefix string
}

// NewBucketSource returns the Source for the objects of b (called bucket)
// whose keys start with prefix.
func NewBucketSource(b objstore.Bucket, bucket, prefix string) *BucketSource {
	return &BucketSource{b: b, bucket: bucket, prefix: prefix}
}

// Name returns s3://bucket/prefix.
func (s *BucketSource) Name() string { return "s3://" + s.bucket + "/" + s.prefix }

// Path returns s3://bucket/key.
func (s *BucketSource) Path(o Object) string { return "s3://" + s.bucket + "/" + o.Key }

// List pages through the bucket's listing.
func (s *BucketSource) List(ctx context.Context, fn func(Object) error) error {
	after := ""
	for {
		infos, more, err := s.b.List(ctx, s.prefix, after, 1000)
		if err != nil {
			return fmt.Errorf("list %s: %w", s.Name(), err)
		}
		for _, in := range infos {
			after = in.Key
			if strings.HasSuffix(in.Key, "/") {
				continue
			}
			if err := fn(Object{Key: in.Key, Size: in.Size, ETag: in.ETag, ModTime: in.Modified}); err != nil {
				return err
			}
		}
		if !more || len(infos) == 0 {
			return nil
		}
	}
}

// Open gets the object.
func (s *BucketSource) Open(ctx context.Context, o Object) (io.ReadCloser, error) {
	data, _, err := s.b.Get(ctx, o.Key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.Path(o), err)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}
