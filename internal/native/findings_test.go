package native

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/sigmawatch"
)

// The findings endpoints show a caller only its own account's findings
// (the management account sees all), check their parameters, and move a
// finding through its states.
func TestFindingsEndpoints(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	quiet := slog.New(slog.DiscardHandler)
	fd, err := findings.Open(findings.Config{DB: db, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	var sigs []findings.Signal
	for i, acct := range []string{servicetest.AcctA, servicetest.AcctB} {
		sigs = append(sigs, findings.Signal{Detector: findings.DetectorSigma, RuleID: "r-1", Title: "Trail stopped",
			Author: "Jane Doe", Severity: findings.SeverityHigh, Account: acct, Region: "us-east-1",
			EventIDs: []string{"ev-" + acct}, EventTime: at.Add(time.Duration(i) * time.Minute), Key: "ev-" + acct})
	}
	if err := fd.Record(context.Background(), sigs); err != nil {
		t.Fatal(err)
	}
	nat, err := New(Config{Store: servicetest.NewStore(), TokenKey: servicetest.TokenKey, Findings: fd, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewPathRouter(Service, nil, quiet, NotFound("/v1/s3-notifications"))
	nat.Register(r)
	call := func(method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req = req.WithContext(servicetest.CallerContext(req.Context(), servicetest.AcctA, servicetest.RegionA))
		w := httptest.NewRecorder()
		r.Handle(w, req, []byte(body))
		return w.Code, w.Body.String()
	}
	code, body := call("GET", "/v1/findings?severity=medium&state=new", "")
	var list struct{ Findings []findingView }
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Findings) != 1 ||
		list.Findings[0].Account != servicetest.AcctA || list.Findings[0].Author != "Jane Doe" {
		t.Fatalf("list: %d %s", code, body)
	}
	mine := list.Findings[0].ID
	for _, c := range []struct{ query, want string }{
		{"account=" + servicetest.AcctB, "AccessDeniedException"},
		{"state=open", `Parameter state must be new, acknowledged, resolved or suppressed`},
		{"severity=urgent", `Parameter severity must be informational`},
		{"since=yesterday", `Parameter since must be an RFC 3339 time`},
		{"limit=0", `Parameter limit must be an integer from 1 to 1000`},
		{"next=zzz", "InvalidNextTokenException"},
		{"colour=red", `Unknown parameter \"colour\"`},
	} {
		if code, body := call("GET", "/v1/findings?"+c.query, ""); code/100 != 4 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s", c.query, code, body)
		}
	}
	// Another account's finding is not found, to read or to change.
	others, _, _ := fd.List(context.Background(), findings.Filter{Accounts: []string{servicetest.AcctB}})
	if code, body := call("GET", "/v1/findings/"+others[0].ID, ""); code != 404 || !strings.Contains(body, "does not exist") {
		t.Errorf("other account's finding: %d %s", code, body)
	}
	if code, _ := call("POST", "/v1/findings/"+others[0].ID+"/state", `{"State":"resolved"}`); code != 404 {
		t.Errorf("resolve other account's finding: %d", code)
	}
	if code, body := call("POST", "/v1/findings/"+mine+"/state", `{"State":"suppressed"}`); code != 400 || !strings.Contains(body, "needs a reason") {
		t.Errorf("suppress without a reason: %d %s", code, body)
	}
	code, body = call("POST", "/v1/findings/"+mine+"/state", `{"State":"acknowledged","Reason":"on it"}`)
	var one struct{ Finding findingView }
	if code != 200 || json.Unmarshal([]byte(body), &one) != nil || one.Finding.State != "acknowledged" ||
		one.Finding.StateBy != "arn:aws:iam::"+servicetest.AcctA+":user/alice" || one.Finding.StateReason != "on it" {
		t.Fatalf("acknowledge: %d %s", code, body)
	}
	if code, body := call("GET", "/v1/findings/"+mine, ""); code != 200 || !strings.Contains(body, `"State":"acknowledged"`) {
		t.Errorf("get: %d %s", code, body)
	}
}

type fakeSigma struct{ loaded []sigmawatch.File }

func (f *fakeSigma) Load(_ context.Context, files []sigmawatch.File) (*sigmawatch.Report, error) {
	f.loaded = files
	return &sigmawatch.Report{Files: len(files)}, nil
}
func (f *fakeSigma) Current() *sigmawatch.Report { return &sigmawatch.Report{} }

// The Sigma rule set runs over every account's events: only the
// management account may replace it; any account may read it.
func TestSigmaRulesNeedTheManagementAccount(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	sg := &fakeSigma{}
	nat, err := New(Config{Store: servicetest.NewStore(), TokenKey: servicetest.TokenKey, Sigma: sg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewPathRouter(Service, nil, quiet, NotFound("/v1/s3-notifications"))
	nat.Register(r)
	call := func(method, body string) (int, string) {
		req := httptest.NewRequest(method, "/v1/sigma/rules", strings.NewReader(body))
		req = req.WithContext(servicetest.CallerContext(req.Context(), servicetest.AcctA, servicetest.RegionA))
		w := httptest.NewRecorder()
		r.Handle(w, req, []byte(body))
		return w.Code, w.Body.String()
	}
	if code, body := call("PUT", `[{"File":"a.yml","Text":"title: x"}]`); code != 403 || !strings.Contains(body, "management account") || sg.loaded != nil {
		t.Errorf("PUT by a member account: %d %s", code, body)
	}
	if code, body := call("PUT", `{"rules":1}`); code != 400 || !strings.Contains(body, "JSON list of rule files") {
		t.Errorf("PUT a bad body: %d %s", code, body)
	}
	if code, _ := call("GET", ""); code != 200 {
		t.Errorf("GET: %d", code)
	}
}

// FuzzListFindingsQuery: whatever the query string, GET /v1/findings
// answers 200 or a 4xx, never a server error.
func FuzzListFindingsQuery(f *testing.F) {
	for _, s := range []string{"state=new", "rule=%d0", "detector=sigma,cis&severity=high", "next=1/fd-%ff", "since=2026-01-01T00:00:00Z&limit=5"} {
		f.Add(s)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		f.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	fd, err := findings.Open(findings.Config{DB: db, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	nat, err := New(Config{Store: servicetest.NewStore(), TokenKey: servicetest.TokenKey, Findings: fd, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	r := awsapi.NewPathRouter(Service, nil, quiet, NotFound("/v1/s3-notifications"))
	nat.Register(r)
	f.Fuzz(func(t *testing.T, query string) {
		req, err := http.NewRequest("GET", "/v1/findings?"+query, nil)
		if err != nil {
			return
		}
		req = req.WithContext(servicetest.CallerContext(req.Context(), servicetest.AcctA, servicetest.RegionA))
		w := httptest.NewRecorder()
		r.Handle(w, req, nil)
		if w.Code >= 500 {
			t.Fatalf("%q: %d %s", query, w.Code, w.Body.String())
		}
	})
}
