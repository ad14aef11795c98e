package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// JSON values reach Go as text. The DuckDB driver decodes every value of
// type JSON with encoding/json into float64 numbers, which fails on a
// valid number beyond float64 (1e999999) and rewrites others
// (123456789012345678901234567890, 1E+2, -0). So before a query whose
// result holds JSON runs, its JSON values are cast to VARCHAR inside
// DuckDB, which keeps the text as stored, and the shape of the result
// (which positions were JSON) tells format to embed that text unchanged.

// shape marks where a result column holds JSON; nil means nowhere.
type shape struct {
	json   bool
	elem   *shape            // LIST or ARRAY element
	fields map[string]*shape // STRUCT fields
	key    *shape            // MAP key
	value  *shape            // MAP value
}

// shapeOf returns info's JSON positions, nil if it has none. A UNION
// holding JSON is cast whole to VARCHAR (see convExpr), so it is reported
// as JSON-free.
func shapeOf(info duckdb.TypeInfo) *shape {
	if info.Alias() == "JSON" {
		return &shape{json: true}
	}
	switch d := info.Details().(type) {
	case *duckdb.ListDetails:
		if e := shapeOf(d.Child); e != nil {
			return &shape{elem: e}
		}
	case *duckdb.ArrayDetails:
		if e := shapeOf(d.Child); e != nil {
			return &shape{elem: e}
		}
	case *duckdb.MapDetails:
		k, v := shapeOf(d.Key), shapeOf(d.Value)
		if k != nil || v != nil {
			return &shape{key: k, value: v}
		}
	case *duckdb.StructDetails:
		var fields map[string]*shape
		for _, e := range d.Entries {
			if s := shapeOf(e.Info()); s != nil {
				if fields == nil {
					fields = map[string]*shape{}
				}
				fields[e.Name()] = s
			}
		}
		if fields != nil {
			return &shape{fields: fields}
		}
	}
	return nil
}

// hasJSON reports whether info holds JSON anywhere, UNION members included.
func hasJSON(info duckdb.TypeInfo) bool {
	if info.Alias() == "JSON" {
		return true
	}
	switch d := info.Details().(type) {
	case *duckdb.ListDetails:
		return hasJSON(d.Child)
	case *duckdb.ArrayDetails:
		return hasJSON(d.Child)
	case *duckdb.MapDetails:
		return hasJSON(d.Key) || hasJSON(d.Value)
	case *duckdb.StructDetails:
		for _, e := range d.Entries {
			if hasJSON(e.Info()) {
				return true
			}
		}
	case *duckdb.UnionDetails:
		for _, m := range d.Members {
			if hasJSON(m.Type) {
				return true
			}
		}
	}
	return false
}

// convExpr is a DuckDB expression turning expr, of type info, into the same
// value with every JSON in it cast to VARCHAR. depth names lambda
// parameters apart.
func convExpr(expr string, info duckdb.TypeInfo, depth int) string {
	if !hasJSON(info) {
		return expr
	}
	if info.Alias() == "JSON" {
		return "CAST(" + expr + " AS VARCHAR)"
	}
	x := fmt.Sprintf("ot_x%d", depth)
	switch d := info.Details().(type) {
	case *duckdb.ListDetails:
		return "list_transform(" + expr + ", lambda " + x + ": " + convExpr(x, d.Child, depth+1) + ")"
	case *duckdb.ArrayDetails:
		return "list_transform(" + expr + ", lambda " + x + ": " + convExpr(x, d.Child, depth+1) + ")"
	case *duckdb.MapDetails:
		return "map_from_entries(list_transform(map_entries(" + expr + "), lambda " + x + ": struct_pack(key := " +
			convExpr(x+".key", d.Key, depth+1) + ", value := " + convExpr(x+".value", d.Value, depth+1) + ")))"
	case *duckdb.StructDetails:
		parts := make([]string, len(d.Entries))
		for i, e := range d.Entries {
			parts[i] = quoteIdent(e.Name()) + " := " + convExpr("struct_extract("+expr+", "+quoteString(e.Name())+")", e.Info(), depth+1)
		}
		return "CASE WHEN " + expr + " IS NULL THEN NULL ELSE struct_pack(" + strings.Join(parts, ", ") + ") END"
	}
	// A UNION with a JSON member: its text.
	return "CAST(" + expr + " AS VARCHAR)"
}

// resultShapes prepares q on conn (binding it, not running it) and
// returns, when its result holds JSON, the statement to run instead: q's
// columns, in order and under their names, with JSON cast to VARCHAR; and
// each column's shape for format. ok is false when q's result has no JSON
// or its types cannot be read; q then runs as written.
func resultShapes(ctx context.Context, conn *sql.Conn, q string) (wrapped string, shapes []*shape, ok bool, err error) {
	var (
		names []string
		infos []duckdb.TypeInfo
	)
	err = conn.Raw(func(dc any) error {
		pc, isPC := dc.(driver.ConnPrepareContext)
		if !isPC {
			return nil
		}
		st, err := pc.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer st.Close()
		ds, isDS := st.(*duckdb.Stmt)
		if !isDS {
			return nil
		}
		n, err := ds.ColumnCount()
		if err != nil {
			return nil
		}
		for i := 0; i < n; i++ {
			name, err1 := ds.ColumnName(i)
			info, err2 := ds.ColumnTypeInfo(i)
			if err1 != nil || err2 != nil {
				names, infos = nil, nil
				return nil
			}
			names, infos = append(names, name), append(infos, info)
		}
		return nil
	})
	if err != nil {
		return "", nil, false, err
	}
	found := false
	for _, info := range infos {
		found = found || hasJSON(info)
	}
	if !found {
		return "", nil, false, nil
	}
	cols := make([]string, len(infos))
	sel := make([]string, len(infos))
	shapes = make([]*shape, len(infos))
	for i, info := range infos {
		cols[i] = fmt.Sprintf("c%d", i+1)
		sel[i] = convExpr("ot_q."+cols[i], info, 0) + " AS " + quoteIdent(names[i])
		shapes[i] = shapeOf(info)
	}
	// query() takes q as one string, so a trailing semicolon or comment
	// in q stays q's own; the alias list renames q's columns by position.
	wrapped = "SELECT " + strings.Join(sel, ", ") + " FROM query(" + quoteString(q) + ") AS ot_q(" + strings.Join(cols, ", ") + ")"
	return wrapped, shapes, true, nil
}
