package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// format renders a DuckDB value as CloudTrail Lake does: everything a
// string, NULL empty; lists, maps and structs as JSON. sh marks where the
// value held JSON, which arrives as its text (see resultShapes) and is
// written as that text, compacted, its numbers exactly as stored.
func format(v any, sh *shape) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		if sh != nil && sh.json {
			return compactJSON(v)
		}
		return v
	case []byte:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64, int, uint:
		return fmt.Sprint(v)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case *big.Int:
		return v.String()
	case time.Time:
		return v.UTC().Format("2006-01-02 15:04:05.000")
	case duckdb.Decimal:
		return v.String()
	case duckdb.Map, duckdb.OrderedMap, []any, map[string]any:
		return marshal(jsonable(v, sh))
	default:
		return fmt.Sprint(v)
	}
}

// jsonable converts nested DuckDB values into what encoding/json writes
// naturally (map keys as strings, times as Lake's text, JSON text as
// itself, MAP entries in their order).
func jsonable(v any, sh *shape) any {
	var elem, value *shape
	if sh != nil {
		elem, value = sh.elem, sh.value
	}
	switch v := v.(type) {
	case string:
		if sh != nil && sh.json && json.Valid([]byte(v)) {
			return json.RawMessage(v)
		}
		return v
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = jsonable(x, elem)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			var f *shape
			if sh != nil {
				f = sh.fields[k]
			}
			out[k] = jsonable(x, f)
		}
		return out
	case duckdb.OrderedMap:
		keys, vals := v.Keys(), v.Values()
		o := orderedObject{keys: make([]string, len(keys)), vals: make([]any, len(vals))}
		for i := range keys {
			o.keys[i] = mapKey(keys[i])
			o.vals[i] = jsonable(vals[i], value)
		}
		return o
	case duckdb.Map:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[mapKey(k)] = jsonable(x, value)
		}
		return out
	case time.Time, duckdb.Decimal, *big.Int, []byte:
		return format(v, nil)
	default:
		return v
	}
}

// mapKey is a MAP key as a JSON object member name.
func mapKey(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	return format(k, nil)
}

// orderedObject is a JSON object whose members keep their order.
type orderedObject struct {
	keys []string
	vals []any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := encode(k)
		if err != nil {
			return nil, err
		}
		vb, err := encode(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// compactJSON is s without insignificant space; s itself if it is not
// JSON.
func compactJSON(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

func marshal(v any) string {
	b, err := encode(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// encode is json.Marshal without escaping <, > and &, so text comes back
// as it was stored.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
