package server

import (
	"encoding/json"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/demo"
)

// TestDemoConsoleLoginSpike: --demo's day holds a burst of failed console
// sign-ins inside the console's default range (the last 24 hours), shaped
// as CloudTrail records them (errorMessage "Failed authentication",
// responseElements.ConsoleLogin "Failure"), and it stands out of the
// background's failures as a spike in an hourly chart.
func TestDemoConsoleLoginSpike(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 30, 17, 0, time.UTC)
	opts := demoOptions(now, 20000)
	incs, err := demo.Incidents(opts)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(incs, func(in demo.Incident) bool { return in.Kind == demo.KindConsoleBruteForce })
	if i < 0 {
		t.Fatalf("no %s among the demo's incidents", demo.KindConsoleBruteForce)
	}
	burst := incs[i]
	if from := now.Add(-24 * time.Hour); burst.Start.Before(from) || burst.End.After(now) {
		t.Fatalf("the burst runs %s … %s, outside the last 24 hours (%s … %s)", burst.Start, burst.End, from, now)
	}
	ids := map[string]bool{}
	for _, id := range burst.EventIDs {
		ids[id] = true
	}
	failedByHour := map[int64]int{} // failures by hour of the day, background only
	burstByHour := map[int64]int{}  // the burst's failures by hour
	if err := demo.Generate(opts, func(raw []byte) error {
		var r struct {
			EventID, EventName, ErrorMessage string
			EventTime                        time.Time
			ResponseElements                 map[string]any
		}
		if err := json.Unmarshal(raw, &r); err != nil || r.EventName != "ConsoleLogin" || r.ResponseElements["ConsoleLogin"] != "Failure" {
			return err
		}
		if r.ErrorMessage != "Failed authentication" {
			t.Errorf("failed ConsoleLogin %s: errorMessage %q, want \"Failed authentication\"", r.EventID, r.ErrorMessage)
		}
		h := r.EventTime.Unix() / 3600
		if ids[r.EventID] {
			burstByHour[h]++
		} else {
			failedByHour[h]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	total, peak, background := 0, 0, 0
	for _, n := range burstByHour {
		total += n
		peak = max(peak, n)
	}
	for _, n := range failedByHour {
		background = max(background, n)
	}
	if total < 20 {
		t.Fatalf("the burst has %d failed ConsoleLogins (as CloudTrail records them), want at least 20", total)
	}
	if peak < 3*max(background, 1) {
		t.Errorf("the burst's busiest hour has %d failures, the background's %d: no visible spike", peak, background)
	}
}

func TestConsoleURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:4747": "http://127.0.0.1:4747/",
		"0.0.0.0:4747":   "http://localhost:4747/",
		"[::]:8080":      "http://localhost:8080/",
		"[::1]:8080":     "http://[::1]:8080/",
		":4747":          "http://localhost:4747/",
	} {
		if got := ConsoleURL("http", addr); got != want {
			t.Errorf("ConsoleURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestCloseWithoutRun: Close releases everything New started for a server
// that never ran (the demo filler's and the CLI's case): no goroutine of
// it is left, and the data directory opens again.
func TestCloseWithoutRun(t *testing.T) {
	cfg := localConfig(t)
	before := runtime.NumGoroutine()
	s := buildServer(t, cfg)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 100 {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before New, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := buildServer(t, cfg).Close(); err != nil {
		t.Fatal(err)
	}
}
