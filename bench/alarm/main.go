// Command alarm measures the detection chain: how long an event takes from
// its acknowledgement to its alarm's state change (and to the alarm's HTTP
// notification) while the server ingests a steady load, and how many
// events per second the log-group consumer works through on a backlog.
//
//	go run ./bench/alarm --mode latency --rate 20000 --duration 30s --triggers 100
//	go run ./bench/alarm --mode drain --events 1000000
//
// Both modes set the server up through its own signed APIs, as a client
// would: a multi-region trail that is logging, the CIS monitoring pack of
// the newest benchmark in the catalogue (cis.Enable: the trail's log group,
// one metric filter and one alarm per control, a topic), ten custom metric
// filters (those of bench/filter) and a trigger filter
// `{ $.eventName = "BenchTrigger" }` whose metric carries the dimension
// Trigger=$.requestParameters.trigger. Records come from the project's
// realistic generator (internal/demo, ~1.5 KB each), all of the trail's
// account.
//
// latency: a server runs in this process and clients POST records at a
// steady rate, 500 to a request, several requests in flight. There is one
// alarm per trigger value (Sum ≥ 1 over 60 s, one evaluation period,
// notifying the pack's topic, which an HTTP endpoint in this process
// subscribes to). At random times during the load one trigger record is
// sent in a request of its own. Its latency is measured twice: the poll
// (DescribeAlarms for that alarm every 20 ms) that first sees ALARM minus
// the request's acknowledgement (an upper bound), and the time of the
// alarm's transition to ALARM in its history (DescribeAlarmHistory,
// milliseconds; the alarm may be back to OK by the end, as its minute has
// passed) minus the acknowledgement (a lower bound: the engine stamps a
// transition with the start of its evaluation pass). The notification's
// latency is its arrival at the subscriber minus the acknowledgement. It
// also reports how far the consumer was behind the store during the load
// and when the load stopped.
//
// One trigger filter with a dimension rather than one filter per trigger:
// a log group holds at most 100 metric filters, as in CloudWatch Logs.
//
// drain: the wiring is set up on a server, which is stopped; the events are
// then committed straight to its store (the consumer is not running), and
// a server is started again on that data: the time until the consumer's
// cursor reaches the store's last sequence number gives the consumer's
// events/s (reading the store, selecting, filters, DuckDB writes, metric
// points). The trail's delivery runs beside it, as on any server (its
// window is 1 h, but a file is written as soon as it holds 20,000
// records); --cpuprofile tells the two apart.
// Afterwards the same records run through the group's filters alone
// (filterpattern.Set.MatchAll, one goroutine), which is the filters' share.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/cisclient"
	"github.com/opentrail/opentrail/internal/client"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/filterpattern"
	"github.com/opentrail/opentrail/internal/server"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	account   = "000000000000"
	region    = "us-east-1"
	trailName = "bench-trail"
	bucket    = "bench-trail-bucket"
	cursor    = "logwatch" // the consumer's cursor in the store
	batchSize = 500
)

// custom are the ten custom filters of bench/filter.
var custom = []string{
	`{ ($.errorCode = "Throttling*") || ($.errorCode = "SlowDown") || ($.errorCode = "Client.RequestLimitExceeded") }`,
	`{ $.sourceIPAddress = %^195\.198\.% }`,
	`{ $.userIdentity.arn = "arn:aws:iam::*:user/ci-*" }`,
	`{ ($.eventName = RunInstances) || ($.eventName = TerminateInstances) || ($.eventName = StopInstances) }`,
	`{ $.additionalEventData.bytesTransferredOut > 1000000 }`,
	`"iam.amazonaws.com" CreateUser`,
	`{ $.userIdentity.type = "AssumedRole" && $.userIdentity.sessionContext.attributes.mfaAuthenticated = "false" && $.readOnly IS FALSE && $.eventSource = "iam.amazonaws.com" }`,
	`{ ($.eventSource = "sts.amazonaws.com") && ($.eventName = "AssumeRole") && ($.userIdentity.type = "IAMUser") }`,
	`{ ($.tlsDetails.tlsVersion = "TLSv1") || ($.tlsDetails.tlsVersion = "TLSv1.1") || ($.tlsDetails.tlsVersion = "TLSv1.2") }`,
	`{ ($.eventName = "GetSecretValue") && ($.userIdentity.type = "IAMUser") && ($.errorCode NOT EXISTS) }`,
}

const triggerPattern = `{ $.eventName = "BenchTrigger" }`

func main() {
	var (
		mode, data, cpuProfile string
		events, rate, triggers int
		duration               time.Duration
		seed                   int64
	)
	flag.StringVar(&mode, "mode", "latency", "latency or drain")
	flag.IntVar(&rate, "rate", 20000, "latency: events per second sent")
	flag.DurationVar(&duration, "duration", 60*time.Second, "latency: how long to send")
	flag.IntVar(&triggers, "triggers", 200, "latency: trigger events (one alarm each)")
	flag.IntVar(&events, "events", 1000000, "drain: events committed before the consumer starts")
	flag.StringVar(&data, "data", "", "data directory (default: a new temporary directory, removed afterwards)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the load (latency) or the drain (drain) to this file")
	flag.Int64Var(&seed, "seed", 11, "generator seed")
	flag.Parse()
	if data == "" {
		d, err := os.MkdirTemp("", "opentrail-alarm-bench-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		data = d
	}
	var err error
	switch mode {
	case "latency":
		err = latency(data, rate, duration, triggers, seed, cpuProfile)
	case "drain":
		err = drain(data, events, seed, cpuProfile)
	default:
		err = fmt.Errorf("unknown --mode %q (latency or drain)", mode)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "alarm bench:", err)
	os.Exit(1)
}

// running is a server of this process.
type running struct {
	srv  *server.Server
	api  *client.Client
	stop func() error
}

func start(ctx context.Context, cfg config.Config) (*running, error) {
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(); err != nil {
		srv.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return nil, err
	}
	return &running{srv: srv, api: client.NewStatic("http://"+srv.Addr(), region, "test", "test"),
		stop: func() error { cancel(); return <-done }}, nil
}

func serverConfig(data string) config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = data
	return cfg
}

// rpc calls a JSON-protocol operation.
func rpc(ctx context.Context, api *client.Client, service, version, target, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-"+version)
	h.Set("X-Amz-Target", target+"."+op)
	raw, err := api.Do(ctx, service, http.MethodPost, "/", h, body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func trailAPI(ctx context.Context, api *client.Client, op string, in any) error {
	return rpc(ctx, api, "cloudtrail", "1.1", "CloudTrail_20131101", op, in, nil)
}

func logsAPI(ctx context.Context, api *client.Client, op string, in any) error {
	return rpc(ctx, api, "logs", "1.1", "Logs_20140328", op, in, nil)
}

func cloudwatch(ctx context.Context, api *client.Client, op string, in, out any) error {
	return rpc(ctx, api, "monitoring", "1.0", "GraniteServiceVersion20100801", op, in, out)
}

// wire sets up the trail, the CIS pack (notifying notify, if set), the
// custom filters and the trigger filter; it returns the pack's topic.
func wire(ctx context.Context, r *running, notify string) (topic string, err error) {
	if _, err := r.api.Do(ctx, "s3", http.MethodPut, "/"+bucket, nil, nil); err != nil {
		return "", fmt.Errorf("create bucket: %w", err)
	}
	if err := trailAPI(ctx, r.api, "CreateTrail", map[string]any{"Name": trailName, "S3BucketName": bucket, "IsMultiRegionTrail": true}); err != nil {
		return "", err
	}
	if err := trailAPI(ctx, r.api, "StartLogging", map[string]any{"Name": trailName}); err != nil {
		return "", err
	}
	opts := cis.EnableOptions{}
	if notify != "" {
		opts.Notify = []string{notify}
	}
	res, err := cis.Enable(ctx, cisclient.New(r.api), opts)
	if err != nil {
		return "", fmt.Errorf("enable the CIS pack: %w", err)
	}
	fmt.Fprintf(os.Stderr, "CIS %s: %d controls on log group %s\n", res.Benchmark, len(res.Controls), res.LogGroup)
	put := func(name, pattern string, tr map[string]any) error {
		return logsAPI(ctx, r.api, "PutMetricFilter", map[string]any{"logGroupName": res.LogGroup, "filterName": name,
			"filterPattern": pattern, "metricTransformations": []any{tr}})
	}
	for i, p := range custom {
		if err := put(fmt.Sprintf("custom-%d", i), p, map[string]any{"metricName": fmt.Sprintf("Custom%d", i),
			"metricNamespace": "Bench", "metricValue": "1"}); err != nil {
			return "", err
		}
	}
	if err := put("bench-trigger", triggerPattern, map[string]any{"metricName": "BenchTrigger", "metricNamespace": "Bench",
		"metricValue": "1", "dimensions": map[string]string{"Trigger": "$.requestParameters.trigger"}}); err != nil {
		return "", err
	}
	return res.TopicARN, nil
}

// patterns are the filters of the group wire sets up.
func patterns() ([]string, error) {
	b, err := cis.Lookup(cis.DefaultVersion)
	if err != nil {
		return nil, err
	}
	var ps []string
	for _, c := range b.Controls {
		ps = append(ps, c.Pattern)
	}
	return append(append(ps, custom...), triggerPattern), nil
}

func generate(n int, seed int64, start time.Time, span time.Duration, fn func(rec []byte) error) error {
	return demo.Generate(demo.Options{Seed: seed, Events: n, Start: start, Duration: span, Accounts: []string{account}}, fn)
}

// trigger is a management event the trigger filter matches.
func trigger(i int, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEBENCH","arn":"arn:aws:iam::%[1]s:user/bench","accountId":"%[1]s","userName":"bench"},"eventTime":"%[2]s","eventSource":"bench.amazonaws.com","eventName":"BenchTrigger","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"bench","requestParameters":{"trigger":"%[3]d"},"responseElements":null,"eventID":"%[4]s","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"%[1]s","eventCategory":"Management"}`,
		account, at.UTC().Format(time.RFC3339), i, fmt.Sprintf("be0c4a1a-0000-4000-8000-%012d", i)))
}

func alarmName(i int) string { return fmt.Sprintf("bench-trigger-%d", i) }

// subscriber is an HTTP endpoint subscribed to the topic: it confirms the
// subscription and notes when each alarm's ALARM notification arrived.
type subscriber struct {
	srv       *httptest.Server
	mu        sync.Mutex
	confirmed bool
	alarmAt   map[string]time.Time
}

func newSubscriber() *subscriber {
	s := &subscriber{alarmAt: map[string]time.Time{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		var n struct{ Type, Message, SubscribeURL string }
		if err := json.Unmarshal(body, &n); err != nil {
			w.WriteHeader(400)
			return
		}
		switch n.Type {
		case "SubscriptionConfirmation":
			resp, err := http.Get(n.SubscribeURL)
			if err == nil {
				resp.Body.Close()
				s.mu.Lock()
				s.confirmed = resp.StatusCode == 200
				s.mu.Unlock()
			}
		case "Notification":
			var m struct{ AlarmName, NewStateValue string }
			if json.Unmarshal([]byte(n.Message), &m) == nil && m.NewStateValue == "ALARM" {
				s.mu.Lock()
				if _, ok := s.alarmAt[m.AlarmName]; !ok {
					s.alarmAt[m.AlarmName] = at
				}
				s.mu.Unlock()
			}
		}
		w.WriteHeader(200)
	}))
	return s
}

// poster POSTs record batches to /v1/events, signed as the bench and the
// SDKs sign.
type poster struct {
	endpoint string
	hc       *http.Client
	signer   *v4.Signer
}

func (p *poster) post(ctx context.Context, body []byte) error {
	r, _ := http.NewRequestWithContext(ctx, "POST", p.endpoint+"/v1/events", bytes.NewReader(body))
	sum := sha256.Sum256(body)
	if err := p.signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, r,
		hex.EncodeToString(sum[:]), "opentrail", region, time.Now()); err != nil {
		return err
	}
	resp, err := p.hc.Do(r)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST /v1/events: %d %s", resp.StatusCode, b)
	}
	return nil
}

type alarmState struct{ AlarmName, StateValue string }

func epochOf(n json.Number) (time.Time, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", n, err)
	}
	return time.UnixMilli(int64(f*1000 + 0.5)), nil
}

func describe(ctx context.Context, api *client.Client, names []string) ([]alarmState, error) {
	var all []alarmState
	for len(names) > 0 {
		k := min(len(names), 100)
		var out struct{ MetricAlarms []alarmState }
		if err := cloudwatch(ctx, api, "DescribeAlarms", map[string]any{"AlarmNames": names[:k], "MaxRecords": 100}, &out); err != nil {
			return nil, err
		}
		all = append(all, out.MetricAlarms...)
		names = names[k:]
	}
	return all, nil
}

// alarmedAt is the time of the alarm's first transition to ALARM, from its
// history (millisecond timestamps), or zero.
func alarmedAt(ctx context.Context, api *client.Client, name string) (time.Time, error) {
	var out struct {
		AlarmHistoryItems []struct {
			Timestamp      json.Number
			HistorySummary string
		}
	}
	if err := cloudwatch(ctx, api, "DescribeAlarmHistory", map[string]any{"AlarmName": name, "HistoryItemType": "StateUpdate",
		"ScanBy": "TimestampAscending", "MaxRecords": 100}, &out); err != nil {
		return time.Time{}, err
	}
	for _, h := range out.AlarmHistoryItems {
		if strings.HasSuffix(h.HistorySummary, " to ALARM") {
			return epochOf(h.Timestamp)
		}
	}
	return time.Time{}, nil
}

// latency runs the steady load with triggers.
func latency(data string, rate int, duration time.Duration, triggers int, seed int64, cpuProfile string) error {
	ctx := context.Background()
	n := rate * int(duration/time.Second)
	// The records' times follow the run: from now to the end of the load
	// (generation takes a while, so they trail the clock a little).
	span := duration + 30*time.Second
	genStart := time.Now().UTC().Truncate(time.Second)
	fmt.Fprintf(os.Stderr, "generating %d events...\n", n)
	var bodies [][]byte
	var cur [][]byte
	err := generate(n, seed, genStart, span, func(raw []byte) error {
		cur = append(cur, append([]byte(nil), raw...))
		if len(cur) == batchSize {
			bodies = append(bodies, bytes.Join(cur, []byte{'\n'}))
			cur = nil
		}
		return nil
	})
	if err != nil {
		return err
	}
	bodies = bodies[:min(len(bodies), n/batchSize)]

	sub := newSubscriber()
	defer sub.srv.Close()
	r, err := start(ctx, serverConfig(data))
	if err != nil {
		return err
	}
	defer r.stop()
	topic, err := wire(ctx, r, sub.srv.URL+"/hook")
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		sub.mu.Lock()
		ok := sub.confirmed
		sub.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the subscriber's subscription was not confirmed within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	names := make([]string, triggers)
	for i := range triggers {
		names[i] = alarmName(i)
		if err := cloudwatch(ctx, r.api, "PutMetricAlarm", map[string]any{
			"AlarmName": names[i], "AlarmActions": []string{topic}, "ActionsEnabled": true,
			"MetricName": "BenchTrigger", "Namespace": "Bench", "Dimensions": []any{map[string]string{"Name": "Trigger", "Value": strconv.Itoa(i)}},
			"Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
		}, nil); err != nil {
			return err
		}
	}
	// Let the new alarms' first evaluation (INSUFFICIENT_DATA → OK) pass.
	time.Sleep(11 * time.Second)

	p := &poster{endpoint: "http://" + r.srv.Addr(), hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}, signer: v4.NewSigner()}
	// Trigger times: uniform over the load, leaving its first and last
	// five seconds out.
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	offsets := make([]time.Duration, triggers)
	for i := range offsets {
		offsets[i] = 5*time.Second + time.Duration(rng.Int64N(int64(duration-10*time.Second)))
	}
	slices.Sort(offsets)
	acks := make([]time.Time, triggers)
	seen := make([]time.Time, triggers) // when polling first saw ALARM

	fmt.Fprintf(os.Stderr, "sending %d events/s for %s with %d triggers (GOMAXPROCS %d)...\n", rate, duration, triggers, runtime.GOMAXPROCS(0))
	perReq := time.Second * batchSize / time.Duration(rate)
	stopProf, err := prof.CPU(cpuProfile)
	if err != nil {
		return err
	}
	defer stopProf()
	t0 := time.Now()
	var wg, twg sync.WaitGroup
	var mu sync.Mutex
	var sendErr error
	setErr := func(err error) {
		mu.Lock()
		if sendErr == nil {
			sendErr = err
		}
		mu.Unlock()
	}
	twg.Add(1)
	go func() {
		defer twg.Done()
		for i, off := range offsets {
			time.Sleep(time.Until(t0.Add(off)))
			twg.Add(1)
			go func() {
				defer twg.Done()
				if err := p.post(ctx, trigger(i, time.Now())); err != nil {
					setErr(err)
					return
				}
				acks[i] = time.Now()
				for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					st, err := describe(ctx, r.api, []string{names[i]})
					if err != nil {
						setErr(err)
						return
					}
					if len(st) == 1 && st[0].StateValue == "ALARM" {
						seen[i] = time.Now()
						return
					}
				}
			}()
		}
	}()
	// The consumer's lag behind the store, every 5 s, to stderr; the
	// largest is reported.
	var maxLag int64
	mctx, stopMonitor := context.WithCancel(ctx)
	defer stopMonitor()
	go func() {
		st := r.srv.Store()
		for {
			select {
			case <-mctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			last := st.LastSeq()
			at, err := st.Cursor(mctx, cursor)
			if err != nil {
				return
			}
			fmt.Fprintf(os.Stderr, "%4.0f s: stored through seq %d, consumer behind by %d events\n", time.Since(t0).Seconds(), last, last-at)
			mu.Lock()
			maxLag = max(maxLag, last-at)
			mu.Unlock()
		}
	}()
	behind := 0
	sem := make(chan struct{}, 16)
	for i := range bodies {
		due := t0.Add(time.Duration(i) * perReq)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else if d < -time.Second {
			behind++
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.post(ctx, bodies[i]); err != nil {
				setErr(err)
			}
		}()
	}
	wg.Wait()
	sent := time.Since(t0)
	st := r.srv.Store()
	last := st.LastSeq()
	at, err := st.Cursor(ctx, cursor)
	if err != nil {
		return err
	}
	lagEvents := last - at
	endAt := time.Now()
	for at < last {
		if time.Since(endAt) > 5*time.Minute {
			return fmt.Errorf("the consumer did not reach seq %d within 5 min of the load's end (at %d)", last, at)
		}
		time.Sleep(20 * time.Millisecond)
		if at, err = st.Cursor(ctx, cursor); err != nil {
			return err
		}
	}
	caughtUp := time.Since(endAt)
	stopProf()
	stopMonitor()
	fmt.Fprintf(os.Stderr, "sent in %.1f s; consumer %d events behind at the end, caught up %.1f s later\n", sent.Seconds(), lagEvents, caughtUp.Seconds())
	twg.Wait()
	if sendErr != nil {
		return sendErr
	}
	// Notifications are sent by the topic's delivery loop; give them a
	// moment.
	time.Sleep(2 * time.Second)

	var lat, polled, notified []time.Duration
	missing := 0
	var skew time.Duration // largest poll-seen minus the transition's timestamp
	for i, name := range names {
		at, err := alarmedAt(ctx, r.api, name)
		if err != nil {
			return err
		}
		if at.IsZero() {
			missing++
		} else {
			lat = append(lat, at.Sub(acks[i]))
			if !seen[i].IsZero() {
				skew = max(skew, seen[i].Sub(at))
			}
		}
		if !seen[i].IsZero() {
			polled = append(polled, seen[i].Sub(acks[i]))
		}
		sub.mu.Lock()
		if t, ok := sub.alarmAt[name]; ok {
			notified = append(notified, t.Sub(acks[i]))
		}
		sub.mu.Unlock()
	}
	fmt.Printf("| rate (events/s) | sent in | triggers | alarmed | ack→ALARM p50 | p99 | max | polled ack→ALARM p50 | p99 | notified | ack→notification p50 | p99 | max | consumer behind: largest (5 s samples) | at end | caught up after | requests > 1 s late |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %.1f s | %d | %d | %s | %s | %s | %s | %s | %d | %s | %s | %s | %d events | %d events | %.2f s | %d |\n",
		rate, sent.Seconds(), triggers, len(lat), pct(lat, 0.5), pct(lat, 0.99), pct(lat, 1),
		pct(polled, 0.5), pct(polled, 0.99), len(notified), pct(notified, 0.5), pct(notified, 0.99), pct(notified, 1),
		maxLag, lagEvents, caughtUp.Seconds(), behind)
	fmt.Fprintf(os.Stderr, "alarms that never reached ALARM: %d; largest poll-seen minus history timestamp: %s\n", missing, skew.Round(time.Millisecond))
	return nil
}

// pct is the p-quantile of ds (p=1: the largest), as seconds.
func pct(ds []time.Duration, p float64) string {
	if len(ds) == 0 {
		return "–"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%.3f s", s[min(len(s)-1, int(p*float64(len(s))))].Seconds())
}

// drain times the consumer over a backlog.
func drain(data string, n int, seed int64, cpuProfile string) error {
	ctx := context.Background()
	cfg := serverConfig(data)
	cfg.Delivery.Interval = time.Hour
	r, err := start(ctx, cfg)
	if err != nil {
		return err
	}
	if _, err := wire(ctx, r, ""); err != nil {
		r.stop()
		return err
	}
	if err := r.stop(); err != nil {
		return err
	}

	// Commit the backlog with the consumer stopped; event times span the
	// last hour, ingest times are now.
	st, err := store.Open(ctx, data, store.Options{})
	if err != nil {
		return err
	}
	genStart := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	fmt.Fprintf(os.Stderr, "committing %d events...\n", n)
	var batch []*event.Record
	var jsonBytes int64
	flush := func() error {
		_, err := st.Append(ctx, batch, time.Now())
		batch = batch[:0]
		return err
	}
	err = generate(n, seed, genStart, time.Hour, func(raw []byte) error {
		rec, err := event.Parse(raw)
		if err != nil {
			return err
		}
		jsonBytes += int64(len(raw))
		batch = append(batch, rec)
		if len(batch) == 2000 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		st.Close()
		return err
	}
	from, err := st.Cursor(ctx, cursor)
	if err != nil {
		st.Close()
		return err
	}
	last := st.LastSeq()
	if err := st.Close(); err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "draining seq %d..%d (GOMAXPROCS %d)...\n", from, last, runtime.GOMAXPROCS(0))
	stopProf, err := prof.CPU(cpuProfile)
	if err != nil {
		return err
	}
	defer stopProf()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t0 := time.Now()
	r, err = start(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.stop()
	st = r.srv.Store()
	var firstMove time.Time
	for {
		at, err := st.Cursor(ctx, cursor)
		if err != nil {
			return err
		}
		if at > from && firstMove.IsZero() {
			firstMove = time.Now()
		}
		if at >= last {
			break
		}
		if time.Since(t0) > 30*time.Minute {
			return fmt.Errorf("the consumer did not drain within 30 min (at %d of %d)", at, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
	el := time.Since(t0)
	runtime.ReadMemStats(&ms1)
	stopProf()
	events := last - from

	// The filters alone over the same records, on one goroutine.
	srcs, err := patterns()
	if err != nil {
		return err
	}
	var ps []*filterpattern.Pattern
	for _, s := range srcs {
		p, err := filterpattern.Compile(s)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		ps = append(ps, p)
	}
	set := filterpattern.NewSet(ps)
	hits := make([]bool, len(ps))
	var recs [][]byte
	var matchTime time.Duration
	match := func() {
		t := time.Now()
		for _, rec := range recs {
			set.MatchAll(rec, hits)
		}
		matchTime += time.Since(t)
		recs = recs[:0]
	}
	err = generate(n, seed, genStart, time.Hour, func(raw []byte) error {
		recs = append(recs, append([]byte(nil), raw...))
		if len(recs) == 2000 {
			match()
		}
		return nil
	})
	if err != nil {
		return err
	}
	match()

	fmt.Printf("| events | filters | drain (s) | events/s | JSON MB/s | from start to first cursor move (s) | filters alone (s) | filters' share | GC cycles |\n|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %.1f | %.0f | %.1f | %.2f | %.1f | %.0f %% | %d |\n", events, len(ps), el.Seconds(),
		float64(events)/el.Seconds(), float64(jsonBytes)/el.Seconds()/1e6, firstMove.Sub(t0).Seconds(),
		matchTime.Seconds(), 100*matchTime.Seconds()/el.Seconds(), ms1.NumGC-ms0.NumGC)
	return nil
}
