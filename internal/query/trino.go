package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/duckdb/duckdb-go/v2"
)

// CloudTrail Lake runs Trino SQL; opentrail runs DuckDB. Most of the SQL
// Lake's users write is the same in both (SELECT, CTEs, joins, LIKE,
// BETWEEN, IN, IS DISTINCT FROM, CASE, CAST, TRY_CAST, ||, interval and
// timestamp literals, date_trunc, json_extract, count_if, …). Where a
// Trino function has another name in DuckDB, or the same name with other
// semantics (element_at on a map returns a list in DuckDB, date_diff
// counts boundaries, regexp_replace replaces only the first match, dow
// starts on Sunday), the query gets a DuckDB macro of the Trino name with
// Trino's behaviour.
//
// The macros are created in the query connection's temporary schema, only
// for the Trino names the (already validated) parse tree calls, and are
// dropped when the query ends, so nothing else that uses the pooled
// connection sees them. Their bodies are fixed SQL written here: a query
// cannot define a macro, and the text of the query is never changed, so
// strings, identifiers and result column names stay as written. A temporary
// macro takes precedence over DuckDB's built-in function of the same name;
// a body that needs the built-in calls it as system.main.name.
var trinoMacros = map[string]string{
	// Maps and arrays.
	"element_at": `(ot_c, ot_k) AS ot_c[ot_k]`,
	"cardinality": `(ot_x) AS CASE system.main.json_type(to_json(ot_x))
		WHEN 'OBJECT' THEN len(system.main.json_keys(to_json(ot_x)))
		ELSE system.main.json_array_length(to_json(ot_x)) END`,
	"array_distinct": `(ot_a) AS list_filter(ot_a, lambda ot_x, ot_i: list_position(ot_a, ot_x) = ot_i)`,
	"array_max":      `(ot_a) AS CASE WHEN len(list_filter(ot_a, lambda ot_x: ot_x IS NULL)) > 0 THEN NULL ELSE list_max(ot_a) END`,
	"array_min":      `(ot_a) AS CASE WHEN len(list_filter(ot_a, lambda ot_x: ot_x IS NULL)) > 0 THEN NULL ELSE list_min(ot_a) END`,
	"slice": `(ot_a, ot_s, ot_n) AS CASE
		WHEN ot_s > 0 THEN list_slice(ot_a, ot_s, ot_s + ot_n - 1)
		WHEN len(ot_a) + ot_s < 0 THEN list_slice(ot_a, 1, 0)
		ELSE list_slice(ot_a, len(ot_a) + ot_s + 1, len(ot_a) + ot_s + ot_n) END`,
	"array_join": `(ot_a, ot_sep) AS array_to_string(ot_a, ot_sep),
		(ot_a, ot_sep, ot_null) AS array_to_string(list_transform(ot_a, lambda ot_x: coalesce(CAST(ot_x AS VARCHAR), ot_null)), ot_sep)`,
	"array_position": `(ot_a, ot_x) AS coalesce(list_position(ot_a, ot_x), 0)`,
	"concat":         concatMacro(),

	// JSON. Trino's JSON functions on text that is not JSON return NULL.
	"json_extract_scalar": `(ot_j, ot_p) AS CASE WHEN system.main.json_valid(ot_j)
		AND coalesce(system.main.json_type(ot_j, ot_p) NOT IN ('OBJECT', 'ARRAY'), false)
		THEN system.main.json_extract_string(ot_j, ot_p) END`,
	"json_parse":  `(ot_s) AS CAST(ot_s AS JSON)`,
	"json_format": `(ot_j) AS CAST(json(ot_j) AS VARCHAR)`,
	"json_array_contains": `(ot_j, ot_v) AS CASE WHEN system.main.json_valid(ot_j) AND system.main.json_type(ot_j) = 'ARRAY'
		THEN list_contains(CAST(system.main.json_extract(ot_j, '$[*]') AS VARCHAR[]), CAST(to_json(ot_v) AS VARCHAR)) END`,
	"json_array_get": `(ot_j, ot_i) AS CASE WHEN system.main.json_valid(ot_j) AND system.main.json_type(ot_j) = 'ARRAY'
		THEN system.main.json_extract(ot_j, CASE WHEN ot_i >= 0 THEN '$[' || CAST(ot_i AS VARCHAR) || ']' ELSE '$[#' || CAST(ot_i AS VARCHAR) || ']' END) END`,
	"json_array_length": `(ot_j) AS CASE WHEN system.main.json_valid(ot_j) AND system.main.json_type(ot_j) = 'ARRAY'
		THEN system.main.json_array_length(ot_j) END,
		(ot_j, ot_p) AS system.main.json_array_length(ot_j, ot_p)`,
	"is_json_scalar": `(ot_j) AS system.main.json_type(ot_j) NOT IN ('OBJECT', 'ARRAY')`,
	"json_size": `(ot_j, ot_p) AS CASE WHEN system.main.json_valid(ot_j) THEN CASE system.main.json_type(ot_j, ot_p)
		WHEN 'ARRAY' THEN system.main.json_array_length(ot_j, ot_p)
		WHEN 'OBJECT' THEN len(system.main.json_keys(ot_j, ot_p))
		WHEN NULL THEN NULL ELSE 0 END END`,

	// Dates and times. Timestamps are UTC without a zone, as the
	// eventTime column is. The patterns of date_format and
	// format_datetime are translated to strftime's by Go functions; the
	// '-' keeps an empty pattern (which strftime refuses) writing ''.
	"from_iso8601_timestamp": `(ot_s) AS CAST(ot_s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'`,
	"from_iso8601_date":      `(ot_s) AS CAST(ot_s AS DATE)`,
	"to_iso8601": `(ot_t) AS CASE
		WHEN typeof(ot_t) = 'DATE' THEN strftime(CAST(ot_t AS DATE), '%Y-%m-%d')
		WHEN typeof(ot_t) = 'TIMESTAMP WITH TIME ZONE' THEN strftime(CAST(ot_t AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ')
		ELSE strftime(CAST(ot_t AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%g') END`,
	"date_diff":         `(ot_u, ot_a, ot_b) AS system.main.date_sub(ot_u, ot_a, ot_b)`,
	"date_add":          `(ot_u, ot_n, ot_t) AS ot_t + CAST(CAST(ot_n AS VARCHAR) || ' ' || ot_u AS INTERVAL)`,
	"date_format":       `(ot_t, ot_f) AS substr(strftime(ot_t, '-' || ` + mysqlFmtFunc + `(ot_f)), 2)`,
	"format_datetime":   `(ot_t, ot_f) AS substr(strftime(ot_t, '-' || ` + jodaFmtFunc + `(ot_f)), 2)`,
	"date_parse":        `(ot_s, ot_f) AS ` + dateParseFunc + `(ot_s, ot_f)`,
	"parse_datetime":    `(ot_s, ot_f) AS ` + parseDatetimeFunc + `(ot_s, ot_f)`,
	"from_unixtime":     `(ot_n) AS make_timestamp(CAST(CAST(ot_n AS DOUBLE) * 1000000 AS BIGINT))`,
	"to_unixtime":       `(ot_t) AS epoch_us(ot_t) / 1000000.0`,
	"day_of_week":       `(ot_t) AS isodow(ot_t)`,
	"dow":               `(ot_t) AS isodow(ot_t)`,
	"day_of_year":       `(ot_t) AS dayofyear(ot_t)`,
	"doy":               `(ot_t) AS dayofyear(ot_t)`,
	"day_of_month":      `(ot_t) AS dayofmonth(ot_t)`,
	"year_of_week":      `(ot_t) AS isoyear(ot_t)`,
	"yow":               `(ot_t) AS isoyear(ot_t)`,
	"week_of_year":      `(ot_t) AS weekofyear(ot_t)`,
	"last_day_of_month": `(ot_t) AS last_day(ot_t)`,

	// Strings and regular expressions. DuckDB's regular expressions are
	// RE2's; look-around and back-references, which Trino's engine takes,
	// are refused with RE2's reason.
	"regexp_like": `(ot_s, ot_p) AS regexp_matches(ot_s, ot_p)`,
	"regexp_extract": `(ot_s, ot_p) AS CASE WHEN regexp_matches(ot_s, ot_p) THEN system.main.regexp_extract(ot_s, ot_p, 0) END,
		(ot_s, ot_p, ot_g) AS CASE WHEN regexp_matches(ot_s, ot_p) THEN system.main.regexp_extract(ot_s, ot_p, ot_g) END`,
	"regexp_replace": `(ot_s, ot_p) AS system.main.regexp_replace(ot_s, ot_p, '', 'g'),
		(ot_s, ot_p, ot_r) AS system.main.regexp_replace(ot_s, ot_p, system.main.regexp_replace(ot_r, '\$(\d)', '\\\1', 'g'), 'g')`,

	// Aggregates.
	// approx_distinct counts exactly: DuckDB's estimate is off by one
	// already at six values, where Trino's sparse HyperLogLog is exact.
	"approx_distinct": `(ot_x) AS count(DISTINCT ot_x),
		(ot_x, ot_e) AS count(DISTINCT ot_x)`,
	"approx_percentile": `(ot_x, ot_p) AS approx_quantile(ot_x, ot_p)`,
}

// concatMacro is Trino's concat: NULL if any argument is NULL (DuckDB's
// concat skips NULLs), strings or arrays, 1 to 16 arguments.
func concatMacro() string {
	defs := []string{"(ot_1) AS ot_1"}
	params := []string{"ot_1"}
	for n := 2; n <= 16; n++ {
		params = append(params, fmt.Sprintf("ot_%d", n))
		defs = append(defs, "("+strings.Join(params, ", ")+") AS "+strings.Join(params, " || "))
	}
	return strings.Join(defs, ",\n")
}

// Go functions the macros use to translate date patterns. Queries cannot
// call them (validate refuses the internal prefix).
const (
	mysqlFmtFunc = internalPrefix + "mysql_datefmt"
	jodaFmtFunc  = internalPrefix + "joda_datefmt"
	// dateParseFunc and parseDatetimeFunc parse text by a MySQL or Joda
	// pattern in Go: DuckDB's strptime takes only a constant pattern.
	dateParseFunc     = internalPrefix + "date_parse"
	parseDatetimeFunc = internalPrefix + "parse_datetime"
)

// isTrinoFunction reports whether name (any case) is a Trino function
// opentrail maps onto DuckDB with a macro.
func isTrinoFunction(name string) bool {
	_, ok := trinoMacros[strings.ToLower(name)]
	return ok
}

// installTrino creates the macros for the Trino functions in names on
// conn and returns the function that drops them again; it must be called
// before conn goes back to the pool. If dropping fails, the connection is
// discarded rather than reused.
func installTrino(ctx context.Context, db *sql.DB, conn *sql.Conn, names []string) (func(), error) {
	if len(names) == 0 {
		return func() {}, nil
	}
	if err := ensureTrinoUDFs(db, conn); err != nil {
		return nil, err
	}
	var made []string
	drop := func() {
		for _, n := range made {
			if _, err := conn.ExecContext(context.Background(), `DROP MACRO IF EXISTS temp.main.`+quoteIdent(n)); err != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn })
				return
			}
		}
	}
	names = slices.Clone(names)
	slices.Sort(names)
	for _, n := range names {
		defs, ok := trinoMacros[n]
		if !ok {
			continue
		}
		if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP MACRO `+quoteIdent(n)+defs); err != nil {
			drop()
			return nil, fmt.Errorf("define %s: %w", n, err)
		}
		made = append(made, n)
	}
	return drop, nil
}

// formatUDF is a VARCHAR → VARCHAR function translating a date pattern.
type formatUDF struct {
	translate func(string) (string, error)
}

func (*formatUDF) Config() duckdb.ScalarFuncConfig {
	varchar, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{varchar}, ResultTypeInfo: varchar}
}

func (u *formatUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(args []driver.Value) (any, error) {
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("date pattern: unexpected argument type %T", args[0])
		}
		return u.translate(s)
	}}
}

// parseUDF is (text VARCHAR, pattern VARCHAR) → TIMESTAMP, parsing text
// by a Trino pattern.
type parseUDF struct {
	translate func(string) (string, error)
}

func (*parseUDF) Config() duckdb.ScalarFuncConfig {
	varchar, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	ts, _ := duckdb.NewTypeInfo(duckdb.TYPE_TIMESTAMP)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{varchar, varchar}, ResultTypeInfo: ts}
}

func (u *parseUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(args []driver.Value) (any, error) {
		s, ok1 := args[0].(string)
		p, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("parse time: unexpected argument types %T, %T", args[0], args[1])
		}
		pattern, err := u.translate(p)
		if err != nil {
			return nil, err
		}
		return strptime(s, pattern)
	}}
}

var (
	trinoUDFMu  sync.Mutex
	trinoUDFsOn = map[*sql.DB]bool{}
)

// ensureTrinoUDFs registers the pattern-translating functions on conn's
// database once (DuckDB keeps them in its catalog for every connection).
func ensureTrinoUDFs(db *sql.DB, conn *sql.Conn) error {
	trinoUDFMu.Lock()
	defer trinoUDFMu.Unlock()
	if trinoUDFsOn[db] {
		return nil
	}
	for name, f := range map[string]func(string) (string, error){
		mysqlFmtFunc: mysqlToStrftime,
		jodaFmtFunc:  jodaToStrftime,
	} {
		if err := duckdb.RegisterScalarUDF(conn, name, &formatUDF{translate: f}); err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
	}
	for name, f := range map[string]func(string) (string, error){
		dateParseFunc:     mysqlToStrftime,
		parseDatetimeFunc: jodaToStrptime,
	} {
		if err := duckdb.RegisterScalarUDF(conn, name, &parseUDF{translate: f}); err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
	}
	trinoUDFsOn[db] = true
	return nil
}
