// Command memory measures the server's resident memory under a burst of
// large concurrent posts and after it: it starts `opentrail serve` (the
// binary given by --bin) on a fresh data directory, has --clients clients
// each POST --rounds bodies of about --body-mb MB of realistic records to
// /v1/events at once, and samples the server's VmRSS from
// /proc/PID/status every 50 ms: before the load, its peak, and after
// --idle seconds of quiet.
//
//	go build -o /tmp/opentrail ./cmd/opentrail
//	go run ./bench/memory --bin /tmp/opentrail --clients 160 --body-mb 6.3 --idle 70s
//
// Extra arguments after -- go to `opentrail serve` (e.g. --config).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/demo"
)

func main() {
	var (
		bin          string
		clients      int
		rounds       int
		bodyMB       float64
		idle         time.Duration
		maxBodyBytes int64
	)
	flag.StringVar(&bin, "bin", "", "the opentrail binary to start (required)")
	flag.IntVar(&clients, "clients", 160, "concurrent clients")
	flag.IntVar(&rounds, "rounds", 1, "posts per client")
	flag.Float64Var(&bodyMB, "body-mb", 6.3, "size of each request body in MB")
	flag.DurationVar(&idle, "idle", 70*time.Second, "quiet time after the load before the last sample")
	flag.Int64Var(&maxBodyBytes, "max-body-bytes", 8<<20, "limits.max_body_bytes of the server")
	flag.Parse()
	if bin == "" {
		fmt.Fprintln(os.Stderr, "--bin is required")
		os.Exit(2)
	}
	res, err := run(bin, clients, rounds, bodyMB, idle, maxBodyBytes, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(res)
}

// Result is what one run measured, in bytes of resident memory.
type Result struct {
	Before, Peak, After int64
	Requests, Refused   int
	Events              int64
	Elapsed             time.Duration
}

func (r Result) String() string {
	mib := func(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
	return fmt.Sprintf("| RSS before | peak | after idle | requests (throttled or cut off, retried) | events stored | load time |\n|---|---|---|---|---|---|\n| %s | %s | %s | %d (%d) | %d | %.1f s |",
		mib(r.Before), mib(r.Peak), mib(r.After), r.Requests, r.Refused, r.Events, r.Elapsed.Seconds())
}

func run(bin string, clients, rounds int, bodyMB float64, idle time.Duration, maxBody int64, extra []string) (Result, error) {
	var res Result
	ctx := context.Background()
	data, err := os.MkdirTemp("", "opentrail-memory-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(data)
	cfgPath := filepath.Join(data, "..", filepath.Base(data)+".yml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("limits:\n  max_body_bytes: %d\n", maxBody)), 0o600)
	defer os.Remove(cfgPath)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := append([]string{"serve", "--addr", addr, "--data", filepath.Join(data, "d"), "--config", cfgPath}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	url := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get(url + "/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("server not healthy after 60 s")
		}
	}

	n := clients * rounds
	fmt.Fprintf(os.Stderr, "generating %d bodies of %.1f MB...\n", n, bodyMB)
	bodies, err := makeBodies(n, int(bodyMB*1e6))
	if err != nil {
		return res, err
	}
	time.Sleep(time.Second)
	res.Before = rss(cmd.Process.Pid)

	var peak atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v := rss(cmd.Process.Pid); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()

	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}, Timeout: 10 * time.Minute}
	var (
		wg              sync.WaitGroup
		events, refused atomic.Int64
		mu              sync.Mutex
		firstErr        error
		next            atomic.Int64
	)
	fmt.Fprintf(os.Stderr, "posting with %d clients...\n", clients)
	t0 := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				for attempt := 0; ; attempt++ {
					b := bodies[i]
					r, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/events", bytes.NewReader(b))
					r.Header.Set("Content-Type", "application/x-ndjson")
					sum := sha256.Sum256(b)
					signer.SignHTTP(ctx, creds, r, hex.EncodeToString(sum[:]), "opentrail", "us-east-1", time.Now())
					resp, err := hc.Do(r)
					if err != nil && attempt < 50 {
						// A server out of room may answer before the body
						// is sent and close the connection: the write
						// fails. Retry, as SDKs do.
						refused.Add(1)
						time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
						continue
					}
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 429 || resp.StatusCode == 503 || bytes.Contains(body, []byte("ThrottlingException")) {
						// Told to slow down: back off and retry, as SDKs do.
						refused.Add(1)
						time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
						continue
					}
					if resp.StatusCode != 200 {
						mu.Lock()
						firstErr = fmt.Errorf("status %d: %s", resp.StatusCode, body)
						mu.Unlock()
						return
					}
					var acc int64
					if i := bytes.Index(body, []byte(`"accepted":`)); i >= 0 {
						s := body[i+len(`"accepted":`):]
						j := bytes.IndexAny(s, ",}")
						acc, _ = strconv.ParseInt(string(s[:j]), 10, 64)
					}
					events.Add(acc)
					break
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(t0)
	res.Requests, res.Refused, res.Events = n, int(refused.Load()), events.Load()
	bodies = nil
	if firstErr != nil {
		close(stop)
		return res, firstErr
	}
	fmt.Fprintf(os.Stderr, "load done in %s; idle for %s...\n", res.Elapsed.Round(time.Millisecond), idle)
	time.Sleep(idle)
	close(stop)
	sampler.Wait()
	res.Peak = peak.Load()
	res.After = rss(cmd.Process.Pid)
	return res, nil
}

// makeBodies builds n NDJSON bodies of about size bytes of demo records,
// every eventID distinct.
func makeBodies(n, size int) ([][]byte, error) {
	bodies := make([][]byte, 0, n)
	var cur bytes.Buffer
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	errDone := fmt.Errorf("done")
	err := demo.Generate(demo.Options{Seed: 11, Events: n * (size/1000 + 100), Start: start, Duration: 24 * time.Hour}, func(rec []byte) error {
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.Write(rec)
		if cur.Len() >= size {
			bodies = append(bodies, bytes.Clone(cur.Bytes()))
			cur.Reset()
			if len(bodies) == n {
				return errDone
			}
		}
		return nil
	})
	if err != nil && err != errDone {
		return nil, err
	}
	if len(bodies) < n {
		return nil, fmt.Errorf("the generator made only %d bodies", len(bodies))
	}
	return bodies, nil
}

// rss reads a process's resident set size.
func rss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
