package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

type detectCmd struct{ env *Env }

func (*detectCmd) Name() string { return "detect" }
func (*detectCmd) Synopsis() string {
	return "run the Sigma rules and event rules over stored history (detect --since 2024-01-01 [--detectors sigma,eventrule])"
}

// Run asks the server to run the detectors' current rules over the
// events whose time is in [--since, --until) and to record what they find
// as findings; it prints the elapsed time while the server works, then
// what each detector found.
func (c *detectCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "detect", "--since DATE [--until DATE] [--detectors sigma,eventrule] [flags]")
	var (
		rf        runFlags
		detectors string
	)
	rf.register(fs, "first event time to scan (RFC 3339, YYYY-MM-DD, or a duration back from now such as 720h)",
		"end of the range (exclusive; RFC 3339 or YYYY-MM-DD; default: everything stored)")
	fs.StringVar(&detectors, "detectors", "", "detectors to run, comma-separated: sigma, eventrule (default both)")
	if err := rf.parse(fs, args); err != nil {
		return err
	}
	since, until := rf.since, rf.until
	if since == "" {
		return fmt.Errorf("--since is required: the first event time to scan, e.g. --since 2024-01-01")
	}
	t, err := parseSince(since, time.Now())
	if err != nil {
		return err
	}
	body := struct {
		Since     string
		Until     string   `json:",omitempty"`
		Detectors []string `json:",omitempty"`
	}{Since: t.UTC().Format(time.RFC3339)}
	if until != "" {
		u, err := parseTimeArg(until)
		if err != nil {
			return fmt.Errorf("--until %q: %w", until, err)
		}
		if !u.After(t) {
			return fmt.Errorf("--until %s is not after --since %s", u.Format(time.RFC3339), body.Since)
		}
		body.Until = u.Format(time.RFC3339)
	}
	for _, d := range strings.Split(detectors, ",") {
		switch d = strings.TrimSpace(d); d {
		case "":
		case "sigma", "eventrule":
			body.Detectors = append(body.Detectors, d)
		default:
			return fmt.Errorf("--detectors: %q is not a detector; use sigma, eventrule or both (sigma,eventrule)", d)
		}
	}
	out, err := postRun(ctx, c.env, &rf.cf, "/v1/detections/runs", body, "detect: scanning stored events since "+body.Since)
	if err != nil {
		return err
	}
	if rf.asJSON {
		fmt.Fprintln(c.env.Stdout, string(out))
		return nil
	}
	var resp struct {
		Runs []struct {
			Detector               string
			Read, InRange          int64
			Signals, New, Findings int
			Seconds                float64
			Skipped                string
		}
		Findings int
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("read the server's answer: %w", err)
	}
	for _, r := range resp.Runs {
		if r.Skipped != "" {
			fmt.Fprintf(c.env.Stdout, "%s: skipped: %s\n", r.Detector, r.Skipped)
			continue
		}
		fmt.Fprintf(c.env.Stdout, "%s: read %d stored events (%d in range) in %.1f s: %d signals, %d new, %d new findings\n",
			r.Detector, r.Read, r.InRange, r.Seconds, r.Signals, r.New, r.Findings)
	}
	fmt.Fprintf(c.env.Stdout, "%d new findings; see them with: opentrail findings\n", resp.Findings)
	return nil
}
