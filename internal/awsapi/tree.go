package awsapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// The query (XML) and CBOR encoders write an operation's output from one
// reflection of it: a tree of the values below, keeping what the JSON
// encoding would send (json tags, omitempty, nil members left out) and
// what JSON loses (which members are timestamps, blobs, maps or
// structures).
type (
	// object is a structure: its members in declaration order.
	object []member
	member struct {
		name string
		v    any
	}
	// mapValue is a map (string keys).
	mapValue map[string]any
	// list is a list.
	list []any
	// stamp is a timestamp.
	stamp time.Time
	// blob is a byte string.
	blob []byte
	// number is a JSON number of a type the tree does not know (from a
	// json.Marshaler).
	number string
)

var (
	timeType      = reflect.TypeFor[Time]()
	stdTimeType   = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	rawType       = reflect.TypeFor[json.RawMessage]()
)

// maxTreeDepth bounds the output tree (outputs are acyclic in practice;
// the bound turns a cycle into an error instead of a crash).
const maxTreeDepth = 100

// toTree reflects v. ok is false for values left out (nil pointers,
// maps, slices and interfaces).
func toTree(v reflect.Value, depth int) (t any, ok bool, err error) {
	if depth > maxTreeDepth {
		return nil, false, fmt.Errorf("output nests deeper than %d levels", maxTreeDepth)
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, false, nil
		}
		v = v.Elem()
	}
	switch v.Type() {
	case timeType:
		tm := v.Interface().(Time)
		if tm.IsZero() {
			return nil, false, nil
		}
		return stamp(tm.Time), true, nil
	case stdTimeType:
		return stamp(v.Interface().(time.Time)), true, nil
	case rawType:
		if v.Len() == 0 {
			return nil, false, nil
		}
		return fromJSON(v.Bytes(), depth)
	}
	if v.Type().Implements(marshalerType) || reflect.PointerTo(v.Type()).Implements(marshalerType) && v.CanAddr() {
		var m json.Marshaler
		if v.Type().Implements(marshalerType) {
			m = v.Interface().(json.Marshaler)
		} else {
			m = v.Addr().Interface().(json.Marshaler)
		}
		b, err := m.MarshalJSON()
		if err != nil {
			return nil, false, err
		}
		return fromJSON(b, depth)
	}
	if v.Type().Implements(textMarshaler) && v.Kind() != reflect.String {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return nil, false, err
		}
		return string(b), true, nil
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), true, nil
	case reflect.Bool:
		return v.Bool(), true, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), true, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint(), true, nil
	case reflect.Float32, reflect.Float64:
		return v.Float(), true, nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, false, nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return blob(bytes.Clone(v.Bytes())), true, nil
		}
		l := make(list, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			e, ok, err := toTree(v.Index(i), depth+1)
			if err != nil {
				return nil, false, err
			}
			if ok {
				l = append(l, e)
			}
		}
		return l, true, nil
	case reflect.Map:
		if v.IsNil() {
			return nil, false, nil
		}
		m := make(mapValue, v.Len())
		it := v.MapRange()
		for it.Next() {
			k := it.Key()
			if k.Kind() != reflect.String {
				return nil, false, fmt.Errorf("map key of type %s: only string keys can be encoded", k.Type())
			}
			e, ok, err := toTree(it.Value(), depth+1)
			if err != nil {
				return nil, false, err
			}
			if ok {
				m[k.String()] = e
			}
		}
		return m, true, nil
	case reflect.Struct:
		o := object{}
		if err := structMembers(v, depth, &o); err != nil {
			return nil, false, err
		}
		return o, true, nil
	}
	return nil, false, fmt.Errorf("cannot encode a value of type %s", v.Type())
}

// structMembers appends v's members to o, as encoding/json names them:
// the json tag's name (else the field name), omitempty honoured,
// embedded structs' members promoted.
func structMembers(v reflect.Value, depth int, o *object) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := structMembers(fv, depth, o); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if hasOpt(opts, "omitempty") && isEmptyValue(fv) {
			continue
		}
		e, ok, err := toTree(fv, depth+1)
		if err != nil {
			return err
		}
		if ok {
			*o = append(*o, member{name: name, v: e})
		}
	}
	return nil
}

func hasOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// isEmptyValue is encoding/json's omitempty test.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// fromJSON turns a JSON document (a json.Marshaler's output) into a tree:
// objects become structures with members in key order.
func fromJSON(b []byte, depth int) (any, bool, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, false, err
	}
	return jsonTree(v, depth)
}

func jsonTree(v any, depth int) (any, bool, error) {
	if depth > maxTreeDepth {
		return nil, false, fmt.Errorf("output nests deeper than %d levels", maxTreeDepth)
	}
	switch x := v.(type) {
	case nil:
		return nil, false, nil
	case json.Number:
		return number(x), true, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := object{}
		for _, k := range keys {
			e, ok, err := jsonTree(x[k], depth+1)
			if err != nil {
				return nil, false, err
			}
			if ok {
				o = append(o, member{k, e})
			}
		}
		return o, true, nil
	case []any:
		l := make(list, 0, len(x))
		for _, e := range x {
			t, ok, err := jsonTree(e, depth+1)
			if err != nil {
				return nil, false, err
			}
			if ok {
				l = append(l, t)
			}
		}
		return l, true, nil
	}
	return v, true, nil // string, bool
}
