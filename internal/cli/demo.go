package cli

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/opentrail/opentrail/internal/demo"
)

type demoCmd struct{ env *Env }

func (*demoCmd) Name() string { return "demo" }
func (*demoCmd) Synopsis() string {
	return "send a realistic day of activity for several accounts and regions to a server"
}

func (c *demoCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "demo", "[flags]")
	var (
		cf        clientFlags
		events    int
		seed      int64
		incidents bool
		end       string
	)
	cf.register(fs)
	fs.IntVar(&events, "events", 20000, "background events to generate")
	fs.Int64Var(&seed, "seed", 0, "generator seed: the same seed gives the same events, which a server stores once (default: a new seed each run, so that every run adds a day of activity)")
	fs.StringVar(&end, "end", "", "end of the generated day, RFC 3339 (default: now, to the minute); with --seed it repeats an earlier run exactly")
	fs.BoolVar(&incidents, "incidents", true, "plant a few incidents (brute-force sign-in, root without MFA, StopLogging, ...)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; demo takes flags only: how many events goes in --events N, the server in --endpoint URL", fs.Arg(0))
	}
	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	endAt := time.Now().UTC().Truncate(time.Minute)
	if end != "" {
		t, err := time.Parse(time.RFC3339, end)
		if err != nil {
			return fmt.Errorf("--end %q is not an RFC 3339 time; give one like %s", end, endAt.Format(time.RFC3339))
		}
		endAt = t.UTC()
	}
	if seed == 0 {
		seed = rand.Int64N(math.MaxInt32) + 1 // short enough to type back
	}
	// Every run is activity of the same organisation as serve --demo's
	// (demo world 1): the same people, roles, keys and instances.
	opts := demo.Options{Seed: seed, World: 1, Events: events, Incidents: incidents,
		Start: endAt.Add(-24 * time.Hour), Duration: 24 * time.Hour}
	var (
		batch [][]byte
		total postResult
		sent  int
	)
	flush := func() error {
		r, err := PostEvents(ctx, cl, batch)
		total.add(r)
		sent += len(batch)
		batch = batch[:0]
		if isTerminal(c.env.Stderr) {
			fmt.Fprintf(c.env.Stderr, "\rsent %d events", sent)
		}
		return err
	}
	err = demo.Generate(opts, func(rec []byte) error {
		batch = append(batch, append([]byte(nil), rec...))
		if len(batch) == sendBatch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if isTerminal(c.env.Stderr) {
		fmt.Fprintln(c.env.Stderr)
	}
	if err != nil {
		return err
	}
	// The events' times come from the window, so repeating a run takes
	// both the seed and the window's end.
	fmt.Fprintf(c.env.Stdout, "%s (seed %d; --seed %d --end %s repeats this run, which adds nothing)\n",
		total, seed, seed, endAt.Format(time.RFC3339))
	return nil
}
