package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

type insightsCmd struct{ env *Env }

func (*insightsCmd) Name() string { return "insights" }
func (*insightsCmd) Synopsis() string {
	return "compute CloudTrail Insights retroactively over stored history (insights --since 2024-01-01)"
}

// Run asks the server to recompute Insights over the events whose time is
// in [--since, --until) and to store the Start/End records; it prints the
// elapsed time while the server works, then what it found.
func (c *insightsCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "insights", "--since DATE [--until DATE] [flags]")
	var rf runFlags
	rf.register(fs, "first day or time to report insights for (2024-01-01 or RFC 3339); the baseline comes from the days before it",
		"end of the range (exclusive; default: everything stored)")
	if err := rf.parse(fs, args); err != nil {
		return err
	}
	since, until := rf.since, rf.until
	if since == "" {
		return fmt.Errorf("--since is required, e.g. --since 2024-01-01: %w", errUsage)
	}
	body := map[string]string{}
	for name, v := range map[string]string{"Since": since, "Until": until} {
		if v == "" {
			continue
		}
		t, err := parseDay(v)
		if err != nil {
			return fmt.Errorf("--%s: %w", map[string]string{"Since": "since", "Until": "until"}[name], err)
		}
		body[name] = t.Format(time.RFC3339)
	}
	out, err := postRun(ctx, c.env, &rf.cf, "/v1/insights/runs", body, "insights: computing over stored events since "+body["Since"])
	if err != nil {
		return err
	}
	if rf.asJSON {
		fmt.Fprintln(c.env.Stdout, string(out))
		return nil
	}
	var resp struct {
		Read, Analysed int64
		Starts, Ends   int
		Seconds        float64
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("read the server's answer: %w", err)
	}
	fmt.Fprintf(c.env.Stdout, "read %d stored events, %d analysed by a trail's Insights selectors, in %.1f s\n", resp.Read, resp.Analysed, resp.Seconds)
	fmt.Fprintf(c.env.Stdout, "%d insights started and %d ended since %s; see them with: aws cloudtrail lookup-events --event-category insight\n",
		resp.Starts, resp.Ends, body["Since"])
	return nil
}

// parseDay reads a day (2024-01-01, UTC midnight) or an RFC 3339 time.
func parseDay(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a day (2024-01-01) nor an RFC 3339 time (2024-01-01T00:00:00Z)", s)
	}
	return t, nil
}
