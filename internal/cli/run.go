package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

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
