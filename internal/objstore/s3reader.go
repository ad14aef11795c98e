package objstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
)

// S3Reader reads objects of any bucket on AWS S3 or an S3-compatible
// server: the one S3 read path of opentrail, used by the [S3] bucket, by
// import and by validate-logs. It reads any key S3 holds (no
// [ValidateKey]: the buckets read may have been written by anyone) and
// never writes. Errors for a missing object wrap [ErrNotFound]. It is safe
// for concurrent use.
type S3Reader struct {
	client *s3.Client
}

// S3ReaderOptions says which server an S3Reader reads and as whom.
type S3ReaderOptions struct {
	// Config is the SDK configuration to start from (a profile's, say);
	// nil starts from Region and Credentials alone.
	Config *aws.Config
	// Endpoint is the base URL of an S3-compatible server; empty means
	// Config's endpoint or AWS S3.
	Endpoint string
	// Region overrides Config's region; with neither, "us-east-1".
	Region string
	// Credentials overrides Config's credentials.
	Credentials aws.CredentialsProvider
	// PathStyle addresses buckets as https://host/bucket.
	PathStyle bool
	// Parallel, when above zero, sizes the connection pool for that many
	// requests in flight.
	Parallel int
	// TLS, when set, verifies an https Endpoint (an opentrail server's
	// own certificate, given by --ca-bundle); nil means the SDK's default.
	TLS *tls.Config
}

// NewS3Reader returns a reader of the server opts describes. It does
// not contact the server. Checksums are asked for and checked only where
// S3 requires them: the files read carry their own (gzip's CRC, digest
// hashes), and S3-compatible servers do not all speak the newest checksum
// trailers.
func NewS3Reader(opts S3ReaderOptions) *S3Reader {
	var cfg aws.Config
	if opts.Config != nil {
		cfg = opts.Config.Copy()
	}
	if opts.Region != "" {
		cfg.Region = opts.Region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if opts.Credentials != nil {
		cfg.Credentials = opts.Credentials
	}
	if opts.Parallel > 0 || opts.TLS != nil {
		cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			if opts.Parallel > 0 {
				tr.MaxIdleConns = max(100, 2*opts.Parallel)
				tr.MaxIdleConnsPerHost = max(16, 2*opts.Parallel)
			}
			if opts.TLS != nil {
				tr.TLSClientConfig = opts.TLS
			}
		})
	}
	return NewS3ReaderFromClient(s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(strings.TrimRight(opts.Endpoint, "/"))
		}
		o.UsePathStyle = opts.PathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		// Not a log line per object read back without a checksum header
		// (an import reads thousands); errors reach the user through the
		// caller's own report.
		o.DisableLogOutputChecksumValidationSkipped = true
		o.Logger = logging.Nop{}
	}))
}

// NewS3ReaderFromClient returns a reader through an SDK client, such as
// [S3Buckets.Client]'s.
func NewS3ReaderFromClient(client *s3.Client) *S3Reader { return &S3Reader{client: client} }

// Open streams an object, with its description (Meta included). The
// caller closes the body.
func (r *S3Reader) Open(ctx context.Context, bucket, key string) (io.ReadCloser, *Info, error) {
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, nil, mapS3Error(err)
	}
	return out.Body, &Info{
		Key:      key,
		Size:     aws.ToInt64(out.ContentLength),
		ETag:     unquote(aws.ToString(out.ETag)),
		Modified: aws.ToTime(out.LastModified).UTC(),
		Meta:     lowerMeta(out.Metadata),
	}, nil
}

// Head describes an object (Meta included).
func (r *S3Reader) Head(ctx context.Context, bucket, key string) (*Info, error) {
	out, err := r.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, mapS3Error(err)
	}
	return &Info{
		Key:      key,
		Size:     aws.ToInt64(out.ContentLength),
		ETag:     unquote(aws.ToString(out.ETag)),
		Modified: aws.ToTime(out.LastModified).UTC(),
		Meta:     lowerMeta(out.Metadata),
	}, nil
}

// ErrStop, returned by a Walk callback, ends the walk without an error.
var ErrStop = errors.New("stop the walk")

// Walk calls fn for every object of bucket whose key starts with prefix
// and sorts after startAfter, in key order, page by page (ListObjectsV2
// with continuation tokens), filling Key, Size, ETag and Modified. It
// stops at fn's first error, which it returns, ErrStop aside.
func (r *S3Reader) Walk(ctx context.Context, bucket, prefix, startAfter string, fn func(Info) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	}
	p := s3.NewListObjectsV2Paginator(r.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, mapS3Error(err))
		}
		for _, o := range page.Contents {
			err := fn(Info{
				Key:      aws.ToString(o.Key),
				Size:     aws.ToInt64(o.Size),
				ETag:     unquote(aws.ToString(o.ETag)),
				Modified: aws.ToTime(o.LastModified).UTC(),
			})
			if errors.Is(err, ErrStop) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Folders returns the folders right under prefix in bucket: the common
// prefixes of a listing delimited by "/", each ending in "/".
func (r *S3Reader) Folders(ctx context.Context, bucket, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(r.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, mapS3Error(err))
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, aws.ToString(cp.Prefix))
		}
	}
	return out, nil
}
