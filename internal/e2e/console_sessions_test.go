package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// consoleForm posts a console form (no redirects followed) with the
// session cookie when one is given, and returns the status, the body and
// the session cookie the answer sets.
func consoleForm(t *testing.T, s *server, path string, form url.Values, cookie string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.url)
	return consoleDo(t, s, req, cookie)
}

func consoleGet(t *testing.T, s *server, path, cookie string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	code, body, _ := consoleDo(t, s, req, cookie)
	return code, body
}

func consoleDo(t *testing.T, s *server, req *http.Request, cookie string) (int, string, string) {
	t.Helper()
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "opentrail_session", Value: cookie})
	}
	noRedirect := *s.client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	set := ""
	for _, c := range resp.Cookies() {
		if c.Name == "opentrail_session" {
			set = c.Value
		}
	}
	return resp.StatusCode, string(b), set
}

// A console session and a sign-in lockout are kept in the store: after
// the server is stopped and started again on the same data, the browser
// is still signed in (its forms still accepted) and the locked-out user
// name is still refused; a signed-out session stays signed out.
func TestConsoleSessionsAndLockoutSurviveRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, "")
	signIn := func(s *server, pw string) (int, string, string) {
		return consoleForm(t, s, "/signin", url.Values{"username": {"admin"}, "password": {pw}, "next": {"/account"}}, "")
	}
	code, _, cookie := signIn(s, "opentrail")
	if code != http.StatusSeeOther || cookie == "" {
		t.Fatalf("sign-in: %d, cookie %q", code, cookie)
	}
	_, _, signedOut := signIn(s, "opentrail")
	if code, body := consoleGet(t, s, "/account", signedOut); code != http.StatusOK {
		t.Fatalf("account page: %d %s", code, body)
	}
	csrf := func(s *server, cookie string) string {
		_, body := consoleGet(t, s, "/account", cookie)
		i := strings.Index(body, `name="csrf" value="`)
		if i < 0 {
			t.Fatalf("no CSRF token on the account page: %s", body)
		}
		rest := body[i+len(`name="csrf" value="`):]
		return rest[:strings.IndexByte(rest, '"')]
	}
	if code, _, _ := consoleForm(t, s, "/signout", url.Values{"csrf": {csrf(s, signedOut)}}, signedOut); code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", code)
	}
	// Five wrong passwords lock the user name (and this address) out.
	for i := range 5 {
		if code, _, _ := signIn(s, "wrong-"+string(rune('a'+i))); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, code)
		}
	}
	code, body, _ := signIn(s, "opentrail")
	if code != http.StatusUnauthorized || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("right password while locked out: %d %s", code, body)
	}
	token := csrf(s, cookie)

	s.stop()
	s2 := startServer(t, s.data)

	if code, body := consoleGet(t, s2, "/account", cookie); code != http.StatusOK || !strings.Contains(body, "admin") {
		t.Fatalf("the session after a restart: %d %s", code, body)
	}
	if code, _ := consoleGet(t, s2, "/account", signedOut); code != http.StatusSeeOther {
		t.Fatalf("a signed-out session after a restart: %d, want a redirect to sign in", code)
	}
	code, body, _ = signIn(s2, "opentrail")
	if code != http.StatusUnauthorized || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("the locked-out user after a restart: %d %s", code, body)
	}
	// The kept session's CSRF token is the one its page showed before.
	if got := csrf(s2, cookie); got != token {
		t.Fatalf("CSRF token after a restart %q, want %q", got, token)
	}
	if code, _, _ := consoleForm(t, s2, "/signout", url.Values{"csrf": {token}}, cookie); code != http.StatusSeeOther {
		t.Fatalf("sign-out after a restart: %d", code)
	}
	if code, _ := consoleGet(t, s2, "/account", cookie); code != http.StatusSeeOther {
		t.Fatalf("signed out after a restart, the session still works: %d", code)
	}
}
