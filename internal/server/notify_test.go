package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/config"
)

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

const testToken = "0123456789abcdef0123"

// notifyServer starts a server with one source that takes notifications
// (its bucket is never reached: the tests here name no object it holds,
// or only objects that are not log files).
func notifyServer(t *testing.T) (*Server, http.Handler) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Sources = []config.Source{{S3: "s3://trail-bucket/logs/", Endpoint: "http://127.0.0.1:1", PathStyle: true,
		AccessKeyID: "a", SecretAccessKey: "b", PollInterval: time.Hour, NotificationToken: testToken}}
	s := runServer(t, cfg)
	return s, s.Handler()
}

// runServer runs a server on cfg until the test ends.
func runServer(t *testing.T, cfg config.Config) *Server {
	t.Helper()
	return startBuilt(t, buildServer(t, cfg))
}

// buildServer builds a server on cfg, not yet running.
func buildServer(t *testing.T, cfg config.Config) *Server {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startBuilt runs s until the test ends.
func startBuilt(t *testing.T, s *Server) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	<-s.Ready()
	return s
}

// localConfig is local mode's configuration on a fresh data directory.
func localConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	return cfg
}

func post(t *testing.T, h http.Handler, target, auth, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func TestNotificationRefusals(t *testing.T) {
	_, h := notifyServer(t)
	const path = NotificationsPath
	for _, c := range []struct {
		name, target, auth, body string
		code                     int
		want                     string
	}{
		{"no token", path, "", `{"Event":"s3:TestEvent"}`, 403, `"the notification token is missing`},
		{"wrong token", path + "?token=0123456789abcdef0124", "", `{"Event":"s3:TestEvent"}`, 403, "AccessDeniedException"},
		{"wrong bearer", path, "Bearer nope", `{"Event":"s3:TestEvent"}`, 403, "token is wrong"},
		{"not JSON", path + "?token=" + testToken, "", `hello`, 400, "not an S3 event notification"},
		{"no shape", path + "?token=" + testToken, "", `{"a":1}`, 400, "ValidationException"},
		{"record without s3", path + "?token=" + testToken, "", `{"Records":[{"eventName":"ObjectCreated:Put"}]}`, 400, "Records[0] has no s3 object"},
		{"too large", path + "?token=" + testToken, "", `{"Records":[` + strings.Repeat(" ", 1<<20) + `]}`, 413, "RequestEntityTooLargeException"},
		{"SNS confirmation elsewhere", path + "?token=" + testToken, "",
			`{"Type":"SubscriptionConfirmation","TopicArn":"arn:aws:sns:us-east-1:111122223333:t","SubscribeURL":"https://169.254.169.254/?Action=ConfirmSubscription"}`, 400, "not an https URL of an SNS endpoint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(t, h, c.target, c.auth, c.body)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Fatalf("%d %s, want %d with %q", code, body, c.code, c.want)
			}
		})
	}

	req := httptest.NewRequest(http.MethodGet, path+"?token="+testToken, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: %d %s", w.Code, w.Body.String())
	}
}

func TestNotificationAccepted(t *testing.T) {
	s, h := notifyServer(t)
	var (
		mu   sync.Mutex
		got  []string
		done = make(chan struct{}, 1)
	)
	s.notify.http = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		got = append(got, r.URL.String())
		mu.Unlock()
		done <- struct{}{}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("<ConfirmSubscriptionResponse/>")), Header: http.Header{}}, nil
	})}

	// An SNS subscription confirmation is confirmed by getting its URL.
	const subscribe = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:eu-west-1:111122223333:trail&Token=2336412f37"
	code, body := post(t, h, NotificationsPath, "Bearer "+testToken,
		`{"Type":"SubscriptionConfirmation","MessageId":"m","Token":"2336412f37","TopicArn":"arn:aws:sns:eu-west-1:111122223333:trail","SubscribeURL":"`+subscribe+`"}`)
	if code != 200 {
		t.Fatalf("confirmation: %d %s", code, body)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription was not confirmed")
	}
	mu.Lock()
	if len(got) != 1 || got[0] != subscribe {
		t.Fatalf("got %v", got)
	}
	mu.Unlock()

	// Objects of another bucket, or outside the prefix, are ignored; a
	// digest file under the prefix is queued and then skipped by the
	// poller, as polling would.
	msg := `{"Records":[
	 {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"other"},"object":{"key":"logs/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/26/a.json.gz"}}},
	 {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail-bucket"},"object":{"key":"elsewhere/a.json.gz"}}},
	 {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"trail-bucket"},"object":{"key":"logs/x.json.gz"}}},
	 {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail-bucket"},"object":{"key":"logs/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/26/d.json.gz"}}}]}`
	code, body = post(t, h, NotificationsPath+"?token="+testToken, "", msg)
	var resp notificationResponse
	if code != 200 || json.Unmarshal([]byte(body), &resp) != nil || resp != (notificationResponse{Queued: 1, Ignored: 2}) {
		t.Fatalf("%d %s", code, body)
	}
	code, body = post(t, h, NotificationsPath+"?token="+testToken, "", `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-26T06:00:00.000Z","Bucket":"trail-bucket"}`)
	if code != 200 || body != "{\"queued\":0,\"deferred\":0,\"ignored\":0}\n" {
		t.Fatalf("test event: %d %s", code, body)
	}
	m := &strings.Builder{}
	s.reg.Write(m)
	for _, want := range []string{
		`opentrail_source_notifications_total{result="accepted"} 3`,
		`opentrail_source_notified_objects_total{result="queued"} 1`,
		`opentrail_source_notified_objects_total{result="ignored"} 2`,
	} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
}

func TestNotificationWithoutSources(t *testing.T) {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	s := runServer(t, cfg)
	code, body := post(t, s.Handler(), NotificationsPath+"?token="+testToken, "", `{"Event":"s3:TestEvent"}`)
	if code != 404 || !strings.Contains(body, "set notification_token on a source") {
		t.Fatalf("%d %s", code, body)
	}
}
