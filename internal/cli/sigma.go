package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"

	"github.com/opentrail/opentrail/internal/sigmawatch"
)

type sigmaCmd struct{ env *Env }

func (*sigmaCmd) Name() string { return "sigma" }
func (*sigmaCmd) Synopsis() string {
	return "load a directory of Sigma rules into the server, or list the loaded rules (sigma load DIR | sigma list)"
}

// sigmaReport is the server's load report.
type sigmaReport struct {
	Generation int64
	LoadedAt   string
	Files      int
	Loaded     []struct{ ID, Title, Author, Level, Status, File string }
	// Unsupported are the rules (and files) not loaded, by name and reason.
	Unsupported []struct{ File, Rule, Reason string }
}

// rulesNotLoaded is the error of a load some of whose rules did not
// load: the report has said which and why; the exit code is 1.
type rulesNotLoaded struct{ n int }

func (e rulesNotLoaded) Error() string { return fmt.Sprintf("%d rules not loaded", e.n) }
func (rulesNotLoaded) ExitCode() int   { return 1 }

func (c *sigmaCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "sigma", "load DIR | list [flags]")
	var (
		cf     clientFlags
		asJSON bool
	)
	cf.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the server's answer as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	switch {
	case len(pos) == 2 && pos[0] == "load":
	case len(pos) == 1 && pos[0] == "list":
	case len(pos) > 0 && pos[0] == "load":
		return fmt.Errorf("sigma load needs one directory of rule files (*.yml, *.yaml)")
	default:
		fs.Usage()
		return errUsage
	}
	var body []byte
	if pos[0] == "load" {
		files, err := sigmawatch.ReadDir(pos[1])
		if err != nil {
			return err
		}
		if body, err = json.Marshal(files); err != nil {
			return err
		}
	}
	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	path := "/v1/sigma/rules?" + url.Values{"region": {cl.Region}}.Encode()
	var out []byte
	if pos[0] == "load" {
		out, err = cl.Do(ctx, "opentrail", http.MethodPut, path, http.Header{"Content-Type": {"application/json"}}, body)
	} else {
		out, err = cl.Do(ctx, "opentrail", http.MethodGet, path, nil, nil)
	}
	if err != nil {
		return err
	}
	var rep sigmaReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return fmt.Errorf("read the server's answer: %w", err)
	}
	if asJSON {
		fmt.Fprintln(c.env.Stdout, string(out))
	} else {
		printSigmaReport(c.env.Stdout, &rep)
	}
	if pos[0] == "load" {
		fmt.Fprintf(c.env.Stderr, "loaded %d rules from %d files; %d not loaded; they apply to events from now on\n",
			len(rep.Loaded), rep.Files, len(rep.Unsupported))
		if len(rep.Unsupported) > 0 {
			return rulesNotLoaded{len(rep.Unsupported)}
		}
	}
	return nil
}

func printSigmaReport(w io.Writer, rep *sigmaReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tLEVEL\tRULE\tAUTHOR\tID\tFILE")
	for _, r := range rep.Loaded {
		fmt.Fprintf(tw, "loaded\t%s\t%s\t%s\t%s\t%s\n", dash(r.Level), clip(oneLine(r.Title), 70), dash(oneLine(r.Author)), dash(r.ID), r.File)
	}
	tw.Flush()
	if len(rep.Unsupported) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tFILE\tRULE\tREASON")
	for _, e := range rep.Unsupported {
		fmt.Fprintf(tw, "unsupported\t%s\t%s\t%s\n", e.File, dash(e.Rule), oneLine(e.Reason))
	}
	tw.Flush()
}
