package poll_test

import (
	"context"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/poll"
)

// A component runs its Sync in a Loop: once at Start, then on every tick
// of its clock and on every Wake, until Close.
func Example() {
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	synced := make(chan time.Time)
	l := poll.New(poll.Config{
		Name:  "example",
		Clock: clk,
		Every: time.Minute,
		Step: func(ctx context.Context) error {
			synced <- clk.Now()
			return nil
		},
		OnError: func(err error) { fmt.Println("example: sync:", err) },
	})
	l.Start()
	fmt.Println("at start:", (<-synced).Format(time.TimeOnly))
	clk.Advance(time.Minute)
	fmt.Println("on a tick:", (<-synced).Format(time.TimeOnly))
	l.Wake()
	fmt.Println("woken:", (<-synced).Format(time.TimeOnly))
	fmt.Println("close:", l.Close(context.Background()))
	// Output:
	// at start: 10:00:00
	// on a tick: 10:01:00
	// woken: 10:01:00
	// close: <nil>
}
