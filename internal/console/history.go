package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/store"
)

// HistoryDeps is what the event history pages read.
type HistoryDeps struct {
	// Events looks stored events up, both tiers (store.Store). Nil means
	// the history is unavailable: its pages say so.
	Events EventLookup
	// TokenKey signs the pages' after tokens (HMAC), so a page link is
	// opaque and cannot be forged into a position; tokens stay valid as
	// long as the key does. Empty: a key made at start-up.
	TokenKey []byte
	// ScanLimit caps the events one page examines for the filter the
	// index cannot answer (q, free text);
	// past it the page says how far back it searched and offers to
	// continue. Default 5,000.
	ScanLimit int
	// ScanTime bounds the same work by time (default 700 ms).
	ScanTime time.Duration
	// DownloadLimit caps the events of one download (default 100,000).
	DownloadLimit int
}

// EventLookup is the store's history lookup (store.Store.Lookup): the
// events q selects, newest first.
type EventLookup interface {
	Lookup(ctx context.Context, q store.LookupQuery) ([]store.Event, error)
}

const (
	historyPageSize      = 50
	defaultScanLimit     = 5000
	defaultScanTime      = 700 * time.Millisecond
	defaultDownloadLimit = 100000
	// downloadScanFactor: a download with a post-filter examines at most
	// this many events per row it may return.
	downloadScanFactor = 20
)

// historyAttrKeys are the attribute filters, in the order the form
// offers them: LookupEvents' keys and the console's two more. ReadOnly
// has a control of its own.
var historyAttrKeys = []string{"Username", "EventName", "EventSource", "ResourceName", "ResourceType", "AccessKeyId", "EventId", "SourceIPAddress", "ErrorCode"}

// attrLabels name the attribute keys as the page shows them.
var attrLabels = map[string]string{
	"Username": "User name", "EventName": "Event name", "EventSource": "Event source",
	"ResourceName": "Resource name", "ResourceType": "Resource type", "AccessKeyId": "Access key",
	"EventId": "Event ID", "SourceIPAddress": "Source IP address", "ErrorCode": "Error code", "ReadOnly": "Read-only",
}

// historyRanges are the time presets, relative to now.
var historyRanges = []historyRange{
	{"15m", "Last 15 minutes", 15 * time.Minute}, {"1h", "Last hour", time.Hour}, {"3h", "Last 3 hours", 3 * time.Hour},
	{"12h", "Last 12 hours", 12 * time.Hour}, {"24h", "Last 24 hours", 24 * time.Hour}, {"7d", "Last 7 days", 7 * 24 * time.Hour},
	{"30d", "Last 30 days", 30 * 24 * time.Hour}, {"90d", "Last 90 days", 90 * 24 * time.Hour},
}

type historyRange struct {
	Key, Label string
	D          time.Duration
}

// historyCategories map the category filter's values to the stored
// eventCategory values.
var historyCategories = []historyCategory{
	{"management", "Management", event.CategoryManagement},
	{"data", "Data", event.CategoryData},
	{"insight", "Insight", event.CategoryInsight},
	{"aggregated", "Aggregated", event.CategoryAggregated},
}

type historyCategory struct{ Key, Label, Stored string }

func (c historyPages) historyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /events", c.signedIn(c.historyList))
	mux.HandleFunc("GET /events.json", c.signedIn(c.historyJSON))
	mux.HandleFunc("GET /events.csv", c.signedIn(c.historyCSV))
	mux.HandleFunc("GET /events/{account}/{id}", c.signedIn(c.historyDetail))
}

// historyFilter is one history view's filters, parsed from its URL.
type historyFilter struct {
	Attrs      []store.Attr // in URL order
	Errors     bool
	Categories []string // the URL's values (management, …)
	Account    string
	Region     string
	Range      string
	Start, End time.Time // resolved; zero = open
	StartText  string    // as given
	EndText    string
	Q          string
	After      *store.Position
}

// badFilter is a filter the page cannot use; Message says which and how
// to write it.
type badFilter struct{ Message string }

func (e *badFilter) Error() string { return e.Message }

func badf(format string, a ...any) error { return &badFilter{Message: fmt.Sprintf(format, a...)} }

// parseHistory reads the filters of v (a /events URL's query), with now
// for the relative ranges. Empty values are no filter.
func (c historyPages) parseHistory(v url.Values, now time.Time) (*historyFilter, error) {
	f := &historyFilter{Q: strings.TrimSpace(v.Get("q")), Account: strings.TrimSpace(v.Get("account")), Region: strings.TrimSpace(v.Get("region"))}
	// Attributes in the order the URL names them, so a shared URL shows
	// its filters as written.
	for _, key := range append(slices.Clone(historyAttrKeys), "ReadOnly") {
		for _, val := range v[key] {
			val = strings.TrimSpace(val)
			if val == "" {
				continue
			}
			if key == "ReadOnly" && val != "true" && val != "false" {
				return nil, badf("ReadOnly must be true or false, not %q.", val)
			}
			if len(val) > 2000 {
				return nil, badf("The %s filter is too long (at most 2,000 characters).", attrLabels[key])
			}
			f.Attrs = append(f.Attrs, store.Attr{Key: key, Value: val})
		}
	}
	switch e := v.Get("errors"); e {
	case "", "0":
	case "1", "true", "on":
		f.Errors = true
	default:
		return nil, badf("errors must be 1 (only failed calls) or absent, not %q.", e)
	}
	for _, cat := range v["category"] {
		if cat == "" {
			continue
		}
		if !slices.ContainsFunc(historyCategories, func(h historyCategory) bool { return h.Key == cat }) {
			return nil, badf("Unknown event category %q: use management, data, insight or aggregated.", cat)
		}
		if !slices.Contains(f.Categories, cat) {
			f.Categories = append(f.Categories, cat)
		}
	}
	if f.Account != "" && !isAccountID(f.Account) {
		return nil, badf("account must be a 12-digit AWS account ID, not %q.", f.Account)
	}
	if len(f.Q) > 500 {
		return nil, badf("The search text is too long (at most 500 characters).")
	}
	f.StartText, f.EndText = strings.TrimSpace(v.Get("start")), strings.TrimSpace(v.Get("end"))
	var err error
	if f.StartText != "" {
		if f.Start, err = parseTime(f.StartText); err != nil {
			return nil, badf("The start time %q is not a time: write it as RFC 3339, e.g. 2026-12-05T10:00:00Z.", f.StartText)
		}
	}
	if f.EndText != "" {
		if f.End, err = parseTime(f.EndText); err != nil {
			return nil, badf("The end time %q is not a time: write it as RFC 3339, e.g. 2026-12-05T10:00:00Z.", f.EndText)
		}
	}
	if !f.Start.IsZero() && !f.End.IsZero() && f.End.Before(f.Start) {
		return nil, badf("The end time %s is before the start time %s.", f.EndText, f.StartText)
	}
	if r := v.Get("range"); r != "" {
		i := slices.IndexFunc(historyRanges, func(h historyRange) bool { return h.Key == r })
		if i < 0 {
			return nil, badf("Unknown time range %q: use 15m, 1h, 3h, 12h, 24h, 7d, 30d or 90d, or give start and end.", r)
		}
		f.Range = r
		// A custom start or end overrides the preset.
		if f.StartText == "" && f.EndText == "" {
			f.Start = now.Add(-historyRanges[i].D)
		}
	}
	if tok := v.Get("after"); tok != "" {
		if f.After, err = c.openAfter(tok); err != nil {
			return nil, badf("The page link's position (after=…) is damaged or was made by another server. Start again from the first page of these filters.")
		}
	}
	return f, nil
}

// parseTime reads RFC 3339, or the shorter forms a person types (UTC).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a time")
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// values is the filter as URL query values (without after): what a
// shareable link of this view carries.
func (f *historyFilter) values() url.Values {
	v := url.Values{}
	for _, a := range f.Attrs {
		v.Add(a.Key, a.Value)
	}
	if f.Errors {
		v.Set("errors", "1")
	}
	for _, c := range f.Categories {
		v.Add("category", c)
	}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("account", f.Account)
	set("region", f.Region)
	set("range", f.Range)
	set("start", f.StartText)
	set("end", f.EndText)
	set("q", f.Q)
	return v
}

// query turns the filter into the store's query for user u.
func (f *historyFilter) query(u *User) store.LookupQuery {
	q := store.LookupQuery{Accounts: u.Accounts(), Region: f.Region, Start: f.Start, End: f.End, Attrs: f.Attrs, Failures: f.Errors, After: f.After}
	if f.Account != "" {
		q.Accounts = []string{f.Account}
	}
	for _, c := range f.Categories {
		for _, h := range historyCategories {
			if h.Key == c {
				q.Categories = append(q.Categories, h.Stored)
			}
		}
	}
	return q
}

// postFiltered reports whether events the index selects still need a
// look at their records: free text. (errors=1 is the store's Failures,
// which it answers exactly, failed console sign-ins included.)
func (f *historyFilter) postFiltered() bool { return f.Q != "" }

// keep reports whether an event the index selected matches the filter it
// could not check, the free text.
func (f *historyFilter) keep(e *store.Event, lowerQ []byte) bool {
	return len(lowerQ) == 0 || containsFold(e.Rec.Raw, lowerQ)
}

// containsFold reports whether raw contains lowerQ (already lower case),
// ignoring ASCII case.
func containsFold(raw, lowerQ []byte) bool {
	if len(lowerQ) == 0 {
		return true
	}
	first := lowerQ[0]
	for i := 0; i+len(lowerQ) <= len(raw); i++ {
		b := raw[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != first {
			continue
		}
		j := 1
		for ; j < len(lowerQ); j++ {
			b := raw[i+j]
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			if b != lowerQ[j] {
				break
			}
		}
		if j == len(lowerQ) {
			return true
		}
	}
	return false
}

// historyResult is what one search of the history found.
type historyResult struct {
	Events []store.Event
	// Next is where the following page starts; nil at the end.
	Next *store.Position
	// Partial is true when the search stopped at its scan bound before
	// filling the page: Next is then the last event examined.
	Partial  bool
	Scanned  int
	SearchTo time.Time // eventTime of the last event examined
}

// search finds up to limit events of f for u, newest first. Filters the
// index answers cost one lookup; the others examine at most scanLimit
// candidates (and spend at most scanTime, if positive) before the search
// stops, with Partial set.
func (c historyPages) search(ctx context.Context, u *User, f *historyFilter, limit, scanLimit int, scanTime time.Duration) (*historyResult, error) {
	lk := c.cfg.History.Events
	q := f.query(u)
	res := &historyResult{}
	if !f.postFiltered() {
		// The page shows list fields only: columnar events are read from
		// those columns alone (store.LookupQuery.Brief).
		q.Limit, q.Brief = limit+1, true
		evs, err := lk.Lookup(ctx, q)
		if err != nil {
			return nil, err
		}
		if len(evs) > limit {
			evs = evs[:limit]
			res.Next = position(evs[limit-1])
		}
		res.Events, res.Scanned = evs, len(evs)
		return res, nil
	}
	lowerQ := bytes.ToLower([]byte(f.Q))
	var deadline time.Time
	if scanTime > 0 {
		deadline = time.Now().Add(scanTime)
	}
	batch := max(limit+1, 200)
	for {
		q.Limit = min(batch, scanLimit-res.Scanned)
		began := time.Now()
		evs, err := lk.Lookup(ctx, q)
		if err != nil {
			return nil, err
		}
		took := time.Since(began)
		for i := range evs {
			e := evs[i]
			res.Scanned++
			res.SearchTo = e.Rec.EventTime
			if !f.keep(&e, lowerQ) {
				continue
			}
			if len(res.Events) == limit {
				// One more than the page: there is a next page, after
				// the last one shown.
				res.Next = position(res.Events[limit-1])
				return res, nil
			}
			res.Events = append(res.Events, e)
		}
		if len(evs) < q.Limit {
			return res, nil // the history is exhausted
		}
		last := position(evs[len(evs)-1])
		// Stop when the next batch (larger than this one) would likely
		// end past the deadline, not only once past it: the page keeps
		// to its time.
		if res.Scanned >= scanLimit || !deadline.IsZero() && time.Now().Add(took).After(deadline) {
			res.Next, res.Partial = last, true
			return res, nil
		}
		q.After = last
		batch = min(batch*2, 2000)
	}
}

func position(e store.Event) *store.Position {
	return &store.Position{Time: e.Rec.EventTime, Seq: e.Seq}
}

// The after token: a signed position. It is bound to no filters — any
// position is a place in any view's newest-first order — so a link stays
// valid when the filters around it change.
var (
	tokenKeyOnce sync.Once
	startupKey   []byte
)

func (c historyPages) tokens() pagetoken.Signer {
	if k := c.cfg.History.TokenKey; len(k) > 0 {
		return pagetoken.NewSigner(k)
	}
	tokenKeyOnce.Do(func() {
		startupKey = make([]byte, 32)
		rand.Read(startupKey)
	})
	return pagetoken.NewSigner(startupKey)
}

var afterQuery = pagetoken.NewHasher().Str("console-history").Sum()

func (c historyPages) afterToken(p *store.Position) string {
	return c.tokens().Issue(pagetoken.KindConsoleHistory, afterQuery, pagetoken.Position(p.Time, p.Seq))
}

func (c historyPages) openAfter(tok string) (*store.Position, error) {
	t, seq, err := c.tokens().OpenPosition(pagetoken.KindConsoleHistory, afterQuery, tok)
	if err != nil {
		return nil, err
	}
	return &store.Position{Time: t, Seq: seq}, nil
}

// historyView reads the filters of r, answering the form's submission
// (k/v pairs) with a redirect to the view's canonical URL, a bad filter
// with a 400 page, and an account the user may not see with a 403. It
// returns nil when it has answered.
func (c historyPages) historyView(w http.ResponseWriter, r *http.Request, s *Session) *historyFilter {
	if c.cfg.History.Events == nil {
		c.errorPage(w, r, s, http.StatusServiceUnavailable, "Event history unavailable", "This server has no event store to read the history from.")
		return nil
	}
	v := r.URL.Query()
	if _, ok := v["k"]; ok {
		http.Redirect(w, r, r.URL.Path+canonical(v), http.StatusSeeOther)
		return nil
	}
	f, err := c.parseHistory(v, c.clock.Now())
	var bad *badFilter
	if errors.As(err, &bad) {
		page := badPage{Heading: "These filters cannot be used", Message: bad.Message}
		if v.Has("after") {
			// Perhaps only the position is bad: offer the first page.
			v.Del("after")
			if _, err := c.parseHistory(v, c.clock.Now()); err == nil {
				page.Retry, page.RetryLabel = withQuery("/events", v), "First page of these filters"
			}
		}
		c.render(w, r, s, http.StatusBadRequest, "events_bad", page.Heading, page)
		return nil
	}
	if err != nil {
		c.errorPage(w, r, s, http.StatusInternalServerError, "The filters could not be read", err.Error())
		return nil
	}
	if own := s.User.Accounts(); f.Account != "" && own != nil && !slices.Contains(own, f.Account) {
		c.errorPage(w, r, s, http.StatusForbidden, "Not your account", "You can see the events of account "+strings.Join(own, ", ")+" only; remove account="+f.Account+" from the URL.")
		return nil
	}
	return f
}

// badPage is the answer to filters that cannot be used.
type badPage struct {
	Heading, Message  string
	Retry, RetryLabel string // a view that can, if any
}

// canonical turns the filter form's submission into the view's URL: each
// non-empty k/v pair (an attribute row) becomes Key=value, empty fields
// are dropped, and the paging position too (new filters start at the
// newest event).
func canonical(v url.Values) string {
	out := url.Values{}
	ks, vs := v["k"], v["v"]
	for i := range min(len(ks), len(vs)) {
		val := strings.TrimSpace(vs[i])
		if val != "" && slices.Contains(historyAttrKeys, ks[i]) {
			out.Add(ks[i], val)
		}
	}
	for key, vals := range v {
		if key == "k" || key == "v" || key == "after" {
			continue
		}
		for _, val := range vals {
			if val = strings.TrimSpace(val); val != "" {
				out.Add(key, val)
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "?" + out.Encode()
}

// historyRow is one row of the table.
type historyRow struct {
	Href      string
	Time      time.Time
	User      string
	Name      string
	Source    string
	Resources []string
	More      int // resources not shown
	SourceIP  string
	ErrorCode string
	Failed    bool // an errorCode or a failed sign-in
	ReadOnly  string
	Account   string
	Region    string
}

// rowOf is e's row; it uses only the fields of a brief event.
func rowOf(e store.Event) historyRow {
	r := e.Rec
	row := historyRow{
		Href: detailPath(r.AccountID, r.EventID) + "?at=" + r.EventTime.UTC().Format(time.RFC3339Nano), Time: r.EventTime, User: r.Username, Name: r.EventName, Source: r.EventSource,
		SourceIP: r.SourceIP, ErrorCode: r.ErrorCode, ReadOnly: r.ReadOnlyString(), Account: r.AccountID, Region: r.AWSRegion,
	}
	row.Failed = e.Failed()
	if row.Failed && row.ErrorCode == "" {
		row.ErrorCode = "Failed sign-in"
	}
	for i, res := range r.Resources {
		if i == 2 {
			row.More = len(r.Resources) - 2
			break
		}
		row.Resources = append(row.Resources, res.Name)
	}
	return row
}

func detailPath(account, id string) string {
	return "/events/" + url.PathEscape(account) + "/" + url.PathEscape(id)
}

// chip is an active filter with a link to the view without it.
type chip struct {
	Label, Value, Remove string
}

type historyPage struct {
	Filter    *historyFilter
	Rows      []historyRow
	Chips     []chip
	AttrRows  []store.Attr // the form's attribute rows: the filters, then empty ones
	AttrKeys  []string
	Labels    map[string]string
	Ranges    []historyRange
	Cats      []historyCategoryBox
	ReadOnly  string
	JSONHref  string // the downloads of this view (without after)
	CSVHref   string
	NextHref  string
	FirstHref string // set on later pages
	Partial   bool
	Scanned   int
	SearchTo  time.Time
	AllAccts  bool // the user sees every account
	Accounts  []string
	LimitText string // the download limit, as the page says it
	Took      time.Duration
}

type historyCategoryBox struct {
	Key, Label string
	Checked    bool
}

func (c historyPages) historyList(w http.ResponseWriter, r *http.Request, s *Session) {
	f := c.historyView(w, r, s)
	if f == nil {
		return
	}
	started := time.Now()
	res, err := c.search(r.Context(), s.User, f, historyPageSize, orDefault(c.cfg.History.ScanLimit, defaultScanLimit), orDefault(c.cfg.History.ScanTime, defaultScanTime))
	if err != nil {
		c.log.Error("console: event history", "err", err)
		c.errorPage(w, r, s, http.StatusInternalServerError, "The history could not be read", "The event store failed to answer: "+err.Error())
		return
	}
	v := f.values()
	p := &historyPage{
		Filter: f, JSONHref: withQuery("/events.json", v), CSVHref: withQuery("/events.csv", v), AttrKeys: historyAttrKeys, Labels: attrLabels, Ranges: historyRanges,
		Partial: res.Partial, Scanned: res.Scanned, SearchTo: res.SearchTo, AllAccts: s.User.Accounts() == nil, Accounts: s.User.Accounts(),
		LimitText: thousands(orDefault(c.cfg.History.DownloadLimit, defaultDownloadLimit)), Took: time.Since(started).Round(time.Millisecond),
	}
	for _, e := range res.Events {
		p.Rows = append(p.Rows, rowOf(e))
	}
	if res.Next != nil {
		nv := f.values()
		nv.Set("after", c.afterToken(res.Next))
		p.NextHref = withQuery("/events", nv)
	}
	if f.After != nil {
		p.FirstHref = withQuery("/events", v)
	}
	for _, a := range f.Attrs {
		if a.Key == "ReadOnly" {
			p.ReadOnly = a.Value
			continue
		}
		p.AttrRows = append(p.AttrRows, a)
	}
	// Two empty rows to add filters in, offering attributes not yet used.
	shown := len(p.AttrRows)
	for _, k := range historyAttrKeys {
		if len(p.AttrRows) == shown+2 {
			break
		}
		if !slices.ContainsFunc(f.Attrs, func(a store.Attr) bool { return a.Key == k }) {
			p.AttrRows = append(p.AttrRows, store.Attr{Key: k})
		}
	}
	for _, h := range historyCategories {
		p.Cats = append(p.Cats, historyCategoryBox{Key: h.Key, Label: h.Label, Checked: slices.Contains(f.Categories, h.Key)})
	}
	p.Chips = chips(f)
	c.render(w, r, s, http.StatusOK, "events", "Event history", p)
}

// chips lists the active filters, each with the view's URL without it.
func chips(f *historyFilter) []chip {
	var out []chip
	without := func(drop func(key, val string) bool) string {
		v := url.Values{}
		for key, vals := range f.values() {
			for _, val := range vals {
				if !drop(key, val) {
					v.Add(key, val)
				}
			}
		}
		return withQuery("/events", v)
	}
	seen := map[string]bool{}
	// add shows key=val as label: shown.
	add := func(label, shown, key, val string) {
		if seen[key+"\x00"+val] {
			return
		}
		seen[key+"\x00"+val] = true
		out = append(out, chip{Label: label, Value: shown, Remove: without(func(k, v string) bool { return k == key && v == val })})
	}
	for _, a := range f.Attrs {
		add(attrLabels[a.Key], a.Value, a.Key, a.Value)
	}
	if f.Errors {
		add("Only", "failed calls", "errors", "1")
	}
	for _, c := range f.Categories {
		add("Category", c, "category", c)
	}
	if f.Account != "" {
		add("Account", f.Account, "account", f.Account)
	}
	if f.Region != "" {
		add("Region", f.Region, "region", f.Region)
	}
	if f.Q != "" {
		add("Text", f.Q, "q", f.Q)
	}
	return out
}

// thousands writes n with thousands separators: 100,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// withQuery is path with v as its query, if any.
func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// orDefault is v, or def when v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// detailPage is one event's page.
type detailPage struct {
	Rec       *event.Record
	Pretty    string
	Props     []prop
	Resources []detailResource
	Related   []related
	JSONHref  string
	Failed    bool
}

type prop struct{ Name, Value, Href string }

type detailResource struct{ Type, Name, Href string }

type related struct{ Label, Value, Href string }

func (c historyPages) historyDetail(w http.ResponseWriter, r *http.Request, s *Session) {
	account, id := r.PathValue("account"), r.PathValue("id")
	notFound := func() {
		c.errorPage(w, r, s, http.StatusNotFound, "Event not found", "There is no event "+id+" in account "+account+" that you can see. It may be older than the retention period; search the event history for it.")
	}
	if c.cfg.History.Events == nil {
		c.errorPage(w, r, s, http.StatusServiceUnavailable, "Event history unavailable", "This server has no event store to read the history from.")
		return
	}
	if own := s.User.Accounts(); !isAccountID(account) || own != nil && !slices.Contains(own, account) || id == "" {
		notFound()
		return
	}
	q := store.LookupQuery{Accounts: []string{account}, Attrs: []store.Attr{{Key: "EventId", Value: id}}, Limit: 1}
	var evs []store.Event
	var err error
	// The list's links say when the event happened (at=): looking in that
	// second first reads one day's files rather than scanning eventIDs
	// back through the history. A wrong hint costs the full lookup.
	if at, perr := time.Parse(time.RFC3339Nano, r.URL.Query().Get("at")); perr == nil {
		hinted := q
		hinted.Start, hinted.End = at.Truncate(time.Second), at.Truncate(time.Second).Add(time.Second)
		evs, err = c.cfg.History.Events.Lookup(r.Context(), hinted)
	}
	if err == nil && len(evs) == 0 {
		evs, err = c.cfg.History.Events.Lookup(r.Context(), q)
	}
	if err != nil {
		c.log.Error("console: event detail", "err", err)
		c.errorPage(w, r, s, http.StatusInternalServerError, "The event could not be read", "The event store failed to answer: "+err.Error())
		return
	}
	if len(evs) == 0 {
		notFound()
		return
	}
	rec := evs[0].Rec
	p := &detailPage{Rec: rec, Failed: rec.Failed()}
	var pretty bytes.Buffer
	if json.Indent(&pretty, rec.Raw, "", "  ") == nil {
		p.Pretty = pretty.String()
	} else {
		p.Pretty = string(rec.Raw)
	}
	link := func(key, val string, withAccount bool) string {
		v := url.Values{key: {val}}
		if withAccount {
			v.Set("account", rec.AccountID)
		}
		return "/events?" + v.Encode()
	}
	add := func(name, val, href string) {
		if val != "" {
			p.Props = append(p.Props, prop{name, val, href})
		}
	}
	add("Event time", rec.EventTime.UTC().Format("2006-01-02 15:04:05 UTC"), "")
	add("User name", rec.Username, link("Username", rec.Username, true))
	add("Event name", rec.EventName, link("EventName", rec.EventName, false))
	add("Event source", rec.EventSource, link("EventSource", rec.EventSource, false))
	add("Access key", rec.AccessKeyID, link("AccessKeyId", rec.AccessKeyID, true))
	add("Source IP address", rec.SourceIP, link("SourceIPAddress", rec.SourceIP, false))
	add("User agent", rec.UserAgent, "")
	add("Error code", rec.ErrorCode, link("ErrorCode", rec.ErrorCode, false))
	add("Error message", fastjson.GetString(rec.Raw, "errorMessage"), "")
	if rec.FailedSignIn() {
		add("Sign-in", "Failure", "")
	}
	add("Read-only", rec.ReadOnlyString(), "")
	add("Event category", rec.EventCategory, "")
	add("Event type", rec.EventType, "")
	add("Account", rec.AccountID, "")
	add("Region", rec.AWSRegion, "")
	add("Event ID", rec.EventID, "")
	add("Request ID", fastjson.GetString(rec.Raw, "requestID"), "")
	for _, res := range rec.Resources {
		p.Resources = append(p.Resources, detailResource{Type: res.Type, Name: res.Name, Href: link("ResourceName", res.Name, false)})
	}
	if rec.Username != "" {
		p.Related = append(p.Related, related{"Other events by this principal", rec.Username, link("Username", rec.Username, true)})
	}
	if rec.AccessKeyID != "" {
		p.Related = append(p.Related, related{"Other events with this access key", rec.AccessKeyID, link("AccessKeyId", rec.AccessKeyID, true)})
	}
	if rec.SourceIP != "" {
		p.Related = append(p.Related, related{"Other events from this source IP", rec.SourceIP, link("SourceIPAddress", rec.SourceIP, false)})
	}
	for _, res := range rec.Resources {
		if res.Name != "" {
			p.Related = append(p.Related, related{"Other events on this resource", res.Name, link("ResourceName", res.Name, false)})
		}
	}
	p.JSONHref = "/events.json?" + url.Values{"EventId": {rec.EventID}, "account": {rec.AccountID}}.Encode()
	c.render(w, r, s, http.StatusOK, "event", rec.EventName+" event", p)
}
