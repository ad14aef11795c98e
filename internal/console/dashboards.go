package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/dashboards"
	"github.com/opentrail/opentrail/internal/geoip"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/rollup"
	"github.com/opentrail/opentrail/internal/store"
)

// DashboardDeps is what the dashboards pages read and change.
type DashboardDeps struct {
	// Events runs read-only SQL over cloudtrail_events; nil shows every
	// dashboard's "no event store" state.
	Events EventQuerier
	// Saved keeps users' dashboards; nil means none can be saved.
	Saved *dashboards.Store
	// GeoIP places source IP addresses (console.geoip_database); nil
	// means none is configured, and the location panel says so.
	GeoIP *geoip.DB
	// Rollups, when set, serve the built-in dashboards' panels whenever
	// they are fresh and cover the range; nil: the panels read the events.
	Rollups *rollup.Rollups
}

// EventQuerier runs read-only SQL over the event store in CloudTrail
// Lake's shape (internal/query).
type EventQuerier interface {
	Run(ctx context.Context, sql string, opts query.Options) (*query.Result, error)
	Check(ctx context.Context, sql string) error
}

// StoreQuerier is the EventQuerier over st.
func StoreQuerier(st *store.Store) EventQuerier { return storeQuerier{st} }

type storeQuerier struct{ st *store.Store }

func (q storeQuerier) Run(ctx context.Context, sql string, opts query.Options) (*query.Result, error) {
	return query.Run(ctx, q.st, sql, opts)
}
func (q storeQuerier) Check(ctx context.Context, sql string) error {
	return query.Check(ctx, q.st, sql)
}

func (c *Console) dashboardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /dashboards", c.signedIn(c.dashboardList))
	mux.HandleFunc("GET /dashboards/overview", c.signedIn(c.overview))
	mux.HandleFunc("GET /dashboards/cis", c.signedIn(c.cisDashboard))
	mux.HandleFunc("GET /dashboards/new", c.signedIn(c.dashboardNew))
	mux.HandleFunc("POST /dashboards/new", c.signedIn(c.dashboardCreate))
	mux.HandleFunc("GET /dashboards/{id}", c.signedIn(c.savedDashboard))
	mux.HandleFunc("POST /dashboards/{id}/delete", c.signedIn(c.dashboardDelete))
}

// presets are the relative ranges a dashboard offers, with the bucket
// each is drawn in (at most about 60 bars).
var presets = []struct {
	Name string
	Span time.Duration
	Step time.Duration
}{
	{"1h", time.Hour, time.Minute},
	{"3h", 3 * time.Hour, 5 * time.Minute},
	{"12h", 12 * time.Hour, 15 * time.Minute},
	{"24h", 24 * time.Hour, time.Hour},
	{"7d", 7 * 24 * time.Hour, 3 * time.Hour},
	{"30d", 30 * 24 * time.Hour, 24 * time.Hour},
}

// bucketSteps are the bucket sizes a custom range may be drawn in.
var bucketSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// window is a dashboard's time range, cut into equal buckets: bucket i is
// [Start + i·Step, Start + (i+1)·Step).
type window struct {
	Start, End time.Time
	Step       time.Duration
	Preset     string // "" for a custom range
}

func (w window) buckets() int { return int(w.End.Sub(w.Start) / w.Step) }

func (w window) bucket(i int) (time.Time, time.Time) {
	s := w.Start.Add(time.Duration(i) * w.Step)
	return s, s.Add(w.Step)
}

// Describe says the range in words for the page's subtitle.
func (w window) Describe() string {
	f := "2006-01-02 15:04 UTC"
	return w.Start.Format(f) + " – " + w.End.Format(f) + ", in " + stepText(w.Step) + " buckets"
}

func stepText(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		if d == 24*time.Hour {
			return "1-day"
		}
		return fmt.Sprintf("%d-day", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d-hour", d/time.Hour)
	}
	return fmt.Sprintf("%d-minute", d/time.Minute)
}

// parseWindow reads range (a preset, default 24h) or start/end (RFC 3339,
// overriding range). Relative ranges end at the next bucket boundary
// after now, so buckets fall on round times and a bucket's link names
// exactly the events its bar counts.
func parseWindow(q url.Values, now time.Time) (window, error) {
	now = now.UTC()
	if q.Get("start") != "" || q.Get("end") != "" {
		start, err := parseRangeTime(q.Get("start"))
		if err != nil {
			return window{}, fmt.Errorf("start %q is not a time like 2026-12-05T10:00:00Z", q.Get("start"))
		}
		end := now
		if q.Get("end") != "" {
			if end, err = parseRangeTime(q.Get("end")); err != nil {
				return window{}, fmt.Errorf("end %q is not a time like 2026-12-05T12:00:00Z", q.Get("end"))
			}
		}
		start, end = start.UTC(), end.UTC()
		if !end.After(start) {
			return window{}, errors.New("the range's end must be after its start")
		}
		if end.Sub(start) > 366*24*time.Hour {
			return window{}, errors.New("a dashboard shows at most a year; choose a shorter range")
		}
		step := bucketSteps[len(bucketSteps)-1]
		for _, s := range bucketSteps {
			if end.Sub(start)/s <= 60 {
				step = s
				break
			}
		}
		// Whole buckets: start on a boundary, end on the one after the
		// chosen end.
		start = start.Truncate(step)
		if t := end.Truncate(step); t.Before(end) {
			end = t.Add(step)
		}
		return window{Start: start, End: end, Step: step}, nil
	}
	name := q.Get("range")
	if name == "" {
		name = "24h"
	}
	for _, p := range presets {
		if p.Name == name {
			end := now.Truncate(p.Step).Add(p.Step)
			return window{Start: end.Add(-p.Span), End: end, Step: p.Step, Preset: p.Name}, nil
		}
	}
	return window{}, fmt.Errorf("range %q is not one of 1h, 3h, 12h, 24h, 7d, 30d", name)
}

// parseRangeTime reads an RFC 3339 time, or a form's datetime-local
// value ("2026-12-05T10:00"), taken as UTC.
func parseRangeTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05", s)
}

// eventsLink is the event history URL for the filters kv (key, value
// pairs; empty values skipped) over [start, end).
func eventsLink(start, end time.Time, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Add(kv[i], kv[i+1])
		}
	}
	v.Set("start", start.UTC().Format(time.RFC3339))
	v.Set("end", end.UTC().Format(time.RFC3339))
	return "/events?" + v.Encode()
}

// panel is one chart of a dashboard as the template shows it.
type panel struct {
	ID    string
	Title string
	// Help says what the panel counts.
	Help string
	// Chart is the drawing (charts escape everything they are given).
	Chart template.HTML
	// Empty, when set, replaces the chart: the panel has nothing to show.
	Empty string
	// Err says why the panel could not be drawn.
	Err string
	// More links to every event the panel counts.
	More string
	Wide bool
}

// kpi is one headline number.
type kpi struct {
	Label string
	Value string
	Href  string
	Bad   bool
}

// dashView is what templates/dashboard.html renders.
type dashView struct {
	Title    string
	Subtitle string
	Path     string
	Window   window
	Presets  []string
	// StartInput and EndInput fill the custom range's fields.
	StartInput, EndInput string
	KPIs                 []kpi
	Panels               []panel
	// Notice is a page-wide message (no event store).
	Notice string
	// Saved is set on a saved dashboard (for its delete button).
	Saved *dashboards.Dashboard
	Took  string
	// Building is set while the rollups the page would read are built.
	Building string
}

func presetNames() []string {
	out := make([]string, len(presets))
	for i, p := range presets {
		out[i] = p.Name
	}
	return out
}

// newDashView parses the range; on a bad range it renders the error page
// and returns false.
func (c *Console) newDashView(w http.ResponseWriter, r *http.Request, s *Session, title string) (*dashView, bool) {
	win, err := parseWindow(r.URL.Query(), c.clock.Now())
	if err != nil {
		c.errorPage(w, r, s, http.StatusBadRequest, "That range cannot be shown", err.Error()+". Pick a range from the presets or give start and end as RFC 3339 times.")
		return nil, false
	}
	v := &dashView{Title: title, Path: r.URL.Path, Window: win, Presets: presetNames(),
		StartInput: win.Start.Format("2006-01-02T15:04"), EndInput: win.End.Format("2006-01-02T15:04")}
	if c.cfg.Dashboards.Events == nil {
		v.Notice = "This server has no event store to chart."
	}
	return v, true
}

// queryOpts limits a dashboard's queries to the user's accounts.
func queryOpts(s *Session) query.Options {
	acc := s.User.Accounts()
	return query.Options{Accounts: acc, AllAccounts: acc == nil, Timeout: 20 * time.Second, MaxRows: 5000}
}

// rangeOpts are queryOpts for a built-in panel's query over w: the query
// reads only the columnar files that may hold events of w (its own WHERE
// keeps w's end exclusive).
func rangeOpts(s *Session, w window) query.Options {
	o := queryOpts(s)
	o.Start, o.End = w.Start, w.End
	return o
}

// runPanels fills the panels concurrently (a few at a time: each query is
// parallel inside DuckDB already).
func runPanels(fns []func()) {
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f()
		}()
	}
	wg.Wait()
}

// queryError is what a panel says when its query failed.
func queryError(err error) string {
	var q *query.InvalidQueryError
	if errors.As(err, &q) {
		return "The query is not valid: " + q.Error()
	}
	if errors.Is(err, query.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return "The query took too long; choose a shorter range."
	}
	return "The query failed: " + err.Error()
}

// num parses a result cell as a number (0 when empty or not a number).
func num(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0
	}
	return f
}

// sqlTime is a TIMESTAMP literal for t.
func sqlTime(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05") + "'"
}

// sqlString is a string literal for s.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlList is a parenthesised list of string literals.
func sqlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = sqlString(s)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// timeCond limits a query to the window (eventTime is indexed in both
// tiers).
func timeCond(w window) string {
	return "eventTime >= " + sqlTime(w.Start) + " AND eventTime < " + sqlTime(w.End)
}

// userExpr is the user name event history's Username filter matches (as
// the store derives it: "root" for the root user, the IAM user's name,
// an assumed role's session name, …).
const userExpr = `coalesce(nullif(CASE userIdentity.type
	WHEN 'Root' THEN 'root'
	WHEN 'IAMUser' THEN userIdentity.userName
	WHEN 'AssumedRole' THEN coalesce(nullif(regexp_extract(userIdentity.arn, ':assumed-role/[^/]*/(.+)$', 1), ''), userIdentity.sessionContext.sessionIssuer.userName)
	WHEN 'Role' THEN coalesce(nullif(regexp_extract(userIdentity.arn, ':assumed-role/[^/]*/(.+)$', 1), ''), userIdentity.sessionContext.sessionIssuer.userName)
	WHEN 'FederatedUser' THEN regexp_extract(userIdentity.arn, ':federated-user/(.+)$', 1)
	WHEN 'AWSService' THEN userIdentity.invokedBy
	END, ''), nullif(userIdentity.userName, ''), userIdentity.principalId, '')`

// failedLoginCond matches failed console sign-ins: the CIS pattern's
// errorMessage, or the response's Failure.
const failedLoginCond = `eventName = 'ConsoleLogin' AND (errorMessage = 'Failed authentication' OR responseElements['ConsoleLogin'] = 'Failure')`

// series is a time series read from a query: values per series name, in
// first-seen order of the largest total.
type series struct {
	names  []string
	values map[string][]float64
}

// timeSeries counts the events matching cond per bucket of step in w,
// split by seriesExpr ("”" for one series). Series come in the order of
// their largest bucket (ties by name).
func (d *dashSrc) timeSeries(ctx context.Context, w window, step time.Duration, seriesExpr, cond string) (series, error) {
	n := int(w.End.Sub(w.Start) / step)
	src := d.from(cond, seriesExpr)
	q := fmt.Sprintf(`SELECT %s AS b, %s AS s, %s AS n FROM %s WHERE %s AND (%s) GROUP BY 1, 2 ORDER BY 3 DESC, 2, 1`,
		bucketExprOn(src.timeCol, w, step), src.exprs[0], src.count, src.table, timeCondOn(src.timeCol, w), src.cond)
	rows, err := d.run(ctx, w, src, q)
	if err != nil {
		return series{}, err
	}
	out := series{values: map[string][]float64{}}
	for _, row := range rows {
		b, err := strconv.Atoi(row[0])
		if err != nil || b < 0 || b >= n {
			continue
		}
		name := row[1]
		vs, ok := out.values[name]
		if !ok {
			vs = make([]float64, n)
			out.values[name] = vs
			out.names = append(out.names, name)
		}
		vs[b] += num(row[2])
	}
	return out, nil
}

// topRows returns up to limit (key, count) rows of the events matching
// cond grouped by expr, largest first.
func (d *dashSrc) topRows(ctx context.Context, w window, expr, cond string, limit int) ([][2]string, error) {
	src := d.from(cond, expr)
	q := fmt.Sprintf(`SELECT %s AS k, %s AS n FROM %s WHERE %s AND (%s) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %d`,
		src.exprs[0], src.count, src.table, timeCondOn(src.timeCol, w), src.cond, limit)
	rows, err := d.run(ctx, w, src, q)
	if err != nil {
		return nil, err
	}
	out := make([][2]string, 0, len(rows))
	for _, row := range rows {
		out = append(out, [2]string{row[0], row[1]})
	}
	return out, nil
}

func (c *Console) dashboardList(w http.ResponseWriter, r *http.Request, s *Session) {
	type item struct {
		Href, Title, About string
		Saved              *dashboards.Dashboard
	}
	data := struct {
		BuiltIn  []item
		Saved    []dashboards.Dashboard
		CanSave  bool
		ListErr  string
		Canceled bool
	}{
		BuiltIn: []item{
			{Href: "/dashboards/overview", Title: "Overview", About: "Events over time by category, error rate, top event sources, event names, principals and source IPs."},
			{Href: "/dashboards/cis", Title: "CIS AWS Foundations", About: "The CIS benchmark's monitoring panels: console logins without MFA, failed logins over time, by user and by location, root usage, unauthorised API calls, failed-login outliers, KMS key deletion, and the change panels."},
		},
		CanSave: c.cfg.Dashboards.Saved != nil && c.cfg.Dashboards.Events != nil,
	}
	if c.cfg.Dashboards.Saved != nil {
		list, err := c.cfg.Dashboards.Saved.List(r.Context(), s.User.Accounts())
		if err != nil {
			data.ListErr = "Your saved dashboards could not be read: " + err.Error()
		}
		data.Saved = list
	}
	c.render(w, r, s, http.StatusOK, "dashboards", "Dashboards", data)
}
