package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/users"
)

// UserStore is the console users' store (*users.Store implements it).
type UserStore interface {
	SignIn(ctx context.Context, a users.Attempt) (users.User, error)
	SignInMFA(ctx context.Context, a users.Attempt, code string) (users.User, error)
	List(ctx context.Context) ([]users.User, error)
	Get(ctx context.Context, name string) (users.User, error)
	Add(ctx context.Context, u users.NewUser) (users.User, error)
	Remove(ctx context.Context, name string) error
	SetPassword(ctx context.Context, name, password string) error
	ChangePassword(ctx context.Context, name, current, password string) error
	BeginMFA(ctx context.Context, name string) (users.Enrolment, error)
	PendingMFA(ctx context.Context, name string) (users.Enrolment, error)
	ConfirmMFA(ctx context.Context, name, code string) error
	RemoveMFA(ctx context.Context, name string) error
	SetPolicies(ctx context.Context, name string, refs []string) (users.User, error)
	Unlock(name string) error
	Principal(u users.User) *auth.Principal
}

// UserDeps is what the users pages read and change.
type UserDeps struct {
	// Store keeps the users; nil leaves the users pages saying user
	// management is unavailable.
	Store UserStore
}

// UsersAuth is the Authenticator over a users store: each completed
// attempt is recorded by the store as a ConsoleLogin event.
type UsersAuth struct{ Store UserStore }

func (a UsersAuth) attempt(in SignInAttempt) users.Attempt {
	return users.Attempt{UserName: in.UserName, Password: in.Password, SourceIP: in.SourceIP, UserAgent: in.UserAgent, LoginTo: in.LoginTo}
}

// CheckPassword implements Authenticator.
func (a UsersAuth) CheckPassword(ctx context.Context, in SignInAttempt) (*User, error) {
	u, err := a.Store.SignIn(ctx, a.attempt(in))
	if errors.Is(err, users.ErrMFARequired) {
		return a.user(u), ErrMFARequired
	}
	if err != nil {
		return nil, signInError(err)
	}
	return a.user(u), nil
}

// CheckMFA implements Authenticator.
func (a UsersAuth) CheckMFA(ctx context.Context, in SignInAttempt, code string) (*User, error) {
	u, err := a.Store.SignInMFA(ctx, a.attempt(in), code)
	if err != nil {
		return nil, signInError(err)
	}
	cu := a.user(u)
	cu.MFA = true
	return cu, nil
}

func (a UsersAuth) user(u users.User) *User {
	return &User{Name: u.Name, Admin: u.Admin, Principal: a.Store.Principal(u)}
}

// signInError is the page's message for a refused sign-in.
func signInError(err error) error {
	var re *users.RefusedError
	if !errors.As(err, &re) {
		return err
	}
	msg := "Your user name or password is wrong."
	switch re.Reason {
	case users.WrongCode:
		msg = "The MFA code is wrong or was used already. Sign in again and enter the code your app shows now."
	case users.LockedOut:
		return &SignInError{RetryAfter: re.RetryAfter,
			Message: "Too many failed sign-ins for this user name or from this address. Try again in " + waitText(re.RetryAfter) + "."}
	}
	if re.RetryAfter > 0 {
		msg += " After too many failed sign-ins, sign-in is locked for " + waitText(re.RetryAfter) + "."
	}
	return &SignInError{Message: msg, RetryAfter: re.RetryAfter}
}

// waitText says how long a lock lasts, rounded up: "40 seconds", "2 minutes".
func waitText(d time.Duration) string {
	if s := int((d + time.Second - 1) / time.Second); s < 60 {
		return plural(s, "second")
	}
	return plural(int((d+time.Minute-1)/time.Minute), "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func (c userPages) userRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /users", c.admin(c.usersList))
	mux.HandleFunc("GET /users/new", c.admin(c.userNewForm))
	mux.HandleFunc("POST /users/new", c.admin(c.userNew))
	mux.HandleFunc("GET /users/{name}", c.admin(c.userPage))
	mux.HandleFunc("POST /users/{name}/{action...}", c.admin(c.userChange))
	mux.HandleFunc("GET /account", c.signedIn(c.accountPage))
	mux.HandleFunc("POST /account/{action...}", c.signedIn(c.accountChange))
}

// userRow is a user in the list.
type userRow struct {
	users.User
	Management bool
}

type usersData struct {
	Users   []userRow
	Done    string
	Minimum int
	// Scope is the account an administrator of a member account manages
	// ("" for the management account's administrators: every account).
	Scope string
}

// manages reports whether the session's administrator may manage u: the
// management account's administrators manage every user, others the
// users of their own account.
func manages(s *Session, account string) bool {
	return s.User.Principal.Management || s.User.Principal.AccountID == account
}

func (c userPages) noUsers(w http.ResponseWriter, r *http.Request, s *Session) bool {
	if c.cfg.Users.Store != nil {
		return false
	}
	c.errorPage(w, r, s, http.StatusServiceUnavailable, "User management unavailable", "This server has no console user store.")
	return true
}

func (c userPages) usersList(w http.ResponseWriter, r *http.Request, s *Session) {
	if c.noUsers(w, r, s) {
		return
	}
	all, err := c.cfg.Users.Store.List(r.Context())
	if err != nil {
		c.errorPage(w, r, s, http.StatusInternalServerError, "Users not listed", "The users could not be read: "+err.Error())
		return
	}
	d := usersData{Done: doneText(r.URL.Query().Get("done"), r.URL.Query().Get("user")), Minimum: users.MinPasswordLen}
	if !s.User.Principal.Management {
		d.Scope = s.User.Principal.AccountID
	}
	for _, u := range all {
		if manages(s, u.Account) {
			d.Users = append(d.Users, userRow{User: u, Management: c.cfg.Users.Store.Principal(u).Management})
		}
	}
	c.render(w, r, s, http.StatusOK, "users", "Users", d)
}

type userNewData struct {
	Name, Account string
	Admin         bool
	Policies      string // one reference a line
	Error         string
	Minimum       int
	// Fixed is the only account a member account's administrator may
	// add users to ("" for the management account's).
	Fixed string
}

func (c userPages) userNewForm(w http.ResponseWriter, r *http.Request, s *Session) {
	if c.noUsers(w, r, s) {
		return
	}
	d := userNewData{Minimum: users.MinPasswordLen, Account: s.User.Principal.AccountID}
	if !s.User.Principal.Management {
		d.Fixed = s.User.Principal.AccountID
	}
	c.render(w, r, s, http.StatusOK, "users_new", "Add a user", d)
}

func (c userPages) userNew(w http.ResponseWriter, r *http.Request, s *Session) {
	if c.noUsers(w, r, s) {
		return
	}
	d := userNewData{Name: strings.TrimSpace(r.PostFormValue("name")), Account: strings.TrimSpace(r.PostFormValue("account")),
		Admin: r.PostFormValue("admin") == "on", Minimum: users.MinPasswordLen, Policies: r.PostFormValue("policies")}
	if !s.User.Principal.Management {
		d.Fixed = s.User.Principal.AccountID
	}
	pw := r.PostFormValue("password")
	switch {
	case !manages(s, d.Account):
		d.Error = fmt.Sprintf("You administer account %s's users only; you cannot add a user to account %s.", s.User.Principal.AccountID, d.Account)
	case pw != r.PostFormValue("password2"):
		d.Error = "The two passwords differ. Type the same password twice."
	default:
		_, err := c.cfg.Users.Store.Add(r.Context(), users.NewUser{Name: d.Name, Account: d.Account, Admin: d.Admin, Password: pw,
			Policies: policyLines(d.Policies)})
		if err == nil {
			c.log.Info("console user added", "user", d.Name, "account", d.Account, "admin", d.Admin, "by", s.User.Name)
			http.Redirect(w, r, "/users/"+url.PathEscape(d.Name)+"?done=added", http.StatusSeeOther)
			return
		}
		d.Error = userErrorText(err, d.Name)
	}
	c.render(w, r, s, http.StatusBadRequest, "users_new", "Add a user", d)
}

// policyLines splits a form's policies field: one reference a line (a
// JSON document on one line too).
func policyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// userErrorText says what went wrong with a change to user name.
func userErrorText(err error, name string) string {
	var ie *users.InputError
	switch {
	case errors.As(err, &ie):
		return ie.Msg
	case errors.Is(err, users.ErrExists):
		return "A user named " + name + " exists already. Choose another name."
	case errors.Is(err, users.ErrNotFound):
		return "There is no user named " + name + " (any more)."
	case errors.Is(err, users.ErrWrongPassword):
		return "Your current password is wrong. Type it again."
	case errors.Is(err, users.ErrWrongCode):
		return "That code is not the one the app shows now. Check the app's clock and enter the current 6-digit code."
	case errors.Is(err, users.ErrNoEnrolment):
		return "No MFA device is waiting to be confirmed. Start again with \"Enrol an MFA device\"."
	}
	return "The change failed: " + err.Error()
}

// doneText is the confirmation shown after a change.
func doneText(done, user string) string {
	return map[string]string{
		"added":        "User added. They can sign in now; enrol an MFA device for them below, or let them do it on their Account page.",
		"password":     "Password changed. Every browser signed in as this user was signed out.",
		"mfa":          "MFA device enrolled: from now on signing in needs a code from it.",
		"mfa-removed":  "MFA device removed: signing in needs the password only.",
		"unlocked":     "Sign-in unlocked for this user name.",
		"policies":     "Policies changed. Every browser signed in as this user was signed out, to sign in under the new policies.",
		"removed":      "User " + user + " removed and signed out everywhere.",
		"own-password": "Your password is changed. Your other browsers were signed out.",
	}[done]
}

// mfaView is the MFA section of a user's page or the account page.
type mfaView struct {
	Action    string // the path the forms post under: /users/NAME or /account
	User      users.User
	Enrolment *enrolView
	CSRF      string
	Error     string
}

type enrolView struct {
	Secret, URI string
	QR          template.URL // a data: URL of the PNG, "" when none
}

type userPageData struct {
	User    users.User
	ARN     string
	Self    bool
	MFA     mfaView
	Error   string
	Done    string
	Minimum int
}

func (c userPages) userPage(w http.ResponseWriter, r *http.Request, s *Session) {
	c.showUser(w, r, s, http.StatusOK, r.PathValue("name"), "", doneText(r.URL.Query().Get("done"), ""))
}

// showUser renders a user's page, with the waiting MFA enrolment if any.
func (c userPages) showUser(w http.ResponseWriter, r *http.Request, s *Session, status int, name, errText, done string) {
	if c.noUsers(w, r, s) {
		return
	}
	u, ok := c.manageable(w, r, s, name)
	if !ok {
		return
	}
	d := userPageData{User: u, ARN: c.cfg.Users.Store.Principal(u).ARN, Self: u.Name == s.User.Name, Error: errText, Done: done,
		Minimum: users.MinPasswordLen, MFA: c.mfaSection(r, s, u, "/users/"+url.PathEscape(u.Name))}
	c.render(w, r, s, status, "users_user", "User "+u.Name, d)
}

// manageable returns user name if the session's administrator may manage
// it, else answers a 404 page.
func (c userPages) manageable(w http.ResponseWriter, r *http.Request, s *Session, name string) (users.User, bool) {
	u, err := c.cfg.Users.Store.Get(r.Context(), name)
	if err == nil && manages(s, u.Account) {
		return u, true
	}
	if err != nil && !errors.Is(err, users.ErrNotFound) {
		c.errorPage(w, r, s, http.StatusInternalServerError, "User not read", "The user could not be read: "+err.Error())
		return users.User{}, false
	}
	c.errorPage(w, r, s, http.StatusNotFound, "No such user", "There is no user named "+name+" that you manage. See the list of users.")
	return users.User{}, false
}

func (c userPages) mfaSection(r *http.Request, s *Session, u users.User, action string) mfaView {
	m := mfaView{Action: action, User: u, CSRF: s.CSRF}
	if u.MFAPending {
		if e, err := c.cfg.Users.Store.PendingMFA(r.Context(), u.Name); err == nil {
			m.Enrolment = &enrolView{Secret: e.Secret, URI: e.URI}
			if len(e.QRPNG) > 0 {
				m.Enrolment.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG))
			}
		}
	}
	return m
}

// userChange serves an administrator's POST /users/{name}/{action}:
// password, mfa, mfa/confirm, mfa/remove, unlock, remove.
func (c userPages) userChange(w http.ResponseWriter, r *http.Request, s *Session) {
	if c.noUsers(w, r, s) {
		return
	}
	u, ok := c.manageable(w, r, s, r.PathValue("name"))
	if !ok {
		return
	}
	st, ctx, base := c.cfg.Users.Store, r.Context(), "/users/"+url.PathEscape(u.Name)
	var err error
	done := ""
	switch r.PathValue("action") {
	case "password":
		pw := r.PostFormValue("password")
		if pw != r.PostFormValue("password2") {
			c.showUser(w, r, s, http.StatusBadRequest, u.Name, "The two passwords differ. Type the same password twice.", "")
			return
		}
		if err = st.SetPassword(ctx, u.Name, pw); err == nil {
			c.SignOut(u.Name)
			done = "password"
		}
	case "unlock":
		if err = st.Unlock(u.Name); err == nil {
			done = "unlocked"
		}
	case "policies":
		// The user's browsers are signed out: their sessions hold the
		// policies they signed in with.
		if _, err = st.SetPolicies(ctx, u.Name, policyLines(r.PostFormValue("policies"))); err == nil {
			c.SignOut(u.Name)
			done = "policies"
		}
	case "remove":
		if u.Name == s.User.Name {
			c.showUser(w, r, s, http.StatusBadRequest, u.Name, "You cannot remove yourself. Ask another administrator.", "")
			return
		}
		if err = st.Remove(ctx, u.Name); err == nil {
			c.SignOut(u.Name)
			c.log.Info("console user removed", "user", u.Name, "by", s.User.Name)
			http.Redirect(w, r, "/users?done=removed&user="+url.QueryEscape(u.Name), http.StatusSeeOther)
			return
		}
	default:
		if done, err = c.mfaChange(r, u.Name, r.PathValue("action")); done == "" && err == nil {
			c.errorPage(w, r, s, http.StatusNotFound, "Page not found", "There is no such change to a user.")
			return
		}
	}
	if err != nil {
		c.showUser(w, r, s, http.StatusBadRequest, u.Name, userErrorText(err, u.Name), "")
		return
	}
	c.log.Info("console user changed", "user", u.Name, "change", r.PathValue("action"), "by", s.User.Name)
	if done == "mfa-begun" {
		http.Redirect(w, r, base+"#mfa", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, base+"?done="+done, http.StatusSeeOther)
}

// mfaChange runs an MFA action (mfa, mfa/confirm, mfa/remove) for user
// name; done is "" for an unknown action.
func (c userPages) mfaChange(r *http.Request, name, action string) (done string, err error) {
	st, ctx := c.cfg.Users.Store, r.Context()
	switch action {
	case "mfa":
		_, err = st.BeginMFA(ctx, name)
		return "mfa-begun", err
	case "mfa/confirm":
		return "mfa", st.ConfirmMFA(ctx, name, strings.TrimSpace(r.PostFormValue("code")))
	case "mfa/remove":
		return "mfa-removed", st.RemoveMFA(ctx, name)
	}
	return "", nil
}

type accountData struct {
	User    users.User
	ARN     string
	MFA     mfaView
	Error   string
	Done    string
	Minimum int
}

func (c userPages) accountPage(w http.ResponseWriter, r *http.Request, s *Session) {
	c.showAccount(w, r, s, http.StatusOK, "", doneText(r.URL.Query().Get("done"), ""))
}

func (c userPages) showAccount(w http.ResponseWriter, r *http.Request, s *Session, status int, errText, done string) {
	if c.noUsers(w, r, s) {
		return
	}
	u, err := c.cfg.Users.Store.Get(r.Context(), s.User.Name)
	if err != nil {
		c.errorPage(w, r, s, http.StatusInternalServerError, "Account not read", "Your user could not be read: "+userErrorText(err, s.User.Name))
		return
	}
	d := accountData{User: u, ARN: s.User.Principal.ARN, Error: errText, Done: done, Minimum: users.MinPasswordLen,
		MFA: c.mfaSection(r, s, u, "/account")}
	c.render(w, r, s, status, "account", "Your account", d)
}

// accountChange serves a user's own POST /account/{action}: password,
// mfa, mfa/confirm, mfa/remove.
func (c userPages) accountChange(w http.ResponseWriter, r *http.Request, s *Session) {
	if c.noUsers(w, r, s) {
		return
	}
	name, action := s.User.Name, r.PathValue("action")
	var done string
	var err error
	if action == "password" {
		pw := r.PostFormValue("password")
		if pw != r.PostFormValue("password2") {
			c.showAccount(w, r, s, http.StatusBadRequest, "The two new passwords differ. Type the same password twice.", "")
			return
		}
		if err = c.cfg.Users.Store.ChangePassword(r.Context(), name, r.PostFormValue("current"), pw); err == nil {
			// Every other browser of this user is signed out; this one
			// gets a fresh session.
			c.SignOut(name)
			var ns *Session
			if ns, err = c.sessions.create(s.User, clientIP(r), r.UserAgent()); err == nil {
				setSessionCookie(w, r, ns.ID, c.cfg.SessionTTL)
				done = "own-password"
			}
		}
	} else if done, err = c.mfaChange(r, name, action); done == "" && err == nil {
		c.errorPage(w, r, s, http.StatusNotFound, "Page not found", "There is no such change to your account.")
		return
	}
	if err != nil {
		c.showAccount(w, r, s, http.StatusBadRequest, userErrorText(err, name), "")
		return
	}
	c.log.Info("console user changed their account", "user", name, "change", action)
	if done == "mfa-begun" {
		http.Redirect(w, r, "/account#mfa", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/account?done="+done, http.StatusSeeOther)
}
