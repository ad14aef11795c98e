package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"time"
)

// runFlags are the flags that the commands starting a run over stored
// history (detect, insights) share: the client's, --since, --until and
// --json.
type runFlags struct {
	cf           clientFlags
	since, until string
	asJSON       bool
}

// register adds the flags to fs; since and until are their usage texts.
func (f *runFlags) register(fs *flag.FlagSet, since, until string) {
	f.cf.register(fs)
	fs.StringVar(&f.since, "since", "", since)
	fs.StringVar(&f.until, "until", "", until)
	fs.BoolVar(&f.asJSON, "json", false, "print the server's answer as JSON")
}

// parse parses args, which must hold flags only, into fs's flags.
func (f *runFlags) parse(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return fmt.Errorf("unexpected argument %q; %s takes flags only", fs.Args()[0], fs.Name())
	}
	return nil
}

// runWaitEvery is how often postRun says it is still waiting.
var runWaitEvery = 5 * time.Second

// postRun is what the commands that start a run over stored history on
// the server (detect, insights) share: it posts body as JSON to the
// native endpoint path and returns the server's answer. A run takes as
// long as the history is long, so while the server works it prints
// "<waiting> … <elapsed>" to stderr every runWaitEvery.
func postRun(ctx context.Context, env *Env, cf *clientFlags, path string, body any, waiting string) ([]byte, error) {
	cl, err := cf.client(ctx)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode the request to %s: %w", path, err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t0 := time.Now()
		tick := time.NewTicker(runWaitEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(env.Stderr, "%s … %s\n", waiting, time.Since(t0).Round(time.Second))
			}
		}
	}()
	out, err := cl.Do(ctx, "opentrail", http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, b)
	close(done)
	<-stopped
	return out, err
}
