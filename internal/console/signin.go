package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

func (c *Console) signinRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /signin", c.signinForm)
	mux.HandleFunc("POST /signin", c.signinPost)
	mux.HandleFunc("POST /signin/mfa", c.signinMFA)
	mux.HandleFunc("POST /signout", c.signedIn(c.signout))
}

type signinData struct {
	Next     string
	UserName string
	Error    string
	Local    bool
	// Pending is set on the MFA step: the one-time token of the sign-in
	// whose password was right.
	Pending string
}

func (c *Console) signinForm(w http.ResponseWriter, r *http.Request) {
	if s := c.session(r); s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, nil, http.StatusOK, "signin", "Sign in", signinData{Next: safeNext(r.URL.Query().Get("next")), Local: c.cfg.Local})
}

func (c *Console) signinPost(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		c.errorPage(w, r, nil, http.StatusForbidden, "Request refused", "The sign-in form was not sent from this console's page.")
		return
	}
	next := safeNext(r.PostFormValue("next"))
	a := SignInAttempt{UserName: strings.TrimSpace(r.PostFormValue("username")), Password: r.PostFormValue("password"),
		SourceIP: clientIP(r), UserAgent: r.UserAgent(), LoginTo: consoleURL(r, next)}
	u, err := c.cfg.Auth.CheckPassword(r.Context(), a)
	switch {
	case errors.Is(err, ErrMFARequired) && u != nil:
		tok := c.sessions.addPending(u.Name, a)
		c.render(w, r, nil, http.StatusOK, "mfa", "MFA code", signinData{Next: next, UserName: u.Name, Pending: tok})
		return
	case err != nil:
		c.signinFailed(w, r, next, a.UserName, err)
		return
	}
	c.startSession(w, r, u, next)
}

func (c *Console) signinMFA(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		c.errorPage(w, r, nil, http.StatusForbidden, "Request refused", "The MFA form was not sent from this console's page.")
		return
	}
	next := safeNext(r.PostFormValue("next"))
	p, ok := c.sessions.takePending(r.PostFormValue("pending"))
	if !ok {
		c.render(w, r, nil, http.StatusUnauthorized, "signin", "Sign in", signinData{Next: next, Local: c.cfg.Local,
			Error: "The sign-in waited too long for its MFA code, or was already used. Sign in again."})
		return
	}
	a := p.attempt
	a.SourceIP, a.UserAgent = clientIP(r), r.UserAgent()
	u, err := c.cfg.Auth.CheckMFA(r.Context(), a, strings.TrimSpace(r.PostFormValue("code")))
	if err != nil {
		c.signinFailed(w, r, next, a.UserName, err)
		return
	}
	c.startSession(w, r, u, next)
}

func (c *Console) signinFailed(w http.ResponseWriter, r *http.Request, next, user string, err error) {
	msg := "Your user name or password is wrong."
	var se *SignInError
	if errors.As(err, &se) {
		msg = se.Message
	} else {
		c.log.Error("console sign-in", "err", err)
		msg = "Sign-in is unavailable: " + err.Error()
	}
	c.render(w, r, nil, http.StatusUnauthorized, "signin", "Sign in", signinData{Next: next, UserName: user, Error: msg, Local: c.cfg.Local})
}

func (c *Console) startSession(w http.ResponseWriter, r *http.Request, u *User, next string) {
	s, err := c.sessions.create(u, clientIP(r), r.UserAgent())
	if err != nil {
		c.log.Error("console sign-in: session not kept", "user", u.Name, "err", err)
		c.errorPage(w, r, nil, http.StatusServiceUnavailable, "Sign-in unavailable",
			"You signed in, but your session could not be kept: "+err.Error()+". Try again; if this persists, the server's log says more.")
		return
	}
	setSessionCookie(w, r, s.ID, c.cfg.SessionTTL)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request, s *Session) {
	c.sessions.remove(s.ID)
	clearSessionCookie(w, r)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// consoleURL is the console URL of path as the browser reached it.
func consoleURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

// safeNext is where to go after signing in: a path on this console, never
// another site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}
