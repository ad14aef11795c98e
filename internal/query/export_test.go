package query_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/query"
)

// exportFixture spreads fixture() over two days and a second region.
func exportFixture() []ev {
	evs := fixture()
	for i := range evs {
		if i%4 == 0 {
			evs[i].region = "eu-west-1"
		}
		if i%3 == 0 {
			evs[i].at += 24 * time.Hour
		}
	}
	return evs
}

// readBack opens an in-memory DuckDB to read exported Parquet files.
func readBack(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// parquetGlob reads every file under dir with the partition keys as
// strings.
func parquetGlob(dir string) string {
	return `read_parquet('` + filepath.ToSlash(dir) + `/**/*.parquet', hive_partitioning = true,
		hive_types = {'account': VARCHAR, 'region': VARCHAR, 'date': VARCHAR})`
}

func TestExportParquetPartitions(t *testing.T) {
	evs := exportFixture()
	st := openStore(t, evs)
	out := filepath.Join(t.TempDir(), "out")

	var last atomic.Int64
	stats, err := query.ExportParquet(context.Background(), st, query.ExportOptions{
		Dir:      out,
		Progress: func(done, total int64) { last.Store(done*1000 + total) },
	})
	if err != nil {
		t.Fatal(err)
	}

	// Expected counts per partition from the fixture itself.
	want := map[string]int{}
	for _, e := range evs {
		acct, region := e.account, e.region
		if acct == "" {
			acct = acctA
		}
		if region == "" {
			region = "us-east-1"
		}
		want[acct+"/"+region+"/"+base.Add(e.at).Format("2006-01-02")]++
	}
	if stats.Events != int64(len(evs)) {
		t.Errorf("Events = %d, want %d", stats.Events, len(evs))
	}
	if stats.Files != len(want) || stats.Bytes <= 0 {
		t.Errorf("Files, Bytes = %d, %d; want %d files and some bytes", stats.Files, stats.Bytes, len(want))
	}
	if got := last.Load(); got != int64(len(evs))*1001 {
		t.Errorf("last progress = %d/%d, want %d/%d", got/1000, got%1000, len(evs), len(evs))
	}

	// The folders are Hive-style.
	p := filepath.Join(out, "account="+acctB, "region=us-east-1", "date=2026-03-02")
	if ents, err := os.ReadDir(p); err != nil || len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), ".parquet") {
		t.Errorf("ReadDir(%s) = %v, %v; want one parquet file", p, ents, err)
	}

	db := readBack(t)
	rows, err := db.Query(`SELECT account, region, date, count(*) FROM ` + parquetGlob(out) + ` GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for rows.Next() {
		var a, r, d string
		var n int
		if err := rows.Scan(&a, &r, &d, &n); err != nil {
			t.Fatal(err)
		}
		got[a+"/"+r+"/"+d] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts per partition:\n got %v\nwant %v", got, want)
	}

	// An export of one COPY per day writes the same partitions, one file
	// each.
	defer func(c int64) { *query.ExportChunk = c }(*query.ExportChunk)
	*query.ExportChunk = 1
	byDay := filepath.Join(t.TempDir(), "by-day")
	stats2, err := query.ExportParquet(context.Background(), st, query.ExportOptions{Dir: byDay})
	if err != nil {
		t.Fatal(err)
	}
	if stats2.Events != int64(len(evs)) || stats2.Files != len(want) {
		t.Errorf("by day: %d events in %d files; want %d in %d", stats2.Events, stats2.Files, len(evs), len(want))
	}
	var same bool
	if err := db.QueryRow(`SELECT (SELECT list(eventID ORDER BY eventID) FROM ` + parquetGlob(out) + `) =
		(SELECT list(eventID ORDER BY eventID) FROM ` + parquetGlob(byDay) + `)`).Scan(&same); err != nil || !same {
		t.Errorf("by day: not the same events (%v)", err)
	}

	// A few fields, with their types: a struct, JSON text, a timestamp, a
	// boolean, and the partition key matching the column it came from.
	var (
		arn, groupID, mfa, eventJSONName, acct, recip string
		at                                            time.Time
		readOnly                                      bool
	)
	err = db.QueryRow(`SELECT userIdentity.arn, json_extract_string(requestParameters, '$.groupId'),
			eventTime, readOnly, json_extract_string(eventJson, '$.eventName'), account, recipientAccountId,
			(SELECT json_extract_string(additionalEventData, '$.MFAUsed') FROM `+parquetGlob(out)+`
				WHERE eventName = 'ConsoleLogin' AND userIdentity.type = 'Root')
		FROM `+parquetGlob(out)+` WHERE eventName = 'AuthorizeSecurityGroupIngress'`).
		Scan(&arn, &groupID, &at, &readOnly, &eventJSONName, &acct, &recip, &mfa)
	if err != nil {
		t.Fatal(err)
	}
	if arn != "arn:aws:iam::"+acctA+":user/bob" || groupID != "sg-0123" || eventJSONName != "AuthorizeSecurityGroupIngress" ||
		acct != acctA || recip != acctA || readOnly || mfa != "No" {
		t.Errorf("fields = %q %q %q %q %q %v %q", arn, groupID, eventJSONName, acct, recip, readOnly, mfa)
	}
	if wantAt := base.Add(40 * time.Minute); !at.Equal(wantAt) {
		t.Errorf("eventTime = %v, want %v", at, wantAt)
	}
	// Absent map-like fields are NULL, not the text "null".
	var nulls int
	if err := db.QueryRow(`SELECT count(*) FROM ` + parquetGlob(out) + ` WHERE responseElements IS NULL`).Scan(&nulls); err != nil {
		t.Fatal(err)
	}
	if nulls != len(evs)-2 {
		t.Errorf("NULL responseElements = %d, want %d", nulls, len(evs)-2)
	}
	// Only types every engine reads: strings carry no JSON logical type.
	var jsonCols int
	if err := db.QueryRow(`SELECT count(*) FROM parquet_schema('` + filepath.ToSlash(out) + `/**/*.parquet')
		WHERE CAST(logical_type AS VARCHAR) ILIKE '%json%'`).Scan(&jsonCols); err != nil || jsonCols != 0 {
		t.Errorf("columns with a JSON logical type: %d, %v", jsonCols, err)
	}
	// Nested JSON keeps its shape.
	var port int
	if err := db.QueryRow(`SELECT CAST(requestParameters->>'$.ipPermissions.items[0].fromPort' AS INT) FROM ` + parquetGlob(out) +
		` WHERE eventName = 'AuthorizeSecurityGroupIngress'`).Scan(&port); err != nil || port != 22 {
		t.Errorf("fromPort = %d, %v; want 22", port, err)
	}
}

func TestExportParquetFilters(t *testing.T) {
	evs := exportFixture()
	st := openStore(t, evs)
	out := t.TempDir() // exists and is empty: accepted
	day2 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	stats, err := query.ExportParquet(context.Background(), st, query.ExportOptions{
		Dir: out, Accounts: []string{acctA}, Regions: []string{"eu-west-1"}, Start: day2, End: day2.Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i, e := range evs {
		if e.account == "" && i%4 == 0 && i%3 == 0 {
			want++
		}
	}
	if want == 0 || stats.Events != int64(want) || stats.Files != 1 {
		t.Fatalf("stats = %+v, want %d events in 1 file", stats, want)
	}
	var n int
	if err := readBack(t).QueryRow(`SELECT count(*) FROM ` + parquetGlob(out) +
		` WHERE account = '` + acctA + `' AND region = 'eu-west-1' AND date = '2026-03-02'`).Scan(&n); err != nil || n != want {
		t.Errorf("read back %d, %v; want %d", n, err, want)
	}

	// A second export into the now non-empty directory is refused.
	if _, err := query.ExportParquet(context.Background(), st, query.ExportOptions{Dir: out}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into non-empty dir: err = %v", err)
	}
	// Nothing selected: no files, no error.
	empty := filepath.Join(t.TempDir(), "none")
	stats, err = query.ExportParquet(context.Background(), st, query.ExportOptions{Dir: empty, Regions: []string{"ap-south-1"}})
	if err != nil || stats.Events != 0 || stats.Files != 0 {
		t.Errorf("empty export = %+v, %v", stats, err)
	}
	if _, err := query.ExportParquet(context.Background(), st, query.ExportOptions{Dir: empty, Accounts: []string{"x' OR TRUE"}}); err == nil {
		t.Error("invalid account accepted")
	}
}
