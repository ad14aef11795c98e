package reliability

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testserver"
)

var (
	long      = flag.Bool("long", false, "long mode: run each test longer and harder and print its figures (hours in total)")
	longScale = flag.Float64("long-scale", 1, "long mode: scale every long-mode count and duration by this factor "+
		"(0 < f ≤ 1, never below the short-mode value), for a bounded long run")
	docOut = flag.String("doc", "", "write every figure of this run, with the command, machine and date, to this file (docs/reliability.md); "+
		"a short run rewrites the short-mode figures, a long run the long-mode section's tests it ran")
)

func TestMain(m *testing.M) {
	stopLoad := sampleLoad(30 * time.Second)
	testserver.Main(m, func() {
		stopLoad()
		if *docOut == "" {
			return
		}
		if err := writeDoc(*docOut); err != nil {
			fmt.Fprintln(os.Stderr, "reliability: writing", *docOut+":", err)
			os.Exit(1)
		}
	})
}

// startServer runs `opentrail serve` with data in dir ("" for a new
// temporary directory) and extra arguments.
func startServer(t testing.TB, dir string, extra ...string) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{Dir: dir, Args: extra})
}

// pick returns the short-mode value, or the long-mode one under -long.
// With -long-scale f below 1, a long-mode int or duration is scaled by f
// but never below the short-mode value; other kinds (lists) are not scaled.
func pick[T any](short, longMode T) T {
	if !*long {
		return short
	}
	f := *longScale
	if f <= 0 || f > 1 {
		panic(fmt.Sprintf("reliability: -long-scale %v is out of range; give a factor in (0, 1]", f))
	}
	switch l := any(longMode).(type) {
	case int:
		return any(max(any(short).(int), int(math.Round(float64(l)*f)))).(T)
	case time.Duration:
		return any(max(any(short).(time.Duration), time.Duration(float64(l)*f).Round(time.Second))).(T)
	}
	return longMode
}

// load holds the 1-minute load averages sampled during the run.
var load struct {
	mu      sync.Mutex
	samples []float64
}

// sampleLoad samples the machine's 1-minute load average every period
// until the returned function is called.
func sampleLoad(period time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			if b, err := os.ReadFile("/proc/loadavg"); err == nil {
				var v float64
				if _, err := fmt.Sscanf(string(b), "%f", &v); err == nil {
					load.mu.Lock()
					load.samples = append(load.samples, v)
					load.mu.Unlock()
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// loadSummary says the mean and the highest 1-minute load average sampled.
func loadSummary() string {
	load.mu.Lock()
	defer load.mu.Unlock()
	if len(load.samples) == 0 {
		return "not sampled"
	}
	sum, top := 0.0, 0.0
	for _, v := range load.samples {
		sum += v
		top = max(top, v)
	}
	return fmt.Sprintf("1-minute load average %.1f mean, %.1f max (%d samples; this run and everything else on the machine)",
		sum/float64(len(load.samples)), top, len(load.samples))
}

// A measured figure of one harness test.
type measured struct {
	id, test, name, value, unit, bound string
}

var figures struct {
	mu    sync.Mutex
	list  []measured
	about map[string]string // id → what the test does
}

// describe says what test id does, for docs/reliability.md.
func describe(t testing.TB, id, what string) {
	figures.mu.Lock()
	defer figures.mu.Unlock()
	if figures.about == nil {
		figures.about = map[string]string{}
	}
	figures.about[id] = what
}

// figure records a figure of test id (T1, T2, ...). bound is what short
// mode asserts about it ("= 0", "≤ 5 s"); the caller asserts it. Every
// figure is logged, so a long run prints them all.
func figure(t testing.TB, id, name string, value float64, unit, bound string) {
	t.Helper()
	v := formatValue(value)
	t.Logf("%s %s: %s %s (bound %s)", id, name, v, unit, bound)
	figures.mu.Lock()
	defer figures.mu.Unlock()
	figures.list = append(figures.list, measured{id: id, test: t.Name(), name: name, value: v, unit: unit, bound: bound})
}

func formatValue(v float64) string {
	switch {
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// longHeading starts docs/reliability.md's long-mode section; everything
// above it is the short-mode run's.
const longHeading = "## Long mode"

// writeDoc writes this run's figures into docs/reliability.md. A short run
// rewrites the file's short-mode part and keeps its long-mode section; a
// long run keeps the short-mode part and replaces, in the long-mode
// section, the tests it ran (each with its own command, date and load).
func writeDoc(path string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	shortPart, longPart, _ := strings.Cut(string(old), longHeading+"\n")
	figures.mu.Lock()
	defer figures.mu.Unlock()
	var out string
	if *long {
		out = strings.TrimRight(shortPart, "\n") + "\n\n" + longSection(longPart)
	} else {
		out = shortDoc()
		if longPart != "" {
			out += longHeading + "\n" + longPart
		}
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// repeatCommand is the go test command line that repeats this run.
func repeatCommand() string {
	var b strings.Builder
	b.WriteString("go test ")
	if testserver.RaceEnabled {
		b.WriteString("-race ")
	}
	fmt.Fprintf(&b, "./internal/reliability -count=1 -timeout 12h -run '%s' ", runFilter())
	if *long {
		b.WriteString("-long ")
		if *longScale != 1 {
			fmt.Fprintf(&b, "-long-scale %v ", *longScale)
		}
		if ids := runIDs(); ids["T10"] {
			fmt.Fprintf(&b, "-fuzz-each %v ", *fuzzEach)
			if *fuzzBudget > 0 {
				fmt.Fprintf(&b, "-fuzz-budget %v ", *fuzzBudget)
			}
			if *fuzzParallel > 0 {
				fmt.Fprintf(&b, "-fuzz-parallel %d ", *fuzzParallel)
			}
		}
	}
	b.WriteString(`-doc "$PWD/docs/reliability.md"`)
	return b.String()
}

func machine() string {
	return fmt.Sprintf("%s, %d cores, %s, %s/%s, %s", cpuModel(), runtime.NumCPU(), memTotal(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// shortDoc is the short-mode part of docs/reliability.md.
func shortDoc() string {
	var b strings.Builder
	b.WriteString("# Reliability and security figures\n\n")
	b.WriteString("This file is written by the reliability harness (`internal/reliability`); do not edit it by hand.\n")
	b.WriteString("Each test runs the real server as its own process and breaks or attacks it. In short mode (run by\n")
	b.WriteString("`scripts/test`) every test asserts its figure against the bound in the table; the long mode runs\n")
	b.WriteString("each test longer and harder (its figures are in the long-mode section at the end). To repeat this run:\n\n")
	fmt.Fprintf(&b, "    %s\n\n", repeatCommand())
	fmt.Fprintf(&b, "- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- Mode: short%s\n", map[bool]string{true: " (race detector on)", false: ""}[testserver.RaceEnabled])
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Load: %s\n\n", loadSummary())
	for _, id := range sortedIDs(runIDs()) {
		b.WriteString(block(id, "## "))
	}
	return b.String()
}

// notesMark starts the long-mode section's notes on its runs (what was
// shortened, what failed and why), written by hand and kept by every run.
const notesMark = "Notes on these runs:"

// longSection is the long-mode section: the blocks of the tests this run
// ran, and the earlier blocks (from old, the section's previous text) of
// the tests it did not, after the section's notes.
func longSection(old string) string {
	blocks := map[string]string{}
	chunks := strings.Split("\n"+old, "\n### ")
	notes := ""
	if _, n, ok := strings.Cut(chunks[0], notesMark); ok {
		notes = notesMark + strings.TrimRight(n, "\n") + "\n\n"
	}
	for _, chunk := range chunks[1:] {
		id, _, _ := strings.Cut(chunk, " ")
		blocks[id] = "### " + strings.TrimRight(chunk, "\n") + "\n\n"
	}
	ran := runIDs()
	for id := range ran {
		blocks[id] = block(id, "### ")
	}
	var b strings.Builder
	b.WriteString(longHeading + "\n\n")
	b.WriteString("Each test here ran with `-long`: longer and harder than in short mode. A test's bounds are still\n")
	b.WriteString("asserted where they do not depend on the size of the run. A run may be bounded with `-long-scale f`\n")
	b.WriteString("(every long-mode count and duration times f, never below the short-mode value) and T10's\n")
	b.WriteString("`-fuzz-each` and `-fuzz-budget`; each test's block says the command, date, machine and load of the run it came\n")
	b.WriteString("from.\n\n")
	b.WriteString(notes)
	all := map[string]bool{}
	for id := range blocks {
		all[id] = true
	}
	for _, id := range sortedIDs(all) {
		b.WriteString(blocks[id])
	}
	return b.String()
}

// block is test id's part of the document: heading, description, the run
// it came from (long mode) and its table of figures.
func block(id, heading string) string {
	var b strings.Builder
	first := true
	for _, f := range figures.list {
		if f.id != id {
			continue
		}
		if first {
			fmt.Fprintf(&b, "%s%s — `%s`\n\n", heading, id, strings.SplitN(f.test, "/", 2)[0])
			if a := figures.about[id]; a != "" {
				b.WriteString(a + "\n\n")
			}
			if *long {
				fmt.Fprintf(&b, "Run: `%s` — %s; %s; %s.\n\n", repeatCommand(), time.Now().UTC().Format("2006-01-02 15:04 UTC"),
					machine(), loadSummary())
			}
			b.WriteString("| Figure | Value | Short-mode bound |\n| --- | --- | --- |\n")
			first = false
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", f.name, strings.TrimSpace(f.value+" "+f.unit), f.bound)
	}
	return b.String() + "\n"
}

// runIDs are the tests (T1, T2, ...) that recorded figures in this run.
func runIDs() map[string]bool {
	ids := map[string]bool{}
	for _, f := range figures.list {
		ids[f.id] = true
	}
	return ids
}

func sortedIDs(ids map[string]bool) []string {
	order := make([]string, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	sort.Slice(order, func(i, j int) bool { return idNumber(order[i]) < idNumber(order[j]) })
	return order
}

func idNumber(id string) int {
	var n int
	fmt.Sscanf(strings.TrimPrefix(id, "T"), "%d", &n)
	return n
}

func runFilter() string {
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return "."
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "memory unknown"
	}
	var kb int64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:")), "%d", &kb)
		}
	}
	return fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20))
}

// The long-mode section keeps its notes and the blocks of tests a run did
// not run.
func TestLongSectionKeepsNotesAndBlocks(t *testing.T) {
	old := "\nintro\n\n" + notesMark + " T99 was shortened.\n\n### T99 — `TestT99`\n\nkept\n\n"
	got := longSection(old)
	if !strings.Contains(got, notesMark+" T99 was shortened.\n\n") || !strings.Contains(got, "### T99 — `TestT99`\n\nkept\n") {
		t.Fatalf("notes or an earlier block lost:\n%s", got)
	}
	if strings.Index(got, notesMark) > strings.Index(got, "### T99") {
		t.Fatalf("the notes come after the blocks:\n%s", got)
	}
}
