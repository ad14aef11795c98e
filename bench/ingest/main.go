// Command ingest measures durable ingest throughput over HTTP: concurrent
// clients POST batches of realistic CloudTrail records (from internal/demo,
// ~1.5 KB each) to /v1/events, each request acknowledged only after its
// events are committed and fsynced. It reports events/s and the p50/p99
// acknowledgement latency, and, measured in the same run just before, the
// machine's parse rate: event.Parse over the same records on every core at
// once (what BenchmarkParseParallel in internal/event measures), and the
// ingest rate as a share of it.
//
//	go run ./bench/ingest --events 1000000 --clients 8 --batch 1000
//
// Without --endpoint it starts a server in this process on a fresh data
// directory; with --endpoint it drives a running one (local-mode
// credentials test/test).
package main

import (
	"bytes"
	"compress/gzip"
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
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/server"
)

func main() {
	var (
		events, clients, batch int
		endpoint, data         string
		gz                     bool
		seed                   int64
		cpuprofile             string
	)
	flag.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the timed part to this file")
	flag.IntVar(&events, "events", 1000000, "events to send")
	flag.IntVar(&clients, "clients", 8, "concurrent HTTP clients")
	flag.IntVar(&batch, "batch", 1000, "events per request")
	flag.StringVar(&endpoint, "endpoint", "", "drive this server instead of starting one in-process")
	flag.StringVar(&data, "data", "", "data directory for the in-process server (default: a new temporary directory)")
	flag.BoolVar(&gz, "gzip", false, "send gzip-compressed bodies")
	flag.Int64Var(&seed, "seed", 7, "generator seed")
	flag.Parse()
	profile = cpuprofile
	if err := run(events, clients, batch, endpoint, data, gz, seed); err != nil {
		fmt.Fprintln(os.Stderr, "ingest bench:", err)
		os.Exit(1)
	}
}

func run(events, clients, batch int, endpoint, data string, gz bool, seed int64) error {
	ctx := context.Background()
	// Bodies are built and signed before the clock starts: the benchmark
	// measures the server, not the generator.
	fmt.Fprintf(os.Stderr, "generating %d events...\n", events)
	var bodies [][]byte
	var cur [][]byte
	var rawBytes int64
	var sample [][]byte // the first records, for the parse rate
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	err := demo.Generate(demo.Options{Seed: seed, Events: events, Start: start, Duration: 24 * time.Hour}, func(rec []byte) error {
		rawBytes += int64(len(rec))
		cur = append(cur, append([]byte(nil), rec...))
		if len(sample) < 10000 {
			sample = append(sample, cur[len(cur)-1])
		}
		if len(cur) == batch {
			bodies = append(bodies, makeBody(cur, gz))
			cur = cur[:0]
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(cur) > 0 {
		bodies = append(bodies, makeBody(cur, gz))
	}
	fmt.Fprintf(os.Stderr, "measuring the parse rate on %d cores...\n", runtime.GOMAXPROCS(0))
	parseRate, err := parseRate(sample)
	if err != nil {
		return err
	}

	if endpoint == "" {
		if data == "" {
			d, err := os.MkdirTemp("", "opentrail-ingest-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(d)
			data = d
		}
		cfg := config.Default()
		cfg.Addr = "127.0.0.1:0"
		cfg.Data = data
		cfg.Limits.MaxEventsPerRequest = max(batch, 10000)
		cfg.Limits.MaxBodyBytes = 64 << 20
		// The bodies are built ahead in this same process, and Go's memory
		// limit is process-wide: the bound must cover them, or the
		// collector would run flat out against the client's own memory.
		cfg.Limits.MemoryBytes = max(4<<30, config.MinMemoryBytes(cfg.Limits.MaxBodyBytes))
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		srv, err := server.New(ctx, cfg, logger)
		if err != nil {
			return err
		}
		if err := srv.Listen(); err != nil {
			return err
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Run(sctx) }()
		<-srv.Ready()
		defer func() { stop(); <-done }()
		endpoint = "http://" + srv.Addr()
	}

	reqs := make([]*http.Request, len(bodies))
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	for i, b := range bodies {
		r, _ := http.NewRequest("POST", endpoint+"/v1/events", nil)
		r.Header.Set("Content-Type", "application/x-ndjson")
		if gz {
			r.Header.Set("Content-Encoding", "gzip")
		}
		sum := sha256.Sum256(b)
		if err := signer.SignHTTP(ctx, creds, r, hex.EncodeToString(sum[:]), "opentrail", "us-east-1", time.Now()); err != nil {
			return err
		}
		reqs[i] = r
	}

	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	hc := &http.Client{Transport: tr}
	var (
		next     atomic.Int64
		accepted atomic.Int64
		mu       sync.Mutex
		lats     []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	fmt.Fprintf(os.Stderr, "sending %d requests of %d events with %d clients to %s (GOMAXPROCS %d)\n", len(reqs), batch, clients, endpoint, runtime.GOMAXPROCS(0))
	stopProfile, err := prof.CPU(profile)
	if err != nil {
		return err
	}
	defer stopProfile()
	t0 := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i := int(next.Add(1)) - 1
				if i >= len(reqs) {
					break
				}
				r := reqs[i].Clone(ctx)
				r.Body = io.NopCloser(bytes.NewReader(bodies[i]))
				r.ContentLength = int64(len(bodies[i]))
				s := time.Now()
				resp, err := hc.Do(r)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				var out struct{ Accepted, Duplicates int }
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
					mu.Lock()
					firstErr = fmt.Errorf("status %d: %s", resp.StatusCode, b)
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(s))
				accepted.Add(int64(out.Accepted))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if firstErr != nil {
		return firstErr
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(p float64) time.Duration { return lats[min(len(lats)-1, int(p*float64(len(lats))))] }
	n := accepted.Load()
	rate := float64(n) / elapsed.Seconds()
	fmt.Printf("| events | clients | batch | gzip | events/s | MB/s (JSON) | ack p50 | ack p99 | requests | parse records/s | ingest/parse |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %d | %v | %.0f | %.1f | %.1f ms | %.1f ms | %d | %.0f | %.0f%% |\n", n, clients, batch, gz,
		rate, float64(rawBytes)/elapsed.Seconds()/1e6,
		float64(pct(0.50).Microseconds())/1000, float64(pct(0.99).Microseconds())/1000, len(lats),
		parseRate, 100*rate/parseRate)
	if n != int64(events) && n < int64(len(bodies)*batch) {
		fmt.Fprintf(os.Stderr, "note: %d of %d events were new (the rest duplicates of an earlier run on this data)\n", n, events)
	}
	return nil
}

var profile string

// parseRate is BenchmarkParseParallel's figure for recs: records parsed per
// second by event.Parse on every core at once.
func parseRate(recs [][]byte) (float64, error) {
	var failed atomic.Value
	res := testing.Benchmark(func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := event.Parse(recs[i%len(recs)]); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	})
	if err, ok := failed.Load().(error); ok {
		return 0, fmt.Errorf("parse rate: %w", err)
	}
	if res.N == 0 || res.T <= 0 {
		return 0, fmt.Errorf("parse rate: the benchmark did not run")
	}
	return float64(res.N) / res.T.Seconds(), nil
}

func makeBody(recs [][]byte, gz bool) []byte {
	b := bytes.Join(recs, []byte{'\n'})
	if !gz {
		return b
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
