package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

var base = time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)

// rec builds a valid record; i makes its eventID and time unique.
func rec(t testing.TB, i int, mod func(m map[string]string)) *event.Record {
	t.Helper()
	f := map[string]string{
		"account": "111122223333", "region": "us-east-1", "name": "DescribeInstances",
		"source": "ec2.amazonaws.com", "user": "alice", "key": "AKIAEXAMPLE0000001",
		"readOnly": "true", "mgmt": "true", "cat": "Management",
		"res": `[{"ARN":"arn:aws:s3:::audit-bucket","accountId":"111122223333","type":"AWS::S3::Bucket"}]`,
	}
	if mod != nil {
		mod(f)
	}
	raw := fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::%[1]s:user/%[5]s","accountId":"%[1]s","accessKeyId":"%[6]s","userName":"%[5]s"},`+
		`"eventTime":"%[2]s","eventSource":"%[4]s","eventName":"%[3]s","awsRegion":"%[7]s","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.9.19",`+
		`"requestParameters":null,"responseElements":null,"requestID":"req-%[8]d","eventID":"ev-%08[8]d","readOnly":%[9]s,"resources":%[10]s,`+
		`"eventType":"AwsApiCall","managementEvent":%[11]s,"recipientAccountId":"%[1]s","eventCategory":"%[12]s","unknownField":{"kept":[1,2.50,"x"]}}`,
		f["account"], base.Add(time.Duration(i)*time.Second).Format(time.RFC3339), f["name"], f["source"], f["user"], f["key"], f["region"],
		i, f["readOnly"], f["res"], f["mgmt"], f["cat"])
	r, err := event.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("parse test record: %v\n%s", err, raw)
	}
	return r
}

func open(t testing.TB, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAppendDedupeAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	var recs []*event.Record
	for i := 0; i < 600; i++ { // spans three blocks
		recs = append(recs, rec(t, i, nil))
	}
	recs = append(recs, rec(t, 5, nil)) // a duplicate inside the batch
	dup, err := s.Append(ctx, recs, base)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dup {
		if (d == store.Duplicate) != (i == 600) || d == store.Conflict {
			t.Fatalf("dup[%d] = %v", i, d)
		}
	}
	// Retrying stores nothing twice.
	dup, err = s.Append(ctx, recs[:3], base)
	if err != nil {
		t.Fatal(err)
	}
	if dup[0] != store.Duplicate || dup[1] != store.Duplicate || dup[2] != store.Duplicate {
		t.Fatalf("retry not reported as duplicates: %v", dup)
	}
	if got := s.LastSeq(); got != 600 {
		t.Fatalf("LastSeq = %d, want 600", got)
	}
	s.Close()

	// After a reopen the IDs are still known and sequence numbers go on.
	s = open(t, dir)
	dup, err = s.Append(ctx, []*event.Record{recs[7], rec(t, 1000, nil)}, base)
	if err != nil {
		t.Fatal(err)
	}
	if dup[0] != store.Duplicate || dup[1] != store.Stored {
		t.Fatalf("after reopen dup = %v", dup)
	}
	if got := s.LastSeq(); got != 601 {
		t.Fatalf("LastSeq after reopen = %d, want 601", got)
	}
	evs, err := s.ReadAfter(ctx, 598, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Seq != 599 || evs[2].Rec.EventID != "ev-00001000" {
		t.Fatalf("ReadAfter = %+v", evs)
	}
	if string(evs[0].Rec.Raw) != string(recs[598].Raw) {
		t.Fatalf("record not kept losslessly:\n%s\n%s", evs[0].Rec.Raw, recs[598].Raw)
	}
}

func TestLookup(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	var recs []*event.Record
	for i := 0; i < 100; i++ {
		i := i
		recs = append(recs, rec(t, i, func(m map[string]string) {
			switch {
			case i%10 == 0:
				m["name"], m["readOnly"] = "ConsoleLogin", "false"
				m["source"] = "signin.amazonaws.com"
			case i%10 == 1:
				m["region"] = "eu-west-1"
			case i%10 == 2:
				m["account"] = "444455556666"
			case i%10 == 3:
				m["cat"], m["mgmt"] = "Data", "false"
				m["res"] = `[{"ARN":"arn:aws:s3:::audit-bucket/key.txt","type":"AWS::S3::Object"}]`
			case i%10 == 4:
				m["user"], m["key"] = "bob", "AKIAEXAMPLE0000002"
			}
		}))
	}
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	mgmt := []string{"Management"}
	q := func(attrs ...store.Attr) store.LookupQuery {
		return store.LookupQuery{Accounts: []string{"111122223333"}, Region: "us-east-1", Categories: mgmt, Attrs: attrs, Limit: 1000}
	}
	cases := []struct {
		name string
		q    store.LookupQuery
		want int
	}{
		{"all management in account+region", q(), 70},
		{"EventName", q(store.Attr{Key: "EventName", Value: "ConsoleLogin"}), 10},
		{"EventSource", q(store.Attr{Key: "EventSource", Value: "signin.amazonaws.com"}), 10},
		{"ReadOnly false", q(store.Attr{Key: "ReadOnly", Value: "false"}), 10},
		{"ReadOnly true", q(store.Attr{Key: "ReadOnly", Value: "true"}), 60},
		{"Username", q(store.Attr{Key: "Username", Value: "bob"}), 10},
		{"AccessKeyId", q(store.Attr{Key: "AccessKeyId", Value: "AKIAEXAMPLE0000002"}), 10},
		{"EventId", q(store.Attr{Key: "EventId", Value: "ev-00000005"}), 1},
		{"EventId unknown", q(store.Attr{Key: "EventId", Value: "nope"}), 0},
		{"ResourceType", q(store.Attr{Key: "ResourceType", Value: "AWS::S3::Bucket"}), 70},
		{"ResourceName by ARN", q(store.Attr{Key: "ResourceName", Value: "arn:aws:s3:::audit-bucket"}), 70},
		{"ResourceName short", q(store.Attr{Key: "ResourceName", Value: "audit-bucket"}), 70},
		{"two attributes", q(store.Attr{Key: "EventName", Value: "ConsoleLogin"}, store.Attr{Key: "Username", Value: "bob"}), 0},
		{"data events", store.LookupQuery{Accounts: []string{"111122223333"}, Region: "us-east-1", Categories: []string{"Data"}, Limit: 1000}, 10},
		{"other region", store.LookupQuery{Accounts: []string{"111122223333"}, Region: "eu-west-1", Limit: 1000}, 10},
		{"other account", store.LookupQuery{Accounts: []string{"444455556666"}, Limit: 1000}, 10},
		{"time range", store.LookupQuery{Start: base.Add(10 * time.Second), End: base.Add(19 * time.Second), Limit: 1000}, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, err := s.Lookup(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != c.want {
				t.Fatalf("got %d events, want %d", len(evs), c.want)
			}
			for i := 1; i < len(evs); i++ {
				if evs[i].Rec.EventTime.After(evs[i-1].Rec.EventTime) {
					t.Fatalf("not newest first at %d", i)
				}
			}
		})
	}

	// Paging with After visits every event exactly once.
	qq := q()
	qq.Limit = 7
	if got := pageAll(t, s, qq); len(got) != 70 {
		t.Fatalf("paging saw %d events, want 70", len(got))
	}
}

func TestCursorsMetaChannels(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if seq, err := s.Cursor(ctx, "trail/a"); err != nil || seq != 0 {
		t.Fatalf("new cursor = %d, %v", seq, err)
	}
	if err := s.SetCursor(ctx, "trail/a", 42); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "trail/a", 43); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Meta(ctx, "k"); err != store.ErrNotFound {
		t.Fatalf("Meta of unknown key: %v", err)
	}
	if err := s.SetMeta(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	c := store.Channel{ARN: "arn:aws:cloudtrail:us-east-1:111122223333:channel/x", Name: "x", Source: "Custom",
		Account: "111122223333", Region: "us-east-1", Destinations: []byte(`[]`), Tags: []byte(`[]`), Created: base}
	if err := s.CreateChannel(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateChannel(ctx, c); err != store.ErrExists {
		t.Fatalf("second CreateChannel: %v", err)
	}
	s.Close()
	s = open(t, dir)
	if seq, _ := s.Cursor(ctx, "trail/a"); seq != 43 {
		t.Fatalf("cursor after reopen = %d", seq)
	}
	if v, _ := s.Meta(ctx, "k"); string(v) != "v" {
		t.Fatalf("meta after reopen = %q", v)
	}
	got, err := s.GetChannel(ctx, c.ARN)
	if err != nil || got.Name != "x" || !got.Created.Equal(base) {
		t.Fatalf("GetChannel = %+v, %v", got, err)
	}
	if cs, _ := s.ListChannels(ctx, "111122223333"); len(cs) != 1 {
		t.Fatalf("ListChannels = %v", cs)
	}
	if err := s.DeleteChannel(ctx, c.ARN); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChannel(ctx, c.ARN); err != store.ErrNotFound {
		t.Fatalf("second delete: %v", err)
	}
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	now := base.Add(100 * 24 * time.Hour)
	s, err := store.Open(ctx, t.TempDir(), store.Options{Retention: 90 * 24 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var old []*event.Record
	for i := 0; i < 300; i++ {
		old = append(old, rec(t, i, nil))
	}
	if _, err := s.Append(ctx, old, base); err != nil { // ingested long ago
		t.Fatal(err)
	}
	lateOld := rec(t, 400, nil) // old eventTime, ingested now: kept
	fresh := rec(t, 500, nil)
	if _, err := s.Append(ctx, []*event.Record{lateOld}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []*event.Record{fresh}, now); err != nil {
		t.Fatal(err)
	}
	n, err := s.ApplyRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 300 {
		t.Fatalf("retention removed %d, want 300", n)
	}
	evs, err := s.Lookup(ctx, store.LookupQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events remain, want 2", len(evs))
	}
	var blocks int
	if err := s.DB().QueryRow(`SELECT count(*) FROM blocks`).Scan(&blocks); err != nil {
		t.Fatal(err)
	}
	if blocks != 2 {
		t.Fatalf("%d blocks remain, want 2", blocks)
	}
}

// Retention spares imported events, old as they are, unless told to cover
// them; a store made before imports were marked gains the column.
func TestRetentionSparesImported(t *testing.T) {
	ctx := context.Background()
	now := base.Add(100 * 24 * time.Hour)
	for _, covers := range []bool{false, true} {
		dir := t.TempDir()
		opts := store.Options{Retention: 90 * 24 * time.Hour, RetentionCoversImported: covers, Now: func() time.Time { return now }}
		s, err := store.Open(ctx, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		var live, imported []*event.Record
		for i := 0; i < 50; i++ {
			live = append(live, rec(t, i, nil))
			imported = append(imported, rec(t, 100+i, nil))
		}
		// Both ingested long ago; one batch of each kind shares a commit.
		if _, err := s.AppendBatches(ctx, []*store.Batch{s.Prepare(live), s.Prepare(imported).MarkImported()}, base); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.DB().QueryRow(`SELECT count(*) FROM events WHERE imported`).Scan(&n); err != nil || n != 50 {
			t.Fatalf("covers=%v: %d events marked imported (%v), want 50", covers, n, err)
		}
		deleted, err := s.ApplyRetention(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := int64(50)
		if covers {
			want = 100
		}
		if deleted != want {
			t.Fatalf("covers=%v: retention removed %d, want %d", covers, deleted, want)
		}
		evs, err := s.Lookup(ctx, store.LookupQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 100-int(want) {
			t.Fatalf("covers=%v: %d events remain, want %d", covers, len(evs), 100-want)
		}
		s.Close()
	}

	// An older store: drop the column, reopen, and it is back (NULL:
	// not imported).
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Append(ctx, []*event.Record{rec(t, 1, nil)}, base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`ALTER TABLE events DROP COLUMN imported`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir)
	defer s.Close()
	if _, err := s.Append(ctx, []*event.Record{rec(t, 2, nil)}, base); err != nil {
		t.Fatal(err)
	}
	var marked, all int
	if err := s.DB().QueryRow(`SELECT count(*) FILTER (imported), count(*) FROM events`).Scan(&marked, &all); err != nil {
		t.Fatal(err)
	}
	if marked != 0 || all != 2 {
		t.Fatalf("after the column came back: %d imported of %d, want 0 of 2", marked, all)
	}
}

// Appends whose context ends at any moment — before, during or after the
// commit — leave a consistent store: every append that reported success is
// stored, none is stored twice, nothing is left half done, and the store
// reopens. (A COMMIT interrupted by its context once completed while being
// taken for failed, and its segment bytes were cut off.)
func TestAppendWithCancelledContexts(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	const rounds, per = 150, 40
	stored := map[string]bool{}
	for r := range rounds {
		recs := make([]*event.Record, per)
		for i := range recs {
			recs[i] = rec(t, r*per+i, nil)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Duration(r%25) * 40 * time.Microsecond)
			cancel()
		}()
		if _, err := s.Append(ctx, recs, base); err == nil {
			for _, x := range recs {
				stored[x.EventID] = true
			}
		}
		cancel()
	}
	s.Close()
	s = open(t, dir) // fails on a damaged store
	defer s.Close()
	var n, distinct int
	if err := s.DB().QueryRow(`SELECT count(*), count(DISTINCT eid_hash) FROM events`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n < len(stored) || distinct != n || n%per != 0 {
		t.Fatalf("%d events stored (%d distinct), %d appends reported success; want whole batches, each once", n, distinct, len(stored)/per)
	}
	evs, err := s.ReadAfter(context.Background(), 0, rounds*per)
	if err != nil || len(evs) != n {
		t.Fatalf("read back %d of %d: %v", len(evs), n, err)
	}
	for _, e := range evs {
		if e.Rec == nil || e.Rec.EventID == "" {
			t.Fatalf("event %d unreadable", e.Seq)
		}
	}
	if _, err := s.Append(context.Background(), []*event.Record{rec(t, rounds*per, nil)}, base); err != nil {
		t.Fatalf("append after the cancellations: %v", err)
	}
}

// A crash between writing a segment frame and committing the transaction
// that points at it leaves bytes no block refers to; Open cuts them off
// and appends go on from there.
func TestUncommittedSegmentTailIsCut(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Append(ctx, []*event.Record{rec(t, 1, nil), rec(t, 2, nil)}, base); err != nil {
		t.Fatal(err)
	}
	s.Close()
	seg := filepath.Join(dir, "records", "seg-0000000000.otr")
	before, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("half a frame of a transaction that never committed"))
	f.Close()

	s = open(t, dir)
	after, _ := os.Stat(seg)
	if after.Size() != before.Size() {
		t.Fatalf("tail not cut: %d bytes, want %d", after.Size(), before.Size())
	}
	if _, err := s.Append(ctx, []*event.Record{rec(t, 3, nil)}, base); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ReadAfter(ctx, 0, 10)
	if err != nil || len(evs) != 3 || evs[2].Rec.EventID != "ev-00000003" {
		t.Fatalf("after reopen: %v %+v", err, evs)
	}
}

// A segment shorter than its committed blocks is damage, reported as such.
func TestTruncatedSegmentIsReported(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Append(ctx, []*event.Record{rec(t, 1, nil)}, base); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Truncate(filepath.Join(dir, "records", "seg-0000000000.otr"), 20); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(ctx, dir, store.Options{}); err == nil || !strings.Contains(err.Error(), "store is damaged") {
		t.Fatalf("Open of a damaged store: %v", err)
	}
}

// Selective lookups search time slices newest first; results and paging
// must match one query over the whole range.
func TestLookupAcrossTimeSlices(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	var recs []*event.Record
	for i := 0; i < 200; i++ {
		// i*7h apart: spans 58 days, so several slices.
		recs = append(recs, rec(t, i*7*3600, func(m map[string]string) {
			if i%3 == 0 {
				m["name"] = "PutBucketPolicy"
			}
		}))
	}
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 199; i >= 0; i-- {
		if i%3 == 0 {
			want = append(want, recs[i].EventID)
		}
	}
	q := store.LookupQuery{Start: base.Add(-24 * time.Hour), End: base.Add(70 * 24 * time.Hour),
		Attrs: []store.Attr{{Key: "EventName", Value: "PutBucketPolicy"}}, Limit: 9}
	var got []string
	for {
		evs, err := s.Lookup(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			got = append(got, e.Rec.EventID)
		}
		if len(evs) < q.Limit {
			break
		}
		last := evs[len(evs)-1]
		q.After = &store.Position{Time: last.Rec.EventTime, Seq: last.Seq}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged lookup:\n got %v\nwant %v", got, want)
	}
	// No Start: the slices widen until they cover all time.
	evs, err := s.Lookup(ctx, store.LookupQuery{Attrs: []store.Attr{{Key: "EventName", Value: "PutBucketPolicy"}}, End: base.Add(70 * 24 * time.Hour), Limit: 1000})
	if err != nil || len(evs) != len(want) {
		t.Fatalf("open-start lookup: %d events, %v", len(evs), err)
	}
}

// The day index answers values never seen without a scan, survives a
// reopen, and keeps one row per value and day.
func TestDayIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	var recs []*event.Record
	for i := 0; i < 30; i++ {
		recs = append(recs, rec(t, i*3600, func(m map[string]string) { // 30 hours: two days
			if i == 2 {
				m["user"] = "mallory"
			}
		}))
	}
	if _, err := s.Append(ctx, recs, base); err != nil {
		t.Fatal(err)
	}
	rows := func() int {
		var n int
		s.DB().QueryRow(`SELECT count(*) FROM lookup_days`).Scan(&n)
		return n
	}
	n := rows()
	// Another event with values already indexed on that day adds nothing.
	if _, err := s.Append(ctx, []*event.Record{rec(t, 7200+1, nil)}, base); err != nil {
		t.Fatal(err)
	}
	if rows() != n {
		t.Fatalf("day index grew from %d to %d rows for known values", n, rows())
	}
	s.Close()
	s = open(t, dir)
	if _, err := s.Append(ctx, []*event.Record{rec(t, 7200+2, nil)}, base); err != nil {
		t.Fatal(err)
	}
	if rows() != n {
		t.Fatalf("after reopen the day index grew from %d to %d rows", n, rows())
	}
	window := func(attr, v string) []store.Event {
		evs, err := s.Lookup(ctx, store.LookupQuery{Start: base.Add(-90 * 24 * time.Hour), End: base.Add(24 * time.Hour * 3),
			Attrs: []store.Attr{{Key: attr, Value: v}}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	if evs := window("Username", "mallory"); len(evs) != 1 || evs[0].Rec.EventID != recs[2].EventID {
		t.Fatalf("mallory: %d events", len(evs))
	}
	if evs := window("Username", "nobody"); len(evs) != 0 {
		t.Fatalf("unknown user found %d events", len(evs))
	}
	if evs := window("ResourceName", "audit-bucket"); len(evs) != 32 {
		t.Fatalf("resource name: %d events, want 32", len(evs))
	}
	if evs := window("Username", "alice"); len(evs) != 31 {
		t.Fatalf("alice: %d events, want 31", len(evs))
	}
}

// Open-ended selective lookups find events dated in the future too, as
// unfiltered ones do.
func TestLookupOpenEndedFindsFutureEvents(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	future := rec(t, 5*365*24*3600, func(m map[string]string) { m["name"] = "FromTheFuture" })
	if _, err := s.Append(ctx, []*event.Record{rec(t, 1, nil), future}, base); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Lookup(ctx, store.LookupQuery{Attrs: []store.Attr{{Key: "EventName", Value: "FromTheFuture"}}, Limit: 10})
	if err != nil || len(evs) != 1 {
		t.Fatalf("future event: %d found, %v", len(evs), err)
	}
}
