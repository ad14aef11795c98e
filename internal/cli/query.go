package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opentrail/opentrail/internal/cloudtrailwire"
	"github.com/opentrail/opentrail/internal/query"
)

// queryCmd is `opentrail query`: SQL over the server's events through the
// CloudTrail Lake API (StartQuery, DescribeQuery, GetQueryResults).
//
//	opentrail query [--format table|csv|json] "SELECT … FROM cloudtrail_events …"
//	opentrail query --saved NAME [--param k=v]…
//	opentrail query --list-saved
type queryCmd struct{ env *Env }

func (*queryCmd) Name() string     { return "query" }
func (*queryCmd) Synopsis() string { return "run SQL over the events (CloudTrail Lake queries)" }

// paramFlags collects repeated --param k=v.
type paramFlags map[string]string

func (p paramFlags) String() string { return "" }
func (p paramFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want k=v, got %q", v)
	}
	p[k] = val
	return nil
}

func (c *queryCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "query", `[--format table|csv|json] "SQL" | --saved NAME [--param k=v]… | --list-saved [flags]`)
	var (
		cf        clientFlags
		format    string
		saved     string
		listSaved bool
		wait      time.Duration
		params    = paramFlags{}
	)
	cf.register(fs)
	fs.StringVar(&format, "format", "table", "output format: table, csv or json (an array of objects)")
	fs.StringVar(&saved, "saved", "", "run the saved query NAME (see --list-saved)")
	fs.Var(params, "param", "a saved query's parameter as k=v (repeatable)")
	fs.BoolVar(&listSaved, "list-saved", false, "list the saved queries and their parameters")
	fs.DurationVar(&wait, "wait", 15*time.Minute, "how long to wait for the query to finish")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if listSaved {
		tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPARAMETERS\tDESCRIPTION")
		for _, s := range query.SavedQueries() {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, strings.Join(s.Params, ","), s.Description)
		}
		return tw.Flush()
	}
	if format != "table" && format != "csv" && format != "json" {
		fmt.Fprintf(c.env.Stderr, "opentrail query: --format %q: want table, csv or json\n", format)
		return errUsage
	}
	var sql string
	switch {
	case saved != "" && len(pos) == 0:
		s, ok := query.LookupSaved(saved)
		if !ok {
			return fmt.Errorf("no saved query %q (see opentrail query --list-saved)", saved)
		}
		if sql, err = s.Render(params); err != nil {
			return err
		}
	case saved == "" && len(pos) == 1 && len(params) == 0:
		sql = pos[0]
	default:
		fs.Usage()
		return errUsage
	}

	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	var started cloudtrailwire.StartQueryOutput
	if _, err := callCloudTrail(ctx, cl, "StartQuery", cloudtrailwire.StartQueryInput{QueryStatement: sql}, &started); err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	var d cloudtrailwire.DescribeQueryOutput
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, time.Second) {
		if _, err := callCloudTrail(ctx, cl, "DescribeQuery", cloudtrailwire.DescribeQueryInput{QueryId: started.QueryId}, &d); err != nil {
			return err
		}
		if d.QueryStatus != "QUEUED" && d.QueryStatus != "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			var cq cloudtrailwire.CancelQueryOutput
			callCloudTrail(context.Background(), cl, "CancelQuery", cloudtrailwire.CancelQueryInput{QueryId: started.QueryId}, &cq)
			return fmt.Errorf("query %s still running after %v; cancelled", started.QueryId, wait)
		}
		select {
		case <-ctx.Done():
			var cq cloudtrailwire.CancelQueryOutput
			callCloudTrail(context.Background(), cl, "CancelQuery", cloudtrailwire.CancelQueryInput{QueryId: started.QueryId}, &cq)
			return ctx.Err()
		case <-time.After(delay):
		}
	}
	if d.QueryStatus != "FINISHED" {
		return fmt.Errorf("query %s: %s: %s", started.QueryId, d.QueryStatus, d.ErrorMessage)
	}
	var (
		cols []string
		rows [][]string
		in   = cloudtrailwire.GetQueryResultsInput{QueryId: started.QueryId}
	)
	for {
		var r cloudtrailwire.GetQueryResultsOutput
		if _, err := callCloudTrail(ctx, cl, "GetQueryResults", in, &r); err != nil {
			return err
		}
		for _, row := range r.QueryResultRows {
			vals := make([]string, len(row))
			names := make([]string, len(row))
			for i, cell := range row {
				for k, v := range cell {
					names[i], vals[i] = k, v
				}
			}
			if cols == nil {
				cols = names
			}
			rows = append(rows, vals)
		}
		if r.NextToken == "" {
			if r.ErrorMessage != "" {
				fmt.Fprintln(c.env.Stderr, "opentrail query:", r.ErrorMessage)
			}
			break
		}
		in.NextToken = r.NextToken
	}
	return c.print(format, cols, rows)
}

func (c *queryCmd) print(format string, cols []string, rows [][]string) error {
	switch format {
	case "csv":
		w := csv.NewWriter(c.env.Stdout)
		if cols != nil {
			w.Write(cols)
		}
		w.WriteAll(rows)
		return w.Error()
	case "json":
		out := make([]map[string]string, 0, len(rows))
		for _, r := range rows {
			m := make(map[string]string, len(r))
			for i, v := range r {
				m[cols[i]] = v
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(c.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(rows) == 0 {
		fmt.Fprintln(c.env.Stdout, "(no rows)")
		return nil
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, r := range rows {
		for i := range r {
			r[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(r[i])
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stderr, "(%d rows)\n", len(rows))
	return nil
}

var _ flag.Value = paramFlags{}
