package api

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// Native serves opentrail's own history API, GET /v1/events, which goes
// beyond LookupEvents: several attributes at once, data events, all
// regions, RFC 3339 times, up to 1000 events a page, and no retention
// window. Get one with Service.Native.
type Native struct{ s *Service }

// Native returns the handler of the native history API.
func (s *Service) Native() *Native { return &Native{s: s} }

// Native lookup limits.
const (
	nativeDefaultLimit = 50
	nativeMaxLimit     = 1000
)

// nativeCategories maps the category parameter to store categories; nil
// means every category.
var nativeCategories = map[string][]string{
	"management": {event.CategoryManagement, auditEventCategory},
	"activity":   {auditEventCategory},
	"data":       {event.CategoryData},
	"insight":    {event.CategoryInsight},
	"all":        nil,
}

// nativeOutput is the response body: the records as JSON objects, and the
// token for the next page when there is one.
type nativeOutput struct {
	Events []rawJSON `json:"events"`
	Next   string    `json:"next,omitempty"`
}

// rawJSON is a stored record emitted verbatim.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// nativeQuery is a validated native lookup.
type nativeQuery struct {
	q     store.LookupQuery
	limit int
	next  string
	hash  [hashLen]byte
}

func badParam(format string, args ...any) error {
	return awsapi.Errorf(awsapi.CodeValidation, format, args...)
}

func parseNative(c *awsapi.Caller, vals url.Values) (*nativeQuery, error) {
	p := c.Principal
	n := &nativeQuery{limit: nativeDefaultLimit}
	n.q.Region = c.Region
	n.q.Categories = nativeCategories["management"]
	account := p.AccountID
	category := "management"
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := vals[k]
		if lookupKeys[k] {
			for _, v := range vs {
				if v == "" || len(v) > 4*maxAttributeValueLen {
					return nil, badParam("Parameter %s needs a value of 1 to %d characters.", k, maxAttributeValueLen)
				}
				if k == "ReadOnly" && v != "true" && v != "false" {
					return nil, badParam("Parameter ReadOnly must be true or false; got %q.", truncate(v, 64))
				}
				n.q.Attrs = append(n.q.Attrs, store.Attr{Key: k, Value: v})
			}
			continue
		}
		if strings.HasPrefix(k, "X-Amz-") {
			continue // query-string signing parameters
		}
		if len(vs) != 1 {
			return nil, badParam("Parameter %s may be given only once.", truncate(k, 64))
		}
		v := vs[0]
		switch k {
		case "start", "end":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, badParam("Parameter %s must be an RFC 3339 time such as 2024-05-06T07:00:00Z; got %q.", k, truncate(v, 64))
			}
			if k == "start" {
				n.q.Start = t.UTC()
			} else {
				n.q.End = t.UTC()
			}
		case "category":
			cats, ok := nativeCategories[v]
			if !ok {
				return nil, badParam("Parameter category must be management, data, insight or all; got %q.", truncate(v, 64))
			}
			category = v
			n.q.Categories = cats
		case "region":
			if v == "*" {
				n.q.Region = ""
			} else {
				n.q.Region = v
			}
		case "account":
			if !isAccountID(v) {
				return nil, badParam("Parameter account must be a 12-digit account ID; got %q.", truncate(v, 64))
			}
			if v != p.AccountID && !p.Management {
				return nil, &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
					Message: fmt.Sprintf("Account %s may not read the events of account %s.", p.AccountID, v)}
			}
			account = v
		case "limit":
			l, err := strconv.Atoi(v)
			if err != nil || l < 1 || l > nativeMaxLimit {
				return nil, badParam("Parameter limit must be an integer from 1 to %d; got %q.", nativeMaxLimit, truncate(v, 64))
			}
			n.limit = l
		case "next":
			n.next = v
		default:
			return nil, badParam("Unknown parameter %q.", truncate(k, 64))
		}
	}
	if !n.q.Start.IsZero() && !n.q.End.IsZero() && n.q.Start.After(n.q.End) {
		return nil, badParam("Parameter start must not be after end.")
	}
	// The management account reads every account unless it names one.
	if !p.Management || vals.Has("account") {
		n.q.Accounts = []string{account}
	}
	h := newQueryHasher().str(p.AccountID).str(strings.Join(n.q.Accounts, ",")).str(n.q.Region).str(category)
	h.int(int64(len(n.q.Attrs)))
	for _, a := range n.q.Attrs {
		h.str(a.Key).str(a.Value)
	}
	h.time(n.q.Start).time(n.q.End)
	n.hash = h.sum()
	n.q.Limit = n.limit + 1
	return n, nil
}

// Lookup serves GET /v1/events for the Caller in the request context.
// Query parameters: any of the eight LookupEvents attribute keys (several,
// and repeated, are ANDed), start and end (RFC 3339, inclusive), category
// (management, data, insight or all; default management), region (default
// the caller's; * for all), account (the management account may name any
// account and reads all by default), limit (1–1000, default 50) and next
// (the token of the previous page). It answers {"events":[...],"next":...}
// with the records newest first; errors have the AWS {"__type","message"}
// shape.
func (h *Native) Lookup(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	c := awsapi.CallerFrom(ctx)
	reqID := ""
	if c != nil {
		reqID = c.RequestID
	}
	if reqID == "" {
		reqID = awsapi.NewUUID()
	}
	fail := func(err error) {
		awsapi.WriteRESTJSONError(w, reqID, awsapi.AsError(ctx, h.s.logger, reqID, err))
	}
	if c == nil || c.Principal == nil {
		fail(errNoCaller)
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		fail(&awsapi.Error{Code: "MethodNotAllowed", Status: http.StatusMethodNotAllowed,
			Message: "Use GET to look up events."})
		return
	}
	n, err := parseNative(c, req.URL.Query())
	if err != nil {
		fail(err)
		return
	}
	if n.next != "" {
		pos, err := h.s.openPosition(tokenNative, n.hash, n.next)
		if err != nil {
			fail(err)
			return
		}
		n.q.After = pos
	}
	evs, err := h.s.store.Lookup(ctx, n.q)
	if err != nil {
		fail(fmt.Errorf("native lookup: %w", err))
		return
	}
	out := nativeOutput{Events: make([]rawJSON, 0, min(len(evs), n.limit))}
	if len(evs) > n.limit {
		evs = evs[:n.limit]
		out.Next = h.s.issuePosition(tokenNative, n.hash, evs[len(evs)-1])
	}
	for _, e := range evs {
		out.Events = append(out.Events, rawJSON(e.Rec.Raw))
	}
	body, err := marshalNoEscape(out)
	if err != nil {
		fail(fmt.Errorf("encode native lookup: %w", err))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("x-amzn-RequestId", reqID)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
