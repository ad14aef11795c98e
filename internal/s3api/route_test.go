package s3api

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/opentrail/opentrail/internal/s3op"
)

// TestRoute: every request is answered (route never returns an operation
// without a run), under the name, read-only flag and data flag s3op gives
// it (s3op's tests pin those down), and is authorized as s3op's IAM
// action; requests that name no operation are not recorded.
func TestRoute(t *testing.T) {
	type req struct {
		method, path, query string
		copySource          bool
	}
	reqs := []req{{"POST", "/", "", false}, {"GET", "/", "list-type=2", false}, {"PATCH", "/b/k", "", false},
		{"POST", "/b", "policyStatus", false}, {"OPTIONS", "/b", "", false}}
	for _, r := range OperationRequests() {
		path := "/"
		if r.Bucket {
			path += "b"
		}
		if r.Key {
			path += "/k"
		}
		reqs = append(reqs, req{r.Method, path, r.Query, r.CopySource})
	}
	for _, tc := range reqs {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		hdr := http.Header{}
		if tc.copySource {
			hdr.Set("x-amz-copy-source", "b/x")
		}
		bucket, key := splitPath(tc.path)
		op := route(tc.method, bucket, key, q, hdr)
		want := s3op.Classify(tc.method, bucket, key, q, hdr)
		if op == nil || op.run == nil {
			t.Errorf("%s %s?%s: no operation", tc.method, tc.path, tc.query)
			continue
		}
		if op.name != want.Name || op.readOnly != want.ReadOnly || op.data != want.Data && want.Name != "" {
			t.Errorf("%s %s?%s = %q readOnly %v data %v; s3op says %+v", tc.method, tc.path, tc.query, op.name, op.readOnly, op.data, want)
		}
		if want.Name != "" && op.iamAction == "" {
			t.Errorf("%s %s?%s names %s, which has no IAM action in s3op's actions", tc.method, tc.path, tc.query, op.name)
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
