package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

type lookupCmd struct{ env *Env }

func (*lookupCmd) Name() string { return "lookup" }
func (*lookupCmd) Synopsis() string {
	return "look up events in the event history (like aws cloudtrail lookup-events)"
}

// attrKeys are the LookupEvents attribute keys, as the API spells them.
var attrKeys = []string{"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (c *lookupCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "lookup", "[flags]")
	var (
		cf                 clientFlags
		lookupAttrs, attrs multiFlag
		start, end, cat    string
		maxItems           int
		allRegions, asJSON bool
	)
	cf.register(fs)
	fs.Var(&lookupAttrs, "lookup-attributes", "AttributeKey=EventName,AttributeValue=ConsoleLogin, as the AWS CLI takes it (repeatable: all must match)")
	fs.Var(&attrs, "attr", "KEY=VALUE shorthand, e.g. --attr Username=alice (repeatable); keys: "+strings.Join(attrKeys, ", "))
	fs.StringVar(&start, "start-time", "", "oldest eventTime (RFC 3339, YYYY-MM-DD, or epoch seconds)")
	fs.StringVar(&end, "end-time", "", "newest eventTime (same forms)")
	fs.StringVar(&cat, "event-category", "", "management (default), data, insight or all")
	fs.IntVar(&maxItems, "max-items", 50, "how many events to show in all")
	fs.IntVar(&maxItems, "max-results", 50, "alias of --max-items")
	fs.BoolVar(&allRegions, "all-regions", false, "look in every region, not just --region")
	fs.BoolVar(&asJSON, "json", false, "print the raw records as JSON lines")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; attributes go in --attr KEY=VALUE", fs.Arg(0))
	}
	q := url.Values{}
	for _, la := range lookupAttrs {
		k, v, err := parseShorthand(la)
		if err != nil {
			return err
		}
		q.Add(k, v)
	}
	for _, a := range attrs {
		k, v, ok := strings.Cut(a, "=")
		if !ok || canonicalKey(k) == "" {
			return fmt.Errorf("--attr %q: want KEY=VALUE with KEY one of %s", a, strings.Join(attrKeys, ", "))
		}
		q.Add(canonicalKey(k), v)
	}
	for name, v := range map[string]string{"start": start, "end": end} {
		if v == "" {
			continue
		}
		t, err := parseTimeArg(v)
		if err != nil {
			return fmt.Errorf("--%s-time %q: %w", name, v, err)
		}
		q.Set(name, t.Format(time.RFC3339Nano))
	}
	if cat != "" {
		q.Set("category", strings.ToLower(cat))
	}
	if allRegions {
		q.Set("region", "*")
	}
	if maxItems <= 0 {
		return fmt.Errorf("--max-items must be positive")
	}

	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	var recs []json.RawMessage
	next := ""
	for len(recs) < maxItems {
		q.Set("limit", strconv.Itoa(min(1000, maxItems-len(recs))))
		if next != "" {
			q.Set("next", next)
		}
		out, err := cl.Do(ctx, "opentrail", http.MethodGet, "/v1/events?"+q.Encode(), nil, nil)
		if err != nil {
			return err
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
			Next   string            `json:"next"`
		}
		if err := json.Unmarshal(out, &page); err != nil {
			return fmt.Errorf("unexpected answer from server: %w", err)
		}
		recs = append(recs, page.Events...)
		if page.Next == "" || len(page.Events) == 0 {
			break
		}
		next = page.Next
	}
	if asJSON {
		for _, r := range recs {
			fmt.Fprintf(c.env.Stdout, "%s\n", r)
		}
		return nil
	}
	return printTable(c.env, recs)
}

func printTable(env *Env, recs []json.RawMessage) error {
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tSOURCE\tUSER\tACCOUNT\tREGION\tSOURCE IP\tERROR\tEVENT ID")
	for _, raw := range recs {
		var r struct {
			EventTime, EventName, EventSource, AWSRegion, SourceIPAddress, ErrorCode, EventID, RecipientAccountID string
			UserIdentity                                                                                          struct {
				Type, UserName, ARN, AccountID, PrincipalID string
			}
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("decode record: %w", err)
		}
		user := r.UserIdentity.UserName
		switch {
		case r.UserIdentity.Type == "Root":
			user = "root"
		case user == "" && r.UserIdentity.ARN != "":
			user = r.UserIdentity.ARN[strings.LastIndexByte(r.UserIdentity.ARN, '/')+1:]
		}
		acct := r.RecipientAccountID
		if acct == "" {
			acct = r.UserIdentity.AccountID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.EventTime, r.EventName, strings.TrimSuffix(r.EventSource, ".amazonaws.com"),
			dash(user), acct, r.AWSRegion, dash(r.SourceIPAddress), dash(r.ErrorCode), r.EventID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "%d events\n", len(recs))
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func canonicalKey(k string) string {
	for _, a := range attrKeys {
		if strings.EqualFold(a, k) {
			return a
		}
	}
	return ""
}

// parseShorthand reads the AWS CLI's AttributeKey=K,AttributeValue=V form.
func parseShorthand(s string) (string, string, error) {
	var key, val string
	for _, part := range strings.SplitN(s, ",", 2) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return "", "", fmt.Errorf("--lookup-attributes %q: want AttributeKey=KEY,AttributeValue=VALUE", s)
		}
		switch strings.TrimSpace(k) {
		case "AttributeKey":
			key = canonicalKey(v)
			if key == "" {
				return "", "", fmt.Errorf("--lookup-attributes %q: AttributeKey must be one of %s", s, strings.Join(attrKeys, ", "))
			}
		case "AttributeValue":
			val = v
		default:
			return "", "", fmt.Errorf("--lookup-attributes %q: unknown member %q", s, k)
		}
	}
	if key == "" || val == "" {
		return "", "", fmt.Errorf("--lookup-attributes %q: both AttributeKey and AttributeValue are required", s)
	}
	return key, val, nil
}

func parseTimeArg(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("want RFC 3339 (2024-05-06T07:00:00Z), a date (2024-05-06) or epoch seconds")
}
