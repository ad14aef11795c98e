package native

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/cloudtrail"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/trail"
)

type fakeBuckets map[string]error

func (f fakeBuckets) Bucket(_ context.Context, name string) (objstore.Bucket, error) {
	if err, ok := f[name]; ok {
		if err != nil {
			return nil, err
		}
		return objstore.NewMemory(), nil
	}
	return nil, fmt.Errorf("bucket %s: %w", name, objstore.ErrNoSuchBucket)
}

type fakeDelivery struct {
	mu     sync.Mutex
	status map[string]trail.Status
	forgot []string
	wakes  int
}

func (f *fakeDelivery) Status(_ context.Context, arn string) (trail.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status[arn], nil
}

func (f *fakeDelivery) Forget(_ context.Context, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgot = append(f.forgot, arn)
	return nil
}

func (f *fakeDelivery) Wake() { f.mu.Lock(); f.wakes++; f.mu.Unlock() }

const trailARNA = "arn:aws:cloudtrail:eu-central-1:210987654321:trail/audit"

func (e *env) createTrail(account, region, body string) {
	e.t.Helper()
	if status, out := e.call(account, region, "CreateTrail", body); status != 200 {
		e.t.Fatalf("CreateTrail %s: %d %s", body, status, out)
	}
}

func trailBody(name string, extra string) string {
	return fmt.Sprintf(`{"Name":%q,"S3BucketName":"audit-logs"%s}`, name, extra)
}

func TestNativeTrailsShowsWatermark(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)
	d := &fakeDelivery{status: map[string]trail.Status{trailARNA: {DeliveredThrough: at, Files: 3, Events: 120, LatestError: "NoSuchBucket"}}}
	e := newEnvWith(t, cloudtrail.Options{}, d)
	e.createTrail(acctA, regionA, trailBody("audit", `,"S3KeyPrefix":"ct","IsMultiRegionTrail":true`))
	req := httptest.NewRequest("GET", "/v1/trails", nil)
	req = req.WithContext(callerCtx(req.Context(), acctA, "us-east-1"))
	w := httptest.NewRecorder()
	e.rest.Handle(w, req, nil)
	want := `{"trails":[{"name":"audit","arn":"` + trailARNA + `","homeRegion":"eu-central-1","multiRegion":true,"organization":false,` +
		`"bucket":"audit-logs","prefix":"ct","logging":false,"deliveredThrough":"2026-03-01T10:05:00Z",` +
		`"latestDeliveryError":"NoSuchBucket","files":3,"events":120}]}` + "\n"
	if w.Code != 200 || w.Body.String() != want {
		t.Errorf("GET /v1/trails: %d\n got %s\nwant %s", w.Code, w.Body.String(), want)
	}
}
