// Command import measures `opentrail import`: how fast a CloudTrail S3
// bucket layout of gzip log files is read into a fresh store, against the
// everyday way of reading the same files, `zcat … | jq` counting events
// by eventName.
//
//	go run ./bench/import                          # 1M events, 3 runs each
//	go run ./bench/import --events 200000 --runs 1 --endpoint
//	go run ./bench/import --dir /tmp/trail         # reuse a layout
//
// The layout comes from the shared generator ../shared/tools/ctgen
// (`--format s3`: one gzip file per account, region and 5-minute window,
// ~1.5 KB records), built into a temporary directory, unless --dir names
// an existing one. Every run then reads all of its files:
//
//   - baseline: `xargs -0 zcat < LIST | jq -c '.Records[].eventName' |
//     sort | uniq -c` (bash, pipefail); its counts must add up to the
//     events the import reads.
//   - data: `opentrail import --data NEW_DIR --state NEW_FILE --quiet DIR`,
//     run in this process through the CLI (cli.Main), so the figure is what
//     a user waits for: opening a new store, reading, gunzipping, parsing,
//     storing with fsync, recording the resume state, closing the store.
//   - endpoint (--endpoint): the same import sent with --endpoint to a
//     local-mode server started in this process on a fresh data directory;
//     the server's start and stop are not timed.
//
// Rates are events/s and MB/s of gzip files and of the JSON inside them
// (from the gzip trailers' sizes); each row is the median of --runs runs,
// and the ratio is against the baseline's median. --cpuprofile profiles
// the imports (the in-process server's work included).
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/cli"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/server"
)

func main() {
	var (
		dir, ctgenSrc, cpuProfile, work  string
		events, runs, parallel, batch    int
		endpoint, skipBaseline, skipData bool
	)
	flag.StringVar(&dir, "dir", "", "existing bucket layout to import (default: generate one with ctgen)")
	flag.IntVar(&events, "events", 1000000, "events to generate (without --dir)")
	flag.StringVar(&ctgenSrc, "ctgen", "../shared/tools/ctgen", "source directory of the ctgen generator")
	flag.IntVar(&runs, "runs", 3, "runs of each measurement")
	flag.IntVar(&parallel, "parallel", 4, "import --parallel")
	flag.IntVar(&batch, "batch", 2500, "import --batch (the CLI's default)")
	flag.BoolVar(&endpoint, "endpoint", false, "also import over HTTP into a server in this process")
	flag.BoolVar(&skipBaseline, "skip-baseline", false, "do not run the zcat | jq baseline")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the imports to this file")
	flag.BoolVar(&skipData, "skip-data", false, "do not run the --data imports")
	flag.StringVar(&work, "work", "", "directory for generated files and stores (default: a new temporary directory, removed afterwards)")
	flag.Parse()
	if err := run(dir, ctgenSrc, cpuProfile, work, events, runs, parallel, batch, endpoint, skipBaseline, skipData); err != nil {
		fmt.Fprintln(os.Stderr, "import bench:", err)
		os.Exit(1)
	}
}

// layout describes the files of a bucket layout.
type layout struct {
	dir       string
	files     []string
	gzipBytes int64
	jsonBytes int64
}

// row is one measured configuration.
type row struct {
	name    string
	events  int64
	seconds []float64
}

func (r row) median() float64 {
	s := slices.Clone(r.seconds)
	slices.Sort(s)
	return s[len(s)/2]
}

func run(dir, ctgenSrc, cpuProfile, work string, events, runs, parallel, batch int, endpoint, skipBaseline, skipData bool) error {
	ctx := context.Background()
	if runs <= 0 {
		return errors.New("--runs must be positive")
	}
	if work == "" {
		d, err := os.MkdirTemp("", "opentrail-import-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	if dir == "" {
		dir = filepath.Join(work, "trail")
		if err := generate(ctgenSrc, work, dir, events); err != nil {
			return err
		}
	}
	lay, err := scan(dir)
	if err != nil {
		return err
	}
	if len(lay.files) == 0 {
		return fmt.Errorf("no .json.gz files under %s", dir)
	}
	fmt.Fprintf(os.Stderr, "layout %s: %d files, %.1f MB gzip, %.1f MB JSON; GOMAXPROCS %d\n",
		dir, len(lay.files), float64(lay.gzipBytes)/1e6, float64(lay.jsonBytes)/1e6, runtime.GOMAXPROCS(0))

	var rows []row
	if !skipBaseline {
		r, err := baseline(lay, work, runs)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}

	stopProfile, err := prof.CPU(cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	imp := row{name: fmt.Sprintf("`opentrail import --data` (parallel %d, batch %d)", parallel, batch)}
	for i := range runs {
		if skipData {
			break
		}
		store := filepath.Join(work, fmt.Sprintf("data-%d", i))
		n, el, err := importOnce(ctx, []string{"--data", store}, work, lay.dir, parallel, batch)
		if err != nil {
			return err
		}
		imp.events = n
		imp.seconds = append(imp.seconds, el)
		fmt.Fprintf(os.Stderr, "import --data run %d: %d events in %.2fs (%.0f events/s)\n", i+1, n, el, float64(n)/el)
		os.RemoveAll(store)
	}
	if !skipData {
		rows = append(rows, imp)
	}

	if endpoint {
		r, err := endpointRuns(ctx, work, lay.dir, runs, parallel, batch)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}

	for _, r := range rows[1:] {
		if !skipBaseline && r.events != rows[0].events {
			return fmt.Errorf("%s read %d events, the baseline counted %d", r.name, r.events, rows[0].events)
		}
	}
	printTable(os.Stdout, lay, rows, !skipBaseline)
	return nil
}

// generate builds ctgen from src and writes an S3 layout of n events to out.
func generate(src, work, out string, n int) error {
	bin := filepath.Join(work, "ctgen")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = src
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build ctgen in %s: %w", src, err)
	}
	fmt.Fprintf(os.Stderr, "generating %d events into %s...\n", n, out)
	gen := exec.Command(bin, "--format", "s3", "--out", out, "--events", strconv.Itoa(n), "--stats")
	gen.Stdout, gen.Stderr = os.Stderr, os.Stderr
	if err := gen.Run(); err != nil {
		return fmt.Errorf("ctgen: %w", err)
	}
	return nil
}

// scan lists the .json.gz files under dir in lexical order and sums their
// sizes; the JSON size is each file's gzip trailer (ISIZE, exact for
// files under 4 GiB).
func scan(dir string) (layout, error) {
	lay := layout{dir: dir}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() || !strings.HasSuffix(p, ".json.gz") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		var trailer [4]byte
		if _, err := f.ReadAt(trailer[:], fi.Size()-4); err != nil {
			return fmt.Errorf("read gzip trailer of %s: %w", p, err)
		}
		lay.files = append(lay.files, p)
		lay.gzipBytes += fi.Size()
		lay.jsonBytes += int64(binary.LittleEndian.Uint32(trailer[:]))
		return nil
	})
	if err != nil {
		return layout{}, fmt.Errorf("scan %s: %w", dir, err)
	}
	return lay, nil
}

// baseline times zcat | jq | sort | uniq -c over the layout's files and
// checks that every run counts the same events.
func baseline(lay layout, work string, runs int) (row, error) {
	if _, err := exec.LookPath("jq"); err != nil {
		return row{}, errors.New("jq is not installed (apt-get install jq), or give --skip-baseline")
	}
	list := filepath.Join(work, "files.list")
	if err := os.WriteFile(list, []byte(strings.Join(lay.files, "\x00")+"\x00"), 0o600); err != nil {
		return row{}, err
	}
	script := `set -o pipefail; xargs -0 zcat < "$1" | jq -c '.Records[].eventName' | sort | uniq -c`
	r := row{name: "baseline: `zcat … \\| jq -c '.Records[].eventName' \\| sort \\| uniq -c`"}
	for i := range runs {
		var out bytes.Buffer
		cmd := exec.Command("bash", "-c", script, "bash", list)
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return row{}, fmt.Errorf("baseline: %w", err)
		}
		el := time.Since(t0).Seconds()
		var n int64
		names := 0
		for line := range strings.Lines(out.String()) {
			f := strings.Fields(line)
			if len(f) != 2 {
				return row{}, fmt.Errorf("baseline: unexpected line %q", line)
			}
			c, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return row{}, fmt.Errorf("baseline: unexpected line %q", line)
			}
			n += c
			names++
		}
		if i > 0 && n != r.events {
			return row{}, fmt.Errorf("baseline counted %d events, then %d", r.events, n)
		}
		r.events = n
		r.seconds = append(r.seconds, el)
		fmt.Fprintf(os.Stderr, "baseline run %d: %d events, %d eventNames in %.2fs (%.0f events/s)\n", i+1, n, names, el, float64(n)/el)
	}
	return r, nil
}

var summaryEvents = regexp.MustCompile(`records: (\d+) read, (\d+) new,`)

// importOnce runs `opentrail import` in this process with dest (--data DIR
// or --endpoint URL) and a fresh state file, returning the events it read
// and the seconds it took. Every event must be new and none rejected.
func importOnce(ctx context.Context, dest []string, work, src string, parallel, batch int) (int64, float64, error) {
	state := filepath.Join(work, "import-state.ndjson")
	os.Remove(state)
	defer os.Remove(state)
	args := append([]string{"import"}, dest...)
	args = append(args, "--state", state, "--quiet", "--parallel", strconv.Itoa(parallel), "--batch", strconv.Itoa(batch), src)
	var stdout, stderr bytes.Buffer
	t0 := time.Now()
	code := cli.Main(ctx, args, &cli.Env{Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader("")})
	el := time.Since(t0).Seconds()
	if code != 0 || stderr.Len() > 0 {
		return 0, 0, fmt.Errorf("opentrail %s: exit %d: %s%s", strings.Join(args, " "), code, stderr.String(), stdout.String())
	}
	m := summaryEvents.FindStringSubmatch(stdout.String())
	if m == nil {
		return 0, 0, fmt.Errorf("no summary in %q", stdout.String())
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	added, _ := strconv.ParseInt(m[2], 10, 64)
	if added != n {
		return 0, 0, fmt.Errorf("import read %d events but added %d: %s", n, added, stdout.String())
	}
	return n, el, nil
}

// endpointRuns imports into a fresh local-mode server in this process per
// run, over HTTP.
func endpointRuns(ctx context.Context, work, src string, runs, parallel, batch int) (row, error) {
	// The server's local mode accepts the key pair test/test.
	os.Setenv("AWS_ACCESS_KEY_ID", "test")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	os.Unsetenv("AWS_SESSION_TOKEN")
	os.Unsetenv("AWS_PROFILE")
	r := row{name: fmt.Sprintf("`opentrail import --endpoint` (in-process server, parallel %d, batch %d)", parallel, batch)}
	for i := range runs {
		data := filepath.Join(work, fmt.Sprintf("server-%d", i))
		n, el, err := func() (int64, float64, error) {
			cfg := config.Default()
			cfg.Addr = "127.0.0.1:0"
			cfg.Data = data
			srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				return 0, 0, err
			}
			if err := srv.Listen(); err != nil {
				return 0, 0, err
			}
			sctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- srv.Run(sctx) }()
			defer func() { stop(); <-done }()
			select {
			case <-srv.Ready():
			case err := <-done:
				return 0, 0, fmt.Errorf("server: %w", err)
			}
			return importOnce(ctx, []string{"--endpoint", "http://" + srv.Addr()}, work, src, parallel, batch)
		}()
		if err != nil {
			return row{}, err
		}
		os.RemoveAll(data)
		r.events = n
		r.seconds = append(r.seconds, el)
		fmt.Fprintf(os.Stderr, "import --endpoint run %d: %d events in %.2fs (%.0f events/s)\n", i+1, n, el, float64(n)/el)
	}
	return r, nil
}

// printTable writes the markdown table; with a baseline, the first row is
// it and the ratios are against its median.
func printTable(w io.Writer, lay layout, rows []row, haveBaseline bool) {
	fmt.Fprintf(w, "| reader | events | files | seconds (%d runs) | median s | events/s | gzip MB/s | JSON MB/s | × baseline |\n", len(rows[0].seconds))
	fmt.Fprintln(w, "|---|---:|---:|---|---:|---:|---:|---:|---:|")
	base := 0.0
	if haveBaseline {
		base = float64(rows[0].events) / rows[0].median()
	}
	for _, r := range rows {
		med := r.median()
		rate := float64(r.events) / med
		runs := make([]string, len(r.seconds))
		for i, s := range r.seconds {
			runs[i] = strconv.FormatFloat(s, 'f', 2, 64)
		}
		ratio := "–"
		if base > 0 {
			ratio = fmt.Sprintf("%.2f×", rate/base)
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s | %.2f | %.0f | %.1f | %.1f | %s |\n", r.name, r.events, len(lay.files),
			strings.Join(runs, " · "), med, rate, float64(lay.gzipBytes)/med/1e6, float64(lay.jsonBytes)/med/1e6, ratio)
	}
}
