// Command startup measures how long store.Open takes and how much memory
// the process holds right after it, on a store filled by bench/lookup
// (go run ./bench/lookup --data DIR --events N fills one). Each
// measurement is a fresh process (this binary re-run with --child), so
// the figures are those of a server starting:
//
//	go run ./bench/startup --data /tmp/ot-bench-10m --runs 3
//
// Scenarios, in order: "full load" (the set snapshots removed first, as a
// store made before them, or one whose snapshots are damaged), "clean
// restart" (the previous process closed the store) and "after kill -9"
// (a process opens the store, appends --crash-events new demo events,
// and is killed with SIGKILL before it closes it). RSS is VmRSS of
// /proc/self/status after a GC that returns freed memory to the OS; peak
// is VmHWM. The report (markdown) goes to stdout.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// sample is one child's measurement.
type sample struct {
	OpenMS  float64 `json:"open_ms"`
	CPUMS   float64 `json:"cpu_ms"` // user+system CPU time of the process through Open
	RSSMB   float64 `json:"rss_mb"`
	PeakMB  float64 `json:"peak_mb"`
	HeapMB  float64 `json:"heap_mb"`
	LastSeq int64   `json:"last_seq"`
}

func main() {
	var (
		data        = flag.String("data", "/tmp/ot-bench-10m", "store directory filled by bench/lookup")
		runs        = flag.Int("runs", 3, "measurements per scenario")
		crashEvents = flag.Int("crash-events", 200_000, "events appended before the kill -9")
		child       = flag.String("child", "", "internal: measure (\"open\"), or append then wait to be killed (\"crash\")")
		seed        = flag.Int64("seed", 0, "internal: demo seed of the crash events")
		logs        = flag.Bool("log", false, "show the store's log (info level) on stderr")
		scenarios   = flag.String("scenarios", "full,clean,crash", "which scenarios to run")
	)
	flag.Parse()
	level := slog.LevelWarn
	if *logs {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx := context.Background()
	if *child != "" {
		if err := runChild(ctx, *child, *data, *crashEvents, *seed, logger); err != nil {
			fmt.Fprintln(os.Stderr, "startup bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*data, *runs, *crashEvents, *logs, strings.Split(*scenarios, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "startup bench:", err)
		os.Exit(1)
	}
}

func run(data string, runs, crashEvents int, logs bool, scenarios []string) error {
	host, _ := os.Hostname()
	fmt.Printf("# Start-up benchmark\n\n%s on %s, %d CPUs, load average at start: %s\n\nstore %s\n\n",
		time.Now().UTC().Format(time.RFC3339), host, runtime.NumCPU(), prof.LoadAvg(), data)
	fmt.Printf("| scenario | events | open s (runs) | median open s | median CPU s | RSS MB after open (median) | peak RSS MB (median) | Go heap MB |\n|---|---:|---|---:|---:|---:|---:|---:|\n")
	report := func(name string, ss []sample) {
		var opens, cpus, rss, peak, heap []float64
		var runsText []string
		for _, s := range ss {
			opens = append(opens, s.OpenMS/1000)
			cpus = append(cpus, s.CPUMS/1000)
			rss = append(rss, s.RSSMB)
			peak = append(peak, s.PeakMB)
			heap = append(heap, s.HeapMB)
			runsText = append(runsText, fmt.Sprintf("%.2f", s.OpenMS/1000))
		}
		fmt.Printf("| %s | %d | %s | **%.2f** | %.2f | **%.0f** | %.0f | %.0f |\n", name, ss[len(ss)-1].LastSeq,
			strings.Join(runsText, ", "), median(opens), median(cpus), median(rss), median(peak), median(heap))
	}
	open := func() (sample, error) { return childRun(data, "open", 0, 0, logs) }

	var full, clean, crash []sample
	for range runs * count(scenarios, "full") {
		for _, f := range []string{"ids.snap", "days.snap"} {
			os.Remove(filepath.Join(data, f))
		}
		s, err := open()
		if err != nil {
			return err
		}
		full = append(full, s)
	}
	if len(full) > 0 {
		report("full load (no snapshot)", full)
	}
	for range runs * count(scenarios, "clean") {
		s, err := open()
		if err != nil {
			return err
		}
		clean = append(clean, s)
	}
	if len(clean) > 0 {
		report("clean restart", clean)
	}
	for i := range runs * count(scenarios, "crash") {
		// A seed of its own each time, so the events are new.
		if err := crashRun(data, crashEvents, time.Now().UnixNano()+int64(i), logs); err != nil {
			return err
		}
		s, err := open()
		if err != nil {
			return err
		}
		crash = append(crash, s)
		// A clean open and close so that the next crash starts from a
		// snapshot again (as a server that ran a while would).
		if _, err := open(); err != nil {
			return err
		}
	}
	if len(crash) > 0 {
		report(fmt.Sprintf("after kill -9 (%d events appended since the last snapshot)", crashEvents), crash)
	}
	fmt.Printf("\nload average at end: %s\n", prof.LoadAvg())
	return nil
}

// childRun runs this binary as a child and decodes its sample.
func childRun(data, mode string, crashEvents int, seed int64, logs bool) (sample, error) {
	args := []string{"--child", mode, "--data", data, "--crash-events", fmt.Sprint(crashEvents), "--seed", fmt.Sprint(seed)}
	if logs {
		args = append(args, "--log")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return sample{}, fmt.Errorf("child %s: %w", mode, err)
	}
	var s sample
	if err := json.Unmarshal(out, &s); err != nil {
		return s, fmt.Errorf("child %s printed %q: %w", mode, out, err)
	}
	fmt.Fprintf(os.Stderr, "%s: open %.2f s (CPU %.2f s), RSS %.0f MB, peak %.0f MB, %d events\n", mode, s.OpenMS/1000, s.CPUMS/1000, s.RSSMB, s.PeakMB, s.LastSeq)
	return s, nil
}

// crashRun starts a child that appends and is then killed with SIGKILL.
func crashRun(data string, crashEvents int, seed int64, logs bool) error {
	args := []string{"--child", "crash", "--data", data, "--crash-events", fmt.Sprint(crashEvents), "--seed", fmt.Sprint(seed)}
	if logs {
		args = append(args, "--log")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "appended\n" {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("crash child: %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	cmd.Wait()
	fmt.Fprintf(os.Stderr, "crash: appended %d events, killed\n", crashEvents)
	return nil
}

func runChild(ctx context.Context, mode, data string, crashEvents int, seed int64, logger *slog.Logger) error {
	if _, err := os.Stat(filepath.Join(data, store.DBFile)); err != nil {
		return fmt.Errorf("no store in %s (fill one with bench/lookup): %w", data, err)
	}
	t := time.Now()
	st, err := store.Open(ctx, data, store.Options{Logger: logger})
	if err != nil {
		return err
	}
	openDur := time.Since(t)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	switch mode {
	case "open":
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := sample{OpenMS: float64(openDur.Microseconds()) / 1000, CPUMS: float64(cpu.Microseconds()) / 1000, RSSMB: procStatus("VmRSS"), PeakMB: procStatus("VmHWM"),
			HeapMB: float64(ms.HeapAlloc) / (1 << 20), LastSeq: st.LastSeq()}
		if err := st.Close(); err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(s)
	case "crash":
		end := time.Now().UTC().Truncate(time.Second)
		opts := demo.Options{Seed: seed, World: 1, Events: crashEvents, Start: end.Add(-time.Hour), Duration: time.Hour}
		batch := make([]*event.Record, 0, 5000)
		flush := func() error {
			_, err := st.Append(ctx, batch, time.Time{})
			batch = batch[:0]
			return err
		}
		err := demo.Generate(opts, func(raw []byte) error {
			rec, err := event.Parse(bytes.Clone(raw))
			if err != nil {
				return err
			}
			if batch = append(batch, rec); len(batch) == cap(batch) {
				return flush()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = flush()
		}
		if err != nil {
			return err
		}
		fmt.Println("appended")
		time.Sleep(time.Hour) // killed here
		return nil
	}
	return fmt.Errorf("unknown child mode %q", mode)
}

// procStatus reads a kB field of /proc/self/status, in MB.
func procStatus(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb / 1024
		}
	}
	return -1
}

func count(list []string, v string) int {
	if slices.Contains(list, v) {
		return 1
	}
	return 0
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}
