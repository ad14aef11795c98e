package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Options configures an S3 bucket.
type S3Options struct {
	Bucket string // required
	// Endpoint is the base URL of an S3-compatible server, such as
	// "http://127.0.0.1:9000"; empty means AWS S3.
	Endpoint string
	// Region defaults to the default configuration chain's region, then
	// "us-east-1".
	Region string
	// PathStyle addresses buckets as https://host/bucket rather than
	// https://bucket.host, as most S3-compatible servers need.
	PathStyle bool
	// AccessKeyID and SecretAccessKey (and SessionToken) are static
	// credentials; when AccessKeyID is empty the default chain is used
	// (environment, shared files, instance roles).
	AccessKeyID, SecretAccessKey, SessionToken string
	// ServerSideEncryption ("AES256", "aws:kms", "aws:kms:dsse") and
	// SSEKMSKeyID are passed through on every write.
	ServerSideEncryption string
	SSEKMSKeyID          string
	// HTTPClient overrides the SDK's HTTP client.
	HTTPClient *http.Client
}

// S3 is a Bucket in AWS S3 or an S3-compatible server.
//
// PutIfAbsent sends If-None-Match: *. On 412 Precondition Failed it reads
// the existing object and returns nil when the bytes are identical, else
// ErrExists; on 409 ConditionalRequestConflict (a concurrent conditional
// write) it retries. A server that answers 501 Not Implemented (no
// conditional writes) gets Head, then Get and compare or Put: that fallback
// is not race-free, since two writers may both find the key free and the
// later Put wins; the bucket remembers the server's answer and uses the
// fallback from then on.
type S3 struct {
	client *s3.Client
	read   *S3Reader // Get and Head read through it
	bucket string
	sse    types.ServerSideEncryption
	kmsKey *string

	noConditional atomic.Bool
}

var _ Bucket = (*S3)(nil)

// NewS3 returns the bucket opts describe. It does not contact the server.
func NewS3(ctx context.Context, opts S3Options) (*S3, error) {
	if opts.Bucket == "" {
		return nil, errors.New("open s3 bucket: no bucket name")
	}
	client, err := newS3Client(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("open s3 bucket %s: %w", opts.Bucket, err)
	}
	return NewS3FromClient(client, opts.Bucket, opts.ServerSideEncryption, opts.SSEKMSKeyID), nil
}

// NewS3FromClient returns the bucket named bucket reached through client,
// with the given server-side encryption settings (either may be empty).
func NewS3FromClient(client *s3.Client, bucket, sse, kmsKeyID string) *S3 {
	b := &S3{client: client, read: NewS3ReaderFromClient(client), bucket: bucket, sse: types.ServerSideEncryption(sse)}
	if kmsKeyID != "" {
		b.kmsKey = aws.String(kmsKeyID)
	}
	return b
}

// Client returns the SDK client, for bucket-level calls.
func (b *S3) Client() *s3.Client { return b.client }

// Bucket returns the bucket name.
func (b *S3) Bucket() string { return b.bucket }

func (b *S3) putInput(key string, data []byte, meta map[string]string) *s3.PutObjectInput {
	return &s3.PutObjectInput{
		Bucket:               aws.String(b.bucket),
		Key:                  aws.String(key),
		Body:                 bytes.NewReader(data),
		ContentLength:        aws.Int64(int64(len(data))),
		Metadata:             meta,
		ServerSideEncryption: b.sse,
		SSEKMSKeyId:          b.kmsKey,
	}
}

// Put implements Bucket.
func (b *S3) Put(ctx context.Context, key string, data []byte, meta map[string]string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	nm, err := normalizeMeta(meta)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if _, err := b.client.PutObject(ctx, b.putInput(key, data, nm)); err != nil {
		return fmt.Errorf("put %q: %w", key, mapS3Error(err))
	}
	return nil
}

// PutIfAbsent implements Bucket.
func (b *S3) PutIfAbsent(ctx context.Context, key string, data []byte, meta map[string]string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	nm, err := normalizeMeta(meta)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	for attempt := 0; ; attempt++ {
		if b.noConditional.Load() {
			return b.putIfAbsentFallback(ctx, key, data, nm)
		}
		in := b.putInput(key, data, nm)
		in.IfNoneMatch = aws.String("*")
		_, err := b.client.PutObject(ctx, in)
		if err == nil {
			return nil
		}
		switch status, code := s3ErrorStatus(err); {
		case status == http.StatusPreconditionFailed || code == "PreconditionFailed":
			return b.compareExisting(ctx, key, data)
		case status == http.StatusConflict && attempt < 10:
			// ConditionalRequestConflict: another conditional write to the
			// key is in flight. Retry; it will then have won or failed.
			select {
			case <-ctx.Done():
				return fmt.Errorf("put %q: %w", key, ctx.Err())
			case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
			}
		case status == http.StatusNotImplemented || code == "NotImplemented":
			b.noConditional.Store(true)
		default:
			return fmt.Errorf("put %q: %w", key, mapS3Error(err))
		}
	}
}

// compareExisting returns nil if key holds data, else ErrExists.
func (b *S3) compareExisting(ctx context.Context, key string, data []byte) error {
	old, _, err := b.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("put %q: read existing object: %w", key, err)
	}
	if !bytes.Equal(old, data) {
		return fmt.Errorf("put %q: %w", key, ErrExists)
	}
	return nil
}

func (b *S3) putIfAbsentFallback(ctx context.Context, key string, data []byte, meta map[string]string) error {
	_, err := b.Head(ctx, key)
	switch {
	case err == nil:
		return b.compareExisting(ctx, key, data)
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("put %q: %w", key, err)
	}
	if _, err := b.client.PutObject(ctx, b.putInput(key, data, meta)); err != nil {
		return fmt.Errorf("put %q: %w", key, mapS3Error(err))
	}
	return nil
}

// Get implements Bucket.
func (b *S3) Get(ctx context.Context, key string) ([]byte, *Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, nil, err
	}
	body, in, err := b.read.Open(ctx, b.bucket, key)
	if err != nil {
		return nil, nil, fmt.Errorf("get %q: %w", key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, nil, fmt.Errorf("get %q: read body: %w", key, err)
	}
	in.Size = int64(len(data))
	return data, in, nil
}

// Head implements Bucket.
func (b *S3) Head(ctx context.Context, key string) (*Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	in, err := b.read.Head(ctx, b.bucket, key)
	if err != nil {
		return nil, fmt.Errorf("head %q: %w", key, err)
	}
	return in, nil
}

// List implements Bucket. It fetches as many ListObjectsV2 pages as it
// needs to return limit objects.
func (b *S3) List(ctx context.Context, prefix, startAfter string, limit int) ([]Info, bool, error) {
	limit = checkList(limit)
	var out []Info
	after := startAfter
	for {
		in := &s3.ListObjectsV2Input{
			Bucket:  aws.String(b.bucket),
			MaxKeys: aws.Int32(int32(min(limit-len(out), DefaultListLimit))),
		}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		if after != "" {
			in.StartAfter = aws.String(after)
		}
		page, err := b.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, false, fmt.Errorf("list %q: %w", prefix, mapS3Error(err))
		}
		for _, o := range page.Contents {
			out = append(out, Info{
				Key:      aws.ToString(o.Key),
				Size:     aws.ToInt64(o.Size),
				ETag:     unquote(aws.ToString(o.ETag)),
				Modified: aws.ToTime(o.LastModified).UTC(),
			})
		}
		truncated := aws.ToBool(page.IsTruncated)
		if !truncated || len(page.Contents) == 0 {
			return out, false, nil
		}
		if len(out) >= limit {
			return out, true, nil
		}
		after = out[len(out)-1].Key
	}
}

func unquote(etag string) string {
	return strings.ToLower(strings.Trim(etag, `"`))
}

func lowerMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// s3ErrorStatus returns the HTTP status and error code of an SDK error.
func s3ErrorStatus(err error) (int, string) {
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	return status, code
}

// mapS3Error wraps ErrNotFound around a missing-object error.
func mapS3Error(err error) error {
	status, code := s3ErrorStatus(err)
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) || code == "NoSuchKey" ||
		(status == http.StatusNotFound && code != "NoSuchBucket") {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
