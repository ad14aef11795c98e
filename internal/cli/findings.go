package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

type findingsCmd struct{ env *Env }

func (*findingsCmd) Name() string { return "findings" }
func (*findingsCmd) Synopsis() string {
	return "list findings, show one, or acknowledge, resolve, suppress or reopen it (findings [list|show|ack|resolve|suppress|reopen ID])"
}

// finding is a finding as GET /v1/findings answers it.
type finding struct {
	ID, Detector, RuleID, Title, Author, Severity, Description string
	References                                                 []string
	Account, Region, GroupKey                                  string
	State, StateReason, StateBy, StateAt                       string
	FirstSeen, LastSeen                                        string
	Count, EventTotal                                          int64
	EventIDs, Principals, SourceIPs, Accounts, Regions         []string
}

// findingsPage is the most findings one list request asks for.
const findingsPage = 1000

func (c *findingsCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "findings", "[list|show ID|ack ID|resolve ID|suppress ID --reason R|reopen ID] [flags]")
	var (
		cf                                    clientFlags
		asJSON, all                           bool
		state, severity, detector, rule, acct string
		since, reason                         string
		maxItems                              int
	)
	cf.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the server's answer as JSON")
	fs.StringVar(&state, "state", "", "states to list, comma-separated: new, acknowledged, resolved, suppressed (default new,acknowledged)")
	fs.BoolVar(&all, "all", false, "list findings in every state")
	fs.StringVar(&severity, "severity", "", "list findings of this severity or higher: informational, low, medium, high, critical")
	fs.StringVar(&detector, "detector", "", "detectors to list, comma-separated: sigma, cis, alarm, eventrule, insight")
	fs.StringVar(&rule, "rule", "", "list the findings of one rule id (a Sigma id, an alarm or rule ARN)")
	fs.StringVar(&acct, "account", "", "list one account's findings (the management account sees every account's by default)")
	fs.StringVar(&since, "since", "", "list findings last seen at or after this time (RFC 3339, YYYY-MM-DD, or a duration such as 24h)")
	fs.IntVar(&maxItems, "max-items", 100, "how many findings to list in all")
	fs.StringVar(&reason, "reason", "", "why (suppress needs one; ack, resolve and reopen may give one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	sub := "list"
	if len(pos) > 0 {
		sub, pos = pos[0], pos[1:]
	}
	states := map[string]string{"ack": "acknowledged", "acknowledge": "acknowledged", "resolve": "resolved",
		"suppress": "suppressed", "reopen": "new"}
	switch {
	case sub == "list":
		if len(pos) > 0 {
			return fmt.Errorf("unexpected argument %q; findings list takes flags only", pos[0])
		}
	case sub == "show" || states[sub] != "":
		if len(pos) != 1 {
			return fmt.Errorf("findings %s needs one finding id (fd-…), as findings list shows", sub)
		}
		if sub == "suppress" && strings.TrimSpace(reason) == "" {
			return fmt.Errorf("findings suppress needs --reason: say why this finding's signals need no attention")
		}
	default:
		return fmt.Errorf("unknown findings command %q; use list, show, ack, resolve, suppress or reopen", sub)
	}
	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	if sub != "list" {
		id := url.PathEscape(pos[0])
		var out []byte
		if sub == "show" {
			out, err = cl.Do(ctx, "opentrail", http.MethodGet, "/v1/findings/"+id, nil, nil)
		} else {
			body, _ := json.Marshal(map[string]string{"State": states[sub], "Reason": reason})
			out, err = cl.Do(ctx, "opentrail", http.MethodPost, "/v1/findings/"+id+"/state",
				http.Header{"Content-Type": {"application/json"}}, body)
		}
		if err != nil {
			return err
		}
		if asJSON {
			fmt.Fprintln(c.env.Stdout, strings.TrimSpace(string(out)))
			return nil
		}
		var resp struct{ Finding finding }
		if err := json.Unmarshal(out, &resp); err != nil {
			return fmt.Errorf("read the server's answer: %w", err)
		}
		if sub != "show" {
			fmt.Fprintf(c.env.Stderr, "%s is now %s\n", resp.Finding.ID, resp.Finding.State)
		}
		return printFinding(c.env.Stdout, &resp.Finding)
	}

	q := url.Values{}
	switch {
	case all && state != "":
		return fmt.Errorf("give --state or --all, not both")
	case state != "":
		q.Set("state", state)
	case !all:
		q.Set("state", "new,acknowledged")
	}
	for k, v := range map[string]string{"severity": severity, "detector": detector, "rule": rule, "account": acct} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if since != "" {
		t, err := parseSince(since, time.Now())
		if err != nil {
			return err
		}
		q.Set("since", t.UTC().Format(time.RFC3339))
	}
	var list []finding
	var raw []json.RawMessage
	for len(list) < maxItems {
		q.Set("limit", strconv.Itoa(min(findingsPage, maxItems-len(list))))
		out, err := cl.Do(ctx, "opentrail", http.MethodGet, "/v1/findings?"+q.Encode(), nil, nil)
		if err != nil {
			return err
		}
		var page struct {
			Findings []json.RawMessage
			Next     string
		}
		if err := json.Unmarshal(out, &page); err != nil {
			return fmt.Errorf("read the server's answer: %w", err)
		}
		for _, r := range page.Findings {
			var f finding
			if err := json.Unmarshal(r, &f); err != nil {
				return fmt.Errorf("read the server's answer: %w", err)
			}
			list = append(list, f)
			raw = append(raw, r)
		}
		if page.Next == "" {
			break
		}
		q.Set("next", page.Next)
	}
	if asJSON {
		for _, r := range raw {
			fmt.Fprintln(c.env.Stdout, string(r))
		}
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(c.env.Stderr, "no findings match")
		return nil
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tSTATE\tDETECTOR\tRULE\tAUTHOR\tCOUNT\tLAST SEEN\tACCOUNT\tREGION\tPRINCIPAL")
	for _, f := range list {
		principal := "-"
		if len(f.Principals) > 0 {
			principal = f.Principals[0]
			if len(f.Principals) > 1 {
				principal += fmt.Sprintf(" (+%d)", len(f.Principals)-1)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", f.ID, f.Severity, f.State, f.Detector,
			clip(oneLine(f.Title), 60), dash(f.Author), f.Count, f.LastSeen, f.Account, f.Region, principal)
	}
	return tw.Flush()
}

// printFinding writes one finding, field by field.
func printFinding(w io.Writer, f *finding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("ID", f.ID)
	row("Rule", f.Title)
	row("Rule ID", f.RuleID)
	row("Author", dash(f.Author))
	row("Detector", f.Detector)
	row("Severity", f.Severity)
	state := f.State
	if f.StateReason != "" {
		state += " (" + f.StateReason + ")"
	}
	if f.StateBy != "" {
		state += " by " + f.StateBy + " at " + f.StateAt
	}
	row("State", state)
	row("Description", oneLine(f.Description))
	row("Account", f.Account)
	row("Region", f.Region)
	row("Group", f.GroupKey)
	row("First seen", f.FirstSeen)
	row("Last seen", f.LastSeen)
	row("Count", strconv.FormatInt(f.Count, 10))
	row("Principals", strings.Join(f.Principals, ", "))
	row("Source IPs", strings.Join(f.SourceIPs, ", "))
	row("References", strings.Join(f.References, " "))
	events := strings.Join(f.EventIDs, " ")
	if n := f.EventTotal - int64(len(f.EventIDs)); n > 0 {
		events += fmt.Sprintf(" (and %d more)", n)
	}
	row("Events", events)
	if len(f.EventIDs) > 0 {
		row("History", "opentrail lookup --all-regions --attr EventId="+f.EventIDs[0])
	}
	return tw.Flush()
}

// parseSince reads an RFC 3339 time, a date, or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time, YYYY-MM-DD or a duration such as 24h", s)
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
