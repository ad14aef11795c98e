package importer_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/store"
)

func rec(id string, t time.Time, acct, region string) string {
	return fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","accountId":%q,"userName":"alice"},"eventTime":%q,"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":%q,"sourceIPAddress":"192.0.2.1","eventID":%q,"readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":%q}`,
		acct, t.UTC().Format(time.RFC3339), region, id, acct)
}

// insightRec is an Insights event of 2024-03-01 in us-east-1: a Start at
// 12:00 or an End at 12:30.
func insightRec(id, state, acct string) string {
	minute := 0
	if state == "End" {
		minute = 30
	}
	return fmt.Sprintf(`{"eventVersion":"1.08","eventTime":"2024-03-01T12:%02d:00Z","awsRegion":"us-east-1","eventID":%q,`+
		`"eventType":"AwsCloudTrailInsight","recipientAccountId":%q,"sharedEventID":"0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c",`+
		`"insightDetails":{"state":%q,"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight",`+
		`"insightContext":{"statistics":{"baseline":{"average":0.01},"insight":{"average":5},"insightDuration":3,"baselineDuration":10080}}},"eventCategory":"Insight"}`,
		minute, id, acct, state)
}

func writeGz(t *testing.T, path string, body string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(body))
	zw.Close()
	writeFile(t, path, buf.Bytes())
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// bucket writes a CloudTrail bucket layout: for two accounts, two regions
// and two days, a log file of 5 events each (40 events), plus a digest
// file, an Insights file of 2 Insights events, a README and one corrupt
// gzip file.
func bucket(t *testing.T) string {
	dir := t.TempDir()
	n := 0
	for _, acct := range []string{"111122223333", "444455556666"} {
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			for day := 1; day <= 2; day++ {
				end := time.Date(2024, 3, day, 12, 5, 0, 0, time.UTC)
				var recs []string
				for i := range 5 {
					n++
					recs = append(recs, rec(fmt.Sprintf("ev-%04d", n), end.Add(-time.Duration(i+1)*time.Minute), acct, region))
				}
				key := fmt.Sprintf("prefix/AWSLogs/%s/CloudTrail/%s/2024/03/%02d/%s_CloudTrail_%s_202403%02dT1205Z_abcdefghijklmnop.json.gz",
					acct, region, day, acct, region, day)
				writeGz(t, filepath.Join(dir, key), `{"Records":[`+strings.Join(recs, ",")+`]}`)
			}
		}
	}
	writeGz(t, filepath.Join(dir, "prefix/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240301T120000Z.json.gz"),
		`{"awsAccountId":"111122223333","logFiles":[]}`)
	writeGz(t, filepath.Join(dir, "prefix/AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/03/01/111122223333_CloudTrail-Insight_us-east-1_20240301T1205Z_abcdefghijklmnop.json.gz"),
		`{"Records":[`+insightRec("in-start", "Start", "111122223333")+`,`+insightRec("in-end", "End", "111122223333")+`]}`)
	writeFile(t, filepath.Join(dir, "README.md"), []byte("# not a log\n"))
	writeFile(t, filepath.Join(dir, "prefix/AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/02/111122223333_CloudTrail_us-east-1_20240302T1300Z_corruptcorruptco.json.gz"),
		[]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3})
	return dir
}

type problems struct {
	mu   sync.Mutex
	list []importer.Problem
}

func (p *problems) report(x importer.Problem) {
	p.mu.Lock()
	p.list = append(p.list, x)
	p.mu.Unlock()
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := importer.OpenStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func run(t *testing.T, opts importer.Options) (importer.Snapshot, error) {
	t.Helper()
	im := importer.New(opts)
	err := im.Run(context.Background())
	return im.Stats.Snapshot(), err
}

func TestImportBucketIdempotentAndFiltered(t *testing.T) {
	src, err := importer.NewLocalFiles(bucket(t))
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, t.TempDir())
	var probs problems
	opts := importer.Options{Source: src, Sink: importer.StoreSink{Store: st}, Parallel: 3, BatchSize: 7, Report: probs.report}

	s, err := run(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := importer.Snapshot{FilesListed: 10, FilesDone: 10, FilesBad: 1, FilesDigest: 1, FilesIgnored: 1, Events: 42, Added: 42}
	if s.FilesListed != want.FilesListed || s.FilesDone != want.FilesDone || s.FilesBad != want.FilesBad ||
		s.FilesDigest != want.FilesDigest || s.FilesIgnored != want.FilesIgnored || s.Events != want.Events ||
		s.Added != want.Added || s.Duplicates != 0 || s.Rejected != 0 {
		t.Fatalf("first import: %+v", s)
	}
	if len(probs.list) != 1 || !strings.Contains(probs.list[0].Path, "corruptcorruptco") || !strings.Contains(probs.list[0].Err.Error(), "gunzip") {
		t.Fatalf("problems: %v", probs.list)
	}
	evs, err := st.Lookup(context.Background(), store.LookupQuery{Attrs: []store.Attr{{Key: "EventId", Value: "ev-0007"}}, Limit: 5})
	if err != nil || len(evs) != 1 || evs[0].Rec.AWSRegion != "us-east-1" || evs[0].Rec.AccountID != "111122223333" {
		t.Fatalf("lookup ev-0007: %v %+v", err, evs)
	}
	// The Insights file's events are found with the Insight category.
	evs, err = st.Lookup(context.Background(), store.LookupQuery{Accounts: []string{"111122223333"}, Region: "us-east-1",
		Categories: []string{"Insight"}, Limit: 5})
	if err != nil || len(evs) != 2 || evs[0].Rec.EventID != "in-end" || evs[1].Rec.EventID != "in-start" {
		t.Fatalf("Insights events: %v %+v", err, evs)
	}
	var imported int
	if err := st.DB().QueryRow(`SELECT count(*) FROM events WHERE imported`).Scan(&imported); err != nil || imported != 42 {
		t.Fatalf("%d events marked imported (%v), want 42", imported, err)
	}

	// Again, without a state: everything is read and nothing added.
	s, err = run(t, opts)
	if err != nil || s.Events != 42 || s.Added != 0 || s.Duplicates != 42 {
		t.Fatalf("second import: %v %+v", err, s)
	}

	// Filters, into a fresh store: account, region, and time.
	st2 := openStore(t, t.TempDir())
	opts.Sink = importer.StoreSink{Store: st2}
	opts.Filter = importer.Filter{Accounts: []string{"444455556666"}, Regions: []string{"eu-west-1"},
		Start: time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 3, 2, 12, 3, 0, 0, time.UTC)}
	s, err = run(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Only 444455556666/eu-west-1/03/02 is read; of its events at 12:04,
	// 12:03, …, 12:00 those before 12:03 pass.
	if s.FilesListed != 1 || s.FilesFiltered != 9 || s.Added != 3 || s.Filtered != 2 {
		t.Fatalf("filtered import: %+v", s)
	}
}

// failingSink stores through inner until fail writes have succeeded, then
// fails every write.
type failingSink struct {
	inner importer.Sink
	left  atomic.Int64
}

func (f *failingSink) Write(ctx context.Context, recs []*event.Record) (importer.WriteResult, error) {
	if f.left.Add(-1) < 0 {
		return importer.WriteResult{}, fmt.Errorf("disk on fire: %w", importer.ErrPermanent)
	}
	return f.inner.Write(ctx, recs)
}

func TestImportResumes(t *testing.T) {
	dir := bucket(t)
	src, err := importer.NewLocalFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, t.TempDir())
	statePath := filepath.Join(t.TempDir(), "state.ndjson")
	state, err := importer.OpenState(statePath, false)
	if err != nil {
		t.Fatal(err)
	}
	fs := &failingSink{inner: importer.StoreSink{Store: st}}
	fs.left.Store(3)
	// One file per batch (5 events, batch 5), one worker: three files get
	// stored, then the sink fails and the import stops.
	opts := importer.Options{Source: src, Sink: fs, State: state, Parallel: 1, BatchSize: 5}
	s, err := run(t, opts)
	if !errors.Is(err, importer.ErrPermanent) {
		t.Fatalf("interrupted import: err = %v", err)
	}
	if s.Added != 15 {
		t.Fatalf("interrupted import added %d, want 15", s.Added)
	}
	state.Close()

	state, err = importer.OpenState(statePath, false)
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	opts.Sink, opts.State = importer.StoreSink{Store: st}, state
	s, err = run(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The three finished files are skipped unread; the other six are
	// imported, the corrupt one reported again.
	if s.FilesResumed != 3 || s.Events != 27 || s.Added != 27 || s.Duplicates != 0 || s.FilesBad != 1 {
		t.Fatalf("resumed import: %+v", s)
	}
	s, err = run(t, opts)
	if err != nil || s.FilesResumed != 9 || s.Events != 0 || s.FilesBad != 1 {
		t.Fatalf("third run: %v %+v", err, s)
	}
	evs, err := st.Lookup(context.Background(), store.LookupQuery{Limit: 100})
	if err != nil || len(evs) != 42 {
		t.Fatalf("store holds %d events (%v), want 42", len(evs), err)
	}
}

func TestStateIgnoresTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.ndjson")
	o := importer.Object{Key: "a.json.gz", Size: 10}
	st, err := importer.OpenState(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkDone("src", []importer.Object{o}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"source":"src","key":"b.js`)
	f.Close()
	st, err = importer.OpenState(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Done("src", o) || st.Done("src", importer.Object{Key: "a.json.gz", Size: 11}) || st.Done("other", o) {
		t.Fatal("state lookups are wrong")
	}
	if err := st.MarkDone("src", []importer.Object{{Key: "c", Size: 1}}); err != nil {
		t.Fatal(err)
	}
	st2, _ := importer.OpenState(path, false)
	defer st2.Close()
	if !st2.Done("src", importer.Object{Key: "c", Size: 1}) {
		t.Fatal("a line written after a torn one is lost")
	}
}

// TestImportResumeFilters: a file finished under one filter is not
// finished under another, so a second run with another time range imports
// its events (it counted the file as "finished earlier" and imported
// nothing); a file finished with no filter is finished for every filter.
func TestImportResumeFilters(t *testing.T) {
	dir := bucket(t)
	src, err := importer.NewLocalFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, t.TempDir())
	state, err := importer.OpenState(filepath.Join(t.TempDir(), "state.ndjson"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	// The 444455556666/eu-west-1/2024/03/02 file's events are at 12:00 to
	// 12:04; the first run takes those before 12:02, the second the rest.
	day := func(h, m int) time.Time { return time.Date(2024, 3, 2, h, m, 0, 0, time.UTC) }
	opts := importer.Options{Source: src, Sink: importer.StoreSink{Store: st}, State: state,
		Filter: importer.Filter{Accounts: []string{"444455556666"}, Regions: []string{"eu-west-1"}, Start: day(0, 0), End: day(12, 2)}}
	s, err := run(t, opts)
	if err != nil || s.FilesListed != 1 || s.Added != 2 {
		t.Fatalf("first range: %v %+v", err, s)
	}
	opts.Filter.Start, opts.Filter.End = day(12, 2), day(23, 0)
	s, err = run(t, opts)
	if err != nil || s.FilesResumed != 0 || s.FilesListed != 1 || s.Added != 3 {
		t.Fatalf("second range: %v %+v, want the file read again and its 3 other events added", err, s)
	}
	// The same range again: finished.
	if s, err = run(t, opts); err != nil || s.FilesResumed != 1 || s.Events != 0 {
		t.Fatalf("second range again: %v %+v", err, s)
	}
	// With no filter every file is read; after that, a filtered run finds
	// its file finished.
	opts.Filter = importer.Filter{}
	if s, err = run(t, opts); err != nil || s.FilesResumed != 0 || s.Added != 37 {
		t.Fatalf("no filter: %v %+v", err, s)
	}
	opts.Filter = importer.Filter{Regions: []string{"eu-west-1"}}
	if s, err = run(t, opts); err != nil || s.FilesListed != 0 || s.Events != 0 {
		t.Fatalf("a filter after the run without one: %v %+v", err, s)
	}
}
