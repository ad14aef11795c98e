package objstore

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestS3BucketsCacheTTL checks that a found bucket is asked about again
// once S3BucketsCacheTTL has passed, on a fake clock.
func TestS3BucketsCacheTTL(t *testing.T) {
	var heads atomic.Int64
	exists := atomic.Bool{}
	exists.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		heads.Add(1)
		if !exists.Load() {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	r, err := NewS3Buckets(t.Context(), S3Options{
		Endpoint: srv.URL, Region: "us-east-1", PathStyle: true, AccessKeyID: "AKID", SecretAccessKey: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	check := func(wantHeads int64, wantErr bool) {
		t.Helper()
		_, err := r.Bucket(t.Context(), "logs")
		if (err != nil) != wantErr {
			t.Fatalf("Bucket at %v: err = %v, want error %v", now, err, wantErr)
		}
		if got := heads.Load(); got != wantHeads {
			t.Fatalf("after Bucket at %v: %d HeadBucket calls, want %d", now, got, wantHeads)
		}
	}
	check(1, false)
	now = now.Add(S3BucketsCacheTTL - time.Second)
	check(1, false)
	exists.Store(false)
	now = now.Add(time.Second)
	check(2, true)
	exists.Store(true)
	check(3, false)
	check(3, false)
}
