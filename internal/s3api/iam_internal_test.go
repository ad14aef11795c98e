package s3api

import (
	"net/http"
	"net/url"
	"testing"
)

// TestEveryS3OperationIsMapped drives route over every method, target
// and sub-resource s3op tells apart (OperationRequests) and fails for an
// operation routed under another name or without an IAM action.
func TestEveryS3OperationIsMapped(t *testing.T) {
	reqs := OperationRequests()
	if len(reqs) < 90 {
		t.Errorf("only %d operations reached", len(reqs))
	}
	for _, r := range reqs {
		bucket, key := "", ""
		if r.Bucket {
			bucket = "b"
		}
		if r.Key {
			key = "k"
		}
		q, _ := url.ParseQuery(r.Query)
		hdr := http.Header{}
		if r.CopySource {
			hdr.Set("x-amz-copy-source", "b/x")
		}
		op := route(r.Method, bucket, key, q, hdr)
		if op.name != r.Name || op.readOnly != r.ReadOnly {
			t.Errorf("%s (bucket %v, key %v) ?%s routes to %q (readOnly %v), want %s (%v)", r.Method, r.Bucket, r.Key, r.Query, op.name, op.readOnly, r.Name, r.ReadOnly)
		}
		if op.iamAction == "" {
			t.Errorf("%s (bucket %v, key %v) ?%s names %s, which has no IAM action in s3op's actions", r.Method, r.Bucket, r.Key, r.Query, r.Name)
		}
	}
}
