package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestColumnarTierServer runs a server that compacts within seconds and
// checks, through the AWS CLI and the SQL client, that what LookupEvents
// and SQL answer is the same before and after the events moved into the
// columnar files, that retries of compacted events are still duplicates,
// and that a restart keeps it all.
func TestColumnarTierServer(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, `
storage:
  compact_after: 1s
  compact_min_events: 1
  compact_max_wait: 1s
`)
	s := startServer(t, dir, "--config", cfg)
	now := time.Now().UTC().Truncate(time.Second)
	var recs [][]byte
	for i := range 2000 {
		o := recOpts{id: uuid("columnar", i), t: now.Add(-time.Duration(i) * time.Second), readOnly: i%3 != 0}
		if i%10 == 0 {
			o.name, o.source = "ConsoleLogin", "signin.amazonaws.com"
		}
		if i%7 == 0 {
			o.user, o.key = "bob", "AKIAEXAMPLEKEY000002"
		}
		recs = append(recs, record(o))
	}
	if acc, _ := s.postEvents(t, "test", recs); acc != 2000 {
		t.Fatalf("accepted %d", acc)
	}
	views := func() []string {
		var out []string
		for _, args := range [][]string{
			{"cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventSource,AttributeValue=ec2.amazonaws.com", "--max-items", "60"},
			{"cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=ReadOnly,AttributeValue=false", "--start-time", now.Add(-30 * time.Minute).Format(time.RFC3339), "--end-time", now.Add(-5 * time.Second).Format(time.RFC3339), "--max-items", "80"},
			{"cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=ConsoleLogin", "--max-items", "500"},
			{"cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=Username,AttributeValue=bob", "--max-items", "500"},
			{"cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventId,AttributeValue=" + uuid("columnar", 1234)},
		} {
			out = append(out, s.mustCLI(t, "us-east-1", args...))
		}
		out = append(out, s.queryAs(t, "test", `SELECT eventName, userIdentity.userName AS u, count(*) AS n, max(eventTime) AS last
FROM cloudtrail_events WHERE eventSource IN ('ec2.amazonaws.com', 'signin.amazonaws.com') GROUP BY ALL ORDER BY ALL`))
		out = append(out, s.queryAs(t, "test", `SELECT eventID, eventJson FROM cloudtrail_events WHERE eventSource IN ('ec2.amazonaws.com', 'signin.amazonaws.com') ORDER BY eventTime DESC, eventID LIMIT 40`))
		return out
	}
	// The first readings may already race the first compaction: they
	// must not differ either way.
	before := views()

	deadline := time.Now().Add(90 * time.Second)
	for columnarThrough(t, s) < 2000 {
		if time.Now().After(deadline) {
			t.Fatalf("events not compacted within 90 s: columnar through %d", columnarThrough(t, s))
		}
		time.Sleep(500 * time.Millisecond)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "columnar", "account=000000000000", "region=us-east-1", "date=*", "part-*.parquet"))
	if len(files) == 0 {
		t.Fatal("no columnar files in account=/region=/date= folders")
	}
	same := func(when string) {
		t.Helper()
		after := views()
		for i := range before {
			if after[i] != before[i] {
				t.Fatalf("%s, reading %d differs:\n got %.600s\nwant %.600s", when, i, after[i], before[i])
			}
		}
	}
	same("after compaction")
	if acc, dup := s.postEvents(t, "test", recs[:500]); acc != 0 || dup != 500 {
		t.Fatalf("retry of compacted events: accepted %d duplicates %d", acc, dup)
	}
	s.stop()
	s = startServer(t, dir, "--config", cfg)
	same("after a restart")
	if acc, dup := s.postEvents(t, "test", recs[1500:]); acc != 0 || dup != 500 {
		t.Fatalf("retry after restart: accepted %d duplicates %d", acc, dup)
	}
	if _, err := os.Stat(filepath.Join(dir, "columnar")); err != nil {
		t.Fatal(err)
	}
}

var columnarThroughRE = regexp.MustCompile(`(?m)^opentrail_store_columnar_through (\d+)`)

func columnarThrough(t *testing.T, s *server) int64 {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := columnarThroughRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("/metrics lacks opentrail_store_columnar_through:\n%s", b)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}
