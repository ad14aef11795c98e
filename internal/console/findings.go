package console

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/sigmawatch"
)

// FindingDeps is what the findings pages read and change.
type FindingDeps struct {
	// Store is the findings store (*findings.Store); nil shows the pages'
	// "not available" state.
	Store FindingStore
	// Rules finds a Sigma rule of the active set by id, for its level,
	// status and file; nil shows what the finding carries only.
	Rules SigmaRules
}

// FindingStore is the findings store as the pages use it (*findings.Store
// implements it). The pages scope every read to the user's accounts.
type FindingStore interface {
	List(ctx context.Context, f findings.Filter) ([]*findings.Finding, string, error)
	Get(ctx context.Context, id string) (*findings.Finding, error)
	SetState(ctx context.Context, id, state, reason, who string) (*findings.Finding, error)
	StateHistory(ctx context.Context, id string) ([]findings.StateChange, error)
}

// SigmaRules looks a rule of the active Sigma set up by id.
type SigmaRules interface {
	SigmaRule(id string) (sigmawatch.LoadedRule, bool)
}

func (c findingPages) findingRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /findings", c.signedIn(c.findingsList))
	mux.HandleFunc("GET /findings/{id}", c.signedIn(c.findingDetail))
	mux.HandleFunc("POST /findings/{id}/state", c.signedIn(c.findingState))
}

// findingsPage is how many findings a page of the list shows.
const findingsPage = 50

// findingStates are the list's state choices: the two groups and each
// state.
var findingStates = []string{"open", "all", findings.StateNew, findings.StateAcknowledged, findings.StateResolved, findings.StateSuppressed}

var findingSeverities = []string{findings.SeverityCritical, findings.SeverityHigh, findings.SeverityMedium, findings.SeverityLow, findings.SeverityInformational}

var findingDetectors = []string{findings.DetectorSigma, findings.DetectorCIS, findings.DetectorAlarm, findings.DetectorEventRule, findings.DetectorInsight}

type findingsListData struct {
	State, Severity, Detector string
	States, Severities        []string
	Detectors                 []string
	Findings                  []*findings.Finding
	// Next is the query of the next page ("" on the last); First the
	// query of the first page when this is not it.
	Next, First template.URL
	Error       string
	Unavailable bool
	Filtered    bool // a filter other than the default is set
}

// findingsList serves GET /findings?state=&severity=&detector=&after=.
func (c findingPages) findingsList(w http.ResponseWriter, r *http.Request, s *Session) {
	q := r.URL.Query()
	d := findingsListData{State: q.Get("state"), Severity: q.Get("severity"), Detector: q.Get("detector"),
		States: findingStates, Severities: findingSeverities, Detectors: findingDetectors}
	if d.State == "" {
		d.State = "open"
	}
	d.Filtered = d.State != "open" || d.Severity != "" || d.Detector != ""
	if c.cfg.Findings.Store == nil {
		d.Unavailable = true
		c.render(w, r, s, http.StatusOK, "findings", "Findings", d)
		return
	}
	f := findings.Filter{Accounts: s.User.Accounts(), Limit: findingsPage, Next: q.Get("after")}
	var bad []string
	switch d.State {
	case "open":
		f.States = []string{findings.StateNew, findings.StateAcknowledged}
	case "all":
	default:
		if !findings.ValidState(d.State) {
			bad = append(bad, "state must be open, all, new, acknowledged, resolved or suppressed")
		}
		f.States = []string{d.State}
	}
	if d.Severity != "" {
		if !findings.ValidSeverity(d.Severity) {
			bad = append(bad, "severity must be informational, low, medium, high or critical")
		}
		f.Severity = d.Severity
	}
	if d.Detector != "" {
		if !slices.Contains(findingDetectors, d.Detector) {
			bad = append(bad, "detector must be sigma, cis, alarm, eventrule or insight")
		}
		f.Detectors = []string{d.Detector}
	}
	if len(bad) > 0 {
		d.Error = "This view's address is not valid: " + strings.Join(bad, "; ") + ". Choose the filters again below."
		c.render(w, r, s, http.StatusBadRequest, "findings", "Findings", d)
		return
	}
	list, next, err := c.cfg.Findings.Store.List(r.Context(), f)
	switch {
	case errors.Is(err, findings.ErrBadToken):
		d.Error = "The page link is out of date (the filters changed). Start again from the first page."
		c.render(w, r, s, http.StatusBadRequest, "findings", "Findings", d)
		return
	case err != nil:
		c.log.Error("console: list findings", "err", err)
		c.errorPage(w, r, s, http.StatusInternalServerError, "Findings could not be read", "The findings store answered: "+err.Error()+". Try again; if it persists, check the server's log.")
		return
	}
	d.Findings = list
	base := url.Values{}
	for k, v := range map[string]string{"state": q.Get("state"), "severity": d.Severity, "detector": d.Detector} {
		if v != "" {
			base.Set(k, v)
		}
	}
	if next != "" {
		n := url.Values{}
		for k, v := range base {
			n[k] = v
		}
		n.Set("after", next)
		d.Next = template.URL(n.Encode())
	}
	if f.Next != "" {
		d.First = template.URL(base.Encode())
		if d.First == "" {
			d.First = "state=open"
		}
	}
	c.render(w, r, s, http.StatusOK, "findings", "Findings", d)
}

// visibleFinding returns the finding id names if the user's accounts may
// see it; another account's finding does not exist for them.
func (c findingPages) visibleFinding(w http.ResponseWriter, r *http.Request, s *Session) (*findings.Finding, bool) {
	id := r.PathValue("id")
	if c.cfg.Findings.Store == nil {
		c.errorPage(w, r, s, http.StatusNotFound, "Findings are not available", "This server has no findings store.")
		return nil, false
	}
	f, err := c.cfg.Findings.Store.Get(r.Context(), id)
	if errors.Is(err, findings.ErrNotFound) || err == nil && !mayRead(s, f.Account) {
		c.errorPage(w, r, s, http.StatusNotFound, "No such finding", "There is no finding "+id+" in your accounts. Open the list of findings to find the one you want.")
		return nil, false
	}
	if err != nil {
		c.log.Error("console: get finding", "id", id, "err", err)
		c.errorPage(w, r, s, http.StatusInternalServerError, "The finding could not be read", "The findings store answered: "+err.Error()+". Try again.")
		return nil, false
	}
	return f, true
}

// mayRead reports whether the user may see data of account.
func mayRead(s *Session, account string) bool {
	accts := s.User.Accounts()
	return accts == nil || slices.Contains(accts, account)
}

type findingEvent struct {
	ID, Link string
}

type findingDetailData struct {
	F       *findings.Finding
	Rule    *sigmawatch.LoadedRule
	History []findings.StateChange
	Events  []findingEvent
	// MoreEvents is set when the finding matched more events than it
	// keeps (or lists): the link to its time window in history.
	MoreEvents  int64
	WindowLink  string
	Changed     string // the state just set
	Error       string
	Reason      string // the reason typed in a refused form
	Actions     []findingAction
	DetectorDoc string
}

// findingAction is one state button of the detail page.
type findingAction struct {
	State, Label string
	Secondary    bool
}

// maxListedEvents bounds the event links the detail page lists.
const maxListedEvents = 25

func (c findingPages) findingDetail(w http.ResponseWriter, r *http.Request, s *Session) {
	f, ok := c.visibleFinding(w, r, s)
	if !ok {
		return
	}
	c.renderFinding(w, r, s, http.StatusOK, f, r.URL.Query().Get("changed"), "", "")
}

func (c findingPages) renderFinding(w http.ResponseWriter, r *http.Request, s *Session, status int, f *findings.Finding, changed, errMsg, reason string) {
	d := findingDetailData{F: f, Error: errMsg, Reason: reason, DetectorDoc: detectorDoc[f.Detector]}
	if findings.ValidState(changed) && changed == f.State {
		d.Changed = changed
	}
	h, err := c.cfg.Findings.Store.StateHistory(r.Context(), f.ID)
	if err != nil {
		c.log.Error("console: finding state history", "id", f.ID, "err", err)
	}
	slices.Reverse(h) // newest first, as the page lists it
	d.History = h
	if f.Detector == findings.DetectorSigma && c.cfg.Findings.Rules != nil {
		if lr, ok := c.cfg.Findings.Rules.SigmaRule(f.RuleID); ok {
			d.Rule = &lr
		}
	}
	for i, id := range f.EventIDs {
		if i == maxListedEvents {
			break
		}
		d.Events = append(d.Events, findingEvent{ID: id, Link: "/events/" + url.PathEscape(f.Account) + "/" + url.PathEscape(id)})
	}
	if f.EventTotal > int64(len(d.Events)) {
		d.MoreEvents = f.EventTotal - int64(len(d.Events))
	}
	if len(f.EventIDs) > 0 {
		// The finding's window in history: its account, from the first
		// to the last matching event (end exclusive, so one second on).
		v := url.Values{}
		v.Set("account", f.Account)
		v.Set("start", f.FirstSeen.UTC().Format(time.RFC3339))
		v.Set("end", f.LastSeen.UTC().Add(time.Second).Truncate(time.Second).Format(time.RFC3339))
		d.WindowLink = "/events?" + v.Encode()
	}
	for _, a := range []findingAction{
		{State: findings.StateAcknowledged, Label: "Acknowledge"},
		{State: findings.StateResolved, Label: "Resolve"},
		{State: findings.StateNew, Label: "Reopen", Secondary: true},
	} {
		if a.State != f.State {
			d.Actions = append(d.Actions, a)
		}
	}
	c.render(w, r, s, status, "findings_detail", f.Title, d)
}

// detectorDoc says in a line where a detector's findings come from.
var detectorDoc = map[string]string{
	findings.DetectorSigma:     "A Sigma rule matched events (SigmaHQ's rules or opentrail's own pack).",
	findings.DetectorCIS:       "An alarm of the CIS monitoring pack went to ALARM.",
	findings.DetectorAlarm:     "A CloudWatch alarm went to ALARM.",
	findings.DetectorEventRule: "An EventBridge rule's pattern matched an event.",
	findings.DetectorInsight:   "CloudTrail Insights saw an unusual call or error rate.",
}

// findingState serves POST /findings/{id}/state (state, reason): the
// state change is recorded with the console user's name.
func (c findingPages) findingState(w http.ResponseWriter, r *http.Request, s *Session) {
	f, ok := c.visibleFinding(w, r, s)
	if !ok {
		return
	}
	state, reason := r.PostFormValue("state"), strings.TrimSpace(r.PostFormValue("reason"))
	if len(reason) > 1024 {
		c.renderFinding(w, r, s, http.StatusBadRequest, f, "", "The reason is longer than 1,024 characters; shorten it.", reason[:1024])
		return
	}
	nf, err := c.cfg.Findings.Store.SetState(r.Context(), f.ID, state, reason, s.User.Name)
	var se *findings.StateError
	switch {
	case errors.As(err, &se):
		c.renderFinding(w, r, s, http.StatusBadRequest, f, "", "The state was not changed: "+se.Reason+".", reason)
		return
	case err != nil:
		c.log.Error("console: set finding state", "id", f.ID, "err", err)
		c.errorPage(w, r, s, http.StatusInternalServerError, "The state was not changed", "The findings store answered: "+err.Error()+". Try again.")
		return
	}
	http.Redirect(w, r, "/findings/"+url.PathEscape(nf.ID)+"?changed="+url.QueryEscape(nf.State), http.StatusSeeOther)
}

func init() {
	funcs["detectorName"] = func(d string) string {
		if n, ok := detectorNames[d]; ok {
			return n
		}
		return d
	}
	funcs["stateClass"] = stateClass
	funcs["shortRule"] = shortRule
	funcs["isAlarmDetector"] = func(d string) bool { return d == findings.DetectorAlarm || d == findings.DetectorCIS }
	funcs["isWebLink"] = func(s string) bool { return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") }
	funcs["alarmLink"] = alarmLink
}

var detectorNames = map[string]string{
	findings.DetectorSigma:     "Sigma rule",
	findings.DetectorCIS:       "CIS alarm",
	findings.DetectorAlarm:     "alarm",
	findings.DetectorEventRule: "event rule",
	findings.DetectorInsight:   "Insights",
}

// stateClass is the badge class of a finding's or an alarm's state.
func stateClass(state string) string {
	switch state {
	case findings.StateNew, "ALARM":
		return "bad"
	case findings.StateAcknowledged, "INSUFFICIENT_DATA":
		return "warn"
	case findings.StateResolved, "OK":
		return "good"
	}
	return ""
}

// shortRule shortens a rule id for the list: an ARN to its resource.
func shortRule(id string) string {
	if strings.HasPrefix(id, "arn:") {
		if i := strings.LastIndexAny(id, ":/"); i >= 0 && i < len(id)-1 {
			return id[i+1:]
		}
	}
	return id
}

// alarmLink is the console page of the alarm an ARN names
// (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME); "" for anything else.
func alarmLink(arn string) string {
	p := strings.SplitN(arn, ":", 7)
	if len(p) != 7 || p[0] != "arn" || p[2] != "cloudwatch" || p[5] != "alarm" {
		return ""
	}
	return alarmPath(p[4], p[3], p[6])
}
