package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/cisclient"
)

// cisCmd is `opentrail cis`: the CIS AWS Foundations Benchmark monitoring
// pack, set up, checked, tested and removed through the server's public
// APIs (CloudTrail, CloudWatch Logs, CloudWatch, SNS).
//
//	opentrail cis enable [--benchmark v3.0] [--notify URL|EMAIL ...] [--trail NAME]
//	opentrail cis status [--json]
//	opentrail cis test CONTROL [--timeout 60s]
//	opentrail cis disable
type cisCmd struct{ env *Env }

func (*cisCmd) Name() string { return "cis" }
func (*cisCmd) Synopsis() string {
	return "enable, check, test or disable the CIS benchmark monitoring alarms"
}

func (c *cisCmd) Run(ctx context.Context, args []string) error {
	probe := flag.NewFlagSet("cis", flag.ContinueOnError)
	var cf clientFlags
	cf.register(probe)
	probe.String("benchmark", "", "")
	probe.Var(new(multiFlag), "notify", "")
	probe.String("trail", "", "")
	probe.Bool("json", false, "")
	probe.Duration("timeout", 0, "")
	sub, rest := subcommand(probe, args)
	switch sub {
	case "enable":
		return c.enable(ctx, rest)
	case "status":
		return c.status(ctx, rest)
	case "test":
		return c.test(ctx, rest)
	case "disable":
		return c.disable(ctx, rest)
	case "":
		fmt.Fprintln(c.env.Stderr, "Usage: opentrail cis enable|status|test|disable [flags]  (run `opentrail cis enable -h` for a subcommand's flags)")
		return errUsage
	}
	fmt.Fprintf(c.env.Stderr, "opentrail cis: unknown subcommand %q (want enable, status, test or disable)\n", sub)
	return errUsage
}

func (c *cisCmd) api(ctx context.Context, cf clientFlags) (cis.API, string, error) {
	cl, err := cf.client(ctx)
	if err != nil {
		return nil, "", err
	}
	return cisclient.New(cl), cl.Endpoint, nil
}

func (c *cisCmd) enable(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "cis enable", "[--benchmark VERSION] [--notify URL|EMAIL ...] [--trail NAME] [flags]")
	var (
		cf        clientFlags
		benchmark string
		notify    multiFlag
		trail     string
	)
	cf.register(fs)
	fs.StringVar(&benchmark, "benchmark", cis.DefaultVersion, "CIS AWS Foundations Benchmark version: "+strings.Join(cis.Versions, ", ")+" (v1.2, 1.2 work too)")
	fs.Var(&notify, "notify", "who the alarms notify: an http(s) URL (a Slack incoming webhook too) or an e-mail address; repeatable")
	fs.StringVar(&trail, "trail", "", "the multi-region trail to watch (default: the account's multi-region trail that is logging)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q; give subscribers with --notify", pos[0])
	}
	api, endpoint, err := c.api(ctx, cf)
	if err != nil {
		return err
	}
	res, err := cis.Enable(ctx, api, cis.EnableOptions{
		Benchmark: benchmark, Notify: notify, Trail: trail, Endpoint: endpoint,
		Progress:    func(s string) { fmt.Fprintln(c.env.Stderr, s) },
		ConfirmWait: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	w := c.env.Stdout
	fmt.Fprintf(w, "CIS AWS Foundations Benchmark %s monitoring enabled for trail %s\n", res.Benchmark, res.Trail.Name)
	fmt.Fprintf(w, "  log group    %s\n", res.LogGroup)
	fmt.Fprintf(w, "  controls     %d metric filters and alarms (namespace %s, Sum over %ds >= 1)\n", len(res.Controls), cis.Namespace, cis.AlarmPeriod)
	fmt.Fprintf(w, "  topic        %s\n", res.TopicARN)
	confirmed := 0
	for _, s := range res.Subscriptions {
		state := "confirmed"
		if !s.Confirmed() {
			state = "pending confirmation"
		} else {
			confirmed++
		}
		fmt.Fprintf(w, "  subscriber   %s %s (%s)\n", s.Protocol, s.Endpoint, state)
	}
	for _, r := range res.Removed {
		fmt.Fprintf(w, "  removed      %s (not a control of %s)\n", r, res.Benchmark)
	}
	if confirmed == 0 {
		if len(res.Subscriptions) == 0 {
			fmt.Fprintln(w, "warning: the alarms notify no one yet; add a subscriber with `opentrail cis enable --notify URL|EMAIL`")
		} else {
			fmt.Fprintln(w, "warning: no subscriber has confirmed yet, so the alarms reach no one; confirm the subscription (an HTTP endpoint visits the SubscribeURL it received; an e-mail recipient follows the link)")
		}
	}
	fmt.Fprintln(w, "Next: `opentrail cis status` checks every control's chain; `opentrail cis test CloudWatch.6` sends a test event and shows the notification arrive.")
	return nil
}

// cisStatusJSON is one control in `cis status --json`.
type cisStatusJSON struct {
	ID          string            `json:"id"`
	Key         string            `json:"key"`
	SecurityHub string            `json:"securityHub,omitempty"`
	Title       string            `json:"title"`
	Pattern     string            `json:"pattern"`
	Filter      *cisFilterJSON    `json:"filter,omitempty"`
	Alarm       string            `json:"alarm,omitempty"`
	State       string            `json:"state,omitempty"`
	Topic       string            `json:"topic,omitempty"`
	Subscribers []string          `json:"confirmedSubscribers"`
	Pending     int               `json:"pendingSubscriptions"`
	Complete    bool              `json:"complete"`
	Broken      string            `json:"broken,omitempty"`
	Fix         string            `json:"fix,omitempty"`
	LastEvents  []json.RawMessage `json:"lastEvents"`
}

type cisFilterJSON struct {
	LogGroup string `json:"logGroup"`
	Name     string `json:"name"`
	Pattern  string `json:"pattern"`
	Match    string `json:"match"` // exact or equivalent
}

func (c *cisCmd) status(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "cis status", "[--json] [--benchmark VERSION] [--trail NAME] [flags]")
	var (
		cf               clientFlags
		asJSON           bool
		benchmark, trail string
	)
	cf.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the status of every control as JSON")
	fs.StringVar(&benchmark, "benchmark", "", "check against this benchmark version (default: the one `cis enable` installed)")
	fs.StringVar(&trail, "trail", "", "the multi-region trail to check (default: the account's multi-region trail that is logging)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	api, endpoint, err := c.api(ctx, cf)
	if err != nil {
		return err
	}
	rep, err := cis.Status(ctx, api, cis.StatusOptions{Benchmark: benchmark, Trail: trail, Endpoint: endpoint})
	if err != nil {
		return err
	}
	if asJSON {
		out := make([]cisStatusJSON, 0, len(rep.Controls))
		for _, s := range rep.Controls {
			j := cisStatusJSON{ID: s.Control.ID, Key: s.Control.Key, SecurityHub: s.Control.SecurityHub, Title: s.Control.Title, Pattern: s.Control.Pattern,
				Topic: s.TopicARN, Subscribers: []string{}, Pending: s.Pending, Complete: s.Complete(), Broken: s.Broken, Fix: s.Fix, LastEvents: []json.RawMessage{}}
			if s.Filter != nil {
				j.Filter = &cisFilterJSON{LogGroup: s.Filter.LogGroup, Name: s.Filter.Name, Pattern: s.Filter.Pattern, Match: s.Verdict}
			}
			if s.Alarm != nil {
				j.Alarm, j.State = s.Alarm.Name, s.Alarm.State
			}
			for _, sub := range s.Subscribers {
				j.Subscribers = append(j.Subscribers, sub.Protocol+":"+sub.Endpoint)
			}
			for _, e := range s.LastEvents {
				if json.Valid([]byte(e.Message)) {
					j.LastEvents = append(j.LastEvents, json.RawMessage(e.Message))
				}
			}
			out = append(out, j)
		}
		if err := writeJSON(c.env.Stdout, out); err != nil {
			return err
		}
	} else if err := writeCISStatus(c.env.Stdout, rep, time.Now()); err != nil {
		return err
	}
	if n := rep.Broken(); n > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d controls broken", n, len(rep.Controls))}
	}
	return nil
}

// shortTitle is the subject of a control's title.
func shortTitle(t string) string {
	t = strings.TrimPrefix(t, "Ensure a log metric filter and alarm exist for ")
	t = strings.TrimPrefix(t, "Ensure ")
	t = strings.TrimSuffix(t, " are monitored")
	t = strings.TrimSuffix(t, " is monitored")
	return t
}

// writeCISStatus prints the status table: one line per control, then what
// to do about each broken chain.
func writeCISStatus(w io.Writer, rep *cis.Report, now time.Time) error {
	trail := "none"
	if rep.Trail != nil {
		trail = rep.Trail.Name
	}
	fmt.Fprintf(w, "CIS AWS Foundations Benchmark %s · trail %s · log group %s\n", rep.Benchmark, trail, dash(rep.LogGroup))
	fmt.Fprintln(w, "chain: trail → log group → metric filter → alarm → topic → confirmed subscriber")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTROL\tSECURITY HUB\tTITLE\tFILTER\tCHAIN\tSTATE\tLAST EVENTS")
	for _, s := range rep.Controls {
		filter, state := "-", "-"
		if s.Filter != nil {
			filter = s.Filter.Name + " (" + s.Verdict + ")"
		}
		if s.Alarm != nil && s.Alarm.State != "" {
			state = s.Alarm.State
		}
		chain := "complete"
		if !s.Complete() {
			chain = "BROKEN: no " + s.Broken
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Control.ID, dash(s.Control.SecurityHub), shortTitle(s.Control.Title), filter, chain, state, lastEvents(s.LastEvents, now))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nPATTERNS (the metric filter's text; the benchmark's where no filter implements the control)")
	for _, s := range rep.Controls {
		if s.Filter != nil {
			fmt.Fprintf(w, "  %-5s %s\n", s.Control.ID, s.Filter.Pattern)
		} else {
			fmt.Fprintf(w, "  %-5s %s  (expected; no filter)\n", s.Control.ID, s.Control.Pattern)
		}
	}
	if n := rep.Broken(); n > 0 {
		fmt.Fprintf(w, "\nBROKEN: %d of %d controls cannot notify anyone:\n", n, len(rep.Controls))
		seen := map[string]bool{}
		for _, s := range rep.Controls {
			if !s.Complete() && !seen[s.Fix] {
				seen[s.Fix] = true
				var ids []string
				for _, o := range rep.Controls {
					if o.Fix == s.Fix {
						ids = append(ids, o.Control.ID)
					}
				}
				fmt.Fprintf(w, "  %s: no %s: %s\n", strings.Join(ids, ", "), s.Broken, s.Fix)
			}
		}
	} else {
		fmt.Fprintf(w, "\nall %d controls complete\n", len(rep.Controls))
	}
	return nil
}

// lastEvents summarizes the newest matching events: how many (up to the
// limit asked), and the newest one's age, name and caller.
func lastEvents(evs []cis.LogEvent, now time.Time) string {
	if len(evs) == 0 {
		return "none in 24h"
	}
	e := evs[len(evs)-1]
	name, who, synthetic := cis.EventSummary(e)
	s := fmt.Sprintf("%d, newest %s %s by %s", len(evs), age(e.Time, now), dash(name), dash(who))
	if synthetic {
		s += " (cis test)"
	}
	return s
}

func (c *cisCmd) test(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "cis test", "CONTROL [--timeout 60s] [flags]\n\nCONTROL is the control's id in the installed benchmark (4.6), its Security Hub id (CloudWatch.6) or its key (console-auth-failures).")
	var (
		cf      clientFlags
		timeout time.Duration
	)
	cf.register(fs)
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for the notification")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	api, _, err := c.api(ctx, cf)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := cis.Test(ctx, api, pos[0], cis.TestOptions{
		Timeout:  timeout,
		Progress: func(s string) { fmt.Fprintf(c.env.Stdout, "%6.1fs  %s\n", time.Since(start).Seconds(), s) },
	})
	if err != nil {
		if errors.Is(err, cis.ErrTimeout) {
			return fmt.Errorf("%w; see `opentrail cis status` for the control's chain and last events", err)
		}
		return err
	}
	fmt.Fprintf(c.env.Stdout, "OK: control %s (%s) notified %d subscriber(s) in %.1fs\n", res.Control.ID, shortTitle(res.Control.Title), len(res.Delivered), time.Since(start).Seconds())
	return nil
}

func (c *cisCmd) disable(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "cis disable", "[flags]")
	var cf clientFlags
	cf.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	api, _, err := c.api(ctx, cf)
	if err != nil {
		return err
	}
	res, err := cis.Disable(ctx, api)
	if err != nil {
		return err
	}
	w := c.env.Stdout
	fmt.Fprintf(w, "removed %d alarms and %d metric filters\n", len(res.Alarms), len(res.Filters))
	for _, t := range res.Unwired {
		fmt.Fprintf(w, "trail %s no longer sends its events to a log group\n", t)
	}
	for _, g := range res.LogGroups {
		fmt.Fprintf(w, "deleted log group %s\n", g)
	}
	for _, g := range res.KeptLogGroups {
		fmt.Fprintf(w, "kept log group %s: it holds metric filters the pack did not make\n", g)
	}
	if res.Topic != "" {
		fmt.Fprintf(w, "deleted topic %s and its subscriptions\n", res.Topic)
	}
	if res.KeptTopic != "" {
		fmt.Fprintf(w, "kept topic %s: alarms the pack did not make notify it\n", res.KeptTopic)
	}
	return nil
}
