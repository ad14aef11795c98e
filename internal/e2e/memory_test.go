package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/config"
)

// rssOf reads a process's resident set size from /proc.
func rssOf(t testing.TB, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// TestMemoryStaysWithinBound: a burst of large concurrent posts keeps the
// server's resident memory under limits.memory_bytes, and most of it is
// returned once the burst is over. (bench/memory runs the full-size
// version: 160 posts of 6.3 MB against the default 1 GiB.)
func TestMemoryStaysWithinBound(t *testing.T) {
	const bound = 256 << 20
	dir := t.TempDir()
	cfg := filepath.Join(dir, "opentrail.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("limits:\n  memory_bytes: %d\n", bound)), 0o600)
	// Under -race the server runs as a plain build: the race detector's
	// shadow memory is no part of what limits.memory_bytes bounds.
	s := startServerBinary(t, plainBinary(t), filepath.Join(dir, "data"), "--config", cfg)
	pid := s.cmd.Process.Pid
	time.Sleep(500 * time.Millisecond)
	before := rssOf(t, pid)

	const clients, perBody = 48, 2000 // ~3 MB bodies
	bodies := make([][]byte, clients)
	for c := range bodies {
		recs := make([][]byte, perBody)
		for i := range recs {
			recs[i] = record(recOpts{id: uuid(fmt.Sprintf("mem-%d", c), i), name: fmt.Sprintf("Op%d", i%50)})
		}
		bodies[c] = bytes.Join(recs, []byte("\n"))
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if v := rssOf(t, pid); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; attempt < 100; attempt++ {
				code, body, _ := do(t, signedRequest(t, creds("test"), "opentrail", "us-east-1", "POST", s.url+"/v1/events", nil, bodies[c]))
				if code == 200 {
					accepted.Add(1)
					return
				}
				if !strings.Contains(string(body), "ThrottlingException") {
					t.Errorf("post: %d %s", code, body)
					return
				}
				time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != clients {
		t.Fatalf("%d of %d posts accepted", accepted.Load(), clients)
	}
	time.Sleep(8 * time.Second) // idle: the server returns what the burst took
	close(stop)
	<-sampled
	after := rssOf(t, pid)
	t.Logf("RSS before %d MiB, peak %d MiB, after idle %d MiB, bound %d MiB", before>>20, peak.Load()>>20, after>>20, bound>>20)
	if peak.Load() > bound {
		t.Errorf("resident memory peaked at %d MiB, over limits.memory_bytes %d MiB", peak.Load()>>20, bound>>20)
	}
	// What may stay is the store's caches: DuckDB's share and the block
	// cache (a tenth of Go's share), and a little slack.
	rest := float64(bound - config.BaseMemoryBytes)
	caches := int64(rest*config.DuckDBMemoryShare + rest*config.GoMemoryShare/10)
	if after > before+caches+24<<20 {
		t.Errorf("resident memory stayed at %d MiB after the burst (before %d MiB, peak %d MiB; the caches may keep %d MiB)",
			after>>20, before>>20, peak.Load()>>20, caches>>20)
	}
}
