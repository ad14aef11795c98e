package console

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/pquerna/otp/totp"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/users"
)

// loginRecords keeps the ConsoleLogin records a users store makes.
type loginRecords struct {
	mu   sync.Mutex
	recs []string
}

func (r *loginRecords) Append(ctx context.Context, source string, recs []*event.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		r.recs = append(r.recs, string(rec.Raw))
	}
	return nil
}

// newUsersConsole is a console over a real users store (in-memory
// DuckDB, cheap argon2id) whose management account is 111111111111, with
// alice (administrator there) and bob (of 222222222222).
func newUsersConsole(t *testing.T) (*Console, *users.Store, *loginRecords) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := &loginRecords{}
	st, err := users.Open(context.Background(), users.Config{DB: db, Recorder: rec, ManagementAccount: "111111111111",
		HomeAccount: "111111111111", Hash: users.HashParams{Memory: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []users.NewUser{
		{Name: "alice", Account: "111111111111", Admin: true, Password: "alice-password"},
		{Name: "bob", Account: "222222222222", Password: "bob-password-1"},
	} {
		if _, err := st.Add(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	c := newTestConsole(t, Config{Auth: UsersAuth{Store: st}, Users: UserDeps{Store: st}, Sessions: UsersSessions{Store: st}})
	st.OnSignOut(c.SignOut)
	return c, st, rec
}

// A console built again over the same store (as after a restart) knows
// the sessions of the one before, with their CSRF tokens and MFA, until
// they expire; a signed-out or expired session is gone from the store.
func TestSessionsKeptInTheStore(t *testing.T) {
	c, st, _ := newUsersConsole(t)
	clk := clock.NewFake(time.Now())
	c.sessions.clock = clk
	bob, _, _ := signInForm(t, c, "bob", "bob-password-1")
	gone, _, _ := signInForm(t, c, "bob", "bob-password-1")
	if resp, _ := gone.post("/signout", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	ctx := context.Background()
	if _, err := st.LoadSession(ctx, bob.session.ID); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("a session id is stored as is: %v", err)
	}
	if _, err := st.LoadSession(ctx, users.SessionIDHash(bob.session.ID)); err != nil {
		t.Fatalf("bob's session is not stored by its hash: %v", err)
	}

	again := newTestConsole(t, Config{Auth: UsersAuth{Store: st}, Users: UserDeps{Store: st}, Sessions: UsersSessions{Store: st}, Clock: clk})
	clk.Advance(2 * time.Hour)
	s := again.sessions.get(bob.session.ID)
	if s == nil || s.User.Name != "bob" || s.CSRF != bob.session.CSRF || s.User.Principal.AccountID != "222222222222" {
		t.Fatalf("bob's session after a restart: %+v", s)
	}
	if again.sessions.get(gone.session.ID) != nil {
		t.Fatal("a signed-out session came back after a restart")
	}
	// The session's forms still work: its CSRF token was kept.
	bob.c = again
	if resp, _ := bob.get("/account"); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob's account page after a restart: %d", resp.StatusCode)
	}
	// Unused for longer than the TTL, in a third console: expired.
	third := newTestConsole(t, Config{Auth: UsersAuth{Store: st}, Users: UserDeps{Store: st}, Sessions: UsersSessions{Store: st}, Clock: clk})
	clk.Advance(12*time.Hour + time.Second)
	if third.sessions.get(bob.session.ID) != nil {
		t.Fatal("a session outlived its TTL across a restart")
	}
	if _, err := st.LoadSession(ctx, users.SessionIDHash(bob.session.ID)); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("the expired session is still stored: %v", err)
	}
}

// signInForm signs in through the form and returns a client of the new
// session.
func signInForm(t *testing.T, c *Console, name, pw string) (*client, *http.Response, string) {
	t.Helper()
	anon := &client{t: t, c: c}
	resp, body := anon.post("/signin", url.Values{"username": {name}, "password": {pw}, "next": {"/account"}})
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			return &client{t: t, c: c, session: c.sessions.get(ck.Value)}, resp, body
		}
	}
	return nil, resp, body
}

func (cl *client) user(st *users.Store, name string) *User {
	u, err := st.Get(context.Background(), name)
	if err != nil {
		cl.t.Fatal(err)
	}
	return UsersAuth{Store: st}.user(u)
}

func TestSignInWithUsersStore(t *testing.T) {
	c, _, rec := newUsersConsole(t)
	cl, resp, _ := signInForm(t, c, "bob", "bob-password-1")
	if cl == nil || resp.StatusCode != http.StatusSeeOther || cl.session.User.Principal.ARN != "arn:aws:iam::222222222222:user/bob" ||
		cl.session.User.Admin || cl.session.User.Principal.Management {
		t.Fatalf("sign-in as bob: %d %+v", resp.StatusCode, cl)
	}
	if len(rec.recs) != 1 || !strings.Contains(rec.recs[0], `"LoginTo":"http://console.test/account"`) {
		t.Fatalf("records %v", rec.recs)
	}
	for i := 1; i <= 5; i++ {
		_, resp, body := signInForm(t, c, "bob", "not-bobs-password")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "user name or password is wrong") {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
		if i == 5 && !strings.Contains(body, "locked for 1 minute") {
			t.Fatalf("the 5th failure does not say how long sign-in is locked: %s", body)
		}
	}
	_, resp, body := signInForm(t, c, "bob", "bob-password-1")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Try again in 1 minute") {
		t.Fatalf("while locked: %d %s", resp.StatusCode, body)
	}
	if n := len(rec.recs); n != 7 || !strings.Contains(rec.recs[6], `"errorMessage":"Failed authentication"`) {
		t.Fatalf("%d records, last %s", n, rec.recs[n-1])
	}
}

func TestUsersPagesAreForAdministrators(t *testing.T) {
	c, st, _ := newUsersConsole(t)
	bob := signedInAs(t, c, (&client{t: t}).user(st, "bob"))
	for _, p := range []string{"/users", "/users/new", "/users/alice"} {
		if resp, _ := bob.get(p); resp.StatusCode != http.StatusForbidden {
			t.Errorf("bob GET %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := bob.post("/users/alice/remove", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob removing alice: %d", resp.StatusCode)
	}
	if resp, body := bob.get("/account"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "arn:aws:iam::222222222222:user/bob") {
		t.Errorf("bob's account page: %d", resp.StatusCode)
	}
	alice := signedInAs(t, c, (&client{t: t}).user(st, "alice"))
	resp, body := alice.get("/users")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `href="/users/bob"`) || !strings.Contains(body, "222222222222") {
		t.Fatalf("alice's user list: %d %s", resp.StatusCode, body)
	}
}

func TestAddResetAndRemoveUser(t *testing.T) {
	c, st, _ := newUsersConsole(t)
	alice := signedInAs(t, c, (&client{t: t}).user(st, "alice"))
	form := url.Values{"name": {"carol"}, "account": {"333333333333"}, "password": {"short"}, "password2": {"short"}}
	if resp, body := alice.post("/users/new", form); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "at least 12 characters") {
		t.Fatalf("short password: %d %s", resp.StatusCode, body)
	}
	form.Set("password", "carol-password")
	form.Set("password2", "carol-passwore")
	if resp, body := alice.post("/users/new", form); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "passwords differ") {
		t.Fatalf("mismatch: %d %s", resp.StatusCode, body)
	}
	form.Set("password2", "carol-password")
	resp, _ := alice.post("/users/new", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/users/carol?done=added" {
		t.Fatalf("add carol: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := alice.post("/users/new", form); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "exists already") {
		t.Fatalf("carol twice: %d %s", resp.StatusCode, body)
	}
	carol, _, _ := signInForm(t, c, "carol", "carol-password")
	if carol == nil {
		t.Fatal("carol cannot sign in")
	}
	resp, _ = alice.post("/users/carol/password", url.Values{"password": {"carols-new-password"}, "password2": {"carols-new-password"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if c.sessions.get(carol.session.ID) != nil {
		t.Fatal("carol's browser stayed signed in after a password reset")
	}
	if cl, _, _ := signInForm(t, c, "carol", "carols-new-password"); cl == nil {
		t.Fatal("carol cannot sign in with the new password")
	}
	if resp, body := alice.post("/users/alice/remove", nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "cannot remove yourself") {
		t.Fatalf("alice removing herself: %d", resp.StatusCode)
	}
	resp, _ = alice.post("/users/carol/remove", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", resp.StatusCode)
	}
	if _, resp, _ := signInForm(t, c, "carol", "carols-new-password"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a removed user signed in: %d", resp.StatusCode)
	}
	if resp, _ := alice.get("/users/carol"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("removed user's page: %d", resp.StatusCode)
	}
}

func TestMemberAccountAdministratorManagesOwnAccountOnly(t *testing.T) {
	c, st, _ := newUsersConsole(t)
	ctx := context.Background()
	st.Add(ctx, users.NewUser{Name: "dora", Account: "222222222222", Admin: true, Password: "dora-password"})
	dora := signedInAs(t, c, (&client{t: t}).user(st, "dora"))
	_, body := dora.get("/users")
	if strings.Contains(body, `href="/users/alice"`) || !strings.Contains(body, `href="/users/bob"`) {
		t.Fatalf("dora's list shows another account's users, or not her own: %s", body)
	}
	if resp, _ := dora.get("/users/alice"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dora opening alice: %d", resp.StatusCode)
	}
	resp, body := dora.post("/users/new", url.Values{"name": {"eve"}, "account": {"111111111111"}, "admin": {"on"}, "password": {"eve-password-1"}, "password2": {"eve-password-1"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "cannot add a user to account 111111111111") {
		t.Fatalf("dora adding to the management account: %d %s", resp.StatusCode, body)
	}
}

var secretRE = regexp.MustCompile(`id="mfa-secret">([A-Z2-7]+)<`)

func TestEnrolOwnMFAThenSignInWithCode(t *testing.T) {
	c, _, rec := newUsersConsole(t)
	bob, _, _ := signInForm(t, c, "bob", "bob-password-1")
	if resp, _ := bob.post("/account/mfa", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("begin enrolment: %d", resp.StatusCode)
	}
	_, body := bob.get("/account")
	m := secretRE.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "otpauth://totp/") || !strings.Contains(body, `src="data:image/png;base64,`) {
		t.Fatalf("enrolment page without secret, URI or QR: %s", body)
	}
	if resp, body := bob.post("/account/mfa/confirm", url.Values{"code": {"000000"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not the one the app shows") {
		t.Fatalf("wrong confirmation code: %d", resp.StatusCode)
	}
	code, _ := totp.GenerateCode(m[1], time.Now())
	if resp, _ := bob.post("/account/mfa/confirm", url.Values{"code": {code}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	anon := &client{t: t, c: c}
	_, body = anon.post("/signin", url.Values{"username": {"bob"}, "password": {"bob-password-1"}})
	pending := regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(body)
	if pending == nil {
		t.Fatalf("no MFA step: %s", body)
	}
	resp, _ := anon.post("/signin/mfa", url.Values{"pending": {pending[1]}, "code": {code}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the enrolment's code used again: %d", resp.StatusCode)
	}
	_, body = anon.post("/signin", url.Values{"username": {"bob"}, "password": {"bob-password-1"}})
	pending = regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(body)
	next, _ := totp.GenerateCode(m[1], time.Now().Add(30*time.Second))
	resp, _ = anon.post("/signin/mfa", url.Values{"pending": {pending[1]}, "code": {next}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the next period's code: %d", resp.StatusCode)
	}
	last := rec.recs[len(rec.recs)-1]
	if !strings.Contains(last, `"MFAUsed":"Yes"`) || !strings.Contains(last, `"ConsoleLogin":"Success"`) {
		t.Fatalf("MFA sign-in record %s", last)
	}
	// The API calls made for a browser signed in with a code carry MFA;
	// those of bob's password-only browser do not.
	callerMFA := func(cookie string) bool {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		s := c.sessions.get(cookie)
		if s == nil {
			t.Fatal("no session for the cookie")
		}
		return awsapi.CallerFrom(c.as(req, s)).MFA
	}
	if len(resp.Cookies()) != 1 || !callerMFA(resp.Cookies()[0].Value) {
		t.Errorf("the MFA sign-in's calls do not carry MFA: %v", resp.Cookies())
	}
	if callerMFA(bob.session.ID) {
		t.Error("a password-only sign-in's calls carry MFA")
	}
}

func TestChangeOwnPassword(t *testing.T) {
	c, _, _ := newUsersConsole(t)
	bob, _, _ := signInForm(t, c, "bob", "bob-password-1")
	other, _, _ := signInForm(t, c, "bob", "bob-password-1")
	resp, body := bob.post("/account/password", url.Values{"current": {"wrong"}, "password": {"bob-password-2"}, "password2": {"bob-password-2"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "current password is wrong") {
		t.Fatalf("wrong current password: %d", resp.StatusCode)
	}
	resp, _ = bob.post("/account/password", url.Values{"current": {"bob-password-1"}, "password": {"bob-password-2"}, "password2": {"bob-password-2"}})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("change: %d %v", resp.StatusCode, resp.Cookies())
	}
	if c.sessions.get(other.session.ID) != nil {
		t.Fatal("bob's other browser stayed signed in")
	}
	if c.sessions.get(resp.Cookies()[0].Value) == nil {
		t.Fatal("the browser that changed the password was signed out")
	}
}

// An administrator sets a user's policies on their page; the list shows
// them, and the user's browsers are signed out.
func TestSetUserPolicies(t *testing.T) {
	c, _, _ := newUsersConsole(t)
	admin, _, _ := signInForm(t, c, "alice", "alice-password")
	bob, _, _ := signInForm(t, c, "bob", "bob-password-1")
	if _, body := admin.get("/users/bob"); !strings.Contains(body, `id="user-policies"`) {
		t.Fatalf("no policies form: %s", body)
	}
	resp, _ := admin.post("/users/bob/policies", url.Values{"policies": {"read-only\n\n ingest-only \n"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set policies: %d", resp.StatusCode)
	}
	u, err := c.cfg.Users.Store.Get(context.Background(), "bob")
	if err != nil || strings.Join(u.Policies, ",") != "read-only,ingest-only" {
		t.Fatalf("stored policies %v %v", u.Policies, err)
	}
	if c.sessions.get(bob.session.ID) != nil {
		t.Error("bob stayed signed in under the old policies")
	}
	if _, body := admin.get("/users"); !strings.Contains(body, `<span class="mono">read-only</span>, <span class="mono">ingest-only</span>`) {
		t.Errorf("users list without policies: %s", body)
	}
	if _, body := admin.get("/users/bob"); !strings.Contains(body, "read-only\ningest-only\n</textarea>") {
		t.Errorf("user page without policies: %s", body)
	}
}
