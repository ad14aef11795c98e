package awsapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The AWS query protocol: a form names the Action and Version, members are
// flattened into parameter names (botocore's QuerySerializer), and
// answers are XML.

// Codes of the query protocol's own errors.
const (
	CodeMissingAction         = "MissingAction"
	CodeInvalidAction         = "InvalidAction"
	CodeMalformedQueryString  = "MalformedQueryString"
	CodeInvalidParameterValue = "InvalidParameterValue"
)

// queryContentType is what query services answer with.
const queryContentType = "text/xml"

// handleQuery serves a query request: the form's Action names the
// operation, whose input is decoded from the form by its type.
func (r *Router) handleQuery(w http.ResponseWriter, req *http.Request, body []byte, enc encoder) {
	form, perr := queryForm(req, body)
	action := form.Get("Action")
	if len(action) > maxOpName {
		action = action[:maxOpName]
	}
	version := form.Get("Version")
	var op *operation
	var err error
	var in []byte
	switch {
	case perr != nil:
		err = perr
	case req.Method != http.MethodPost && req.Method != http.MethodGet:
		err = &Error{Code: CodeInvalidAction, Status: http.StatusMethodNotAllowed,
			Message: fmt.Sprintf("Query requests are sent with POST (or GET), not %s.", truncate(req.Method, 16))}
	case action == "":
		err = NewError(CodeMissingAction, "The request has no Action parameter naming an operation.")
	case version != "" && version != r.p.Query.Version:
		err = Errorf(CodeInvalidAction, "Could not find operation %s for version %s", action, Clip(version, 32))
	default:
		if op = r.ops[action]; op == nil {
			err = Errorf(CodeInvalidAction, "Could not find operation %s for version %s", action, r.p.Query.Version)
			break
		}
		var derr error
		if in, derr = FormToJSON(form, op.inType); derr != nil {
			op = failing(op, derr)
		}
	}
	r.d.run(w, req, in, action, op, err, enc)
}

// failing returns op with its decoding replaced by err: the call is
// recorded as the operation's, failed.
func failing(op *operation, err error) *operation {
	return &operation{name: op.name, readOnly: op.readOnly, inType: op.inType,
		invoke: func(context.Context, *http.Request, []byte, func(any) error) (any, any, any, error) {
			return nil, nil, nil, err
		}}
}

// queryForm reads a query request's parameters: the URL's query string
// and a form-encoded body.
func queryForm(req *http.Request, body []byte) (url.Values, error) {
	form, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return url.Values{}, NewError(CodeMalformedQueryString, "The query string is not valid: "+err.Error())
	}
	if len(body) == 0 {
		return form, nil
	}
	if ct := mediaType(req); ct != "" && ct != "application/x-www-form-urlencoded" {
		return form, Errorf(CodeInvalidParameterValue, "Query requests carry a form-encoded body (application/x-www-form-urlencoded), not %s.", Clip(ct, 64))
	}
	bf, err := url.ParseQuery(string(body))
	if err != nil {
		return form, NewError(CodeMalformedQueryString, "The request body is not a valid form: "+err.Error())
	}
	for k, v := range bf {
		form[k] = append(form[k], v...)
	}
	return form, nil
}

// formNode is one dotted segment of the form's parameter names.
type formNode struct {
	value string
	set   bool
	kids  map[string]*formNode
}

// FormToJSON decodes a query form into the JSON object that type t (a
// struct, or pointer to one, with json tags) decodes, following
// botocore's query serializer: lists as Name.member.N (or a modelled
// member name, or flattened Name.N), maps as Name.entry.N.key and .value
// (or .Name/.Value), structures as Name.Member, booleans true/false,
// timestamps ISO 8601 (or epoch seconds), numbers in decimal. An empty
// list is sent as Name= (no members). Parameters no member names are
// ignored, as is the top level's Action and Version. Errors are *Error
// (InvalidParameterValue, MalformedQueryString) naming the parameter.
func FormToJSON(form url.Values, t reflect.Type) ([]byte, error) {
	root := &formNode{}
	for k, vs := range form {
		if k == "Action" || k == "Version" || len(vs) == 0 {
			continue
		}
		parts := strings.Split(k, ".")
		if len(parts) > MaxJSONDepth {
			return nil, Errorf(CodeMalformedQueryString, "The parameter %s nests deeper than %d levels.", Clip(k, 128), MaxJSONDepth)
		}
		n := root
		for _, p := range parts {
			if n.kids == nil {
				n.kids = make(map[string]*formNode)
			}
			c := n.kids[p]
			if c == nil {
				c = &formNode{}
				n.kids[p] = c
			}
			n = c
		}
		n.value, n.set = vs[0], true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("awsapi: query input %s is not a struct", t)
	}
	v, err := formStruct(root, t, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func formStruct(n *formNode, t reflect.Type, prefix string) (map[string]any, error) {
	out := map[string]any{}
	err := forFields(t, func(name string, ft reflect.Type) error {
		c := n.kids[name]
		if c == nil || !c.set && isScalar(ft) {
			return nil
		}
		v, err := formValue(c, ft, join(prefix, name))
		if err != nil {
			return err
		}
		out[name] = v
		return nil
	})
	return out, err
}

// forFields calls fn for each member of struct type t as encoding/json
// names them (embedded structs' members promoted).
func forFields(t reflect.Type, fn func(name string, ft reflect.Type) error) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if err := forFields(ft, fn); err != nil {
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
		if err := fn(name, f.Type); err != nil {
			return err
		}
	}
	return nil
}

var (
	unmarshalerType   = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalType = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
)

func formValue(n *formNode, t reflect.Type, name string) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func(want string) error {
		return Errorf(CodeInvalidParameterValue, "Value %q for parameter %s is invalid: expected %s.", Clip(n.value, 64), Clip(name, 128), want)
	}
	switch t {
	case timeType, stdTimeType:
		tm, err := ParseTimestamp(n.value)
		if err != nil {
			return nil, bad("a timestamp (ISO 8601, such as 2026-12-04T10:00:00Z, or epoch seconds)")
		}
		if t == stdTimeType {
			return tm.Format(time.RFC3339Nano), nil
		}
		return json.Number(epochExact(tm)), nil
	case rawType:
		return n.value, nil
	}
	if t.Kind() != reflect.Struct && t.Kind() != reflect.Slice && t.Kind() != reflect.Map &&
		(reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalType)) {
		return n.value, nil
	}
	switch t.Kind() {
	case reflect.String, reflect.Interface:
		return n.value, nil
	case reflect.Bool:
		switch n.value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, bad("true or false")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v, err := strconv.ParseInt(n.value, 10, t.Bits())
		if err != nil {
			return nil, bad("an integer in range")
		}
		// Written as parsed: "00" or "+5" are integers to ParseInt, not
		// JSON numbers.
		return json.Number(strconv.FormatInt(v, 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v, err := strconv.ParseUint(n.value, 10, t.Bits())
		if err != nil {
			return nil, bad("a non-negative integer in range")
		}
		return json.Number(strconv.FormatUint(v, 10)), nil
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(n.value, t.Bits())
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, bad("a number")
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return n.value, nil // base64, as the serializer sends blobs
		}
		items, err := listItems(n, name)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(items))
		for _, it := range items {
			if !it.n.set && isScalar(t.Elem()) {
				continue
			}
			v, err := formValue(it.n, t.Elem(), join(name, it.name))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("awsapi: query input map %s has non-string keys", t)
		}
		entries, err := listItems(n, name)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(entries))
		for _, e := range entries {
			k, v := pick(e.n, "key", "Key", "Name"), pick(e.n, "value", "Value")
			at := join(name, e.name)
			if k == nil || !k.set {
				return nil, Errorf(CodeInvalidParameterValue, "The map entry %s has no key (%s.key).", Clip(at, 128), Clip(at, 128))
			}
			if v == nil {
				return nil, Errorf(CodeInvalidParameterValue, "The map entry %s has no value (%s.value).", Clip(at, 128), Clip(at, 128))
			}
			val, err := formValue(v, t.Elem(), at+".value")
			if err != nil {
				return nil, err
			}
			out[k.value] = val
		}
		return out, nil
	case reflect.Struct:
		return formStruct(n, t, name)
	}
	return nil, fmt.Errorf("awsapi: query input member %s has unsupported type %s", name, t)
}

// isScalar reports whether t is read from one parameter's value (not a
// list, map or structure).
func isScalar(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType, stdTimeType:
		return true
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return t.Elem().Kind() == reflect.Uint8
	case reflect.Map, reflect.Struct:
		return false
	}
	return true
}

func pick(n *formNode, names ...string) *formNode {
	for _, k := range names {
		if c := n.kids[k]; c != nil {
			return c
		}
	}
	return nil
}

type formItem struct {
	idx  int
	name string // relative parameter name, for errors
	n    *formNode
}

// listItems returns a list's members in index order: children N (a
// flattened list), or the children N of its one member-name child
// (member, entry or a modelled name). A list sent as Name= is empty.
func listItems(n *formNode, name string) ([]formItem, error) {
	if len(n.kids) == 0 {
		if n.value != "" {
			return nil, Errorf(CodeInvalidParameterValue, "Parameter %s is a list: send its members as %s.member.1, %s.member.2, ….", Clip(name, 128), Clip(name, 128), Clip(name, 128))
		}
		return nil, nil
	}
	if items, ok := numbered(n, ""); ok {
		return items, nil
	}
	if len(n.kids) == 1 {
		for k, c := range n.kids {
			if items, ok := numbered(c, k+"."); ok {
				return items, nil
			}
		}
	}
	return nil, Errorf(CodeInvalidParameterValue, "Parameter %s is a list: send its members as %s.member.1, %s.member.2, ….", Clip(name, 128), Clip(name, 128), Clip(name, 128))
}

func numbered(n *formNode, prefix string) ([]formItem, bool) {
	items := make([]formItem, 0, len(n.kids))
	for k, c := range n.kids {
		i, err := strconv.Atoi(k)
		if err != nil || i < 1 || k[0] == '0' || k[0] == '+' {
			return nil, false
		}
		items = append(items, formItem{idx: i, name: prefix + k, n: c})
	}
	sort.Slice(items, func(a, b int) bool { return items[a].idx < items[b].idx })
	return items, len(items) > 0
}

// ParseTimestamp parses a query timestamp: ISO 8601 / RFC 3339 with or
// without fraction and zone (no zone means UTC), or epoch seconds.
func ParseTimestamp(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1 || t.Year() > 9999 {
				break
			}
			return t.UTC(), nil
		}
	}
	if s != "" && (s[0] >= '0' && s[0] <= '9' || s[0] == '-') {
		return ParseEpoch(s)
	}
	return time.Time{}, fmt.Errorf("parse timestamp %q: not ISO 8601 or epoch seconds", Clip(s, 40))
}

// epochExact writes t as epoch seconds with its fraction to the
// nanosecond.
func epochExact(t time.Time) string {
	sec, ns := t.Unix(), t.Nanosecond()
	if ns == 0 {
		return strconv.FormatInt(sec, 10)
	}
	if sec < 0 {
		sec, ns = sec+1, 1e9-ns
		if sec == 0 {
			return "-0." + strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
		}
	}
	return strconv.FormatInt(sec, 10) + "." + strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
}

// queryEncoder answers in the query protocol's XML.
type queryEncoder struct{ ns string }

func (q queryEncoder) ok(w http.ResponseWriter, reqID, op string, out any) error {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	buf.WriteString("<" + op + `Response xmlns="`)
	escape(&buf, q.ns)
	buf.WriteString(`">`)
	v := reflect.ValueOf(out)
	tree, has, err := toTree(v, 0)
	if err != nil {
		return err
	}
	if has && !isEmptyShape(v.Type()) {
		buf.WriteString("<" + op + "Result>")
		if err := writeXML(&buf, tree); err != nil {
			return err
		}
		buf.WriteString("</" + op + "Result>")
	}
	buf.WriteString("<ResponseMetadata><RequestId>")
	escape(&buf, reqID)
	buf.WriteString("</RequestId></ResponseMetadata></" + op + "Response>\n")
	writeBody(w, queryContentType, reqID, http.StatusOK, buf.Bytes())
	return nil
}

// isEmptyShape reports whether t is a structure with no members (an
// operation without output answers only ResponseMetadata).
func isEmptyShape(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	empty := true
	_ = forFields(t, func(string, reflect.Type) error { empty = false; return nil })
	return empty
}

// queryCodes are the query protocol's names for the wire layer's JSON
// error codes.
var queryCodes = map[string]string{
	CodeThrottling:                   "Throttling",
	CodeServiceUnavailable:           "ServiceUnavailable",
	CodeInternalFailure:              "InternalFailure",
	"RequestEntityTooLargeException": "RequestEntityTooLarge",
}

func (q queryEncoder) fail(w http.ResponseWriter, reqID string, e *Error) {
	code := e.Code
	if c, ok := queryCodes[code]; ok {
		code = c
	}
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	buf.WriteString(`<ErrorResponse xmlns="`)
	escape(&buf, q.ns)
	buf.WriteString(`"><Error><Type>` + faultOf(e) + `</Type><Code>`)
	escape(&buf, code)
	buf.WriteString("</Code><Message>")
	escape(&buf, e.Message)
	buf.WriteString("</Message></Error><RequestId>")
	escape(&buf, reqID)
	buf.WriteString("</RequestId></ErrorResponse>\n")
	writeBody(w, queryContentType, reqID, e.HTTPStatus(), buf.Bytes())
}

// WriteQueryError writes err as a query protocol error document with
// namespace ns, mapped as in WriteJSON11Error.
func WriteQueryError(w http.ResponseWriter, ns, reqID string, err error) {
	queryEncoder{ns: ns}.fail(w, reqID, AsError(context.Background(), nil, reqID, err))
}

func escape(buf *bytes.Buffer, s string) {
	_ = xml.EscapeText(buf, []byte(s))
}

// writeXML writes a tree's value as the query protocol's XML content.
func writeXML(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case object:
		for _, m := range x {
			if !validName(m.name) {
				return fmt.Errorf("member name %q is not an XML name", m.name)
			}
			buf.WriteString("<" + m.name + ">")
			if err := writeXML(buf, m.v); err != nil {
				return err
			}
			buf.WriteString("</" + m.name + ">")
		}
	case list:
		for _, e := range x {
			buf.WriteString("<member>")
			if err := writeXML(buf, e); err != nil {
				return err
			}
			buf.WriteString("</member>")
		}
	case mapValue:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			buf.WriteString("<entry><key>")
			escape(buf, k)
			buf.WriteString("</key><value>")
			if err := writeXML(buf, x[k]); err != nil {
				return err
			}
			buf.WriteString("</value></entry>")
		}
	case stamp:
		buf.WriteString(time.Time(x).UTC().Format("2006-01-02T15:04:05.000Z"))
	case blob:
		buf.WriteString(base64.StdEncoding.EncodeToString(x))
	case string:
		escape(buf, x)
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case int64:
		buf.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		buf.WriteString(strconv.FormatUint(x, 10))
	case float64:
		buf.WriteString(formatFloat(x))
	case number:
		escape(buf, string(x))
	default:
		return fmt.Errorf("cannot write %T as XML", v)
	}
	return nil
}

// formatFloat writes a double as query services do and clients parse
// (Python's float(), Go's ParseFloat): shortest decimal, NaN, Infinity.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// validName reports whether s can name an XML element (members' json
// names always can; the check keeps a hostile map-shaped output from
// writing markup).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')
		if !ok {
			return false
		}
	}
	return true
}
