package columnar

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/demo"
	"github.com/opentrail/opentrail/internal/event"
)

var t0 = time.Date(2026, 12, 1, 10, 20, 30, 0, time.UTC)

const typical = `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"},"attributes":{"creationDate":"2026-12-01T09:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2026-12-01T10:20:30Z","eventSource":"s3.amazonaws.com","eventName":"CreateBucket","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.9.19","requestParameters":{"bucketName":"audit-logs-7","Host":"audit-logs-7.s3.eu-west-1.amazonaws.com"},"responseElements":null,"requestID":"R1","eventID":"0f9a5c1e-1111-2222-3333-444455556666","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"s3.eu-west-1.amazonaws.com"}}`

// rebuildValues is Rebuild of r's values as database/sql scans them back
// from Parquet: TIMESTAMP in microseconds, UTC.
func rebuildValues(r *Row) ([]byte, error) {
	vals := r.Values()
	for i, v := range vals {
		if tm, ok := v.(time.Time); ok {
			vals[i] = tm.Truncate(time.Microsecond).UTC()
		}
	}
	return Rebuild(vals)
}

func column(t *testing.T, r *Row, path ...string) any {
	t.Helper()
	vals := r.Values()
	for i, c := range Columns {
		if c.Name != path[0] {
			continue
		}
		v := vals[i]
		for _, p := range path[1:] {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: %T is not a struct", path, v)
			}
			if v, ok = m[p]; !ok {
				t.Fatalf("%v: no member %s", path, p)
			}
		}
		return v
	}
	t.Fatalf("no column %s", path[0])
	return nil
}

func TestTemplateHoldsNoValues(t *testing.T) {
	r := Shred([]byte(typical), t0)
	tpl := r.Template()
	for _, v := range []string{"CreateBucket", "arn:aws:sts::111122223333:assumed-role/Admin/alice", "audit-logs-7", "2026-12-01T10:20:30Z", "111122223333", "TLSv1.3", "1.09", "false", "true"} {
		if strings.Contains(tpl, v) {
			t.Errorf("template still holds %q:\n%q", v, tpl)
		}
	}
	if !strings.Contains(tpl, `"responseElements":null`) {
		t.Errorf("template lost the literal null: %q", tpl)
	}
	if got := column(t, r, "eventName"); got != "CreateBucket" {
		t.Errorf("eventName = %v", got)
	}
	if got := column(t, r, "userIdentity", "sessionContext", "sessionIssuer", "userName"); got != "Admin" {
		t.Errorf("userIdentity.sessionContext.sessionIssuer.userName = %v", got)
	}
	if got := column(t, r, "requestParameters"); got != `{"bucketName":"audit-logs-7","Host":"audit-logs-7.s3.eu-west-1.amazonaws.com"}` {
		t.Errorf("requestParameters = %v", got)
	}
	if got := column(t, r, "readOnly"); got != false {
		t.Errorf("readOnly = %v", got)
	}
	if got := column(t, r, "responseElements"); got != nil {
		t.Errorf("responseElements = %v, want NULL", got)
	}
	if got := column(t, r, "eventTime"); got != t0 {
		t.Errorf("eventTime = %v", got)
	}
	if got := column(t, r, "userIdentity", "onBehalfOf"); got != nil {
		t.Errorf("userIdentity.onBehalfOf = %v, want NULL", got)
	}
	b, err := rebuildValues(r)
	if err != nil || string(b) != typical {
		t.Fatalf("Rebuild = %q, %v", b, err)
	}
}

// TestTemplatesRepeat checks that records of one shape share a template:
// what makes the _template column cheap in Parquet.
func TestTemplatesRepeat(t *testing.T) {
	distinct := map[string]bool{}
	n := 0
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	err := demo.Generate(demo.Options{Seed: 3, Events: 5000, Start: start, Duration: 24 * time.Hour}, func(raw []byte) error {
		rec, err := event.Parse(bytes.Clone(raw))
		if err != nil {
			return err
		}
		distinct[Shred(rec.Raw, rec.EventTime).Template()] = true
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(distinct)*10 > n {
		t.Errorf("%d distinct templates in %d records, want under a tenth", len(distinct), n)
	}
	t.Logf("%d distinct templates in %d records", len(distinct), n)
}

// odd are records that must survive the round trip although they are
// anything but typical.
var odd = []struct {
	name string
	raw  string
}{
	{"unknown fields", `{"eventVersion":"1.08","newTopLevel":{"x":[1,2,{"y":null}]},"userIdentity":{"type":"IAMUser","future":"x","sessionContext":{"attributes":{"mfaAuthenticated":"true","extra":1},"more":[]}},"eventTime":"2026-12-01T10:20:30Z","eventID":"e1"}`},
	{"deep nesting", `{"eventName":"X","requestParameters":` + strings.Repeat(`{"a":[`, 60) + `1` + strings.Repeat(`]}`, 60) + `,"eventTime":"2026-12-01T10:20:30Z"}`},
	{"escapes", `{"eventName":"Get\/Object","userAgent":"caf\u00e9 \"q\" \\ \n\t\u0001 \u001F","errorMessage":"\u00E9t\u00e9 ok","userIdentity":{"arn":"arn:aws:iam::1:user\/bob"},"eventSource":"\ud83d\ude00 emoji","awsRegion":"\ud800 lone","sourceIPAddress":"nul\u0000here"}`},
	{"canonical escapes", `{"userAgent":"a\"b\\c\nd\re\tf\bg\fh\u0001\u001f</>&é😀"}`},
	{"numbers", `{"eventName":1e999999,"requestParameters":{"n":-0,"m":1.50E+10,"big":123456789012345678901234567890},"responseElements":-0,"eventVersion":0.1}`},
	{"nulls", `{"eventVersion":null,"userIdentity":null,"eventTime":null,"readOnly":null,"requestParameters":null,"tlsDetails":null,"resources":null}`},
	{"missing fields", `{"eventID":"only"}`},
	{"empty object", `{}`},
	{"readOnly as string", `{"readOnly":"true","managementEvent":"False","eventName":"X"}`},
	{"wrong types", `{"readOnly":1,"managementEvent":[true],"eventName":true,"userIdentity":"root","tlsDetails":[1],"userAgent":{"a":1},"sessionCredentialFromConsole":false}`},
	{"duplicate keys", `{"eventName":"A","eventName":"B","userIdentity":{"arn":"1","arn":"2"},"userIdentity":{"arn":"3"},"readOnly":true,"readOnly":false,"requestParameters":{},"requestParameters":[]}`},
	{"escaped keys", `{"\u0065ventName":"A","eventName":"B","user\u0049dentity":{"arn":"x"}}`},
	{"odd whitespace", " \r\n\t{ \"eventName\" :\t\"A\" ,\n\"readOnly\" : true , \"userIdentity\" : { \"arn\" : \"x\" } }\n "},
	{"other eventTime forms", `{"eventTime":"2026-12-01T10:20:30.000Z"}`},
	{"eventTime offset", `{"eventTime":"2026-12-01T11:20:30+01:00"}`},
	{"eventTime other day", `{"eventTime":"2020-01-01T00:00:00Z"}`},
	{"array", `[{"eventName":"X"}]`},
	{"string", `"eventName"`},
	{"number", `42`},
	{"empty", ``},
	{"not JSON", `{"eventName":"X",`},
	{"invalid UTF-8", "{\"eventName\":\"\xff\xfe\"}"},
	{"raw marker", "{\"eventName\":\"a\x01\x20b\"}"},
	{"raw NUL", "{\"eventName\":\"a\x00b\"}"},
	{"looks like whole-record mode", "\x01\x02AAAA"},
	{"control in string", "{\"eventName\":\"a\x02b\"}"},
	{"every field", `{"eventVersion":"1.10","userIdentity":{"type":"AssumedRole","principalId":"p","arn":"a","accountId":"1","accessKeyId":"k","userName":"u","invokedBy":"i","identityProvider":"ip","credentialId":"c","sessionContext":{"attributes":{"creationDate":"d","mfaAuthenticated":"m"},"sessionIssuer":{"type":"t","principalId":"p","arn":"a","accountId":"1","userName":"u"},"webIdFederationData":{"federatedProvider":"f","attributes":{}},"sourceIdentity":"s","ec2RoleDelivery":"2.0","ec2IssuedInVPC":"vpc"},"onBehalfOf":{"userId":"u","identityStoreArn":"arn"}},"eventTime":"2026-12-01T10:20:30Z","eventSource":"s","eventName":"n","awsRegion":"r","sourceIPAddress":"ip","userAgent":"ua","errorCode":"ec","errorMessage":"em","requestParameters":{},"responseElements":{"a":[]},"additionalEventData":{"x":1},"requestID":"rid","eventID":"eid","readOnly":true,"resources":[{"ARN":"a","accountId":"1","type":"t"}],"eventType":"et","apiVersion":"av","managementEvent":false,"recipientAccountId":"1","sharedEventID":"sid","vpcEndpointId":"v","eventCategory":"Data","tlsDetails":{"tlsVersion":"t","cipherSuite":"c","clientProvidedHostHeader":"h"},"sessionCredentialFromConsole":"true","serviceEventDetails":{"s":1},"annotation":"note","addendum":{"reason":"r"},"edgeDeviceDetails":{"e":1},"insightDetails":{"i":1}}`},
}

func TestShredRebuildOdd(t *testing.T) {
	for _, c := range odd {
		b, err := rebuildValues(Shred([]byte(c.raw), t0))
		if err != nil || string(b) != c.raw {
			t.Errorf("%s: Rebuild = %q, %v; want %q", c.name, b, err, c.raw)
		}
	}
}

func TestRoundTripOdd(t *testing.T) {
	recs := make([]record, len(odd))
	for i, c := range odd {
		recs[i] = record{name: c.name, raw: []byte(c.raw), t: t0.Add(time.Duration(i) * 1234567 * time.Nanosecond)}
	}
	roundTrip(t, recs)
}

func TestOddColumns(t *testing.T) {
	shred := func(s string) *Row { return Shred([]byte(s), t0) }
	cases := []struct {
		raw  string
		path []string
		want any
		lit  string // must stay literal in the template
	}{
		{`{"eventName":"Get\/Object"}`, []string{"eventName"}, "Get/Object", `"Get\/Object"`},
		{`{"eventName":"caf\u00e9"}`, []string{"eventName"}, "café", `"caf\u00e9"`},
		{`{"eventName":"café"}`, []string{"eventName"}, "café", ""},
		{`{"eventName":"a\nb"}`, []string{"eventName"}, "a\nb", ""},
		{`{"eventName":1e999999}`, []string{"eventName"}, "1e999999", `1e999999`},
		{`{"eventName":null}`, []string{"eventName"}, nil, `null`},
		{`{"readOnly":"true"}`, []string{"readOnly"}, true, `"true"`},
		{`{"readOnly":"yes"}`, []string{"readOnly"}, nil, `"yes"`},
		{`{"readOnly":true}`, []string{"readOnly"}, true, ""},
		{`{"requestParameters":{"n":-0}}`, []string{"requestParameters"}, `{"n":-0}`, ""},
		{`{"requestParameters": [ 1 ,2 ] }`, []string{"requestParameters"}, `[ 1 ,2 ]`, ""},
		{`{"eventName":"A","eventName":"B"}`, []string{"eventName"}, "A", `"B"`},
		{`{"userIdentity":{"sessionContext":{"webIdFederationData":{"federatedProvider":"x"}}}}`, []string{"userIdentity", "sessionContext", "webIdFederationData"}, `{"federatedProvider":"x"}`, ""},
		{`{"userIdentity":"root"}`, []string{"userIdentity"}, nil, `"root"`},
		{`{"eventTime":"2026-12-01T10:20:30.000Z"}`, []string{"eventTime"}, t0, `"2026-12-01T10:20:30.000Z"`},
		{`{"sourceIPAddress":"a\u0000b"}`, []string{"sourceIPAddress"}, "a\uFFFDb", `"a\u0000b"`},
		{`{"\u0065ventName":"A"}`, []string{"eventName"}, "A", ""},
	}
	for _, c := range cases {
		r := shred(c.raw)
		if got := column(t, r, c.path...); got != c.want {
			t.Errorf("%s: %v = %#v, want %#v", c.raw, c.path, got, c.want)
		}
		if tpl := r.Template(); c.lit != "" && !strings.Contains(tpl, c.lit) {
			t.Errorf("%s: template %q lacks the literal %s", c.raw, tpl, c.lit)
		} else if c.lit == "" && !strings.Contains(tpl, "\x01") {
			t.Errorf("%s: template %q has no placeholder", c.raw, tpl)
		}
	}
}

func TestRebuildErrors(t *testing.T) {
	good := Shred([]byte(typical), t0).Values()
	if _, err := Rebuild(good[1:]); err == nil {
		t.Error("Rebuild of too few values: no error")
	}
	bad := append([]any(nil), good...)
	bad[4] = nil // eventName: its placeholder has no value
	if Columns[4].Name != "eventName" {
		t.Fatalf("Columns[4] = %s", Columns[4].Name)
	}
	if _, err := Rebuild(bad); err == nil || !strings.Contains(err.Error(), "eventName") {
		t.Errorf("Rebuild with a NULL eventName: %v", err)
	}
	bad = append([]any(nil), good...)
	bad[len(bad)-1] = "{\x01\x7f}"
	if _, err := Rebuild(bad); err == nil {
		t.Error("Rebuild of an unknown tag: no error")
	}
	bad[len(bad)-1] = "{\x01"
	if _, err := Rebuild(bad); err == nil {
		t.Error("Rebuild of a cut placeholder: no error")
	}
}

func TestSelectList(t *testing.T) {
	got := SelectList("p.")
	if !strings.HasPrefix(got, `p."eventVersion", p."userIdentity", p."eventTime"`) || !strings.HasSuffix(got, `p."_template"`) {
		t.Errorf("SelectList = %s", got)
	}
	if n := strings.Count(got, ", ") + 1; n != len(Columns) {
		t.Errorf("SelectList has %d columns, want %d", n, len(Columns))
	}
}

func FuzzShredRebuild(f *testing.F) {
	f.Add([]byte(typical), int64(0))
	for _, c := range odd {
		f.Add([]byte(c.raw), int64(len(c.raw)))
	}
	f.Fuzz(func(t *testing.T, raw []byte, ns int64) {
		r := Shred(raw, t0.Add(time.Duration(ns)))
		b, err := rebuildValues(r)
		if err != nil || !bytes.Equal(b, raw) {
			t.Fatalf("Rebuild(Shred(%q)) = %q, %v", raw, b, err)
		}
		if tpl := r.Template(); !strings.HasPrefix(tpl, "\x01\x02") && strings.Contains(tpl, "\x00") {
			t.Fatalf("template %q holds a NUL", tpl)
		}
	})
}

func Example() {
	raw := []byte(`{"eventVersion":"1.09","eventTime":"2026-12-01T10:20:30Z","eventName":"Get\/Object","readOnly":true,"requestParameters":{"bucketName":"b"}}`)
	row := Shred(raw, time.Date(2026, 12, 1, 10, 20, 30, 0, time.UTC))
	fmt.Printf("%q\n", row.Template())
	vals := row.Values() // Appender.AppendRow(vals...) writes them
	fmt.Println(vals[4], vals[10])
	back, err := Rebuild(vals) // or the values read back with SelectList
	fmt.Println(string(back) == string(raw), err)
	// Output:
	// "{\"eventVersion\":\x01 ,\"eventTime\":\x017,\"eventName\":\"Get\\/Object\",\"readOnly\":\x01D,\"requestParameters\":\x01?}"
	// Get/Object {"bucketName":"b"}
	// true <nil>
}

func BenchmarkShred(b *testing.B) {
	raw := []byte(typical)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		Shred(raw, t0).Values()
	}
}

func BenchmarkRebuild(b *testing.B) {
	vals := Shred([]byte(typical), t0).Values()
	b.SetBytes(int64(len(typical)))
	for b.Loop() {
		if _, err := Rebuild(vals); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTagsStable pins each leaf's tag: stored templates name leaves by
// tag, so renumbering them would misread every file already written.
func TestTagsStable(t *testing.T) {
	want := []string{
		"eventVersion",
		"userIdentity.type", "userIdentity.principalId", "userIdentity.arn", "userIdentity.accountId",
		"userIdentity.accessKeyId", "userIdentity.userName", "userIdentity.invokedBy",
		"userIdentity.identityProvider", "userIdentity.credentialId",
		"userIdentity.sessionContext.attributes.creationDate", "userIdentity.sessionContext.attributes.mfaAuthenticated",
		"userIdentity.sessionContext.sessionIssuer.type", "userIdentity.sessionContext.sessionIssuer.principalId",
		"userIdentity.sessionContext.sessionIssuer.arn", "userIdentity.sessionContext.sessionIssuer.accountId",
		"userIdentity.sessionContext.sessionIssuer.userName", "userIdentity.sessionContext.webIdFederationData",
		"userIdentity.sessionContext.sourceIdentity", "userIdentity.sessionContext.ec2RoleDelivery",
		"userIdentity.sessionContext.ec2IssuedInVPC",
		"userIdentity.onBehalfOf.userId", "userIdentity.onBehalfOf.identityStoreArn",
		"eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userAgent", "errorCode",
		"errorMessage", "requestParameters", "responseElements", "additionalEventData", "requestID", "eventID",
		"readOnly", "resources", "eventType", "apiVersion", "managementEvent", "recipientAccountId",
		"sharedEventID", "vpcEndpointId", "eventCategory",
		"tlsDetails.tlsVersion", "tlsDetails.cipherSuite", "tlsDetails.clientProvidedHostHeader",
		"sessionCredentialFromConsole", "serviceEventDetails", "annotation", "addendum",
		"edgeDeviceDetails", "insightDetails",
	}
	var got []string
	var walk func(prefix string, fs []*field)
	walk = func(prefix string, fs []*field) {
		for _, f := range fs {
			if f.kind == kStruct {
				walk(prefix+f.name+".", f.sub)
				continue
			}
			if f.leaf != len(got) {
				t.Errorf("%s%s has leaf %d, want %d", prefix, f.name, f.leaf, len(got))
			}
			got = append(got, prefix+f.name)
		}
	}
	walk("", schema)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("leaves in tag order (0x20 up):\n%v\nwant\n%v", got, want)
	}
	if tagBase+len(want)-1 != 0x55 {
		t.Errorf("last tag = %#x", tagBase+len(want)-1)
	}
}
