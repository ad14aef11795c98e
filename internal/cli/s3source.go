package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
)

// s3Source is a digest.Source and digest.Opener over an S3-compatible
// API, read through objstore's S3Reader: opentrail's own (path-style, on
// the server's port) or any other service a trail delivers to. Public
// keys come from keys. It is safe for concurrent use.
type s3Source struct {
	r    *objstore.S3Reader
	keys keyFunc
}

// keyFunc returns the public keys whose validity overlaps [start, end].
type keyFunc func(ctx context.Context, start, end time.Time) ([]digest.PublicKey, error)

var (
	_ digest.Source = (*s3Source)(nil)
	_ digest.Opener = (*s3Source)(nil)
)

// newS3Reader returns a path-style reader of endpoint, signing for region
// with creds. parallel sizes its connection pool.
func newS3Reader(endpoint, region string, creds aws.CredentialsProvider, tlsCfg *tls.Config, parallel int) *objstore.S3Reader {
	return objstore.NewS3Reader(objstore.S3ReaderOptions{
		Endpoint: endpoint, Region: region, Credentials: creds, PathStyle: true, Parallel: max(parallel, 1), TLS: tlsCfg,
	})
}

// chain is t's digest chain, as package layout names its keys.
func chain(t digest.Trail) layout.Chain {
	return layout.Chain{Prefix: t.Prefix, OrgID: t.OrgID, Account: t.Account, SourceRegion: t.SourceRegion,
		Trail: t.Name, HomeRegion: t.HomeRegion}
}

// ListDigests lists the trail's digest folder with ListObjectsV2 from the
// date folder of start and stops after the date folder of end.
func (s *s3Source) ListDigests(ctx context.Context, t digest.Trail, start, end time.Time) ([]digest.ObjectRef, error) {
	folder := chain(t).Folder()
	names := chain(t).Pattern()
	start, end = start.UTC().Truncate(time.Second), end.UTC()
	lastDay := end.Format("2006/01/02")
	var refs []digest.ObjectRef
	err := s.r.Walk(ctx, t.Bucket, folder, folder+start.Format("2006/01/02"), func(o objstore.Info) error {
		rest := strings.TrimPrefix(o.Key, folder)
		if len(rest) >= len(lastDay) && rest[:len(lastDay)] > lastDay {
			return objstore.ErrStop // past the last date folder in range
		}
		if !names.MatchString(o.Key) {
			return nil
		}
		if te, _, ok := layout.DigestTime(o.Key); ok && !te.Before(start) && !te.After(end) {
			refs = append(refs, digest.ObjectRef{Bucket: t.Bucket, Key: o.Key})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return refs, nil
}

// Get reads an object whole, with its user metadata.
func (s *s3Source) Get(ctx context.Context, o digest.ObjectRef) ([]byte, map[string]string, error) {
	body, in, err := s.r.Open(ctx, o.Bucket, o.Key)
	if err != nil {
		return nil, nil, s3Error(o, err)
	}
	defer body.Close()
	var buf bytes.Buffer
	if n := in.Size; n > 0 && n < 1<<30 {
		buf.Grow(int(n))
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", o, err)
	}
	meta := in.Meta
	if meta == nil {
		meta = map[string]string{}
	}
	return buf.Bytes(), meta, nil
}

// Open streams an object.
func (s *s3Source) Open(ctx context.Context, o digest.ObjectRef) (io.ReadCloser, error) {
	body, _, err := s.r.Open(ctx, o.Bucket, o.Key)
	if err != nil {
		return nil, s3Error(o, err)
	}
	return body, nil
}

// PublicKeys returns the keys of s.keys.
func (s *s3Source) PublicKeys(ctx context.Context, start, end time.Time) ([]digest.PublicKey, error) {
	return s.keys(ctx, start, end)
}

// s3Error wraps err, as digest.ErrNotFound when the object does not
// exist (objstore.ErrNotFound: a NoSuchKey error, or a 404 other than for
// a missing bucket).
func s3Error(o digest.ObjectRef, err error) error {
	if errors.Is(err, objstore.ErrNotFound) {
		return fmt.Errorf("%w: %s", digest.ErrNotFound, o)
	}
	return fmt.Errorf("get %s: %w", o, err)
}

// orgFolders returns the organisation folders o-… under
// [prefix/]AWSLogs/ of the bucket that hold digests of account for
// region.
func (s *s3Source) orgFolders(ctx context.Context, t digest.Trail) ([]string, error) {
	root := layout.Root(t.Prefix)
	folders, err := s.r.Folders(ctx, t.Bucket, root+"o-")
	if err != nil {
		return nil, err
	}
	var orgs []string
	for _, f := range folders {
		org := strings.TrimSuffix(strings.TrimPrefix(f, root), "/")
		tt := t
		tt.OrgID = org
		has, err := s.hasDigests(ctx, tt)
		if err != nil {
			return nil, err
		}
		if has {
			orgs = append(orgs, org)
		}
	}
	return orgs, nil
}

// hasDigests reports whether t's digest folder holds any object.
func (s *s3Source) hasDigests(ctx context.Context, t digest.Trail) (bool, error) {
	has := false
	err := s.r.Walk(ctx, t.Bucket, chain(t).Folder(), "", func(objstore.Info) error {
		has = true
		return objstore.ErrStop
	})
	return has, err
}

// dirOrgs finds, in a local copy of a bucket, what s3Source's orgFolders
// and hasDigests find in a bucket.
type dirOrgs struct{ dir string }

func (d dirOrgs) hasDigests(_ context.Context, t digest.Trail) (bool, error) {
	entries, err := os.ReadDir(filepath.Join(d.dir, filepath.FromSlash(chain(t).Folder())))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return len(entries) > 0, err
}

func (d dirOrgs) orgFolders(ctx context.Context, t digest.Trail) ([]string, error) {
	root := layout.Root(t.Prefix)
	entries, err := os.ReadDir(filepath.Join(d.dir, filepath.FromSlash(root)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var orgs []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "o-") {
			continue
		}
		tt := t
		tt.OrgID = e.Name()
		if has, err := d.hasDigests(ctx, tt); err != nil {
			return nil, err
		} else if has {
			orgs = append(orgs, e.Name())
		}
	}
	return orgs, nil
}

// serverKeys returns the keys the server's ListPublicKeys serves for the
// client's region, remembering each range's answer.
func serverKeys(cl *client.Client) keyFunc {
	var mu sync.Mutex
	cache := map[[2]int64][]digest.PublicKey{}
	return func(ctx context.Context, start, end time.Time) ([]digest.PublicKey, error) {
		start, end = start.Truncate(time.Second), end.Add(time.Second-1).Truncate(time.Second)
		k := [2]int64{start.Unix(), end.Unix()}
		mu.Lock()
		defer mu.Unlock()
		if keys, ok := cache[k]; ok {
			return keys, nil
		}
		in := struct{ StartTime, EndTime int64 }{k[0], k[1]}
		var out struct {
			PublicKeyList []struct {
				Value                              []byte
				ValidityStartTime, ValidityEndTime float64
				Fingerprint                        string
			}
		}
		if _, err := callCloudTrail(ctx, cl, "ListPublicKeys", in, &out); err != nil {
			return nil, opError("ListPublicKeys", err)
		}
		keys := make([]digest.PublicKey, 0, len(out.PublicKeyList))
		for _, p := range out.PublicKeyList {
			keys = append(keys, digest.PublicKey{
				Region: cl.Region, Value: p.Value, Fingerprint: p.Fingerprint,
				ValidFrom: epoch(p.ValidityStartTime), ValidTo: epoch(p.ValidityEndTime),
			})
		}
		cache[k] = keys
		return keys, nil
	}
}

// fileKeys returns the keys of a file saved from ListPublicKeys.
func fileKeys(keys []digest.PublicKey) keyFunc {
	ds := &digest.LocalCopy{Keys: keys} // for its validity filter
	return ds.PublicKeys
}

func epoch(f float64) time.Time {
	if f == 0 {
		return time.Time{}
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
}

// opErr is a failed call of a server operation, named as the AWS CLI
// names it in "An error occurred (...) when calling the ... operation".
type opErr struct {
	op  string
	err error
}

func (e *opErr) Error() string { return e.op + ": " + e.err.Error() }
func (e *opErr) Unwrap() error { return e.err }

func opError(op string, err error) error { return &opErr{op, err} }

// meteredSource counts the bytes read through a Source, for progress.
// Log files are streamed when the underlying Source is an Opener.
type meteredSource struct {
	src  digest.Source
	keys keyFunc
	read atomic.Int64
}

var (
	_ digest.Source = (*meteredSource)(nil)
	_ digest.Opener = (*meteredSource)(nil)
)

func (m *meteredSource) ListDigests(ctx context.Context, t digest.Trail, start, end time.Time) ([]digest.ObjectRef, error) {
	return m.src.ListDigests(ctx, t, start, end)
}

func (m *meteredSource) Get(ctx context.Context, o digest.ObjectRef) ([]byte, map[string]string, error) {
	b, meta, err := m.src.Get(ctx, o)
	m.read.Add(int64(len(b)))
	return b, meta, err
}

func (m *meteredSource) PublicKeys(ctx context.Context, start, end time.Time) ([]digest.PublicKey, error) {
	return m.keys(ctx, start, end)
}

func (m *meteredSource) Open(ctx context.Context, o digest.ObjectRef) (io.ReadCloser, error) {
	op, ok := m.src.(digest.Opener)
	if !ok {
		b, _, err := m.Get(ctx, o)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	rc, err := op.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	return &countingReader{rc: rc, n: &m.read}, nil
}

type countingReader struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }
