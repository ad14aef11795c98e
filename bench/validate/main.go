// Command validate measures log file integrity validation: how fast
// `opentrail validate-logs` checks a trail that opentrail delivered,
// against `aws cloudtrail validate-logs` (the Debian AWS CLI 2.9.19 at
// /usr/bin/aws) on the same trail, and against this machine's raw
// gunzip + SHA-256 speed over the same log files.
//
//	go run ./bench/validate                  # ~2,400 log files of ~128 KiB, 3 runs each
//	go run ./bench/validate --files 4000 --runs 5
//
// The trail is built the way opentrail builds it: demo events (one
// account, one region) are stored with ingest times in the recent past,
// then a server in this process, with a 1 s delivery interval, a 10 s
// digest interval and a small delivery.max_file_bytes, delivers them as
// log files and signed digests to its built-in filesystem store; logging
// is then stopped so that the chain ends. Both validators then read the
// trail through that server's CloudTrail and S3 APIs (the AWS CLI with
// its S3 endpoint rule set redirected there via AWS_DATA_PATH, as
// internal/e2e does). Rates are log files per second and MB/s of
// uncompressed log file bytes hashed; the reported figure is the median
// of the runs.
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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/cli"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/server"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

const (
	account   = "000000000000" // the local-mode account of the key "test"
	region    = "us-east-1"
	bucket    = "bench-validate"
	trailName = "validated"
	// debianS3RuleSet is botocore's S3 endpoint rule set in the Debian AWS
	// CLI; its parameters block is kept in the override.
	debianS3RuleSet = "/usr/lib/python3/dist-packages/awscli/botocore/data/s3/2006-03-01/endpoint-rule-set-1.json"
	awsCLI          = "/usr/bin/aws"
)

// meanRecordBytes is the demo generator's mean record size, for sizing.
const meanRecordBytes = 1470

func main() {
	var (
		files, runs, maxFileBytes, parallel int
		data, cpuProfile                    string
		skipAWS                             bool
	)
	flag.IntVar(&files, "files", 2400, "log files to deliver (about)")
	flag.IntVar(&maxFileBytes, "max-file-bytes", 128<<10, "delivery.max_file_bytes: uncompressed size of a log file")
	flag.IntVar(&runs, "runs", 3, "runs of each validator")
	flag.IntVar(&parallel, "parallel", 0, "opentrail validate-logs --parallel (0: its default)")
	flag.StringVar(&data, "data", "", "data directory (default: a new temporary directory, removed afterwards)")
	flag.BoolVar(&skipAWS, "skip-aws", false, "do not run the AWS CLI")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the opentrail validate-logs runs (server included) to this file")
	flag.Parse()
	if data == "" {
		d, err := os.MkdirTemp("", "opentrail-validate-bench-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		data = d
	}
	if err := run(data, files, maxFileBytes, runs, parallel, skipAWS, cpuProfile); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "validate bench:", err)
	os.Exit(1)
}

func run(data string, files, maxFileBytes, runs, parallel int, skipAWS bool, cpuProfile string) error {
	ctx := context.Background()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_PAGER": "",
		"AWS_CONFIG_FILE": filepath.Join(data, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(data, "none"),
	} {
		os.Setenv(k, v)
	}
	arn := trail.ARN{Region: region, Account: account, Name: trailName}.String()

	// 1. Store the events, ingested in the recent past, two seconds apart
	// per 2,000 events, so that the backlog spans many digest periods.
	events := files * maxFileBytes / meanRecordBytes * 5 / 4 // ~20% are data events, not delivered
	batches := (events + 1999) / 2000
	ingestAt := time.Now().Add(-time.Duration(2*batches+60) * time.Second).Truncate(time.Second)
	started := ingestAt.Add(-time.Minute)
	if err := fill(ctx, data, events, started, &ingestAt); err != nil {
		return err
	}

	// 2. A server delivers them; then logging stops.
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = data
	cfg.Delivery.Interval = time.Second
	cfg.Delivery.DigestInterval = 10 * time.Second
	cfg.Delivery.MaxFileBytes = maxFileBytes
	srv, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	defer func() { stop(); <-done }()
	<-srv.Ready()
	endpoint := "http://" + srv.Addr()
	fmt.Fprintf(os.Stderr, "delivering %d events as log files of at most %d KiB...\n", events, maxFileBytes>>10)
	t0 := time.Now()
	if err := waitFor(5*time.Minute, func() (bool, error) {
		st, err := srv.Deliverer().Status(ctx, arn)
		return !st.DeliveredThrough.Before(t0), err
	}); err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	if err := cloudTrail(ctx, endpoint, "StopLogging", fmt.Sprintf(`{"Name":%q}`, trailName)); err != nil {
		return err
	}
	stopped := time.Now().UTC()
	b, err := openBucket(ctx, data)
	if err != nil {
		return err
	}
	digestDir := fmt.Sprintf("AWSLogs/%s/CloudTrail-Digest/%s/", account, region)
	lastEnd := stopped.Truncate(cfg.Delivery.DigestInterval).Add(cfg.Delivery.DigestInterval)
	if err := waitFor(time.Minute, func() (bool, error) {
		keys, err := listKeys(ctx, b, digestDir)
		if err != nil || len(keys) == 0 {
			return false, err
		}
		return !keyEnd(keys[len(keys)-1]).Before(lastEnd), nil
	}); err != nil {
		return fmt.Errorf("final digest: %w", err)
	}
	end := time.Now().UTC().Add(time.Second).Truncate(time.Second)
	digests, err := listKeys(ctx, b, digestDir)
	if err != nil {
		return err
	}
	logKeys, err := listKeys(ctx, b, fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/", account, region))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "delivered %d log files and %d digests in %.1fs\n", len(logKeys), len(digests), time.Since(t0).Seconds())

	// 3. The ceiling: gunzip + SHA-256 of the same files in memory.
	gz := make([][]byte, len(logKeys))
	var gzBytes int64
	for i, k := range logKeys {
		if gz[i], _, err = b.Get(ctx, k); err != nil {
			return err
		}
		gzBytes += int64(len(gz[i]))
	}
	var plainBytes int64
	var ceil1, ceilN []time.Duration
	for range runs {
		d, n, err := hashAll(gz, 1)
		if err != nil {
			return err
		}
		plainBytes = n
		ceil1 = append(ceil1, d)
		if d, _, err = hashAll(gz, runtime.GOMAXPROCS(0)); err != nil {
			return err
		}
		ceilN = append(ceilN, d)
	}

	// A local copy, as `aws s3 cp --recursive` and `aws s3api
	// head-object` make it, for --dir.
	copyDir := filepath.Join(data, "copy")
	all, err := listKeys(ctx, b, "")
	if err != nil {
		return err
	}
	for _, k := range all {
		body, info, err := b.Get(ctx, k)
		if err == nil {
			err = writeFile(filepath.Join(copyDir, filepath.FromSlash(k)), body)
		}
		if err == nil && len(info.Meta) > 0 {
			meta, _ := json.Marshal(info.Meta)
			err = writeFile(filepath.Join(copyDir, filepath.FromSlash(k))+digest.MetaSuffix, meta)
		}
		if err != nil {
			return err
		}
	}

	// 4. The validators, same arguments.
	args := []string{"--trail-arn", arn, "--start-time", started.UTC().Format(time.RFC3339), "--end-time", end.Format(time.RFC3339)}
	want := fmt.Sprintf("%d/%d log files valid\n", len(logKeys), len(logKeys))
	var ours, oursDir, theirs, fixed []time.Duration
	oargs := append([]string{"validate-logs", "--endpoint", endpoint, "--region", region}, args...)
	if parallel > 0 {
		oargs = append(oargs, "--parallel", strconv.Itoa(parallel))
	}
	dargs := append(slices.Clone(oargs), "--dir", copyDir)
	stopProfile, err := prof.CPU(cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	for i := range 2 * runs {
		a, ds, how := oargs, &ours, "S3"
		if i%2 == 1 {
			a, ds, how = dargs, &oursDir, "--dir"
		}
		var out, errb bytes.Buffer
		t := time.Now()
		code := cli.Main(ctx, a, &cli.Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader("")})
		*ds = append(*ds, time.Since(t))
		if code != 0 || !strings.Contains(out.String(), want) {
			return fmt.Errorf("opentrail validate-logs (%s): exit %d, want 0 and %q\n%s%s", how, code, want, out.String(), errb.String())
		}
		fmt.Fprintf(os.Stderr, "opentrail validate-logs (%s) run %d: %.2fs\n", how, i/2+1, time.Since(t).Seconds())
	}
	stopProfile() // the AWS CLI's runs are not profiled
	if !skipAWS {
		dataPath, err := s3Override(data, endpoint)
		if err != nil {
			return err
		}
		aws := func(args []string, want string) (time.Duration, error) {
			cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", endpoint, "--region", region, "cloudtrail", "validate-logs"}, args...)...)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + data, "AWS_PAGER=", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
				"AWS_CONFIG_FILE=" + filepath.Join(data, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(data, "none"), "AWS_DATA_PATH=" + dataPath}
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			t := time.Now()
			err := cmd.Run()
			if err != nil || !strings.Contains(out.String(), want) {
				return 0, fmt.Errorf("aws cloudtrail validate-logs: %v, want %q\n%s%s", err, want, out.String(), errb.String())
			}
			return time.Since(t), nil
		}
		for i := range runs {
			d, err := aws(args, want)
			if err != nil {
				return err
			}
			theirs = append(theirs, d)
			fmt.Fprintf(os.Stderr, "aws cloudtrail validate-logs run %d: %.2fs\n", i+1, d.Seconds())
		}
		// Its fixed cost: start-up, DescribeTrails, the listing and the
		// keys, on a range without digests.
		empty := []string{"--trail-arn", arn, "--start-time", end.Add(2 * time.Hour).Format(time.RFC3339), "--end-time", end.Add(3 * time.Hour).Format(time.RFC3339)}
		for range runs {
			d, err := aws(empty, "No digests found")
			if err != nil {
				return err
			}
			fixed = append(fixed, d)
		}
	}

	// 5. The table.
	n := float64(len(logKeys))
	mb := float64(plainBytes) / 1e6
	fmt.Printf("Trail: %d log files (%.1f MB uncompressed, %.1f MB gzip, mean %.0f KB), %d digests; GOMAXPROCS %d\n\n",
		len(logKeys), mb, float64(gzBytes)/1e6, float64(plainBytes)/n/1e3, len(digests), runtime.GOMAXPROCS(0))
	fmt.Println("| what | runs (s) | median (s) | log files/s | MB/s | vs AWS CLI |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	row := func(what string, ds []time.Duration, ref time.Duration) {
		m := median(ds)
		ratio := "—"
		if ref > 0 {
			ratio = fmt.Sprintf("%.1f×", ref.Seconds()/m.Seconds())
		}
		var rs []string
		for _, d := range ds {
			rs = append(rs, fmt.Sprintf("%.2f", d.Seconds()))
		}
		fmt.Printf("| %s | %s | %.2f | %.0f | %.0f | %s |\n", what, strings.Join(rs, " · "), m.Seconds(), n/m.Seconds(), mb/m.Seconds(), ratio)
	}
	var ref time.Duration
	if len(theirs) > 0 {
		ref = median(theirs)
		row("`aws cloudtrail validate-logs` 2.9.19", theirs, ref)
	}
	row("`opentrail validate-logs` (S3 API)", ours, ref)
	row("`opentrail validate-logs --dir` (local copy)", oursDir, ref)
	row("gunzip + SHA-256 in memory, 1 goroutine", ceil1, ref)
	row(fmt.Sprintf("gunzip + SHA-256 in memory, %d goroutines", runtime.GOMAXPROCS(0)), ceilN, ref)
	if len(fixed) > 0 {
		fmt.Printf("\nThe AWS CLI's fixed cost (start-up, DescribeTrails, listing, keys; a range without digests): median %.2f s.\n", median(fixed).Seconds())
	}
	return nil
}

// fill stores the demo events, 2,000 per batch, each batch ingested two
// seconds after the one before, and creates the trail, logging since
// started with log file validation.
func fill(ctx context.Context, data string, n int, started time.Time, ingestAt *time.Time) error {
	bk, err := objstore.OpenFSBuckets(filepath.Join(data, "buckets"))
	if err != nil {
		return err
	}
	if err := bk.CreateBucket(ctx, bucket, account, region); err != nil {
		return err
	}
	st, err := store.Open(ctx, data, store.Options{Now: func() time.Time { return *ingestAt }})
	if err != nil {
		return err
	}
	defer st.Close()
	set := trail.Settings{S3BucketName: bucket, IncludeGlobalServiceEvents: true, LogFileValidationEnabled: true, IsLogging: true, StartLoggingTime: &started}
	doc, _ := json.Marshal(set)
	arn := trail.ARN{Region: region, Account: account, Name: trailName}.String()
	if err := st.CreateTrail(ctx, store.Trail{ARN: arn, Name: trailName, Account: account, HomeRegion: region, Doc: doc, Created: started, Updated: started}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "storing %d events...\n", n)
	var batch []*event.Record
	flush := func() error {
		if _, err := st.Append(ctx, batch, *ingestAt); err != nil {
			return err
		}
		*ingestAt = ingestAt.Add(2 * time.Second)
		batch = batch[:0]
		return nil
	}
	opts := demo.Options{Seed: 7, Events: n, Start: started.Add(-24 * time.Hour), Duration: 24 * time.Hour,
		Accounts: []string{account}, Regions: []string{region}}
	err = demo.Generate(opts, func(raw []byte) error {
		r, err := event.Parse(raw)
		if err != nil {
			return err
		}
		batch = append(batch, r)
		if len(batch) == 2000 {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return err
}

func openBucket(ctx context.Context, data string) (objstore.Bucket, error) {
	bk, err := objstore.OpenFSBuckets(filepath.Join(data, "buckets"))
	if err != nil {
		return nil, err
	}
	return bk.Bucket(ctx, bucket)
}

// listKeys lists a bucket's keys under prefix, in order.
func listKeys(ctx context.Context, b objstore.Bucket, prefix string) ([]string, error) {
	var keys []string
	for in, err := range objstore.All(ctx, b, prefix) {
		if err != nil {
			return nil, err
		}
		keys = append(keys, in.Key)
	}
	return keys, nil
}

// hashAll gunzips and hashes every file with workers goroutines and
// returns the time taken and the uncompressed bytes.
func hashAll(files [][]byte, workers int) (time.Duration, int64, error) {
	var mu sync.Mutex
	var total int64
	var first error
	next := make(chan []byte)
	var wg sync.WaitGroup
	t := time.Now()
	for range workers {
		wg.Go(func() {
			var zr gzip.Reader
			h := sha256.New()
			var n int64
			for f := range next {
				h.Reset()
				err := zr.Reset(bytes.NewReader(f))
				var m int64
				if err == nil {
					m, err = zr.WriteTo(h)
				}
				n += m
				_ = hex.EncodeToString(h.Sum(nil))
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	for _, f := range files {
		next <- f
	}
	close(next)
	wg.Wait()
	return time.Since(t), total, first
}

func writeFile(name string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, b, 0o644)
}

// keyEnd is the time in a digest's key, validate-logs' key[-24:-8].
func keyEnd(key string) time.Time {
	if len(key) < 24 {
		return time.Time{}
	}
	t, _ := time.Parse("20060102T150405Z", key[len(key)-24:len(key)-8])
	return t
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// waitFor polls cond every 100 ms until it holds or within passes.
func waitFor(within time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %s", within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cloudTrail calls a CloudTrail operation on the server as the local-mode
// user.
func cloudTrail(ctx context.Context, endpoint, op, body string) error {
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", "CloudTrail_20131101."+op)
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	if err := v4.NewSigner().SignHTTP(ctx, creds, r, hex.EncodeToString(sum[:]), "cloudtrail", region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %s", op, resp.StatusCode, b)
	}
	return nil
}

// s3Override writes an AWS_DATA_PATH directory whose S3 endpoint rule set
// sends the AWS CLI's S3 calls to endpoint, path-style (AWS CLI 2.9.19
// applies --endpoint-url to the CloudTrail client only).
func s3Override(data, endpoint string) (string, error) {
	orig, err := os.ReadFile(debianS3RuleSet)
	if err != nil {
		return "", fmt.Errorf("read the Debian AWS CLI's S3 rule set: %w", err)
	}
	var rs struct {
		Version    string          `json:"version"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(orig, &rs); err != nil {
		return "", err
	}
	auth := map[string]any{"authSchemes": []any{map[string]any{
		"name": "sigv4", "signingName": "s3", "signingRegion": "{Region}", "disableDoubleEncoding": true,
	}}}
	rules := []any{
		map[string]any{"type": "endpoint",
			"conditions": []any{map[string]any{"fn": "isSet", "argv": []any{map[string]any{"ref": "Bucket"}}}},
			"endpoint":   map[string]any{"url": endpoint + "/{Bucket}", "properties": auth, "headers": map[string]any{}}},
		map[string]any{"type": "endpoint", "conditions": []any{},
			"endpoint": map[string]any{"url": endpoint, "properties": auth, "headers": map[string]any{}}},
	}
	out, _ := json.Marshal(map[string]any{"version": rs.Version, "parameters": rs.Parameters, "rules": rules})
	dir := filepath.Join(data, "aws-data-path")
	p := filepath.Join(dir, "s3", "2006-03-01")
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(p, "endpoint-rule-set-1.json"), out, 0o644)
}
