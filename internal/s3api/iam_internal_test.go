package s3api

import (
	"net/http"
	"net/url"
	"testing"
)

// TestEveryS3OperationIsMapped drives route over every method, target
// and sub-resource it tells apart and fails for an operation name with
// no IAM action decided.
func TestEveryS3OperationIsMapped(t *testing.T) {
	queries := []string{"", "location", "policy", "list-type=2", "uploads", "uploadId=u", "partNumber=1&uploadId=u",
		"delete", "restore", "select", "x-id=ListBuckets"}
	for _, br := range bucketSubresources {
		queries = append(queries, br.sub)
	}
	for _, s := range objectReadSubresources {
		queries = append(queries, s.sub)
	}
	for _, s := range objectWriteSubresources {
		queries = append(queries, s.sub)
	}
	seen := map[string]bool{}
	for _, method := range []string{"GET", "HEAD", "PUT", "POST", "DELETE"} {
		for _, target := range [][2]string{{"", ""}, {"b", ""}, {"b", "k"}} {
			for _, q := range queries {
				for _, copySource := range []bool{false, true} {
					v, _ := url.ParseQuery(q)
					hdr := http.Header{}
					if copySource {
						hdr.Set("x-amz-copy-source", "b/x")
					}
					op := route(method, target[0], target[1], v, hdr)
					if op.name == "" || seen[op.name] {
						continue
					}
					seen[op.name] = true
					if _, ok := iamActions[op.name]; !ok {
						t.Errorf("%s /%s/%s?%s names %s, which has no IAM action in iamActions", method, target[0], target[1], q, op.name)
					}
				}
			}
		}
	}
	if len(seen) < 90 {
		t.Errorf("only %d operations reached: %v", len(seen), seen)
	}
	for name := range iamActions {
		if !seen[name] {
			t.Errorf("iamActions maps %s, which no request names", name)
		}
	}
}
