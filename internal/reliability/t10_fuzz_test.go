package reliability

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testserver"
)

// fuzzParsers are the parsers of untrusted input and the fuzz targets each
// must have. A parser added to the product belongs here; a target named
// here that disappears fails T10.
var fuzzParsers = []struct {
	what, pkg string
	targets   []string
	optional  bool // the package may not exist yet (then it is skipped, and said so)
}{
	{"CloudWatch Logs filter patterns", "internal/filterpattern", []string{"FuzzCompile", "FuzzMatch"}, false},
	{"EventBridge event patterns", "internal/eventpattern", []string{"FuzzCompile", "FuzzMatch", "FuzzReader", "FuzzMatchesCloudTrail"}, false},
	{"Sigma rules", "internal/sigma", []string{"FuzzParseRules", "FuzzMatch", "FuzzFoldedMatch"}, false},
	{"Logs Insights queries", "internal/logsinsights", []string{"FuzzCompile"}, false},
	{"SQL front end (Lake queries)", "internal/query", []string{"FuzzCheck", "FuzzDatePatterns", "FuzzStrptime"}, false},
	{"SigV4 headers, presigned queries and chunked bodies", "internal/sigv4", []string{"FuzzParse", "FuzzDecodeChunked"}, false},
	{"AWS protocols: JSON, query (form) and CBOR decoding", "internal/awsapi", []string{"FuzzDecodeObject", "FuzzFormToJSON", "FuzzCBORToJSON"}, false},
	{"S3 API: ranges, bucket policies, list queries, virtual hosts", "internal/s3api", []string{"FuzzParseRange", "FuzzParsePolicy", "FuzzParseListQuery", "FuzzVirtualHostBucket"}, false},
	{"configuration file", "internal/config", []string{"FuzzLoad"}, false},
	{"IAM policy documents", "internal/iampolicy", []string{"FuzzParse"}, true},
	{"columnar segments", "internal/columnar", []string{"FuzzShredRebuild"}, false},
	{"importer: log files and S3 notifications", "internal/importer", []string{"FuzzParseFile", "FuzzParseNotification"}, false},
	{"CloudTrail records and ingest bodies", "internal/event", []string{"FuzzParse", "FuzzSplitBody", "FuzzParseLenient", "FuzzParseBody", "FuzzParseResources"}, false},
	{"CloudTrail JSON 1.1 bodies", "internal/cloudtrail", []string{"FuzzJSON11Body"}, false},
	{"CloudTrail Data PutAuditEvents", "internal/cloudtraildata", []string{"FuzzEventData"}, false},
	{"digest files and their metadata", "internal/digest", []string{"FuzzParse", "FuzzValidateDigest", "FuzzParseMetadata"}, false},
	{"CloudWatch alarm metric math", "internal/alarmrule", []string{"FuzzParseExpr", "FuzzEvaluate"}, false},
	{"SNS topics and delivery policies", "internal/topics", []string{"FuzzDeliveryPolicy", "FuzzTopicARN", "FuzzStructuredMessage"}, false},
	{"page tokens", "internal/pagetoken", []string{"FuzzOpen"}, false},
	{"object keys (layout)", "internal/layout", []string{"FuzzKeyRoundTrip"}, false},
	{"bucket names and object paths", "internal/objstore", []string{"FuzzValidateBucketName", "FuzzRelPath"}, false},
	{"STS requests", "internal/sts", []string{"FuzzServe"}, false},
	{"native findings queries", "internal/native", []string{"FuzzListFindingsQuery"}, false},
	{"opentrail send input", "internal/cli", []string{"FuzzEachRecord"}, false},
	{"capture: requests identified and records of their answers", "internal/capture", []string{"FuzzIdentify", "FuzzRecord"}, false},
}

// The fuzzing time per target in long mode: go test's own -fuzztime when
// given (it reaches the test binary as test.fuzztime), else one hour.
var (
	fuzzEach     = flag.Duration("fuzz-each", time.Hour, "long mode: how long T10 fuzzes each target")
	fuzzBudget   = flag.Duration("fuzz-budget", 0, "long mode: stop starting T10's fuzz targets once this much time has passed (0: fuzz every target); the figures say how many were fuzzed")
	fuzzParallel = flag.Int("fuzz-parallel", 0, "long mode: T10's fuzzing workers per target (go test -parallel; 0: one per core)")
	fuzzSeeds    = flag.Bool("seeds", false, "short mode: T10 runs every fuzz target's seed corpus itself (go test ./... runs them anyway)")
)

func TestT10Fuzz(t *testing.T) {
	describe(t, "T10", "Every parser of untrusted input (filter and event patterns, Sigma, Logs Insights, the SQL front end, "+
		"SigV4, the AWS protocols, the S3 API, the configuration, IAM policies, columnar segments, the importer, records, digests, ...) "+
		"has fuzz targets, kept in a list the test checks against the code. Short mode runs every target's seed corpus "+
		"(`go test -run '^Fuzz…$'`); long mode fuzzes each target for `-fuzz-each` (default 1 h) with `go test -fuzz` and "+
		"records its executions and the new coverage it found.")
	root := moduleRootDir(t)
	found := fuzzTargetsIn(t, filepath.Join(root, "internal"))

	type target struct{ pkg, name string }
	var targets []target
	parsers := 0
	for _, p := range fuzzParsers {
		if _, err := os.Stat(filepath.Join(root, p.pkg)); err != nil && p.optional {
			t.Logf("%s: %s is not in this tree (yet); its targets are not required", p.what, p.pkg)
			continue
		}
		parsers++
		for _, name := range p.targets {
			if !found[p.pkg][name] {
				t.Errorf("%s: no fuzz target %s in %s", p.what, name, p.pkg)
				continue
			}
			targets = append(targets, target{p.pkg, name})
		}
	}
	// A target the list does not name still runs (scripts/test fuzzes every
	// one); T10 names it so the list is kept up to date.
	listed := map[string]bool{}
	for _, tg := range targets {
		listed[tg.pkg+"."+tg.name] = true
	}
	var unlisted []string
	for pkg, names := range found {
		for n := range names {
			if !listed[pkg+"."+n] {
				unlisted = append(unlisted, pkg+"."+n)
			}
		}
	}
	sort.Strings(unlisted)
	if len(unlisted) > 0 {
		t.Logf("fuzz targets outside the parser list (run too): %s", strings.Join(unlisted, ", "))
	}
	figure(t, "T10", "parsers with fuzz targets", float64(parsers), "", "every parser listed")
	figure(t, "T10", "fuzz targets", float64(len(targets)), "", "every listed target exists")
	if t.Failed() {
		return
	}

	// Every target has seeds: f.Add calls or files under testdata/fuzz.
	seeds := 0
	for _, tg := range targets {
		n := seedCount(t, filepath.Join(root, tg.pkg), tg.name)
		if n == 0 {
			t.Errorf("%s.%s has no seed corpus (no f.Add, no testdata/fuzz/%s)", tg.pkg, tg.name, tg.name)
		}
		seeds += n
	}
	figure(t, "T10", "seed inputs", float64(seeds), "", "≥ 1 per target")

	if !*long && !*fuzzSeeds {
		// `go test ./...` runs every target's seed corpus as a test; -seeds
		// runs them here too (minutes on a loaded machine).
		return
	}
	if !*long {
		// Every seed corpus, in one go test run over the packages (the
		// race detector as this binary has it, so the builds are shared
		// with the test run that started this one).
		byPkg := map[string][]string{}
		for _, tg := range targets {
			byPkg[tg.pkg] = append(byPkg[tg.pkg], tg.name)
		}
		var pkgs, names []string
		seen := map[string]bool{}
		for pkg, ns := range byPkg {
			pkgs = append(pkgs, "./"+pkg)
			for _, n := range ns {
				if !seen[n] {
					seen[n] = true
					names = append(names, n)
				}
			}
		}
		sort.Strings(pkgs)
		args := []string{"test", "-count=1", "-run", "^(" + strings.Join(names, "|") + ")$", "-v"}
		if testserver.RaceEnabled {
			args = append(args, "-race")
		}
		began := time.Now()
		out, err := goCommand(root, append(args, pkgs...)...)
		passed := regexp.MustCompile(`(?m)^--- PASS: (Fuzz\w+)`).FindAllStringSubmatch(out, -1)
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, outputTail(out, 60))
		}
		figure(t, "T10", "seed corpora run green", float64(len(passed)), "targets", fmt.Sprintf("≥ %d (every target)", len(targets)))
		figure(t, "T10", "seed corpora run time", time.Since(began).Seconds(), "s", "informational")
		// A target name shared by packages passes once per package.
		if len(passed) < len(targets) {
			t.Errorf("%d seed corpora passed, want %d:\n%s", len(passed), len(targets), outputTail(out, 60))
		}
		return
	}

	d := *fuzzEach
	if f := flag.Lookup("test.fuzztime"); f != nil && f.Value.String() != "" && f.Value.String() != "0s" {
		if v, err := time.ParseDuration(f.Value.String()); err == nil && v > 0 {
			d = v
		}
	}
	var totalExecs float64
	failures, fuzzed := 0, 0
	began := time.Now()
	for _, tg := range targets {
		if *fuzzBudget > 0 && time.Since(began) >= *fuzzBudget {
			t.Logf("-fuzz-budget %v spent: %d of %d targets fuzzed", *fuzzBudget, fuzzed, len(targets))
			break
		}
		fuzzed++
		execs, interesting, out, err := fuzzOne(root, tg.pkg, tg.name, d)
		if err != nil {
			failures++
			t.Errorf("%s.%s: %v\n%s", tg.pkg, tg.name, err, outputTail(out, 40))
		}
		totalExecs += execs
		figure(t, "T10", fmt.Sprintf("%s %s: execs", tg.pkg, tg.name), execs, "", "long mode only")
		figure(t, "T10", fmt.Sprintf("%s %s: new coverage", tg.pkg, tg.name), interesting, "inputs", "long mode only")
	}
	figure(t, "T10", "targets fuzzed", float64(fuzzed), "", fmt.Sprintf("long mode: %d (all) unless -fuzz-budget ran out", len(targets)))
	figure(t, "T10", "fuzzing run time, all targets (builds included)", time.Since(began).Seconds(), "s", "long mode only")
	figure(t, "T10", "execs, all targets", totalExecs, "", "long mode only")
	figure(t, "T10", "fuzzing time per target", d.Seconds(), "s", "long mode only")
	figure(t, "T10", "targets that failed", float64(failures), "", "= 0")
}

var fuzzLine = regexp.MustCompile(`fuzz: elapsed: \S+, execs: (\d+) .*new interesting: (\d+)`)

// fuzzOne runs one fuzz target for d and returns its last reported
// executions and new interesting inputs. The Go 1.26 coordinator may
// report its own deadline as a failure without a failing input
// (golang/go#75804): that outcome is not a failure.
func fuzzOne(root, pkg, name string, d time.Duration) (execs, interesting float64, out string, err error) {
	args := []string{"test", "-run", "^$", "-fuzz", "^" + name + "$", "-fuzztime", d.String()}
	if *fuzzParallel > 0 {
		args = append(args, "-parallel", strconv.Itoa(*fuzzParallel))
	}
	out, err = goCommand(root, append(args, "./"+pkg)...)
	for _, m := range fuzzLine.FindAllStringSubmatch(out, -1) {
		execs, _ = strconv.ParseFloat(m[1], 64)
		interesting, _ = strconv.ParseFloat(m[2], 64)
	}
	if err != nil && strings.Contains(out, "\n    context deadline exceeded") && !strings.Contains(out, "Failing input written to") {
		err = nil
	}
	return execs, interesting, out, err
}

func goCommand(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

var seedHelper = regexp.MustCompile(`^\s*\w+\(f\)$|\.Add\(.*\)$`)

// seedCount counts the seed inputs of fuzz target name in package dir:
// its f.Add calls and its files under testdata/fuzz/name.
func seedCount(t *testing.T, dir, name string) int {
	t.Helper()
	n := 0
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	start := regexp.MustCompile(`^func ` + name + `\(`)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		in := false
		for _, line := range strings.Split(string(b), "\n") {
			switch {
			case start.MatchString(line):
				in = true
			case in && strings.HasPrefix(line, "}"):
				in = false
			case in && strings.Contains(line, "f.Add("):
				n++
			case in && seedHelper.MatchString(line):
				n++ // seeds added by a helper or in a loop: at least one
			}
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "testdata", "fuzz", name))
	return n + len(entries)
}

// fuzzTargetsIn finds every `func FuzzX(` in the test files under dir, by
// package directory relative to dir's parent ("internal/sigv4").
func fuzzTargetsIn(t *testing.T, dir string) map[string]map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`^func (Fuzz\w+)\(`)
	found := map[string]map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(filepath.Dir(dir), filepath.Dir(p))
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				if found[rel] == nil {
					found[rel] = map[string]bool{}
				}
				found[rel][m[1]] = true
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// moduleRootDir is the module's root directory.
func moduleRootDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

func outputTail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
