package cloudtrail

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/servicetest"
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
	st := servicetest.NewStore()
	st.Add(servicetest.Record(f, servicetest.RecordOpts{ID: "f-1", Time: servicetest.Now}), servicetest.Record(f, servicetest.RecordOpts{ID: "f-2", Time: servicetest.Now.Add(-time.Hour)}))
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Store: st, TokenKey: servicetest.TokenKey, Now: func() time.Time { return servicetest.Now }, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	r := awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(r)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("X-Amz-Target", "CloudTrail_20131101.LookupEvents")
		req = req.WithContext(servicetest.CallerContext(req.Context(), servicetest.AcctA, servicetest.RegionA))
		w := httptest.NewRecorder()
		r.Handle(w, req, body)
		if w.Code != 200 && (w.Code < 400 || w.Code > 499) {
			t.Fatalf("body %q: status %d: %s", body, w.Code, w.Body)
		}
	})
}
