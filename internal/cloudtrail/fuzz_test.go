package api

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
)

// FuzzJSON11Body sends arbitrary bodies to LookupEvents through the JSON
// 1.1 router: it must never panic and always answer 200 or a 4xx error.
func FuzzJSON11Body(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `[]`, `null`, `{"MaxResults":5}`, `{"MaxResults":5.5}`, `{"MaxResults":"5"}`,
		`{"StartTime":1709251200,"EndTime":1709251200.5}`, `{"StartTime":"x"}`, `{"StartTime":1e400}`,
		`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"StopLogging"}]}`,
		`{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"maybe"}]}`,
		`{"LookupAttributes":{}}`, `{"EventCategory":"insight"}`, `{"NextToken":"AAAA"}`,
		`{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, `{"x":"\ud800"}`, "{\"x\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	st := newMemStore()
	st.add(mkRecord(f, recOpts{id: "f-1", t: testNow}), mkRecord(f, recOpts{id: "f-2", t: testNow.Add(-time.Hour)}))
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: tokKey, Now: func() time.Time { return testNow }, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	r := awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(r)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("X-Amz-Target", "CloudTrail_20131101.LookupEvents")
		req = req.WithContext(callerCtx(req.Context(), acctA, regionA))
		w := httptest.NewRecorder()
		r.Handle(w, req, body)
		if w.Code != 200 && (w.Code < 400 || w.Code > 499) {
			t.Fatalf("body %q: status %d: %s", body, w.Code, w.Body)
		}
	})
}

// FuzzEventData converts arbitrary eventData: no panics, and every event
// it accepts is a record event.Parse accepts.
func FuzzEventData(f *testing.F) {
	f.Add([]byte(`{"version":"1.0","userIdentity":{"type":"T","principalId":"p","details":{"a":[1]}},"eventSource":"s","eventName":"n",` +
		`"eventTime":"2024-05-06T11:59:00Z","UID":"u","recipientAccountId":"210987654321","requestParameters":{"x":"\u00e9"}}`))
	f.Add([]byte(`{"UID":"a","UID":"b"}`))
	f.Add([]byte(`{"version":"1.0","userIdentity":{"type":"T","principalId":"p"},"eventSource":"s","eventName":"n",` +
		`"eventTime":"2024-05-06T11:59:00","UID":"u","recipientAccountId":"210987654321","sourceIPAddress":"::1"}`))
	lc := lakeConverter{channelARN: "arn:aws:cloudtrail:eu-central-1:210987654321:channel/c", account: acctA, region: regionA, ingestTime: testNow}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, id, _, fail := lc.convert(data)
		if fail != nil {
			if fail.code == "" || fail.msg == "" {
				t.Fatalf("empty failure for %q", data)
			}
			return
		}
		if len(id) != 36 {
			t.Fatalf("eventID %q", id)
		}
		if len(raw) > event.MaxRecordSize {
			return // PutAuditEvents reports FieldTooLong from event.Parse
		}
		if _, err := event.Parse(raw); err != nil && !isParserOnlyFault(err) {
			t.Fatalf("converted record rejected: %v\n%s", err, raw)
		}
	})
}

// isParserOnlyFault reports faults only the strict record parser detects
// (lone surrogates, duplicate keys in nested objects); PutAuditEvents
// reports them as InvalidData.
func isParserOnlyFault(err error) bool {
	var se *event.SyntaxError
	return errors.As(err, &se)
}
