package clock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
)

// A component takes a Clock and makes its timers with it; a test hands it
// a Fake, waits until it is idle, and moves time past its deadline.
func ExampleFake() {
	f := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	closed := make(chan time.Time)
	go func(c clock.Clock) { // the component: close a window a minute from now
		t := c.NewTimer(time.Minute)
		closed <- <-t.C
	}(f)

	f.BlockUntil(context.Background(), 1) // the component has armed its timer
	f.Advance(time.Minute)
	fmt.Println("window closed at", (<-closed).Format(time.TimeOnly))
	// Output: window closed at 10:01:00
}

// Ticks missed in one move are dropped, as a time.Ticker drops them for
// a slow receiver; the next tick stays on the ticker's grid.
func ExampleFake_NewTicker() {
	f := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	tk := f.NewTicker(time.Hour)
	defer tk.Stop()
	f.Advance(150 * time.Minute)
	fmt.Println((<-tk.C).Format(time.TimeOnly))
	f.Advance(30 * time.Minute)
	fmt.Println((<-tk.C).Format(time.TimeOnly))
	// Output:
	// 11:00:00
	// 13:00:00
}
