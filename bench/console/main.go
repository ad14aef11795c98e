// Command console measures the web console's pages on a large store: it
// builds (or reuses) a store of demo events, runs the real server over it
// (the opentrail binary, a process of its own), signs in through POST
// /signin as a browser does, and times every page — median and p95 over
// --runs after --warmup — side by side with what a user would otherwise
// run for the same view: `aws cloudtrail lookup-events` for the history
// views, `opentrail query` (CloudTrail Lake SQL) for the dashboards.
//
//	go run ./bench/console --short                                   # 200k events, a smoke run
//	go run ./bench/console --data /work/ot-console/10m               # 10M: builds once (~30 min), then measures
//	go run ./bench/console --data /work/ot-console/10m --reuse       # measure an existing store again
//
// The store is filled in process (bench/internal/fill: demo activity with
// its planted incidents over --span, compacted into the columnar tier as a
// running server's is, --hot events left in the hot tail); then the server
// runs once over it until its consumers (detectors, insights, compaction)
// have caught up and it is idle, as a server that ingested the events live
// would be. Pages that are still placeholders or missing are reported so.
// Progress goes to stderr, the report (markdown) to stdout.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/bench/internal/fill"
	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/server"
	"github.com/opentrail/opentrail/internal/store"
)

type options struct {
	data     string
	events   int
	span     time.Duration
	hot      int64
	reuse    bool
	runs     int
	warmup   int
	altRuns  int
	noAlt    bool
	bin      string
	aws      string
	settle   time.Duration
	only     string
	csvRows  int
	text     string
	keepLogs bool
}

func main() {
	var o options
	short := flag.Bool("short", false, "smoke run: 200,000 events, 3 runs, 1 warm-up, 1 run of each alternative (flags given explicitly win)")
	flag.StringVar(&o.data, "data", "", "data directory of the store (default bench/results/console-<events>)")
	flag.IntVar(&o.events, "events", 10_000_000, "demo events to build the store with")
	flag.DurationVar(&o.span, "span", 30*24*time.Hour, "eventTime span of the events, ending when the store is built")
	flag.Int64Var(&o.hot, "hot", 200_000, "events left in the hot tail when the store is built")
	flag.BoolVar(&o.reuse, "reuse", false, "use the store in --data as it is, whatever it holds")
	flag.IntVar(&o.runs, "runs", 20, "measured requests of each page")
	flag.IntVar(&o.warmup, "warmup", 2, "unmeasured requests of each page first")
	flag.IntVar(&o.altRuns, "alt-runs", 3, "measured runs of each alternative (aws CLI, opentrail query); the page's requests have warmed the server")
	flag.BoolVar(&o.noAlt, "no-alt", false, "skip the alternatives")
	flag.StringVar(&o.bin, "bin", "", "opentrail binary to run (default: go build ./cmd/opentrail into a temporary directory)")
	flag.StringVar(&o.aws, "aws", defaultAWS(), "the AWS CLI")
	flag.DurationVar(&o.settle, "settle", 45*time.Minute, "longest wait for the server to become idle before measuring")
	flag.StringVar(&o.only, "only", "", "measure only the pages whose name contains this")
	flag.IntVar(&o.csvRows, "csv-rows", 10_000, "rows of the CSV download (and of its lookup-events alternative)")
	flag.StringVar(&o.text, "q", "192.0.2.", "free text of the q= case (default: the planted attackers' address block, rare)")
	flag.BoolVar(&o.keepLogs, "keep", false, "keep the server's log and the temporary directory")
	flag.Parse()
	if *short {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]*int{"events": &o.events, "runs": &o.runs, "warmup": &o.warmup, "alt-runs": &o.altRuns} {
			if !set[name] {
				*v = map[string]int{"events": 200_000, "runs": 3, "warmup": 1, "alt-runs": 1}[name]
			}
		}
	}
	if o.data == "" {
		o.data = filepath.Join("bench", "results", fmt.Sprintf("console-%d", o.events))
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "console bench:", err)
		os.Exit(1)
	}
}

// defaultAWS is Debian's AWS CLI when installed (scripts/test installs
// it), else the one on PATH.
func defaultAWS() string {
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		return "/usr/bin/aws"
	}
	return "aws"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func run(ctx context.Context, o options) error {
	fmt.Printf("# Console pages\n\n%s, GOMAXPROCS %d, load average at start: %s\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.GOMAXPROCS(0), loadAvg())
	events, built, err := build(ctx, o)
	if err != nil {
		return err
	}
	if built > 0 {
		fmt.Printf("Built %s: %d events in %s (%.0f events/s, fill and compaction).\n\n", o.data, events, built.Round(time.Second), float64(events)/built.Seconds())
	} else {
		fmt.Printf("Reused %s: %d events.\n\n", o.data, events)
	}

	tmp, err := os.MkdirTemp("", "ot-console-bench-")
	if err != nil {
		return err
	}
	if !o.keepLogs {
		defer os.RemoveAll(tmp)
	}
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(tmp, "opentrail")
		logf("building the opentrail binary")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/opentrail")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/opentrail (run the bench from the repository's top directory, or give --bin): %w", err)
		}
	}
	srv, err := startServer(ctx, bin, o.data, tmp)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Printf("Server: `%s serve --data %s` up in %s (health answered).\n\n", filepath.Base(bin), o.data, srv.startup.Round(time.Millisecond))

	b := &bench{o: o, srv: srv, bin: bin, tmp: tmp}
	if err := b.setup(ctx); err != nil {
		return err
	}
	idle, err := srv.settle(ctx, o.settle)
	if err != nil {
		return err
	}
	fmt.Printf("Waited %s for the server to become idle (its consumers catching up).\n\n", idle.Round(time.Second))
	if err := b.signIn(ctx); err != nil {
		return err
	}
	if err := b.discover(ctx); err != nil {
		return err
	}
	b.measure(ctx)
	fmt.Printf("\nload average at end: %s\n", loadAvg())
	return nil
}

// build fills o.data unless it already holds the events (or --reuse), and
// returns the number of events stored and how long the fill took (zero
// when it was reused).
func build(ctx context.Context, o options) (int64, time.Duration, error) {
	st, err := store.Open(ctx, o.data, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, 0, fmt.Errorf("open %s: %w", o.data, err)
	}
	defer st.Close()
	have := st.LastSeq()
	switch {
	case o.reuse && have == 0:
		return 0, 0, fmt.Errorf("--reuse: %s holds no events", o.data)
	case o.reuse || have >= int64(o.events):
		return have, 0, nil
	case have > 0:
		return 0, 0, fmt.Errorf("%s holds %d events, fewer than --events %d: remove it, choose another --data, or give --reuse", o.data, have, o.events)
	}
	logf("building %s: %d demo events over %s", o.data, o.events, o.span)
	t := time.Now()
	n, err := fill.Store(ctx, st, fill.Options{Events: o.events, Span: o.span, Hot: o.hot, Incidents: true, Progress: os.Stderr})
	if err != nil {
		return 0, 0, err
	}
	return n, time.Since(t), nil
}

// proc is the server process.
type proc struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	startup time.Duration
	done    chan error
}

func startServer(ctx context.Context, bin, data, tmp string) (*proc, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	logFile, err := os.Create(filepath.Join(tmp, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--data", data, "--addr", addr, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	t := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, base: "http://" + addr, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	for {
		select {
		case err := <-p.done:
			log, _ := os.ReadFile(logFile.Name())
			return nil, fmt.Errorf("the server exited (%v):\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := http.Get(p.base + server.HealthPath); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.startup = time.Since(t)
				logf("server up on %s in %s", p.base, p.startup.Round(time.Millisecond))
				return p, nil
			}
		}
		if time.Since(t) > 10*time.Minute {
			p.stop()
			return nil, errors.New("the server did not answer its health check within 10 minutes")
		}
	}
}

func (p *proc) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// cpu returns the process's user+system CPU time so far.
func (p *proc) cpu() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100, nil // USER_HZ
}

// settle waits until the server used under 5% of a core over 10 seconds.
func (p *proc) settle(ctx context.Context, limit time.Duration) (time.Duration, error) {
	t := time.Now()
	prev, err := p.cpu()
	if err != nil {
		return 0, err
	}
	for {
		time.Sleep(10 * time.Second)
		cur, err := p.cpu()
		if err != nil {
			return 0, err
		}
		busy := cur - prev
		prev = cur
		if busy < 500*time.Millisecond {
			return time.Since(t), nil
		}
		logf("server busy: %s CPU in the last 10 s (waited %s)", busy.Round(10*time.Millisecond), time.Since(t).Round(time.Second))
		if time.Since(t) > limit {
			logf("still busy after --settle %s; measuring anyway", limit)
			return time.Since(t), nil
		}
	}
}

// bench holds the signed-in session and what the cases need.
type bench struct {
	o        options
	srv      *proc
	bin, tmp string
	web      *http.Client
	api      *client.Client

	user, account, eventID, nextLink string
	// oldEventID is an event of account 000000000000 (the one local
	// mode's key sees) from a week before now: its page reads the
	// columnar tier, while eventID, the newest page's, is usually hot.
	oldEventID string
}

// env is the environment of the alternatives: local mode's key, the
// server as endpoint, no user configuration.
func (b *bench) env() []string {
	return append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "OPENTRAIL_ENDPOINT="+b.srv.base)
}

// setup gives the trails, alarms and findings pages something to list: a
// logging multi-region trail and the CIS alarms over it. It is idempotent.
func (b *bench) setup(ctx context.Context) error {
	b.api = client.NewStatic(b.srv.base, "us-east-1", "test", "test")
	var trails struct{ TrailList []struct{ Name string } }
	if err := b.cloudtrail(ctx, "DescribeTrails", map[string]any{}, &trails); err != nil {
		return err
	}
	if len(trails.TrailList) > 0 {
		return nil
	}
	logf("creating a trail and the CIS alarms")
	for _, args := range [][]string{
		{b.o.aws, "--endpoint-url", b.srv.base, "s3", "mb", "s3://console-bench-trail"},
		{b.o.aws, "--endpoint-url", b.srv.base, "cloudtrail", "create-trail", "--name", "main", "--s3-bucket-name", "console-bench-trail", "--is-multi-region-trail"},
		{b.o.aws, "--endpoint-url", b.srv.base, "cloudtrail", "start-logging", "--name", "main"},
		{b.bin, "cis", "enable"},
	} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = b.env()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func (b *bench) cloudtrail(ctx context.Context, op string, in, out any) error {
	body, _ := json.Marshal(in)
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amz-Target", "CloudTrail_20131101."+op)
	raw, err := b.api.Do(ctx, "cloudtrail", http.MethodPost, "/", h, body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return json.Unmarshal(raw, out)
}

// signIn signs in as local mode's default user, as the sign-in form does.
func (b *bench) signIn(ctx context.Context) error {
	jar, _ := cookiejar.New(nil)
	b.web = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"username": {"admin"}, "password": {"opentrail"}, "next": {"/"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.base+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.srv.base)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) opentrail-console-bench")
	t := time.Now()
	resp, err := b.web.Do(req)
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	u, _ := url.Parse(b.srv.base)
	if resp.StatusCode != http.StatusSeeOther || len(jar.Cookies(u)) == 0 {
		return fmt.Errorf("sign in as admin/opentrail: status %d, %d cookies; want 303 and a session cookie", resp.StatusCode, len(jar.Cookies(u)))
	}
	fmt.Printf("Signed in (POST /signin → %d) in %s.\n\n", resp.StatusCode, time.Since(t).Round(time.Millisecond))
	return nil
}

var (
	nextRE   = regexp.MustCompile(`href="(/events\?[^"]*after=[^"]*)"`)
	detailRE = regexp.MustCompile(`href="/events/(\d{12})/([^"?#/]+)"`)
)

// discover picks the values the cases need: a busy user name, an event to
// open, page 1's link to page 2.
func (b *bench) discover(ctx context.Context) error {
	// The demo's events, not the calls of this bench and of the console
	// (recorded as made from loopback), so the user is a busy demo one.
	count := map[string]int{}
	seen := 0
	in := map[string]any{"MaxResults": 50}
	for range 40 {
		var res struct {
			Events    []struct{ EventId, Username, CloudTrailEvent string }
			NextToken string
		}
		if err := b.cloudtrail(ctx, "LookupEvents", in, &res); err != nil {
			return err
		}
		for _, e := range res.Events {
			var rec struct{ SourceIPAddress string }
			json.Unmarshal([]byte(e.CloudTrailEvent), &rec)
			if rec.SourceIPAddress == "127.0.0.1" || e.Username == "" {
				continue
			}
			if b.eventID == "" {
				b.account, b.eventID = "000000000000", e.EventId
			}
			count[e.Username]++
			seen++
		}
		if seen >= 50 || res.NextToken == "" {
			break
		}
		in["NextToken"] = res.NextToken
	}
	for u, n := range count {
		if b.user == "" || n > count[b.user] || (n == count[b.user] && u < b.user) {
			b.user = u
		}
	}
	_, body, _, err := b.get(ctx, "/events")
	if err != nil {
		return err
	}
	if m := nextRE.FindSubmatch(body); m != nil {
		b.nextLink = html.UnescapeString(string(m[1]))
	}
	if m := detailRE.FindSubmatch(body); m != nil {
		b.account, b.eventID = string(m[1]), html.UnescapeString(string(m[2]))
	}
	var old struct{ Events []struct{ EventId string } }
	if err := b.cloudtrail(ctx, "LookupEvents", map[string]any{"MaxResults": 1, "EndTime": time.Now().Add(-7 * 24 * time.Hour).Unix()}, &old); err != nil {
		return err
	}
	if len(old.Events) > 0 {
		b.oldEventID = old.Events[0].EventId
	}
	fmt.Printf("Cases use: user `%s`, event `%s/%s`, a week-old event `000000000000/%s`, free text `%s`, page 2 link `%s`.\n\n", b.user, b.account, b.eventID, b.oldEventID, b.o.text, b.nextLink)
	return nil
}

// get requests a console page and reads it whole.
func (b *bench) get(ctx context.Context, path string) (int, []byte, time.Duration, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.base+path, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) opentrail-console-bench")
	req.Header.Set("Accept", "text/html")
	t := time.Now()
	resp, err := b.web.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	var body []byte
	if strings.HasPrefix(path, "/events.csv") && resp.StatusCode == http.StatusOK {
		body, err = firstLines(resp.Body, 1+b.o.csvRows) // the header and the rows
	} else {
		body, err = io.ReadAll(resp.Body)
	}
	return resp.StatusCode, body, time.Since(t), err
}

// firstLines reads r up to its nth newline.
func firstLines(r io.Reader, n int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 64<<10)
	for n > 0 {
		k, err := r.Read(buf)
		chunk := buf[:k]
		for n > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				break
			}
			out, chunk, n = append(out, chunk[:i+1]...), chunk[i+1:], n-1
		}
		if n > 0 {
			out = append(out, chunk...)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// page is one measured page and its alternative.
type page struct {
	name string
	path func(b *bench) string // "" when its input is missing
	alt  func(b *bench) alt
}

// alt is what a user would otherwise run for the same view: commands run
// one after another, timed together.
type alt struct {
	what string
	cmds [][]string
}

func (b *bench) awsCmd(args ...string) []string {
	return append([]string{b.o.aws, "--endpoint-url", b.srv.base, "--region", "us-east-1"}, args...)
}

func (b *bench) lookup(args ...string) []string {
	return b.awsCmd(append([]string{"cloudtrail", "lookup-events", "--output", "json"}, args...)...)
}

func (b *bench) sql(q string) []string { return []string{b.bin, "query", "--format", "csv", q} }

func since(d time.Duration) string {
	return "TIMESTAMP '" + time.Now().UTC().Add(-d).Format("2006-01-02 15:04:05") + "'"
}

func fixed(p string) func(*bench) string { return func(*bench) string { return p } }

var pages = []page{
	{name: "/events (no filter)", path: fixed("/events"),
		alt: func(b *bench) alt {
			return alt{"lookup-events, 50 newest", [][]string{b.lookup("--max-items", "50")}}
		}},
	{name: "/events?Username=…", path: func(b *bench) string { return "/events?Username=" + url.QueryEscape(b.user) },
		alt: func(b *bench) alt {
			return alt{"lookup-events Username, 50", [][]string{b.lookup("--max-items", "50", "--lookup-attributes", "AttributeKey=Username,AttributeValue="+b.user)}}
		}},
	{name: "/events?EventName=ConsoleLogin&errors=1&range=7d", path: fixed("/events?EventName=ConsoleLogin&errors=1&range=7d"),
		alt: func(b *bench) alt {
			return alt{"lookup-events ConsoleLogin, 7 days, every page, failures by jq", [][]string{{"sh", "-c",
				strings.Join(shellQuote(b.lookup("--lookup-attributes", "AttributeKey=EventName,AttributeValue=ConsoleLogin",
					"--start-time", time.Now().UTC().Add(-7*24*time.Hour).Format(time.RFC3339))), " ") +
					` | jq '[.Events[].CloudTrailEvent | fromjson | select(.errorCode != null or .responseElements.ConsoleLogin == "Failure")] | length' >/dev/null`}}}
		}},
	{name: "/events?q=…", path: func(b *bench) string { return "/events?q=" + url.QueryEscape(b.o.text) },
		alt: func(b *bench) alt {
			return alt{"SQL: records whose text holds it, 50 newest", [][]string{b.sql(
				"SELECT eventTime, eventName, eventID FROM cloudtrail_events WHERE sourceIPAddress LIKE '" + b.o.text + "%' ORDER BY eventTime DESC LIMIT 50")}}
		}},
	{name: "/events?after=… (page 2)", path: func(b *bench) string { return b.nextLink },
		alt: func(b *bench) alt {
			return alt{"lookup-events, 100 newest (pages 1 and 2)", [][]string{b.lookup("--max-items", "100")}}
		}},
	{name: "/events/{account}/{id}", path: func(b *bench) string {
		if b.eventID == "" {
			return ""
		}
		return "/events/" + b.account + "/" + url.PathEscape(b.eventID)
	},
		alt: func(b *bench) alt {
			return alt{"lookup-events EventId", [][]string{b.lookup("--lookup-attributes", "AttributeKey=EventId,AttributeValue="+b.eventID)}}
		}},
	{name: "/events/{account}/{id} (a week old)", path: func(b *bench) string {
		if b.oldEventID == "" {
			return ""
		}
		return "/events/000000000000/" + url.PathEscape(b.oldEventID)
	},
		alt: func(b *bench) alt {
			return alt{"lookup-events EventId", [][]string{b.lookup("--lookup-attributes", "AttributeKey=EventId,AttributeValue="+b.oldEventID)}}
		}},
	{name: "/events.csv (first 10,000 rows)", path: fixed("/events.csv"),
		alt: func(b *bench) alt {
			return alt{fmt.Sprintf("lookup-events, %d newest", b.o.csvRows), [][]string{b.lookup("--max-items", strconv.Itoa(b.o.csvRows))}}
		}},
	{name: "/dashboards/overview?range=24h", path: fixed("/dashboards/overview?range=24h"),
		alt: func(b *bench) alt { return alt{"SQL: the overview's 6 aggregations", overviewSQL(b, 24*time.Hour)} }},
	{name: "/dashboards/overview?range=7d", path: fixed("/dashboards/overview?range=7d"),
		alt: func(b *bench) alt { return alt{"SQL: the overview's 6 aggregations", overviewSQL(b, 7*24*time.Hour)} }},
	{name: "/dashboards/overview?range=30d", path: fixed("/dashboards/overview?range=30d"),
		alt: func(b *bench) alt { return alt{"SQL: the overview's 6 aggregations", overviewSQL(b, 30*24*time.Hour)} }},
	{name: "/dashboards/cis?range=24h", path: fixed("/dashboards/cis?range=24h"),
		alt: func(b *bench) alt { return alt{"SQL: the CIS panels' 14 aggregations", cisSQL(b, 24*time.Hour)} }},
	{name: "/dashboards/cis?range=7d", path: fixed("/dashboards/cis?range=7d"),
		alt: func(b *bench) alt { return alt{"SQL: the CIS panels' 14 aggregations", cisSQL(b, 7*24*time.Hour)} }},
	{name: "/dashboards/cis?range=30d", path: fixed("/dashboards/cis?range=30d"),
		alt: func(b *bench) alt { return alt{"SQL: the CIS panels' 14 aggregations", cisSQL(b, 30*24*time.Hour)} }},
	{name: "/trails", path: fixed("/trails"),
		alt: func(b *bench) alt {
			return alt{"describe-trails + get-trail-status", [][]string{b.awsCmd("cloudtrail", "describe-trails"), b.awsCmd("cloudtrail", "get-trail-status", "--name", "main")}}
		}},
	{name: "/alarms", path: fixed("/alarms"),
		alt: func(b *bench) alt {
			return alt{"cloudwatch describe-alarms", [][]string{b.awsCmd("cloudwatch", "describe-alarms")}}
		}},
	{name: "/findings", path: fixed("/findings"),
		alt: func(b *bench) alt { return alt{"opentrail findings list", [][]string{{b.bin, "findings", "list"}}} }},
}

func overviewSQL(b *bench, d time.Duration) [][]string {
	w := " FROM cloudtrail_events WHERE eventTime >= " + since(d)
	var out [][]string
	for _, q := range []string{
		"SELECT date_trunc('hour', eventTime) AS t, eventCategory, count(*) AS n" + w + " GROUP BY 1, 2 ORDER BY 1",
		"SELECT eventSource, count(*) AS n" + w + " GROUP BY 1 ORDER BY n DESC LIMIT 10",
		"SELECT eventName, count(*) AS n" + w + " GROUP BY 1 ORDER BY n DESC LIMIT 10",
		"SELECT userIdentity.arn AS principal, count(*) AS n" + w + " GROUP BY 1 ORDER BY n DESC LIMIT 10",
		"SELECT date_trunc('hour', eventTime) AS t, sum(CASE WHEN errorCode IS NOT NULL THEN 1 ELSE 0 END) AS errors, count(*) AS n" + w + " GROUP BY 1 ORDER BY 1",
		"SELECT sourceIPAddress, count(*) AS n" + w + " GROUP BY 1 ORDER BY n DESC LIMIT 10",
	} {
		out = append(out, b.sql(q))
	}
	return out
}

// cisPanels are the CIS dashboard's panels as SQL conditions (the CIS
// AWS Foundations Benchmark's monitoring controls' metric filters).
var cisPanels = []string{
	`eventName = 'ConsoleLogin' AND responseElements['ConsoleLogin'] = 'Success' AND coalesce(additionalEventData['MFAUsed'], 'No') <> 'Yes'`,
	`eventName = 'ConsoleLogin' AND (errorMessage = 'Failed authentication' OR responseElements['ConsoleLogin'] = 'Failure')`,
	`userIdentity.type = 'Root' AND userIdentity.invokedBy IS NULL AND eventType <> 'AwsServiceEvent'`,
	`(errorCode LIKE '%UnauthorizedOperation' OR errorCode LIKE 'AccessDenied%')`,
	`eventSource = 'kms.amazonaws.com' AND eventName IN ('DisableKey', 'ScheduleKeyDeletion')`,
	`eventName IN ('DeleteGroupPolicy', 'DeleteRolePolicy', 'DeleteUserPolicy', 'PutGroupPolicy', 'PutRolePolicy', 'PutUserPolicy', 'CreatePolicy', 'DeletePolicy', 'CreatePolicyVersion', 'DeletePolicyVersion', 'AttachRolePolicy', 'DetachRolePolicy', 'AttachUserPolicy', 'DetachUserPolicy', 'AttachGroupPolicy', 'DetachGroupPolicy')`,
	`eventName IN ('CreateTrail', 'UpdateTrail', 'DeleteTrail', 'StartLogging', 'StopLogging')`,
	`eventSource = 'config.amazonaws.com' AND eventName IN ('StopConfigurationRecorder', 'DeleteDeliveryChannel', 'PutDeliveryChannel', 'PutConfigurationRecorder')`,
	`eventName IN ('CreateCustomerGateway', 'DeleteCustomerGateway', 'AttachInternetGateway', 'CreateInternetGateway', 'DeleteInternetGateway', 'DetachInternetGateway')`,
	`eventName IN ('CreateRoute', 'CreateRouteTable', 'ReplaceRoute', 'ReplaceRouteTableAssociation', 'DeleteRouteTable', 'DeleteRoute', 'DisassociateRouteTable')`,
	`eventName IN ('CreateNetworkAcl', 'CreateNetworkAclEntry', 'DeleteNetworkAcl', 'DeleteNetworkAclEntry', 'ReplaceNetworkAclEntry', 'ReplaceNetworkAclAssociation')`,
	`eventName IN ('AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress', 'RevokeSecurityGroupIngress', 'RevokeSecurityGroupEgress', 'CreateSecurityGroup', 'DeleteSecurityGroup')`,
	`eventName IN ('CreateVpc', 'DeleteVpc', 'ModifyVpcAttribute', 'AcceptVpcPeeringConnection', 'CreateVpcPeeringConnection', 'DeleteVpcPeeringConnection', 'RejectVpcPeeringConnection', 'AttachClassicLinkVpc', 'DetachClassicLinkVpc', 'DisableVpcClassicLink', 'EnableVpcClassicLink')`,
	`eventSource = 's3.amazonaws.com' AND eventName IN ('PutBucketAcl', 'PutBucketPolicy', 'PutBucketCors', 'PutBucketLifecycle', 'PutBucketReplication', 'DeleteBucketPolicy', 'DeleteBucketCors', 'DeleteBucketLifecycle', 'DeleteBucketReplication')`,
}

func cisSQL(b *bench, d time.Duration) [][]string {
	var out [][]string
	for _, cond := range cisPanels {
		out = append(out, b.sql("SELECT date_trunc('hour', eventTime) AS t, count(*) AS n FROM cloudtrail_events WHERE eventTime >= "+since(d)+" AND "+cond+" GROUP BY 1 ORDER BY 1"))
	}
	return out
}

func shellQuote(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}

// placeholder is the skeleton's text on pages not built yet.
const placeholder = "This page is being built."

func (b *bench) measure(ctx context.Context) {
	fmt.Printf("Each page: %d warm-up requests, then %d measured (wall time of the whole response, signed in as admin); each alternative: %d runs, one after another (the AWS CLI is %s).\n\n", b.o.warmup, b.o.runs, b.o.altRuns, b.o.aws)
	fmt.Println("| page | status | bytes | p50 ms | p95 ms | what a user would otherwise run | p50 ms | page is |")
	fmt.Println("|---|---|---:|---:|---:|---|---:|---:|")
	for _, p := range pages {
		if b.o.only != "" && !strings.Contains(p.name, b.o.only) {
			continue
		}
		path := p.path(b)
		logf("measuring %s (%s)", p.name, path)
		row := []string{p.name, "", "", "", "", "", "", ""}
		var pageP50 time.Duration
		if path == "" {
			row[1] = "not measured: no link to it on page 1"
		} else {
			status, body, times, err := b.timePage(ctx, path)
			switch {
			case err != nil:
				row[1] = "error: " + err.Error()
			case status == http.StatusNotFound:
				row[1] = "404 (page missing)"
			case bytes.Contains(body, []byte(placeholder)):
				row[1] = "placeholder"
			case status != http.StatusOK:
				row[1] = strconv.Itoa(status)
			default:
				row[1] = "200"
			}
			if err == nil {
				pageP50 = quantile(times, 0.5)
				row[2] = strconv.Itoa(len(body))
				row[3] = ms(pageP50)
				row[4] = ms(quantile(times, 0.95))
			}
		}
		if p.alt != nil && !b.o.noAlt {
			a := p.alt(b)
			row[5] = a.what
			d, err := b.timeAlt(ctx, a)
			if err != nil {
				row[6] = "error"
				logf("%s: %s: %v", p.name, a.what, err)
			} else {
				row[6] = ms(d)
				if pageP50 > 0 && row[1] == "200" {
					row[7] = fmt.Sprintf("%.1f× faster", float64(d)/float64(pageP50))
				}
			}
		}
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
}

// timePage requests path warm-up plus runs times; it returns the last
// response's status and body and the measured times.
func (b *bench) timePage(ctx context.Context, path string) (int, []byte, []time.Duration, error) {
	var (
		times  []time.Duration
		status int
		body   []byte
	)
	for i := range b.o.warmup + b.o.runs {
		s, bd, d, err := b.get(ctx, path)
		if err != nil {
			return 0, nil, nil, err
		}
		status, body = s, bd
		if i >= b.o.warmup {
			times = append(times, d)
		}
		if s == http.StatusSeeOther || s == http.StatusFound {
			return s, body, times, fmt.Errorf("redirected to %s: signed out?", "signin")
		}
	}
	return status, body, times, nil
}

// timeAlt runs a's commands altRuns times; it returns the median total.
func (b *bench) timeAlt(ctx context.Context, a alt) (time.Duration, error) {
	var times []time.Duration
	for range max(b.o.altRuns, 1) {
		t := time.Now()
		for _, c := range a.cmds {
			cmd := exec.CommandContext(ctx, c[0], c[1:]...)
			cmd.Env = b.env()
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			if err := cmd.Run(); err != nil {
				return 0, fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, stderr.String())
			}
		}
		times = append(times, time.Since(t))
	}
	return quantile(times, 0.5), nil
}

// quantile is the nearest-rank quantile of ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(raw))[:3], " ")
}
