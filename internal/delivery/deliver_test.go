package delivery_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/clock"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/keys"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/metrics"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/trail"
)

// testClock is the fake clock shared by the store (ingest times) and the
// deliverer (window closing, digest periods, its poll and retry timers).
// Set and Advance move it, which runs every delivery step that falls due,
// and return once delivery is idle again, so a test sees the result of
// each move without sleeping.
type testClock struct {
	*clock.Fake
	f *fixture
}

func (c *testClock) Set(t time.Time) {
	c.Fake.Set(t)
	c.f.settle()
}

func (c *testClock) Advance(d time.Duration) {
	c.Fake.Advance(d)
	c.f.settle()
}

// buckets serves memory buckets by name; a bucket can be made to fail.
type buckets struct {
	mu   sync.Mutex
	m    map[string]*objstore.Memory
	fail map[string]error
}

func newBuckets(names ...string) *buckets {
	b := &buckets{m: map[string]*objstore.Memory{}, fail: map[string]error{}}
	for _, n := range names {
		b.m[n] = objstore.NewMemory()
	}
	return b
}

func (b *buckets) Bucket(_ context.Context, name string) (objstore.Bucket, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.fail[name]; err != nil {
		return nil, err
	}
	m := b.m[name]
	if m == nil {
		return nil, fmt.Errorf("bucket %s: %w", name, objstore.ErrNoSuchBucket)
	}
	return m, nil
}

func (b *buckets) setFail(name string, err error) {
	b.mu.Lock()
	b.fail[name] = err
	b.mu.Unlock()
}

// testKeys hands out the digest package's fixed test keys in turn:
// generating RSA keys is slow, the more so under the race detector.
func testKeys(t *testing.T) func() (*rsa.PrivateKey, error) {
	var keys []*rsa.PrivateKey
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(fmt.Sprintf("../digest/testdata/keys/key%d.pem", i))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("key%d.pem is not PEM", i)
		}
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			if k8, err8 := x509.ParsePKCS8PrivateKey(blk.Bytes); err8 == nil {
				k = k8.(*rsa.PrivateKey)
			} else {
				t.Fatal(err)
			}
		}
		keys = append(keys, k)
	}
	var mu sync.Mutex
	n := 0
	return func() (*rsa.PrivateKey, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		return keys[(n-1)%len(keys)], nil
	}
}

type fixture struct {
	t      *testing.T
	st     *store.Store
	clk    *testClock
	bk     *buckets
	d      *delivery.Deliverer
	keys   *keys.Keys        // the running deliverer's signing keys
	reg    *metrics.Registry // the running deliverer's metrics
	dir    string
	n      int
	trails int // trails created: delivery runs a worker for each
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func newFixture(t *testing.T, opts delivery.Options, bucketNames ...string) *fixture {
	f := &fixture{t: t, bk: newBuckets(bucketNames...), dir: t.TempDir()}
	f.clk = &testClock{Fake: clock.NewFake(t0), f: f}
	f.openStore()
	f.startDeliverer(opts)
	return f
}

func (f *fixture) openStore() {
	st, err := store.Open(context.Background(), f.dir, store.Options{Now: f.clk.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	f.st = st
	f.t.Cleanup(func() { st.Close() })
}

func (f *fixture) startDeliverer(opts delivery.Options) {
	opts.Buckets = f.bk
	opts.Clock = f.clk.Fake
	f.reg = metrics.NewRegistry()
	opts.Metrics = f.reg
	if opts.Interval == 0 {
		opts.Interval = time.Minute
	}
	opts.RetryMax = 50 * time.Millisecond
	f.keys = keys.New(f.st, keys.Options{Generate: testKeys(f.t), Clock: f.clk.Fake})
	opts.Keys = f.keys
	d := delivery.New(f.st, opts)
	f.d = d
	d.Start()
	f.t.Cleanup(func() {
		d.Close(context.Background())
		if n := f.clk.Waiters(); n != 0 {
			f.t.Errorf("%d delivery timers left running after Close", n)
		}
	})
}

// settle waits until delivery is idle: its trail-watching loop and every
// trail's worker wait on the clock, so every step due at the clock's time
// has run.
func (f *fixture) settle() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := f.clk.BlockUntil(ctx, 1+f.trails); err != nil {
		f.t.Fatalf("delivery did not go idle: %v", err)
	}
}

func (f *fixture) createTrail(name, account, home string, set trail.Settings) string {
	f.t.Helper()
	arn := trail.ARN{Region: home, Account: account, Name: name}.String()
	start := f.clk.Now()
	set.IsLogging = true
	set.StartLoggingTime = &start
	doc, err := json.Marshal(set)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.CreateTrail(context.Background(), store.Trail{ARN: arn, Name: name, Account: account, HomeRegion: home, Doc: doc, Created: start, Updated: start}); err != nil {
		f.t.Fatal(err)
	}
	f.trails++
	f.d.Wake()
	f.settle() // the trail's worker has made its first step
	return arn
}

// ingest stores one event per spec "account/region/category[/readonly][/source]".
func (f *fixture) ingest(specs ...string) []string {
	f.t.Helper()
	var recs []*event.Record
	var ids []string
	for _, s := range specs {
		p := strings.Split(s, "/")
		f.n++
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", f.n)
		ids = append(ids, id)
		src := "ec2.amazonaws.com"
		if len(p) > 4 {
			src = p[4]
		}
		m := map[string]any{
			"eventVersion": "1.09", "eventTime": f.clk.Now().Format(time.RFC3339), "eventSource": src,
			"eventName": "RunInstances", "awsRegion": p[1], "sourceIPAddress": "192.0.2.1", "userAgent": "test",
			"eventID": id, "eventType": "AwsApiCall", "recipientAccountId": p[0],
			"userIdentity":    map[string]any{"type": "IAMUser", "accountId": p[0], "userName": "alice"},
			"managementEvent": p[2] == "Management", "eventCategory": p[2], "readOnly": len(p) > 3 && p[3] == "ro",
			"requestParameters": map[string]any{"padding": strings.Repeat("x", 100)},
		}
		if p[2] == "Data" {
			m["eventSource"], m["eventName"] = "s3.amazonaws.com", "GetObject"
			m["resources"] = []map[string]any{{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::data-bucket/logs/" + id}}
		}
		raw, _ := json.Marshal(m)
		r, err := event.Parse(raw)
		if err != nil {
			f.t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if _, err := f.st.Append(context.Background(), recs, time.Time{}); err != nil {
		f.t.Fatal(err)
	}
	return ids
}

// waitDelivered waits until delivery is idle and checks that the
// trail's watermark has reached t.
func (f *fixture) waitDelivered(arn string, t time.Time) trail.Status {
	f.t.Helper()
	f.settle()
	s, err := f.d.Status(context.Background(), arn)
	if err != nil {
		f.t.Fatal(err)
	}
	if s.DeliveredThrough.Before(t) {
		f.t.Fatalf("trail %s delivered through %v, want %v; status %+v", arn, s.DeliveredThrough, t, s)
	}
	return s
}

type delivered struct {
	key     layout.Log
	records []map[string]any
}

// files reads every log file in a bucket.
func (f *fixture) files(bucket string) []delivered {
	f.t.Helper()
	b, _ := f.bk.Bucket(context.Background(), bucket)
	var out []delivered
	after := ""
	for {
		infos, more, err := b.List(context.Background(), "", after, 0)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, in := range infos {
			after = in.Key
			if strings.Contains(in.Key, "/CloudTrail-Digest/") {
				continue
			}
			lk, err := layout.ParseLog(in.Key)
			if err != nil {
				f.t.Fatalf("delivered key: %v", err)
			}
			data, _, err := b.Get(context.Background(), in.Key)
			if err != nil {
				f.t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				f.t.Fatalf("%s: %v", in.Key, err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				f.t.Fatalf("%s: %v", in.Key, err)
			}
			var doc struct{ Records []map[string]any }
			if err := json.Unmarshal(plain, &doc); err != nil {
				f.t.Fatalf("%s: %v", in.Key, err)
			}
			for _, r := range doc.Records {
				if r["recipientAccountId"] != lk.Account || r["awsRegion"] != lk.Region {
					f.t.Errorf("%s holds a record of %v/%v", in.Key, r["recipientAccountId"], r["awsRegion"])
				}
			}
			out = append(out, delivered{key: lk, records: doc.Records})
			after = in.Key
		}
		if !more {
			return out
		}
	}
}

// ids counts the eventIDs delivered across files.
func ids(files []delivered) map[string]int {
	m := map[string]int{}
	for _, f := range files {
		for _, r := range f.records {
			m[r["eventID"].(string)]++
		}
	}
	return m
}

func expectExactly(t *testing.T, got map[string]int, want []string) {
	t.Helper()
	wantSet := map[string]bool{}
	for _, id := range want {
		wantSet[id] = true
		if got[id] != 1 {
			t.Errorf("event %s delivered %d times, want once", id, got[id])
		}
	}
	for id := range got {
		if !wantSet[id] {
			t.Errorf("event %s delivered but not selected", id)
		}
	}
}

func TestDeliverySelectsRegionsAccountsAndWindows(t *testing.T) {
	f := newFixture(t, delivery.Options{}, "home", "multi", "data")
	home := f.createTrail("home", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "home", S3KeyPrefix: "pre/fix"})
	multi := f.createTrail("multi", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "multi", IsMultiRegionTrail: true})
	yes, no := true, false
	data := f.createTrail("data", "111111111111", "us-east-1", trail.Settings{S3BucketName: "data", IsMultiRegionTrail: true,
		EventSelectors: []trail.EventSelector{{ReadWriteType: "WriteOnly", IncludeManagementEvents: &no,
			DataResources: []trail.DataResource{{Type: "AWS::S3::Object", Values: []string{"arn:aws:s3:::data-bucket/logs/"}}}},
			{ReadWriteType: "ReadOnly", IncludeManagementEvents: &yes}}})

	// Window 1 (10:00–10:01) and window 2 (10:01–10:02).
	f.clk.Set(t0.Add(10 * time.Second))
	w1 := f.ingest("111111111111/eu-west-1/Management", "111111111111/us-east-1/Management", "222222222222/eu-west-1/Management",
		"111111111111/eu-west-1/Data", "111111111111/eu-west-1/Management/ro", "111111111111/eu-west-1/Insight")
	f.clk.Set(t0.Add(70 * time.Second))
	w2 := f.ingest("111111111111/eu-west-1/Management", "111111111111/ap-south-1/Management/ro")
	f.clk.Set(t0.Add(3 * time.Minute))
	for _, arn := range []string{home, multi, data} {
		f.waitDelivered(arn, t0.Add(2*time.Minute))
	}

	homeFiles := f.files("home")
	expectExactly(t, ids(homeFiles), []string{w1[0], w1[4], w2[0]})
	for _, df := range homeFiles {
		if df.key.Prefix != "pre/fix" || df.key.Region != "eu-west-1" {
			t.Errorf("home trail file %+v", df.key)
		}
	}
	if len(homeFiles) != 2 {
		t.Errorf("home trail wrote %d files, want one per window", len(homeFiles))
	}
	// The last file of a window is named after the window's end.
	for _, df := range homeFiles {
		if df.key.End != t0.Add(time.Minute) && df.key.End != t0.Add(2*time.Minute) {
			t.Errorf("file time %v is not a window end", df.key.End)
		}
	}
	expectExactly(t, ids(f.files("multi")), []string{w1[0], w1[1], w1[4], w2[0], w2[1]})
	// Data events under the prefix (write-only: GetObject here is not
	// read-only in the fixture) and read-only management events.
	expectExactly(t, ids(f.files("data")), []string{w1[3], w1[4], w2[1]})

	st, _ := f.d.Status(context.Background(), home)
	if st.Files != 2 || st.Events != 3 || st.LatestDelivery.IsZero() || st.LatestError != "" {
		t.Errorf("status %+v", st)
	}
}

func TestDeliveryOrganisationTrail(t *testing.T) {
	org := &trail.Organization{ID: "o-abcdefghij", Management: "111111111111", Members: []string{"222222222222"}}
	f := newFixture(t, delivery.Options{Org: org}, "org")
	arn := f.createTrail("org", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "org", IsMultiRegionTrail: true, IsOrganizationTrail: true})
	f.clk.Set(t0.Add(time.Second))
	w := f.ingest("111111111111/eu-west-1/Management", "222222222222/us-east-1/Management", "333333333333/eu-west-1/Management")
	f.clk.Set(t0.Add(2 * time.Minute))
	f.waitDelivered(arn, t0.Add(time.Minute))
	files := f.files("org")
	expectExactly(t, ids(files), w[:2])
	for _, df := range files {
		if df.key.OrgID != "o-abcdefghij" {
			t.Errorf("organisation trail file %s lacks the organisation level", df.key)
		}
	}
}

// A trail whose advanced selectors take network activity events delivers
// them; other trails do not.
func TestDeliveryNetworkActivity(t *testing.T) {
	f := newFixture(t, delivery.Options{}, "net", "mgmt")
	sel := trail.Settings{S3BucketName: "net", AdvancedEventSelectors: []trail.AdvancedEventSelector{{FieldSelectors: []trail.AdvancedFieldSelector{
		{Field: "eventCategory", Equals: []string{"NetworkActivity"}}, {Field: "eventSource", Equals: []string{"ec2.amazonaws.com"}}}}}}
	if err := sel.Selectors().Validate(); err != nil {
		t.Fatal(err)
	}
	netTrail := f.createTrail("net", "111111111111", "eu-west-1", sel)
	mgmtTrail := f.createTrail("mgmt", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "mgmt"})
	f.clk.Set(t0.Add(time.Second))
	w := f.ingest("111111111111/eu-west-1/NetworkActivity", "111111111111/eu-west-1/Management", "111111111111/eu-west-1/NetworkActivity/ro/s3.amazonaws.com")
	f.clk.Set(t0.Add(2 * time.Minute))
	f.waitDelivered(netTrail, t0.Add(time.Minute))
	f.waitDelivered(mgmtTrail, t0.Add(time.Minute))
	expectExactly(t, ids(f.files("net")), w[:1])
	expectExactly(t, ids(f.files("mgmt")), w[1:2])
}

func TestDeliverySplitsBusyWindowsAndReplaysIdentically(t *testing.T) {
	f := newFixture(t, delivery.Options{MaxFileRecords: 7}, "b")
	arn := f.createTrail("t", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "b", IsMultiRegionTrail: true})
	var want []string
	for i := range 5 {
		f.clk.Set(t0.Add(time.Duration(i*20) * time.Second))
		var specs []string
		for j := range 9 {
			specs = append(specs, fmt.Sprintf("111111111111/%s/Management", []string{"eu-west-1", "us-east-1"}[j%2]))
		}
		want = append(want, f.ingest(specs...)...)
	}
	f.clk.Set(t0.Add(5 * time.Minute))
	f.waitDelivered(arn, t0.Add(2*time.Minute))
	first := f.files("b")
	expectExactly(t, ids(first), want)
	for _, df := range first {
		if len(df.records) > 7 {
			t.Errorf("%s holds %d records, more than the limit of 7", df.key, len(df.records))
		}
	}

	// Forget the cursor, as a crash before any state was saved would, and
	// deliver again: every file is rewritten byte for byte, so the bucket
	// is unchanged.
	f.d.Close(context.Background())
	if err := f.st.DeleteMeta(context.Background(), "delivery:"+arn); err != nil {
		t.Fatal(err)
	}
	f.startDeliverer(delivery.Options{MaxFileRecords: 7})
	f.waitDelivered(arn, t0.Add(2*time.Minute))
	again := f.files("b")
	if len(again) != len(first) {
		t.Fatalf("replay changed the bucket: %d files, then %d", len(first), len(again))
	}
	expectExactly(t, ids(again), want)
}

func TestDeliveryRetriesUntilTheBucketIsBack(t *testing.T) {
	f := newFixture(t, delivery.Options{}, "b")
	arn := f.createTrail("t", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "b"})
	f.bk.setFail("b", fmt.Errorf("bucket b: %w", objstore.ErrNoSuchBucket))
	f.clk.Set(t0.Add(time.Second))
	want := f.ingest("111111111111/eu-west-1/Management", "111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(2 * time.Minute))
	if st, _ := f.d.Status(context.Background(), arn); st.LatestError != "NoSuchBucket" {
		t.Fatalf("no delivery error reported: %+v", st)
	} else if st.LatestAttemptOK || st.LatestErrorTime.IsZero() {
		t.Errorf("status %+v", st)
	}
	f.clk.Set(t0.Add(3 * time.Minute))
	more := f.ingest("111111111111/eu-west-1/Management")
	f.bk.setFail("b", nil)
	f.clk.Set(t0.Add(5 * time.Minute))
	st := f.waitDelivered(arn, t0.Add(4*time.Minute))
	if st.LatestError != "" || !st.LatestAttemptOK {
		t.Errorf("status after recovery %+v", st)
	}
	expectExactly(t, ids(f.files("b")), append(want, more...))
}

func TestDeliveryHonoursLoggingState(t *testing.T) {
	f := newFixture(t, delivery.Options{}, "b")
	arn := f.createTrail("t", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "b"})
	f.clk.Set(t0.Add(time.Second))
	before := f.ingest("111111111111/eu-west-1/Management")
	// Stop logging at 10:00:30: later events are not delivered.
	tr, err := f.st.GetTrail(context.Background(), arn)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := trail.DecodeSettings(tr.Doc)
	stop := t0.Add(30 * time.Second)
	set.IsLogging, set.StopLoggingTime = false, &stop
	tr.Doc, _ = json.Marshal(set)
	if err := f.st.UpdateTrail(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(t0.Add(40 * time.Second))
	f.ingest("111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(3 * time.Minute))
	f.d.Wake()
	f.waitDelivered(arn, t0.Add(2*time.Minute))
	expectExactly(t, ids(f.files("b")), before)
}

// A window closes when the clock reaches its end, not a moment before:
// the worker's poll timer runs a step at 10:00:59 that leaves it open and
// one at 10:01:00 that writes its file.
func TestDeliveryClosesAWindowAtItsEnd(t *testing.T) {
	f := newFixture(t, delivery.Options{}, "b")
	arn := f.createTrail("t", "111111111111", "eu-west-1", trail.Settings{S3BucketName: "b"})
	f.clk.Set(t0.Add(10 * time.Second))
	want := f.ingest("111111111111/eu-west-1/Management")
	f.clk.Set(t0.Add(59 * time.Second))
	if files := f.files("b"); len(files) != 0 {
		t.Fatalf("%d files written before the window ended", len(files))
	}
	if st, _ := f.d.Status(context.Background(), arn); !st.DeliveredThrough.Before(t0.Add(time.Minute)) {
		t.Fatalf("delivered through %v before the window ended", st.DeliveredThrough)
	}
	f.clk.Advance(time.Second)
	f.waitDelivered(arn, t0.Add(time.Minute))
	files := f.files("b")
	expectExactly(t, ids(files), want)
	if len(files) != 1 || files[0].key.End != t0.Add(time.Minute) {
		t.Errorf("files %+v, want one named after the window's end", files)
	}
}
