package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/findings"
)

// Findings is the findings store the /v1/findings endpoints read and
// change (*findings.Store implements it).
type Findings interface {
	List(ctx context.Context, f findings.Filter) ([]*findings.Finding, string, error)
	Get(ctx context.Context, id string) (*findings.Finding, error)
	SetState(ctx context.Context, id, state, reason, who string) (*findings.Finding, error)
}

// findingView is a finding on the wire: times in RFC 3339.
type findingView struct {
	ID          string
	Detector    string
	RuleID      string
	Title       string
	Author      string
	Severity    string
	Description string
	References  []string
	Account     string
	Region      string
	GroupKey    string
	State       string
	StateReason string
	StateBy     string
	StateAt     string
	FirstSeen   string
	LastSeen    string
	Count       int64
	EventIDs    []string
	EventTotal  int64
	Principals  []string
	SourceIPs   []string
	Accounts    []string
	Regions     []string
	Created     string
	Updated     string
}

func viewOf(f *findings.Finding) findingView {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	nn := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	return findingView{ID: f.ID, Detector: f.Detector, RuleID: f.RuleID, Title: f.Title, Author: f.Author,
		Severity: f.Severity, Description: f.Description, References: nn(f.References), Account: f.Account,
		Region: f.Region, GroupKey: f.GroupKey, State: f.State, StateReason: f.StateReason, StateBy: f.StateBy,
		StateAt: ts(f.StateAt), FirstSeen: ts(f.FirstSeen), LastSeen: ts(f.LastSeen), Count: f.Count,
		EventIDs: nn(f.EventIDs), EventTotal: f.EventTotal, Principals: nn(f.Principals), SourceIPs: nn(f.SourceIPs),
		Accounts: nn(f.Accounts), Regions: nn(f.Regions), Created: ts(f.Created), Updated: ts(f.Updated)}
}

const findingsMaxLimit = 1000

// listFindings serves GET /v1/findings. Query parameters: state and
// detector (comma-separated lists), severity (that severity or higher),
// rule (a rule id), account (the management account may name any; others
// read only their own), since (RFC 3339: last seen at or after), limit
// (1–1000, default 50) and next. It answers {"Findings":[...],"Next":...},
// the most recently seen first.
func (n *Native) listFindings(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	vals := req.HTTP.URL.Query()
	params := map[string]any{}
	for k, v := range vals {
		if k != "next" && !strings.HasPrefix(k, "X-Amz-") {
			params[k] = strings.Join(v, ",")
		}
	}
	req.Params = params
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	var f findings.Filter
	account := ""
	for k, vs := range vals {
		if strings.HasPrefix(k, "X-Amz-") {
			continue
		}
		if len(vs) != 1 {
			return nil, badParam("Parameter %s may be given only once.", awsapi.Clip(k, 64))
		}
		v := vs[0]
		if !utf8.ValidString(v) {
			return nil, badParam("Parameter %s is not valid UTF-8.", awsapi.Clip(k, 64))
		}
		switch k {
		case "state":
			for _, s := range strings.Split(v, ",") {
				if !findings.ValidState(s) {
					return nil, badParam("Parameter state must be new, acknowledged, resolved or suppressed (comma-separated); got %q.", awsapi.Clip(s, 64))
				}
				f.States = append(f.States, s)
			}
		case "severity":
			if !findings.ValidSeverity(v) {
				return nil, badParam("Parameter severity must be informational, low, medium, high or critical; got %q.", awsapi.Clip(v, 64))
			}
			f.Severity = v
		case "detector":
			f.Detectors = strings.Split(v, ",")
		case "rule":
			f.RuleID = v
		case "account":
			if !cloudtrailarn.IsAccountID(v) {
				return nil, badParam("Parameter account must be a 12-digit account ID; got %q.", awsapi.Clip(v, 64))
			}
			account = v
		case "since":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return nil, badParam("Parameter since must be an RFC 3339 time such as 2024-05-06T07:00:00Z; got %q.", awsapi.Clip(v, 64))
			}
			f.Since = t
		case "limit":
			l, err := strconv.Atoi(v)
			if err != nil || l < 1 || l > findingsMaxLimit {
				return nil, badParam("Parameter limit must be an integer from 1 to %d; got %q.", findingsMaxLimit, awsapi.Clip(v, 64))
			}
			f.Limit = l
		case "next":
			f.Next = v
		default:
			return nil, badParam("Unknown parameter %q; /v1/findings takes state, severity, detector, rule, account, since, limit and next.", awsapi.Clip(k, 64))
		}
	}
	switch {
	case account != "" && account != p.AccountID && !p.Management:
		return nil, &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
			Message: fmt.Sprintf("Account %s may not read the findings of account %s.", p.AccountID, account)}
	case account != "":
		f.Accounts = []string{account}
	case !p.Management:
		f.Accounts = []string{p.AccountID}
	}
	fs, next, err := n.findings.List(ctx, f)
	if errors.Is(err, findings.ErrBadToken) {
		return nil, awsapi.Errorf("InvalidNextTokenException", "The next token is not one this server issued for these filters.")
	}
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	out := struct {
		Findings []findingView
		Next     string `json:",omitempty"`
	}{Findings: make([]findingView, 0, len(fs)), Next: next}
	for _, x := range fs {
		out.Findings = append(out.Findings, viewOf(x))
	}
	return jsonResponse(out)
}

// findingID is the {id} of /v1/findings/{id}[/state].
func findingID(r *http.Request) string {
	id := strings.TrimPrefix(r.URL.Path, "/v1/findings/")
	return strings.TrimSuffix(id, "/state")
}

// readable returns the finding if the caller's account may see it; a
// finding of another account is reported as not found.
func (n *Native) readable(ctx context.Context, p *auth.Principal, id string) (*findings.Finding, error) {
	f, err := n.findings.Get(ctx, id)
	if errors.Is(err, findings.ErrNotFound) || (err == nil && !p.Management && f.Account != p.AccountID) {
		return nil, &awsapi.Error{Code: "ResourceNotFoundException", Status: http.StatusNotFound,
			Message: fmt.Sprintf("Finding %s does not exist.", awsapi.Clip(id, 64))}
	}
	if err != nil {
		return nil, fmt.Errorf("get finding: %w", err)
	}
	return f, nil
}

// getFinding serves GET /v1/findings/{id}.
func (n *Native) getFinding(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	id := findingID(req.HTTP)
	req.Params = map[string]any{"id": id}
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	f, err := n.readable(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return jsonResponse(struct{ Finding findingView }{viewOf(f)})
}

// setFindingState serves POST /v1/findings/{id}/state with
// {"State":"new|acknowledged|resolved|suppressed","Reason":"…"}
// (suppressed needs a Reason) and answers the finding.
func (n *Native) setFindingState(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	id := findingID(req.HTTP)
	var in struct{ State, Reason string }
	if len(req.Body) > 0 {
		if err := json.Unmarshal(req.Body, &in); err != nil {
			req.Params = map[string]any{"id": id}
			return nil, badParam("The body must be a JSON object such as {\"State\":\"acknowledged\",\"Reason\":\"…\"}: %s.", awsapi.Clip(err.Error(), 128))
		}
	}
	req.Params = map[string]any{"id": id, "state": in.State, "reason": in.Reason}
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := n.readable(ctx, p, id); err != nil {
		return nil, err
	}
	f, err := n.findings.SetState(ctx, id, in.State, in.Reason, p.ARN)
	var se *findings.StateError
	if errors.As(err, &se) {
		return nil, badParam("%s.", se.Reason)
	}
	if err != nil {
		return nil, fmt.Errorf("set finding state: %w", err)
	}
	return jsonResponse(struct{ Finding findingView }{viewOf(f)})
}
