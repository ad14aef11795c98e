package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/layout"
)

// trailStatus is GetTrailStatus as opentrail answers it, with its
// delivered-through watermark.
type trailStatus struct {
	IsLogging            bool
	LatestDeliveryError  string
	LatestDeliveryTime   float64
	DeliveredThroughTime float64
	// with log file validation
	LatestDigestDeliveryTime  float64
	LatestDigestDeliveryError string
}

func (s *server) trailStatus(t testing.TB, akid, region, name string) trailStatus {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"Name":%q}`, name))
	h := make(map[string][]string)
	h["X-Amz-Target"] = []string{"CloudTrail_20131101.GetTrailStatus"}
	h["Content-Type"] = []string{"application/x-amz-json-1.1"}
	status, out, _ := do(t, signedRequest(t, creds(akid), "cloudtrail", region, "POST", s.url+"/", h, body))
	if status != 200 {
		t.Fatalf("GetTrailStatus %s: %d %s", name, status, out)
	}
	var st trailStatus
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitDelivered waits until the trail's watermark passes at.
func (s *server) waitDelivered(t testing.TB, akid, region, name string, at time.Time, within time.Duration) trailStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := s.trailStatus(t, akid, region, name)
		if st.DeliveredThroughTime >= float64(at.UnixNano())/1e9 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("trail %s not delivered through %s within %s: %+v\n%s", name, at.Format(time.RFC3339Nano), within, st, s.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logFile is one delivered log file read back.
type logFile struct {
	key     string
	ids     []string
	sources map[string]string // eventID → eventSource
}

// readLogFiles reads every log file under dir (a bucket downloaded with
// `aws s3 cp --recursive`), checking each key against CloudTrail's layout
// byte for byte and each record against the key's account and region.
func readLogFiles(t testing.TB, dir string) []logFile {
	t.Helper()
	var out []logFile
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		key, _ := filepath.Rel(dir, path)
		key = filepath.ToSlash(key)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, parseLogFile(t, key, data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func parseLogFile(t testing.TB, key string, data []byte) logFile {
	t.Helper()
	lk, err := layout.ParseLog(key)
	if err != nil {
		t.Fatalf("delivered key: %v", err)
	}
	if lk.String() != key {
		t.Fatalf("key %q does not round-trip through CloudTrail's layout (%q)", key, lk.String())
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not gzip: %v", key, err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var doc struct {
		Records []struct {
			EventID            string `json:"eventID"`
			AWSRegion          string `json:"awsRegion"`
			RecipientAccountID string `json:"recipientAccountId"`
			EventSource        string `json:"eventSource"`
		}
	}
	if err := json.Unmarshal(plain, &doc); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	lf := logFile{key: key, sources: map[string]string{}}
	for _, r := range doc.Records {
		if r.AWSRegion != lk.Region || r.RecipientAccountID != lk.Account {
			t.Errorf("%s holds a record of %s/%s", key, r.RecipientAccountID, r.AWSRegion)
		}
		lf.ids = append(lf.ids, r.EventID)
		lf.sources[r.EventID] = r.EventSource
	}
	return lf
}

// exactlyOnce checks that files hold each wanted eventID exactly once and
// nothing else but the server's records of its own API calls (which
// trails deliver, as CloudTrail does).
func exactlyOnce(t testing.TB, files []logFile, want []string) {
	t.Helper()
	got := map[string]int{}
	self := map[string]bool{}
	for _, f := range files {
		for _, id := range f.ids {
			got[id]++
			if src := f.sources[id]; src == "cloudtrail.amazonaws.com" || src == "s3.amazonaws.com" || src == "opentrail.amazonaws.com" {
				self[id] = true
			}
		}
	}
	wantSet := map[string]bool{}
	missing, dup := 0, 0
	for _, id := range want {
		wantSet[id] = true
		switch got[id] {
		case 1:
		case 0:
			missing++
		default:
			dup++
		}
	}
	extra := 0
	for id, n := range got {
		switch {
		case wantSet[id]:
		case self[id] && n == 1:
		default:
			extra++
		}
	}
	if missing+dup+extra > 0 {
		t.Errorf("%d events wanted: %d missing, %d delivered more than once, %d delivered but not selected", len(want), missing, dup, extra)
	}
}

// workload posts a known mix: management events in two regions and two
// accounts, read-only and write, and S3 data events. It returns the
// eventIDs of each kind.
type workload struct {
	mgmtHome, mgmtOther, otherAccount, readOnly, data []string
}

func postWorkload(t testing.TB, s *server, tag string, n int) workload {
	t.Helper()
	var w workload
	var recs [][]byte
	for i := range n {
		id := uuid(tag, i)
		o := recOpts{id: id, name: "RunInstances", source: "ec2.amazonaws.com", region: "eu-west-1", account: "000000000000"}
		switch i % 5 {
		case 0:
			w.mgmtHome = append(w.mgmtHome, id)
		case 1:
			o.region = "us-east-1"
			w.mgmtOther = append(w.mgmtOther, id)
		case 2:
			o.account = "111111111111"
			w.otherAccount = append(w.otherAccount, id)
		case 3:
			o.name, o.readOnly = "DescribeInstances", true
			w.readOnly = append(w.readOnly, id)
		case 4:
			o.name, o.source, o.category = "PutObject", "s3.amazonaws.com", "Data"
			o.resources = `[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::customer-data/uploads/` + id + `"}]`
			w.data = append(w.data, id)
		}
		recs = append(recs, record(o))
	}
	for len(recs) > 0 {
		k := min(len(recs), 1000)
		s.postEvents(t, "test", recs[:k])
		recs = recs[k:]
	}
	return w
}

// TestDeliveryToBuiltInStore is what a new user does: make a bucket with
// `aws s3 mb`, create trails with `aws cloudtrail`, send events, and
// within a delivery interval list and download the files with `aws s3`.
func TestDeliveryToBuiltInStore(t *testing.T) {
	s := startServer(t, "", "--delivery-interval", "1s")
	cli := func(args ...string) string {
		t.Helper()
		out, errs, code := s.awsCLI(t, "test", "eu-west-1", args...)
		if code != 0 {
			t.Fatalf("aws %s: exit %d: %s %s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	cli("s3", "mb", "s3://trail-logs")
	cli("s3", "mb", "s3://data-logs")
	_, errs, code := s.awsCLI(t, "test", "eu-west-1", "cloudtrail", "create-trail", "--name", "main", "--s3-bucket-name", "no-such-bucket")
	if code != 254 || !strings.Contains(errs, "S3BucketDoesNotExistException") {
		t.Fatalf("create-trail with a missing bucket: %d %s", code, errs)
	}
	cli("cloudtrail", "create-trail", "--name", "main", "--s3-bucket-name", "trail-logs", "--s3-key-prefix", "org/prod", "--is-multi-region-trail")
	cli("cloudtrail", "start-logging", "--name", "main")
	cli("cloudtrail", "create-trail", "--name", "data", "--s3-bucket-name", "data-logs")
	cli("cloudtrail", "put-event-selectors", "--trail-name", "data", "--event-selectors",
		`[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":false,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::customer-data/"]}]}]`)
	cli("cloudtrail", "start-logging", "--name", "data")

	w := postWorkload(t, s, "builtin", 500)
	sent := time.Now()
	s.waitDelivered(t, "test", "eu-west-1", "main", sent, 15*time.Second)
	st := s.waitDelivered(t, "test", "eu-west-1", "data", sent, 15*time.Second)
	if st.LatestDeliveryTime == 0 || st.LatestDeliveryError != "" {
		t.Errorf("status after delivery: %+v", st)
	}

	// aws s3 ls shows the files under CloudTrail's layout.
	out := cli("s3", "ls", "--recursive", "s3://trail-logs/")
	if !strings.Contains(out, "org/prod/AWSLogs/000000000000/CloudTrail/eu-west-1/") ||
		!strings.Contains(out, "org/prod/AWSLogs/000000000000/CloudTrail/us-east-1/") {
		t.Errorf("aws s3 ls:\n%s", out)
	}
	// Folder by folder, as a user browses.
	if out := cli("s3", "ls", "s3://trail-logs/org/prod/AWSLogs/000000000000/CloudTrail/"); !strings.Contains(out, "PRE eu-west-1/") {
		t.Errorf("aws s3 ls of a folder:\n%s", out)
	}

	mainDir, dataDir := t.TempDir(), t.TempDir()
	cli("s3", "cp", "--recursive", "s3://trail-logs/", mainDir)
	cli("s3", "cp", "--recursive", "s3://data-logs/", dataDir)
	// Multi-region: the account's management events of both regions, not
	// the other account's, not data events.
	exactlyOnce(t, readLogFiles(t, mainDir), concat(w.mgmtHome, w.mgmtOther, w.readOnly))
	exactlyOnce(t, readLogFiles(t, dataDir), w.data)

	// Clients cannot write or delete delivered logs.
	local := filepath.Join(t.TempDir(), "forged.json.gz")
	os.WriteFile(local, []byte("forged"), 0o644)
	_, errs, code = s.awsCLI(t, "test", "eu-west-1", "s3", "cp", local, "s3://trail-logs/forged.json.gz")
	if code == 0 || !strings.Contains(errs, "AccessDenied") {
		t.Errorf("upload: exit %d %s", code, errs)
	}
	files := readLogFiles(t, mainDir)
	_, errs, code = s.awsCLI(t, "test", "eu-west-1", "s3", "rm", "s3://trail-logs/"+files[0].key)
	if code == 0 || !strings.Contains(errs, "AccessDenied") {
		t.Errorf("delete: exit %d %s", code, errs)
	}
	// A missing key is NoSuchKey, as validate-logs needs.
	_, errs, code = s.awsCLI(t, "test", "eu-west-1", "s3api", "get-object", "--bucket", "trail-logs", "--key", "nope.json.gz", filepath.Join(t.TempDir(), "x"))
	if code == 0 || !strings.Contains(errs, "NoSuchKey") {
		t.Errorf("get-object of a missing key: exit %d %s", code, errs)
	}
	// A non-empty bucket cannot be removed.
	if _, errs, code := s.awsCLI(t, "test", "eu-west-1", "s3", "rb", "s3://trail-logs"); code == 0 || !strings.Contains(errs, "BucketNotEmpty") {
		t.Errorf("rb of a non-empty bucket: exit %d %s", code, errs)
	}
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
