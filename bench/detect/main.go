// Command detect scores the detectors end to end and measures how soon a
// finding follows its event.
//
//	go run ./bench/detect --mode score --events 300000 --days 8
//	go run ./bench/detect --mode latency --rate 20000 --duration 60s --triggers 60
//
// score: the shared generator (../shared/tools/ctgen, --inject --truth)
// writes a realistic workload of one account over several days with
// planted incidents and their ground truth (eventIDs per incident). A
// server runs in this process with SigmaHQ's CloudTrail rules
// (--sigma, loaded as detection.sigma_dir) and opentrail's rule pack, a
// logging trail with both Insights types selected, and 50 event rules
// (the security patterns of internal/eventpattern's tests) put with the
// EventBridge API. The records are posted to /v1/events as a client
// would; once the findings stop changing, every finding is read back
// through /v1/findings and scored against the truth, per detector: which
// planted incidents it found (a finding holding one of the incident's
// events; for Insights, an insight on the incident's API in its account
// and region starting within its span), and how many of its findings,
// and of its high and critical ones, come from the background alone.
// The CIS monitoring pack is scored offline: its metric filters
// (filterpattern) over the same records, each control alarming on a
// 5-minute period holding a match after one without (the pack's alarm
// settings: Sum ≥ 1 over 300 s, missing data not breaching); the server's
// alarms evaluate the present, not history replayed at speed.
//
// latency: a server runs in this process; clients post ctgen records
// (their times moved to now) at a steady rate, 500 to a request, while
// at random times one trigger — a StopLogging call by a principal of its
// own, which opentrail's rule pack ranks high — is posted in a request of
// its own. Its latency is the first poll of /v1/findings (every 20 ms)
// that shows the trigger's finding, minus the request's acknowledgement.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/bench/internal/benchsrv"
	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/filterpattern"
)

func main() {
	var (
		mode, ctgenSrc, sigmaDir, patternsFile, work, dump, cpuProfile string
		events, rate, triggers                                         int
		days                                                           float64
		duration                                                       time.Duration
		seed                                                           int64
	)
	flag.StringVar(&mode, "mode", "score", "score or latency")
	flag.IntVar(&events, "events", 300000, "score: background events generated")
	flag.Float64Var(&days, "days", 8, "score: days the events span (Insights need a day of history)")
	flag.IntVar(&rate, "rate", 20000, "latency: events per second posted")
	flag.DurationVar(&duration, "duration", 60*time.Second, "latency: how long to post")
	flag.IntVar(&triggers, "triggers", 60, "latency: trigger events")
	flag.Int64Var(&seed, "seed", 1, "generator seed")
	flag.StringVar(&ctgenSrc, "ctgen", "../shared/tools/ctgen", "source directory of the ctgen generator")
	flag.StringVar(&sigmaDir, "sigma", "../shared/testdata/sigma/rules", "directory of Sigma rules to load")
	flag.StringVar(&patternsFile, "patterns", "internal/eventpattern/testdata/security_patterns.json", "event rules to put (name and pattern)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "latency: write a CPU profile of the load to this file")
	flag.StringVar(&dump, "dump", "", "score: write every finding scored, as JSON, to this file")
	flag.StringVar(&work, "work", "", "work directory (default: a new temporary directory, removed afterwards)")
	flag.Parse()
	if work == "" {
		d, err := os.MkdirTemp("", "opentrail-detect-bench-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	var err error
	switch mode {
	case "score":
		err = score(work, ctgenSrc, sigmaDir, patternsFile, dump, events, days, seed)
	case "latency":
		err = latency(work, ctgenSrc, cpuProfile, rate, duration, triggers, seed)
	default:
		err = fmt.Errorf("unknown --mode %q (score or latency)", mode)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "detect bench:", err)
	os.Exit(1)
}

// incident is one planted incident of ctgen's truth file.
type incident struct {
	Kind      string    `json:"kind"`
	AccountID string    `json:"accountId"`
	Region    string    `json:"region"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	EventName string    `json:"eventName"`
	EventIDs  []string  `json:"eventIDs"`
}

// generate builds ctgen and writes n events of one account from start
// over days, with incidents planted when truth is set, one record a line.
func generate(src, work string, n int, days float64, start time.Time, seed int64, truth string) (*corpus, error) {
	bin := filepath.Join(work, "ctgen")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build ctgen in %s: %w\n%s", src, err, out)
	}
	out := filepath.Join(work, "events.ndjson")
	args := []string{"--seed", fmt.Sprint(seed), "--events", fmt.Sprint(n), "--accounts", "1",
		"--days", fmt.Sprint(days), "--start", start.Format(time.RFC3339), "--out", out}
	if truth != "" {
		args = append(args, "--inject", "--truth", truth)
	}
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ctgen %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	buf, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	c := &corpus{buf: buf}
	for i := 0; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			j = len(buf) - i
		}
		if j > 0 {
			c.ends = append(c.ends, [2]int{i, i + j})
		}
		i += j + 1
	}
	return c, nil
}

// corpus is the generated records in one buffer with their bounds: no
// pointer per record, so the benchmark's own data costs the collector
// nothing to scan while the server it measures runs in the same process.
type corpus struct {
	buf  []byte
	ends [][2]int
}

func (c *corpus) Len() int { return len(c.ends) }

func (c *corpus) At(i int) []byte { return c.buf[c.ends[i][0]:c.ends[i][1]] }

// Batch returns records i to j (exclusive).
func (c *corpus) Batch(i, j int) [][]byte {
	out := make([][]byte, 0, j-i)
	for k := i; k < j; k++ {
		out = append(out, c.At(k))
	}
	return out
}

// toLocal moves every record of account acct to the local account, the
// one the benchmark's principal acts in (both are 12 digits, so the
// records keep their bounds).
func toLocal(c *corpus, acct string) {
	if len(acct) != len(auth.LocalAccount) {
		panic("account ids are 12 digits")
	}
	c.buf = bytes.ReplaceAll(c.buf, []byte(acct), []byte(auth.LocalAccount))
}

// post sends records to /v1/events, per request, with several requests in
// flight, and reports progress on stderr.
func post(ctx context.Context, r *benchsrv.Running, lines *corpus, per, inflight int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
		sent int
	)
	sem := make(chan struct{}, inflight)
	began := time.Now()
	for i := 0; i < lines.Len(); i += per {
		batch := lines.Batch(i, min(i+per, lines.Len()))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := postBatch(ctx, r, batch)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && ferr == nil {
				ferr = err
			}
			sent += len(batch)
			if sent%50000 < per {
				fmt.Fprintf(os.Stderr, "  posted %d of %d records (%.0f/s)\n", sent, lines.Len(), float64(sent)/time.Since(began).Seconds())
			}
		}()
		mu.Lock()
		err := ferr
		mu.Unlock()
		if err != nil {
			break
		}
	}
	wg.Wait()
	return ferr
}

func postBatch(ctx context.Context, r *benchsrv.Running, batch [][]byte) error {
	body := bytes.Join(batch, []byte("\n"))
	h := http.Header{}
	h.Set("Content-Type", "application/x-ndjson")
	_, err := r.API.Do(ctx, "opentrail", http.MethodPost, "/v1/events", h, body)
	return err
}

// finding is a finding as /v1/findings answers it.
type finding struct {
	ID, Detector, RuleID, Title, Author, Severity, Account, Region, State string
	FirstSeen, LastSeen                                                   time.Time
	Count, EventTotal                                                     int64
	EventIDs, Principals                                                  []string
}

// findings reads every finding the query q selects.
func findings(ctx context.Context, r *benchsrv.Running, q url.Values) ([]finding, error) {
	var all []finding
	q.Set("limit", "1000")
	for {
		raw, err := r.API.Do(ctx, "opentrail", http.MethodGet, "/v1/findings?"+q.Encode(), nil, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Findings []finding
			Next     string
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("decode /v1/findings: %w", err)
		}
		all = append(all, page.Findings...)
		if page.Next == "" {
			return all, nil
		}
		q.Set("next", page.Next)
	}
}

func high(sev string) bool { return sev == "high" || sev == "critical" }

func score(work, ctgenSrc, sigmaDir, patternsFile, dump string, n int, days float64, seed int64) error {
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Duration(days * 24 * float64(time.Hour))).Truncate(time.Hour)
	truthFile := filepath.Join(work, "truth.json")
	fmt.Fprintf(os.Stderr, "generating %d events over %g days from %s with planted incidents\n", n, days, start.Format(time.RFC3339))
	lines, err := generate(ctgenSrc, work, n, days, start, seed, truthFile)
	if err != nil {
		return err
	}
	var truth struct {
		Incidents []incident `json:"incidents"`
	}
	raw, err := os.ReadFile(truthFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &truth); err != nil {
		return fmt.Errorf("truth file: %w", err)
	}
	if len(truth.Incidents) == 0 {
		return fmt.Errorf("the truth file names no incidents")
	}
	toLocal(lines, truth.Incidents[0].AccountID)
	kindOf := map[string]string{}
	for _, inc := range truth.Incidents {
		for _, id := range inc.EventIDs {
			kindOf[id] = inc.Kind
		}
	}
	names := incidentNames(lines, kindOf)

	// The workload's events are all older than live; what starts later is
	// the benchmark's own calls (an insight on its PutEvents rate, say).
	live := time.Now().Add(-2 * time.Minute)
	cfg := benchsrv.WithUser(benchsrv.Config(filepath.Join(work, "data")))
	if cfg.Detection.SigmaDir, err = filepath.Abs(sigmaDir); err != nil {
		return err
	}
	r, err := benchsrv.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Stop()
	rules, err := setup(ctx, r, patternsFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "server %s: a logging trail with both Insights types, %d event rules, Sigma rules of %s and the built-in pack\n",
		r.Srv.Addr(), rules, sigmaDir)
	began := time.Now()
	if err := post(ctx, r, lines, 500, 4); err != nil {
		return err
	}
	posted := time.Since(began)
	fmt.Fprintf(os.Stderr, "posted %d records in %s (%.0f/s); waiting for the findings to settle\n",
		lines.Len(), posted.Round(time.Millisecond), float64(lines.Len())/posted.Seconds())
	all, err := settle(ctx, r, live)
	if err != nil {
		return err
	}
	settled := time.Since(began)
	offline, err := cisOffline(lines)
	if err != nil {
		return err
	}
	all = append(all, offline...)
	if dump != "" {
		b, err := json.MarshalIndent(all, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(dump, b, 0o644); err != nil {
			return err
		}
	}
	report(truth.Incidents, kindOf, names, all)
	fmt.Printf("\n%d records (%d planted) posted in %s; every finding settled %s after the first was posted.\n",
		lines.Len(), len(kindOf), posted.Round(time.Second), settled.Round(time.Second))
	return nil
}

// setup creates a bucket, a logging multi-region trail with both Insights
// types, and one event rule per pattern of the file; it returns how many
// rules it put.
func setup(ctx context.Context, r *benchsrv.Running, patternsFile string) (int, error) {
	if _, err := r.API.Do(ctx, "s3", http.MethodPut, "/detect-bench", nil, nil); err != nil {
		return 0, fmt.Errorf("create bucket: %w", err)
	}
	if err := r.CloudTrail(ctx, "CreateTrail", map[string]any{"Name": "detect-bench", "S3BucketName": "detect-bench", "IsMultiRegionTrail": true}, nil); err != nil {
		return 0, err
	}
	if err := r.CloudTrail(ctx, "StartLogging", map[string]any{"Name": "detect-bench"}, nil); err != nil {
		return 0, err
	}
	if err := r.CloudTrail(ctx, "PutInsightSelectors", map[string]any{"TrailName": "detect-bench",
		"InsightSelectors": []any{map[string]any{"InsightType": "ApiCallRateInsight"}, map[string]any{"InsightType": "ApiErrorRateInsight"}}}, nil); err != nil {
		return 0, err
	}
	raw, err := os.ReadFile(patternsFile)
	if err != nil {
		return 0, err
	}
	var pats []struct {
		Name    string          `json:"name"`
		Pattern json.RawMessage `json:"pattern"`
	}
	if err := json.Unmarshal(raw, &pats); err != nil {
		return 0, fmt.Errorf("%s: %w", patternsFile, err)
	}
	for _, p := range pats {
		if err := r.RPC(ctx, "events", "1.1", "AWSEvents", "PutRule", map[string]any{"Name": p.Name,
			"EventPattern": string(p.Pattern), "State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"}, nil); err != nil {
			return 0, err
		}
	}
	return len(pats), nil
}

// settle waits until the findings of the workload stop changing: the
// same findings with the same counts in three polls 5 s apart, at most
// 15 minutes. It returns them. Findings first seen after live (the
// workload's events are all older) are left out: they are of the
// benchmark's own calls, whose self-audit records SigmaHQ's root-usage
// rule flags (in local mode every key acts as its account's root).
func settle(ctx context.Context, r *benchsrv.Running, live time.Time) ([]finding, error) {
	var last string
	same := 0
	for deadline := time.Now().Add(15 * time.Minute); time.Now().Before(deadline); {
		time.Sleep(5 * time.Second)
		got, err := findings(ctx, r, url.Values{})
		if err != nil {
			return nil, err
		}
		var all []finding
		var total int64
		for _, f := range got {
			if f.FirstSeen.Before(live) {
				all = append(all, f)
				total += f.Count
			}
		}
		sig := fmt.Sprint(len(all), total)
		if sig == last {
			if same++; same == 2 {
				return all, nil
			}
		} else {
			same = 0
			fmt.Fprintf(os.Stderr, "  %d findings of %d signals\n", len(all), total)
		}
		last = sig
	}
	return nil, fmt.Errorf("the findings were still changing after 15 minutes")
}

// incidentNames lists the eventNames of each incident's records.
func incidentNames(lines *corpus, kindOf map[string]string) map[string][]string {
	out := map[string][]string{}
	for i := range lines.Len() {
		l := lines.At(i)
		var r struct{ EventID, EventName string }
		if json.Unmarshal(l, &r) != nil {
			continue
		}
		if k := kindOf[r.EventID]; k != "" && !slices.Contains(out[k], r.EventName) {
			out[k] = append(out[k], r.EventName)
		}
	}
	return out
}

// tie names the incidents a finding reports, none for a finding of the
// background: an incident one of whose events is among the finding's
// (one finding may hold two incidents of one principal, such as
// StopLogging then DeleteTrail), or, for an insight, an incident on the
// insight's API in its region starting within the incident's span.
func tie(f finding, kindOf map[string]string, incs []incident, names map[string][]string) []string {
	var kinds []string
	for _, id := range f.EventIDs {
		if k := kindOf[id]; k != "" && !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	if f.Detector != "insight" {
		return kinds
	}
	for _, inc := range incs {
		if f.Region != inc.Region || f.FirstSeen.Before(inc.Start.Add(-5*time.Minute)) || f.FirstSeen.After(inc.End.Add(5*time.Minute)) {
			continue
		}
		for _, name := range names[inc.Kind] {
			if strings.Contains(f.Title, " "+name+" ") && !slices.Contains(kinds, inc.Kind) {
				kinds = append(kinds, inc.Kind)
			}
		}
	}
	return kinds
}

func report(incs []incident, kindOf map[string]string, names map[string][]string, all []finding) {
	detectors := []string{}
	found := map[string]map[string]bool{} // detector → incident kinds found
	type tally struct{ findings, tied, mediums, mediumTied, highs, highTied int }
	tallies := map[string]*tally{}
	bg := map[string]int{} // background findings by detector and rule title, high and critical
	for _, f := range all {
		if tallies[f.Detector] == nil {
			tallies[f.Detector] = &tally{}
			found[f.Detector] = map[string]bool{}
			detectors = append(detectors, f.Detector)
		}
		t := tallies[f.Detector]
		ks := tie(f, kindOf, incs, names)
		t.findings++
		if len(ks) > 0 {
			t.tied++
		}
		for _, k := range ks {
			found[f.Detector][k] = true
		}
		if high(f.Severity) || f.Severity == "medium" {
			t.mediums++
			if len(ks) > 0 {
				t.mediumTied++
			}
		}
		if high(f.Severity) {
			t.highs++
			if len(ks) > 0 {
				t.highTied++
			} else {
				bg[f.Detector+": "+f.Title]++
			}
		}
	}
	sort.Strings(detectors)
	fmt.Printf("| planted incident | %s | any |\n|---|%s---|\n", strings.Join(detectors, " | "), strings.Repeat("---|", len(detectors)))
	caught := 0
	for _, inc := range incs {
		row, any := "", false
		for _, d := range detectors {
			mark := "—"
			if found[d][inc.Kind] {
				mark, any = "✓", true
			}
			row += " " + mark + " |"
		}
		mark := "**missed**"
		if any {
			mark = "✓"
			caught++
		}
		fmt.Printf("| %s |%s %s |\n", inc.Kind, row, mark)
	}
	fmt.Printf("\nRecall over the planted incidents: %d of %d.\n\n", caught, len(incs))
	fmt.Printf("| detector | findings | of planted incidents | precision | medium and above | of planted incidents | precision | high and critical | of planted incidents | precision |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, d := range detectors {
		t := tallies[d]
		fmt.Printf("| %s | %d | %d | %s | %d | %d | %s | %d | %d | %s |\n", d, t.findings, t.tied, ratio(t.tied, t.findings),
			t.mediums, t.mediumTied, ratio(t.mediumTied, t.mediums), t.highs, t.highTied, ratio(t.highTied, t.highs))
	}
	if len(bg) > 0 {
		fmt.Printf("\nHigh or critical findings of the background alone:\n\n")
		keys := make([]string, 0, len(bg))
		for k := range bg {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("- %s (%d)\n", k, bg[k])
		}
	}
}

func ratio(a, b int) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

// cisOffline raises what the CIS pack's alarms would over the records:
// per control, one finding per run of consecutive 5-minute periods
// holding a match (the alarm goes to ALARM on the first, back to OK after
// the last), severity as the server gives the pack's alarms.
func cisOffline(lines *corpus) ([]finding, error) {
	b, err := cis.Lookup(cis.DefaultVersion)
	if err != nil {
		return nil, err
	}
	pats := make([]*filterpattern.Pattern, len(b.Controls))
	for i, c := range b.Controls {
		if pats[i], err = filterpattern.Compile(c.Pattern); err != nil {
			return nil, fmt.Errorf("CIS %s: %w", c.ID, err)
		}
	}
	set := filterpattern.NewSet(pats)
	hits := make([]bool, len(pats))
	open := make([]*finding, len(pats))
	last := make([]time.Time, len(pats))
	var out []*finding
	for k := range lines.Len() {
		l := lines.At(k)
		clear(hits)
		set.MatchAll(l, hits)
		if !slices.Contains(hits, true) {
			continue
		}
		var r struct {
			EventID, AwsRegion string
			EventTime          time.Time
		}
		if err := json.Unmarshal(l, &r); err != nil {
			return nil, err
		}
		p := r.EventTime.Truncate(5 * time.Minute)
		for i, h := range hits {
			if !h {
				continue
			}
			if f := open[i]; f != nil && !p.After(last[i].Add(5*time.Minute)) {
				f.Count++
				f.LastSeen = r.EventTime
				if len(f.EventIDs) < 100 {
					f.EventIDs = append(f.EventIDs, r.EventID)
				}
			} else {
				c := b.Controls[i]
				open[i] = &finding{Detector: "cis (offline)", RuleID: c.ID, Title: c.Title, Severity: "medium",
					Region: r.AwsRegion, FirstSeen: r.EventTime, LastSeen: r.EventTime, Count: 1, EventIDs: []string{r.EventID}}
				out = append(out, open[i])
			}
			last[i] = p
		}
	}
	fs := make([]finding, len(out))
	for i, f := range out {
		fs[i] = *f
	}
	return fs, nil
}

// triggerRule is the rule pack's "CloudTrail logging stopped or trail
// deleted" (high), which the latency triggers fire.
const triggerRule = "c902169a-acc1-41c6-9183-6f699849f5f1"

func latency(work, ctgenSrc, cpuProfile string, rate int, duration time.Duration, triggers int, seed int64) error {
	ctx := context.Background()
	n := int(float64(rate) * duration.Seconds())
	fmt.Fprintf(os.Stderr, "generating %d events\n", n)
	lines, err := generate(ctgenSrc, work, n, duration.Hours()/24, time.Now().UTC().Truncate(time.Second), seed, "")
	if err != nil {
		return err
	}
	if lines.Len() > 0 {
		var r struct{ RecipientAccountID string }
		if err := json.Unmarshal(lines.At(0), &r); err != nil {
			return err
		}
		toLocal(lines, r.RecipientAccountID)
	}
	r, err := benchsrv.Start(ctx, benchsrv.WithUser(benchsrv.Config(filepath.Join(work, "data"))))
	if err != nil {
		return err
	}
	defer r.Stop()
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	at := make([]time.Duration, triggers)
	for i := range at {
		at[i] = time.Duration(rng.Int64N(int64(duration - 2*time.Second)))
	}
	slices.Sort(at)

	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	stopProfile, err := prof.CPU(cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	began := time.Now()
	for i, d := range at {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(began.Add(d)))
			who := fmt.Sprintf("latency-trigger-%d-%d", seed, i)
			rec := trigger(who, time.Now().UTC())
			if err := postBatch(ctx, r, [][]byte{rec}); err != nil {
				fmt.Fprintln(os.Stderr, "trigger:", err)
				return
			}
			acked := time.Now()
			q := url.Values{"rule": {triggerRule}, "since": {acked.Add(-time.Minute).UTC().Format(time.RFC3339)}}
			for time.Since(acked) < time.Minute {
				fs, err := findings(ctx, r, q)
				if err == nil && slices.ContainsFunc(fs, func(f finding) bool { return slices.Contains(f.Principals, principal(who)) }) {
					mu.Lock()
					lats = append(lats, time.Since(acked))
					mu.Unlock()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			fmt.Fprintln(os.Stderr, "trigger", who, "raised no finding within a minute")
		}()
	}
	// The load: per second, rate records in requests of 500, paced evenly.
	per := 500
	interval := time.Duration(float64(time.Second) * float64(per) / float64(rate))
	sem := make(chan struct{}, 8)
	var lerr error
	var lmu sync.Mutex
	for i, k := 0, 0; i < lines.Len(); i, k = i+per, k+1 {
		time.Sleep(time.Until(began.Add(time.Duration(k) * interval)))
		batch := lines.Batch(i, min(i+per, lines.Len()))
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if err := postBatch(ctx, r, batch); err != nil {
				lmu.Lock()
				lerr = err
				lmu.Unlock()
			}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	sent := time.Since(began)
	wg.Wait()
	stopProfile()
	if lerr != nil {
		return lerr
	}
	slices.Sort(lats)
	fmt.Printf("load: %d records in %s (%.0f/s); %d of %d triggers raised their finding\n",
		lines.Len(), sent.Round(time.Millisecond), float64(lines.Len())/sent.Seconds(), len(lats), triggers)
	if len(lats) > 0 {
		fmt.Printf("ingest-to-finding (acknowledged → visible in /v1/findings): p50 %s, p90 %s, p99 %s, max %s\n",
			pct(lats, 0.50), pct(lats, 0.90), pct(lats, 0.99), lats[len(lats)-1].Round(time.Millisecond))
	}
	return nil
}

func pct(ds []time.Duration, p float64) string {
	return ds[min(len(ds)-1, int(p*float64(len(ds))))].Round(time.Millisecond).String()
}

func principal(who string) string { return "arn:aws:iam::" + auth.LocalAccount + ":user/" + who }

// trigger is a successful StopLogging call by user who.
func trigger(who string, t time.Time) []byte {
	rec := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{"type": "IAMUser", "principalId": "AIDA" + strings.ToUpper(who[len(who)-4:]),
			"arn": principal(who), "accountId": auth.LocalAccount, "userName": who},
		"eventTime": t.Format(time.RFC3339), "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
		"awsRegion": benchsrv.Region, "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.13.0",
		"requestParameters": map[string]any{"name": "arn:aws:cloudtrail:us-east-1:" + auth.LocalAccount + ":trail/main"},
		"responseElements":  nil, "eventID": fmt.Sprintf("%08x-0000-4000-8000-%012x", rand.Uint32(), rand.Uint64()&0xffffffffffff),
		"readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": auth.LocalAccount,
		"eventCategory": "Management",
	}
	b, err := json.Marshal(rec)
	if err != nil {
		panic(err)
	}
	return b
}
