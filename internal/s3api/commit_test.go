package s3api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/s3api"
)

// committingAudit is an awsapi.CommitAuditor that notes whether the answer
// was still unwritten when a record was committed.
type committingAudit struct {
	auditLog
	w           *httptest.ResponseRecorder
	beforeReply []bool
	fail        error
}

func (c *committingAudit) AuditCommit(ctx context.Context, rec []byte) error {
	c.beforeReply = append(c.beforeReply, c.w.Body.Len() == 0 && !c.w.Flushed && c.w.Code == 200 && len(c.w.Header()) == 0)
	if c.fail != nil {
		return c.fail
	}
	c.Audit(rec)
	return nil
}

func serveAs(h *s3api.Handler, w *httptest.ResponseRecorder, method, path string) {
	p, _ := auth.Local().Principal(acctA)
	req := httptest.NewRequest(method, path, nil)
	req = req.WithContext(awsapi.WithCaller(req.Context(), &awsapi.Caller{Principal: p, Region: "us-east-1", Service: "s3", RequestID: "REQ1"}))
	h.Serve(w, req, nil)
}

// CreateBucket (a change) is answered only after its record is committed;
// ListBuckets (a read) is not held. A record that cannot be stored makes
// the change answer 503.
func TestChangesAnsweredAfterTheirRecord(t *testing.T) {
	reg, err := objstore.OpenFSBuckets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &committingAudit{}
	h := s3api.New(reg, s3api.Options{Auditor: a})

	a.w = httptest.NewRecorder()
	serveAs(h, a.w, "PUT", "/held-bucket")
	if a.w.Code != 200 || len(a.beforeReply) != 1 || !a.beforeReply[0] {
		t.Fatalf("CreateBucket: %d, committed before the answer: %v", a.w.Code, a.beforeReply)
	}
	if a.w.Header().Get("x-amz-request-id") != "REQ1" || a.w.Header().Get("Location") == "" {
		t.Errorf("held answer lost its headers: %v", a.w.Header())
	}

	a.w = httptest.NewRecorder()
	serveAs(h, a.w, "GET", "/")
	if a.w.Code != 200 || len(a.beforeReply) != 1 || !strings.Contains(a.w.Body.String(), "held-bucket") {
		t.Errorf("ListBuckets: %d (records committed: %d) %s", a.w.Code, len(a.beforeReply), a.w.Body.String())
	}

	a.fail = errors.New("event store unavailable: disk full")
	a.w = httptest.NewRecorder()
	serveAs(h, a.w, "PUT", "/other-bucket")
	if a.w.Code != http.StatusServiceUnavailable || !strings.Contains(a.w.Body.String(), "<Code>ServiceUnavailable</Code>") {
		t.Errorf("CreateBucket without its record: %d %s", a.w.Code, a.w.Body.String())
	}
}
