package cloudtrail

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/cloudtraildata"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/trail"
)

func newDeliveryEnv(t *testing.T, bk servicetest.Buckets, d *servicetest.Delivery) *env {
	t.Helper()
	st := servicetest.NewStore()
	e := &env{t: t, st: st, ing: &servicetest.Ingester{Store: st, Source: cloudtraildata.SourcePutAuditEvents}, clock: clock.NewFake(servicetest.Now)}
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: servicetest.TokenKey, Now: e.clock.Now, Logger: quiet, Buckets: bk, Delivery: d})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.json = awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(e.json)
	return e
}

func TestTrailBucketMustExist(t *testing.T) {
	d := &servicetest.Delivery{}
	e := newDeliveryEnv(t, servicetest.Buckets{"audit-logs": nil, "locked": fmt.Errorf("head: %w", objstore.ErrAccessDenied)}, d)
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "CreateTrail", `{"Name":"tt1","S3BucketName":"no-such-bucket"}`)
	servicetest.WantError(t, status, body, 400, "S3BucketDoesNotExistException", "S3 bucket no-such-bucket does not exist!")
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "CreateTrail", `{"Name":"tt1","S3BucketName":"locked"}`)
	servicetest.WantError(t, status, body, 400, "InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected for bucket: locked")
	e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody("audit", ""))
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "UpdateTrail", `{"Name":"audit","S3BucketName":"gone-bucket"}`)
	servicetest.WantError(t, status, body, 400, "S3BucketDoesNotExistException", "S3 bucket gone-bucket does not exist!")
	// The failed update changed nothing.
	if status, body := e.call(servicetest.AcctA, servicetest.RegionA, "GetTrail", `{"Name":"audit"}`); status != 200 || !strings.Contains(body, `"S3BucketName":"audit-logs"`) {
		t.Errorf("after failed update: %d %s", status, body)
	}
	if d.Wakes == 0 {
		t.Error("delivery was not told about the new trail")
	}
	if status, _ := e.call(servicetest.AcctA, servicetest.RegionA, "DeleteTrail", `{"Name":"audit"}`); status != 200 {
		t.Fatal(status)
	}
	if len(d.Forgot) != 1 || d.Forgot[0] != servicetest.TrailARNA {
		t.Errorf("forgotten: %v", d.Forgot)
	}
}

func TestTrailStatusReportsDelivery(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)
	d := &servicetest.Delivery{Statuses: map[string]trail.Status{servicetest.TrailARNA: {
		DeliveredThrough: at, LatestDelivery: at.Add(2 * time.Second), LatestAttempt: at.Add(3 * time.Second),
		LatestError: "AccessDenied", LatestErrorTime: at.Add(3 * time.Second),
	}}}
	e := newDeliveryEnv(t, servicetest.Buckets{"audit-logs": nil}, d)
	e.createTrail(servicetest.AcctA, servicetest.RegionA, servicetest.TrailBody("audit", ""))
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "GetTrailStatus", `{"Name":"audit"}`)
	want := `{"IsLogging":false,"LatestDeliveryError":"AccessDenied","LatestDeliveryTime":1772359502,` +
		`"LatestDeliveryAttemptTime":"2026-03-01T10:05:03Z","LatestNotificationAttemptTime":"","LatestNotificationAttemptSucceeded":"",` +
		`"LatestDeliveryAttemptSucceeded":"2026-03-01T10:05:02Z","TimeLoggingStarted":"","TimeLoggingStopped":"",` +
		`"DeliveredThroughTime":1772359500}`
	if status != 200 || body != want {
		t.Errorf("status: %d\n got %s\nwant %s", status, body, want)
	}
}

type fakeKeys []digest.PublicKey

func (f fakeKeys) PublicKeys(_ context.Context, region string, start, end time.Time) ([]digest.PublicKey, error) {
	var out []digest.PublicKey
	for _, k := range f {
		if k.Region == region && !k.ValidTo.Before(start) && !k.ValidFrom.After(end) {
			out = append(out, k)
		}
	}
	return out, nil
}

func TestListPublicKeys(t *testing.T) {
	st := servicetest.NewStore()
	e := &env{t: t, st: st, ing: &servicetest.Ingester{Store: st, Source: cloudtraildata.SourcePutAuditEvents}, clock: clock.NewFake(servicetest.Now)}
	quiet := slog.New(slog.DiscardHandler)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := fakeKeys{
		{Region: servicetest.RegionA, Value: []byte{0x30, 0x01}, Fingerprint: "aa", ValidFrom: from, ValidTo: from.Add(30 * 24 * time.Hour)},
		{Region: servicetest.RegionA, Value: []byte{0x30, 0x02}, Fingerprint: "bb", ValidFrom: from.Add(30 * 24 * time.Hour), ValidTo: from.Add(60 * 24 * time.Hour)},
		{Region: "us-east-1", Value: []byte{0x30, 0x03}, Fingerprint: "cc", ValidFrom: from, ValidTo: from.Add(60 * 24 * time.Hour)},
	}
	svc, err := New(Config{Store: st, TokenKey: servicetest.TokenKey, Now: e.clock.Now, Logger: quiet, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.json = awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(e.json)

	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "ListPublicKeys", fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, from.Unix(), from.Add(40*24*time.Hour).Unix()))
	want := `{"PublicKeyList":[{"Value":"MAE=","ValidityStartTime":1767225600,"ValidityEndTime":1769817600,"Fingerprint":"aa"},` +
		`{"Value":"MAI=","ValidityStartTime":1769817600,"ValidityEndTime":1772409600,"Fingerprint":"bb"}]}`
	if status != 200 || body != want {
		t.Errorf("ListPublicKeys:\n got %d %s\nwant %s", status, body, want)
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "ListPublicKeys", fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, from.Unix()+10, from.Unix()))
	servicetest.WantError(t, status, body, 400, "InvalidTimeRangeException", "Occurs if the timestamp values are invalid. Either the start time occurs after the end time, or the time range is outside the range of possible values.")
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "ListPublicKeys", `{"NextToken":"x"}`)
	if status != 400 || !strings.Contains(body, "InvalidTokenException") {
		t.Errorf("NextToken: %d %s", status, body)
	}
}
