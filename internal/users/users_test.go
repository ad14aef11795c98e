package users

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/pquerna/otp/totp"

	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/filterpattern"
)

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

// records keeps what the store recorded, as the ingester would store it.
type records struct {
	mu   sync.Mutex
	recs []map[string]any
	raw  [][]byte
	fail error
}

func (r *records) Append(ctx context.Context, source string, recs []*event.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	for _, rec := range recs {
		var m map[string]any
		if err := json.Unmarshal(rec.Raw, &m); err != nil {
			panic(err)
		}
		r.recs = append(r.recs, m)
		r.raw = append(r.raw, rec.Raw)
	}
	return nil
}

func (r *records) last() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		return nil
	}
	return r.recs[len(r.recs)-1]
}

// cheap are test hash parameters: a real argon2id, fast.
var cheap = HashParams{Memory: 1024, Time: 1, Threads: 1}

type env struct {
	s   *Store
	clk *clock.Fake
	rec *records
	db  *sql.DB
}

func open(t *testing.T, path string, local bool) *env {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{clk: clock.NewFake(t0), rec: &records{}, db: db}
	e.s, err = Open(context.Background(), Config{DB: db, Recorder: e.rec, Local: local, ManagementAccount: "111111111111",
		HomeAccount: "111111111111", Clock: e.clk, Hash: cheap})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) add(t *testing.T, name, acct string, admin bool) User {
	t.Helper()
	u, err := e.s.Add(context.Background(), NewUser{Name: name, Account: acct, Admin: admin, Password: name + "-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func attempt(name, pw string) Attempt {
	return Attempt{UserName: name, Password: pw, SourceIP: "203.0.113.9", UserAgent: "Mozilla/5.0 test", LoginTo: "http://console.test/"}
}

func TestHashFormatAndCheck(t *testing.T) {
	h := hashPassword("correct horse battery", DefaultHashParams)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=47104,t=1,p=1$") {
		t.Fatalf("hash %q does not carry argon2id's parameters", h)
	}
	if h2 := hashPassword("correct horse battery", DefaultHashParams); h2 == h {
		t.Fatal("two hashes of one password are equal: no random salt")
	}
	if ok, p := checkPassword(h, "correct horse battery"); !ok || p != DefaultHashParams {
		t.Fatalf("right password: %v %+v", ok, p)
	}
	for _, bad := range []string{"correct horse batterY", "", "correct horse battery "} {
		if ok, _ := checkPassword(h, bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, broken := range []string{"", "$argon2id$v=19$m=1,t=0,p=1$AAAA$AAAA", "$bcrypt$x", h[:len(h)-44]} {
		if ok, _ := checkPassword(broken, "x"); ok {
			t.Errorf("hash %q accepted a password", broken)
		}
	}
}

func TestSignInRecordsConsoleLogin(t *testing.T) {
	e := open(t, "", false)
	ctx := context.Background()
	bob := e.add(t, "bob", "222222222222", false)
	u, err := e.s.SignIn(ctx, attempt("bob", "bob-password-1"))
	if err != nil || u.Name != "bob" || !u.LastSignIn.Equal(t0) {
		t.Fatalf("sign-in: %+v %v", u, err)
	}
	r := e.rec.last()
	ident := r["userIdentity"].(map[string]any)
	if r["eventName"] != "ConsoleLogin" || r["eventSource"] != "signin.amazonaws.com" || r["eventType"] != "AwsConsoleSignIn" ||
		r["responseElements"].(map[string]any)["ConsoleLogin"] != "Success" || r["errorMessage"] != nil ||
		r["additionalEventData"].(map[string]any)["MFAUsed"] != "No" || r["requestParameters"] != nil ||
		ident["arn"] != "arn:aws:iam::222222222222:user/bob" || ident["principalId"] != bob.PrincipalID ||
		r["recipientAccountId"] != "222222222222" || r["sourceIPAddress"] != "203.0.113.9" || r["awsRegion"] != "us-east-1" ||
		r["eventTime"] != "2026-12-05T10:00:00Z" || r["managementEvent"] != true || r["readOnly"] != false {
		t.Fatalf("success record: %v", r)
	}
	_, err = e.s.SignIn(ctx, attempt("bob", "bob-password-2"))
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != WrongPassword || re.RetryAfter != 0 {
		t.Fatalf("wrong password: %v", err)
	}
	if r := e.rec.last(); r["errorMessage"] != "Failed authentication" || r["responseElements"].(map[string]any)["ConsoleLogin"] != "Failure" {
		t.Fatalf("failure record: %v", r)
	}
	_, err = e.s.SignIn(ctx, attempt("nobody", "whatever-it-is"))
	if !errors.As(err, &re) || re.Reason != WrongPassword {
		t.Fatalf("unknown user: %v", err)
	}
	r = e.rec.last()
	ident = r["userIdentity"].(map[string]any)
	if ident["userName"] != HiddenUserName || ident["accountId"] != "111111111111" || ident["arn"] != nil {
		t.Fatalf("unknown user's record: %v", r)
	}
	// A record that cannot be stored fails the sign-in.
	e.rec.fail = errors.New("disk full")
	if _, err := e.s.SignIn(ctx, attempt("bob", "bob-password-1")); err == nil || errors.As(err, &re) {
		t.Fatalf("sign-in with its record unstored: %v", err)
	}
}

// TestRecordsMatchTheCISFilters runs the CIS pack's metric-filter patterns
// for failed console sign-ins and sign-ins without MFA over the records
// the store makes.
func TestRecordsMatchTheCISFilters(t *testing.T) {
	e := open(t, "", false)
	ctx := context.Background()
	e.add(t, "carol", "111111111111", true)
	e.s.SignIn(ctx, attempt("carol", "wrong-password!"))
	failed := e.rec.raw[len(e.rec.raw)-1]
	e.s.SignIn(ctx, attempt("carol", "carol-password-1"))
	noMFA := e.rec.raw[len(e.rec.raw)-1]
	enrol(t, e, "carol")
	e.clk.Advance(time.Minute)
	e.s.SignIn(ctx, attempt("carol", "carol-password-1"))
	code, _ := totp.GenerateCode(e.pendingSecret(t, "carol"), e.clk.Now())
	if _, err := e.s.SignInMFA(ctx, attempt("carol", ""), code); err != nil {
		t.Fatal(err)
	}
	withMFA := e.rec.raw[len(e.rec.raw)-1]

	var authFail, noMFAPatterns []string
	for _, v := range cis.Versions {
		b, err := cis.Lookup(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range b.Controls {
			pats := append([]string{c.Pattern}, c.Variants...)
			switch c.Key {
			case "console-auth-failures":
				authFail = append(authFail, pats...)
			case "console-signin-without-mfa":
				noMFAPatterns = append(noMFAPatterns, pats...)
			}
		}
	}
	if len(authFail) == 0 || len(noMFAPatterns) == 0 {
		t.Fatalf("no CIS patterns found: %d %d", len(authFail), len(noMFAPatterns))
	}
	match := func(pat string, rec []byte) bool {
		p, err := filterpattern.Compile(pat)
		if err != nil {
			t.Fatalf("%s: %v", pat, err)
		}
		return p.Match(rec)
	}
	for _, p := range authFail {
		if !match(p, failed) || match(p, noMFA) || match(p, withMFA) {
			t.Errorf("%s: failed %v, success %v, with MFA %v", p, match(p, failed), match(p, noMFA), match(p, withMFA))
		}
	}
	for _, p := range noMFAPatterns {
		if !match(p, noMFA) || match(p, withMFA) {
			t.Errorf("%s: without MFA %v, with MFA %v", p, match(p, noMFA), match(p, withMFA))
		}
	}
}

func (e *env) pendingSecret(t *testing.T, name string) string {
	t.Helper()
	var s string
	if err := e.db.QueryRow(`SELECT mfa_secret FROM cu_users WHERE name = ?`, name).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// enrol enrols an MFA device for name, confirmed with a code computed
// from the secret shown.
func enrol(t *testing.T, e *env, name string) string {
	t.Helper()
	ctx := context.Background()
	en, err := e.s.BeginMFA(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(en.URI, "otpauth://totp/") || !strings.Contains(en.URI, "secret="+en.Secret) || len(en.QRPNG) == 0 {
		t.Fatalf("enrolment %+v", en)
	}
	if u, _ := e.s.Get(ctx, name); u.MFA || !u.MFAPending {
		t.Fatalf("an unconfirmed device counts: %+v", u)
	}
	if err := e.s.ConfirmMFA(ctx, name, "000000"); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	code, _ := totp.GenerateCode(en.Secret, e.clk.Now())
	if err := e.s.ConfirmMFA(ctx, name, code); err != nil {
		t.Fatal(err)
	}
	if u, _ := e.s.Get(ctx, name); !u.MFA || u.MFAPending {
		t.Fatalf("after confirming: %+v", u)
	}
	return en.Secret
}

func TestTOTP(t *testing.T) {
	e := open(t, "", false)
	ctx := context.Background()
	e.add(t, "dave", "222222222222", false)
	secret := enrol(t, e, "dave")
	e.clk.Advance(30 * time.Second)
	if _, err := e.s.SignIn(ctx, attempt("dave", "dave-password-1")); !errors.Is(err, ErrMFARequired) {
		t.Fatalf("password of an MFA user: %v", err)
	}
	n := len(e.rec.recs)
	code, _ := totp.GenerateCode(secret, e.clk.Now())
	var re *RefusedError
	if _, err := e.s.SignInMFA(ctx, attempt("dave", ""), "123"); !errors.As(err, &re) || re.Reason != WrongCode {
		t.Fatalf("short code: %v", err)
	}
	if r := e.rec.last(); len(e.rec.recs) != n+1 || r["errorMessage"] != "Failed authentication" || r["additionalEventData"].(map[string]any)["MFAUsed"] != "Yes" {
		t.Fatalf("wrong code's record: %v", r)
	}
	if u, err := e.s.SignInMFA(ctx, attempt("dave", ""), code); err != nil || u.Name != "dave" {
		t.Fatalf("right code: %v", err)
	}
	if r := e.rec.last(); r["additionalEventData"].(map[string]any)["MFAUsed"] != "Yes" || r["errorMessage"] != nil {
		t.Fatalf("MFA success record: %v", r)
	}
	if _, err := e.s.SignInMFA(ctx, attempt("dave", ""), code); !errors.As(err, &re) || re.Reason != WrongCode {
		t.Fatalf("a code used twice: %v", err)
	}
	// A code of the previous period is still taken; one two periods old is not.
	e.clk.Advance(time.Minute)
	old, _ := totp.GenerateCode(secret, e.clk.Now().Add(-time.Minute))
	if _, err := e.s.SignInMFA(ctx, attempt("dave", ""), old); err == nil {
		t.Fatal("a code two periods old accepted")
	}
	prev, _ := totp.GenerateCode(secret, e.clk.Now().Add(-30*time.Second))
	if _, err := e.s.SignInMFA(ctx, attempt("dave", ""), prev); err != nil {
		t.Fatalf("the previous period's code: %v", err)
	}
	if err := e.s.RemoveMFA(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SignIn(ctx, attempt("dave", "dave-password-1")); err != nil {
		t.Fatalf("after removing the device: %v", err)
	}
}

func TestLockoutBacksOff(t *testing.T) {
	e := open(t, "", false)
	ctx := context.Background()
	e.add(t, "erin", "222222222222", false)
	var re *RefusedError
	fail := func() *RefusedError {
		t.Helper()
		_, err := e.s.SignIn(ctx, attempt("erin", "not-the-password"))
		if !errors.As(err, &re) {
			t.Fatalf("wrong password: %v", err)
		}
		return re
	}
	for i := 0; i < 4; i++ {
		if r := fail(); r.RetryAfter != 0 {
			t.Fatalf("failure %d locked: %+v", i+1, r)
		}
	}
	if r := fail(); r.RetryAfter != time.Minute {
		t.Fatalf("5th failure: %+v, want locked 1m", r)
	}
	// Locked: even the right password is refused, and recorded.
	n := len(e.rec.recs)
	e.clk.Advance(20 * time.Second)
	_, err := e.s.SignIn(ctx, attempt("erin", "erin-password-1"))
	if !errors.As(err, &re) || re.Reason != LockedOut || re.RetryAfter != 40*time.Second {
		t.Fatalf("while locked: %v", err)
	}
	if len(e.rec.recs) != n+1 || e.rec.last()["errorMessage"] != "Failed authentication" {
		t.Fatal("a locked-out attempt was not recorded as a failure")
	}
	if u, _ := e.s.Get(ctx, "erin"); u.LockedFor != 40*time.Second {
		t.Fatalf("LockedFor %v", u.LockedFor)
	}
	e.clk.Advance(41 * time.Second)
	for i := 0; i < 4; i++ {
		fail()
	}
	if r := fail(); r.RetryAfter != 2*time.Minute {
		t.Fatalf("second lock %v, want 2m", r.RetryAfter)
	}
	for _, want := range []time.Duration{4, 8, 16, 30, 30} {
		e.clk.Advance(31 * time.Minute)
		for i := 0; i < 4; i++ {
			fail()
		}
		if r := fail(); r.RetryAfter != want*time.Minute {
			t.Fatalf("lock %v, want %v min", r.RetryAfter, want)
		}
	}
	// Unlocked by an administrator (the address stays locked).
	e.s.Unlock("erin")
	if _, err := e.s.SignIn(ctx, attempt("erin", "erin-password-1")); !errors.As(err, &re) || re.Reason != LockedOut {
		t.Fatalf("from the locked address after Unlock: %v", err)
	}
	elsewhere := attempt("erin", "erin-password-1")
	elsewhere.SourceIP = "198.51.100.8"
	if _, err := e.s.SignIn(ctx, elsewhere); err != nil {
		t.Fatal(err)
	}
	// The source address is locked out too, whatever names it tries.
	e.clk.Advance(2 * time.Hour)
	for i := 0; i < 5; i++ {
		e.s.SignIn(ctx, attempt("user"+string(rune('a'+i)), "not-the-password"))
	}
	_, err = e.s.SignIn(ctx, attempt("erin", "erin-password-1"))
	if !errors.As(err, &re) || re.Reason != LockedOut {
		t.Fatalf("an address that tried five names: %v", err)
	}
	other := attempt("erin", "erin-password-1")
	other.SourceIP = "198.51.100.7"
	if _, err := e.s.SignIn(ctx, other); err != nil {
		t.Fatalf("erin from another address: %v", err)
	}
}

// Failure counts and locks are kept in the table: a store opened again
// on the database (a restart) still refuses a locked user name and
// address for the rest of the lock, keeps counting a run of failures,
// and forgets keys quiet for longer than Lockout.Forget.
func TestLockoutSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.duckdb")
	e := open(t, path, false)
	ctx := context.Background()
	e.add(t, "erin", "222222222222", false)
	e.add(t, "fred", "222222222222", false)
	for i := 0; i < 5; i++ {
		e.s.SignIn(ctx, attempt("erin", "not-the-password"))
	}
	fredFrom := func(ip string) Attempt { a := attempt("fred", "not-the-password"); a.SourceIP = ip; return a }
	for i := 0; i < 3; i++ {
		e.s.SignIn(ctx, fredFrom(fmt.Sprintf("198.51.100.%d", i)))
	}
	reopen := func() *Store {
		t.Helper()
		s, err := Open(ctx, Config{DB: e.db, Recorder: e.rec, ManagementAccount: "111111111111", HomeAccount: "111111111111",
			Clock: e.clk, Hash: cheap})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	e.clk.Advance(20 * time.Second)
	s := reopen()
	var re *RefusedError
	if _, err := s.SignIn(ctx, attempt("erin", "erin-password-1")); !errors.As(err, &re) || re.Reason != LockedOut || re.RetryAfter != 40*time.Second {
		t.Fatalf("erin after a reopen: %v", err)
	}
	if u, _ := s.Get(ctx, "erin"); u.LockedFor != 40*time.Second {
		t.Fatalf("LockedFor after a reopen: %v", u.LockedFor)
	}
	// fred's run of failures goes on: two more lock him.
	for i := 3; i < 4; i++ {
		if _, err := s.SignIn(ctx, fredFrom(fmt.Sprintf("198.51.100.%d", i))); !errors.As(err, &re) || re.RetryAfter != 0 {
			t.Fatalf("fred's failure %d: %v", i+1, err)
		}
	}
	if _, err := s.SignIn(ctx, fredFrom("198.51.100.4")); !errors.As(err, &re) || re.RetryAfter != time.Minute {
		t.Fatalf("fred's 5th failure, across a reopen: %v", err)
	}
	// Unlock is kept too.
	if err := s.Unlock("fred"); err != nil {
		t.Fatal(err)
	}
	if u, _ := reopen().Get(ctx, "fred"); u.LockedFor != 0 {
		t.Fatalf("fred unlocked, then reopened: locked for %v", u.LockedFor)
	}
	// An hour and more later the lock is over and the keys are forgotten.
	e.clk.Advance(2 * time.Hour)
	reopen()
	var n int
	if err := e.db.QueryRow(`SELECT count(*) FROM cu_lockouts`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d lockout rows left after Forget (%v)", n, err)
	}
	if _, err := reopen().SignIn(ctx, attempt("erin", "erin-password-1")); err != nil {
		t.Fatalf("erin after the lock: %v", err)
	}
}

func TestUsersPersistAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.duckdb")
	e := open(t, path, false)
	ctx := context.Background()
	e.add(t, "frank", "111111111111", true)
	secret := enrol(t, e, "frank")
	if err := e.s.SetPassword(ctx, "frank", "a-new-password-2"); err != nil {
		t.Fatal(err)
	}
	e.db.Close()
	e2 := open(t, path, false)
	us, err := e2.s.List(ctx)
	if err != nil || len(us) != 1 || us[0].Name != "frank" || !us[0].Admin || !us[0].MFA || us[0].Account != "111111111111" {
		t.Fatalf("after reopening: %+v %v", us, err)
	}
	if p := e2.s.Principal(us[0]); !p.Management || p.Type != "IAMUser" || p.ARN != "arn:aws:iam::111111111111:user/frank" {
		t.Fatalf("principal %+v", p)
	}
	e2.clk.Advance(time.Minute)
	if _, err := e2.s.SignIn(ctx, attempt("frank", "a-new-password-2")); !errors.Is(err, ErrMFARequired) {
		t.Fatalf("sign-in after reopening: %v", err)
	}
	code, _ := totp.GenerateCode(secret, e2.clk.Now())
	if _, err := e2.s.SignInMFA(ctx, attempt("frank", ""), code); err != nil {
		t.Fatal(err)
	}
}

func TestChangesAndValidation(t *testing.T) {
	e := open(t, "", false)
	ctx := context.Background()
	e.add(t, "gina", "222222222222", false)
	var ie *InputError
	for _, nu := range []NewUser{
		{Name: "has space", Account: "222222222222", Password: "long-enough-pw"},
		{Name: "hank", Account: "2222", Password: "long-enough-pw"},
		{Name: "hank", Account: "222222222222", Password: "short"},
	} {
		if _, err := e.s.Add(ctx, nu); !errors.As(err, &ie) {
			t.Errorf("Add(%+v): %v", nu, err)
		}
	}
	if _, err := e.s.Add(ctx, NewUser{Name: "gina", Account: "222222222222", Password: "long-enough-pw"}); !errors.Is(err, ErrExists) {
		t.Errorf("a second gina: %v", err)
	}
	if err := e.s.ChangePassword(ctx, "gina", "not-it", "another-password"); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("change with a wrong current password: %v", err)
	}
	if err := e.s.ChangePassword(ctx, "gina", "gina-password-1", "another-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SignIn(ctx, attempt("gina", "another-password")); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Remove(ctx, "gina"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Remove(ctx, "gina"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	if err := e.s.ConfirmMFA(ctx, "nobody", "123456"); !errors.Is(err, ErrNotFound) {
		t.Errorf("confirm for nobody: %v", err)
	}
}

func TestLocalDefaultUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.duckdb")
	e := open(t, path, true)
	ctx := context.Background()
	u, err := e.s.SignIn(ctx, attempt(DefaultUser, DefaultPassword))
	if err != nil || !u.Admin || !u.Default || u.Account != "111111111111" {
		t.Fatalf("local default user: %+v %v", u, err)
	}
	e.db.Close()
	// Outside local mode the default user does not exist.
	e2 := open(t, path, false)
	if _, err := e2.s.Get(ctx, DefaultUser); !errors.Is(err, ErrNotFound) {
		t.Fatalf("default user outside local mode: %v", err)
	}
	e2.db.Close()
	// A default user whose password was changed is an ordinary user.
	e3 := open(t, path, true)
	if err := e3.s.SetPassword(ctx, DefaultUser, "chosen-password-9"); err != nil {
		t.Fatal(err)
	}
	e3.db.Close()
	e4 := open(t, path, false)
	if u, err := e4.s.Get(ctx, DefaultUser); err != nil || u.Default {
		t.Fatalf("changed default user outside local mode: %+v %v", u, err)
	}
}
