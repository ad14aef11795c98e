package reliability

import (
	"bufio"
	"flag"
	"fmt"
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
	long   = flag.Bool("long", false, "long mode: run each test longer and harder and print its figures (hours in total)")
	docOut = flag.String("doc", "", "write every figure of this run, with the command, machine and date, to this file (docs/reliability.md)")
)

func TestMain(m *testing.M) {
	testserver.Main(m, func() {
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
func pick[T any](short, longMode T) T {
	if *long {
		return longMode
	}
	return short
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

// writeDoc writes docs/reliability.md from the figures of this run.
func writeDoc(path string) error {
	figures.mu.Lock()
	defer figures.mu.Unlock()
	var b strings.Builder
	mode := "short"
	if *long {
		mode = "long"
	}
	b.WriteString("# Reliability and security figures\n\n")
	b.WriteString("This file is written by the reliability harness (`internal/reliability`); do not edit it by hand.\n")
	b.WriteString("Each test runs the real server as its own process and breaks or attacks it. In short mode (run by\n")
	b.WriteString("`scripts/test`) every test asserts its figure against the bound in the table; the long mode runs\n")
	b.WriteString("each test longer and harder. To repeat this run:\n\n")
	fmt.Fprintf(&b, "    go test %s./internal/reliability -count=1 -timeout 12h -run '%s' %s-doc \"$PWD/docs/reliability.md\"\n\n",
		map[bool]string{true: "-race ", false: ""}[testserver.RaceEnabled], runFilter(), map[bool]string{true: "-long ", false: ""}[*long])
	fmt.Fprintf(&b, "- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- Mode: %s%s\n", mode, map[bool]string{true: " (race detector on)", false: ""}[testserver.RaceEnabled])
	fmt.Fprintf(&b, "- Machine: %s, %d cores, %s, %s/%s, %s\n\n", cpuModel(), runtime.NumCPU(), memTotal(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	ids := map[string]bool{}
	for _, f := range figures.list {
		ids[f.id] = true
	}
	order := make([]string, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	sort.Slice(order, func(i, j int) bool { return idNumber(order[i]) < idNumber(order[j]) })
	for _, id := range order {
		first := true
		for _, f := range figures.list {
			if f.id != id {
				continue
			}
			if first {
				fmt.Fprintf(&b, "## %s — `%s`\n\n", id, strings.SplitN(f.test, "/", 2)[0])
				if a := figures.about[id]; a != "" {
					b.WriteString(a + "\n\n")
				}
				b.WriteString("| Figure | Value | Short-mode bound |\n| --- | --- | --- |\n")
				first = false
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", f.name, strings.TrimSpace(f.value+" "+f.unit), f.bound)
		}
		b.WriteString("\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
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
