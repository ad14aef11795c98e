package e2e

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestDemoAddsActivityEachRun checks that `opentrail demo` run again adds
// new activity (each run has its own seed) and that --seed repeats a run,
// which the server then stores once.
func TestDemoAddsActivityEachRun(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := startServer(t, "")
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)

	line := regexp.MustCompile(`^accepted (\d+), duplicates (\d+) \(seed (\d+); --seed (\d+) --end (\S+) repeats this run`)
	run := func(args ...string) (accepted, duplicates int, seed, end string) {
		t.Helper()
		out, errs, code := runCLI(t, append([]string{"demo", "--events", "300"}, args...)...)
		m := line.FindStringSubmatch(out)
		if code != 0 || m == nil || m[3] != m[4] {
			t.Fatalf("demo %q: exit %d %q %q", args, code, out, errs)
		}
		accepted, _ = strconv.Atoi(m[1])
		duplicates, _ = strconv.Atoi(m[2])
		return accepted, duplicates, m[3], m[5]
	}
	a1, d1, seed1, end1 := run()
	a2, d2, seed2, _ := run()
	if a1 < 300 || d1 != 0 || a2 < 300 || d2 != 0 || seed1 == seed2 {
		t.Fatalf("two demo runs: accepted %d and %d, duplicates %d and %d, seeds %s and %s; want each to add its events",
			a1, a2, d1, d2, seed1, seed2)
	}
	// A later minute must not matter: the run is repeated from its end.
	a3, d3, seed3, _ := run("--seed", seed1, "--end", end1)
	if a3 != 0 || d3 != a1 || seed3 != seed1 {
		t.Fatalf("demo --seed %s again: accepted %d, duplicates %d (seed %s); want 0 and %d", seed1, a3, d3, seed3, a1)
	}
}
