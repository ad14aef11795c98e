// Command gateway measures what the capture gateway costs an S3 client:
// the same calls go to versitygw directly and through the gateway, in the
// same run, interleaved round by round.
//
//	go run ./bench/gateway                                  # 3 rounds, 1 GiB streams
//	go run ./bench/gateway --calls 2000 --clients 16 --stream-mb 256 --rounds 5
//
// It reports, per round and as the median over the rounds:
//   - latency: --calls sequential PUTs, then GETs, of --size-byte objects from
//     one client; p50 and p99 per target and the gateway's added latency
//     (gateway minus direct). A PUT through the gateway waits for its
//     intent's commit (fsync, group-committed across concurrent calls); a
//     GET is recorded after its answer.
//   - calls/s: --clients concurrent clients for --duration, PUTs then GETs;
//     the gateway's rate as a share of direct (target ≥ 80 %).
//   - streaming: one --stream-mb object PUT and GET, MB/s each way; the
//     gateway's as a share of direct (target ≥ 90 %).
//
// versitygw (posix backend, in a temporary directory) is the command named
// by --versitygw, else $OPENTRAIL_TEST_VERSITYGW, else GOPATH/bin/versitygw
// (scripts/test builds it). An opentrail server runs in this process on a
// fresh data directory; the gateway records into it as --mode says: serve
// (a gateway: section, the server's own store) or remote (as `opentrail
// gateway --endpoint` does, over the server's native capture endpoints).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	upstreamAccess = "bench-upstream"
	upstreamSecret = "bench-upstream-secret"
	region         = "us-east-1"
	bucket         = "bench"
)

func main() {
	var (
		calls, clients, size, streamMB, rounds int
		duration                               time.Duration
		vgwBin, data, mode, cpuProfile         string
	)
	flag.IntVar(&calls, "calls", 1000, "latency: sequential calls per operation, target and round")
	flag.IntVar(&clients, "clients", 16, "calls/s: concurrent clients")
	flag.DurationVar(&duration, "duration", 5*time.Second, "calls/s: how long each target is driven per operation and round")
	flag.IntVar(&size, "size", 4096, "small objects' size in bytes")
	flag.IntVar(&streamMB, "stream-mb", 1024, "streaming: the large object's size in MiB (0 skips)")
	flag.IntVar(&rounds, "rounds", 3, "rounds; medians are reported")
	flag.StringVar(&vgwBin, "versitygw", "", "versitygw command (default $OPENTRAIL_TEST_VERSITYGW, else GOPATH/bin/versitygw)")
	flag.StringVar(&mode, "mode", "serve", "serve: the gateway inside the server (local Recorder); remote: as opentrail gateway --endpoint runs it (remote Recorder over HTTP)")
	flag.StringVar(&data, "data", "", "the opentrail server's data directory (default: a new temporary directory)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (client, gateway and server) to the file")
	flag.Parse()
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gateway bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(mode, calls, clients, size, streamMB, rounds, duration, vgwBin, data); err != nil {
		fmt.Fprintln(os.Stderr, "gateway bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(mode string, calls, clients, size, streamMB, rounds int, duration time.Duration, vgwBin, data string) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "opentrail-gateway-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if data == "" {
		data = filepath.Join(tmp, "data")
	}
	vgw, err := startVersitygw(vgwBin, filepath.Join(tmp, "s3"))
	if err != nil {
		return err
	}
	defer vgw.stop()
	gwURL, stop, err := startGateway(ctx, mode, vgw.url, data)
	if err != nil {
		return err
	}
	defer stop()

	direct := &target{name: "direct", url: vgw.url, creds: aws.Credentials{AccessKeyID: upstreamAccess, SecretAccessKey: upstreamSecret}}
	gw := &target{name: "gateway", url: gwURL, creds: aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	direct.client, gw.client = &http.Client{Transport: tr}, &http.Client{Transport: tr}
	if err := direct.do(ctx, "PUT", "/"+bucket, nil, 0, nil); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	fmt.Printf("versitygw %s; gateway %s (--mode %s, records into %s)\n", vgw.url, gwURL, mode, data)
	fmt.Printf("small objects %d B, %d sequential calls, %d clients × %s, stream %d MiB, %d rounds\n\n",
		size, calls, clients, duration, streamMB, rounds)

	body := bytes.Repeat([]byte("a"), size)
	var lat = map[string][]float64{} // "direct PUT p50" → per round (ms)
	var rate = map[string][]float64{}
	var stream = map[string][]float64{}
	for r := 1; r <= rounds; r++ {
		for _, op := range []string{"PUT", "GET"} {
			for _, tg := range []*target{direct, gw} {
				d, err := tg.sequential(ctx, op, r, calls, body)
				if err != nil {
					return err
				}
				p50, p99 := pct(d, 50), pct(d, 99)
				lat[tg.name+" "+op+" p50"] = append(lat[tg.name+" "+op+" p50"], p50)
				lat[tg.name+" "+op+" p99"] = append(lat[tg.name+" "+op+" p99"], p99)
				fmt.Printf("round %d %-7s %s latency  p50 %7.3f ms  p99 %7.3f ms\n", r, tg.name, op, p50, p99)
			}
		}
		for _, op := range []string{"PUT", "GET"} {
			for _, tg := range []*target{direct, gw} {
				n, err := tg.concurrent(ctx, op, r, clients, duration, calls, body)
				if err != nil {
					return err
				}
				rate[tg.name+" "+op] = append(rate[tg.name+" "+op], n)
				fmt.Printf("round %d %-7s %s %8.0f calls/s (%d clients)\n", r, tg.name, op, n, clients)
			}
		}
		if streamMB > 0 {
			for _, tg := range []*target{direct, gw} {
				up, down, err := tg.stream(ctx, int64(streamMB)<<20)
				if err != nil {
					return err
				}
				stream[tg.name+" PUT"] = append(stream[tg.name+" PUT"], up)
				stream[tg.name+" GET"] = append(stream[tg.name+" GET"], down)
				fmt.Printf("round %d %-7s stream %d MiB  PUT %6.0f MB/s  GET %6.0f MB/s\n", r, tg.name, streamMB, up, down)
			}
		}
		fmt.Println()
	}

	fmt.Printf("medians over %d rounds\n", rounds)
	fmt.Println("| call | direct p50 | gateway p50 | added p50 | direct p99 | gateway p99 | added p99 |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, op := range []string{"GET", "PUT"} {
		d50, g50 := median(lat["direct "+op+" p50"]), median(lat["gateway "+op+" p50"])
		d99, g99 := median(lat["direct "+op+" p99"]), median(lat["gateway "+op+" p99"])
		fmt.Printf("| %s %d B | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n", op, size, d50, g50, g50-d50, d99, g99, g99-d99)
	}
	fmt.Println()
	fmt.Println("| | direct | gateway | gateway / direct |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	for _, op := range []string{"GET", "PUT"} {
		d, g := median(rate["direct "+op]), median(rate["gateway "+op])
		fmt.Printf("| %s calls/s, %d clients | %.0f | %.0f | %.0f %% |\n", op, clients, d, g, 100*g/d)
	}
	if streamMB > 0 {
		for _, op := range []string{"PUT", "GET"} {
			d, g := median(stream["direct "+op]), median(stream["gateway "+op])
			fmt.Printf("| %s %d MiB, MB/s | %.0f | %.0f | %.0f %% |\n", op, streamMB, d, g, 100*g/d)
		}
	}
	return nil
}

// target is an S3 endpoint and the key that signs for it.
type target struct {
	name   string
	url    string
	creds  aws.Credentials
	client *http.Client
	signer *v4.Signer
	once   sync.Once
}

// do sends one signed request; body is nil, or read for size bytes with
// hash (UNSIGNED-PAYLOAD when ""). A non-2xx answer is an error. The
// answer's body is read to its end and discarded; out, when set, counts
// its bytes.
func (t *target) do(ctx context.Context, method, path string, body io.Reader, size int64, out *int64) error {
	t.once.Do(func() { t.signer = v4.NewSigner() })
	req, err := http.NewRequestWithContext(ctx, method, t.url+path, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	hash := emptyHash
	if body != nil {
		hash = "UNSIGNED-PAYLOAD"
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := t.signer.SignHTTP(ctx, t.creds, req, hash, "s3", region, time.Now()); err != nil {
		return err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", t.name, method, path, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if out != nil {
		*out = n
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s %s: %s", t.name, method, path, resp.Status)
	}
	return err
}

var emptyHash = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// sequential makes n calls one after the other and returns each one's
// latency in ms. PUTs write keys r/i; GETs read them back.
func (t *target) sequential(ctx context.Context, op string, r, n int, body []byte) ([]float64, error) {
	out := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := t.call(ctx, op, fmt.Sprintf("/%s/%s/seq-%d/%d", bucket, t.name, r, i), body); err != nil {
			return nil, err
		}
		out = append(out, float64(time.Since(start).Nanoseconds())/1e6)
	}
	return out, nil
}

func (t *target) call(ctx context.Context, op, path string, body []byte) error {
	if op == "PUT" {
		return t.do(ctx, "PUT", path, bytes.NewReader(body), int64(len(body)), nil)
	}
	return t.do(ctx, "GET", path, nil, 0, nil)
}

// concurrent drives clients for d and returns calls/s. GETs read the keys
// the sequential PUTs of round r wrote (keys objects).
func (t *target) concurrent(ctx context.Context, op string, r, clients int, d time.Duration, keys int, body []byte) (float64, error) {
	var done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				path := fmt.Sprintf("/%s/%s/conc-%d/%d-%d", bucket, t.name, r, c, i)
				if op == "GET" {
					path = fmt.Sprintf("/%s/%s/seq-%d/%d", bucket, t.name, r, (c*7919+i)%keys)
				}
				if err := t.call(ctx, op, path, body); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		}(c)
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// stream PUTs then GETs one object of size bytes, generated and discarded
// on the fly, and returns MB/s each way.
func (t *target) stream(ctx context.Context, size int64) (up, down float64, err error) {
	path := fmt.Sprintf("/%s/%s/stream.bin", bucket, t.name)
	start := time.Now()
	if err := t.do(ctx, "PUT", path, io.LimitReader(zeros{}, size), size, nil); err != nil {
		return 0, 0, err
	}
	up = float64(size) / time.Since(start).Seconds() / 1e6
	start = time.Now()
	var n int64
	if err := t.do(ctx, "GET", path, nil, 0, &n); err != nil {
		return 0, 0, err
	}
	if n != size {
		return 0, 0, fmt.Errorf("%s GET %s: %d bytes, want %d", t.name, path, n, size)
	}
	down = float64(size) / time.Since(start).Seconds() / 1e6
	return up, down, nil
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func pct(v []float64, p int) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := (len(s)*p+99)/100 - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}

func median(v []float64) float64 { return pct(v, 50) }

// versitygw is the upstream: a child process on a free loopback port.
type versitygw struct {
	url string
	cmd *exec.Cmd
}

func startVersitygw(bin, dir string) (*versitygw, error) {
	if bin == "" {
		bin = os.Getenv("OPENTRAIL_TEST_VERSITYGW")
	}
	if bin == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err == nil {
			bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		}
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, errors.New("versitygw not found: build it (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0, as scripts/test does) or pass --versitygw")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// --keep-alive: versitygw closes every connection after one answer
	// unless told otherwise, which would make both paths measure TCP set-up.
	cmd := exec.Command(bin, "--port", addr, "--access", upstreamAccess, "--secret", upstreamSecret, "--quiet", "--keep-alive", "posix", dir)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 200 {
			cmd.Process.Kill()
			return nil, fmt.Errorf("versitygw does not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &versitygw{url: "http://" + addr, cmd: cmd}, nil
}

func (v *versitygw) stop() {
	v.cmd.Process.Kill()
	v.cmd.Wait()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
