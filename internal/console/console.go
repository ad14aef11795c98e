// Package console is opentrail's web console: server-rendered HTML pages
// from embedded templates, charts drawn as SVG on the server, and a little
// plain JavaScript only where it clearly helps — no build step. It is
// served by the same binary on the same port as the APIs; the front door
// sends it the requests a browser makes (unsigned, on a console path:
// IsBrowserRequest) and everything signed to the APIs.
//
// A console user signs in with a password (and an MFA code when enrolled)
// through an Authenticator, and acts as the principal the user maps to:
// pages read and change only what that principal's accounts may, through
// the same operations the APIs run (API, in process) or the components
// behind them. It is not an API: nothing here is meant for scripts.
package console

import (
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the console is built from. Each area's dependencies are
// declared in that area's file.
type Config struct {
	// Auth checks console users' passwords and MFA codes (and records
	// each attempt as a ConsoleLogin event).
	Auth Authenticator
	// API runs AWS API operations in process as the signed-in principal,
	// with the APIs' validation, errors and self-audit.
	API API
	// DefaultRegion is the region console calls are made in (the region
	// of the local-mode scope, or the first configured one).
	DefaultRegion string
	// Local is true in local mode, where a documented default user
	// exists and the server binds loopback only; the sign-in page says
	// so.
	Local bool

	History    HistoryDeps
	Trails     TrailDeps
	Dashboards DashboardDeps
	Alarms     AlarmDeps
	Findings   FindingDeps
	Users      UserDeps

	// SessionTTL is how long a session lasts without use (default 12 h).
	SessionTTL time.Duration
	// Sessions keeps sessions durably (UsersSessions); nil keeps them in
	// memory only, so that a restart signs everyone out.
	Sessions SessionStore
	Clock    clock.Clock // nil means clock.Real
	Logger   *slog.Logger
}

// Console serves the web console.
type Console struct {
	cfg      Config
	clock    clock.Clock
	log      *slog.Logger
	pages    *pages
	sessions *sessions
	mux      *http.ServeMux
}

// New builds the console; it parses every template now, so a broken one
// fails start-up rather than a page view.
func New(cfg Config) (*Console, error) {
	if cfg.Auth == nil {
		return nil, errors.New("console: an Authenticator is required")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, pages: p, sessions: newSessions(cfg.Clock, cfg.SessionTTL, cfg.Sessions, cfg.Logger)}
	c.mux = http.NewServeMux()
	c.routes(c.mux)
	return c, nil
}

// ServeHTTP serves one browser request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages are never framed, sniffed or cached by shared caches, and run
	// only the scripts and styles served here.
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	// Forms are small; a browser never needs to send more than this.
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	c.mux.ServeHTTP(w, r)
}

// maxFormBytes bounds a console request's body (forms, a dashboard's SQL,
// advanced event selectors).
const maxFormBytes = 1 << 20

// routes registers every page. Each area registers its own in its file.
func (c *Console) routes(mux *http.ServeMux) {
	mux.Handle("GET /static/", http.FileServerFS(staticFS))
	mux.HandleFunc("GET /{$}", c.signedIn(c.home))
	c.signinRoutes(mux)
	historyPages{c}.historyRoutes(mux)
	trailPages{c}.trailRoutes(mux)
	c.dashboardRoutes(mux)
	alarmPages{c}.alarmRoutes(mux)
	findingPages{c}.findingRoutes(mux)
	userPages{c}.userRoutes(mux)
	mux.HandleFunc("/", c.signedIn(c.notFound))
}

// Each area's pages are methods of their own type over the console, so
// that what the areas share (rendering, sessions, API calls) stays on
// Console and each area's handlers stay together.
type (
	historyPages struct{ *Console } // event history: history.go, history_download.go
	trailPages   struct{ *Console } // trails: trails.go, trails_form.go, trails_validate.go
	alarmPages   struct{ *Console } // alarms and CIS controls: alarms.go, alarmgraph.go
	findingPages struct{ *Console } // findings: findings.go
	userPages    struct{ *Console } // console users and the account page: users.go
)

// consolePrefixes are the paths the console serves; IsBrowserRequest
// sends an unsigned request for one of them to the console.
var consolePrefixes = []string{"/static/", "/signin", "/signout", "/events", "/trails", "/dashboards", "/alarms", "/findings", "/users", "/account"}

// IsBrowserRequest reports whether r is a browser's request for the
// console rather than an API call: API clients sign (an Authorization
// header or a presigned URL's X-Amz-Algorithm) or name an operation
// (X-Amz-Target), browsers do neither, and ask for a console path.
func IsBrowserRequest(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Amz-Target") != "" || r.URL.Query().Has("X-Amz-Algorithm") {
		return false
	}
	p := r.URL.Path
	if p == "/" || p == "/favicon.ico" {
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	}
	for _, pre := range consolePrefixes {
		if p == pre || strings.HasPrefix(p, pre) && (strings.HasSuffix(pre, "/") || p[len(pre)] == '/' || p[len(pre)] == '.') {
			return true
		}
	}
	return false
}

// home is where a signed-in user lands: the overview dashboard.
func (c *Console) home(w http.ResponseWriter, r *http.Request, s *Session) {
	http.Redirect(w, r, "/dashboards/overview", http.StatusSeeOther)
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, s *Session) {
	if r.URL.Path == "/favicon.ico" {
		http.NotFound(w, r)
		return
	}
	c.errorPage(w, r, s, http.StatusNotFound, "Page not found", "There is no page at "+r.URL.Path+". Use the menu to find what you were looking for.")
}
