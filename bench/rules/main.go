// Command rules measures detection-rule throughput: how many CloudTrail
// records per second one core runs through the 57 SigmaHQ CloudTrail
// rules (internal/sigma, indexed by eventName/eventSource) plus 50 event
// rules (EventBridge patterns, internal/eventpattern: each record matched
// in place as if wrapped in EventBridge's CloudTrail envelope, by one
// indexed Set), each record meeting both rule sets as the detectors see it.
// Side by side, the same Sigma rules run through
// github.com/bradleyjkemp/sigma-go, the Go library a user would otherwise
// use (which rules it cannot evaluate, how its matches compare).
//
//	go run ./bench/rules                        # 200,000 ctgen records, 5 runs
//	go run ./bench/rules --events 500000 --runs 7 --cpuprofile cpu.prof
//	go run ./bench/rules --sigma-go=false       # without the slow side-by-side pass
//
// Records come from the shared generator ../shared/tools/ctgen (NDJSON,
// with its planted incidents so the rules have something to find). The
// Sigma rules are read from ../shared/testdata/sigma/rules, the event
// patterns from internal/eventpattern/testdata/security_patterns.json.
// Everything runs on one core (GOMAXPROCS=1); each run times the passes
// (Sigma only; event rules in place; event rules through the built
// envelope, and the envelope alone, for comparison; both; sigma-go) over
// all records, and the report gives the median of the runs.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/eventpattern"
	"github.com/opentrail/opentrail/internal/sigma"
)

func main() {
	var (
		ctgenSrc, sigmaDir, patterns, cpuProfile string
		events, runs                             int
		sideBySide                               bool
	)
	flag.StringVar(&ctgenSrc, "ctgen", "../shared/tools/ctgen", "source directory of the ctgen generator")
	flag.StringVar(&sigmaDir, "sigma", "../shared/testdata/sigma/rules", "directory of Sigma rules")
	flag.StringVar(&patterns, "patterns", "internal/eventpattern/testdata/security_patterns.json", "JSON array of {name, pattern} event rules")
	flag.IntVar(&events, "events", 200000, "background records to generate (ctgen adds its planted incidents)")
	flag.IntVar(&runs, "runs", 5, "timed runs; the report gives medians")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the timed runs to this file")
	flag.BoolVar(&sideBySide, "sigma-go", true, "also run the Sigma rules through github.com/bradleyjkemp/sigma-go (slow: ~85 µs a record)")
	flag.Parse()
	if err := run(ctgenSrc, sigmaDir, patterns, cpuProfile, events, runs, sideBySide); err != nil {
		fmt.Fprintln(os.Stderr, "rules:", err)
		os.Exit(1)
	}
}

func run(ctgenSrc, sigmaDir, patterns, cpuProfile string, events, runs int, sideBySide bool) error {
	rs, loadErrs, err := sigma.LoadDir(sigmaDir)
	if err != nil {
		return err
	}
	if len(loadErrs) > 0 {
		return fmt.Errorf("sigma rules: %v", loadErrs)
	}
	set, nPatterns, err := loadPatterns(patterns)
	if err != nil {
		return err
	}
	recs, err := generate(ctgenSrc, events)
	if err != nil {
		return err
	}
	var sg *sigmaGo
	if sideBySide {
		if sg, err = loadSigmaGo(sigmaDir, recs[:min(len(recs), 2000)]); err != nil {
			return err
		}
	}
	var size int
	for _, r := range recs {
		size += len(r)
	}

	runtime.GOMAXPROCS(1)
	stop, err := prof.CPU(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()

	var matched []*sigma.Rule
	var ids []string
	sigmaPass := func() error {
		for _, rec := range recs {
			matched = rs.Match(rec, matched[:0])
		}
		return nil
	}
	eventPass := func() error {
		var err error
		for _, rec := range recs {
			if ids, err = set.MatchesCloudTrail(rec, ids[:0]); err != nil {
				return err
			}
		}
		return nil
	}
	envelopePass := func() error {
		for _, rec := range recs {
			env, err := eventpattern.CloudTrailEvent(rec)
			if err != nil {
				return err
			}
			if ids, err = set.Matches(env, ids[:0]); err != nil {
				return err
			}
		}
		return nil
	}
	var sgMatched []string
	sigmaGoPass := func() error {
		var err error
		for _, rec := range recs {
			if sgMatched, err = sg.match(rec, sgMatched[:0]); err != nil {
				return err
			}
		}
		return nil
	}
	envPass := func() error {
		for _, rec := range recs {
			if _, err := eventpattern.CloudTrailEvent(rec); err != nil {
				return err
			}
		}
		return nil
	}
	bothPass := func() error {
		var err error
		for _, rec := range recs {
			matched = rs.Match(rec, matched[:0])
			if ids, err = set.MatchesCloudTrail(rec, ids[:0]); err != nil {
				return err
			}
		}
		return nil
	}
	// Wall time and this process's CPU time (user + system, all threads:
	// the garbage collector's work counts) of each pass; on a shared
	// machine the CPU time is the steadier figure.
	passes := []pass{
		{name: fmt.Sprintf("Sigma `Ruleset.Match`, %d rules", len(rs.Rules())), f: sigmaPass},
		{name: fmt.Sprintf("event rules: `Set.MatchesCloudTrail` (in place), %d patterns", nPatterns), f: eventPass},
		{name: "for comparison: `CloudTrailEvent` + `Set.Matches` (envelope built)", f: envelopePass},
		{name: "of which `CloudTrailEvent` (the envelope) alone", f: envPass},
		{name: fmt.Sprintf("both: %d Sigma + %d event rules", len(rs.Rules()), nPatterns), f: bothPass},
	}
	if sg != nil {
		passes = append(passes, pass{name: fmt.Sprintf("side by side: the same rules through sigma-go v0.6.6 (`RuleEvaluatorBundle`, %d of them evaluable)", sg.parsed-len(sg.evalErrs)), f: sigmaGoPass})
	}
	for r := 0; r < runs; r++ {
		for i := range passes {
			p := &passes[i]
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			m0 := ms.Mallocs
			t0, c0 := time.Now(), cpuTime()
			if err := p.f(); err != nil {
				return err
			}
			p.t, p.c = append(p.t, time.Since(t0)), append(p.c, cpuTime()-c0)
			runtime.ReadMemStats(&ms)
			p.allocs += ms.Mallocs - m0
		}
	}
	stop()

	sigmaHits, eventHits, sgHits := map[string]int{}, map[string]int{}, map[string]int{}
	for _, rec := range recs {
		for _, r := range rs.Match(rec, nil) {
			sigmaHits[strings.TrimSuffix(filepath.Base(r.File), ".yml")]++
		}
		if sg != nil {
			stems, _ := sg.match(rec, nil)
			for _, stem := range stems {
				sgHits[stem]++
			}
		}
		got, _ := set.MatchesCloudTrail(rec, nil)
		for _, id := range got {
			eventHits[id]++
		}
	}

	host, _ := os.Hostname()
	fmt.Printf("records: %d (%.0f MB, mean %.0f bytes), rules: %d Sigma + %d event patterns, GOMAXPROCS=1, %s, %s/%s, host %s\n\n",
		len(recs), float64(size)/1e6, float64(size)/float64(len(recs)), len(rs.Rules()), nPatterns, runtime.Version(), runtime.GOOS, runtime.GOARCH, host)
	fmt.Println("| pass | wall s (runs) | CPU s (runs) | median CPU s | records per CPU-second | ns/record | allocations/record | median wall records/s |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|")
	for _, p := range passes {
		med, wall := median(p.c), median(p.t)
		fmt.Printf("| %s | %s | %s | %.3f | %s | %.0f | %.2f | %s |\n", p.name, secs(p.t), secs(p.c), med.Seconds(),
			group(float64(len(recs))/med.Seconds()), float64(med.Nanoseconds())/float64(len(recs)),
			float64(p.allocs)/float64(len(recs)*runs), group(float64(len(recs))/wall.Seconds()))
	}
	fmt.Println()
	printHits("Sigma rule", sigmaHits)
	printHits("event rule", eventHits)
	if sg != nil {
		sg.report(rs, sigmaHits, sgHits)
	}
	return nil
}

// pass is one timed loop over all records.
type pass struct {
	name   string
	f      func() error
	t, c   []time.Duration
	allocs uint64 // heap allocations, all runs
}

func printHits(kind string, hits map[string]int) {
	names := make([]string, 0, len(hits))
	for k := range hits {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Printf("| %s | matches |\n|---|---:|\n", kind)
	for _, k := range names {
		fmt.Printf("| %s | %d |\n", k, hits[k])
	}
	fmt.Println()
}

func loadPatterns(path string) (*eventpattern.Set, int, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	var ps []struct {
		Name    string          `json:"name"`
		Pattern json.RawMessage `json:"pattern"`
	}
	if err := json.Unmarshal(src, &ps); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	set := eventpattern.NewSet()
	for _, p := range ps {
		c, err := eventpattern.Compile(string(p.Pattern))
		if err != nil {
			return nil, 0, fmt.Errorf("pattern %s: %w", p.Name, err)
		}
		set.Add(p.Name, c)
	}
	return set, len(ps), nil
}

// generate builds ctgen from src and returns n records (plus its planted
// incidents) as NDJSON lines.
func generate(src string, n int) ([][]byte, error) {
	work, err := os.MkdirTemp("", "bench-rules-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "ctgen")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = src
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build ctgen in %s: %w", src, err)
	}
	fmt.Fprintf(os.Stderr, "generating %d records...\n", n)
	out, err := exec.Command(bin, "--events", strconv.Itoa(n), "--inject").Output()
	if err != nil {
		return nil, fmt.Errorf("ctgen: %w", err)
	}
	var recs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		recs = append(recs, slices.Clone(sc.Bytes()))
	}
	return recs, sc.Err()
}

func median(ts []time.Duration) time.Duration {
	s := slices.Clone(ts)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuTime is the CPU time this process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func secs(ts []time.Duration) string {
	list := make([]string, 0, len(ts))
	for _, t := range ts {
		list = append(list, strconv.FormatFloat(t.Seconds(), 'f', 3, 64))
	}
	return strings.Join(list, " · ")
}

// group writes n rounded with thousands separators.
func group(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// caseCheck is sigmaGo.caseCheck for this engine.
func caseCheck(rs *sigma.Ruleset) string {
	var says []string
	for _, mfa := range []string{"No", "NO"} {
		rec := []byte(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","accountId":"123456789012","userName":"alice"},"eventTime":"2026-12-05T05:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"` + mfa + `"},"eventType":"AwsConsoleSignIn","recipientAccountId":"123456789012"}`)
		hit := false
		for _, r := range rs.Match(rec, nil) {
			hit = hit || strings.HasSuffix(r.File, "aws_cloudtrail_console_login_success_without_mfa.yml")
		}
		says = append(says, fmt.Sprintf("MFAUsed %q: %v", mfa, hit))
	}
	return strings.Join(says, ", ")
}

// report prints what sigma-go loaded and how its matches compare.
func (sg *sigmaGo) report(rs *sigma.Ruleset, sigmaHits, sgHits map[string]int) {
	fmt.Printf("sigma-go v0.6.6: %d of %d rule files parse, %d of those cannot be evaluated (its bundle drops them silently):\n", sg.parsed, sg.parsed+len(sg.parseErrs), len(sg.evalErrs))
	for _, e := range append(sg.parseErrs, sg.evalErrs...) {
		fmt.Println("  -", e)
	}
	fmt.Printf("case: %s (this engine: %s)\n\n", sg.caseFolding, caseCheck(rs))
	fmt.Println("| Sigma rule | this engine | sigma-go |\n|---|---:|---:|")
	names := map[string]bool{}
	for k := range sigmaHits {
		names[k] = true
	}
	for k := range sgHits {
		names[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(names)) {
		mark := ""
		if sigmaHits[k] != sgHits[k] {
			mark = " ≠"
		}
		fmt.Printf("| %s%s | %d | %d |\n", k, mark, sigmaHits[k], sgHits[k])
	}
	fmt.Println()
}
