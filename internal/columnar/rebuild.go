package columnar

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Rebuild returns the record whose shredded values are vals: one row of
// SelectList's columns as database/sql scans them into *any values (string
// or []byte for VARCHAR, bool, time.Time, map[string]any for STRUCT, nil for
// NULL). Row.Values' output is accepted too. An error means vals are not a
// row Shred wrote: a missing column or a placeholder whose column is NULL
// or of the wrong type.
func Rebuild(vals []any) ([]byte, error) {
	if len(vals) != len(Columns) {
		return nil, fmt.Errorf("rebuild record: %d values, want %d (columnar.SelectList's columns)", len(vals), len(Columns))
	}
	tpl, ok := asText(vals[len(vals)-1])
	if !ok {
		return nil, fmt.Errorf("rebuild record: %s is %T, want a string", TemplateColumn, vals[len(vals)-1])
	}
	if strings.HasPrefix(tpl, "\x01\x02") {
		b, err := base64.StdEncoding.DecodeString(tpl[2:])
		if err != nil {
			return nil, fmt.Errorf("rebuild record: whole-record %s: %w", TemplateColumn, err)
		}
		return b, nil
	}
	leaf := make([]any, nLeaves)
	for i, f := range schema {
		if err := collect(f, vals[i], leaf); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, 2*len(tpl))
	for {
		j := strings.IndexByte(tpl, marker)
		if j < 0 {
			return append(out, tpl...), nil
		}
		out = append(out, tpl[:j]...)
		if j+1 == len(tpl) || tpl[j+1] < tagBase || int(tpl[j+1]-tagBase) >= nLeaves {
			return nil, fmt.Errorf("rebuild record: bad placeholder at byte %d of %s", len(out), TemplateColumn)
		}
		f := leaves[tpl[j+1]-tagBase]
		var err error
		if out, err = appendLeaf(out, f, leaf[f.leaf]); err != nil {
			return nil, err
		}
		tpl = tpl[j+2:]
	}
}

// collect stores v, the value of f's column or struct member, into leaf.
func collect(f *field, v any, leaf []any) error {
	if f.kind != kStruct {
		leaf[f.leaf] = v
		return nil
	}
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("rebuild record: %s is %T, want a STRUCT (map[string]any)", f.name, v)
	}
	for _, s := range f.sub {
		if err := collect(s, m[s.name], leaf); err != nil {
			return err
		}
	}
	return nil
}

func appendLeaf(b []byte, f *field, v any) ([]byte, error) {
	switch f.kind {
	case kString:
		if s, ok := asText(v); ok {
			return appendString(b, s), nil
		}
	case kJSON:
		if s, ok := asText(v); ok {
			return append(b, s...), nil
		}
	case kBool:
		if t, ok := v.(bool); ok {
			if t {
				return append(b, "true"...), nil
			}
			return append(b, "false"...), nil
		}
	case kTime:
		if t, ok := v.(time.Time); ok {
			b = append(b, '"')
			b = t.UTC().AppendFormat(b, timeLayout)
			return append(b, '"'), nil
		}
	}
	return nil, fmt.Errorf("rebuild record: the template has a placeholder for %s but its value is %T", f.name, v)
}

func asText(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}
