package cloudtrail

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/digest"
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

func newDeliveryEnv(t *testing.T, bk fakeBuckets, d *fakeDelivery) *env {
	t.Helper()
	st := newMemStore()
	e := &env{t: t, st: st, ing: &memIngester{st: st}, clock: &fakeClock{t: testNow}}
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: tokKey, Now: e.clock.Now, Logger: quiet, Buckets: bk, Delivery: d})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.json = awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(e.json)
	return e
}

func TestTrailBucketMustExist(t *testing.T) {
	d := &fakeDelivery{}
	e := newDeliveryEnv(t, fakeBuckets{"audit-logs": nil, "locked": fmt.Errorf("head: %w", objstore.ErrAccessDenied)}, d)
	status, body := e.call(acctA, regionA, "CreateTrail", `{"Name":"tt1","S3BucketName":"no-such-bucket"}`)
	wantError(t, status, body, 400, "S3BucketDoesNotExistException", "S3 bucket no-such-bucket does not exist!")
	status, body = e.call(acctA, regionA, "CreateTrail", `{"Name":"tt1","S3BucketName":"locked"}`)
	wantError(t, status, body, 400, "InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected for bucket: locked")
	e.createTrail(acctA, regionA, trailBody("audit", ""))
	status, body = e.call(acctA, regionA, "UpdateTrail", `{"Name":"audit","S3BucketName":"gone-bucket"}`)
	wantError(t, status, body, 400, "S3BucketDoesNotExistException", "S3 bucket gone-bucket does not exist!")
	// The failed update changed nothing.
	if status, body := e.call(acctA, regionA, "GetTrail", `{"Name":"audit"}`); status != 200 || !strings.Contains(body, `"S3BucketName":"audit-logs"`) {
		t.Errorf("after failed update: %d %s", status, body)
	}
	if d.wakes == 0 {
		t.Error("delivery was not told about the new trail")
	}
	if status, _ := e.call(acctA, regionA, "DeleteTrail", `{"Name":"audit"}`); status != 200 {
		t.Fatal(status)
	}
	if len(d.forgot) != 1 || d.forgot[0] != trailARNA {
		t.Errorf("forgotten: %v", d.forgot)
	}
}

func TestTrailStatusReportsDelivery(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)
	d := &fakeDelivery{status: map[string]trail.Status{trailARNA: {
		DeliveredThrough: at, LatestDelivery: at.Add(2 * time.Second), LatestAttempt: at.Add(3 * time.Second),
		LatestError: "AccessDenied", LatestErrorTime: at.Add(3 * time.Second),
	}}}
	e := newDeliveryEnv(t, fakeBuckets{"audit-logs": nil}, d)
	e.createTrail(acctA, regionA, trailBody("audit", ""))
	status, body := e.call(acctA, regionA, "GetTrailStatus", `{"Name":"audit"}`)
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
	st := newMemStore()
	e := &env{t: t, st: st, ing: &memIngester{st: st}, clock: &fakeClock{t: testNow}}
	quiet := slog.New(slog.DiscardHandler)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := fakeKeys{
		{Region: regionA, Value: []byte{0x30, 0x01}, Fingerprint: "aa", ValidFrom: from, ValidTo: from.Add(30 * 24 * time.Hour)},
		{Region: regionA, Value: []byte{0x30, 0x02}, Fingerprint: "bb", ValidFrom: from.Add(30 * 24 * time.Hour), ValidTo: from.Add(60 * 24 * time.Hour)},
		{Region: "us-east-1", Value: []byte{0x30, 0x03}, Fingerprint: "cc", ValidFrom: from, ValidTo: from.Add(60 * 24 * time.Hour)},
	}
	svc, err := New(Config{Store: st, TokenKey: tokKey, Now: e.clock.Now, Logger: quiet, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.json = awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(e.json)

	status, body := e.call(acctA, regionA, "ListPublicKeys", fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, from.Unix(), from.Add(40*24*time.Hour).Unix()))
	want := `{"PublicKeyList":[{"Value":"MAE=","ValidityStartTime":1767225600,"ValidityEndTime":1769817600,"Fingerprint":"aa"},` +
		`{"Value":"MAI=","ValidityStartTime":1769817600,"ValidityEndTime":1772409600,"Fingerprint":"bb"}]}`
	if status != 200 || body != want {
		t.Errorf("ListPublicKeys:\n got %d %s\nwant %s", status, body, want)
	}
	status, body = e.call(acctA, regionA, "ListPublicKeys", fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, from.Unix()+10, from.Unix()))
	wantError(t, status, body, 400, "InvalidTimeRangeException", "Occurs if the timestamp values are invalid. Either the start time occurs after the end time, or the time range is outside the range of possible values.")
	status, body = e.call(acctA, regionA, "ListPublicKeys", `{"NextToken":"x"}`)
	if status != 400 || !strings.Contains(body, "InvalidTokenException") {
		t.Errorf("NextToken: %d %s", status, body)
	}
}
