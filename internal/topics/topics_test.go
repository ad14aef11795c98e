package topics

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/store"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

const acct = "111122223333"

var alice = Caller{Account: acct, Region: "us-east-1", ARN: "arn:aws:iam::111122223333:user/alice"}

type fixture struct {
	dir string
	st  *store.Store
	clk *clock.Fake
	tp  *Topics
	cfg Config
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), clk: clock.NewFake(t0)}
	f.cfg = Config{PublicURL: "https://audit.example.com", Clock: f.clk, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&f.cfg)
	}
	f.open(t)
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	st, err := store.Open(context.Background(), f.dir, store.Options{Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg
	cfg.DB = st.DB()
	tp, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.st, f.tp = st, tp
	t.Cleanup(func() { f.close(t) })
}

func (f *fixture) close(t *testing.T) {
	if f.tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.tp.Close(ctx); err != nil {
		t.Error(err)
	}
	f.st.Close()
	f.tp = nil
}

// receiver is an HTTP subscriber recording what it gets.
type receiver struct {
	mu     sync.Mutex
	got    []received
	status int // answered status; 0 = 200
	srv    *httptest.Server
	ch     chan received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{ch: make(chan received, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		st := r.status
		r.got = append(r.got, received{req.Header.Clone(), b})
		r.mu.Unlock()
		r.ch <- received{req.Header.Clone(), b}
		if st != 0 {
			w.WriteHeader(st)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) next(t *testing.T) (received, map[string]any) {
	t.Helper()
	select {
	case m := <-r.ch:
		var doc map[string]any
		json.Unmarshal(m.body, &doc)
		return m, doc
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery arrived")
	}
	return received{}, nil
}

func (r *receiver) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-r.ch:
		t.Fatalf("unexpected delivery: %s", m.body)
	case <-time.After(300 * time.Millisecond):
	}
}

// waitAttempts polls the attempt records until n are there.
func waitAttempts(t *testing.T, tp *Topics, n int) []Attempt {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		as, err := tp.Attempts(context.Background(), acct, "", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(as) >= n {
			return as
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts recorded, want %d: %+v", len(as), n, as)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustTopic(t *testing.T, tp *Topics, c Caller, name string) string {
	t.Helper()
	arn, err := tp.CreateTopic(context.Background(), c, name, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return arn
}

// confirmedHTTP subscribes r and confirms through the SubscribeURL's
// token, as a subscriber visiting it does.
func confirmedHTTP(t *testing.T, f *fixture, topic string, r *receiver) string {
	t.Helper()
	ctx := context.Background()
	s, err := f.tp.Subscribe(ctx, alice, topic, "http", r.srv.URL+"/hook", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, doc := r.next(t)
	if got := m.header.Get("x-amz-sns-message-type"); got != "SubscriptionConfirmation" {
		t.Fatalf("message type %q", got)
	}
	u := doc["SubscribeURL"].(string)
	if !strings.HasPrefix(u, "https://audit.example.com"+ConfirmPath+"?") {
		t.Fatalf("SubscribeURL %s", u)
	}
	rec := httptest.NewRecorder()
	f.tp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", strings.TrimPrefix(u, "https://audit.example.com"), nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), s.ARN) {
		t.Fatalf("visiting SubscribeURL: %d %s", rec.Code, rec.Body)
	}
	return s.ARN
}

func TestCreateTopicIdempotentAndNames(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	arn, err := f.tp.CreateTopic(ctx, alice, "alerts", map[string]string{"DisplayName": "Alerts"}, nil)
	if err != nil || arn != "arn:aws:sns:us-east-1:111122223333:alerts" {
		t.Fatal(arn, err)
	}
	if again, err := f.tp.CreateTopic(ctx, alice, "alerts", map[string]string{"DisplayName": "Alerts"}, nil); err != nil || again != arn {
		t.Fatal(again, err)
	}
	_, err = f.tp.CreateTopic(ctx, alice, "alerts", map[string]string{"DisplayName": "Other"}, nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != "InvalidParameter" || e.Message != "Invalid parameter: Attributes Reason: Topic already exists with different attributes" {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "a b", "x.fifo", strings.Repeat("a", 257)} {
		if _, err := f.tp.CreateTopic(ctx, alice, bad, nil, nil); !errors.As(err, &e) || e.Message != "Invalid parameter: Topic Name" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	attrs, err := f.tp.TopicAttributes(ctx, alice, arn)
	if err != nil {
		t.Fatal(err)
	}
	if attrs["DisplayName"] != "Alerts" || attrs["Owner"] != acct || attrs["SubscriptionsConfirmed"] != "0" || attrs["TopicArn"] != arn ||
		!json.Valid([]byte(attrs["Policy"])) || !json.Valid([]byte(attrs["EffectiveDeliveryPolicy"])) {
		t.Fatalf("%v", attrs)
	}
	if _, err := f.tp.TopicAttributes(ctx, alice, "arn:aws:sns:us-east-1:111122223333:nope"); !errors.As(err, &e) || e.Code != "NotFound" || e.Message != "Topic does not exist" {
		t.Fatal(err)
	}
}

func TestAccountIsolation(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	arn := mustTopic(t, f.tp, alice, "alerts")
	bob := Caller{Account: "444455556666", Region: "us-east-1", ARN: "arn:aws:iam::444455556666:user/bob"}
	mustTopic(t, f.tp, bob, "bobs")
	list, _, err := f.tp.ListTopics(ctx, bob, "", 100)
	if err != nil || len(list) != 1 || !strings.HasSuffix(list[0], ":444455556666:bobs") {
		t.Fatal(list, err)
	}
	var e *Error
	if _, err := f.tp.PublishAs(ctx, bob, arn, PublishInput{Message: "hi"}); !errors.As(err, &e) || e.Code != "AuthorizationError" ||
		!strings.HasPrefix(e.Message, "User: arn:aws:iam::444455556666:user/bob is not authorized to perform: SNS:Publish on resource: "+arn) {
		t.Fatal(err)
	}
	if _, err := f.tp.Publish(ctx, "444455556666", arn, "", "hi", ""); !errors.As(err, &e) || e.Code != "AuthorizationError" {
		t.Fatal(err)
	}
	if err := f.tp.DeleteTopic(ctx, bob, arn); !errors.As(err, &e) || e.Code != "AuthorizationError" {
		t.Fatal(err)
	}
	if ok, _ := f.tp.TopicExists(ctx, "444455556666", arn); ok {
		t.Fatal("another account's topic exists for bob")
	}
	west := alice
	west.Region = "us-west-2"
	if _, err := f.tp.TopicAttributes(ctx, west, arn); !errors.As(err, &e) || e.Message != "Invalid parameter: TopicArn" {
		t.Fatal(err)
	}
}

// TestConfirmAndSignedNotification: the handshake, then a notification
// in SNS's shape whose signature openssl verifies against the
// certificate served at CertPath, for both signature versions.
func TestConfirmAndSignedNotification(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	r := newReceiver(t)
	topic := mustTopic(t, f.tp, alice, "alerts")
	sub := confirmedHTTP(t, f, topic, r)
	// the confirmation was itself recorded as an attempt
	waitAttempts(t, f.tp, 1)
	for _, v := range []string{"1", "2"} {
		if err := f.tp.SetTopicAttribute(ctx, alice, topic, "SignatureVersion", v); err != nil {
			t.Fatal(err)
		}
		id, err := f.tp.Publish(ctx, acct, topic, "Alarm: 3 failed sign-ins", "three <failed> sign-ins & more", "")
		if err != nil {
			t.Fatal(err)
		}
		m, doc := r.next(t)
		for k, want := range map[string]string{"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": id,
			"x-amz-sns-topic-arn": topic, "x-amz-sns-subscription-arn": sub} {
			if got := m.header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if doc["Type"] != "Notification" || doc["MessageId"] != id || doc["Subject"] != "Alarm: 3 failed sign-ins" ||
			doc["Message"] != "three <failed> sign-ins & more" || doc["SignatureVersion"] != v ||
			doc["SigningCertURL"] != "https://audit.example.com"+CertPath || !strings.Contains(doc["UnsubscribeURL"].(string), "SubscriptionArn=") {
			t.Fatalf("%s", m.body)
		}
		verifyWithOpenSSL(t, f.tp, doc)
	}
}

// verifyWithOpenSSL checks doc's signature as SNS documents it, with the
// openssl CLI and the certificate opentrail serves.
func verifyWithOpenSSL(t *testing.T, tp *Topics, doc map[string]any) {
	t.Helper()
	dir := t.TempDir()
	rec := httptest.NewRecorder()
	tp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", CertPath, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d", CertPath, rec.Code)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert := write("cert.pem", rec.Body.Bytes())
	pub, err := exec.Command("openssl", "x509", "-pubkey", "-noout", "-in", cert).Output()
	if err != nil {
		t.Fatalf("openssl x509: %v", err)
	}
	var b strings.Builder
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if doc["Type"] != "Notification" {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	for _, k := range keys {
		if v, ok := doc[k].(string); ok {
			b.WriteString(k + "\n" + v + "\n")
		}
	}
	sig, err := base64.StdEncoding.DecodeString(doc["Signature"].(string))
	if err != nil {
		t.Fatal(err)
	}
	digest := "-sha1"
	if doc["SignatureVersion"] == "2" {
		digest = "-sha256"
	}
	out, err := exec.Command("openssl", "dgst", digest, "-verify", write("pub.pem", pub), "-signature", write("sig", sig),
		write("data", []byte(b.String()))).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl dgst %s: %v: %s", digest, err, out)
	}
	// a changed message does not verify
	out, err = exec.Command("openssl", "dgst", digest, "-verify", filepath.Join(dir, "pub.pem"), "-signature", filepath.Join(dir, "sig"),
		write("data2", []byte(b.String()+"x"))).CombinedOutput()
	if err == nil {
		t.Fatalf("a tampered message verified: %s", out)
	}
}

func TestConfirmationSignatureVerifies(t *testing.T) {
	f := newFixture(t, nil)
	r := newReceiver(t)
	topic := mustTopic(t, f.tp, alice, "alerts")
	if _, err := f.tp.Subscribe(context.Background(), alice, topic, "https", strings.Replace(r.srv.URL, "http:", "https:", 1), nil); err != nil {
		t.Fatal(err)
	}
	// an https endpoint on a plain server fails: check the record instead
	as := waitAttempts(t, f.tp, 1)
	if as[0].Status != StatusRetrying || as[0].Attempt != 1 || as[0].Error == "" {
		t.Fatalf("%+v", as[0])
	}
	if _, err := f.tp.Subscribe(context.Background(), alice, topic, "http", r.srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	_, doc := r.next(t)
	verifyWithOpenSSL(t, f.tp, doc)
}

func TestPendingGetsNothingAndDedup(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	r := newReceiver(t)
	topic := mustTopic(t, f.tp, alice, "alerts")
	s, err := f.tp.Subscribe(ctx, alice, topic, "http", r.srv.URL, nil)
	if err != nil || !s.Pending {
		t.Fatal(s, err)
	}
	r.next(t) // the confirmation
	if _, err := f.tp.Publish(ctx, acct, topic, "", "before confirmation", ""); err != nil {
		t.Fatal(err)
	}
	r.none(t)
	if _, err := f.tp.ConfirmSubscription(ctx, topic, "wrong", false); err == nil || err.Error() != "InvalidParameter: Invalid token" {
		t.Fatal(err)
	}
	if arn, err := f.tp.ConfirmSubscription(ctx, topic, s.Token, false); err != nil || arn != s.ARN {
		t.Fatal(arn, err)
	}
	id1, err := f.tp.Publish(ctx, acct, topic, "", "alarm", "alarm-x-transition-7")
	if err != nil {
		t.Fatal(err)
	}
	r.next(t)
	id2, err := f.tp.Publish(ctx, acct, topic, "", "alarm", "alarm-x-transition-7")
	if err != nil || id2 != id1 {
		t.Fatal(id1, id2, err)
	}
	r.none(t)
}

// TestRetriesBackoffAndDeadLetter: a failing endpoint gets three
// immediate retries, then retries spaced by the backoff on the fake
// clock, then a dead record; every attempt is recorded.
func TestRetriesBackoffAndDeadLetter(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Retry = RetryPolicy{NoDelayRetries: 3, BackoffRetries: 2, MinDelay: 20 * time.Second, MaxDelay: time.Minute}
	})
	ctx := context.Background()
	r := newReceiver(t)
	topic := mustTopic(t, f.tp, alice, "alerts")
	confirmedHTTP(t, f, topic, r)
	waitAttempts(t, f.tp, 1)
	r.mu.Lock()
	r.status = 503
	r.mu.Unlock()
	if _, err := f.tp.Publish(ctx, acct, topic, "s", "m", ""); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		r.next(t)
	}
	as := waitAttempts(t, f.tp, 5)
	r.none(t) // the fifth waits for the backoff
	f.clk.Advance(19 * time.Second)
	r.none(t)
	f.clk.Advance(time.Second)
	r.next(t)
	waitAttempts(t, f.tp, 6)
	f.clk.Advance(39 * time.Second)
	r.none(t)
	f.clk.Advance(time.Second)
	r.next(t)
	as = waitAttempts(t, f.tp, 7)
	as = as[1:] // the confirmation
	for i, a := range as {
		want := StatusRetrying
		if i == len(as)-1 {
			want = StatusDead
		}
		if a.Attempt != i+1 || a.Status != want || a.StatusCode != 503 || a.Error == "" {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	f.clk.Advance(time.Hour)
	r.none(t)
	if p := (RetryPolicy{NoDelayRetries: 3, BackoffRetries: 10, MinDelay: 20 * time.Second, MaxDelay: 20 * time.Minute}); p.Delay(3) != 0 ||
		p.Delay(4) != 20*time.Second || p.Delay(5) != 40*time.Second || p.Delay(13) != 20*time.Minute || p.Attempts() != 14 {
		t.Fatal("delays", p.Delay(4), p.Delay(5), p.Delay(13))
	}
}

// TestQueueSurvivesRestart: a message published while its endpoint is
// down is delivered after a restart, with the signing key kept.
func TestQueueSurvivesRestart(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Retry = RetryPolicy{NoDelayRetries: 0, BackoffRetries: 5, MinDelay: time.Minute, MaxDelay: time.Minute}
	})
	ctx := context.Background()
	r := newReceiver(t)
	topic := mustTopic(t, f.tp, alice, "alerts")
	confirmedHTTP(t, f, topic, r)
	waitAttempts(t, f.tp, 1)
	cert := string(f.tp.CertificatePEM())
	r.mu.Lock()
	r.status = 500
	r.mu.Unlock()
	id, err := f.tp.Publish(ctx, acct, topic, "", "kept", "")
	if err != nil {
		t.Fatal(err)
	}
	r.next(t)
	waitAttempts(t, f.tp, 2)
	f.close(t)
	r.mu.Lock()
	r.status = 0
	r.mu.Unlock()
	f.open(t)
	if string(f.tp.CertificatePEM()) != cert {
		t.Fatal("the signing certificate changed across a restart")
	}
	r.none(t)
	f.clk.Advance(time.Minute)
	_, doc := r.next(t)
	if doc["MessageId"] != id || doc["Message"] != "kept" {
		t.Fatalf("%v", doc)
	}
	as := waitAttempts(t, f.tp, 3)
	if as[2].Status != StatusDelivered || as[2].Attempt != 2 {
		t.Fatalf("%+v", as[2])
	}
}

func TestSlackWebhook(t *testing.T) {
	r := newReceiver(t)
	f := newFixture(t, func(c *Config) { c.SlackHosts = []string{strings.TrimPrefix(r.srv.URL, "http://")} })
	ctx := context.Background()
	topic := mustTopic(t, f.tp, alice, "alerts")
	s, err := f.tp.Subscribe(ctx, alice, topic, "http", r.srv.URL+"/services/T/B/X", nil)
	if err != nil || s.Pending {
		t.Fatal(s, err)
	}
	if _, err := f.tp.Publish(ctx, acct, topic, "Root sign-in", "root signed in", ""); err != nil {
		t.Fatal(err)
	}
	m, _ := r.next(t)
	var body map[string]string
	if err := json.Unmarshal(m.body, &body); err != nil || body["text"] != "*Root sign-in*\nroot signed in" || len(body) != 1 {
		t.Fatalf("%s", m.body)
	}
}

func TestPublishValidation(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	topic := mustTopic(t, f.tp, alice, "alerts")
	for _, c := range []struct {
		in   PublishInput
		want string
	}{
		{PublishInput{}, "Invalid parameter: Empty message"},
		{PublishInput{Message: "m", Subject: strings.Repeat("s", 101)}, "Invalid parameter: Subject"},
		{PublishInput{Message: "m", Subject: "two\nlines"}, "Invalid parameter: Subject"},
		{PublishInput{Message: strings.Repeat("m", MaxMessageBytes+1)}, "Invalid parameter: Message too long"},
	} {
		if _, err := f.tp.PublishAs(ctx, alice, topic, c.in); err == nil || err.(*Error).Message != c.want {
			t.Errorf("%.40v: %v, want %s", c.in, err, c.want)
		}
	}
	if _, err := f.tp.PublishAs(ctx, alice, topic, PublishInput{Message: strings.Repeat("m", MaxMessageBytes)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tp.Publish(ctx, acct, "arn:aws:sns:us-east-1:111122223333:gone", "", "m", ""); err == nil || err.(*Error).Code != "NotFound" {
		t.Fatal(err)
	}
}

func TestUnsubscribeURL(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	r := newReceiver(t)
	topic := mustTopic(t, f.tp, alice, "alerts")
	sub := confirmedHTTP(t, f, topic, r)
	if _, err := f.tp.Publish(ctx, acct, topic, "", "m", ""); err != nil {
		t.Fatal(err)
	}
	_, doc := r.next(t)
	u := strings.TrimPrefix(doc["UnsubscribeURL"].(string), "https://audit.example.com")
	rec := httptest.NewRecorder()
	f.tp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if _, err := f.tp.SubscriptionAttributes(ctx, alice, sub); err == nil || err.(*Error).Code != "NotFound" {
		t.Fatal(err)
	}
	attrs, _ := f.tp.TopicAttributes(ctx, alice, topic)
	if attrs["SubscriptionsDeleted"] != "1" || attrs["SubscriptionsConfirmed"] != "0" {
		t.Fatal(attrs)
	}
	if _, err := f.tp.Publish(ctx, acct, topic, "", "m", ""); err != nil {
		t.Fatal(err)
	}
	r.none(t)
}

// TestSlowEndpointDoesNotHoldUpOthers: a backlog for an endpoint that
// does not answer takes at most its share of the workers; another
// endpoint's message goes out at once.
func TestSlowEndpointDoesNotHoldUpOthers(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	f := newFixture(t, func(c *Config) { c.SlackHosts = []string{strings.TrimPrefix(slow.URL, "http://")} })
	ctx := context.Background()
	stuck := mustTopic(t, f.tp, alice, "stuck")
	if _, err := f.tp.Subscribe(ctx, alice, stuck, "http", slow.URL+"/hook", nil); err != nil { // a webhook: no confirmation
		t.Fatal(err)
	}
	for i := range 300 {
		if _, err := f.tp.Publish(ctx, acct, stuck, "", "backlog", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	r := newReceiver(t)
	other := mustTopic(t, f.tp, alice, "other")
	confirmedHTTP(t, f, other, r)
	if _, err := f.tp.Publish(ctx, acct, other, "", "urgent", ""); err != nil {
		t.Fatal(err)
	}
	_, doc := r.next(t)
	if doc["Message"] != "urgent" {
		t.Fatalf("%v", doc)
	}
}

// TestPruneKeepsPendingDeliveries: old records go, a message still
// being delivered stays.
func TestPruneKeepsPendingDeliveries(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Keep = 48 * time.Hour
		c.Retry = RetryPolicy{BackoffRetries: 100, MinDelay: time.Hour, MaxDelay: time.Hour}
	})
	ctx := context.Background()
	r := newReceiver(t)
	topic := mustTopic(t, f.tp, alice, "alerts")
	confirmedHTTP(t, f, topic, r)
	if _, err := f.tp.Publish(ctx, acct, topic, "", "delivered", "d1"); err != nil {
		t.Fatal(err)
	}
	r.next(t)
	waitAttempts(t, f.tp, 2)
	r.mu.Lock()
	r.status = 500
	r.mu.Unlock()
	stuck, err := f.tp.Publish(ctx, acct, topic, "", "pending", "p1")
	if err != nil {
		t.Fatal(err)
	}
	r.next(t)
	waitAttempts(t, f.tp, 3)
	if err := f.tp.deliver.prune(ctx, f.clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var msgs, deliveries, attempts int
	f.tp.db.QueryRow(`SELECT count(*) FROM sns_messages`).Scan(&msgs)
	f.tp.db.QueryRow(`SELECT count(*) FROM sns_deliveries`).Scan(&deliveries)
	f.tp.db.QueryRow(`SELECT count(*) FROM sns_attempts`).Scan(&attempts)
	if msgs != 1 || deliveries != 1 || attempts != 0 {
		t.Fatalf("after pruning: %d messages, %d deliveries, %d attempts", msgs, deliveries, attempts)
	}
	if id, err := f.tp.Publish(ctx, acct, topic, "", "pending", "p1"); err != nil || id != stuck {
		t.Fatal("the pending message's dedup id was forgotten", id, err)
	}
}
