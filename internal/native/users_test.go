package native

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/pquerna/otp/totp"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/users"
)

type auditLog struct {
	mu   sync.Mutex
	recs []string
}

func (a *auditLog) Audit(rec []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, string(rec))
}

type noRecords struct{}

func (noRecords) Append(context.Context, string, []*event.Record) error { return nil }

// The console users' endpoints: the management account manages every
// account's users, a member account none (an organisation is
// configured); passwords and MFA secrets stay out of the self-audit
// records.
func TestConsoleUsersEndpoints(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	quiet := slog.New(slog.DiscardHandler)
	st, err := users.Open(context.Background(), users.Config{DB: db, Recorder: noRecords{}, ManagementAccount: servicetest.AcctA,
		Hash: users.HashParams{Memory: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	nat, err := New(Config{Store: servicetest.NewStore(), TokenKey: servicetest.TokenKey, Users: st, Logger: quiet,
		MayManageUsers: func(p *auth.Principal, account string) bool { return p.AccountID == servicetest.AcctA }})
	if err != nil {
		t.Fatal(err)
	}
	audit := &auditLog{}
	r := awsapi.NewPathRouter(Service, audit, quiet, NotFound("/v1/s3-notifications"))
	nat.Register(r)
	call := func(acct, method, path, body string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req = req.WithContext(servicetest.CallerContext(req.Context(), acct, servicetest.RegionA))
		w := httptest.NewRecorder()
		r.Handle(w, req, []byte(body))
		return w.Code, w.Body.String()
	}
	a := servicetest.AcctA
	if code, body := call(a, "POST", "/v1/console/users", `{"Name":"kim","Account":"`+servicetest.AcctB+`","Password":"short"}`); code != 400 || !strings.Contains(body, "at least 12") {
		t.Fatalf("short password: %d %s", code, body)
	}
	if code, body := call(a, "POST", "/v1/console/users", `{"Name":"kim","Account":"`+servicetest.AcctB+`","Password":"kims-password-1"}`); code != 200 || !strings.Contains(body, `"ARN":"arn:aws:iam::`+servicetest.AcctB+`:user/kim"`) {
		t.Fatalf("add: %d %s", code, body)
	}
	if code, _ := call(a, "POST", "/v1/console/users", `{"Name":"kim","Account":"`+servicetest.AcctB+`","Password":"kims-password-1"}`); code != 409 {
		t.Fatalf("add twice: %d", code)
	}
	if code, body := call(servicetest.AcctB, "GET", "/v1/console/users", ""); code != 403 || !strings.Contains(body, "AccessDeniedException") {
		t.Fatalf("a member account listing: %d %s", code, body)
	}
	if code, _ := call(servicetest.AcctB, "DELETE", "/v1/console/users/kim", ""); code != 403 {
		t.Fatalf("a member account removing: %d", code)
	}
	code, body := call(a, "POST", "/v1/console/users/kim/mfa", "")
	var e struct{ Secret, URI string }
	if json.Unmarshal([]byte(body), &e); code != 200 || e.Secret == "" {
		t.Fatalf("begin MFA: %d %s", code, body)
	}
	if code, _ := call(a, "POST", "/v1/console/users/kim/mfa/confirm", `{"Code":"000000"}`); code != 400 {
		t.Fatalf("wrong code: %d", code)
	}
	c, _ := totp.GenerateCode(e.Secret, time.Now())
	if code, body := call(a, "POST", "/v1/console/users/kim/mfa/confirm", `{"Code":"`+c+`"}`); code != 200 {
		t.Fatalf("confirm: %d %s", code, body)
	}
	if code, _ := call(a, "PUT", "/v1/console/users/kim/password", `{"Password":"kims-password-2"}`); code != 200 {
		t.Fatalf("passwd: %d", code)
	}
	// Policies: set, shown, cleared (the configured default); an admin
	// has administrator.
	if code, body := call(a, "PUT", "/v1/console/users/kim/policies", `{"Policies":["read-only","ingest-only"]}`); code != 200 ||
		!strings.Contains(body, `"Policies":["read-only","ingest-only"]`) {
		t.Fatalf("policies: %d %s", code, body)
	}
	if code, body := call(a, "POST", "/v1/console/users", `{"Name":"ops","Account":"`+servicetest.AcctA+`","Admin":true,"Password":"ops-password-12","Policies":["read-only"]}`); code != 200 ||
		!strings.Contains(body, `"Policies":["administrator","read-only"]`) {
		t.Fatalf("add admin: %d %s", code, body)
	}
	if code, body := call(a, "GET", "/v1/console/users", ""); code != 200 || !strings.Contains(body, `"Name":"kim"`) || !strings.Contains(body, `"Policies":["read-only","ingest-only"]`) {
		t.Fatalf("list with policies: %d %s", code, body)
	}
	if code, body := call(a, "PUT", "/v1/console/users/kim/policies", `{"Policies":[]}`); code != 200 || strings.Contains(body, `"Policies"`) {
		t.Fatalf("clear policies: %d %s", code, body)
	}
	if code, _ := call(servicetest.AcctB, "PUT", "/v1/console/users/kim/policies", `{"Policies":["administrator"]}`); code != 403 {
		t.Fatalf("a member account setting policies: %d", code)
	}
	code, body = call(a, "GET", "/v1/console/users", "")
	if code != 200 || !strings.Contains(body, `"Name":"kim"`) || !strings.Contains(body, `"MFA":true`) {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, _ := call(a, "DELETE", "/v1/console/users/kim/mfa", ""); code != 200 {
		t.Fatalf("remove MFA: %d", code)
	}
	if code, _ := call(a, "DELETE", "/v1/console/users/kim", ""); code != 200 {
		t.Fatalf("remove: %d", code)
	}
	if code, body := call(a, "DELETE", "/v1/console/users/kim", ""); code != 404 || !strings.Contains(body, "NoSuchEntityException") {
		t.Fatalf("remove twice: %d %s", code, body)
	}
	names := map[string]bool{}
	for _, rec := range audit.recs {
		var m struct{ EventName string }
		json.Unmarshal([]byte(rec), &m)
		names[m.EventName] = true
		if strings.Contains(rec, "kims-password") || strings.Contains(rec, e.Secret) || strings.Contains(rec, `"short"`) {
			t.Errorf("a self-audit record holds a password or secret: %s", rec)
		}
	}
	for _, n := range []string{"CreateConsoleUser", "ListConsoleUsers", "DeleteConsoleUser", "UpdateConsoleUserPassword",
		"CreateConsoleUserMFADevice", "EnableConsoleUserMFADevice", "DeactivateConsoleUserMFADevice", "PutConsoleUserPolicies"} {
		if !names[n] {
			t.Errorf("no self-audit record of %s", n)
		}
	}
}
