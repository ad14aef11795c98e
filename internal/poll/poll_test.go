package poll_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/poll"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// recv waits for the next step's number, failing the test after a while.
func recv(t *testing.T, c <-chan int) int {
	t.Helper()
	select {
	case n := <-c:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no step ran")
		return 0
	}
}

// none checks that no step runs within a short while.
func none(t *testing.T, c <-chan int) {
	t.Helper()
	select {
	case n := <-c:
		t.Fatalf("step %d ran; want none", n)
	case <-time.After(50 * time.Millisecond):
	}
}

// counting returns a step that sends its call number (1, 2, …) on the
// channel it returns, and then returns errs[n-1] if there is one.
func counting(errs ...error) (func(context.Context) error, <-chan int) {
	c := make(chan int)
	n := 0
	return func(ctx context.Context) error {
		n++
		select {
		case c <- n:
		case <-ctx.Done():
			return ctx.Err()
		}
		if n <= len(errs) {
			return errs[n-1]
		}
		return nil
	}, c
}

func TestLoopStepsAtStartOnEveryTickAndOnWake(t *testing.T) {
	clk := clock.NewFake(t0)
	step, steps := counting()
	l := poll.New(poll.Config{Name: "test", Clock: clk, Every: time.Minute, Step: step})
	l.Start()
	defer l.Close(context.Background())

	if n := recv(t, steps); n != 1 {
		t.Fatalf("first step is %d", n)
	}
	clk.Advance(30 * time.Second)
	none(t, steps)
	clk.Advance(30 * time.Second)
	if n := recv(t, steps); n != 2 {
		t.Fatalf("step at the first tick is %d; want 2", n)
	}
	l.Wake()
	if n := recv(t, steps); n != 3 {
		t.Fatalf("step after Wake is %d; want 3", n)
	}
	none(t, steps)
}

func TestLoopWakeBeforeStartStepsAgainAtOnce(t *testing.T) {
	clk := clock.NewFake(t0)
	step, steps := counting()
	l := poll.New(poll.Config{Name: "test", Clock: clk, Every: time.Hour, Step: step})
	l.Wake()
	l.Wake() // one pending wake
	l.Start()
	defer l.Close(context.Background())
	recv(t, steps)
	if n := recv(t, steps); n != 2 {
		t.Fatalf("step after the early wake is %d; want 2", n)
	}
	none(t, steps)
}

func TestLoopReportsStepErrorsAndGoesOn(t *testing.T) {
	clk := clock.NewFake(t0)
	boom := errors.New("boom")
	step, steps := counting(boom)
	reported := make(chan error, 4)
	l := poll.New(poll.Config{Name: "test", Clock: clk, Every: time.Minute, Step: step,
		OnError: func(err error) { reported <- err }})
	l.Start()
	defer l.Close(context.Background())

	recv(t, steps)
	select {
	case err := <-reported:
		if !errors.Is(err, boom) {
			t.Fatalf("reported %v; want boom", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the step's error was not reported")
	}
	clk.Advance(time.Minute)
	if n := recv(t, steps); n != 2 {
		t.Fatalf("step after the error is %d; want 2", n)
	}
	l.Wake()
	recv(t, steps) // step 2 returned nil: nothing more to report
	if len(reported) != 0 {
		t.Fatalf("reported %v after a step without error", <-reported)
	}
}

func TestLoopCloseWaitsForTheStepAndOnStop(t *testing.T) {
	clk := clock.NewFake(t0)
	started := make(chan struct{})
	release := make(chan struct{})
	var stopped, reported bool
	l := poll.New(poll.Config{Name: "test", Clock: clk, Every: time.Minute,
		Step: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			<-release
			return ctx.Err() // a step cut short: not reported
		},
		OnError: func(error) { reported = true },
		OnStop:  func() { stopped = true },
	})
	l.Start()
	<-started

	expired, cancel := context.WithCancel(context.Background())
	cancel()
	err := l.Close(expired)
	if !errors.Is(err, context.Canceled) || err.Error() != "stop test: context canceled" {
		t.Fatalf("Close with an expired context = %v; want stop test: context canceled", err)
	}
	close(release)
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if !stopped {
		t.Fatal("OnStop did not run before Close returned")
	}
	if reported {
		t.Fatal("the error of a step cut short by Close was reported")
	}
}

func TestLoopCloseBeforeStart(t *testing.T) {
	step, _ := counting()
	l := poll.New(poll.Config{Name: "test", Every: time.Second, Step: step})
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("Close before Start = %v", err)
	}
}

func TestNewRejectsAMissingStepOrPeriod(t *testing.T) {
	for _, cfg := range []poll.Config{{Every: time.Second}, {Step: func(context.Context) error { return nil }}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", cfg)
				}
			}()
			poll.New(cfg)
		}()
	}
}

func TestLoopBesideRunsUntilClose(t *testing.T) {
	clk := clock.NewFake(t0)
	step, steps := counting()
	started := make(chan struct{})
	release := make(chan struct{})
	var ended bool
	l := poll.New(poll.Config{Clock: clk, Every: time.Minute, Step: step,
		Beside: func(ctx context.Context) {
			close(started)
			<-ctx.Done()
			<-release
			ended = true
		}})
	l.Start()
	recv(t, steps)
	<-started

	expired, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Close(expired); err != context.DeadlineExceeded {
		t.Fatalf("Close while Beside runs, without a Name = %v; want ctx's error as it is", err)
	}
	close(release)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !ended {
		t.Fatal("Close returned before Beside did")
	}
}
