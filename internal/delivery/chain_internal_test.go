package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/keys"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// A trail's first digest chain starts in the period of the delivery
// step's own time, read before the step read the stream, whatever the
// clock says by the time the chain is made: a step that ran as the clock
// crossed into the next period once started the chain there, and the log
// file of the period before then fell before the chain's start.
func TestNewChainStartsAtTheStepsTime(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := func(hms string) time.Time {
		v, err := time.Parse(time.RFC3339, "2026-03-01T"+hms+"Z")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	clk := clock.NewFake(at("10:01:10")) // the clock has moved on since the step began
	d := New(st, Options{Interval: time.Minute, DigestInterval: time.Minute, Clock: clk, Keys: keys.New(st, keys.Options{Clock: clk})})
	tr := store.Trail{ARN: "arn:aws:cloudtrail:eu-west-1:111111111111:trail/t", Name: "t", Account: "111111111111", HomeRegion: "eu-west-1"}

	for _, c := range []struct {
		step   string
		window string // the open delivery window's end, if any
		want   string
	}{
		{step: "10:00:10", want: "10:00:00"},
		{step: "10:00:00", want: "10:00:00"},                     // an instant on the boundary is in the period it starts
		{step: "10:01:10", window: "10:01:00", want: "10:00:00"}, // a window's end is exclusive
	} {
		w := &worker{d: d, arn: tr.ARN, created: at("10:00:00"), trail: tr, groups: map[string]*group{}}
		if c.window != "" {
			w.st.Window = at(c.window)
		}
		step := at(c.step)
		set := trail.Settings{S3BucketName: "b", LogFileValidationEnabled: true, IsLogging: true, StartLoggingTime: &step}
		if err := w.emitDigests(ctx, tr, set, step); err != nil {
			t.Fatal(err)
		}
		ch := w.st.Chains["111111111111/eu-west-1"]
		if ch == nil || !ch.Start.Equal(at(c.want)) {
			t.Errorf("step at %s, window %q: chain %+v, want it to start at %s", c.step, c.window, ch, c.want)
		}
	}
}
