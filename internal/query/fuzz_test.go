package query_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/query"
)

// FuzzCheck: the validator never panics, and whatever it accepts runs in
// a read-only transaction without changing what the store holds.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"SELECT eventName, count(*) FROM cloudtrail_events GROUP BY 1",
		"WITH x AS (SELECT * FROM cloudtrail_events) SELECT * FROM x",
		"DROP TABLE events", "SELECT * FROM read_csv('/etc/passwd')", "SELECT 1; DELETE FROM events",
		"SELECT * FROM main.events", "ATTACH 'x.db'", "SELECT getenv('HOME')",
		"SELECT [1, 2, 3]", "SELECT list_transform([1, 2], x -> x + 1)", "SELECT [x FOR x IN [1] IF x > 0]",
		"SELECT {'a': MAP {'k': [eventJson]}} FROM cloudtrail_events", "SELECT '1e999999'::JSON AS j; -- c",
		"SELECT system.main.lower('a')", "SELECT main.getenv('HOME')",
		"SELECT element_at(requestParameters, 'k'), json_extract_scalar(eventJson, '$.a') FROM cloudtrail_events",
		"SELECT date_format(eventTime, '%Y %i'), format_datetime(eventTime, 'yyyy'), date_add('day', 1, eventTime) FROM cloudtrail_events",
		"SELECT __ot_mysql_datefmt('%Y')", "SELECT regexp_replace(eventName, '(a)', '$1'), cardinality(resources) FROM cloudtrail_events",
	} {
		f.Add(s)
	}
	st := openStore(f, []ev{{account: "111111111111", name: "GetObject", source: "s3.amazonaws.com", region: "us-east-1"}, {account: "222222222222", name: "PutObject", source: "s3.amazonaws.com", region: "us-east-1"}})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 2000 {
			return
		}
		if err := query.Check(ctx, st, q); err != nil {
			var ie *query.InvalidQueryError
			if !errors.As(err, &ie) && !strings.Contains(err.Error(), "connection") {
				t.Fatalf("Check(%q): error of type %T: %v", q, err, err)
			}
			return
		}
		if _, err := query.Run(ctx, st, q, query.Options{AllAccounts: true, MaxRows: 10}); err == nil {
			res, err := query.Run(ctx, st, "SELECT count(*) FROM cloudtrail_events", query.Options{AllAccounts: true})
			if err != nil || res.Rows[0][0] != "2" {
				t.Fatalf("after %q the store holds %v (%v)", q, res, err)
			}
		}
	})
}
