package awsapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// committer is a CommitAuditor that records, for each record, whether the
// answer had been written when the record was handed over.
type committer struct {
	recorder
	mu        sync.Mutex
	w         *httptest.ResponseRecorder
	committed []bool // per AuditCommit: was the answer still unwritten?
	async     int
	fail      error
}

func (c *committer) Audit(rec []byte) {
	c.mu.Lock()
	c.async++
	c.mu.Unlock()
	c.recorder.Audit(rec)
}

func (c *committer) AuditCommit(ctx context.Context, rec []byte) error {
	c.mu.Lock()
	c.committed = append(c.committed, !c.w.Flushed && c.w.Body.Len() == 0)
	c.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if c.fail != nil {
		return c.fail
	}
	c.recorder.Audit(rec)
	return nil
}

// A mutating call's record is committed before its answer is written; a
// read-only call's record is only queued.
func TestMutatingCallCommitsRecordBeforeAnswer(t *testing.T) {
	c := &committer{}
	r := NewRouter("cloudtrail", c, nil)
	Register(r, "Echo", true, func(ctx context.Context, in *echoIn) (*echoOut, error) { return &echoOut{}, nil })
	Register(r, "Write", false, func(ctx context.Context, in *echoIn) (*echoOut, error) { return &echoOut{Name: "written"}, nil })

	for _, op := range []string{"Write", "Echo"} {
		req := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "CloudTrail_20131101."+op)
		// A client that has hung up still gets its record committed.
		ctx, cancel := context.WithCancel(WithCaller(req.Context(), testCaller()))
		cancel()
		w := httptest.NewRecorder()
		c.w = w
		r.Handle(w, req.WithContext(ctx), []byte("{}"))
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", op, w.Code, w.Body.String())
		}
	}
	if len(c.committed) != 1 || !c.committed[0] {
		t.Errorf("Write's record: committed before the answer = %v, want exactly [true]", c.committed)
	}
	if c.async != 1 {
		t.Errorf("read-only Echo: %d queued records, want 1", c.async)
	}
	if c.count() != 2 {
		t.Errorf("%d records stored, want 2", c.count())
	}
}

// A mutating call whose record cannot be stored is answered 503, not 200;
// one that already failed with 503 because its store is unavailable keeps
// its own answer: it changed nothing, which AuditUnavailable's "may have
// been applied" would leave in doubt.
func TestMutatingCallFailsClosedWithoutRecord(t *testing.T) {
	for _, c := range []struct {
		name    string
		opErr   error
		message string
	}{
		{"call succeeded", nil, "audit record could not be stored"},
		{"call refused: store full", NotStored("The events could not be stored and none was acknowledged; retry the request.",
			errors.New("no space left on device")), "none was acknowledged"},
	} {
		cm := &committer{fail: errors.New("event store unavailable: disk full")}
		r := NewRouter("cloudtrail", cm, nil)
		Register(r, "Write", false, func(ctx context.Context, in *echoIn) (*echoOut, error) {
			if c.opErr != nil {
				return nil, c.opErr
			}
			return &echoOut{Name: "written"}, nil
		})
		cm.w = httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "CloudTrail_20131101.Write")
		r.Handle(cm.w, req.WithContext(WithCaller(req.Context(), testCaller())), []byte("{}"))
		if cm.w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: status %d, want 503: %s", c.name, cm.w.Code, cm.w.Body.String())
		}
		if e := decodeError(t, cm.w); e.Type != CodeServiceUnavailable || !strings.Contains(e.Message, c.message) {
			t.Errorf("%s: error %+v", c.name, e)
		}
	}
}
