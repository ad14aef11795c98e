package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/servicetest"
	"github.com/opentrail/opentrail/internal/store"
)

// gateSink stores event IDs. Each Write takes a token from tokens, or
// waits for one (or for its context) — unless open is closed.
type gateSink struct {
	mu     sync.Mutex
	ids    map[string]int
	tokens chan struct{}
	open   chan struct{}
}

func newGateSink(tokens int) *gateSink {
	g := &gateSink{ids: map[string]int{}, tokens: make(chan struct{}, 100), open: make(chan struct{})}
	for range tokens {
		g.tokens <- struct{}{}
	}
	return g
}

func (g *gateSink) Write(ctx context.Context, recs []*event.Record) (importer.WriteResult, error) {
	select {
	case <-g.open:
	case <-g.tokens:
	case <-ctx.Done():
		return importer.WriteResult{}, ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	added := 0
	for _, r := range recs {
		if g.ids[r.EventID] == 0 {
			added++
		}
		g.ids[r.EventID]++
	}
	return importer.WriteResult{Added: added, Duplicates: len(recs) - added}, nil
}

func (g *gateSink) distinct() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.ids)
}

// importEnv is a Service over a real store and a built-in object store
// holding a bucket of trail logs.
type importEnv struct {
	t    *testing.T
	dir  string
	st   *store.Store
	bk   *objstore.FSBuckets
	sink *gateSink
	json *awsapi.Router
	svc  *Service
}

func newImportEnv(t *testing.T, dir string, bk *objstore.FSBuckets, sink *gateSink) *importEnv {
	t.Helper()
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	svc, err := New(Config{Meta: st, Engine: StoreEngine(st), TokenKey: servicetest.TokenKey, Now: func() time.Time { return servicetest.Now }, Logger: quiet, Buckets: bk, ImportSink: sink,
		ImportStateDir: filepath.Join(st.Dir(), "imports")})
	if err != nil {
		t.Fatal(err)
	}
	r := awsapi.NewRouter("cloudtrail", nil, quiet)
	svc.Register(r)
	svc.Start()
	e := &importEnv{t: t, dir: dir, st: st, bk: bk, sink: sink, json: r, svc: svc}
	t.Cleanup(e.close)
	return e
}

// close stops the imports (they stay IN_PROGRESS) and the store.
func (e *importEnv) close() {
	if e.st == nil {
		return
	}
	if err := e.svc.Close(context.Background()); err != nil {
		e.t.Error(err)
	}
	e.st.Close()
	e.st = nil
}

func (e *importEnv) call(account, op, body string) (int, string) {
	return servicetest.CallRouter(e.json, account, "us-east-1", op, body)
}

type importJSON struct {
	ImportId, ImportStatus string
	ImportStatistics       struct{ PrefixesFound, PrefixesCompleted, FilesCompleted, EventsCompleted, FailedEntries int }
}

// wait polls GetImport until the import is no longer running.
func (e *importEnv) wait(account, id string) importJSON {
	e.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, body := e.call(account, "GetImport", `{"ImportId":"`+id+`"}`)
		var got importJSON
		if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
			e.t.Fatalf("GetImport: %d %s", code, body)
		}
		if got.ImportStatus != importInitializing && got.ImportStatus != importInProgress || time.Now().After(deadline) {
			return got
		}
	}
}

// putLogs writes files log files of 4 events each into bucket, over two
// days, and one corrupt file.
func putLogs(t *testing.T, bk *objstore.FSBuckets, bucket, owner string, files int) int {
	t.Helper()
	if err := bk.CreateBucket(context.Background(), bucket, owner, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	b, err := bk.Bucket(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	for f := range files {
		at := servicetest.Now.Add(-time.Duration(f%2) * 24 * time.Hour)
		var recs []string
		for i := range 4 {
			r := servicetest.Record(t, servicetest.RecordOpts{ID: fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", f, i), Account: owner, Time: at.Add(time.Duration(i) * time.Second)})
			recs = append(recs, string(r.Raw))
		}
		key := fmt.Sprintf("AWSLogs/%s/CloudTrail/us-east-1/%s/%s_CloudTrail_us-east-1_%sZ_%016d.json", owner, at.Format("2006/01/02"), owner, at.Format("20060102T1504"), f)
		if err := b.Put(context.Background(), key, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`), nil); err != nil {
			t.Fatal(err)
		}
	}
	key := fmt.Sprintf("AWSLogs/%s/CloudTrail/us-east-1/%s/%s_CloudTrail_us-east-1_%sZ_corrupt.json", owner, servicetest.Now.Format("2006/01/02"), owner, servicetest.Now.Format("20060102T1504"))
	if err := b.Put(context.Background(), key, []byte(`{"Records":[{`), nil); err != nil {
		t.Fatal(err)
	}
	return files * 4
}

func startImportBody(eds, bucket string) string {
	return `{"Destinations":["` + eds + `"],"ImportSource":{"S3":{"S3LocationUri":"s3://` + bucket + `/AWSLogs/","S3BucketRegion":"us-east-1",` +
		`"S3BucketAccessRoleArn":"arn:aws:iam::` + servicetest.AcctA + `:role/import"}}}`
}

// An import that is stopped continues from where it stopped when started
// again, and one the server was running when it stopped resumes when it
// starts: every event is stored, none is lost.
func TestLakeImportStopRestartResume(t *testing.T) {
	dir := t.TempDir()
	bk, err := objstore.OpenFSBuckets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	total := putLogs(t, bk, "logs-a", servicetest.AcctA, 40)
	sink := newGateSink(1)
	e := newImportEnv(t, dir, bk, sink)

	_, body := e.call(servicetest.AcctA, "ListEventDataStores", `{}`)
	var list struct {
		EventDataStores []struct{ EventDataStoreArn string }
	}
	json.Unmarshal([]byte(body), &list)
	eds := list.EventDataStores[0].EventDataStoreArn

	code, body := e.call(servicetest.AcctA, "StartImport", startImportBody(eds, "logs-a"))
	var started importJSON
	if code != http.StatusOK || json.Unmarshal([]byte(body), &started) != nil || started.ImportStatus != importInitializing {
		t.Fatalf("StartImport: %d %s", code, body)
	}
	// One import at a time per account.
	code, body = e.call(servicetest.AcctA, "StartImport", startImportBody(eds, "logs-a"))
	servicetest.WantError(t, code, body, 400, codeOngoingImport, "Import "+started.ImportId+" is still running; wait for it to finish or stop it before starting another.")

	// The sink lets one batch through, then holds the import; stop it.
	for deadline := time.Now().Add(10 * time.Second); sink.distinct() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no batch was stored")
		}
	}
	code, body = e.call(servicetest.AcctA, "StopImport", `{"ImportId":"`+started.ImportId+`"}`)
	var stopped importJSON
	if code != http.StatusOK || json.Unmarshal([]byte(body), &stopped) != nil || stopped.ImportStatus != importStopped {
		t.Fatalf("StopImport: %d %s", code, body)
	}
	if n := sink.distinct(); n == 0 || n >= total {
		t.Fatalf("%d of %d events stored before the stop", n, total)
	}

	// Started again: held once more, then the server stops while it runs.
	sink.tokens <- struct{}{}
	code, body = e.call(servicetest.AcctA, "StartImport", `{"ImportId":"`+started.ImportId+`"}`)
	if code != http.StatusOK || !strings.Contains(body, `"ImportStatus":"INITIALIZING"`) {
		t.Fatalf("StartImport again: %d %s", code, body)
	}
	time.Sleep(50 * time.Millisecond)
	e.close()

	// At the next start it resumes and completes.
	close(sink.open)
	e = newImportEnv(t, dir, bk, sink)
	got := e.wait(servicetest.AcctA, started.ImportId)
	st := got.ImportStatistics
	if got.ImportStatus != importCompleted || st.FilesCompleted != 41 || st.FailedEntries != 1 || st.PrefixesFound != 2 || st.PrefixesCompleted != 2 {
		t.Fatalf("after resuming: %+v", got)
	}
	if n := sink.distinct(); n != total {
		t.Fatalf("%d distinct events stored, want %d", n, total)
	}

	// The failure of the corrupt file, one page at a time.
	code, body = e.call(servicetest.AcctA, "ListImportFailures", `{"ImportId":"`+started.ImportId+`","MaxResults":1}`)
	var fails struct {
		Failures  []struct{ Location, Status, ErrorType string }
		NextToken string
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &fails) != nil || len(fails.Failures) != 1 ||
		!strings.HasSuffix(fails.Failures[0].Location, "_corrupt.json") || fails.Failures[0].ErrorType != "FileError" || fails.NextToken != "" {
		t.Fatalf("ListImportFailures: %d %s", code, body)
	}
}

func TestLakeImportRequests(t *testing.T) {
	bk, err := objstore.OpenFSBuckets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	putLogs(t, bk, "logs-a", servicetest.AcctA, 2)
	sink := newGateSink(0)
	close(sink.open)
	e := newImportEnv(t, t.TempDir(), bk, sink)
	_, body := e.call(servicetest.AcctA, "ListEventDataStores", `{}`)
	var list struct {
		EventDataStores []struct{ EventDataStoreArn string }
	}
	json.Unmarshal([]byte(body), &list)
	eds := list.EventDataStores[0].EventDataStoreArn
	edsB := strings.Replace(eds, servicetest.AcctA, servicetest.AcctB, 1)

	for _, c := range []struct{ account, body, code, msg string }{
		{servicetest.AcctA, `{}`, codeInvalidParameter, "Destinations must name exactly one event data store; got 0."},
		{servicetest.AcctA, `{"Destinations":["x"],"ImportSource":{}}`, codeEventDataStoreARN, `"x" is not a valid event data store ARN.`},
		{servicetest.AcctA, `{"Destinations":["` + strings.Replace(eds, "/", "/0", 1) + `"]}`, codeEventDataStoreNotFound, "The event data store was not found."},
		{servicetest.AcctA, `{"Destinations":["` + eds + `"]}`, codeInvalidParameter, "ImportSource.S3 is required."},
		{servicetest.AcctA, strings.Replace(startImportBody(eds, "logs-a"), "arn:aws:iam::"+servicetest.AcctA+":role/import", "import", 1), codeInvalidParameter, `S3BucketAccessRoleArn "import" is not an IAM role ARN.`},
		{servicetest.AcctA, strings.Replace(startImportBody(eds, "logs-a"), "s3://logs-a/", "https://logs-a/", 1), codeInvalidImportSource, `S3LocationUri "https://logs-a/AWSLogs/" is not s3://bucket/prefix.`},
		{servicetest.AcctA, startImportBody(eds, "logs-b"), codeInvalidImportSource, `The bucket "logs-b" does not exist in the object store opentrail reads.`},
		// Another account's bucket of the built-in store.
		{servicetest.AcctB, startImportBody(edsB, "logs-a"), codeInvalidImportSource, `The bucket "logs-a" belongs to another account.`},
		{servicetest.AcctA, `{"ImportId":"00000000-0000-4000-8000-000000000000"}`, codeImportNotFound, "There is no import 00000000-0000-4000-8000-000000000000."},
	} {
		code, body := e.call(c.account, "StartImport", c.body)
		servicetest.WantError(t, code, body, 400, c.code, c.msg)
	}

	// Two completed imports; ListImports pages through them, newest first,
	// and shows them to their account only.
	var ids []string
	for range 2 {
		code, body := e.call(servicetest.AcctA, "StartImport", startImportBody(eds, "logs-a"))
		var s importJSON
		if code != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil {
			t.Fatalf("StartImport: %d %s", code, body)
		}
		if got := e.wait(servicetest.AcctA, s.ImportId); got.ImportStatus != importCompleted || got.ImportStatistics.EventsCompleted != 8 {
			t.Fatalf("import: %+v", got)
		}
		ids = append(ids, s.ImportId)
	}
	code, body := e.call(servicetest.AcctA, "StartImport", `{"ImportId":"`+ids[0]+`"}`)
	servicetest.WantError(t, code, body, 400, codeInvalidParameter, "Import "+ids[0]+" is COMPLETED; only a STOPPED or FAILED import can be started again.")
	code, body = e.call(servicetest.AcctB, "GetImport", `{"ImportId":"`+ids[0]+`"}`)
	servicetest.WantError(t, code, body, 400, codeImportNotFound, "There is no import "+ids[0]+".")

	var page struct {
		Imports   []struct{ ImportId, ImportStatus string }
		NextToken string
	}
	var seen []string
	next := ""
	for range 3 {
		req := `{"MaxResults":1,"ImportStatus":"COMPLETED","Destination":"` + eds + `"`
		if next != "" {
			req += `,"NextToken":"` + next + `"`
		}
		code, body := e.call(servicetest.AcctA, "ListImports", req+`}`)
		page.NextToken = ""
		if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("ListImports: %d %s", code, body)
		}
		for _, i := range page.Imports {
			seen = append(seen, i.ImportId)
		}
		if next = page.NextToken; next == "" {
			break
		}
	}
	if len(seen) != 2 {
		t.Fatalf("ListImports pages: %v, want %v", seen, ids)
	}
	code, body = e.call(servicetest.AcctA, "ListImports", `{"NextToken":"garbage"}`)
	if code != 400 || !strings.Contains(body, codeInvalidNextToken) {
		t.Errorf("ListImports with a bad token: %d %s", code, body)
	}
	code, body = e.call(servicetest.AcctA, "ListImports", `{"ImportStatus":"DONE"}`)
	servicetest.WantError(t, code, body, 400, codeInvalidParameter, `ImportStatus "DONE" is not valid.`)
	code, body = e.call(servicetest.AcctB, "ListImports", `{}`)
	if code != http.StatusOK || body != `{"Imports":null}` && body != `{"Imports":[]}` {
		t.Errorf("ListImports of another account: %d %s", code, body)
	}
}
