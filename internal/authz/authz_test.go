package authz_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/authz"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/iampolicy"
)

const (
	mgmt      = "111111111111"
	member    = "123456789012"
	trailMain = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main"
)

func principal(akid, account, user string, policies ...string) config.Principal {
	return config.Principal{AccessKeyID: akid, SecretAccessKey: "s", Account: account, UserName: user, Policies: policies}
}

// setup builds an Authorizer and a directory from a configuration the
// caller adjusts.
func setup(t testing.TB, adjust func(*config.Config)) (*authz.Authorizer, *auth.Directory) {
	t.Helper()
	c := config.Default()
	c.Principals = []config.Principal{
		principal("AKIAAPP", member, "app", "ingest-only"),
		principal("AKIAAUDITOR", member, "auditor", "read-only"),
		principal("AKIAOPS", member, "ops", "trail-protector"),
		principal("AKIADEFAULT", member, "nobody"),
		principal("AKIAADMIN", member, "admin", "administrator"),
		principal("AKIAOWN", member, "alice", "./testdata/own-log-groups.json"),
		principal("AKIATLS", member, "tls", "administrator",
			`{"Version":"2012-10-17","Statement":{"Sid":"RequireTLS","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}`),
		principal("AKIAMGMT", mgmt, "root-admin", "administrator"),
	}
	if adjust != nil {
		adjust(&c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := authz.New(&c, ".")
	if err != nil {
		t.Fatal(err)
	}
	return a, auth.FromConfig(&c)
}

func who(t testing.TB, d *auth.Directory, akid string) *auth.Principal {
	p, ok := d.Principal(akid)
	if !ok {
		t.Fatalf("no principal %s", akid)
	}
	return p
}

// TestAuthorizeMessages checks decisions and AWS's message text.
func TestAuthorizeMessages(t *testing.T) {
	a, d := setup(t, nil)
	for _, tc := range []struct {
		akid, action string
		resources    []string
		tls          bool
		want         string // "" = allowed
	}{
		{"AKIAAPP", "cloudtrail-data:PutAuditEvents", []string{"arn:aws:cloudtrail:us-east-1:123456789012:channel/c"}, false, ""},
		{"AKIAAPP", "opentrail:PutEvents", nil, false, ""},
		{"AKIAAPP", "cloudtrail:StopLogging", []string{trailMain}, false,
			"User: arn:aws:iam::123456789012:user/app is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:us-east-1:123456789012:trail/main because no identity-based policy allows the cloudtrail:StopLogging action"},
		{"AKIAAPP", "cloudtrail:LookupEvents", nil, false,
			"User: arn:aws:iam::123456789012:user/app is not authorized to perform: cloudtrail:LookupEvents on resource: * because no identity-based policy allows the cloudtrail:LookupEvents action"},
		{"AKIAAUDITOR", "cloudtrail:LookupEvents", nil, false, ""},
		{"AKIAAUDITOR", "logs:FilterLogEvents", []string{"arn:aws:logs:us-east-1:123456789012:log-group:audit"}, false, ""},
		{"AKIAAUDITOR", "cloudtrail:DeleteTrail", []string{trailMain}, false,
			"User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: cloudtrail:DeleteTrail on resource: arn:aws:cloudtrail:us-east-1:123456789012:trail/main because no identity-based policy allows the cloudtrail:DeleteTrail action"},
		{"AKIAOPS", "cloudtrail:CreateTrail", []string{trailMain}, false, ""},
		{"AKIAOPS", "cloudtrail:StopLogging", []string{trailMain}, false,
			"User: arn:aws:iam::123456789012:user/ops is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:us-east-1:123456789012:trail/main with an explicit deny in an identity-based policy"},
		{"AKIADEFAULT", "cloudtrail:StopLogging", []string{trailMain}, false, ""}, // the default: administrator
		{"AKIAOWN", "logs:DeleteLogGroup", []string{"arn:aws:logs:us-east-1:123456789012:log-group:alice-app"}, false, ""},
		{"AKIAOWN", "logs:DeleteLogGroup", []string{"arn:aws:logs:us-east-1:123456789012:log-group:bob-app"}, false,
			"User: arn:aws:iam::123456789012:user/alice is not authorized to perform: logs:DeleteLogGroup on resource: arn:aws:logs:us-east-1:123456789012:log-group:bob-app because no identity-based policy allows the logs:DeleteLogGroup action"},
		// Every resource must be allowed; the refused one is named.
		{"AKIAOWN", "logs:PutLogEvents", []string{"arn:aws:logs:us-east-1:123456789012:log-group:alice-a", "arn:aws:logs:us-east-1:123456789012:log-group:carol-b"}, false,
			"User: arn:aws:iam::123456789012:user/alice is not authorized to perform: logs:PutLogEvents on resource: arn:aws:logs:us-east-1:123456789012:log-group:carol-b because no identity-based policy allows the logs:PutLogEvents action"},
		{"AKIATLS", "cloudtrail:LookupEvents", nil, true, ""},
		{"AKIATLS", "cloudtrail:LookupEvents", nil, false,
			"User: arn:aws:iam::123456789012:user/tls is not authorized to perform: cloudtrail:LookupEvents on resource: * with an explicit deny in an identity-based policy"},
	} {
		p := who(t, d, tc.akid)
		res := a.Authorize(authz.Request{Principal: p, Action: tc.action, Resources: tc.resources, Region: "us-east-1", SourceIP: "10.0.0.1", SecureTransport: tc.tls})
		if got := res.Message(p.ARN); got != tc.want || res.Allowed != (tc.want == "") {
			t.Errorf("%s %s %q: allowed %v, message\n  %q\nwant\n  %q", tc.akid, tc.action, tc.resources, res.Allowed, got, tc.want)
		}
	}
	// The deciding statement is named.
	res := a.Authorize(authz.Request{Principal: who(t, d, "AKIAOPS"), Action: "cloudtrail:StopLogging", Resources: []string{trailMain}})
	if res.Policy != "trail-protector" || res.Sid != "ProtectTrails" || res.Statement != 2 {
		t.Errorf("deciding statement %+v", res)
	}
	res = a.Authorize(authz.Request{Principal: who(t, d, "AKIATLS"), Action: "cloudtrail:LookupEvents"})
	if res.Policy != "principals[6].policies[1]" || res.Sid != "RequireTLS" {
		t.Errorf("inline policy's name %+v", res)
	}
}

// TestGuardRails checks SCP semantics: members only, explicit deny wins
// over identity allows, and a guard rail that allows nothing refuses.
func TestGuardRails(t *testing.T) {
	org := func(rails ...string) func(*config.Config) {
		return func(c *config.Config) {
			c.Organization = &config.Organization{ID: "o-abcdefghij", ManagementAccount: mgmt, Members: []string{member}, GuardRails: rails}
		}
	}
	a, d := setup(t, org("protect-trails"))
	stop := authz.Request{Action: "cloudtrail:StopLogging", Resources: []string{trailMain}}
	for akid, want := range map[string]string{
		"AKIAADMIN": "User: arn:aws:iam::123456789012:user/admin is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:us-east-1:123456789012:trail/main with an explicit deny in a service control policy",
		"AKIAOPS":   "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:us-east-1:123456789012:trail/main with an explicit deny in a service control policy",
		"AKIAMGMT":  "", // the management account is never bound by guard rails
	} {
		r := stop
		r.Principal = who(t, d, akid)
		if got := a.Authorize(r).Message(r.Principal.ARN); got != want {
			t.Errorf("%s: %q, want %q", akid, got, want)
		}
	}
	// What the guard rail allows, the identity policy still decides.
	r := authz.Request{Principal: who(t, d, "AKIAADMIN"), Action: "cloudtrail:CreateTrail", Resources: []string{trailMain}}
	if res := a.Authorize(r); !res.Allowed {
		t.Errorf("admin CreateTrail under protect-trails: %+v", res)
	}
	r.Principal = who(t, d, "AKIAAUDITOR")
	if res := a.Authorize(r); res.Allowed || !strings.HasPrefix(res.Reason, "no identity-based policy allows") {
		t.Errorf("auditor CreateTrail under protect-trails: %+v", res)
	}
	// A guard rail with no Allow blocks everything in members.
	denyOnly := `{"Version":"2012-10-17","Statement":{"Sid":"NoStop","Effect":"Deny","Action":"cloudtrail:StopLogging","Resource":"*"}}`
	a, d = setup(t, org(denyOnly))
	r = authz.Request{Principal: who(t, d, "AKIAADMIN"), Action: "cloudtrail:CreateTrail", Resources: []string{trailMain}}
	if got, want := a.Authorize(r).Message(r.Principal.ARN), "User: arn:aws:iam::123456789012:user/admin is not authorized to perform: cloudtrail:CreateTrail on resource: arn:aws:cloudtrail:us-east-1:123456789012:trail/main because no service control policy allows the cloudtrail:CreateTrail action"; got != want {
		t.Errorf("deny-only guard rail: %q, want %q", got, want)
	}
	r.Principal = who(t, d, "AKIAMGMT")
	if !a.Authorize(r).Allowed {
		t.Error("management account bound by a guard rail")
	}
}

// TestConditionKeys checks the request context Authorize builds.
func TestConditionKeys(t *testing.T) {
	policy := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Office","Effect":"Allow","Action":"*","Resource":"*","Condition":{
	    "IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},
	    "StringEquals":{"aws:RequestedRegion":"eu-west-1","aws:PrincipalAccount":"123456789012","aws:username":"app","aws:PrincipalType":"User"},
	    "ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/app"},
	    "DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}},
	  {"Sid":"MFA","Effect":"Deny","Action":"cloudtrail:StopLogging","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	a, d := setup(t, func(c *config.Config) { c.Principals[0].Policies = []string{policy} })
	a.SetClock(clock.NewFake(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)))
	p := who(t, d, "AKIAAPP")
	base := authz.Request{Principal: p, Action: "logs:GetLogEvents", Region: "eu-west-1", SourceIP: "10.1.2.3"}
	for _, tc := range []struct {
		name   string
		adjust func(*authz.Request)
		want   bool
	}{
		{"all hold", func(*authz.Request) {}, true},
		{"IPv6 in range", func(r *authz.Request) { r.SourceIP = "2001:db8::7" }, true},
		{"outside the office", func(r *authz.Request) { r.SourceIP = "192.0.2.1" }, false},
		{"other region", func(r *authz.Request) { r.Region = "us-east-1" }, false},
		{"StopLogging without MFA", func(r *authz.Request) { r.Action = "cloudtrail:StopLogging" }, false},
		{"StopLogging with MFA", func(r *authz.Request) { r.Action, r.MFA = "cloudtrail:StopLogging", true }, true},
	} {
		r := base
		tc.adjust(&r)
		if got := a.Authorize(r); got.Allowed != tc.want {
			t.Errorf("%s: %+v, want allowed %v", tc.name, got, tc.want)
		}
	}
	a.SetClock(clock.NewFake(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)))
	if a.Authorize(base).Allowed {
		t.Error("aws:CurrentTime after the DateLessThan bound: allowed")
	}
}

// TestNewErrors checks that what Validate cannot check is refused by New
// with the principal and the reference named.
func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		ref, want string
	}{
		{"./testdata/missing.json", `principal AKIAAPP (principals[0].policies[0]): policy "./testdata/missing.json": read policy file`},
		{"./testdata/malformed.json", `principal AKIAAPP (principals[0].policies[0]): policy "./testdata/malformed.json": testdata/malformed.json: malformed policy document: statement 1: Effect: Invalid effect: "Permit"`},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}`, `principal AKIAAPP (principals[0].policies[0]): policy "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Actio...": malformed policy document: statement 1: Principal: Policy document should not specify a principal`},
		{"read-onyl", `principal AKIAAPP (principals[0].policies[0]): policy "read-onyl": not a built-in policy (administrator, ingest-only, protect-trails, read-only, trail-protector)`},
	} {
		c := config.Default()
		c.Principals = []config.Principal{principal("AKIAAPP", member, "app", tc.ref)}
		_, err := authz.New(&c, ".")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %s", tc.ref, err, tc.want)
		}
	}
	c := config.Default()
	c.Authorization.DefaultPolicy = "./testdata/missing.json"
	if _, err := authz.New(&c, "."); err == nil || !strings.HasPrefix(err.Error(), `authorization.default_policy: policy "./testdata/missing.json"`) {
		t.Errorf("default policy: %v", err)
	}
	c = config.Default()
	c.Organization = &config.Organization{ID: "o-abcdefghij", ManagementAccount: mgmt, GuardRails: []string{"nope"}}
	if _, err := authz.New(&c, "."); err == nil || !strings.HasPrefix(err.Error(), `organization.guard_rails[0]: policy "nope"`) {
		t.Errorf("guard rail: %v", err)
	}
	// Files are relative to the configuration file's directory.
	c = config.Default()
	c.Principals = []config.Principal{principal("AKIAAPP", member, "app", "own-log-groups.json")}
	if _, err := authz.New(&c, "testdata"); err != nil {
		t.Errorf("relative to baseDir: %v", err)
	}
}

// TestLocalMode: no principals configured, every caller gets the
// default policy.
func TestLocalMode(t *testing.T) {
	for _, def := range []string{"administrator", "read-only"} {
		c := config.Default()
		c.Authorization.DefaultPolicy = def
		a, err := authz.New(&c, ".")
		if err != nil {
			t.Fatal(err)
		}
		p, _ := auth.Local().Principal("test")
		res := a.Authorize(authz.Request{Principal: p, Action: "cloudtrail:StopLogging", Resources: []string{"arn:aws:cloudtrail:us-east-1:000000000000:trail/t"}})
		if res.Allowed != (def == "administrator") {
			t.Errorf("default %s: %+v", def, res)
		}
		if !a.Authorize(authz.Request{Principal: p, Action: "cloudtrail:LookupEvents"}).Allowed {
			t.Errorf("default %s refuses LookupEvents", def)
		}
	}
}

// TestCompile covers console users' policies: compiled when set, then
// used by Authorize; a broken reference refuses rather than allows.
func TestCompile(t *testing.T) {
	a, _ := setup(t, nil)
	if err := a.Compile("trail-protector"); err != nil {
		t.Error(err)
	}
	if err := a.Compile("./testdata/own-log-groups.json"); err != nil {
		t.Error(err)
	}
	if err := a.Compile("nope"); err == nil || !strings.Contains(err.Error(), "not a built-in policy") {
		t.Errorf("Compile(nope) = %v", err)
	}
	p := &auth.Principal{Type: "IAMUser", AccountID: member, UserName: "carol", ARN: "arn:aws:iam::123456789012:user/carol", Policies: []string{"nope"}}
	if res := a.Authorize(authz.Request{Principal: p, Action: "cloudtrail:LookupEvents"}); res.Allowed {
		t.Errorf("a broken reference allowed: %+v", res)
	}
	p.Policies = []string{"nope", "read-only"}
	if res := a.Authorize(authz.Request{Principal: p, Action: "cloudtrail:LookupEvents"}); !res.Allowed {
		t.Errorf("read-only beside a broken reference: %+v", res)
	}
}

// TestConcurrent runs Authorize and Compile at once (run with -race).
func TestConcurrent(t *testing.T) {
	a, d := setup(t, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				p := *who(t, d, "AKIAOPS")
				p.Policies = []string{fmt.Sprintf(`{"Version":"2012-10-17","Statement":{"Sid":"S%d","Effect":"Allow","Action":"logs:*","Resource":"*"}}`, j%17), "read-only"}
				if !a.Authorize(authz.Request{Principal: &p, Action: "logs:CreateLogGroup", SourceIP: "10.0.0.1"}).Allowed {
					t.Errorf("goroutine %d: refused", i)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestBuiltinNamesMatchConfig(t *testing.T) {
	if !slices.Equal(config.BuiltinPolicies, iampolicy.BuiltinNames()) {
		t.Errorf("config.BuiltinPolicies %q, iampolicy.BuiltinNames %q: keep them the same", config.BuiltinPolicies, iampolicy.BuiltinNames())
	}
}

// BenchmarkAuthorize measures one decision as every API call makes it:
// a trail-protector principal (no conditions), and one whose policy has
// conditions (the request context is built).
func BenchmarkAuthorize(b *testing.B) {
	a, d := setup(b, nil)
	for _, bc := range []struct{ name, akid string }{{"builtin", "AKIAOPS"}, {"conditions", "AKIATLS"}, {"default", "AKIADEFAULT"}} {
		r := authz.Request{Principal: who(b, d, bc.akid), Action: "cloudtrail:GetTrailStatus", Resources: []string{trailMain},
			Region: "us-east-1", SourceIP: "10.0.0.1", SecureTransport: true}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !a.Authorize(r).Allowed {
					b.Fatal("refused")
				}
			}
		})
	}
}

// A changed policy file takes effect at the next look (CheckInterval); a
// broken one keeps the last good version, says why in the log, and is read
// again once fixed; a guard rail in a file and the default policy in a
// file reload too.
func TestPolicyFilesReloaded(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		// A later modification time, whatever the file system's resolution.
		later := time.Now().Add(time.Duration(len(doc)) * time.Second)
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
	}
	allow := func(action string) string {
		return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"` + action + `","Resource":"*"}}`
	}
	write("extra.json", allow("cloudtrail:Describe*"))
	write("default.json", allow("cloudtrail:LookupEvents"))
	write("rails.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	c := config.Default()
	c.Organization = &config.Organization{ID: "o-abcdefghij", ManagementAccount: mgmt, Members: []string{member}, GuardRails: []string{"./rails.json"}}
	c.Authorization.DefaultPolicy = "./default.json"
	c.Principals = []config.Principal{principal("AKIAEXTRA", member, "extra", "./extra.json"), principal("AKIANONE", member, "none")}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := authz.New(&c, dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	var logMu sync.Mutex
	a.SetLogger(slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil)))
	a.CheckInterval = 0
	d := auth.FromConfig(&c)
	may := func(akid, action string) bool {
		t.Helper()
		return a.Authorize(authz.Request{Principal: who(t, d, akid), Action: action, Resources: []string{trailMain}}).Allowed
	}
	if !may("AKIAEXTRA", "cloudtrail:DescribeTrails") || may("AKIAEXTRA", "cloudtrail:StopLogging") {
		t.Fatal("the first version of extra.json")
	}
	write("extra.json", allow("cloudtrail:StopLogging"))
	if !may("AKIAEXTRA", "cloudtrail:StopLogging") || may("AKIAEXTRA", "cloudtrail:DescribeTrails") {
		t.Fatal("the changed extra.json is not in force")
	}
	// Broken: the last good version stays, and the log says why.
	write("extra.json", `{"Version":"2012-10-17","Statement":{"Effect":"Allow"`)
	if !may("AKIAEXTRA", "cloudtrail:StopLogging") {
		t.Fatal("a broken extra.json dropped the last good policy")
	}
	logMu.Lock()
	got := logs.String()
	logMu.Unlock()
	if !strings.Contains(got, "the changed policy file does not load; the last good version stays in force") || !strings.Contains(got, "extra.json") {
		t.Fatalf("the broken file is not logged with its reason: %s", got)
	}
	os.Remove(filepath.Join(dir, "extra.json"))
	if !may("AKIAEXTRA", "cloudtrail:StopLogging") {
		t.Fatal("a removed extra.json dropped the last good policy")
	}
	write("extra.json", allow("cloudtrail:GetTrailStatus"))
	if !may("AKIAEXTRA", "cloudtrail:GetTrailStatus") || may("AKIAEXTRA", "cloudtrail:StopLogging") {
		t.Fatal("the fixed extra.json is not in force")
	}
	// The default policy and a guard rail are files too.
	if !may("AKIANONE", "cloudtrail:LookupEvents") || may("AKIANONE", "cloudtrail:DescribeTrails") {
		t.Fatal("the first default policy")
	}
	write("default.json", allow("cloudtrail:DescribeTrails"))
	if may("AKIANONE", "cloudtrail:LookupEvents") || !may("AKIANONE", "cloudtrail:DescribeTrails") {
		t.Fatal("the changed default policy is not in force")
	}
	write("rails.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},`+
		`{"Effect":"Deny","Action":"cloudtrail:GetTrailStatus","Resource":"*"}]}`)
	if may("AKIAEXTRA", "cloudtrail:GetTrailStatus") {
		t.Fatal("the changed guard rail is not in force")
	}
	if n := a.Reload(); n != 0 {
		t.Fatalf("Reload with nothing changed replaced %d policies", n)
	}
}

// With the default CheckInterval, a change is seen within it, not at
// every call.
func TestPolicyFilesCheckedAtMostEveryInterval(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.json")
	doc := func(action string) []byte {
		return []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"` + action + `","Resource":"*"}}`)
	}
	os.WriteFile(path, doc("cloudtrail:DescribeTrails"), 0o600)
	c := config.Default()
	c.Principals = []config.Principal{principal("AKIAP", member, "p", "./p.json")}
	a, err := authz.New(&c, dir)
	if err != nil {
		t.Fatal(err)
	}
	d := auth.FromConfig(&c) // the default CheckInterval: 2 s
	r := authz.Request{Principal: who(t, d, "AKIAP"), Action: "cloudtrail:StopLogging"}
	os.WriteFile(path, doc("cloudtrail:StopLogging"), 0o600)
	later := time.Now().Add(time.Hour)
	os.Chtimes(path, later, later)
	if a.Authorize(r).Allowed {
		t.Fatal("the file was looked at again before CheckInterval passed")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !a.Authorize(r).Allowed {
		if time.Now().After(deadline) {
			t.Fatal("the changed file was not in force 10 s later")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
