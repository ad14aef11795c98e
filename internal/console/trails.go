package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailwire"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/trail"
)

// TrailDeps is what the trails pages read besides the CloudTrail API,
// which they call in process for everything they show and change.
type TrailDeps struct {
	// Delivery reports how far delivery has got and reads the delivered
	// files for "Validate now"; nil: the pages show only what
	// GetTrailStatus reports, and validation is unavailable.
	Delivery TrailDelivery
	// Accounts lists the accounts a management-account user's trail list
	// covers; nil: the user's own account only.
	Accounts TrailAccounts
	// OrgID is the organisation ("o-…") under whose folder organisation
	// trails deliver; "" when none is configured.
	OrgID string
}

// TrailDelivery is the part of trail delivery the trails pages read
// (*delivery.Deliverer implements it).
type TrailDelivery interface {
	// Status is a trail's delivery status: the delivered-through
	// watermark, counts, the latest log and digest files, the background
	// verifier's latest finding.
	Status(ctx context.Context, arn string) (trail.Status, error)
	// Source reads delivered files and the public keys of sourceRegion,
	// for digest.Validate.
	Source(sourceRegion string) digest.Source
}

// TrailAccounts lists the accounts that have trails or belong to the
// organisation: where a management-account user's trail list looks.
type TrailAccounts interface {
	TrailAccounts(ctx context.Context) ([]string, error)
}

// orgAccessRole is the role a management-account user acts as in a
// member account's trails, as AWS's console switches into a member
// account with the role Organizations creates there.
const orgAccessRole = "OrganizationAccountAccessRole"

func init() {
	// logGroup names the log group of an ARN on the trails pages.
	funcs["logGroup"] = logGroupName
}

func (c trailPages) trailRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /trails", c.signedIn(c.trailList))
	mux.HandleFunc("GET /trails/new", c.signedIn(c.trailNew))
	mux.HandleFunc("POST /trails/new", c.signedIn(c.trailCreate))
	mux.HandleFunc("GET /trails/{account}/{region}/{name}", c.signedIn(c.trailDetail))
	mux.HandleFunc("GET /trails/{account}/{region}/{name}/edit", c.signedIn(c.trailEdit))
	mux.HandleFunc("POST /trails/{account}/{region}/{name}/edit", c.signedIn(c.trailUpdate))
	mux.HandleFunc("POST /trails/{account}/{region}/{name}/start", c.signedIn(c.trailLogging(true)))
	mux.HandleFunc("POST /trails/{account}/{region}/{name}/stop", c.signedIn(c.trailLogging(false)))
	mux.HandleFunc("POST /trails/{account}/{region}/{name}/delete", c.signedIn(c.trailDelete))
	mux.HandleFunc("POST /trails/{account}/{region}/{name}/validate", c.signedIn(c.trailValidate))
}

// trailAccounts are the accounts whose trails s's user sees.
func (c trailPages) trailAccounts(ctx context.Context, s *Session) ([]string, error) {
	own := s.User.Principal.AccountID
	if s.User.Accounts() != nil || c.cfg.Trails.Accounts == nil {
		return []string{own}, nil
	}
	accts, err := c.cfg.Trails.Accounts.TrailAccounts(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{own}
	for _, a := range accts {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out[1:])
	return out, nil
}

// trailPrincipal is who s's user acts as for account's trails: their own
// principal in their account; in another account, which only a
// management-account user sees, the organisation's access role. It is
// nil when the user may not see the account.
func (c trailPages) trailPrincipal(ctx context.Context, s *Session, account string) (*auth.Principal, error) {
	p := s.User.Principal
	if account == p.AccountID {
		return p, nil
	}
	accts, err := c.trailAccounts(ctx, s)
	if err != nil || !slices.Contains(accts, account) {
		return nil, err
	}
	return &auth.Principal{
		AccountID: account, Type: "AssumedRole",
		ARN:         "arn:aws:sts::" + account + ":assumed-role/" + orgAccessRole + "/" + s.User.Name,
		PrincipalID: "AROAOPENTRAILORGACCESS:" + s.User.Name,
	}, nil
}

// trailRef is the trail a page's path names.
type trailRef struct {
	Account, Region, Name string
	p                     *auth.Principal
}

func (t trailRef) ARN() string {
	return trail.ARN{Partition: "aws", Region: t.Region, Account: t.Account, Name: t.Name}.String()
}

// URL is the trail's detail page.
func (t trailRef) URL() string {
	return "/trails/" + url.PathEscape(t.Account) + "/" + url.PathEscape(t.Region) + "/" + url.PathEscape(t.Name)
}

func trailURL(account, region, name string) string {
	return trailRef{Account: account, Region: region, Name: name}.URL()
}

// trailFromPath resolves the path's trail and who acts on it; it writes
// the not-found page and returns false when the user may not see it.
func (c trailPages) trailFromPath(w http.ResponseWriter, r *http.Request, s *Session) (trailRef, bool) {
	t := trailRef{Account: r.PathValue("account"), Region: r.PathValue("region"), Name: r.PathValue("name")}
	p, err := c.trailPrincipal(r.Context(), s, t.Account)
	if err != nil {
		c.errorPage(w, r, s, http.StatusInternalServerError, "Trails unavailable", "The accounts could not be listed: "+err.Error())
		return t, false
	}
	if p == nil {
		c.trailNotFound(w, r, s, t)
		return t, false
	}
	t.p = p
	return t, true
}

func (c trailPages) trailNotFound(w http.ResponseWriter, r *http.Request, s *Session, t trailRef) {
	c.errorPage(w, r, s, http.StatusNotFound, "No such trail",
		"There is no trail "+t.Name+" in "+t.Region+" of account "+t.Account+" that you may see. It may have been deleted; the trail list shows the trails there are.")
}

// apiMessage is what the page says about a refused or failed call.
func apiMessage(op string, err error) string {
	var ae *awsapi.Error
	if errors.As(err, &ae) {
		if ae.Code != "" {
			return ae.Message + " (" + ae.Code + " from " + op + ")"
		}
		return ae.Message
	}
	return op + " failed: " + err.Error()
}

// describe returns the trail's DescribeTrails entry, nil when there is
// none the caller sees.
func (c trailPages) describe(r *http.Request, t trailRef) (*cloudtrailwire.TrailInfo, error) {
	var out struct {
		TrailList []cloudtrailwire.TrailInfo `json:"trailList"`
	}
	if err := c.callAs(r, t.p, t.Region, "cloudtrail", "DescribeTrails", cloudtrailwire.DescribeTrailsInput{TrailNameList: []string{t.ARN()}}, &out); err != nil {
		return nil, err
	}
	for i := range out.TrailList {
		if out.TrailList[i].TrailARN == t.ARN() {
			return &out.TrailList[i], nil
		}
	}
	return nil, nil
}

// statusView is GetTrailStatus with plain times.
type statusView struct {
	IsLogging                                   bool
	LatestDelivery, LatestDigest                time.Time
	LatestDeliveryError, LatestDigestError      string
	StartLogging, StopLogging, DeliveredThrough time.Time
	// Err says why GetTrailStatus itself failed.
	Err string
}

func plainTime(t *awsapi.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func (c trailPages) trailStatus(r *http.Request, t trailRef) statusView {
	var out cloudtrailwire.GetTrailStatusOutput
	arn := t.ARN()
	if err := c.callAs(r, t.p, t.Region, "cloudtrail", "GetTrailStatus", cloudtrailwire.TrailNameInput{Name: &arn}, &out); err != nil {
		return statusView{Err: apiMessage("GetTrailStatus", err)}
	}
	return statusView{
		IsLogging: out.IsLogging, LatestDelivery: plainTime(out.LatestDeliveryTime), LatestDigest: plainTime(out.LatestDigestDeliveryTime),
		LatestDeliveryError: out.LatestDeliveryError, LatestDigestError: out.LatestDigestDeliveryError,
		StartLogging: plainTime(out.StartLoggingTime), StopLogging: plainTime(out.StopLoggingTime),
		DeliveredThrough: plainTime(out.DeliveredThroughTime),
	}
}

// trailRow is one line of the trail list.
type trailRow struct {
	Info    cloudtrailwire.TrailInfo
	Account string
	URL     string
	Status  statusView
}

type trailListData struct {
	Rows          []trailRow
	AllAccounts   bool // the user sees every account: show the account column
	Errors        []string
	Msg           string
	DefaultRegion string
}

// trailList is GET /trails: every trail of the accounts the user sees,
// with its logging state and latest delivery.
func (c trailPages) trailList(w http.ResponseWriter, r *http.Request, s *Session) {
	accts, err := c.trailAccounts(r.Context(), s)
	if err != nil {
		c.errorPage(w, r, s, http.StatusInternalServerError, "Trails unavailable", "The accounts could not be listed: "+err.Error())
		return
	}
	d := trailListData{AllAccounts: s.User.Accounts() == nil, Msg: flashText(r.URL.Query().Get("done")), DefaultRegion: c.cfg.DefaultRegion}
	for _, acct := range accts {
		p, _ := c.trailPrincipal(r.Context(), s, acct)
		if p == nil {
			continue
		}
		rows, err := c.accountTrails(r, p)
		if err != nil {
			d.Errors = append(d.Errors, "Account "+acct+": "+err.Error())
			continue
		}
		d.Rows = append(d.Rows, rows...)
	}
	c.render(w, r, s, http.StatusOK, "trails", "Trails", d)
}

// accountTrails lists p's account's trails in every region: ListTrails,
// then DescribeTrails by ARN (which answers in any region) and each
// trail's GetTrailStatus.
func (c trailPages) accountTrails(r *http.Request, p *auth.Principal) ([]trailRow, error) {
	var arns []string
	var next *string
	for {
		var out cloudtrailwire.ListTrailsOutput
		if err := c.callAs(r, p, "", "cloudtrail", "ListTrails", cloudtrailwire.ListTrailsInput{NextToken: next}, &out); err != nil {
			return nil, errors.New(apiMessage("ListTrails", err))
		}
		for _, t := range out.Trails {
			arns = append(arns, t.TrailARN)
		}
		if out.NextToken == "" {
			break
		}
		next = &out.NextToken
	}
	if len(arns) == 0 {
		return nil, nil
	}
	var out struct {
		TrailList []cloudtrailwire.TrailInfo `json:"trailList"`
	}
	if err := c.callAs(r, p, "", "cloudtrail", "DescribeTrails", cloudtrailwire.DescribeTrailsInput{TrailNameList: arns}, &out); err != nil {
		return nil, errors.New(apiMessage("DescribeTrails", err))
	}
	rows := make([]trailRow, 0, len(out.TrailList))
	for _, ti := range out.TrailList {
		t := trailRef{Account: p.AccountID, Region: ti.HomeRegion, Name: ti.Name, p: p}
		rows = append(rows, trailRow{Info: ti, Account: p.AccountID, URL: t.URL(), Status: c.trailStatus(r, t)})
	}
	return rows, nil
}

// flashText is the message a redirect after a change asks for.
func flashText(done string) string {
	return map[string]string{
		"created": "The trail was created.", "updated": "The trail's settings were saved.",
		"started": "Logging started: the trail delivers events from now on.",
		"stopped": "Logging stopped: the trail delivers no events until you start it again.",
		"deleted": "The trail was deleted. Files it delivered stay in their bucket.",
	}[done]
}

// trailDetailData is the trail page.
type trailDetailData struct {
	Ref           trailRef
	Info          cloudtrailwire.TrailInfo
	Status        statusView
	Delivery      *trail.Status // nil: not available
	DeliveryErr   string
	Selectors     []string // readable
	SelectorsJSON string
	SelectorsErr  string
	Insights      []string
	InsightsErr   string
	LogGroup      string // the log group's name
	Msg, Error    string
	CanValidate   bool
	Validate      validateForm
	EventsURL     string
}

// trailDetail is GET /trails/{account}/{region}/{name}.
func (c trailPages) trailDetail(w http.ResponseWriter, r *http.Request, s *Session) {
	t, ok := c.trailFromPath(w, r, s)
	if !ok {
		return
	}
	c.showTrail(w, r, s, t, http.StatusOK, flashText(r.URL.Query().Get("done")), "")
}

// describeOrFail is describe, writing the error or not-found page and
// returning nil when there is no trail to show.
func (c trailPages) describeOrFail(w http.ResponseWriter, r *http.Request, s *Session, t trailRef) *cloudtrailwire.TrailInfo {
	info, err := c.describe(r, t)
	switch {
	case err != nil:
		c.errorPage(w, r, s, http.StatusBadGateway, "Trail unavailable", apiMessage("DescribeTrails", err))
	case info == nil:
		c.trailNotFound(w, r, s, t)
	}
	return info
}

func (c trailPages) showTrail(w http.ResponseWriter, r *http.Request, s *Session, t trailRef, status int, msg, errMsg string) {
	info := c.describeOrFail(w, r, s, t)
	if info == nil {
		return
	}
	d := trailDetailData{Ref: t, Info: *info, Status: c.trailStatus(r, t), Msg: msg, Error: errMsg}
	arn := t.ARN()
	var sel cloudtrailwire.EventSelectorsOutput
	if err := c.callAs(r, t.p, t.Region, "cloudtrail", "GetEventSelectors", cloudtrailwire.TrailNameRefInput{TrailName: &arn}, &sel); err != nil {
		d.SelectorsErr = apiMessage("GetEventSelectors", err)
	} else {
		d.Selectors = describeSelectors(sel.EventSelectors, sel.AdvancedEventSelectors)
		d.SelectorsJSON = selectorsJSON(sel.EventSelectors, sel.AdvancedEventSelectors)
	}
	ins, err := c.insightSelectors(r, t)
	if err != nil {
		d.InsightsErr = apiMessage("GetInsightSelectors", err)
	}
	d.Insights = describeInsights(ins)
	if dl := c.cfg.Trails.Delivery; dl != nil {
		st, err := dl.Status(r.Context(), arn)
		if err != nil {
			d.DeliveryErr = err.Error()
		} else {
			d.Delivery = &st
		}
		d.CanValidate = info.LogFileValidationEnabled || st.Digests > 0
	}
	d.LogGroup = logGroupName(info.CloudWatchLogsLogGroupArn)
	now := c.clock.Now().UTC()
	d.Validate = validateForm{URL: t.URL() + "/validate", CSRF: s.CSRF, Start: now.Add(-defaultValidateFor).Format(formTime), End: now.Format(formTime),
		Region: t.Region, Account: t.Account, Org: info.IsOrganizationTrail}
	d.EventsURL = "/events?" + url.Values{"EventSource": {"cloudtrail.amazonaws.com"}, "ResourceName": {t.Name}, "range": {"90d"}}.Encode()
	c.render(w, r, s, status, "trail", "Trail "+t.Name, d)
}

// insightSelectors returns the trail's Insights selectors; none is not an
// error (GetInsightSelectors answers InsightNotEnabledException).
func (c trailPages) insightSelectors(r *http.Request, t trailRef) ([]cloudtrailwire.InsightSelector, error) {
	arn := t.ARN()
	var out cloudtrailwire.InsightSelectorsOutput
	err := c.callAs(r, t.p, t.Region, "cloudtrail", "GetInsightSelectors", cloudtrailwire.TrailNameRefInput{TrailName: &arn}, &out)
	var ae *awsapi.Error
	if errors.As(err, &ae) && ae.Code == "InsightNotEnabledException" {
		return nil, nil
	}
	return out.InsightSelectors, err
}

// logGroupName is the name in a log group ARN
// (arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*).
func logGroupName(arn string) string {
	_, rest, ok := strings.Cut(arn, ":log-group:")
	if !ok {
		return arn
	}
	return strings.TrimSuffix(rest, ":*")
}

// trailLogging is POST .../start and .../stop.
func (c trailPages) trailLogging(on bool) pageFunc {
	op, done := "StopLogging", "stopped"
	if on {
		op, done = "StartLogging", "started"
	}
	return func(w http.ResponseWriter, r *http.Request, s *Session) {
		t, ok := c.trailFromPath(w, r, s)
		if !ok {
			return
		}
		arn := t.ARN()
		if err := c.callAs(r, t.p, t.Region, "cloudtrail", op, cloudtrailwire.TrailNameInput{Name: &arn}, nil); err != nil {
			c.showTrail(w, r, s, t, http.StatusBadRequest, "", apiMessage(op, err))
			return
		}
		http.Redirect(w, r, t.URL()+"?done="+done, http.StatusSeeOther)
	}
}

// trailDelete is POST .../delete; the form repeats the trail's name.
func (c trailPages) trailDelete(w http.ResponseWriter, r *http.Request, s *Session) {
	t, ok := c.trailFromPath(w, r, s)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != t.Name {
		c.showTrail(w, r, s, t, http.StatusBadRequest, "", "The trail was not deleted: type its name, "+t.Name+", to confirm.")
		return
	}
	arn := t.ARN()
	if err := c.callAs(r, t.p, t.Region, "cloudtrail", "DeleteTrail", cloudtrailwire.TrailNameInput{Name: &arn}, nil); err != nil {
		c.showTrail(w, r, s, t, http.StatusBadRequest, "", apiMessage("DeleteTrail", err))
		return
	}
	http.Redirect(w, r, "/trails?done=deleted", http.StatusSeeOther)
}
