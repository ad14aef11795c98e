package sns

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/topics"
)

// auditor keeps the calls' self-audit records.
type auditor struct {
	mu   sync.Mutex
	recs []string
}

func (a *auditor) Audit(rec []byte) {
	a.mu.Lock()
	a.recs = append(a.recs, string(rec))
	a.mu.Unlock()
}

type env struct {
	t     *testing.T
	r     *awsapi.Router
	audit *auditor
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tp, err := topics.New(topics.Config{DB: st.DB(), PublicURL: "https://audit.example.com", Clock: clock.NewFake(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close(context.Background()) })
	e := &env{t: t, audit: &auditor{}}
	e.r = awsapi.NewRouter("sns", e.audit, nil)
	e.r.Speak(awsapi.SNSProtocols())
	New(tp).Register(e.r)
	return e
}

// call sends a query request (form) as account in us-east-1.
func (e *env) call(account string, form url.Values) (int, string) {
	e.t.Helper()
	form.Set("Version", "2010-03-31")
	body := form.Encode()
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req = req.WithContext(servicetest.CallerContext(req.Context(), account, "us-east-1"))
	w := httptest.NewRecorder()
	e.r.Handle(w, req, []byte(body))
	return w.Code, w.Body.String()
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func wantXML(t *testing.T, status int, body string, wantStatus int, parts ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("%s\ndoes not contain %s", body, p)
		}
	}
}

func TestQueryOperations(t *testing.T) {
	e := newEnv(t)
	a := servicetest.AcctA
	arn := "arn:aws:sns:us-east-1:" + a + ":alerts"
	st, body := e.call(a, form("Action", "CreateTopic", "Name", "alerts", "Attributes.entry.1.key", "DisplayName",
		"Attributes.entry.1.value", "Alerts", "Tags.member.1.Key", "team", "Tags.member.1.Value", "sec"))
	wantXML(t, st, body, 200, `<CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><CreateTopicResult><TopicArn>`+arn+`</TopicArn></CreateTopicResult>`)
	st, body = e.call(a, form("Action", "GetTopicAttributes", "TopicArn", arn))
	wantXML(t, st, body, 200, `<entry><key>DisplayName</key><value>Alerts</value></entry>`, `<entry><key>SubscriptionsPending</key><value>0</value></entry>`)
	st, body = e.call(a, form("Action", "ListTopics"))
	wantXML(t, st, body, 200, `<Topics><member><TopicArn>`+arn+`</TopicArn></member></Topics>`)

	st, body = e.call(a, form("Action", "Subscribe", "TopicArn", arn, "Protocol", "https", "Endpoint", "https://hooks.example.com/x"))
	wantXML(t, st, body, 200, `<SubscriptionArn>pending confirmation</SubscriptionArn>`)
	st, body = e.call(a, form("Action", "Subscribe", "TopicArn", arn, "Protocol", "https", "Endpoint", "https://hooks.example.com/x", "ReturnSubscriptionArn", "true"))
	wantXML(t, st, body, 200, `<SubscriptionArn>`+arn+`:`)
	st, body = e.call(a, form("Action", "ListSubscriptionsByTopic", "TopicArn", arn))
	wantXML(t, st, body, 200, `<member><SubscriptionArn>PendingConfirmation</SubscriptionArn><Owner>`+a+`</Owner><Protocol>https</Protocol><Endpoint>https://hooks.example.com/x</Endpoint><TopicArn>`+arn+`</TopicArn></member>`)

	st, body = e.call(a, form("Action", "Publish", "TopicArn", arn, "Message", "the secret text", "Subject", "s",
		"MessageAttributes.entry.1.Name", "k", "MessageAttributes.entry.1.Value.DataType", "String", "MessageAttributes.entry.1.Value.StringValue", "v"))
	wantXML(t, st, body, 200, `<PublishResult><MessageId>`)
	e.audit.mu.Lock()
	rec := e.audit.recs[len(e.audit.recs)-1]
	e.audit.mu.Unlock()
	if strings.Contains(rec, "the secret text") || !strings.Contains(rec, `"message":"HIDDEN_DUE_TO_SECURITY_REASONS"`) ||
		!strings.Contains(rec, `"messageAttributes":"HIDDEN_DUE_TO_SECURITY_REASONS"`) || !strings.Contains(rec, `"topicArn":"`+arn+`"`) {
		t.Fatalf("Publish's audit record shows the message: %s", rec)
	}
	st, body = e.call(a, form("Action", "Publish", "TopicArn", arn, "Message", "m", "MessageStructure", "json"))
	wantXML(t, st, body, 400, `<Type>Sender</Type><Code>InvalidParameter</Code><Message>Invalid parameter: Message Structure - JSON message body failed to parse</Message>`)
	st, body = e.call(a, form("Action", "Publish", "TopicArn", arn, "Message", `{"default":"d","https":"h"}`, "MessageStructure", "json"))
	wantXML(t, st, body, 200, `<MessageId>`)

	// Errors: SNS's codes, statuses and messages.
	st, body = e.call(a, form("Action", "GetTopicAttributes", "TopicArn", arn+"x"))
	wantXML(t, st, body, 404, `<Code>NotFound</Code><Message>Topic does not exist</Message>`)
	st, body = e.call(servicetest.AcctB, form("Action", "Publish", "TopicArn", arn, "Message", "m"))
	wantXML(t, st, body, 403, `<Code>AuthorizationError</Code><Message>User: arn:aws:iam::`+servicetest.AcctB)
	st, body = e.call(a, form("Action", "SetTopicAttributes", "TopicArn", arn, "AttributeName", "Bogus", "AttributeValue", "x"))
	wantXML(t, st, body, 400, `<Code>InvalidParameter</Code><Message>Invalid parameter: AttributeName</Message>`)
	// Unsubscribing what is not there is no error on AWS.
	st, body = e.call(a, form("Action", "Unsubscribe", "SubscriptionArn", arn+":00000000-0000-4000-8000-000000000000"))
	wantXML(t, st, body, 200, `<UnsubscribeResponse`)
	st, body = e.call(a, form("Action", "GetSubscriptionAttributes", "SubscriptionArn", arn+":00000000-0000-4000-8000-000000000000"))
	wantXML(t, st, body, 404, `<Code>NotFound</Code><Message>Subscription does not exist</Message>`)
	st, body = e.call(a, form("Action", "ListTagsForResource", "ResourceArn", arn))
	wantXML(t, st, body, 200, `<Tags><member><Key>team</Key><Value>sec</Value></member></Tags>`)

	st, body = e.call(a, form("Action", "DeleteTopic", "TopicArn", arn))
	wantXML(t, st, body, 200, `<DeleteTopicResponse`)
	st, body = e.call(a, form("Action", "DeleteTopic", "TopicArn", arn))
	wantXML(t, st, body, 200, `<DeleteTopicResponse`)
	st, body = e.call(a, form("Action", "ListSubscriptions"))
	wantXML(t, st, body, 200, `<Subscriptions></Subscriptions>`)
}

func TestListTopicsPages(t *testing.T) {
	e := newEnv(t)
	a := servicetest.AcctA
	for i := range 105 {
		if st, body := e.call(a, form("Action", "CreateTopic", "Name", fmt.Sprintf("t%03d", i))); st != 200 {
			t.Fatal(body)
		}
	}
	st, body := e.call(a, form("Action", "ListTopics"))
	if st != 200 || strings.Count(body, "<member>") != 100 || !strings.Contains(body, "<NextToken>") {
		t.Fatalf("%d %d", st, strings.Count(body, "<member>"))
	}
	tok := body[strings.Index(body, "<NextToken>")+11 : strings.Index(body, "</NextToken>")]
	st, body = e.call(a, form("Action", "ListTopics", "NextToken", tok))
	if st != 200 || strings.Count(body, "<member>") != 5 || strings.Contains(body, "<NextToken>") || !strings.Contains(body, ":t104<") {
		t.Fatalf("%d %s", st, body)
	}
}
