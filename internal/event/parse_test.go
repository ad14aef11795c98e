package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// base is a small valid record the table tests edit.
const base = `{"eventVersion":"1.09",` +
	`"userIdentity":{"type":"IAMUser","principalId":"AIDAQEXAMPLEUSER0001",` +
	`"arn":"arn:aws:iam::210987654321:user/alice","accountId":"210987654321",` +
	`"accessKeyId":"AKIAQEXAMPLEKEY00001","userName":"alice"},` +
	`"eventTime":"2024-05-06T07:01:44Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser",` +
	`"awsRegion":"us-east-1","sourceIPAddress":"198.51.100.23","userAgent":"aws-cli/2.9.19",` +
	`"requestParameters":{"userName":"bob"},"responseElements":null,` +
	`"requestID":"6f2b0c1e-9a3d-4e51-8d9e-2b7a6c0d1e2f","eventID":"0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c",` +
	`"readOnly":false,"eventType":"AwsApiCall","managementEvent":true,` +
	`"recipientAccountId":"210987654321","eventCategory":"Management"}`

// edit returns base with the first old replaced by new; it panics when old
// is not in base, so a stale table row cannot pass by testing base itself.
func edit(old, new string) string {
	if !strings.Contains(base, old) {
		panic("edit: " + old + " not in base")
	}
	return strings.Replace(base, old, new, 1)
}

// drop returns base without the member text m (which must include its
// trailing comma).
func drop(m string) string { return edit(m, "") }

func TestParseBase(t *testing.T) {
	rec, err := event.Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	want := &event.Record{
		Raw:             []byte(base),
		EventID:         "0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c",
		EventTime:       time.Date(2024, 5, 6, 7, 1, 44, 0, time.UTC),
		EventVersion:    "1.09",
		EventSource:     "iam.amazonaws.com",
		EventName:       "CreateUser",
		EventType:       "AwsApiCall",
		EventCategory:   "Management",
		AWSRegion:       "us-east-1",
		SourceIP:        "198.51.100.23",
		UserAgent:       "aws-cli/2.9.19",
		AccountID:       "210987654321",
		Username:        "alice",
		AccessKeyID:     "AKIAQEXAMPLEKEY00001",
		ReadOnly:        false,
		ReadOnlySet:     true,
		ManagementEvent: true,
	}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("Parse(base) =\n%+v\nwant\n%+v", rec, want)
	}
	if got := rec.ReadOnlyString(); got != "false" {
		t.Errorf("ReadOnlyString() = %q, want false", got)
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := []struct {
		name string
		in   string
		want string
	}{
		// Field rules.
		{"time not RFC 3339", edit(`"2024-05-06T07:01:44Z"`, `"2024-13-01"`),
			`eventTime: "2024-13-01" is not an RFC 3339 UTC time`},
		{"time month 13", edit(`"2024-05-06T07:01:44Z"`, `"2024-13-06T07:01:44Z"`),
			`eventTime: "2024-13-06T07:01:44Z" is not an RFC 3339 UTC time`},
		{"time 30 February", edit(`"2024-05-06T07:01:44Z"`, `"2024-02-30T07:01:44Z"`),
			`eventTime: "2024-02-30T07:01:44Z" is not an RFC 3339 UTC time`},
		{"time without zone", edit(`"2024-05-06T07:01:44Z"`, `"2024-05-06T07:01:44"`),
			`eventTime: "2024-05-06T07:01:44" is not an RFC 3339 UTC time`},
		{"time with space", edit(`"2024-05-06T07:01:44Z"`, `"2024-05-06 07:01:44Z"`),
			`eventTime: "2024-05-06 07:01:44Z" is not an RFC 3339 UTC time`},
		{"time leap second", edit(`"2024-05-06T07:01:44Z"`, `"2024-05-06T23:59:60Z"`),
			`eventTime: "2024-05-06T23:59:60Z" is not an RFC 3339 UTC time`},
		{"time ten fraction digits", edit(`"2024-05-06T07:01:44Z"`, `"2024-05-06T07:01:44.0123456789Z"`),
			`eventTime: "2024-05-06T07:01:44.0123456789Z" is not an RFC 3339 UTC time`},
		{"time empty fraction", edit(`"2024-05-06T07:01:44Z"`, `"2024-05-06T07:01:44.Z"`),
			`eventTime: "2024-05-06T07:01:44.Z" is not an RFC 3339 UTC time`},
		{"time bad offset", edit(`"2024-05-06T07:01:44Z"`, `"2024-05-06T07:01:44+0200"`),
			`eventTime: "2024-05-06T07:01:44+0200" is not an RFC 3339 UTC time`},
		{"time number", edit(`"2024-05-06T07:01:44Z"`, `1714978904`),
			`eventTime: 1714978904 is not a string`},
		{"time missing", drop(`"eventTime":"2024-05-06T07:01:44Z",`), `eventTime: is required`},
		{"version missing", drop(`"eventVersion":"1.09",`), `eventVersion: is required`},
		{"version one number", edit(`"1.09"`, `"1"`),
			`eventVersion: "1" is not a version of the form <major>.<minor>`},
		{"version trailing dot", edit(`"1.09"`, `"1."`),
			`eventVersion: "1." is not a version of the form <major>.<minor>`},
		{"version v prefix", edit(`"1.09"`, `"v1.09"`),
			`eventVersion: "v1.09" is not a version of the form <major>.<minor>`},
		{"version number", edit(`"1.09"`, `1.09`), `eventVersion: 1.09 is not a string`},
		{"id missing", drop(`"eventID":"0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c",`), `eventID: is required`},
		{"id empty", edit(`"0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c"`, `""`),
			`eventID: "" is not 1 to 128 characters of A-Z a-z 0-9 . _ : -`},
		{"id space", edit(`"0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c"`, `"a b"`),
			`eventID: "a b" is not 1 to 128 characters of A-Z a-z 0-9 . _ : -`},
		{"id too long", edit(`"0d4c9e61-3b0f-4a8e-b1f5-7c2e9d3a4b5c"`, `"`+long+`"`),
			`eventID: "` + long[:63] + `… is not 1 to 128 characters of A-Z a-z 0-9 . _ : -`},
		{"source missing", drop(`"eventSource":"iam.amazonaws.com",`), `eventSource: is required`},
		{"source empty", edit(`"iam.amazonaws.com"`, `""`), `eventSource: "" is empty`},
		{"source null", edit(`"iam.amazonaws.com"`, `null`), `eventSource: null is not a string`},
		{"name missing", drop(`"eventName":"CreateUser",`), `eventName: is required`},
		{"region missing", drop(`"awsRegion":"us-east-1",`), `awsRegion: is required`},
		{"region upper case", edit(`"us-east-1"`, `"US-EAST-1"`),
			`awsRegion: "US-EAST-1" is not 1 to 64 characters of a-z 0-9 -`},
		{"region empty", edit(`"us-east-1"`, `""`),
			`awsRegion: "" is not 1 to 64 characters of a-z 0-9 -`},
		{"recipient short", edit(`"recipientAccountId":"210987654321"`, `"recipientAccountId":"12345"`),
			`recipientAccountId: "12345" is not a 12-digit account ID`},
		{"recipient letters", edit(`"recipientAccountId":"210987654321"`, `"recipientAccountId":"21098765432x"`),
			`recipientAccountId: "21098765432x" is not a 12-digit account ID`},
		{"identity account", edit(`"accountId":"210987654321"`, `"accountId":"anonymous"`),
			`userIdentity.accountId: "anonymous" is not a 12-digit account ID`},
		{"no account", strings.Replace(
			edit(`"accountId":"210987654321",`, ``), `"recipientAccountId":"210987654321",`, ``, 1),
			`recipientAccountId: is required when userIdentity.accountId is absent or empty`},
		{"empty accounts", strings.Replace(
			edit(`"accountId":"210987654321"`, `"accountId":""`), `"recipientAccountId":"210987654321"`, `"recipientAccountId":""`, 1),
			`recipientAccountId: is required when userIdentity.accountId is absent or empty`},
		{"readOnly string", edit(`"readOnly":false`, `"readOnly":"false"`), `readOnly: "false" is not a boolean`},
		{"managementEvent null", edit(`"managementEvent":true`, `"managementEvent":null`),
			`managementEvent: null is not a boolean`},
		{"userIdentity array", edit(`"userIdentity":{"type"`, `"userIdentity":[],"x":{"type"`),
			`userIdentity: [] is not an object`},
		{"pretty value on one line", edit(`{"userName":"bob"}`, "[\n\t1,\r\n\t\"a b\"\n]"),
			`requestParameters: [1,"a b"] is not an object or null`},
		{"userIdentity type number", edit(`"type":"IAMUser"`, `"type":7`), `userIdentity.type: 7 is not a string`},
		{"sessionContext attribute bool", edit(`"userName":"alice"}`,
			`"userName":"alice","sessionContext":{"attributes":{"mfaAuthenticated":false}}}`),
			`userIdentity.sessionContext.attributes.mfaAuthenticated: false is not a string`},
		{"sessionIssuer string", edit(`"userName":"alice"}`, `"userName":"alice","sessionContext":{"sessionIssuer":"x"}}`),
			`userIdentity.sessionContext.sessionIssuer: "x" is not an object`},
		{"resources object", edit(`"readOnly"`, `"resources":{"ARN":"a"},"readOnly"`),
			`resources: {"ARN":"a"} is not an array`},
		{"resources null", edit(`"readOnly"`, `"resources":null,"readOnly"`), `resources: null is not an array`},
		{"resource not object", edit(`"readOnly"`, `"resources":[{"ARN":"a"},1],"readOnly"`),
			`resources[1]: 1 is not an object`},
		{"resource ARN number", edit(`"readOnly"`, `"resources":[{"type":"AWS::S3::Bucket","ARN":5}],"readOnly"`),
			`resources[0].ARN: 5 is not a string`},
		{"requestParameters string", edit(`{"userName":"bob"}`, `"userName=bob"`),
			`requestParameters: "userName=bob" is not an object or null`},
		{"responseElements array", edit(`"responseElements":null`, `"responseElements":[]`),
			`responseElements: [] is not an object or null`},
		{"tlsDetails null", edit(`"readOnly"`, `"tlsDetails":null,"readOnly"`), `tlsDetails: null is not an object`},
		{"errorCode number", edit(`"readOnly"`, `"errorCode":403,"readOnly"`), `errorCode: 403 is not a string`},
		{"long value cut", edit(`{"userName":"bob"}`, `[`+strings.Repeat(`"éééé",`, 20)+`1]`),
			`requestParameters: [` + strings.Repeat(`"éééé",`, 5) + `"ééé… is not an object or null`},
		{"insight without details", edit(`"AwsApiCall"`, `"AwsCloudTrailInsight"`),
			`insightDetails: is required in an Insights event`},
		{"insight without source", edit(`"AwsApiCall"`, `"AwsCloudTrailInsight","insightDetails":{"eventName":"X"}`),
			`insightDetails.eventSource: is required`},
		{"insight empty name", edit(`"AwsApiCall"`, `"AwsCloudTrailInsight","insightDetails":{"eventSource":"s","eventName":""}`),
			`insightDetails.eventName: "" is empty`},
		{"not an object", `[1,2]`, `record is not a JSON object`},
		{"string record", `"x"`, `record is not a JSON object`},

		// Duplicate keys.
		{"duplicate top-level key", edit(`"eventName":"CreateUser",`, `"eventName":"CreateUser","eventName":"DeleteUser",`),
			`eventName: is a duplicate key`},
		{"duplicate after unescaping", edit(`"eventName":"CreateUser",`, `"eventName":"CreateUser","event\u004eame":"DeleteUser",`),
			`eventName: is a duplicate key`},
		{"duplicate unknown key", edit(`"readOnly"`, `"x":1,"x":2,"readOnly"`), `x: is a duplicate key`},
		{"duplicate nested key", edit(`{"userName":"bob"}`, `{"a":{"b":[{"c":1,"c":2}]}}`),
			`requestParameters.a.b[0].c: is a duplicate key`},
		{"duplicate in big object", edit(`{"userName":"bob"}`, bigObject(100, "k7")),
			`requestParameters.k7: is a duplicate key`},

		// Syntax.
		{"empty", ``, `invalid JSON at byte 0: empty input`},
		{"blank", " \n\t", `invalid JSON at byte 3: empty input`},
		{"open brace", `{`, `invalid JSON at byte 1: unexpected end of input in object`},
		{"truncated in key", base[:40], `invalid JSON at byte 39 (in userIdentity): unterminated string`},
		{"truncated in object", base[:39], `invalid JSON at byte 39 (in userIdentity): unexpected end of input in object`},
		{"truncated after colon", base[:16], `invalid JSON at byte 16 (in eventVersion): unexpected end of input`},
		{"truncated after key", base[:15], `invalid JSON at byte 15: missing ':' after object key`},
		{"unterminated string", `{"a":"bc`, `invalid JSON at byte 5 (in a): unterminated string`},
		{"trailing comma", `{"a":1,}`, `invalid JSON at byte 7: object key is not a string`},
		{"trailing comma in array", `{"a":[1,]}`, `invalid JSON at byte 8 (in a[1]): unexpected ']' where a value should be`},
		{"missing colon", `{"a" 1}`, `invalid JSON at byte 5: missing ':' after object key`},
		{"missing comma", `{"a":1 "b":2}`, `invalid JSON at byte 7 (in a): unexpected '"' after object member, want ',' or '}'`},
		{"single quotes", `{'a':1}`, `invalid JSON at byte 1: object key is not a string`},
		{"leading zero", `{"a":01}`, `invalid JSON at byte 6 (in a): unexpected '1' after object member, want ',' or '}'`},
		{"bare minus", `{"a":-}`, `invalid JSON at byte 6 (in a): invalid number`},
		{"no fraction digits", `{"a":1.}`, `invalid JSON at byte 7 (in a): invalid number: no digits after '.'`},
		{"no exponent digits", `{"a":1e+}`, `invalid JSON at byte 8 (in a): invalid number: no digits in exponent`},
		{"NaN", `{"a":NaN}`, `invalid JSON at byte 5 (in a): unexpected 'N' where a value should be`},
		{"bad literal", `{"a":tru}`, `invalid JSON at byte 5 (in a): invalid literal, want true`},
		{"invalid UTF-8", "{\"a\":\"x\xffy\"}", `invalid JSON at byte 7 (in a): invalid UTF-8 in string`},
		{"invalid UTF-8 in key", "{\"\xc3(\":1}", `invalid JSON at byte 2: invalid UTF-8 in string`},
		{"UTF-8 surrogate", "{\"a\":\"\xed\xa0\x80\"}", `invalid JSON at byte 6 (in a): invalid UTF-8 in string`},
		{"overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", `invalid JSON at byte 6 (in a): invalid UTF-8 in string`},
		{"control character", "{\"a\":\"x\ty\"}", `invalid JSON at byte 7 (in a): control character byte 0x09 in string`},
		{"lone high surrogate", `{"a":"\ud800x"}`, `invalid JSON at byte 6 (in a): \u escape is a lone UTF-16 surrogate`},
		{"lone low surrogate", `{"a":"\udc00"}`, `invalid JSON at byte 6 (in a): \u escape is a lone UTF-16 surrogate`},
		{"reversed surrogates", `{"a":"\udc00\ud800"}`, `invalid JSON at byte 6 (in a): \u escape is a lone UTF-16 surrogate`},
		{"bad hex", `{"a":"\u12G4"}`, `invalid JSON at byte 6 (in a): invalid \u escape`},
		{"bad escape", `{"a":"\x"}`, `invalid JSON at byte 6 (in a): invalid escape "\\x"`},
		{"two records", `{} {}`, `invalid JSON at byte 3: unexpected '{' after the record`},
		{"syntax beats validation", `{"eventTime":1,"a":}`,
			`invalid JSON at byte 19 (in a): unexpected '}' where a value should be`},
		{"too deep", `{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`,
			`invalid JSON at byte 68 (in a` + strings.Repeat("[0]", 63) + `): nesting deeper than 64 levels`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := event.Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want error %q", tt.in, rec, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%s) error\n got %s\nwant %s", tt.in, got, tt.want)
			}
			var se *event.SyntaxError
			var ve *event.ValidationError
			if !errors.As(err, &se) && !errors.As(err, &ve) {
				t.Errorf("error %T is neither *SyntaxError nor *ValidationError", err)
			}
		})
	}
}

// bigObject returns an object with n keys k0…k{n-1} and then dup again.
func bigObject(n int, dup string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		b.WriteString(`"k` + strconv.Itoa(i) + `":1,`)
	}
	b.WriteString(`"` + dup + `":2}`)
	return b.String()
}

func TestParseNestingLimit(t *testing.T) {
	// 64 levels are fine.
	ok := `{"a":` + strings.Repeat("[", 62) + `{}` + strings.Repeat("]", 62) + `,` + base[1:]
	if _, err := event.Parse([]byte(ok)); err != nil {
		t.Errorf("64 levels: %v", err)
	}
	// 10,000 levels fail fast, on the 65th.
	for _, open := range []string{"[", `{"a":`} {
		deep := `{"x":` + strings.Repeat(open, 10000)
		start := time.Now()
		_, err := event.Parse([]byte(deep))
		var se *event.SyntaxError
		if !errors.As(err, &se) || !strings.HasSuffix(se.Msg, "nesting deeper than 64 levels") {
			t.Fatalf("10,000 levels of %s: error %v, want nesting error", open, err)
		}
		if se.Offset > 64*len(open)+5 {
			t.Errorf("10,000 levels of %s: failed at byte %d, want within the first 65 levels", open, se.Offset)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("10,000 levels of %s took %v", open, d)
		}
	}
}

func TestParseTooLarge(t *testing.T) {
	pad := strings.Repeat(" ", event.MaxRecordSize-len(base))
	if _, err := event.Parse([]byte(base + pad)); err != nil {
		t.Errorf("record of exactly MaxRecordSize bytes: %v", err)
	}
	_, err := event.Parse([]byte(base + pad + " "))
	if !errors.Is(err, event.ErrTooLarge) {
		t.Fatalf("record of MaxRecordSize+1 bytes: error %v, want ErrTooLarge", err)
	}
	if want := "record is 262145 bytes: larger than the 256 KB record limit"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestParseLossless(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"whitespace removed",
			" {\n  \"zeta\" : \"v\" ,\r\n\t\"x\" : [ 1 , { } , [ ] , \"a b\" ] ,\n" + base[1:] + "\n",
			`{"zeta":"v","x":[1,{},[],"a b"],` + base[1:]},
		{"unknown fields at every depth",
			edit(`"eventCategory":"Management"}`,
				`"eventCategory":"Management","zNew":{"deep":[{"deeper":{"k":"v"}},null,true,false]}}`),
			""},
		{"key order kept", `{"zz":1,"aa":2,` + base[1:], ""},
		{"unicode escapes kept", edit(`"bob"`, `"\u0062\u00f6\u00D6\ud83d\ude00\"\\\/\b\f\n\r\t"`), ""},
		{"raw unicode kept", edit(`"bob"`, `"böb 😀 \u2028 `+"\u2028"+`"`), ""},
		{"escaped key kept", edit(`"userName":"bob"`, `"user\u004eame":"bob"`), ""},
		{"big numbers kept", edit(`{"userName":"bob"}`,
			`{"a":12345678901234567890,"b":1e400,"c":-0.000000000000000000001,"d":1E+2,"e":-0,"f":0.10}`), ""},
		{"empty containers", edit(`{"userName":"bob"}`, `{"a":{},"b":[],"c":""}`), ""},
		{"NUL escape kept", edit(`"bob"`, `"a\u0000b"`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.in
			}
			rec, err := event.Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(rec.Raw) != want {
				t.Errorf("Raw\n got %s\nwant %s", rec.Raw, want)
			}
			var c bytes.Buffer
			if err := json.Compact(&c, []byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Bytes(), rec.Raw) {
				t.Errorf("Raw differs from encoding/json's Compact:\n got %s\nwant %s", rec.Raw, c.Bytes())
			}
			again, err := event.Parse(rec.Raw)
			if err != nil {
				t.Fatalf("Parse(Raw): %v", err)
			}
			if !reflect.DeepEqual(again, rec) {
				t.Errorf("Parse(Raw) = %+v, want %+v", again, rec)
			}
		})
	}
}

func TestParseDoesNotRetainInput(t *testing.T) {
	in := []byte(base)
	rec, err := event.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'X'
	}
	if string(rec.Raw) != base || rec.EventName != "CreateUser" || rec.Username != "alice" {
		t.Errorf("record changed with its input: Raw %s, EventName %q, Username %q", rec.Raw, rec.EventName, rec.Username)
	}
}

func TestParseFields(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(*event.Record) []any // pairs of got, want
	}{
		{"time with offset and fraction", edit(`"2024-05-06T07:01:44Z"`, `"2024-05-06T09:01:44.123456+02:00"`),
			func(r *event.Record) []any {
				return []any{r.EventTime, time.Date(2024, 5, 6, 7, 1, 44, 123456000, time.UTC)}
			}},
		{"time lower case", edit(`"2024-05-06T07:01:44Z"`, `"2024-05-05t23:01:44.5-08:00"`),
			func(r *event.Record) []any {
				return []any{r.EventTime, time.Date(2024, 5, 6, 7, 1, 44, 500000000, time.UTC)}
			}},
		{"time leap day", edit(`"2024-05-06T07:01:44Z"`, `"2024-02-29T00:00:00Z"`),
			func(r *event.Record) []any {
				return []any{r.EventTime, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), r.EventTime.Location(), time.UTC}
			}},
		{"escaped values decoded", edit(`"iam.amazonaws.com"`, `"iam.amazonaws.co\u006d"`),
			func(r *event.Record) []any { return []any{r.EventSource, "iam.amazonaws.com"} }},
		{"account from identity", edit(`"recipientAccountId":"210987654321"`, `"recipientAccountId":""`),
			func(r *event.Record) []any { return []any{r.AccountID, "210987654321"} }},
		{"recipient wins", edit(`"recipientAccountId":"210987654321"`, `"recipientAccountId":"111122223333"`),
			func(r *event.Record) []any { return []any{r.AccountID, "111122223333"} }},
		{"no readOnly", drop(`"readOnly":false,`),
			func(r *event.Record) []any { return []any{r.ReadOnlySet, false, r.ReadOnlyString(), ""} }},
		{"readOnly true", edit(`"readOnly":false`, `"readOnly":true`),
			func(r *event.Record) []any { return []any{r.ReadOnly, true, r.ReadOnlyString(), "true"} }},
		{"category kept", edit(`"eventCategory":"Management"`, `"eventCategory":"NetworkActivity"`),
			func(r *event.Record) []any { return []any{r.EventCategory, "NetworkActivity", r.ManagementEvent, true} }},
		{"category from managementEvent false", strings.Replace(
			edit(`,"eventCategory":"Management"`, ``), `"managementEvent":true`, `"managementEvent":false`, 1),
			func(r *event.Record) []any { return []any{r.EventCategory, "Data", r.ManagementEvent, false} }},
		{"category default", strings.Replace(edit(`,"eventCategory":"Management"`, ``), `"managementEvent":true,`, ``, 1),
			func(r *event.Record) []any { return []any{r.EventCategory, "Management", r.ManagementEvent, true} }},
		{"managementEvent from category", drop(`"managementEvent":true,`),
			func(r *event.Record) []any { return []any{r.ManagementEvent, true} }},
		{"managementEvent from data category", strings.Replace(
			drop(`"managementEvent":true,`), `"Management"`, `"Data"`, 1),
			func(r *event.Record) []any { return []any{r.ManagementEvent, false} }},
		{"error code", edit(`"readOnly"`, `"errorCode":"AccessDenied","errorMessage":"no","readOnly"`),
			func(r *event.Record) []any { return []any{r.ErrorCode, "AccessDenied"} }},
		{"resources", edit(`"readOnly"`, `"resources":[{"accountId":"210987654321","type":"AWS::IAM::User",`+
			`"ARN":"arn:aws:iam::210987654321:user/bob"},{"type":"AWS::S3::Object","ARNPrefix":"arn:aws:s3:::b/logs/"},`+
			`{"type":"AWS::X::Y","name":"n2","resourceName":"n1"},{"ARN":"","name":"n3"},{}],"readOnly"`),
			func(r *event.Record) []any {
				return []any{r.Resources, []event.Resource{
					{Type: "AWS::IAM::User", Name: "arn:aws:iam::210987654321:user/bob"},
					{Type: "AWS::S3::Object", Name: "arn:aws:s3:::b/logs/"},
					{Type: "AWS::X::Y", Name: "n1"},
					{Name: "n3"},
					{},
				}}
			}},
		{"empty resources", edit(`"readOnly"`, `"resources":[],"readOnly"`),
			func(r *event.Record) []any { return []any{r.Resources == nil, true} }},
		{"insight", insightRecord,
			func(r *event.Record) []any {
				return []any{r.EventSource, "ec2.amazonaws.com", r.EventName, "RunInstances",
					r.EventCategory, "Insight", r.ManagementEvent, false, r.ReadOnlyString(), "",
					r.AccountID, "210987654321", r.Username, ""}
			}},
		{"insight without eventCategory", strings.Replace(insightRecord, `,"eventCategory":"Insight"`, ``, 1),
			func(r *event.Record) []any { return []any{r.EventCategory, "Insight"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := event.Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			pairs := tt.check(rec)
			for i := 0; i < len(pairs); i += 2 {
				if !reflect.DeepEqual(pairs[i], pairs[i+1]) {
					t.Errorf("value %d = %#v, want %#v", i/2, pairs[i], pairs[i+1])
				}
			}
		})
	}
}

const insightRecord = `{"eventVersion":"1.08","eventTime":"2024-05-06T07:00:00Z","awsRegion":"us-east-1",` +
	`"eventID":"5b6c7d8e-0f1a-4b2c-9d3e-4f5a6b7c8d9e","eventType":"AwsCloudTrailInsight",` +
	`"recipientAccountId":"210987654321","sharedEventID":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",` +
	`"insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances",` +
	`"insightType":"ApiCallRateInsight","insightContext":{"statistics":{"baseline":{"average":0.0017},` +
	`"insight":{"average":6},"insightDuration":1,"baselineDuration":10080}}},"eventCategory":"Insight"}`

func TestParseUsername(t *testing.T) {
	identity := func(ui string) string {
		return edit(base[strings.Index(base, `{"type"`):strings.Index(base, `"eventTime"`)-1], ui)
	}
	tests := []struct {
		name, userIdentity, want string
	}{
		{"root", `{"type":"Root","principalId":"210987654321","arn":"arn:aws:iam::210987654321:root",` +
			`"accountId":"210987654321","userName":"acme-prod"}`, "root"},
		{"IAM user", `{"type":"IAMUser","principalId":"AIDAQEXAMPLEUSER0001","userName":"alice"}`, "alice"},
		{"IAM user without userName", `{"type":"IAMUser","principalId":"AIDAQEXAMPLEUSER0001"}`, "AIDAQEXAMPLEUSER0001"},
		{"assumed role", `{"type":"AssumedRole","principalId":"AROAQEXAMPLEROLEID01:ci-run-42",` +
			`"arn":"arn:aws:sts::210987654321:assumed-role/deployer/ci-run-42","accountId":"210987654321",` +
			`"sessionContext":{"sessionIssuer":{"type":"Role","userName":"deployer"}}}`, "ci-run-42"},
		{"assumed role, escaped arn", `{"type":"AssumedRole",` +
			`"arn":"arn:aws:sts::210987654321:assumed-role\/deployer\/bob@example.com","accountId":"210987654321"}`,
			"bob@example.com"},
		{"assumed role without session in arn", `{"type":"AssumedRole","principalId":"AROAQEXAMPLEROLEID01:x",` +
			`"arn":"arn:aws:sts::210987654321:assumed-role/deployer","accountId":"210987654321",` +
			`"sessionContext":{"sessionIssuer":{"type":"Role","userName":"deployer"}}}`, "deployer"},
		{"assumed role without arn", `{"type":"AssumedRole","principalId":"AROAQEXAMPLEROLEID01:x",` +
			`"accountId":"210987654321","sessionContext":{"sessionIssuer":{"userName":"deployer"}}}`, "deployer"},
		{"federated user", `{"type":"FederatedUser","principalId":"210987654321:carol",` +
			`"arn":"arn:aws:sts::210987654321:federated-user/carol","accountId":"210987654321",` +
			`"sessionContext":{"sessionIssuer":{"type":"IAMUser","userName":"broker"}}}`, "carol"},
		{"AWS service", `{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}`, "cloudtrail.amazonaws.com"},
		{"AWS account", `{"type":"AWSAccount","principalId":"AIDAQEXAMPLEUSER0009","accountId":"111122223333"}`,
			"AIDAQEXAMPLEUSER0009"},
		{"unknown type with userName", `{"type":"SAMLUser","principalId":"p","userName":"dave"}`, "dave"},
		{"no identity type", `{"principalId":"p"}`, "p"},
		{"empty identity", `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := event.Parse([]byte(identity(tt.userIdentity)))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Username != tt.want {
				t.Errorf("Username = %q, want %q", rec.Username, tt.want)
			}
		})
	}
	// Without userIdentity at all.
	rec, err := event.Parse([]byte(strings.Replace(base, base[strings.Index(base, `"userIdentity"`):strings.Index(base, `"eventTime"`)], "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Username != "" || rec.AccessKeyID != "" {
		t.Errorf("no userIdentity: Username %q, AccessKeyID %q, want empty", rec.Username, rec.AccessKeyID)
	}
}

// stratusRecords returns every record of the public Stratus Red Team
// detonation logs, keyed by file name and index.
func stratusRecords(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	files, err := filepath.Glob("../../../shared/testdata/public/stratus-red-team/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no Stratus Red Team files under ../../../shared/testdata/public/stratus-red-team")
	}
	out := make(map[string]json.RawMessage)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var recs []json.RawMessage
		if err := json.Unmarshal(b, &recs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, r := range recs {
			out[filepath.Base(f)+"["+strconv.Itoa(i)+"]"] = r
		}
	}
	return out
}

// stdRecord is the subset of a record encoding/json decodes for
// comparison.
type stdRecord struct {
	EventID            string `json:"eventID"`
	EventName          string `json:"eventName"`
	EventSource        string `json:"eventSource"`
	EventTime          string `json:"eventTime"`
	AWSRegion          string `json:"awsRegion"`
	SourceIPAddress    string `json:"sourceIPAddress"`
	UserAgent          string `json:"userAgent"`
	ErrorCode          string `json:"errorCode"`
	ReadOnly           *bool  `json:"readOnly"`
	RecipientAccountID string `json:"recipientAccountId"`
	EventCategory      string `json:"eventCategory"`
	UserIdentity       struct {
		Type        string `json:"type"`
		AccessKeyID string `json:"accessKeyId"`
		UserName    string `json:"userName"`
	} `json:"userIdentity"`
	Resources []struct {
		Type string `json:"type"`
		ARN  string `json:"ARN"`
	} `json:"resources"`
}

func TestParseStratusRedTeam(t *testing.T) {
	recs := stratusRecords(t)
	if len(recs) != 310 {
		t.Errorf("%d Stratus records, want 310", len(recs))
	}
	users := map[string]int{}
	for name, raw := range recs {
		rec, err := event.Parse(raw)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Bytes(), rec.Raw) {
			t.Errorf("%s: Raw is not the compact record", name)
		}
		var s stdRecord
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		when, _ := time.Parse(time.RFC3339, s.EventTime)
		var res []event.Resource
		for _, r := range s.Resources {
			res = append(res, event.Resource{Type: r.Type, Name: r.ARN})
		}
		got := []any{rec.EventID, rec.EventName, rec.EventSource, rec.EventTime, rec.AWSRegion, rec.SourceIP,
			rec.UserAgent, rec.ErrorCode, rec.ReadOnly, rec.AccountID, rec.EventCategory, rec.AccessKeyID, rec.Resources}
		want := []any{s.EventID, s.EventName, s.EventSource, when, s.AWSRegion, s.SourceIPAddress,
			s.UserAgent, s.ErrorCode, *s.ReadOnly, s.RecipientAccountID, s.EventCategory, s.UserIdentity.AccessKeyID, res}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fields\n got %v\nwant %v", name, got, want)
		}
		if rec.Username == "" {
			t.Errorf("%s: empty Username", name)
		}
		users[s.UserIdentity.Type+" "+rec.Username]++
	}
	// Spot checks of Username on known records.
	for _, tt := range []struct{ record, want string }{
		{"aws.persistence.iam-backdoor-user.json[0]", "christophe"},                                                              // IAMUser
		{"aws.impact.bedrock-invoke-model.json[0]", "cli"},                                                                       // AssumedRole session
		{"aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json[0]", "AWSReservedSSO_account-admin_599c9e90e350d2ff"}, // ARN without session: issuer
	} {
		rec, err := event.Parse(recs[tt.record])
		if err != nil {
			t.Fatal(err)
		}
		if rec.Username != tt.want {
			t.Errorf("%s: Username %q, want %q", tt.record, rec.Username, tt.want)
		}
	}
	var federated int
	for k, n := range users {
		if strings.HasPrefix(k, "FederatedUser ") {
			federated += n
			if k != "FederatedUser stratus_red_team" {
				t.Errorf("federated user named %q", k)
			}
		}
	}
	if federated != 1 {
		t.Errorf("%d federated-user records, want 1", federated)
	}
}

func TestErrorValueIsValidUTF8(t *testing.T) {
	// A cut inside a multi-byte character must not leave half of it.
	in := edit(`"us-east-1"`, `"`+strings.Repeat("é", 40)+`"`)
	_, err := event.Parse([]byte(in))
	var ve *event.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want *ValidationError", err)
	}
	if !strings.HasSuffix(ve.Value, "…") || len(ve.Value) > 64+len("…") {
		t.Errorf("Value %q not cut to 64 bytes", ve.Value)
	}
	if !json.Valid([]byte(`"` + strings.TrimSuffix(ve.Value[1:], "…") + `"`)) {
		t.Errorf("Value %q cut inside a character", ve.Value)
	}
}
