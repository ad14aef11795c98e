package query_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/query"
)

// TestTrinoFunctions: each Trino function Lake's users call runs with
// Trino's semantics (1-based arrays, NULL when absent, Trino's units and
// patterns). NULL is written "", as Lake writes it.
func TestTrinoFunctions(t *testing.T) {
	st := openStore(t, fixture())
	cases := []struct{ q, want string }{
		// element_at: the value on maps, 1-based on arrays, NULL when absent.
		{`SELECT element_at(MAP {'a': 'x'}, 'a')`, `x`},
		{`SELECT element_at(MAP {'a': 'x'}, 'b')`, ``},
		{`SELECT element_at([10, 20, 30], 1)`, `10`},
		{`SELECT element_at([10, 20, 30], -1)`, `30`},
		{`SELECT element_at([10, 20, 30], 4)`, ``},
		{`SELECT element_at(additionalEventData, 'MFAUsed') FROM cloudtrail_events WHERE userIdentity.type = 'Root'`, `No`},
		{`SELECT count(*) FROM cloudtrail_events WHERE element_at(additionalEventData, 'MFAUsed') IS NULL`, `42`},
		// JSON.
		{`SELECT json_extract_scalar('{"a": {"b": 22}}', '$.a.b')`, `22`},
		{`SELECT json_extract_scalar('{"a": {"b": "x"}}', '$.a.b')`, `x`},
		{`SELECT json_extract_scalar('{"a": {"b": 22}}', '$.a')`, ``},
		{`SELECT json_extract_scalar('{"a": [1]}', '$.a')`, ``},
		{`SELECT json_extract_scalar('{"a": null}', '$.a')`, ``},
		{`SELECT json_extract_scalar('not json', '$.a')`, ``},
		{`SELECT json_extract_scalar('{"a": [5, 6]}', '$.a[1]')`, `6`},
		{`SELECT json_extract_scalar(requestParameters['ipPermissions'], '$.items[0].fromPort') FROM cloudtrail_events WHERE eventName = 'AuthorizeSecurityGroupIngress'`, `22`},
		{`SELECT json_extract('{"a": {"b": 22}}', '$.a')`, `{"b":22}`},
		{`SELECT json_parse('{"a": [1, 2]}')`, `{"a":[1,2]}`},
		{`SELECT json_format(json_parse('{"a": [1,  2]}'))`, `{"a":[1,2]}`},
		{`SELECT json_array_contains('[1, 2, 3]', 2)`, `true`},
		{`SELECT json_array_contains('[1, 2, 3]', 5)`, `false`},
		{`SELECT json_array_contains('["a", "b"]', 'b')`, `true`},
		{`SELECT json_array_contains('{"a": 1}', 1)`, ``},
		{`SELECT json_array_get('["a", "b", "c"]', 0)`, `"a"`},
		{`SELECT json_array_get('["a", "b", "c"]', -1)`, `"c"`},
		{`SELECT json_array_get('["a", "b", "c"]', 5)`, ``},
		{`SELECT json_array_length('[1, 2, 3]')`, `3`},
		{`SELECT json_array_length('{"a": 1}')`, ``},
		{`SELECT json_array_length('nope')`, ``},
		{`SELECT is_json_scalar('1')`, `true`},
		{`SELECT is_json_scalar('[1]')`, `false`},
		{`SELECT json_size('{"a": {"b": 1, "c": 2}}', '$.a')`, `2`},
		{`SELECT json_size('{"a": [1, 2, 3]}', '$.a')`, `3`},
		{`SELECT json_size('{"a": 1}', '$.a')`, `0`},
		// Dates and times.
		{`SELECT from_iso8601_timestamp('2023-01-22T10:00:00Z')`, `2023-01-22 10:00:00.000`},
		{`SELECT from_iso8601_timestamp('2023-01-22T10:00:00+02:00')`, `2023-01-22 08:00:00.000`},
		{`SELECT from_iso8601_timestamp('2023-01-22T10:00:00.250Z')`, `2023-01-22 10:00:00.250`},
		{`SELECT from_iso8601_timestamp('2023-01-22')`, `2023-01-22 00:00:00.000`},
		{`SELECT from_iso8601_date('2023-01-22')`, `2023-01-22 00:00:00.000`},
		{`SELECT to_iso8601(TIMESTAMP '2023-01-22 10:11:12.345')`, `2023-01-22T10:11:12.345`},
		{`SELECT to_iso8601(DATE '2023-01-22')`, `2023-01-22`},
		{`SELECT to_iso8601(from_iso8601_timestamp('2023-01-22T10:00:00Z'))`, `2023-01-22T10:00:00.000`},
		{`SELECT date_diff('day', TIMESTAMP '2023-01-01 23:00:00', TIMESTAMP '2023-01-02 01:00:00')`, `0`},
		{`SELECT date_diff('day', TIMESTAMP '2023-01-01 00:00:00', TIMESTAMP '2023-01-03 00:00:00')`, `2`},
		{`SELECT date_diff('hour', TIMESTAMP '2023-01-01 00:00:00', TIMESTAMP '2023-01-01 05:59:00')`, `5`},
		{`SELECT date_diff('minute', TIMESTAMP '2023-01-01 00:10:00', TIMESTAMP '2023-01-01 00:00:00')`, `-10`},
		{`SELECT date_diff('month', TIMESTAMP '2023-01-15 00:00:00', TIMESTAMP '2023-03-14 00:00:00')`, `1`},
		{`SELECT date_diff('second', TIMESTAMP '2023-01-01 00:00:00', TIMESTAMP '2023-01-01 00:00:01.5')`, `1`},
		{`SELECT date_add('day', 1, TIMESTAMP '2023-01-31 10:00:00')`, `2023-02-01 10:00:00.000`},
		{`SELECT date_add('day', -7, TIMESTAMP '2023-01-31 10:00:00')`, `2023-01-24 10:00:00.000`},
		{`SELECT date_add('hour', 3, TIMESTAMP '2023-01-31 22:00:00')`, `2023-02-01 01:00:00.000`},
		{`SELECT date_add('month', 1, TIMESTAMP '2023-01-31 00:00:00')`, `2023-02-28 00:00:00.000`},
		{`SELECT date_add('quarter', 1, TIMESTAMP '2023-01-15 00:00:00')`, `2023-04-15 00:00:00.000`},
		{`SELECT date_add('week', 2, TIMESTAMP '2023-01-01 00:00:00')`, `2023-01-15 00:00:00.000`},
		{`SELECT date_add('millisecond', 1500, TIMESTAMP '2023-01-01 00:00:00')`, `2023-01-01 00:00:01.500`},
		{`SELECT date_trunc('hour', TIMESTAMP '2023-01-01 10:42:00')`, `2023-01-01 10:00:00.000`},
		{`SELECT date_trunc('week', TIMESTAMP '2023-01-04 10:42:00')`, `2023-01-02 00:00:00.000`},
		{`SELECT date_format(TIMESTAMP '2023-01-04 13:05:09', '%Y-%m-%d %H:%i:%s')`, `2023-01-04 13:05:09`},
		{`SELECT date_format(TIMESTAMP '2023-01-04 13:05:09', '%W %M %e %h %p %T %%')`, `Wednesday January 4 01 PM 13:05:09 %`},
		{`SELECT format_datetime(TIMESTAMP '2023-01-04 13:05:09.123', 'yyyy-MM-dd''T''HH:mm:ss.SSS')`, `2023-01-04T13:05:09.123`},
		{`SELECT format_datetime(TIMESTAMP '2023-01-04 13:05:09', 'EEEE, d MMM yy h:mm a')`, `Wednesday, 4 Jan 23 1:05 PM`},
		{`SELECT date_parse('2023/01/04 13:05', '%Y/%m/%d %H:%i')`, `2023-01-04 13:05:00.000`},
		{`SELECT date_parse('4 Jan 2023 01:05:09 PM', '%e %b %Y %r')`, `2023-01-04 13:05:09.000`},
		{`SELECT date_parse('2023-01-04 13:05:09.25', '%Y-%m-%d %H:%i:%s.%f')`, `2023-01-04 13:05:09.250`},
		{`SELECT date_parse('10:30', '%H:%i')`, `1970-01-01 10:30:00.000`},
		{`SELECT parse_datetime('04-01-2023 13:05', 'dd-MM-yyyy HH:mm')`, `2023-01-04 13:05:00.000`},
		{`SELECT parse_datetime('2023-01-04T13:05:00+02:00', 'yyyy-MM-dd''T''HH:mm:ssZZ')`, `2023-01-04 11:05:00.000`},
		{`SELECT parse_datetime('Wednesday, January 4, 2023', 'EEEE, MMMM d, yyyy')`, `2023-01-04 00:00:00.000`},
		{`SELECT count(*) FROM cloudtrail_events WHERE eventTime < date_parse('2026-03-01 12:05', '%Y-%m-%d %H:%i')`, `10`},
		{`SELECT from_unixtime(1674381600)`, `2023-01-22 10:00:00.000`},
		{`SELECT from_unixtime(1674381600.5)`, `2023-01-22 10:00:00.500`},
		{`SELECT to_unixtime(TIMESTAMP '2023-01-22 10:00:00.5')`, `1.6743816005e+09`},
		{`SELECT day_of_week(TIMESTAMP '2023-01-01 00:00:00'), dow(TIMESTAMP '2023-01-02 00:00:00')`, `7|1`},
		{`SELECT day_of_year(TIMESTAMP '2023-02-01 00:00:00'), doy(TIMESTAMP '2023-02-01 00:00:00')`, `32|32`},
		{`SELECT year_of_week(TIMESTAMP '2023-01-01 00:00:00'), week_of_year(TIMESTAMP '2023-01-01 00:00:00'), week(TIMESTAMP '2023-01-02 00:00:00')`, `2022|52|1`},
		{`SELECT day_of_month(TIMESTAMP '2023-02-09 00:00:00'), last_day_of_month(TIMESTAMP '2023-02-09 00:00:00')`, `9|2023-02-28 00:00:00.000`},
		{`SELECT year(eventTime), month(eventTime), day(eventTime), hour(eventTime) FROM cloudtrail_events LIMIT 1`, `2026|3|1|12`},
		{`SELECT TIMESTAMP '2023-01-01 00:00:00' + interval '1' day`, `2023-01-02 00:00:00.000`},
		{`SELECT count(*) FROM cloudtrail_events WHERE eventTime > now() - interval '100' day * 0`, `0`},
		{`SELECT count(*) FROM cloudtrail_events WHERE eventTime < current_timestamp`, `44`},
		{`SELECT count(*) FROM cloudtrail_events WHERE eventTime > '2026-03-01 12:40:00'`, `3`},
		{`SELECT count(*) FROM cloudtrail_events WHERE eventTime > '2026-03-01T12:40:00Z'`, `3`},
		{`SELECT count_if(eventTime > date_add('week', -1, current_timestamp)) = count_if(eventTime > current_timestamp - interval '7' day),
			date_add('year', -5, now()) = now() - interval '5' year FROM cloudtrail_events`, `true|true`},
		{`SELECT count(*) FROM cloudtrail_events WHERE eventTime BETWEEN timestamp '2026-03-01 12:00:00' AND timestamp '2026-03-01 12:04:59'`, `10`},
		// Regular expressions.
		{`SELECT regexp_like('AccessDenied', 'Denied$')`, `true`},
		{`SELECT regexp_like('AccessDenied', '^Denied')`, `false`},
		{`SELECT regexp_extract('arn:aws:iam::111:user/alice', 'user/(\w+)', 1)`, `alice`},
		{`SELECT regexp_extract('arn:aws:iam::111:user/alice', 'user/\w+')`, `user/alice`},
		{`SELECT regexp_extract('no match here', 'user/(\w+)', 1)`, ``},
		{`SELECT regexp_replace('a-b-c', '-', '_')`, `a_b_c`},
		{`SELECT regexp_replace('a1b22', '\d')`, `ab`},
		{`SELECT regexp_replace('alice@example.com', '(\w+)@(\w+)', '$2:$1')`, `example:alice.com`},
		// Arrays and maps.
		{`SELECT cardinality([1, 2, 3])`, `3`},
		{`SELECT cardinality(MAP {'a': 1, 'b': 2})`, `2`},
		{`SELECT cardinality(resources) FROM cloudtrail_events WHERE eventName = 'GetCallerIdentity'`, ``},
		{`SELECT contains(['a', 'b'], 'b'), contains(['a', 'b'], 'c')`, `true|false`},
		{`SELECT array_distinct([3, 1, 3, NULL, 1, NULL])`, `[3,1,null]`},
		{`SELECT array_max([1, 5, 3]), array_min([4, 2, 9]), array_max([1, NULL])`, `5|2|`},
		{`SELECT slice([1, 2, 3, 4, 5], 2, 3)`, `[2,3,4]`},
		{`SELECT slice([1, 2, 3, 4, 5], -2, 5)`, `[4,5]`},
		{`SELECT slice([1, 2, 3], -5, 2)`, `[]`},
		{`SELECT array_join(['a', 'b', NULL], ',')`, `a,b`},
		{`SELECT array_join(['a', NULL], ',', '?')`, `a,?`},
		{`SELECT array_position(['a', 'b'], 'b'), array_position(['a', 'b'], 'z')`, `2|0`},
		{`SELECT map_keys(MAP {'a': 1, 'b': 2}), map_values(MAP {'a': 1, 'b': 2})`, `["a","b"]|[1,2]`},
		{`SELECT split('a,b,c', ',')`, `["a","b","c"]`},
		{`SELECT split('a,b,c', ',')[2]`, `b`},
		{`SELECT strpos('CreateBucket', 'Bucket'), strpos('CreateBucket', 'x')`, `7|0`},
		{`SELECT length('abc'), lower('AbC'), upper('AbC')`, `3|abc|ABC`},
		{`SELECT concat('a', 'b', 'c'), concat('a', NULL), concat([1], [2, 3]), concat('x')`, `abc||[1,2,3]|x`},
		{`SELECT 'a' || 'b', 'a' || NULL`, `ab|`},
		{`SELECT try(CAST('x' AS INTEGER)), try_cast('12' AS INTEGER), CAST(12 AS varchar)`, `|12|12`},
		{`SELECT try(element_at([1], 5))`, ``},
		{`SELECT GREATEST(1, 5, 3), LEAST('b', 'a')`, `5|a`},
		{`SELECT substr('CreateBucket', 7), substr('CreateBucket', 1, 6), replace('a-b', '-', '+'), trim('  x '), starts_with('CreateBucket', 'Create')`, `Bucket|Create|a+b|x|true`},
		{`SELECT min_by(eventName, eventTime), coalesce(NULL, 'z') FROM cloudtrail_events`, `DescribeInstances|z`},
		{`SELECT 7 / 2, 7 // 2, CAST(TIMESTAMP '2023-01-22 10:00:00' AS varchar)`, `3.5|3|2023-01-22 10:00:00`},
		{`SELECT date_format(TIMESTAMP '2023-01-22 10:00:00.5', '%Y-%m-%d %H:%i:%s.%f')`, `2023-01-22 10:00:00.500000`},
		{`SELECT to_iso8601(TIMESTAMPTZ '2023-01-22 10:00:00+02')`, `2023-01-22T08:00:00.000Z`},
		{`SELECT yow(TIMESTAMP '2021-01-01 00:00:00'), format_datetime(TIMESTAMP '2021-01-01 00:00:00', 'xxxx-''W''ww-e')`, `2020|2020-W53-5`},
		{`SELECT 1 IS DISTINCT FROM NULL, NULL IS DISTINCT FROM NULL`, `true|false`},
		// Aggregates.
		{`SELECT approx_distinct(eventName) FROM cloudtrail_events`, `5`},
		{`SELECT approx_distinct(eventName, 0.01) FROM cloudtrail_events`, `5`},
		{`SELECT approx_percentile(x, 0.5) FROM range(101) t(x)`, `50`},
		{`SELECT count_if(errorCode IS NOT NULL) FROM cloudtrail_events`, `10`},
		{`SELECT arbitrary(eventSource) FROM cloudtrail_events WHERE eventName = 'ConsoleLogin'`, `signin.amazonaws.com`},
		{`SELECT array_agg(DISTINCT eventSource ORDER BY eventSource) FROM cloudtrail_events`, `["ec2.amazonaws.com","signin.amazonaws.com","sts.amazonaws.com"]`},
		{`SELECT max_by(eventName, eventTime) FROM cloudtrail_events`, `GetCallerIdentity`},
	}
	for _, c := range cases {
		res, err := query.Run(context.Background(), st, c.q, query.Options{Accounts: []string{acctA}})
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		if len(res.Rows) != 1 {
			t.Errorf("%s: %d rows, want 1", c.q, len(res.Rows))
			continue
		}
		if got := strings.Join(res.Rows[0], "|"); got != c.want {
			t.Errorf("%s = %q, want %q", c.q, got, c.want)
		}
	}
}

// TestTrinoSafetyAndErrors: the macros open no way around validation;
// bad calls fail with DuckDB's reason naming the Trino function; the
// query's text, strings and column names are not rewritten.
func TestTrinoSafetyAndErrors(t *testing.T) {
	st := openStore(t, fixture())
	ctx := context.Background()
	opts := query.Options{Accounts: []string{acctA}}
	for q, want := range map[string]string{
		`SELECT __ot_mysql_datefmt('%Y')`:                                    "function __ot_mysql_datefmt is not allowed",
		`SELECT __ot_joda_datefmt('yyyy')`:                                   "function __ot_joda_datefmt is not allowed",
		`SELECT element_at(MAP {'a': getenv('HOME')}, 'a')`:                  "function getenv is not allowed",
		`SELECT json_extract_scalar(x, '$.a') FROM read_json('/etc/passwd')`: "table function read_json",
		`SELECT element_at(requestParameters, 'k' FROM cloudtrail_events`:    "syntax error",
		`SELECT system.main.element_at(MAP {'a': 'b'}, 'a')`:                 "qualified function names",
	} {
		_, err := query.Run(ctx, st, q, opts)
		var ie *query.InvalidQueryError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want an InvalidQueryError mentioning %q", q, err, want)
		}
	}
	for q, want := range map[string]string{
		`SELECT date_add('fortnight', 1, eventTime) FROM cloudtrail_events`: "fortnight",
		`SELECT element_at([1])`:                                         "element_at",
		`SELECT date_format(eventTime, '%D') FROM cloudtrail_events`:     "%D is not supported",
		`SELECT format_datetime(eventTime, 'GG') FROM cloudtrail_events`: "letter G is not supported",
		`SELECT json_parse('{"a": ')`:                                    "Malformed JSON",
		`SELECT date_parse('2023-02-30', '%Y-%m-%d')`:                    "day out of range",
		`SELECT date_parse('2023-01-01x', '%Y-%m-%d')`:                   "text left over",
		`SELECT parse_datetime('2023', 'yyyy-MM')`:                       "malformed",
		`SELECT regexp_like('a', '(?<=a)b')`:                             "invalid perl operator",
	} {
		_, err := query.Run(ctx, st, q, opts)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to mention %q", q, err, want)
		}
	}
	// The text is not rewritten: string literals, identifiers that match
	// macro parameters, and DuckDB's own column names stay as written.
	res := mustRun(t, st, `SELECT 'element_at(x, 1)' AS s, element_at(ot_c, 1) AS ot_k, json_extract_scalar('{"a": "b"}', '$.a'), date_format(eventTime, '') AS empty
		FROM (SELECT [5] AS ot_c), cloudtrail_events LIMIT 1`)
	checkRows(t, res, []string{"s", "ot_k", `json_extract_scalar('{"a": "b"}', '$.a')`, "empty"}, [][]string{{"element_at(x, 1)", "5", "b", ""}})
	// Outside a query the pooled connections have DuckDB's own functions.
	for i := 0; i < 4; i++ {
		var v string
		var r string
		if err := st.DB().QueryRowContext(ctx, `SELECT CAST(element_at(MAP {'k': 'v'}, 'k') AS VARCHAR), regexp_replace('aa', 'a', 'b')`).Scan(&v, &r); err != nil || v != "[v]" || r != "ba" {
			t.Fatalf("outside a query: element_at = %q, regexp_replace = %q (%v); want DuckDB's [v] and ba", v, r, err)
		}
	}
}

// TestTrinoConcurrent: queries with and without Trino names run at the
// same time, each with its own meaning (the macros live in the connection
// of the query that calls them), and no pooled connection keeps a macro.
func TestTrinoConcurrent(t *testing.T) {
	st := openStore(t, fixture())
	ctx := context.Background()
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		go func() {
			q, want := `SELECT element_at(MAP {'k': 'v'}, 'k') AS v`, "v"
			if i%2 == 1 {
				q, want = `SELECT CAST(map_extract(MAP {'k': 'v'}, 'k') AS VARCHAR) AS v`, "[v]"
			}
			res, err := query.Run(ctx, st, q, query.Options{Accounts: []string{acctA}})
			switch {
			case err != nil:
				errs <- err
			case res.Rows[0][0] != want:
				errs <- errors.New(q + " = " + res.Rows[0][0])
			default:
				errs <- nil
			}
		}()
	}
	for i := 0; i < 40; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// Every pooled connection is as DuckDB made it: hold several at once
	// so that each is a different one.
	for i := 0; i < 8; i++ {
		conn, err := st.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_functions() WHERE database_name = 'temp'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("connection %d keeps %d temporary functions (%v)", i, n, err)
		}
	}
}
