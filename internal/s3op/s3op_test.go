package s3op_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/opentrail/opentrail/internal/s3op"
)

// TestEveryOperationHasAnAction: every operation Classify names has an
// IAM action, and every action names an operation some request reaches.
func TestEveryOperationHasAnAction(t *testing.T) {
	reqs := s3op.Requests()
	actions := s3op.Actions()
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[r.Name] = true
		if actions[r.Name] == "" {
			t.Errorf("%s (bucket %v, key %v) ?%s names %s, which has no IAM action", r.Method, r.Bucket, r.Key, r.Query, r.Name)
		}
	}
	if len(seen) < 90 {
		t.Errorf("only %d operations reached: %v", len(seen), seen)
	}
	for name := range actions {
		if !seen[name] {
			t.Errorf("actions maps %s, which no request names", name)
		}
	}
}

// TestClassify pins down which operation each request names, and how
// CloudTrail classifies it.
func TestClassify(t *testing.T) {
	tests := []struct {
		method, path, query string
		hdr                 map[string]string
		name                string
		readOnly, data      bool
		action              string
	}{
		{"GET", "/", "", nil, "ListBuckets", true, false, "s3:ListAllMyBuckets"},
		{"GET", "/", "x-id=ListBuckets", nil, "ListBuckets", true, false, "s3:ListAllMyBuckets"},
		{"POST", "/", "", nil, "", false, false, ""},
		{"GET", "/", "max-buckets=5&prefix=a&continuation-token=x&bucket-region=us-east-1", nil, "ListBuckets", true, false, "s3:ListAllMyBuckets"},
		{"GET", "/", "list-type=2", nil, "", false, false, ""},
		{"GET", "/", "location", nil, "", false, false, ""},
		{"GET", "/", "x-id=GetObject", nil, "", false, false, ""},
		{"GET", "/b/", "prefix=a&marker=m", nil, "ListObjects", true, false, "s3:ListBucket"},
		{"GET", "/b", "location", nil, "GetBucketLocation", true, false, "s3:GetBucketLocation"},
		{"GET", "/b", "policy", nil, "GetBucketPolicy", true, false, "s3:GetBucketPolicy"},
		{"GET", "/b", "versioning", nil, "GetBucketVersioning", true, false, "s3:GetBucketVersioning"},
		{"PUT", "/b", "acl", nil, "PutBucketAcl", false, false, "s3:PutBucketAcl"},
		{"DELETE", "/b", "policy", nil, "DeleteBucketPolicy", false, false, "s3:DeleteBucketPolicy"},
		{"DELETE", "/b", "lifecycle", nil, "DeleteBucketLifecycle", false, false, "s3:PutLifecycleConfiguration"},
		{"POST", "/b", "", nil, "PostObject", false, true, "s3:PutObject"},
		{"GET", "/b/k", "x-id=GetObject&response-content-type=a", nil, "GetObject", true, true, "s3:GetObject"},
		{"GET", "/b/a/b/c", "", nil, "GetObject", true, true, "s3:GetObject"},
		{"GET", "/b/k", "acl", nil, "GetObjectAcl", true, true, "s3:GetObjectAcl"},
		{"POST", "/b/k", "select&select-type=2", nil, "SelectObjectContent", true, true, "s3:GetObject"},
		{"GET", "/b", "", nil, "ListObjects", true, false, "s3:ListBucket"},
		{"GET", "/b", "list-type=2&prefix=a", nil, "ListObjectsV2", true, false, "s3:ListBucket"},
		{"GET", "/b", "versions", nil, "ListObjectVersions", true, false, "s3:ListBucketVersions"},
		{"GET", "/b", "uploads", nil, "ListMultipartUploads", true, false, "s3:ListBucketMultipartUploads"},
		{"HEAD", "/b", "", nil, "HeadBucket", true, false, "s3:ListBucket"},
		{"PUT", "/b", "", nil, "CreateBucket", false, false, "s3:CreateBucket"},
		{"PUT", "/b", "policy", nil, "PutBucketPolicy", false, false, "s3:PutBucketPolicy"},
		{"PUT", "/b", "tagging", nil, "PutBucketTagging", false, false, "s3:PutBucketTagging"},
		{"DELETE", "/b", "", nil, "DeleteBucket", false, false, "s3:DeleteBucket"},
		{"POST", "/b", "delete", nil, "DeleteObjects", false, true, "s3:DeleteObject"},
		{"GET", "/b/k", "", nil, "GetObject", true, true, "s3:GetObject"},
		{"GET", "/b/k", "versionId=v", nil, "GetObject", true, true, "s3:GetObject"},
		{"HEAD", "/b/k", "", nil, "HeadObject", true, true, "s3:GetObject"},
		{"GET", "/b/k", "tagging", nil, "GetObjectTagging", true, true, "s3:GetObjectTagging"},
		{"GET", "/b/k", "uploadId=u", nil, "ListParts", true, true, "s3:ListMultipartUploadParts"},
		{"PUT", "/b/k", "", nil, "PutObject", false, true, "s3:PutObject"},
		{"PUT", "/b/k", "", map[string]string{"x-amz-copy-source": "b/x"}, "CopyObject", false, true, "s3:PutObject"},
		{"PUT", "/b/k", "partNumber=1&uploadId=u", nil, "UploadPart", false, true, "s3:PutObject"},
		{"PUT", "/b/k", "partNumber=1&uploadId=u", map[string]string{"x-amz-copy-source": "b/x"}, "UploadPartCopy", false, true, "s3:PutObject"},
		{"PUT", "/b/k", "tagging", nil, "PutObjectTagging", false, true, "s3:PutObjectTagging"},
		{"POST", "/b/k", "uploads", nil, "CreateMultipartUpload", false, true, "s3:PutObject"},
		{"POST", "/b/k", "uploadId=u", nil, "CompleteMultipartUpload", false, true, "s3:PutObject"},
		{"DELETE", "/b/k", "uploadId=u", nil, "AbortMultipartUpload", false, true, "s3:AbortMultipartUpload"},
		{"DELETE", "/b/k", "tagging", nil, "DeleteObjectTagging", false, true, "s3:DeleteObjectTagging"},
		{"DELETE", "/b/k", "", nil, "DeleteObject", false, true, "s3:DeleteObject"},
		{"PATCH", "/b/k", "", nil, "", false, false, ""},
	}
	for _, tc := range tests {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		hdr := http.Header{}
		for k, v := range tc.hdr {
			hdr.Set(k, v)
		}
		bucket, key := s3op.Target("127.0.0.1:7070", tc.path)
		op := s3op.Classify(tc.method, bucket, key, q, hdr)
		if op.Name != tc.name || op.ReadOnly != tc.readOnly || op.Data != tc.data || op.Action != tc.action {
			t.Errorf("%s %s?%s = %+v; want %q, readOnly %v, data %v, action %q",
				tc.method, tc.path, tc.query, op, tc.name, tc.readOnly, tc.data, tc.action)
		}
	}
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct{ host, path, bucket, key string }{
		{"127.0.0.1:7070", "/", "", ""},
		{"127.0.0.1:7070", "/b", "b", ""},
		{"127.0.0.1:7070", "/b/", "b", ""},
		{"127.0.0.1:7070", "/b/a/b c", "b", "a/b c"},
		{"logs.localhost:7070", "/a/b", "logs", "a/b"},
		{"logs.s3.us-east-1.amazonaws.com", "/", "logs", ""},
	} {
		b, k := s3op.Target(tc.host, tc.path)
		if b != tc.bucket || k != tc.key {
			t.Errorf("Target(%q, %q) = %q, %q; want %q, %q", tc.host, tc.path, b, k, tc.bucket, tc.key)
		}
	}
}
