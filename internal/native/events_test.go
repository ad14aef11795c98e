package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/ingest"
	"github.com/opentrail/opentrail/internal/servicetest"
)

// auditIngester is an Ingester whose commits fail with fail, or succeed
// and keep the call's own record, made by the audit func.
type auditIngester struct {
	mu      sync.Mutex
	fail    error
	stored  int
	records []*event.Record
}

func (g *auditIngester) SubmitAudited(ctx context.Context, source string, recs []*event.Record, imported bool, audit ingest.AuditFunc) (ingest.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail != nil {
		return ingest.Result{}, g.fail
	}
	g.stored += len(recs)
	res := ingest.Result{Accepted: len(recs), Outcomes: make([]ingest.Outcome, len(recs))}
	rec, err := audit(res)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ingest.ErrAuditNotStored, err)
	}
	g.records = append(g.records, rec)
	return res, nil
}

// commitSink is a CommitAuditor that keeps the records.
type commitSink struct {
	mu   sync.Mutex
	recs []string
}

func (a *commitSink) Audit(rec []byte) { a.AuditCommit(context.Background(), rec) }
func (a *commitSink) AuditCommit(_ context.Context, rec []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, string(rec))
	return nil
}

func newPutEnv(t *testing.T, ing *auditIngester, sink *commitSink) *awsapi.PathRouter {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	n, err := New(Config{Store: servicetest.NewStore(), TokenKey: servicetest.TokenKey, Ingester: ing, MaxBodyBytes: 1 << 20, MaxEventsPerRequest: 100,
		CanWrite: func(p *auth.Principal, account string) bool { return p.AccountID == account }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewPathRouter(Service, sink, quiet, NotFound("/v1/s3-notifications"))
	n.Register(r)
	return r
}

func postEvents(r *awsapi.PathRouter, body string) (int, string) {
	req := httptest.NewRequest("POST", "/v1/events", strings.NewReader(body))
	req = req.WithContext(servicetest.CallerContext(req.Context(), servicetest.AcctA, servicetest.RegionA))
	w := httptest.NewRecorder()
	r.Handle(w, req, []byte(body))
	return w.Code, w.Body.String()
}

func putEventsBody() string {
	return fmt.Sprintf(`{"eventVersion":"1.08","eventID":"%s","eventTime":"2026-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"%s","recipientAccountId":"%s","userIdentity":{"type":"IAMUser","accountId":"%s"}}`,
		"9e1a3b56-0000-4000-8000-000000000001", servicetest.RegionA, servicetest.AcctA, servicetest.AcctA)
}

// TestPutEventsUnavailable: every failure of the ingester's commit means
// nothing was stored and is 503 ServiceUnavailableException, as on
// PutAuditEvents (cloudtraildata.TestPutAuditEventsUnavailableRule); the
// failed call's record is committed before the answer.
func TestPutEventsUnavailable(t *testing.T) {
	for _, fail := range []error{ingest.ErrClosed, fmt.Errorf("%w: disk full", ingest.ErrUnavailable), errors.New("commit: deadline exceeded")} {
		t.Run(fail.Error(), func(t *testing.T) {
			ing, sink := &auditIngester{fail: fail}, &commitSink{}
			status, body := postEvents(newPutEnv(t, ing, sink), putEventsBody())
			servicetest.WantError(t, status, body, 503, "ServiceUnavailableException", "the event store could not commit the events, so none were stored; retry later")
			if len(sink.recs) != 1 || !strings.Contains(sink.recs[0], `"eventName":"PutEvents"`) ||
				!strings.Contains(sink.recs[0], `"errorCode":"ServiceUnavailableException"`) || !strings.Contains(sink.recs[0], `"requestParameters":{"contentEncoding":"","eventCount":1}`) {
				t.Errorf("failure records: %q", sink.recs)
			}
		})
	}
}

// TestPutEventsAudited: a successful call's record is the one the
// ingester commits with the events; the router adds none.
func TestPutEventsAudited(t *testing.T) {
	ing, sink := &auditIngester{}, &commitSink{}
	status, body := postEvents(newPutEnv(t, ing, sink), putEventsBody())
	if status != 200 || body != `{"accepted":1,"duplicates":0,"conflicts":0}`+"\n" {
		t.Fatalf("POST /v1/events: %d %s", status, body)
	}
	if len(sink.recs) != 0 || len(ing.records) != 1 || ing.stored != 1 {
		t.Fatalf("router records %q, ingester records %d, stored %d", sink.recs, len(ing.records), ing.stored)
	}
	var rec map[string]any
	if err := json.Unmarshal(ing.records[0].Raw, &rec); err != nil {
		t.Fatal(err)
	}
	if rec["eventName"] != "PutEvents" || rec["eventSource"] != "opentrail.amazonaws.com" || rec["readOnly"] != false {
		t.Errorf("record: %v", rec)
	}
}
