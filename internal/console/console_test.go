package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/auth"
)

// testAuth knows one user per name; password "pw"; users in mfa need code
// "123456".
type testAuth struct {
	users map[string]*User
	mfa   map[string]bool
}

func (a testAuth) CheckPassword(ctx context.Context, in SignInAttempt) (*User, error) {
	u, ok := a.users[in.UserName]
	if !ok || in.Password != "pw" {
		return nil, &SignInError{Message: "Your user name or password is wrong."}
	}
	if a.mfa[in.UserName] {
		return u, ErrMFARequired
	}
	return u, nil
}

func (a testAuth) CheckMFA(ctx context.Context, in SignInAttempt, code string) (*User, error) {
	if code != "123456" {
		return nil, &SignInError{Message: "Your MFA code is wrong."}
	}
	return a.users[in.UserName], nil
}

// testUser is an IAM user of account acct (the management account's
// users see every account).
func testUser(name, acct string, admin, management bool) *User {
	return &User{Name: name, Admin: admin, Principal: &auth.Principal{
		AccountID: acct, Type: "IAMUser", UserName: name, ARN: "arn:aws:iam::" + acct + ":user/" + name,
		PrincipalID: "AIDATEST" + strings.ToUpper(name), Management: management,
	}}
}

// newTestConsole builds a console over cfg with testAuth's alice (admin of
// the management account 111111111111) and bob (of 222222222222) unless
// cfg.Auth is set.
func newTestConsole(t *testing.T, cfg Config) *Console {
	t.Helper()
	if cfg.Auth == nil {
		cfg.Auth = testAuth{users: map[string]*User{
			"alice": testUser("alice", "111111111111", true, true),
			"bob":   testUser("bob", "222222222222", false, false),
		}}
	}
	if cfg.DefaultRegion == "" {
		cfg.DefaultRegion = "us-east-1"
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// client is a browser of a test console: it keeps the session cookie and
// sends each form with the session's CSRF token.
type client struct {
	t       *testing.T
	c       *Console
	session *Session
}

// signedInAs returns a client with a session of u, made without the
// sign-in form.
func signedInAs(t *testing.T, c *Console, u *User) *client {
	s, err := c.sessions.create(u, "192.0.2.10", "test-browser")
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, c: c, session: s}
}

// get requests path and returns the response and its body.
func (cl *client) get(path string) (*http.Response, string) {
	cl.t.Helper()
	return cl.do(httptest.NewRequest(http.MethodGet, "http://console.test"+path, nil))
}

// post sends form to path with the session's CSRF token.
func (cl *client) post(path string, form url.Values) (*http.Response, string) {
	cl.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if cl.session != nil && form.Get("csrf") == "" {
		form.Set("csrf", cl.session.CSRF)
	}
	r := httptest.NewRequest(http.MethodPost, "http://console.test"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://console.test")
	return cl.do(r)
}

func (cl *client) do(r *http.Request) (*http.Response, string) {
	cl.t.Helper()
	if cl.session != nil {
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: cl.session.ID})
	}
	w := httptest.NewRecorder()
	cl.c.ServeHTTP(w, r)
	resp := w.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSignInRedirectsAndSessions(t *testing.T) {
	c := newTestConsole(t, Config{})
	anon := &client{t: t, c: c}
	resp, _ := anon.get("/events?Username=alice")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?next=%2Fevents%3FUsername%3Dalice" {
		t.Fatalf("unsigned GET /events: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	form := url.Values{"username": {"alice"}, "password": {"pw"}, "next": {"/events?Username=alice"}}
	resp, _ = anon.post("/signin", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/events?Username=alice" {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v", ck)
	}
	form.Set("password", "wrong")
	resp, body := anon.post("/signin", form)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "user name or password is wrong") {
		t.Fatalf("wrong password: %d %s", resp.StatusCode, body)
	}
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil"} {
		if got := safeNext(next); got != "/" {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}
}

func TestPostsNeedCSRF(t *testing.T) {
	c := newTestConsole(t, Config{})
	cl := signedInAs(t, c, testUser("alice", "111111111111", true, true))
	resp, _ := cl.post("/signout", url.Values{"csrf": {"not-the-token"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out with a wrong CSRF token: %d", resp.StatusCode)
	}
	resp, _ = cl.post("/signout", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if c.sessions.get(cl.session.ID) != nil {
		t.Fatal("the session outlived sign-out")
	}
}

func TestIsBrowserRequest(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		hdr            map[string]string
		want           bool
	}{
		{"GET", "/", nil, true},
		{"GET", "/events?Username=x", nil, true},
		{"GET", "/events.csv", nil, true},
		{"POST", "/signin", nil, true},
		{"GET", "/eventsx", nil, false},
		{"GET", "/v1/events", nil, false},
		{"POST", "/", map[string]string{"X-Amz-Target": "CloudTrail_20131101.LookupEvents"}, false},
		{"GET", "/events", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, false},
		{"GET", "/trails?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil, false},
		{"POST", "/", nil, false},
		{"GET", "/my-bucket/key", nil, false},
	} {
		r := httptest.NewRequest(tc.method, "http://x"+tc.target, nil)
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		if got := IsBrowserRequest(r); got != tc.want {
			t.Errorf("%s %s %v: %v, want %v", tc.method, tc.target, tc.hdr, got, tc.want)
		}
	}
}
