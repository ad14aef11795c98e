package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// TableName is the name queries read events from. A name in the form of
// an event data store ID (a UUID, as CloudTrail Lake's FROM clause takes)
// means the same table, so Lake queries run unchanged.
const TableName = "cloudtrail_events"

// InvalidQueryError is a query refused before it ran: not exactly one
// SELECT statement, a reference to something other than the event table,
// or SQL DuckDB cannot parse.
type InvalidQueryError struct {
	Reason string
}

func (e *InvalidQueryError) Error() string { return "invalid query: " + e.Reason }

func invalidf(format string, args ...any) error {
	return &InvalidQueryError{Reason: fmt.Sprintf(format, args...)}
}

var (
	uuidName  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// IsEventDataStoreID reports whether name has the form of an event data
// store id (a UUID), which a query may use to name the event table.
func IsEventDataStoreID(name string) bool { return uuidName.MatchString(name) }

// allowedTableFuncs are the table functions a query may use in FROM: they
// produce rows from their arguments and touch nothing else.
var allowedTableFuncs = map[string]bool{
	"unnest": true, "range": true, "generate_series": true,
	"json_each": true, "json_tree": true,
}

// deniedFuncs are scalar functions that read server state.
var deniedFuncs = map[string]bool{
	"getenv": true, "getvariable": true, "current_setting": true,
}

// allowedRefTypes are the kinds of FROM items a query may use.
var allowedRefTypes = map[string]bool{
	"BASE_TABLE": true, "JOIN": true, "SUBQUERY": true, "TABLE_FUNCTION": true,
	"EXPRESSION_LIST": true, "EMPTY": true, "PIVOT": true,
}

// checked is what validation learned about a query.
type checked struct {
	sql      string   // the statement to run (bare event data store IDs quoted)
	idTables []string // event data store IDs used as table names
	trino    []string // Trino functions the query calls (see trino.go)
}

// validate parses q with DuckDB and refuses anything but one SELECT (or
// WITH … SELECT) statement that reads only the event table, its own
// common table expressions and harmless table functions (unnest, range,
// generate_series, json_each, json_tree).
//
// The checks are made on DuckDB's own parse tree (json_serialize_sql, which
// serialises only SELECT statements), not on the text: every FROM item
// that names a table must name the event table, an event data store ID or
// a CTE of the query, without schema or catalog; a CTE may not be named
// like any table or view in the database, so a reference outside its scope
// cannot reach one.
func validate(ctx context.Context, conn *sql.Conn, q string) (*checked, error) {
	if strings.TrimSpace(q) == "" {
		return nil, invalidf("the query statement is empty")
	}
	if !utf8.ValidString(q) || strings.IndexByte(q, 0) >= 0 {
		return nil, invalidf("the query statement is not valid UTF-8 text")
	}
	q = quoteBareIDs(q)
	var tree string
	if err := conn.QueryRowContext(ctx, `SELECT json_serialize_sql(?::VARCHAR)::VARCHAR`, q).Scan(&tree); err != nil {
		return nil, fmt.Errorf("parse query: %w", err)
	}
	var doc struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(tree), &doc); err != nil {
		return nil, fmt.Errorf("parse query: decode parse tree: %w", err)
	}
	if doc.Error {
		if strings.Contains(doc.ErrorMessage, "Only SELECT statements") {
			return nil, invalidf("only a single SELECT statement is allowed")
		}
		return nil, invalidf("%s", doc.ErrorMessage)
	}
	if len(doc.Statements) != 1 {
		return nil, invalidf("only a single SELECT statement is allowed, got %d statements", len(doc.Statements))
	}
	var root any
	if err := json.Unmarshal(doc.Statements[0], &root); err != nil {
		return nil, fmt.Errorf("parse query: decode parse tree: %w", err)
	}
	w := &walker{ctes: map[string]bool{}, ids: map[string]bool{}, trino: map[string]bool{}}
	w.walk(root)
	w.finish()
	if w.err != nil {
		return nil, w.err
	}
	if len(w.ctes) > 0 {
		// A CTE named like a catalog object would make a reference
		// outside the CTE's scope resolve to that object.
		rows, err := conn.QueryContext(ctx, `SELECT lower(table_name) FROM duckdb_tables() UNION SELECT lower(view_name) FROM duckdb_views()`)
		if err != nil {
			return nil, fmt.Errorf("list catalog names: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				return nil, fmt.Errorf("list catalog names: %w", err)
			}
			if w.ctes[name] && name != TableName && !uuidName.MatchString(name) {
				return nil, invalidf("the common table expression %q has the name of a system table; choose another name", name)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list catalog names: %w", err)
		}
	}
	c := &checked{sql: q}
	for id := range w.ids {
		c.idTables = append(c.idTables, id)
	}
	for name := range w.trino {
		c.trino = append(c.trino, name)
	}
	return c, nil
}

// walker checks a serialised parse tree.
type walker struct {
	ctes  map[string]bool // lower-cased CTE names defined anywhere
	ids   map[string]bool // event data store IDs used as tables
	names []string        // table names to check once every CTE is known
	trino map[string]bool // Trino functions called (lower case)
	err   error
}

func (w *walker) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *walker) walk(v any) {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			w.walk(x)
		}
	case map[string]any:
		w.object(v)
		for k, x := range v {
			if k == "cte_map" {
				w.cteMap(x)
			}
			w.walk(x)
		}
	}
}

func (w *walker) cteMap(v any) {
	m, _ := v.(map[string]any)
	entries, _ := m["map"].([]any)
	for _, e := range entries {
		em, _ := e.(map[string]any)
		name, _ := em["key"].(string)
		if !plainName.MatchString(name) && !uuidName.MatchString(name) {
			w.fail(invalidf("the common table expression name %q must be a plain identifier", name))
		}
		w.ctes[strings.ToLower(name)] = true
	}
}

func (w *walker) object(m map[string]any) {
	typ, _ := m["type"].(string)
	_, hasSample := m["sample"]
	_, isNode := m["modifiers"] // SELECT_NODE, SET_OPERATION_NODE, …
	if hasSample && !isNode && m["class"] == nil {
		if !allowedRefTypes[typ] {
			w.fail(invalidf("%s is not allowed in FROM", strings.ToLower(strings.ReplaceAll(typ, "_", " "))))
			return
		}
		if at, ok := m["at_clause"]; ok && at != nil {
			w.fail(invalidf("AT clauses are not allowed"))
		}
	}
	switch {
	case typ == "BASE_TABLE":
		schema, _ := m["schema_name"].(string)
		catalog, _ := m["catalog_name"].(string)
		name, _ := m["table_name"].(string)
		if schema != "" || catalog != "" {
			w.fail(invalidf("table %q: queries read only %s (no schema or catalog)", qualified(catalog, schema, name), TableName))
			return
		}
		w.names = append(w.names, name)
	case typ == "TABLE_FUNCTION":
		fn, _ := m["function"].(map[string]any)
		name, _ := fn["function_name"].(string)
		if !allowedTableFuncs[strings.ToLower(name)] {
			w.fail(invalidf("table function %s is not allowed; queries read only %s", name, TableName))
		}
	case m["class"] == "FUNCTION":
		name, _ := m["function_name"].(string)
		schema, _ := m["schema"].(string)
		catalog, _ := m["catalog"].(string)
		lname := strings.ToLower(name)
		if strings.HasPrefix(lname, internalPrefix) || deniedFuncs[lname] {
			w.fail(invalidf("function %s is not allowed", name))
		}
		// DuckDB's parser writes list and struct literals, MAP {…},
		// comprehensions and slices as calls of main.list_value,
		// main.struct_pack, … (schema main, no catalog), the same as
		// a user's main.f: that reaches nothing the unqualified name
		// does not. Any other qualifier could name another catalog
		// (system, temp, an attached database) or schema.
		if catalog != "" || schema != "" && !strings.EqualFold(schema, "main") {
			w.fail(invalidf("function %s: qualified function names are not allowed", qualified(catalog, schema, name)))
		}
		if isTrinoFunction(lname) {
			w.trino[lname] = true
		}
	}
}

// finish checks the table names collected during the walk.
func (w *walker) finish() {
	for _, name := range w.names {
		l := strings.ToLower(name)
		switch {
		case l == TableName:
		case uuidName.MatchString(name):
			w.ids[l] = true
		case w.ctes[l]:
		default:
			w.fail(invalidf("table %q is not allowed; queries read only %s (or the event data store ID)", name, TableName))
		}
	}
}

func qualified(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

// quoteBareIDs puts double quotes around UUID-shaped words outside string
// literals, quoted identifiers and comments, so that CloudTrail Lake's
// `FROM 0a1b2c3d-…` parses: DuckDB needs such a name quoted. It changes
// nothing else.
func quoteBareIDs(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) {
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(q))
			b.WriteString(q[i:end])
			i = end
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			end := len(q)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(q[i:end])
			i = end
		case isWordByte(c) && (i == 0 || !isWordByte(q[i-1])):
			j := i
			for j < len(q) && (isWordByte(q[j]) || q[j] == '-') {
				j++
			}
			word := q[i:j]
			if len(word) >= 36 && uuidName.MatchString(word[:36]) && (len(word) == 36) {
				b.WriteString(`"` + word + `"`)
				i = j
				continue
			}
			// Not an ID: copy the leading word only ('-' may be minus).
			k := i
			for k < len(q) && isWordByte(q[k]) {
				k++
			}
			b.WriteString(q[i:k])
			i = k
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
