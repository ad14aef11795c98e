package capture_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/opentrail/opentrail/internal/capture"
)

// seen records the calls a test upstream received, identified.
type seen struct {
	mu    sync.Mutex
	calls []capture.Call
}

// upstream answers every request with an empty 200 (the SDK's errors
// decoding it do not matter: only the request is looked at) and
// identifies it for the given signing service.
func upstream(t *testing.T, service string) (*httptest.Server, *seen) {
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if service != "s3" {
			body, _ = io.ReadAll(r.Body)
		} else {
			io.Copy(io.Discard, r.Body)
		}
		c := capture.Identify(r, service, body, nil)
		s.mu.Lock()
		s.calls = append(s.calls, c)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

func (s *seen) last(t *testing.T) capture.Call {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		t.Fatal("the upstream saw no request")
	}
	c := s.calls[len(s.calls)-1]
	s.calls = nil
	return c
}

var creds = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")

// TestIdentifySDKS3Calls sends every common S3 call with aws-sdk-go-v2,
// path style and virtual-hosted style, and checks the name Identify gives
// each request the SDK wrote.
func TestIdentifySDKS3Calls(t *testing.T) {
	srv, got := upstream(t, "s3")
	addr := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	b, k := aws.String("photos"), aws.String("2025/cat.jpg")
	body := func() io.Reader { return bytes.NewReader([]byte("meow")) }
	calls := []struct {
		name string
		call func(context.Context, *s3.Client) error
	}{
		{"ListBuckets", func(ctx context.Context, c *s3.Client) error {
			_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		}},
		{"CreateBucket", func(ctx context.Context, c *s3.Client) error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b})
			return err
		}},
		{"HeadBucket", func(ctx context.Context, c *s3.Client) error {
			_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b})
			return err
		}},
		{"GetBucketLocation", func(ctx context.Context, c *s3.Client) error {
			_, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: b})
			return err
		}},
		{"ListObjectsV2", func(ctx context.Context, c *s3.Client) error {
			_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("2025/")})
			return err
		}},
		{"ListObjects", func(ctx context.Context, c *s3.Client) error {
			_, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b})
			return err
		}},
		{"ListObjectVersions", func(ctx context.Context, c *s3.Client) error {
			_, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b})
			return err
		}},
		{"PutBucketPolicy", func(ctx context.Context, c *s3.Client) error {
			_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
			return err
		}},
		{"GetBucketPolicy", func(ctx context.Context, c *s3.Client) error {
			_, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b})
			return err
		}},
		{"DeleteBucketPolicy", func(ctx context.Context, c *s3.Client) error {
			_, err := c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: b})
			return err
		}},
		{"PutBucketVersioning", func(ctx context.Context, c *s3.Client) error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
			return err
		}},
		{"PutBucketTagging", func(ctx context.Context, c *s3.Client) error {
			_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b,
				Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}}})
			return err
		}},
		{"GetBucketAcl", func(ctx context.Context, c *s3.Client) error {
			_, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: b})
			return err
		}},
		{"PutObject", func(ctx context.Context, c *s3.Client) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: k, Body: body()})
			return err
		}},
		{"GetObject", func(ctx context.Context, c *s3.Client) error {
			_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k})
			return err
		}},
		{"HeadObject", func(ctx context.Context, c *s3.Client) error {
			_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: k})
			return err
		}},
		{"CopyObject", func(ctx context.Context, c *s3.Client) error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy.jpg"), CopySource: aws.String("photos/2025/cat.jpg")})
			return err
		}},
		{"DeleteObject", func(ctx context.Context, c *s3.Client) error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: k})
			return err
		}},
		{"DeleteObjects", func(ctx context.Context, c *s3.Client) error {
			_, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: k}}}})
			return err
		}},
		{"PutObjectTagging", func(ctx context.Context, c *s3.Client) error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: k,
				Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
			return err
		}},
		{"GetObjectTagging", func(ctx context.Context, c *s3.Client) error {
			_, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: k})
			return err
		}},
		{"DeleteObjectTagging", func(ctx context.Context, c *s3.Client) error {
			_, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: b, Key: k})
			return err
		}},
		{"GetObjectAcl", func(ctx context.Context, c *s3.Client) error {
			_, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: b, Key: k})
			return err
		}},
		{"GetObjectAttributes", func(ctx context.Context, c *s3.Client) error {
			_, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: k, ObjectAttributes: []s3types.ObjectAttributes{s3types.ObjectAttributesEtag}})
			return err
		}},
		{"CreateMultipartUpload", func(ctx context.Context, c *s3.Client) error {
			_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: k})
			return err
		}},
		{"UploadPart", func(ctx context.Context, c *s3.Client) error {
			_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: k, UploadId: aws.String("U1"), PartNumber: aws.Int32(1), Body: body()})
			return err
		}},
		{"UploadPartCopy", func(ctx context.Context, c *s3.Client) error {
			_, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: k, UploadId: aws.String("U1"), PartNumber: aws.Int32(2),
				CopySource: aws.String("photos/old.jpg")})
			return err
		}},
		{"ListParts", func(ctx context.Context, c *s3.Client) error {
			_, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: k, UploadId: aws.String("U1")})
			return err
		}},
		{"ListMultipartUploads", func(ctx context.Context, c *s3.Client) error {
			_, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b})
			return err
		}},
		{"CompleteMultipartUpload", func(ctx context.Context, c *s3.Client) error {
			_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: aws.String("U1"),
				MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"e"`)}}}})
			return err
		}},
		{"AbortMultipartUpload", func(ctx context.Context, c *s3.Client) error {
			_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: k, UploadId: aws.String("U1")})
			return err
		}},
		{"RestoreObject", func(ctx context.Context, c *s3.Client) error {
			_, err := c.RestoreObject(ctx, &s3.RestoreObjectInput{Bucket: b, Key: k, RestoreRequest: &s3types.RestoreRequest{Days: aws.Int32(1)}})
			return err
		}},
		{"DeleteBucket", func(ctx context.Context, c *s3.Client) error {
			_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b})
			return err
		}},
	}
	for _, pathStyle := range []bool{true, false} {
		cl := s3.New(s3.Options{
			Region: "us-east-1", Credentials: creds, UsePathStyle: pathStyle, BaseEndpoint: aws.String("http://localhost:" + port),
			HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dial}}, Retryer: aws.NopRetryer{},
		})
		for _, tc := range calls {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = tc.call(ctx, cl) // the empty answers do not decode: only the request matters
			cancel()
			c := got.last(t)
			style := "virtual-hosted"
			if pathStyle {
				style = "path"
			}
			if c.Name != tc.name {
				t.Errorf("%s (%s style): named %q", tc.name, style, c.Name)
				continue
			}
			if tc.name != "ListBuckets" && (c.Bucket != "photos" || c.Params["bucketName"] != "photos") {
				t.Errorf("%s (%s style): bucket %q, params %v", tc.name, style, c.Bucket, c.Params)
			}
			if c.Data && c.Key != "" && !strings.HasPrefix(c.Resources[0].ARN, "arn:aws:s3:::photos/") {
				t.Errorf("%s (%s style): resources %v", tc.name, style, c.Resources)
			}
			if _, ok := c.Params["x-id"]; ok {
				t.Errorf("%s (%s style): the SDK's x-id is recorded: %v", tc.name, style, c.Params)
			}
		}
	}
}

// TestIdentifySDKQueryAndJSON: STS over the query protocol and CloudTrail
// over JSON 1.1, as aws-sdk-go-v2 writes them.
func TestIdentifySDKQueryAndJSON(t *testing.T) {
	srv, got := upstream(t, "sts")
	stsc := sts.New(sts.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{}})
	_, _ = stsc.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::111122223333:role/auditor"), RoleSessionName: aws.String("s1"),
		PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
		Tags:       []ststypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("env"), Value: aws.String("prod")}},
	})
	c := got.last(t)
	want := map[string]any{"roleArn": "arn:aws:iam::111122223333:role/auditor", "roleSessionName": "s1",
		"policyArns": []any{map[string]any{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}},
		"tags":       []any{map[string]any{"key": "team", "value": "a"}, map[string]any{"key": "env", "value": "prod"}}}
	if c.Name != "AssumeRole" || c.Protocol != capture.ProtocolQuery || c.ReadOnly || !equalJSON(t, c.Params, want) {
		t.Errorf("AssumeRole: %+v", c)
	}
	_, _ = stsc.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if c := got.last(t); c.Name != "GetCallerIdentity" || !c.ReadOnly || c.Params != nil {
		t.Errorf("GetCallerIdentity: %+v", c)
	}

	srv, got = upstream(t, "cloudtrail")
	ctc := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{}})
	_, _ = ctc.PutEventSelectors(context.Background(), &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("main"),
		EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true)}}})
	c = got.last(t)
	want = map[string]any{"trailName": "main", "eventSelectors": []any{map[string]any{"readWriteType": "All", "includeManagementEvents": true}}}
	if c.Name != "PutEventSelectors" || c.Protocol != capture.ProtocolJSON || c.ReadOnly || c.Source != "cloudtrail.amazonaws.com" || !equalJSON(t, c.Params, want) {
		t.Errorf("PutEventSelectors: %+v", c)
	}
	_, _ = ctc.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(5)})
	if c := got.last(t); c.Name != "LookupEvents" || !c.ReadOnly || !equalJSON(t, c.Params, map[string]any{"maxResults": 5}) {
		t.Errorf("LookupEvents: %+v", c)
	}
}

func equalJSON(t *testing.T, got, want any) bool {
	t.Helper()
	g := decode(t, mustMarshal(t, got))
	w := decode(t, mustMarshal(t, want))
	return len(diffJSON("", g, w, nil)) == 0
}

// TestIdentifySDKCBOR: CloudWatch as aws-sdk-go-v2 speaks it, Smithy RPC
// v2 CBOR, named and its input decoded.
func TestIdentifySDKCBOR(t *testing.T) {
	srv, got := upstream(t, "monitoring")
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{}})
	_, _ = cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{Namespace: aws.String("Shop"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("Orders"), Value: aws.Float64(3)}}})
	c := got.last(t)
	want := map[string]any{"namespace": "Shop", "metricData": []any{map[string]any{"metricName": "Orders", "value": 3}}}
	if c.Name != "PutMetricData" || c.Protocol != capture.ProtocolCBOR || c.ReadOnly || c.Source != "monitoring.amazonaws.com" || !equalJSON(t, c.Params, want) {
		t.Errorf("PutMetricData: %+v", c)
	}
	_, _ = cw.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{})
	if c := got.last(t); c.Name != "DescribeAlarms" || !c.ReadOnly {
		t.Errorf("DescribeAlarms: %+v", c)
	}
}
