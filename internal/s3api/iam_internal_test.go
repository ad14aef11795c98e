package s3api

import "testing"

// TestEveryS3OperationIsMapped drives route over every method, target
// and sub-resource it tells apart (OperationRequests) and fails for an
// operation name with no IAM action decided.
func TestEveryS3OperationIsMapped(t *testing.T) {
	reqs := OperationRequests()
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[r.Name] = true
		if _, ok := iamActions[r.Name]; !ok {
			t.Errorf("%s (bucket %v, key %v) ?%s names %s, which has no IAM action in iamActions", r.Method, r.Bucket, r.Key, r.Query, r.Name)
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
