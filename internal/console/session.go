package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/users"
)

// User is a console user as the Authenticator returns them.
type User struct {
	Name string
	// Principal is who the user acts as: an IAM user of their account
	// (the organisation's management account sees every account).
	Principal *auth.Principal
	// Admin users manage console users.
	Admin bool
	// MFA says the user signed in with an MFA code: the API calls made
	// for them carry aws:MultiFactorAuthPresent.
	MFA bool
}

// Accounts are the accounts whose data a user may see; nil means every
// account (the organisation's management account).
func (u *User) Accounts() []string {
	if u.Principal.Management {
		return nil
	}
	return []string{u.Principal.AccountID}
}

// SignInAttempt is one sign-in as the browser made it.
type SignInAttempt struct {
	UserName  string
	Password  string
	SourceIP  string
	UserAgent string
	// LoginTo is the console URL signed in to (the record's
	// additionalEventData.LoginTo).
	LoginTo string
}

// ErrMFARequired is returned by Authenticator.CheckPassword for a right
// password of a user with an MFA device: the code is asked for next.
var ErrMFARequired = errors.New("console: an MFA code is required")

// SignInError is a refused sign-in, with the message the page shows
// (never whether the user name exists).
type SignInError struct {
	Message string
	// RetryAfter is set while the user or address is locked out.
	RetryAfter time.Duration
}

func (e *SignInError) Error() string { return e.Message }

// Authenticator checks console sign-ins. Each completed attempt, success
// or failure, is recorded as a ConsoleLogin event by the implementation.
type Authenticator interface {
	// CheckPassword checks a user name and password. It returns the user
	// when they are right and the user has no MFA device; ErrMFARequired
	// (and the user) when they are right and a code must follow; a
	// *SignInError otherwise.
	CheckPassword(ctx context.Context, a SignInAttempt) (*User, error)
	// CheckMFA completes a sign-in whose password was right with the
	// user's current MFA code.
	CheckMFA(ctx context.Context, a SignInAttempt, code string) (*User, error)
}

// Session is a signed-in browser.
type Session struct {
	ID   string
	User *User
	// CSRF is the token every form of this session posts back.
	CSRF    string
	Created time.Time
	// SourceIP and UserAgent are the browser's at sign-in.
	SourceIP  string
	UserAgent string
	last      time.Time
	touched   time.Time // last use kept in the SessionStore
}

const sessionCookie = "opentrail_session"

// SessionStore keeps sessions durably, so that a restart signs nobody out
// (UsersSessions over *users.Store implements it). Sessions are kept by
// users.SessionIDHash of their id, never the id itself.
type SessionStore interface {
	SaveSession(ctx context.Context, s users.Session) error
	// LoadSession answers users.ErrNotFound for an unknown session.
	LoadSession(ctx context.Context, idHash string) (users.Session, error)
	TouchSession(ctx context.Context, idHash string, used time.Time) error
	DeleteSession(ctx context.Context, idHash string) error
	DeleteUserSessions(ctx context.Context, name string) error
	DeleteSessionsUsedBefore(ctx context.Context, t time.Time) error
	// SessionUser is the user a kept session belongs to, as they are
	// now; users.ErrNotFound when removed.
	SessionUser(ctx context.Context, name string) (*User, error)
}

// UsersSessions keeps the console's sessions in the console users' store
// (table cu_sessions).
type UsersSessions struct{ *users.Store }

// SessionUser implements SessionStore.
func (s UsersSessions) SessionUser(ctx context.Context, name string) (*User, error) {
	u, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return UsersAuth{Store: s.Store}.user(u), nil
}

// touchEvery is how often a session's last use is written to the
// SessionStore: a session kept across a restart may expire up to this
// much earlier than it would have without the restart.
const touchEvery = time.Minute

// sessions are the signed-in browsers: kept in the SessionStore when
// there is one (the map is its cache), else in memory only, where a
// restart signs every browser out.
type sessions struct {
	clock clock.Clock
	ttl   time.Duration
	store SessionStore // nil: memory only
	log   *slog.Logger
	mu    sync.Mutex
	m     map[string]*Session
	// gen counts removals, so that a session read from the store while
	// it was being removed is not cached.
	gen uint64
	// pending are sign-ins whose password was right and whose MFA code
	// is awaited, by a one-time token, for 5 minutes (in memory only: a
	// restart asks for the password again).
	pending map[string]pendingMFA
}

type pendingMFA struct {
	user    string
	attempt SignInAttempt
	expires time.Time
}

func newSessions(c clock.Clock, ttl time.Duration, store SessionStore, log *slog.Logger) *sessions {
	return &sessions{clock: c, ttl: ttl, store: store, log: log, m: map[string]*Session{}, pending: map[string]pendingMFA{}}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session of u; with a SessionStore it is kept there
// before create returns.
func (ss *sessions) create(u *User, ip, ua string) (*Session, error) {
	now := ss.clock.Now()
	s := &Session{ID: randomToken(), User: u, CSRF: randomToken(), Created: now, SourceIP: ip, UserAgent: ua, last: now, touched: now}
	if ss.store != nil {
		ctx := context.Background()
		if err := ss.store.DeleteSessionsUsedBefore(ctx, now.Add(-ss.ttl-touchEvery)); err != nil {
			ss.log.Warn("console sessions: expired sessions not removed", "err", err)
		}
		err := ss.store.SaveSession(ctx, users.Session{IDHash: users.SessionIDHash(s.ID), User: u.Name, MFA: u.MFA, CSRF: s.CSRF,
			Created: now, LastUsed: now, SourceIP: ip, UserAgent: ua})
		if err != nil {
			return nil, err
		}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sweepLocked(now)
	ss.m[s.ID] = s
	return s, nil
}

// get returns the live session id, or nil when there is none or it has
// expired; each use extends it by the TTL.
func (ss *sessions) get(id string) *Session {
	now := ss.clock.Now()
	ss.mu.Lock()
	s, ok := ss.m[id]
	if ok && now.Sub(s.last) > ss.ttl {
		delete(ss.m, id)
		ss.mu.Unlock()
		ss.forget(id)
		return nil
	}
	if ok {
		s.last = now
		touch := ss.store != nil && now.Sub(s.touched) >= touchEvery
		if touch {
			s.touched = now
		}
		ss.mu.Unlock()
		if touch {
			if err := ss.store.TouchSession(context.Background(), users.SessionIDHash(id), now); err != nil {
				ss.log.Warn("console sessions: last use not kept", "err", err)
			}
		}
		return s
	}
	gen := ss.gen
	ss.mu.Unlock()
	if ss.store == nil || id == "" {
		return nil
	}
	return ss.load(id, now, gen)
}

// load reads session id from the store (kept before a restart).
func (ss *sessions) load(id string, now time.Time, gen uint64) *Session {
	ctx, hash := context.Background(), users.SessionIDHash(id)
	rec, err := ss.store.LoadSession(ctx, hash)
	if err != nil {
		if !errors.Is(err, users.ErrNotFound) {
			ss.log.Error("console sessions: read a session", "err", err)
		}
		return nil
	}
	if now.Sub(rec.LastUsed) > ss.ttl {
		ss.forget(id)
		return nil
	}
	u, err := ss.store.SessionUser(ctx, rec.User)
	if err != nil {
		if errors.Is(err, users.ErrNotFound) {
			ss.forget(id)
		} else {
			ss.log.Error("console sessions: read a session's user", "user", rec.User, "err", err)
		}
		return nil
	}
	u.MFA = rec.MFA
	s := &Session{ID: id, User: u, CSRF: rec.CSRF, Created: rec.Created, SourceIP: rec.SourceIP, UserAgent: rec.UserAgent, last: now, touched: now}
	if err := ss.store.TouchSession(ctx, hash, now); err != nil {
		ss.log.Warn("console sessions: last use not kept", "err", err)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.gen != gen {
		return nil // removed meanwhile, perhaps this one: sign in again
	}
	if cached, ok := ss.m[id]; ok {
		return cached
	}
	ss.m[id] = s
	return s
}

// forget removes session id from the store.
func (ss *sessions) forget(id string) {
	if ss.store == nil {
		return
	}
	if err := ss.store.DeleteSession(context.Background(), users.SessionIDHash(id)); err != nil {
		ss.log.Warn("console sessions: a session stays in the table until it expires", "err", err)
	}
}

// remove ends session id (a sign-out).
func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.gen++
	ss.mu.Unlock()
	ss.forget(id)
}

// removeUser signs every browser of a user out (the user was removed or
// their password reset).
func (ss *sessions) removeUser(name string) error {
	ss.mu.Lock()
	for id, s := range ss.m {
		if s.User.Name == name {
			delete(ss.m, id)
		}
	}
	ss.gen++
	ss.mu.Unlock()
	if ss.store != nil {
		return ss.store.DeleteUserSessions(context.Background(), name)
	}
	return nil
}

// SignOut signs every browser of console user name out (the user was
// removed, or their password set, elsewhere: the CLI).
func (c *Console) SignOut(name string) {
	if err := c.sessions.removeUser(name); err != nil {
		c.log.Error("console sessions: sign a user out", "user", name, "err", err)
	}
}

func (ss *sessions) addPending(user string, a SignInAttempt) string {
	tok := randomToken()
	a.Password = ""
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.pending[tok] = pendingMFA{user: user, attempt: a, expires: ss.clock.Now().Add(5 * time.Minute)}
	return tok
}

// takePending returns and forgets the pending sign-in of tok.
func (ss *sessions) takePending(tok string) (pendingMFA, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	p, ok := ss.pending[tok]
	delete(ss.pending, tok)
	if !ok || ss.clock.Now().After(p.expires) {
		return pendingMFA{}, false
	}
	return p, true
}

func (ss *sessions) sweepLocked(now time.Time) {
	for id, s := range ss.m {
		if now.Sub(s.last) > ss.ttl {
			delete(ss.m, id)
		}
	}
	for tok, p := range ss.pending {
		if now.After(p.expires) {
			delete(ss.pending, tok)
		}
	}
}

// pageFunc is a page handler that needs a signed-in user.
type pageFunc func(w http.ResponseWriter, r *http.Request, s *Session)

// signedIn wraps a page: a browser without a session is sent to the
// sign-in page (and back here after), and every POST must carry the
// session's CSRF token and come from this origin.
func (c *Console) signedIn(h pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.session(r)
		if s == nil {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				c.errorPage(w, r, nil, http.StatusForbidden, "Signed out", "Your session has ended. Sign in again and repeat what you were doing.")
				return
			}
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if !sameOrigin(r) || !c.validCSRF(r, s) {
				c.errorPage(w, r, s, http.StatusForbidden, "Request refused", "The form was not sent from this console's page (or the page was open before you signed in again). Reload the page and try again.")
				return
			}
		}
		h(w, r, s)
	}
}

// admin wraps a page only administrators may use.
func (c *Console) admin(h pageFunc) http.HandlerFunc {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request, s *Session) {
		if !s.User.Admin {
			c.errorPage(w, r, s, http.StatusForbidden, "Administrators only", "Only a console administrator may manage users. Ask one to make this change.")
			return
		}
		h(w, r, s)
	})
}

func (c *Console) session(r *http.Request) *Session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	return c.sessions.get(ck.Value)
}

func (c *Console) validCSRF(r *http.Request, s *Session) bool {
	tok := r.PostFormValue("csrf")
	if tok == "" {
		tok = r.Header.Get("X-CSRF-Token")
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) == 1
}

// sameOrigin refuses a POST whose Origin (or, without one, Referer) names
// another host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" || o == "null" {
		return o == ""
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, id string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ttl / time.Second),
	})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// clientIP is the browser's address as CloudTrail records it.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
