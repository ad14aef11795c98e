package native

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/cloudtrail"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/trail"
)

func (e *env) createTrail(account, region, body string) {
	e.t.Helper()
	servicetest.CreateTrail(e.t, e.json, account, region, body)
}

func TestNativeTrailsShowsWatermark(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)
	d := &servicetest.Delivery{Statuses: map[string]trail.Status{servicetest.TrailARNA: {DeliveredThrough: at, Files: 3, Events: 120, LatestError: "NoSuchBucket"}}}
	e := newEnvWith(t, cloudtrail.Options{}, d)
	e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody("audit", `,"S3KeyPrefix":"ct","IsMultiRegionTrail":true`))
	req := httptest.NewRequest("GET", "/v1/trails", nil)
	req = req.WithContext(servicetest.CallerContext(req.Context(), servicetest.AcctA, "us-east-1"))
	w := httptest.NewRecorder()
	e.rest.Handle(w, req, nil)
	want := `{"trails":[{"name":"audit","arn":"` + servicetest.TrailARNA + `","homeRegion":"eu-central-1","multiRegion":true,"organization":false,` +
		`"bucket":"audit-logs","prefix":"ct","logging":false,"deliveredThrough":"2026-03-01T10:05:00Z",` +
		`"latestDeliveryError":"NoSuchBucket","files":3,"events":120}]}` + "\n"
	if w.Code != 200 || w.Body.String() != want {
		t.Errorf("GET /v1/trails: %d\n got %s\nwant %s", w.Code, w.Body.String(), want)
	}
}
