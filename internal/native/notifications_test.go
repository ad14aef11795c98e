package native

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/topics"
)

// fakeAttempts answers the attempts of the account, topic and time asked.
type fakeAttempts struct {
	account, topic string
	since          time.Time
}

func (f *fakeAttempts) Attempts(ctx context.Context, account, topicARN string, since time.Time) ([]topics.Attempt, error) {
	f.account, f.topic, f.since = account, topicARN, since
	return []topics.Attempt{{MessageID: "m1", TopicARN: topicARN, SubscriptionARN: topicARN + ":s", Protocol: "https",
		Endpoint: "https://hooks.example.com/x", Attempt: 2, Status: "retrying", StatusCode: 503, Error: "HTTP 503 Service Unavailable",
		Time: time.Date(2026, 12, 4, 10, 0, 1, 0, time.UTC)}}, nil
}

func TestListNotifications(t *testing.T) {
	f := &fakeAttempts{}
	quiet := slog.New(slog.DiscardHandler)
	nat, err := New(Config{Store: servicetest.NewStore(), TokenKey: servicetest.TokenKey, Notifications: f, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewPathRouter(Service, nil, quiet, NotFound("/v1/s3-notifications"))
	nat.Register(r)
	get := func(query string) (int, string) {
		req := httptest.NewRequest("GET", "/v1/notifications?"+query, nil)
		req = req.WithContext(servicetest.CallerContext(req.Context(), servicetest.AcctA, servicetest.RegionA))
		w := httptest.NewRecorder()
		r.Handle(w, req, nil)
		return w.Code, w.Body.String()
	}
	topic := "arn:aws:sns:" + servicetest.RegionA + ":" + servicetest.AcctA + ":alerts"
	code, body := get("topicArn=" + topic + "&since=2026-12-04T09:00:00Z")
	want := `{"deliveries":[{"messageId":"m1","topicArn":"` + topic + `","subscriptionArn":"` + topic + `:s","protocol":"https",` +
		`"endpoint":"https://hooks.example.com/x","subject":"","attempt":2,"status":"retrying","statusCode":503,` +
		`"error":"HTTP 503 Service Unavailable","time":"2026-12-04T10:00:01Z"}]}`
	if code != 200 || strings.TrimSpace(body) != want {
		t.Fatalf("%d %s\nwant %s", code, body, want)
	}
	if f.account != servicetest.AcctA || f.topic != topic || !f.since.Equal(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("asked %+v", f)
	}
	code, body = get("since=yesterday")
	if code != 400 || !strings.Contains(body, `since \"yesterday\" is not an RFC 3339 time`) {
		t.Fatalf("%d %s", code, body)
	}
}
