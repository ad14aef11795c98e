package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/store"
)

// calledFunctions parses q with DuckDB and lists the functions it calls as
// catalog.schema.name (empty parts left empty).
func calledFunctions(t *testing.T, conn *sql.Conn, q string) []string {
	t.Helper()
	var tree string
	if err := conn.QueryRowContext(context.Background(), `SELECT json_serialize_sql(?::VARCHAR)::VARCHAR`, q).Scan(&tree); err != nil {
		t.Fatal(err)
	}
	var root any
	if err := json.Unmarshal([]byte(tree), &root); err != nil {
		t.Fatal(err)
	}
	if m, _ := root.(map[string]any); m["error"] == true {
		t.Fatalf("parse %s: %v", q, m["error_message"])
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			if v["class"] == "FUNCTION" {
				out = append(out, v["catalog"].(string)+"."+v["schema"].(string)+"."+v["function_name"].(string))
			}
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(root)
	return out
}

func openTestStore(t *testing.T) (*store.Store, *sql.Conn) {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	conn, err := st.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return st, conn
}

// TestTrinoMacrosDropped: the macros exist only while the query runs; the
// pooled connection gets DuckDB's own functions back.
func TestTrinoMacrosDropped(t *testing.T) {
	st, conn := openTestStore(t)
	ctx := context.Background()
	drop, err := installTrino(ctx, st.DB(), conn, slices.Collect(maps.Keys(trinoMacros)))
	if err != nil {
		t.Fatal(err)
	}
	var v string
	if err := conn.QueryRowContext(ctx, `SELECT element_at(MAP {'k': 'v'}, 'k')`).Scan(&v); err != nil || v != "v" {
		t.Fatalf("element_at with the macros = %q, %v; want v", v, err)
	}
	drop()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_functions() WHERE database_name = 'temp'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d temporary functions left after the query (%v)", n, err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT CAST(element_at(MAP {'k': 'v'}, 'k') AS VARCHAR)`).Scan(&v); err != nil || v != "[v]" {
		t.Fatalf("element_at after the query = %q, %v; want DuckDB's [v]", v, err)
	}
}

// TestTrinoMacroBodies: a body calls a function that a Trino macro shadows
// only as system.main.name (DuckDB's built-in), never itself or another
// macro by accident.
func TestTrinoMacroBodies(t *testing.T) {
	st, conn := openTestStore(t)
	ctx := context.Background()
	drop, err := installTrino(ctx, st.DB(), conn, slices.Collect(maps.Keys(trinoMacros)))
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	rows, err := conn.QueryContext(ctx, `SELECT function_name, macro_definition FROM duckdb_functions() WHERE database_name = 'temp'`)
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string][]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		defs[name] = append(defs[name], def)
	}
	rows.Close()
	for name := range trinoMacros {
		if len(defs[name]) == 0 {
			t.Errorf("macro %s was not created", name)
		}
	}
	for name, ds := range defs {
		for _, def := range ds {
			for _, f := range calledFunctions(t, conn, "SELECT "+def) {
				parts := strings.SplitN(f, ".", 3)
				if _, shadowed := trinoMacros[strings.ToLower(parts[2])]; shadowed && parts[0] != "system" {
					t.Errorf("macro %s calls %s unqualified: %s", name, parts[2], def)
				}
			}
		}
	}
}

// TestViewCallsNoTrinoName: the event view must not call a function a
// Trino macro shadows, or a query using that name would change the view.
func TestViewCallsNoTrinoName(t *testing.T) {
	_, conn := openTestStore(t)
	for _, opts := range []Options{{AllAccounts: true}, {Accounts: []string{"111111111111"}}} {
		for _, f := range calledFunctions(t, conn, viewSQL(opts, []string{"/data/columnar/account=1/region=r/date=2026-01-01/part.parquet"})) {
			name := f[strings.LastIndexByte(f, '.')+1:]
			if isTrinoFunction(name) {
				t.Errorf("the event view calls %s, which a Trino macro shadows; qualify it as system.main.%s", f, name)
			}
		}
	}
}

// TestDatePatterns: Trino's MySQL and Joda patterns become strftime's.
func TestDatePatterns(t *testing.T) {
	for in, want := range map[string]string{
		"%Y-%m-%d %H:%i:%s": "%Y-%m-%d %H:%M:%S",
		"%W, %M %e %r":      "%A, %B %-d %I:%M:%S %p",
		"%c/%k/%l %T %x-%v": "%-m/%-H/%-I %H:%M:%S %G-%V",
		"100%% %f":          "100%% %f",
		"%-":                "-",
	} {
		got, err := mysqlToStrftime(in)
		if err != nil || got != want {
			t.Errorf("mysqlToStrftime(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"%D", "%U", "%q", "%"} {
		if _, err := mysqlToStrftime(bad); err == nil {
			t.Errorf("mysqlToStrftime(%q) succeeded", bad)
		}
	}
	for in, want := range map[string]string{
		"yyyy-MM-dd'T'HH:mm:ss.SSS":  "%Y-%m-%dT%H:%M:%S.%g",
		"EEEE, d MMM yy h:mm a":      "%A, %-d %b %y %-I:%M %p",
		"EEE MMMM D DDD":             "%a %B %-j %j",
		"'It''s' '' H:m:s SSSSSS Z":  "It's ' %-H:%-M:%-S %f +0000",
		"xxxx-'W'ww-e ZZ z zzzz 50%": "%G-W%V-%u +00:00 UTC Coordinated Universal Time 50%%",
	} {
		got, err := jodaToStrftime(in)
		if err != nil || got != want {
			t.Errorf("jodaToStrftime(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"'open", "SS", "k", "G"} {
		if _, err := jodaToStrftime(bad); err == nil {
			t.Errorf("jodaToStrftime(%q) succeeded", bad)
		}
	}
}
