package awsapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// The shapes below follow CloudWatch's: lists of structures holding
// lists, maps, timestamps, doubles, booleans and blobs.
type pDim struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type pDatum struct {
	MetricName string    `json:"MetricName"`
	Dimensions []pDim    `json:"Dimensions,omitempty"`
	Timestamp  *Time     `json:"Timestamp,omitempty"`
	Value      *float64  `json:"Value,omitempty"`
	Values     []float64 `json:"Values,omitempty"`
	Stats      *struct {
		SampleCount *float64 `json:"SampleCount,omitempty"`
	} `json:"StatisticValues,omitempty"`
}

type pIn struct {
	Namespace  *string           `json:"Namespace,omitempty"`
	MetricData []pDatum          `json:"MetricData,omitempty"`
	Attributes map[string]string `json:"Attributes,omitempty"`
	Enabled    *bool             `json:"Enabled,omitempty"`
	Limit      *int32            `json:"Limit,omitempty"`
	Payload    []byte            `json:"Payload,omitempty"`
	Names      []string          `json:"Names,omitempty"`
}

type pOut struct {
	Metrics   []pDatum          `json:"Metrics,omitempty"`
	Attrs     map[string]string `json:"Attributes,omitempty"`
	NextToken *string           `json:"NextToken,omitempty"`
	Blob      []byte            `json:"Blob,omitempty"`
	Count     int64             `json:"Count"`
	OK        bool              `json:"OK"`
}

func TestFormToJSON(t *testing.T) {
	cases := []struct {
		form string
		want string
	}{
		{"", `{}`},
		{"Action=X&Version=1&Namespace=A%26B", `{"Namespace":"A\u0026B"}`},
		{"MetricData.member.1.MetricName=m&MetricData.member.1.Dimensions.member.1.Name=d&MetricData.member.1.Dimensions.member.1.Value=v" +
			"&MetricData.member.1.Dimensions.member.2.Name=e&MetricData.member.1.Dimensions.member.2.Value=w" +
			"&MetricData.member.1.Timestamp=2026-12-04T10%3A00%3A00.250Z&MetricData.member.1.Value=1.5" +
			"&MetricData.member.1.Values.member.1=2&MetricData.member.1.Values.member.2=-3e2&MetricData.member.1.StatisticValues.SampleCount=4" +
			"&MetricData.member.2.MetricName=n",
			`{"MetricData":[{"Dimensions":[{"Name":"d","Value":"v"},{"Name":"e","Value":"w"}],"MetricName":"m","StatisticValues":{"SampleCount":4},"Timestamp":1796378400.25,"Value":1.5,"Values":[2,-300]},{"MetricName":"n"}]}`},
		// indexes sort numerically, not as text
		{"Names.member.10=j&Names.member.2=b&Names.member.1=a", `{"Names":["a","b","j"]}`},
		// flattened and modelled member names
		{"Names.1=a&Names.2=b", `{"Names":["a","b"]}`},
		{"Names.Item.1=a", `{"Names":["a"]}`},
		// empty list
		{"Names=", `{"Names":[]}`},
		// maps: key/value and Name/Value
		{"Attributes.entry.1.key=k&Attributes.entry.1.value=v&Attributes.entry.2.Name=n&Attributes.entry.2.Value=w", `{"Attributes":{"k":"v","n":"w"}}`},
		{"Enabled=false&Limit=7&Payload=aGk%3D", `{"Enabled":false,"Limit":7,"Payload":"aGk="}`},
		{"MetricData.member.1.Timestamp=1796378400", `{"MetricData":[{"Timestamp":1796378400}]}`},
		// unknown members are ignored
		{"Nope=1&Namespace.Deeper=2", `{}`},
	}
	for _, c := range cases {
		form, err := url.ParseQuery(c.form)
		if err != nil {
			t.Fatal(err)
		}
		got, err := FormToJSON(form, reflect.TypeFor[pIn]())
		if err != nil {
			t.Errorf("%s: %v", c.form, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.form, got, c.want)
		}
		var in pIn
		if err := DecodeObject(got, &in); err != nil {
			t.Errorf("%s: decode: %v", c.form, err)
		}
	}
	// The decoded timestamp keeps its milliseconds.
	form, _ := url.ParseQuery("MetricData.member.1.Timestamp=2026-12-04T10:00:00.250Z")
	b, _ := FormToJSON(form, reflect.TypeFor[pIn]())
	var in pIn
	if err := DecodeObject(b, &in); err != nil {
		t.Fatal(err)
	}
	if got := in.MetricData[0].Timestamp.Time; !got.Equal(time.Date(2026, 12, 4, 10, 0, 0, 250e6, time.UTC)) {
		t.Errorf("timestamp %v", got)
	}
}

func TestFormToJSONErrors(t *testing.T) {
	cases := map[string]string{
		"Enabled=yes":                             "Value \"yes\" for parameter Enabled is invalid: expected true or false.",
		"Limit=3000000000":                        "parameter Limit is invalid: expected an integer in range",
		"Limit=1.5":                               "expected an integer in range",
		"MetricData.member.1.Value=x":             "parameter MetricData.member.1.Value is invalid: expected a number",
		"MetricData.member.1.Value=NaN":           "expected a number",
		"MetricData.member.1.Timestamp=yesterday": "expected a timestamp",
		"Names=a":                                 "Parameter Names is a list",
		"Names.member.x=a":                        "Parameter Names is a list",
		"Names.member.0=a":                        "Parameter Names is a list",
		"Attributes.entry.1.value=v":              "has no key",
		"Attributes.entry.1.key=k":                "has no value",
		strings.Repeat("a.", 70) + "b=1":          "nests deeper than 64 levels",
	}
	for form, want := range cases {
		v, err := url.ParseQuery(form)
		if err != nil {
			t.Fatal(err)
		}
		_, err = FormToJSON(v, reflect.TypeFor[pIn]())
		e, ok := err.(*Error)
		if !ok || e.HTTPStatus() != 400 || !strings.Contains(e.Message, want) {
			t.Errorf("%.40s: got %v, want a 400 *Error containing %q", form, err, want)
		}
	}
}

// protoRouter is a router speaking every protocol, with operations
// shaped like CloudWatch's.
func protoRouter(rec *recorder) *Router {
	r := NewRouter("monitoring", rec, nil)
	r.Speak(CloudWatchProtocols())
	Register(r, "PutThing", false, func(ctx context.Context, in *pIn) (*pOut, error) {
		if in.Namespace != nil && *in.Namespace == "missing" {
			return nil, &Error{Code: "ResourceNotFound", Message: "No thing <" + *in.Namespace + ">.", Status: 404}
		}
		if in.Namespace != nil && *in.Namespace == "bad" {
			return nil, NewError("InvalidParameterValue", "bad & wrong")
		}
		if in.Namespace != nil && *in.Namespace == "panic" {
			panic("boom")
		}
		ts := &Time{time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
		out := &pOut{Count: int64(len(in.MetricData)), OK: true, NextToken: in.Namespace, Attrs: in.Attributes, Blob: in.Payload}
		for _, d := range in.MetricData {
			if d.Timestamp == nil {
				d.Timestamp = ts
			}
			out.Metrics = append(out.Metrics, d)
		}
		return out, nil
	})
	Register(r, "DeleteThing", false, func(ctx context.Context, in *struct{}) (*struct{}, error) { return nil, nil })
	return r
}

func serve(r *Router, req *http.Request, body []byte) *httptest.ResponseRecorder {
	req = req.WithContext(WithCaller(req.Context(), testCaller()))
	w := httptest.NewRecorder()
	r.Handle(w, req, body)
	return w
}

func queryReq(form string) (*http.Request, []byte) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return req, []byte(form)
}

func TestQueryProtocol(t *testing.T) {
	rec := &recorder{}
	r := protoRouter(rec)
	req, body := queryReq("Action=PutThing&Version=2010-08-01&Namespace=a%3Cb&MetricData.member.1.MetricName=m&MetricData.member.1.Value=0.1" +
		"&MetricData.member.1.Dimensions.member.1.Name=d&MetricData.member.1.Dimensions.member.1.Value=%26v&Attributes.entry.1.key=k%22&Attributes.entry.1.value=v&Payload=aGk%3D")
	w := serve(r, req, body)
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<PutThingResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><PutThingResult>` +
		`<Metrics><member><MetricName>m</MetricName><Dimensions><member><Name>d</Name><Value>&amp;v</Value></member></Dimensions>` +
		`<Timestamp>2026-12-04T10:00:00.000Z</Timestamp><Value>0.1</Value></member></Metrics>` +
		`<Attributes><entry><key>k&#34;</key><value>v</value></entry></Attributes><NextToken>a&lt;b</NextToken><Blob>aGk=</Blob><Count>1</Count><OK>true</OK>` +
		`</PutThingResult><ResponseMetadata><RequestId>11111111-2222-3333-4444-555555555555</RequestId></ResponseMetadata></PutThingResponse>` + "\n"
	if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "text/xml" {
		t.Fatalf("got %d %s\n%s\nwant\n%s", w.Code, w.Header().Get("Content-Type"), w.Body, want)
	}
	// The self-audit record logs what was sent, as JSON.
	m := rec.last(t)
	params, _ := json.Marshal(m["requestParameters"])
	if m["eventName"] != "PutThing" || m["eventSource"] != "monitoring.amazonaws.com" ||
		string(params) != `{"attributes":{"k\"":"v"},"metricData":[{"dimensions":[{"name":"d","value":"\u0026v"}],"metricName":"m","value":0.1}],"namespace":"a\u003cb","payload":"aGk="}` {
		t.Errorf("audit record %v params %s", m, params)
	}

	// An operation without output answers only the metadata; GET works.
	g := httptest.NewRequest(http.MethodGet, "/?Action=DeleteThing&Version=2010-08-01", nil)
	w = serve(r, g, nil)
	if !strings.Contains(w.Body.String(), `<DeleteThingResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>`) {
		t.Errorf("empty output: %s", w.Body)
	}

	errCases := []struct {
		form        string
		status      int
		typ, code   string
		msgContains string
	}{
		{"Action=Nope&Version=2010-08-01", 400, "Sender", "InvalidAction", "Could not find operation Nope for version 2010-08-01"},
		{"Action=PutThing&Version=2011-01-01", 400, "Sender", "InvalidAction", "Could not find operation PutThing for version 2011-01-01"},
		{"Version=2010-08-01", 400, "Sender", "MissingAction", "no Action"},
		{"Action=PutThing&Namespace=missing", 404, "Sender", "ResourceNotFound", "No thing &lt;missing&gt;."},
		{"Action=PutThing&Namespace=bad", 400, "Sender", "InvalidParameterValue", "bad &amp; wrong"},
		{"Action=PutThing&Namespace=panic", 500, "Receiver", "InternalFailure", "internal error"},
		{"Action=PutThing&Enabled=1", 400, "Sender", "InvalidParameterValue", "expected true or false"},
		{"Action=PutThing&%zz", 400, "Sender", "MalformedQueryString", "not a valid form"},
	}
	for _, c := range errCases {
		req, body := queryReq(c.form)
		w := serve(r, req, body)
		b := w.Body.String()
		if w.Code != c.status || !strings.Contains(b, "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>"+c.typ+"</Type><Code>"+c.code+"</Code><Message>") ||
			!strings.Contains(b, c.msgContains) || !strings.Contains(b, "<RequestId>11111111-2222-3333-4444-555555555555</RequestId></ErrorResponse>") {
			t.Errorf("%s: %d %s", c.form, w.Code, b)
		}
		if w.Header().Get("x-amzn-query-error") != "" {
			t.Errorf("%s: query answers carry no x-amzn-query-error", c.form)
		}
	}
}

func cborReq(t *testing.T, op string, v any, queryMode bool) (*http.Request, []byte) {
	t.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = cbor.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/service/GraniteServiceVersion20100801/operation/"+op, bytes.NewReader(body))
	req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
	if body != nil {
		req.Header.Set("Content-Type", "application/cbor")
	}
	if queryMode {
		req.Header.Set("X-Amzn-Query-Mode", "true")
	}
	return req, body
}

func TestCBORProtocol(t *testing.T) {
	rec := &recorder{}
	r := protoRouter(rec)
	ts := time.Date(2026, 12, 4, 10, 0, 0, 500e6, time.UTC)
	req, body := cborReq(t, "PutThing", map[string]any{
		"Namespace": "ns",
		"MetricData": []any{map[string]any{"MetricName": "m", "Value": 2.5, "Timestamp": cbor.Tag{Number: 1, Content: 1796378400.5},
			"Dimensions": []any{map[string]any{"Name": "d", "Value": "v"}}}},
		"Attributes": map[string]any{"k": "v"},
		"Payload":    []byte{0, 1, 2, 255},
		"Limit":      uint64(3),
		"Enabled":    true,
	}, false)
	w := serve(r, req, body)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/cbor" || w.Header().Get("Smithy-Protocol") != "rpc-v2-cbor" {
		t.Fatalf("got %d %v", w.Code, w.Header())
	}
	var out map[string]any
	if err := cbor.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	metrics := out["Metrics"].([]any)
	m0 := metrics[0].(map[any]any)
	if got, ok := m0["Timestamp"].(time.Time); !ok || !got.Equal(ts) {
		t.Errorf("timestamp %#v, want tag 1 of %v", m0["Timestamp"], ts)
	}
	if !bytes.Equal(out["Blob"].([]byte), []byte{0, 1, 2, 255}) || out["NextToken"] != "ns" || out["Count"] != uint64(1) || out["OK"] != true {
		t.Errorf("output %#v", out)
	}
	if _, has := out["Attributes"]; !has {
		t.Errorf("map lost: %#v", out)
	}
	// The tag 1 in the raw answer: 0xc1 followed by a float.
	if !bytes.Contains(w.Body.Bytes(), []byte{0xc1, 0xfb}) {
		t.Errorf("timestamp not written as tag 1 with a double: %x", w.Body.Bytes())
	}
	if m := rec.last(t); m["eventName"] != "PutThing" {
		t.Errorf("audit %v", m)
	}

	// No body is an empty input; an indefinite-length map is read.
	req, body = cborReq(t, "DeleteThing", nil, false)
	if w := serve(r, req, body); w.Code != 200 {
		t.Errorf("empty body: %d %x", w.Code, w.Body.Bytes())
	}
	indef := []byte{0xbf, 0x69, 'N', 'a', 'm', 'e', 's', 'p', 'a', 'c', 'e', 0x62, 'i', 'x', 0xff}
	req, _ = cborReq(t, "PutThing", nil, false)
	if w := serve(r, req, indef); w.Code != 200 {
		t.Errorf("indefinite map: %d %x", w.Code, w.Body.Bytes())
	}

	errCases := []struct {
		op        string
		in        any
		raw       []byte
		queryMode bool
		status    int
		typ, qerr string
	}{
		{"PutThing", map[string]any{"Namespace": "missing"}, nil, true, 404, "ResourceNotFound", "ResourceNotFound;Sender"},
		{"PutThing", map[string]any{"Namespace": "bad"}, nil, true, 400, "InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{"PutThing", map[string]any{"Namespace": "bad"}, nil, false, 400, "InvalidParameterValueException", ""},
		{"PutThing", map[string]any{"Namespace": "panic"}, nil, true, 500, "InternalFailure", "InternalFailure;Receiver"},
		{"Nope", map[string]any{}, nil, false, 404, "UnknownOperationException", ""},
		{"PutThing", nil, []byte{0x82, 1, 2}, false, 400, "SerializationException", ""},
		{"PutThing", nil, []byte{0xff}, false, 400, "SerializationException", ""},
		{"PutThing", map[string]any{"Limit": "x"}, nil, false, 400, "SerializationException", ""},
		{"PutThing", nil, append(bytes.Repeat([]byte{0x81}, 100), 0), false, 400, "SerializationException", ""},
		{"PutThing", nil, append(append([]byte{0xa1, 0x61, 'N'}, bytes.Repeat([]byte{0xa1, 0x61, 'a'}, 100)...), 0), false, 400, "SerializationException", ""},
		{"PutThing", map[string]any{"Namespace": cbor.Tag{Number: 99, Content: 1}}, nil, false, 400, "SerializationException", ""},
	}
	for i, c := range errCases {
		req, body := cborReq(t, c.op, c.in, c.queryMode)
		if c.raw != nil {
			body = c.raw
		}
		w := serve(r, req, body)
		var e map[string]string
		err := cbor.Unmarshal(w.Body.Bytes(), &e)
		if err != nil || w.Code != c.status || e["__type"] != c.typ || e["message"] == "" || w.Header().Get("x-amzn-query-error") != c.qerr {
			t.Errorf("case %d: %d %v %v %q", i, w.Code, e, err, w.Header().Get("x-amzn-query-error"))
		}
	}
}

func TestJSON10Protocol(t *testing.T) {
	r := protoRouter(&recorder{})
	for _, c := range []struct {
		body, queryMode string
		status          int
		ct, typ, qerr   string
	}{
		{`{"Namespace":"x","MetricData":[{"MetricName":"m","Timestamp":1796378400}]}`, "", 200, "application/x-amz-json-1.0", "", ""},
		{`{"Namespace":"missing"}`, "true", 404, "application/x-amz-json-1.0", "ResourceNotFound", "ResourceNotFound;Sender"},
		{`{"Namespace":"bad"}`, "true", 400, "application/x-amz-json-1.0", "InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{`{"Namespace":"bad"}`, "", 400, "application/x-amz-json-1.0", "InvalidParameterValueException", ""},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801.PutThing")
		if c.queryMode != "" {
			req.Header.Set("x-amzn-query-mode", c.queryMode)
		}
		w := serve(r, req, []byte(c.body))
		var e map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		typ, _ := e["__type"].(string)
		if w.Code != c.status || w.Header().Get("Content-Type") != c.ct || typ != c.typ || w.Header().Get("x-amzn-query-error") != c.qerr {
			t.Errorf("%s: %d %v %s", c.body, w.Code, w.Header(), w.Body)
		}
	}
	// A JSON 1.1 router (cloudtrail's) is unchanged by the new protocols:
	// a form body is not the query protocol there.
	plain := NewRouter("cloudtrail", nil, nil)
	Register(plain, "PutThing", false, func(ctx context.Context, in *pIn) (*pOut, error) { return &pOut{}, nil })
	req, body := queryReq("Action=PutThing")
	if w := serve(plain, req, body); w.Code != 400 || w.Header().Get("Content-Type") != "application/x-amz-json-1.1" || !strings.Contains(w.Body.String(), "UnknownOperationException") {
		t.Errorf("json 1.1 router: %d %s", w.Code, w.Body)
	}
}

// FuzzFormToJSON: the form decoder never panics, answers only *Error, and
// what it accepts decodes into the input.
func FuzzFormToJSON(f *testing.F) {
	for _, s := range []string{"", "Names.member.1=a", "MetricData.member.1.Dimensions.member.2.Name=x&MetricData.member.1.Value=1e3",
		"Attributes.entry.1.key=k&Attributes.entry.1.value=v", "Names=", "Enabled=true&Limit=-4", "MetricData.member.1.Timestamp=2026-12-04T10:00:00Z",
		strings.Repeat("a.", 80) + "=1", "Names.member.99999999999999999999=a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		form, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		b, err := FormToJSON(form, reflect.TypeFor[pIn]())
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			return
		}
		var in pIn
		if err := DecodeObject(b, &in); err != nil {
			t.Fatalf("accepted form %q gave JSON %s that does not decode: %v", s, b, err)
		}
	})
}

// FuzzCBORToJSON: the CBOR decoder never panics, answers only *Error,
// and what it accepts is a JSON object within the depth limit.
func FuzzCBORToJSON(f *testing.F) {
	seed := func(v any) []byte { b, _ := cbor.Marshal(v); return b }
	for _, b := range [][]byte{nil, {0xa0}, {0xbf, 0xff}, seed(map[string]any{"a": []any{1, "x", 2.5, []byte{1}}, "t": cbor.Tag{Number: 1, Content: 1.5}}),
		append(bytes.Repeat([]byte{0x81}, 200), 0), {0x9f, 0x9f, 0x9f}, {0xa1, 0x01, 0x02}, {0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := CBORToJSON(b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			return
		}
		if len(j) == 0 || j[0] != '{' || CheckDepth(j, MaxJSONDepth+1) != nil {
			t.Fatalf("accepted %x as %s", b, j)
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			t.Fatalf("accepted %x as invalid JSON %s: %v", b, j, err)
		}
	})
}

// Request compression: gzip bodies (aws-sdk-go-v2 compresses CloudWatch
// PutMetricData) are inflated, within a bound, in every protocol.
func TestGzipBodies(t *testing.T) {
	r := protoRouter(&recorder{})
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	form := "Action=PutThing&Version=2010-08-01&Namespace=zipped"
	req, _ := queryReq(form)
	req.Header.Set("Content-Encoding", "gzip")
	if w := serve(r, req, gz([]byte(form))); w.Code != 200 || !strings.Contains(w.Body.String(), "<NextToken>zipped</NextToken>") {
		t.Errorf("gzip query: %d %s", w.Code, w.Body)
	}
	cb, _ := cbor.Marshal(map[string]any{"Namespace": "zipped"})
	req, _ = cborReq(t, "PutThing", nil, false)
	req.Header.Set("Content-Encoding", "gzip")
	if w := serve(r, req, gz(cb)); w.Code != 200 {
		t.Errorf("gzip cbor: %d %x", w.Code, w.Body.Bytes())
	}
	for _, c := range []struct {
		enc    string
		body   []byte
		status int
	}{
		{"gzip", gz(bytes.Repeat([]byte{' '}, MaxInflatedBody+1)), 413},
		{"gzip", []byte("not gzip"), 400},
		{"br", cb, 415},
	} {
		req, _ := cborReq(t, "PutThing", nil, false)
		req.Header.Set("Content-Encoding", c.enc)
		w := serve(r, req, c.body)
		var e map[string]string
		if err := cbor.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != c.status || e["message"] == "" {
			t.Errorf("%s: %d %v %v", c.enc, w.Code, e, err)
		}
	}
}

// The XML encoder follows encoding/json's view of an output: embedded
// structs promoted, json:"-" and nil members left out, json.Marshaler
// members written from their JSON, doubles as clients parse them.
func TestQueryXMLShapes(t *testing.T) {
	type inner struct {
		Promoted string `json:"Promoted"`
	}
	type out struct {
		inner
		Hidden  string          `json:"-"`
		Raw     json.RawMessage `json:"Raw"`
		NilRaw  json.RawMessage `json:"NilRaw"`
		NaN     float64         `json:"NaN"`
		Inf     float64         `json:"Inf"`
		Big     float64         `json:"Big"`
		U       uint32          `json:"U"`
		Empty   []string        `json:"Empty"`
		NilList []string        `json:"NilList"`
		Any     any             `json:"Any"`
		Zero    *Time           `json:"Zero"`
	}
	o := &out{inner: inner{"p"}, Hidden: "h", Raw: json.RawMessage(`{"b":[1,"x<"],"a":true}`), NaN: math.NaN(), Inf: math.Inf(-1),
		Big: 1e21, U: 7, Empty: []string{}, Any: "a"}
	var buf bytes.Buffer
	tree, _, err := toTree(reflect.ValueOf(o), 0)
	if err == nil {
		err = writeXML(&buf, tree)
	}
	want := `<Promoted>p</Promoted><Raw><a>true</a><b><member>1</member><member>x&lt;</member></b></Raw><NaN>NaN</NaN><Inf>-Infinity</Inf>` +
		`<Big>1e+21</Big><U>7</U><Empty></Empty><Any>a</Any>`
	if err != nil || buf.String() != want {
		t.Errorf("got %v\n%s\nwant\n%s", err, buf.String(), want)
	}
	// Outputs that cannot be written are errors (answered InternalFailure), not markup.
	if _, _, err := toTree(reflect.ValueOf(map[int]string{1: "x"}), 0); err == nil {
		t.Error("non-string map keys encoded")
	}
	if err := writeXML(&bytes.Buffer{}, object{{name: "a><b", v: "x"}}); err == nil {
		t.Error("an invalid element name was written")
	}
}
