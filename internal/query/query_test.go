package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

func TestValidatorRefuses(t *testing.T) {
	st := openStore(t, fixture())
	cases := map[string]string{
		"DROP TABLE events":                                          "single SELECT",
		"DELETE FROM cloudtrail_events":                              "single SELECT",
		"INSERT INTO events SELECT * FROM events":                    "single SELECT",
		"CREATE TABLE x AS SELECT 1":                                 "single SELECT",
		"UPDATE meta SET value = ''":                                 "single SELECT",
		"PRAGMA database_list":                                       "single SELECT",
		"ATTACH '/tmp/x.db' AS x":                                    "single SELECT",
		"COPY (SELECT 1) TO '/tmp/x.csv'":                            "single SELECT",
		"SET enable_external_access = true":                          "single SELECT",
		"SELECT 1; SELECT 2":                                         "2 statements",
		"SELECT * FROM read_csv('/etc/passwd')":                      "table function read_csv",
		"SELECT * FROM glob('*')":                                    "table function glob",
		"SELECT * FROM '/etc/passwd'":                                "not allowed",
		"SELECT * FROM events":                                       `table "events" is not allowed`,
		"SELECT * FROM meta":                                         `table "meta" is not allowed`,
		"SELECT * FROM main.events":                                  "no schema or catalog",
		"SELECT * FROM cloudtrail_events, (SELECT * FROM blocks)":    `table "blocks"`,
		"WITH blocks AS (SELECT * FROM blocks) SELECT * FROM blocks": "system table",
		"SELECT * FROM query_table('events')":                        "table function query_table",
		"SELECT getenv('HOME')":                                      "function getenv",
		"SELECT __ot_record(1, 0)":                                   "function __ot_record",
		"SELECT * FROM duckdb_tables()":                              "table function duckdb_tables",
		"SELECT eventName FROM cloudtrail_events WHERE eventName IN (SELECT key FROM meta)": `table "meta"`,
		// List literals and lambdas are allowed; what they hold is checked.
		"SELECT list_transform([1], x -> getenv('HOME'))":  "function getenv",
		"SELECT [current_setting('home_directory')]":       "function current_setting",
		"SELECT main.getenv('HOME')":                       "function getenv",
		"SELECT main.__ot_record(1, 0)":                    "function __ot_record",
		"SELECT [x for x in (SELECT list(key) FROM meta)]": `table "meta"`,
		"SELECT [1] FROM read_csv('/etc/passwd')":          "table function read_csv",
		"SELECT system.main.lower('a')":                    "qualified function names",
		"SELECT temp.main.lower('a')":                      "qualified function names",
		"SELECT temp.lower('a')":                           "qualified function names",
		"SELECT system.lower('a')":                         "qualified function names",
		"SELECT pg_catalog.pg_typeof(1)":                   "qualified function names",
		"SELECT information_schema.lower('a')":             "qualified function names",
		"SELECT list_value(1) FROM main.events":            "no schema or catalog",
		"COPY (SELECT [1, 2]) TO '/tmp/x.csv'":             "single SELECT",
		"SELEC 1":                                          "syntax error",
		"":                                                 "empty",
	}
	for q, want := range cases {
		_, err := query.Run(context.Background(), st, q, query.Options{Accounts: []string{acctA}})
		var ie *query.InvalidQueryError
		if !errors.As(err, &ie) {
			t.Errorf("%q: err = %v, want InvalidQueryError", q, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", q, err, want)
		}
	}
}

// TestListsAndLambdas: DuckDB's parser writes list, struct and map
// literals, comprehensions and slices as calls of functions in schema
// main (main.list_value, main.struct_pack, …); they run.
func TestListsAndLambdas(t *testing.T) {
	st := openStore(t, fixture())
	for q, want := range map[string]string{
		`SELECT [1, 2, 3]`:                                 `[1,2,3]`,
		`SELECT list_transform([1, 2], x -> x + 1)`:        `[2,3]`,
		`SELECT list_transform([1, 2], lambda x: x * 2)`:   `[2,4]`,
		`SELECT list_filter(['a', 'bb'], s -> len(s) > 1)`: `["bb"]`,
		`SELECT [x * 2 FOR x IN [1, 2] IF x > 1]`:          `[4]`,
		`SELECT MAP {'k': 'v', 'a': 'b'}`:                  `{"k":"v","a":"b"}`,
		`SELECT {'a': 1, 'b': [2]}`:                        `{"a":1,"b":[2]}`,
		`SELECT MAP {'k': 'v'}`:                            `{"k":"v"}`,
		`SELECT [1, 2, 3][2]`:                              `2`,
		`SELECT [1, 2, 3][2:3]`:                            `[2,3]`,
		`SELECT main.lower('A')`:                           `a`,
		`SELECT count(*) FROM cloudtrail_events WHERE list_contains(['ConsoleLogin', 'GetCallerIdentity'], eventName)`: `3`,
		`SELECT count(*) FROM cloudtrail_events WHERE eventName IN ('ConsoleLogin', 'GetCallerIdentity')`:              `3`,
		`SELECT count(*) FROM cloudtrail_events WHERE eventName = ANY(['ConsoleLogin'])`:                               `2`,
		`SELECT list_sort(list(DISTINCT eventName))[1:2] FROM cloudtrail_events`:                                       `["AuthorizeSecurityGroupIngress","ConsoleLogin"]`,
		`SELECT count(*) FROM cloudtrail_events, unnest(['a', 'b']) AS u(x) WHERE eventName = 'ConsoleLogin'`:          `4`,
	} {
		res, err := query.Run(context.Background(), st, q, query.Options{Accounts: []string{acctA}})
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if len(res.Rows) != 1 || len(res.Rows[0]) != 1 || res.Rows[0][0] != want {
			t.Errorf("%s = %v, want %s", q, res.Rows, want)
		}
	}
}

func TestSelectRuns(t *testing.T) {
	st := openStore(t, fixture())
	res := mustRun(t, st, `WITH n AS (SELECT eventName, count(*) AS c FROM cloudtrail_events GROUP BY eventName)
		SELECT eventName, c FROM n ORDER BY c DESC, eventName LIMIT 2`)
	want := [][]string{{"DescribeInstances", "30"}, {"RunInstances", "10"}}
	checkRows(t, res, []string{"eventName", "c"}, want)
	if res.Stats.EventsScanned != 44 {
		t.Errorf("EventsScanned = %d, want 44", res.Stats.EventsScanned)
	}
	if res.Stats.EventsMatched != 0 || res.Stats.BytesScanned != 0 {
		t.Errorf("indexed-only query read records: %+v", res.Stats)
	}
}

func TestEventDataStoreIDAsTable(t *testing.T) {
	st := openStore(t, fixture())
	// Lake's FROM names the event data store ID, unquoted.
	res := mustRun(t, st, `SELECT count(*) FROM 0a1b2c3d-1111-4222-8333-444455556666 WHERE eventName = 'ConsoleLogin'`)
	checkRows(t, res, []string{"count_star()"}, [][]string{{"2"}})
	// The text inside a string literal is left alone.
	res = mustRun(t, st, `SELECT '0a1b2c3d-1111-4222-8333-444455556666' AS s`)
	checkRows(t, res, []string{"s"}, [][]string{{"0a1b2c3d-1111-4222-8333-444455556666"}})
}

func TestScopeHidesOtherAccounts(t *testing.T) {
	st := openStore(t, fixture())
	res := mustRun(t, st, `SELECT count(*) FROM cloudtrail_events WHERE recipientAccountId = '`+acctB+`' OR eventName = 'DeleteBucket'`)
	checkRows(t, res, nil, [][]string{{"0"}})
	res, err := query.Run(context.Background(), st, `SELECT DISTINCT userIdentity.userName FROM cloudtrail_events ORDER BY 1`, query.Options{Accounts: []string{acctB}})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, res, nil, [][]string{{"mallory"}})
	res, err = query.Run(context.Background(), st, `SELECT count(*) FROM cloudtrail_events`, query.Options{Accounts: []string{acctA, acctB}})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, res, nil, [][]string{{"64"}})
	if _, err := query.Run(context.Background(), st, `SELECT 1`, query.Options{}); err == nil {
		t.Error("a query without accounts ran")
	}
}

func TestRecordFields(t *testing.T) {
	st := openStore(t, fixture())
	res := mustRun(t, st, `SELECT userIdentity.arn, requestParameters['groupId'], element_at(requestParameters, 'groupId'),
		json_extract(requestParameters['ipPermissions'], '$.items[0].fromPort'), eventJson->>'$.userAgent', eventID, eventTime
		FROM cloudtrail_events WHERE eventName = 'AuthorizeSecurityGroupIngress'`)
	checkRows(t, res, nil, [][]string{{"arn:aws:iam::111111111111:user/bob", "sg-0123", "sg-0123", "22", "aws-cli/2.9.19",
		"00000000-0000-4000-8000-000000000040", "2026-03-01 12:40:00.000"}})
	if res.Stats.EventsMatched != 1 || res.Stats.BytesScanned == 0 {
		t.Errorf("stats = %+v, want one record read", res.Stats)
	}
	res = mustRun(t, st, `SELECT userIdentity.type, additionalEventData['MFAUsed'], responseElements['ConsoleLogin'], sourceIPAddress
		FROM cloudtrail_events WHERE eventName = 'ConsoleLogin' ORDER BY eventTime`)
	checkRows(t, res, nil, [][]string{{"Root", "No", "Success", "203.0.113.5"}, {"IAMUser", "Yes", "Success", "198.51.100.9"}})
	// Maps are JSON objects, their entries in the record's order.
	res = mustRun(t, st, `SELECT requestParameters, MAP {'b': 1, 'a': 2} FROM cloudtrail_events WHERE eventName = 'AuthorizeSecurityGroupIngress'`)
	checkRows(t, res, nil, [][]string{{`{"groupId":"sg-0123","ipPermissions":"{\"items\":[{\"fromPort\":22}]}"}`, `{"b":1,"a":2}`}})
	res = mustRun(t, st, `SELECT userIdentity FROM cloudtrail_events WHERE eventName = 'GetCallerIdentity'`)
	if !strings.Contains(res.Rows[0][0], `"userName":"alice"`) {
		t.Errorf("userIdentity = %s", res.Rows[0][0])
	}
	// All columns of all events: every record decodes.
	res = mustRun(t, st, `SELECT * FROM cloudtrail_events`)
	if len(res.Rows) != 44 || len(res.Columns) != len(query.Columns) {
		t.Fatalf("SELECT *: %d rows, columns %v", len(res.Rows), res.Columns)
	}
	for i, c := range query.Columns {
		if !strings.EqualFold(res.Columns[i], c) {
			t.Errorf("column %d = %s, want %s", i, res.Columns[i], c)
		}
	}
}

func TestRowCap(t *testing.T) {
	st := openStore(t, fixture())
	res, err := query.Run(context.Background(), st, `SELECT eventName FROM cloudtrail_events`, query.Options{Accounts: []string{acctA}, MaxRows: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 5 || !res.Truncated {
		t.Errorf("rows %d truncated %v, want 5 true", len(res.Rows), res.Truncated)
	}
	res, err = query.Run(context.Background(), st, `SELECT eventName FROM cloudtrail_events LIMIT 5`, query.Options{Accounts: []string{acctA}, MaxRows: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 5 || res.Truncated {
		t.Errorf("rows %d truncated %v, want 5 false", len(res.Rows), res.Truncated)
	}
}

func TestTimeout(t *testing.T) {
	st := openStore(t, fixture())
	start := time.Now()
	_, err := query.Run(context.Background(), st, `SELECT count(*) FROM range(10000000000) a WHERE a.range % 7 = 3`,
		query.Options{Accounts: []string{acctA}, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, query.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("timeout took %v", d)
	}
	// The store keeps working afterwards.
	mustRun(t, st, `SELECT count(*) FROM cloudtrail_events`)
}

func TestCancel(t *testing.T) {
	st := openStore(t, fixture())
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := query.Run(ctx, st, `SELECT count(*) FROM range(10000000000) a WHERE a.range % 7 = 3`, query.Options{Accounts: []string{acctA}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestReadOnlyTransaction(t *testing.T) {
	st := openStore(t, fixture())
	// nextval writes a sequence; a read-only transaction refuses it even
	// though the statement is a SELECT. (No sequence exists, so DuckDB
	// reports that; either way nothing is written.)
	_, err := query.Run(context.Background(), st, `SELECT nextval('s')`, query.Options{Accounts: []string{acctA}})
	if err == nil {
		t.Fatal("nextval ran")
	}
}

func TestUserErrorKeepsDuckDBText(t *testing.T) {
	st := openStore(t, fixture())
	_, err := query.Run(context.Background(), st, `SELECT nosuchcolumn FROM cloudtrail_events`, query.Options{Accounts: []string{acctA}})
	if err == nil || !strings.Contains(err.Error(), "nosuchcolumn") {
		t.Fatalf("err = %v", err)
	}
}

// mustRun runs q as account acctA.
func mustRun(t *testing.T, st *store.Store, q string) *query.Result {
	t.Helper()
	res, err := query.Run(context.Background(), st, q, query.Options{Accounts: []string{acctA}})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

func checkRows(t *testing.T, res *query.Result, cols []string, want [][]string) {
	t.Helper()
	if cols != nil && strings.Join(res.Columns, ",") != strings.Join(cols, ",") {
		t.Errorf("columns = %v, want %v", res.Columns, cols)
	}
	if len(res.Rows) != len(want) {
		t.Fatalf("rows = %v, want %v", res.Rows, want)
	}
	for i := range want {
		if strings.Join(res.Rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d = %v, want %v", i, res.Rows[i], want[i])
		}
	}
}

// TestConcurrentRuns reads records from several connections at once: the
// record function must be visible on every connection of the pool.
func TestConcurrentRuns(t *testing.T) {
	st := openStore(t, fixture())
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			res, err := query.Run(context.Background(), st, `SELECT count(DISTINCT userIdentity.arn) FROM cloudtrail_events`, query.Options{Accounts: []string{acctA}})
			if err == nil && res.Rows[0][0] != "3" {
				err = errors.New("distinct principals = " + res.Rows[0][0])
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestNumbersKeptAsWritten: a record may hold any valid JSON number; one
// beyond float64 (1e999999) must not break the queries that return it,
// and eventJson, and JSON anywhere in a result, keeps every number as
// stored (no float64 round trip).
func TestNumbersKeptAsWritten(t *testing.T) {
	const nums = `{"big":1e999999,"exp":1E+2,"frac":0.10000000000000000555,"huge":123456789012345678901234567890,"neg":-0}`
	web := map[string]any{"type": "WebIdentityUser", "sessionContext": map[string]any{"webIdFederationData": json.RawMessage(`{"n":-1e999999}`)}}
	st := openStore(t, []ev{
		{name: "Big", params: map[string]any{"n": json.RawMessage(nums)}, extra: map[string]any{"additionalEventData": json.RawMessage(nums)}},
		{name: "Web", identity: web},
	})
	one := func(q string) string {
		t.Helper()
		res := mustRun(t, st, q)
		if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
			t.Fatalf("%s: rows %v", q, res.Rows)
		}
		return res.Rows[0][0]
	}
	if got := one(`SELECT eventJson FROM cloudtrail_events WHERE eventName = 'Big'`); !strings.Contains(got, `"requestParameters":{"n":`+nums+`}`) ||
		!strings.Contains(got, `"additionalEventData":`+nums) {
		t.Errorf("eventJson = %s", got)
	}
	// JSON nested in lists, structs and maps is the stored text too.
	for q, want := range map[string]string{
		`SELECT [json(additionalEventData['big'])] FROM cloudtrail_events WHERE eventName = 'Big'`:                "[1e999999]",
		`SELECT {'j': eventJson} FROM cloudtrail_events WHERE eventName = 'Big'`:                                  `{"j":` + one(`SELECT eventJson FROM cloudtrail_events WHERE eventName = 'Big'`) + `}`,
		`SELECT MAP {'j': eventJson->'$.additionalEventData.big'} FROM cloudtrail_events WHERE eventName = 'Big'`: `{"j":1e999999}`,
		`SELECT userIdentity.sessionContext.webIdFederationData FROM cloudtrail_events WHERE eventName = 'Web'`:   `{"n":-1e999999}`,
		`SELECT eventJson->'$.additionalEventData.big' FROM cloudtrail_events WHERE eventName = 'Big'`:            "1e999999",
		`SELECT additionalEventData['big'] FROM cloudtrail_events WHERE eventName = 'Big'`:                        "1e999999",
		`SELECT additionalEventData['huge'] FROM cloudtrail_events WHERE eventName = 'Big'`:                       "123456789012345678901234567890",
	} {
		if got := one(q); got != want {
			t.Errorf("%s = %s, want %s", q, got, want)
		}
	}
	// Every column of every record, and the whole of userIdentity.
	res := mustRun(t, st, `SELECT * FROM cloudtrail_events ORDER BY eventName`)
	if len(res.Rows) != 2 || !strings.Contains(res.Rows[0][len(query.Columns)-1], nums) {
		t.Errorf("SELECT *: %v", res.Rows)
	}
	// webIdFederationData is its JSON text (a VARCHAR in both tiers, so
	// that the view's union keeps struct fields read one by one).
	if got := one(`SELECT userIdentity FROM cloudtrail_events WHERE eventName = 'Web'`); !strings.Contains(got, `"webIdFederationData":"{\"n\":-1e999999}"`) {
		t.Errorf("userIdentity = %s", got)
	}
	// Column names and order survive, duplicates included; a trailing
	// semicolon and comment are the query's own.
	res = mustRun(t, st, `SELECT eventName AS x, eventJson->'$.additionalEventData.big' AS x FROM cloudtrail_events WHERE eventName = 'Big'; -- done`)
	checkRows(t, res, []string{"x", "x"}, [][]string{{"Big", "1e999999"}})
}
