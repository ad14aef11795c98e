package s3api

import (
	"net/http"
	"net/url"
	"testing"
)

// TestRoute pins down which operation each request names, and how
// CloudTrail classifies it.
func TestRoute(t *testing.T) {
	tests := []struct {
		method, path, query string
		hdr                 map[string]string
		name                string
		readOnly, data      bool
	}{
		{"GET", "/", "", nil, "ListBuckets", true, false},
		{"GET", "/", "x-id=ListBuckets", nil, "ListBuckets", true, false},
		{"POST", "/", "", nil, "", false, false},
		{"GET", "/", "max-buckets=5&prefix=a&continuation-token=x&bucket-region=us-east-1", nil, "ListBuckets", true, false},
		{"GET", "/", "list-type=2", nil, "", false, false},
		{"GET", "/", "location", nil, "", false, false},
		{"GET", "/", "x-id=GetObject", nil, "", false, false},
		{"GET", "/b", "", nil, "ListObjects", true, false},
		{"GET", "/b/", "prefix=a&marker=m", nil, "ListObjects", true, false},
		{"GET", "/b", "list-type=2", nil, "ListObjectsV2", true, false},
		{"GET", "/b", "location", nil, "GetBucketLocation", true, false},
		{"GET", "/b", "policy", nil, "GetBucketPolicy", true, false},
		{"GET", "/b", "versioning", nil, "GetBucketVersioning", true, false},
		{"GET", "/b", "uploads", nil, "ListMultipartUploads", true, false},
		{"HEAD", "/b", "", nil, "HeadBucket", true, false},
		{"PUT", "/b", "", nil, "CreateBucket", false, false},
		{"PUT", "/b", "policy", nil, "PutBucketPolicy", false, false},
		{"PUT", "/b", "acl", nil, "PutBucketAcl", false, false},
		{"DELETE", "/b", "", nil, "DeleteBucket", false, false},
		{"DELETE", "/b", "policy", nil, "DeleteBucketPolicy", false, false},
		{"DELETE", "/b", "lifecycle", nil, "DeleteBucketLifecycle", false, false},
		{"POST", "/b", "delete", nil, "DeleteObjects", false, true},
		{"POST", "/b", "", nil, "PostObject", false, true},
		{"GET", "/b/k", "", nil, "GetObject", true, true},
		{"GET", "/b/k", "x-id=GetObject&response-content-type=a", nil, "GetObject", true, true},
		{"GET", "/b/a/b/c", "", nil, "GetObject", true, true},
		{"GET", "/b/k", "acl", nil, "GetObjectAcl", true, true},
		{"GET", "/b/k", "uploadId=u", nil, "ListParts", true, true},
		{"HEAD", "/b/k", "", nil, "HeadObject", true, true},
		{"PUT", "/b/k", "", nil, "PutObject", false, true},
		{"PUT", "/b/k", "", map[string]string{"x-amz-copy-source": "b/x"}, "CopyObject", false, true},
		{"PUT", "/b/k", "partNumber=1&uploadId=u", nil, "UploadPart", false, true},
		{"PUT", "/b/k", "partNumber=1&uploadId=u", map[string]string{"x-amz-copy-source": "b/x"}, "UploadPartCopy", false, true},
		{"PUT", "/b/k", "tagging", nil, "PutObjectTagging", false, true},
		{"POST", "/b/k", "uploads", nil, "CreateMultipartUpload", false, true},
		{"POST", "/b/k", "uploadId=u", nil, "CompleteMultipartUpload", false, true},
		{"POST", "/b/k", "select&select-type=2", nil, "SelectObjectContent", true, true},
		{"DELETE", "/b/k", "", nil, "DeleteObject", false, true},
		{"DELETE", "/b/k", "uploadId=u", nil, "AbortMultipartUpload", false, true},
		{"PATCH", "/b/k", "", nil, "", false, false},
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
		bucket, key := splitPath(tc.path)
		op := route(tc.method, bucket, key, q, hdr)
		if op == nil || op.run == nil {
			t.Errorf("%s %s?%s: no operation", tc.method, tc.path, tc.query)
			continue
		}
		if op.name != tc.name || op.readOnly != tc.readOnly || op.data != tc.data {
			t.Errorf("%s %s?%s = %q readOnly %v data %v; want %q, %v, %v",
				tc.method, tc.path, tc.query, op.name, op.readOnly, op.data, tc.name, tc.readOnly, tc.data)
		}
	}
}

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct{ path, bucket, key string }{
		{"/", "", ""},
		{"", "", ""},
		{"/b", "b", ""},
		{"/b/", "b", ""},
		{"/b/k", "b", "k"},
		{"/b/a/b/", "b", "a/b/"},
		{"/b//k", "b", "/k"},
	} {
		if b, k := splitPath(tc.path); b != tc.bucket || k != tc.key {
			t.Errorf("splitPath(%q) = %q, %q; want %q, %q", tc.path, b, k, tc.bucket, tc.key)
		}
	}
}

func TestBucketRegion(t *testing.T) {
	for _, tc := range []struct {
		lc, endpoint, want, code string
	}{
		{"", "us-east-1", "us-east-1", ""},
		{"eu-west-1", "us-east-1", "eu-west-1", ""},
		{"EU", "us-east-1", "eu-west-1", ""},
		{"EU", "eu-west-1", "eu-west-1", ""},
		{"ap-southeast-2", "ap-southeast-2", "ap-southeast-2", ""},
		{"us-gov-west-1", "us-east-1", "us-gov-west-1", ""},
		{"", "eu-west-1", "", "IllegalLocationConstraintException"},
		{"us-west-2", "eu-west-1", "", "IllegalLocationConstraintException"},
		{"us-east-1", "us-east-1", "", "InvalidLocationConstraint"},
		{"us-east-1", "eu-west-1", "", "InvalidLocationConstraint"},
		{"Mars", "us-east-1", "", "InvalidLocationConstraint"},
		{"eu-west", "us-east-1", "", "InvalidLocationConstraint"},
	} {
		got, err := bucketRegion(tc.lc, tc.endpoint)
		code := ""
		if se, ok := err.(*s3Error); ok {
			code = se.Code
		} else if err != nil {
			t.Errorf("bucketRegion(%q, %q): %v is not an s3Error", tc.lc, tc.endpoint, err)
		}
		if got != tc.want || code != tc.code {
			t.Errorf("bucketRegion(%q, %q) = %q, %s; want %q, %s", tc.lc, tc.endpoint, got, code, tc.want, tc.code)
		}
	}
}
