package logsinsights_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/logsinsights"
	"github.com/opentrail/opentrail/internal/query"
	"github.com/opentrail/opentrail/internal/store"
)

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		q              string
		line, position int
		start, end     int
		reasonFragment string
	}{
		{``, 1, 0, 0, 0, "the query is empty"},
		{`fields @timestamp | count()`, 1, 20, 20, 25, "unexpected symbol found count"},
		{`filter eventName = `, 1, 19, 19, 19, "unexpected end of query"},
		{"fields a\n| filter x ==== 3", 2, 13, 22, 24, "unexpected symbol found =="},
		{`filter eventName = "abc`, 1, 19, 19, 23, "unterminated string"},
		{`filter eventName like /abc`, 1, 22, 22, 26, "unterminated regular expression"},
		{`filter eventName like /a(/`, 1, 22, 22, 26, "invalid regular expression"},
		{`stats eventName by awsRegion`, 1, 6, 6, 15, "stats needs an aggregate function"},
		{`filter count(*) > 1`, 1, 7, 7, 15, "only allowed in stats"},
		{`fields nosuch(eventName)`, 1, 7, 7, 24, "unknown function nosuch"},
		{`stats count(*) by bin(5y)`, 1, 22, 22, 24, "invalid time period 5y"},
		{`limit 0`, 1, 6, 6, 7, "limit must be between 1 and 10000"},
		{`parse @message "a=* b=*" as x`, 1, 0, 0, 29, "the parse pattern has 2 * but 1 field names"},
		{`fields @ingestionTime`, 1, 7, 7, 21, "@ingestionTime is not available"},
		{`unmask @message`, 1, 0, 0, 6, "the unmask command is not supported"},
		{"fields a,\n  é ~", 2, 4, 14, 15, "unexpected symbol found '~'"},
		{`filter a in []`, 1, 12, 12, 14, "the list after in is empty"},
		{`filter eventName = "x" extra`, 1, 23, 23, 28, "commands are separated by |"},
	}
	for _, c := range cases {
		_, err := logsinsights.Compile(c.q, logsinsights.Options{})
		var se *logsinsights.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v, want a *SyntaxError", c.q, err)
			continue
		}
		if se.Line != c.line || se.Position != c.position || se.StartOffset != c.start || se.EndOffset != c.end ||
			!strings.Contains(se.Reason, c.reasonFragment) {
			t.Errorf("%q: got line %d position %d offsets [%d,%d) %q\nwant line %d position %d offsets [%d,%d) …%q…",
				c.q, se.Line, se.Position, se.StartOffset, se.EndOffset, se.Reason, c.line, c.position, c.start, c.end, c.reasonFragment)
		}
		if want := fmt.Sprintf(" at line %d and position %d", c.line, c.position); !strings.HasSuffix(se.Error(), want) {
			t.Errorf("%q: message %q does not end with %q", c.q, se.Error(), want)
		}
	}
}

// TestIndexedFieldsReadNoRecords checks that a query of indexed columns
// compiles to SQL that does not read the stored records.
func TestIndexedFieldsReadNoRecords(t *testing.T) {
	st := fixture(t)
	for _, q := range []string{
		`stats count(*) by eventName, awsRegion`,
		`filter eventName = "GetObject" and errorCode != "x" | stats count(*) by bin(1h)`,
	} {
		c, err := logsinsights.Compile(q, logsinsights.Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := query.Run(context.Background(), st, c.SQL, query.Options{Accounts: []string{acctA}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.EventsMatched != 0 {
			t.Errorf("%s: read %d records, want none", q, res.Stats.EventsMatched)
		}
	}
}

// TestReadsOnlyTheRowsItReturns checks that a query sorted by @timestamp
// with a limit reads the stored records of the rows it returns only, not
// of every matched event.
func TestReadsOnlyTheRowsItReturns(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var recs []*event.Record
	for i := 0; i < 3000; i++ {
		e, err := event.Parse(rec(i, acctA, fmt.Sprint("Op", i%7), "alice", time.Duration(i)*time.Second, nil))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, e)
	}
	if _, err := st.Append(ctx, recs, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q          string
		rows       int
		readAtMost int64
	}{
		{`fields @timestamp, @message | limit 20`, 20, 20},
		{`filter eventName = "Op3" | limit 5`, 5, 5},
		{`fields userIdentity.arn | sort @timestamp asc`, 3000, 3000},
		{`filter eventName = "Op3" | fields requestParameters.bucketName | sort @timestamp asc | limit 7`, 7, 7},
		{`stats count(*) by eventName`, 7, 0},
	} {
		comp, err := logsinsights.Compile(c.q, logsinsights.Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := query.Run(ctx, st, comp.SQL, query.Options{Accounts: []string{acctA}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != c.rows || res.Stats.EventsMatched > c.readAtMost {
			t.Errorf("%s: %d rows, read %d records; want %d rows, at most %d records read", c.q, len(res.Rows), res.Stats.EventsMatched, c.rows, c.readAtMost)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`fields @timestamp, @message | sort @timestamp desc | limit 20`,
		`filter eventName like /^Delete/ or errorCode in ["AccessDenied", "x"] | stats count(*) as n by bin(5m), eventSource`,
		`parse @message /"userName":"(?<user>[^"]+)"/ | stats count_distinct(user)`,
		`parse @message "a=* b=*" as x, y | dedup x | display x, y`,
		"# comment\nfields `odd name`, strlen(concat(a, 'b')) * 2 - 1 as n | filter not ispresent(n) and n >= -3.5",
		`stats pct(requestParameters.x, 99), earliest(eventName) by datefloor(@timestamp, 1d)`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		c, err := logsinsights.Compile(q, logsinsights.Options{})
		if err != nil {
			var se *logsinsights.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%q: error %T %v is not a *SyntaxError", q, err, err)
			}
			if se.StartOffset < 0 || se.EndOffset < se.StartOffset || se.Line < 1 || se.Position < 0 {
				t.Fatalf("%q: bad location %+v", q, se)
			}
			return
		}
		if !strings.HasPrefix(c.SQL, "SELECT ") || len(c.Fields) == 0 && !c.Aggregated {
			t.Fatalf("%q: compiled to %q with fields %q", q, c.SQL, c.Fields)
		}
	})
}
