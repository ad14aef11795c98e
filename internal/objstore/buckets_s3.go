package objstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Buckets resolves bucket names on AWS S3 or an S3-compatible server.
// All its buckets share one SDK client. It is safe for concurrent use.
//
// Bucket checks that the bucket exists with HeadBucket and remembers a
// positive answer for [S3BucketsCacheTTL]; a missing bucket is asked about
// again on every call, so one created meanwhile is found at once.
type S3Buckets struct {
	client *s3.Client
	sse    string
	kmsKey string
	ttl    time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]s3Checked
}

var _ Buckets = (*S3Buckets)(nil)

// S3BucketsCacheTTL is how long S3Buckets trusts that a bucket it found
// still exists.
const S3BucketsCacheTTL = time.Minute

type s3Checked struct {
	b  *S3
	at time.Time
}

// NewS3Buckets returns the registry of the server opts describes, with
// opts' credentials and encryption settings applied to every bucket.
// opts.Bucket is ignored. It does not contact the server.
func NewS3Buckets(ctx context.Context, opts S3Options) (*S3Buckets, error) {
	client, err := newS3Client(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("open s3 buckets: %w", err)
	}
	return &S3Buckets{
		client: client,
		sse:    opts.ServerSideEncryption,
		kmsKey: opts.SSEKMSKeyID,
		ttl:    S3BucketsCacheTTL,
		now:    time.Now,
		cache:  make(map[string]s3Checked),
	}, nil
}

// newS3Client builds the SDK client opts describe (opts.Bucket aside).
func newS3Client(ctx context.Context, opts S3Options) (*s3.Client, error) {
	var lo []func(*config.LoadOptions) error
	if opts.Region != "" {
		lo = append(lo, config.WithRegion(opts.Region))
	}
	if opts.AccessKeyID != "" {
		lo = append(lo, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	if opts.HTTPClient != nil {
		lo = append(lo, config.WithHTTPClient(opts.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.PathStyle
		// Not a log line per object read back without a checksum header
		// (imports from configured sources read thousands).
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// Client returns the shared SDK client, for bucket-level calls.
func (r *S3Buckets) Client() *s3.Client { return r.client }

// Bucket implements Buckets. It returns an *S3.
func (r *S3Buckets) Bucket(ctx context.Context, name string) (Bucket, error) {
	if !plausibleBucketName(name) {
		return nil, fmt.Errorf("open bucket %q: %w", truncate(name), ErrNoSuchBucket)
	}
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[name]
	r.mu.Unlock()
	if ok && now.Sub(c.at) < r.ttl {
		return c.b, nil
	}
	_, err := r.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
	if err != nil {
		r.mu.Lock()
		delete(r.cache, name)
		r.mu.Unlock()
		return nil, fmt.Errorf("open bucket %s: %w", name, mapHeadBucketError(err))
	}
	b := NewS3FromClient(r.client, name, r.sse, r.kmsKey)
	r.mu.Lock()
	r.cache[name] = s3Checked{b: b, at: now}
	r.mu.Unlock()
	return b, nil
}

// plausibleBucketName reports whether name could name an existing bucket,
// legacy names (capitals, underscores, up to 255 characters) included.
func plausibleBucketName(name string) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// mapHeadBucketError wraps ErrNoSuchBucket or ErrAccessDenied around a
// HeadBucket error that means either. HeadBucket answers have no body, so
// the status code decides.
func mapHeadBucketError(err error) error {
	status, code := s3ErrorStatus(err)
	var nf *types.NotFound
	var nsb *types.NoSuchBucket
	switch {
	case status == http.StatusNotFound || errors.As(err, &nf) || errors.As(err, &nsb) || code == "NoSuchBucket":
		return fmt.Errorf("%w: %w", ErrNoSuchBucket, err)
	case status == http.StatusForbidden || code == "AccessDenied" || code == "Forbidden":
		return fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	return err
}
