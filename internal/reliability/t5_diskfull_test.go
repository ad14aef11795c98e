package reliability

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtraildata"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/testserver"
)

// TestT5DiskFull runs the server on a small tmpfs, ingests until the disk
// is full, and checks that ingest is refused quickly with 503, that
// nothing acknowledged is lost or corrupted, and that ingest resumes by
// itself once space returns.
func TestT5DiskFull(t *testing.T) {
	describe(t, "T5", "The server's data directory is a 64 MiB tmpfs the test mounts, most of it taken by a filler file. "+
		"Clients ingest records of incompressible data until the disk is full: refused requests must answer 503 "+
		"ServiceUnavailable quickly. The filler is then deleted, and ingest must resume without a restart. Finally the "+
		"server is stopped, the event store opened (DuckDB must open it) and read in full: every acknowledged event is there "+
		"exactly once; the server then starts again on it.")
	dir := mountTmpfs(t, 64)
	// A filler leaves the server some 8 MiB once it runs.
	s := startServer(t, dir)
	channel := createChannel(t, s.URL, "t5-app")
	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler, dir, 8<<20)

	acks := newAckSet()
	batchNo := 0
	post := func(n int) (int, time.Duration, []byte) {
		recs, ids := bulkyBatch(fmt.Sprintf("t5-%d", batchNo), n)
		batchNo++
		acks.send(ids...)
		began := time.Now()
		body := []byte(strings.Join(func() []string {
			out := make([]string, len(recs))
			for i, r := range recs {
				out[i] = string(r)
			}
			return out
		}(), "\n"))
		req := testserver.Sign(t, testserver.Creds("test"), "opentrail", "us-east-1", "POST", s.URL+"/v1/events", nil, body)
		status, out, _ := testserver.Do(t, req)
		took := time.Since(began)
		if status == 200 {
			acks.ack(ids...)
		}
		return status, took, out
	}

	// Fill the disk.
	var refused, accepted []time.Duration
	deadline := time.Now().Add(pick(90*time.Second, 10*time.Minute))
	for len(refused) < pick(20, 200) {
		if time.Now().After(deadline) {
			_, acked := acks.counts()
			t.Fatalf("after %d acknowledged events, still %d refusals of the %d wanted (disk %d MiB free)\n%s",
				acked, len(refused), pick(20, 200), freeBytes(t, dir)>>20, tailOf(s.Stderr(), 3000))
		}
		status, took, out := post(100)
		switch status {
		case 200:
			accepted = append(accepted, took)
		case 503:
			refused = append(refused, took)
			var e struct{ Code, Message string }
			json.Unmarshal(out, &e)
			if len(refused) == 1 {
				t.Logf("first refusal: %s", out)
			}
			if !strings.Contains(string(out), "ServiceUnavailable") {
				t.Errorf("a refusal on a full disk is not ServiceUnavailable: %s", out)
			}
		default:
			t.Fatalf("ingest on a filling disk answered %d %s\n%s", status, out, tailOf(s.Stderr(), 3000))
		}
	}
	// The other ingest door refuses in its own protocol's shape.
	paeRefused := 0
	dc := dataAPI(s.URL, nil)
	for i := 0; i < 5 && paeRefused == 0; i++ {
		out, err := dc.PutAuditEvents(context.Background(), &cloudtraildata.PutAuditEventsInput{
			ChannelArn: aws.String(channel), AuditEvents: auditEvents(fmt.Sprintf("t5-pae-%d", i), 50, "Refund")})
		var re *awshttp.ResponseError
		var ae smithy.APIError
		switch {
		case err == nil:
			for _, r := range out.Successful {
				acks.send(aws.ToString(r.EventID))
				acks.ack(aws.ToString(r.EventID))
			}
		case errors.As(err, &re) && re.HTTPStatusCode() == 503 && errors.As(err, &ae) && ae.ErrorCode() == "ServiceUnavailableException":
			paeRefused++
		default:
			t.Errorf("PutAuditEvents on a full disk: %v", err)
		}
	}
	if paeRefused == 0 {
		t.Errorf("PutAuditEvents was never refused on a full disk")
	}
	_, ackedFull := acks.counts()
	for _, l := range strings.Split(s.Stderr(), "\n") {
		if strings.Contains(l, "commit failed") {
			t.Logf("server: %s", tailOf(l, 600))
			break
		}
	}
	t.Logf("%d events acknowledged before and while the disk was full; %d MiB free", ackedFull, freeBytes(t, dir)>>20)

	// Space returns: ingest resumes by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	var resumed time.Duration
	for {
		status, _, out := post(10)
		if status == 200 {
			resumed = time.Since(back)
			break
		}
		if status != 503 {
			t.Fatalf("after space returned: %d %s", status, out)
		}
		if time.Since(back) > pick(60*time.Second, 5*time.Minute) {
			t.Fatalf("ingest did not resume within %v of space returning (%d MiB free)\n%s", time.Since(back), freeBytes(t, dir)>>20, tailOf(s.Stderr(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 5 {
		if status, _, out := post(200); status != 200 {
			t.Fatalf("after resuming: %d %s", status, out)
		}
	}

	// Nothing acknowledged lost, nothing corrupted.
	s.Stop()
	stored := storedCounts(t, dir)
	lost, dup, ex := acks.check(stored)
	_, acked := acks.counts()
	s.Restart()
	if status, _, out := post(10); status != 200 {
		t.Errorf("after a restart on the once-full disk: %d %s", status, out)
	}

	figure(t, "T5", "refused requests (503 on a full disk)", float64(len(refused)), "", fmt.Sprintf("%d", pick(20, 200)))
	figure(t, "T5", "accepted request latency (100 records), median", durQuantile(accepted, 0.5).Seconds(), "s", "")
	figure(t, "T5", "refusal latency, median", durQuantile(refused, 0.5).Seconds(), "s", "≤ 1 s")
	figure(t, "T5", "refusal latency, max", durQuantile(refused, 1).Seconds(), "s", "≤ 1 s")
	figure(t, "T5", "seconds from space back to the first accepted write", resumed.Seconds(), "s", "≤ 10 s")
	figure(t, "T5", "PutAuditEvents refused with 503 ServiceUnavailableException", float64(paeRefused), "", "= 1")
	figure(t, "T5", "acknowledged events checked", float64(acked), "", "")
	figure(t, "T5", "acknowledged events lost", float64(lost), "", "= 0")
	figure(t, "T5", "events stored more than once", float64(dup), "", "= 0")
	if durQuantile(refused, 1) > time.Second {
		t.Errorf("refusals took up to %v", durQuantile(refused, 1))
	}
	if resumed > 10*time.Second {
		t.Errorf("ingest resumed %v after space returned", resumed)
	}
	if lost != 0 || dup != 0 {
		t.Errorf("%d acknowledged events lost, %d stored more than once: %v", lost, dup, ex)
	}
}

// mountTmpfs mounts a tmpfs of mib MiB on a new directory, unmounted when
// the test ends (after the server stops: cleanups run last-in first-out).
func mountTmpfs(t *testing.T, mib int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", mib), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount -t tmpfs on %s: %v %s\nthis test mounts a small filesystem to fill it: run it as root (or with CAP_SYS_ADMIN), as scripts/test does in CI", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

func freeBytes(t testing.TB, dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// fillDisk writes the file path until leave bytes are free in dir.
func fillDisk(t testing.TB, path, dir string, leave int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for free := freeBytes(t, dir); free > leave; free = freeBytes(t, dir) {
		n := min(int64(len(chunk)), free-leave)
		if _, err := f.Write(chunk[:n]); err != nil {
			t.Fatalf("writing the filler: %v", err)
		}
	}
}

// bulkyBatch makes n records of about 2 KB each that compress poorly.
func bulkyBatch(prefix string, n int) (recs [][]byte, ids []string) {
	buf := make([]byte, 1500)
	for i := range n {
		rand.Read(buf)
		id := eventUUID(prefix, i)
		ids = append(ids, id)
		res := `[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::bulk/` + base64.RawURLEncoding.EncodeToString(buf) + `"}]`
		recs = append(recs, testserver.Record(testserver.Rec{ID: id, Name: "PutObject", Source: "s3.amazonaws.com", Category: "Data", Resources: res}))
	}
	return recs, ids
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
