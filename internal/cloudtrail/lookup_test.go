package cloudtrail

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/pagetoken"
)

type lookupResp struct {
	Events []struct {
		EventId, EventName, ReadOnly, AccessKeyId, EventSource, Username, CloudTrailEvent string
		EventTime                                                                         float64
		Resources                                                                         []struct{ ResourceType, ResourceName string }
	}
	NextToken string
}

func decodeLookup(t *testing.T, status int, body string) lookupResp {
	t.Helper()
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var r lookupResp
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("bad body: %v: %s", err, body)
	}
	return r
}

func (e *env) lookupOK(account, region, body string) lookupResp {
	e.t.Helper()
	status, b := e.call(account, region, "LookupEvents", body)
	return decodeLookup(e.t, status, b)
}

func TestLookupEventsValidation(t *testing.T) {
	e := newEnv(t, Options{})
	long := strings.Repeat("x", 2001)
	tests := []struct {
		name, body string
		code, msg  string
	}{
		{"MaxResults 0", `{"MaxResults":0}`, "InvalidMaxResultsException", "MaxResults must be between 1 and 50; got 0."},
		{"MaxResults 51", `{"MaxResults":51}`, "InvalidMaxResultsException", "MaxResults must be between 1 and 50; got 51."},
		{"MaxResults negative", `{"MaxResults":-1}`, "InvalidMaxResultsException", "MaxResults must be between 1 and 50; got -1."},
		{"category management", `{"EventCategory":"management"}`, "InvalidEventCategoryException",
			`EventCategory "management" is not valid; the only valid value is insight.`},
		{"category case", `{"EventCategory":"Insight"}`, "InvalidEventCategoryException",
			`EventCategory "Insight" is not valid; the only valid value is insight.`},
		{"two attributes", `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"a"},{"AttributeKey":"Username","AttributeValue":"b"}]}`,
			"InvalidLookupAttributesException", "You can specify at most one lookup attribute; got 2."},
		{"no key", `{"LookupAttributes":[{"AttributeValue":"a"}]}`,
			"InvalidLookupAttributesException", "AttributeKey is required in a lookup attribute."},
		{"bogus key", `{"LookupAttributes":[{"AttributeKey":"Bogus","AttributeValue":"a"}]}`,
			"InvalidLookupAttributesException", `AttributeKey "Bogus" is not valid; valid keys are EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource and AccessKeyId.`},
		{"key case", `{"LookupAttributes":[{"AttributeKey":"eventName","AttributeValue":"a"}]}`,
			"InvalidLookupAttributesException", `AttributeKey "eventName" is not valid; valid keys are EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource and AccessKeyId.`},
		{"no value", `{"LookupAttributes":[{"AttributeKey":"EventName"}]}`,
			"InvalidLookupAttributesException", "AttributeValue is required in a lookup attribute."},
		{"empty value", `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":""}]}`,
			"InvalidLookupAttributesException", "AttributeValue must be 1 to 2000 characters long; got 0."},
		{"long value", `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"` + long + `"}]}`,
			"InvalidLookupAttributesException", "AttributeValue must be 1 to 2000 characters long; got 2001."},
		{"ReadOnly yes", `{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"yes"}]}`,
			"InvalidLookupAttributesException", `AttributeValue for ReadOnly must be true or false; got "yes".`},
		{"ReadOnly TRUE", `{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"TRUE"}]}`,
			"InvalidLookupAttributesException", `AttributeValue for ReadOnly must be true or false; got "TRUE".`},
		{"insight with Username", `{"EventCategory":"insight","LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"root"}]}`,
			"InvalidLookupAttributesException", "AttributeKey Username does not apply to Insights events; use EventId, EventName or EventSource."},
		{"start after end", `{"StartTime":1709251201,"EndTime":1709251200}`,
			"InvalidTimeRangeException", "StartTime must not be after EndTime."},
		{"start after end fractional", `{"StartTime":1709251200.5,"EndTime":1709251200.25}`,
			"InvalidTimeRangeException", "StartTime must not be after EndTime."},
		{"garbled token", `{"NextToken":"not a token"}`, "InvalidNextTokenException", "The NextToken is not valid."},
		{"short token", `{"NextToken":"AAAA"}`, "InvalidNextTokenException", "The NextToken is not valid."},
		{"string MaxResults", `{"MaxResults":"5"}`, "SerializationException",
			"Cannot deserialize MaxResults: expected an integer in range, found a JSON string."},
		{"string time", `{"StartTime":"2024-01-01"}`, "SerializationException",
			`Cannot deserialize timestamp "2024-01-01": expected epoch seconds as a JSON number.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.call(acctA, regionA, "LookupEvents", tt.body)
			wantError(t, status, body, 400, tt.code, tt.msg)
		})
	}
	// Equal bounds are a valid (one-instant) range.
	status, body := e.call(acctA, regionA, "LookupEvents", `{"StartTime":1709251200,"EndTime":1709251200}`)
	decodeLookup(t, status, body)
}

func TestLookupEventsResponseShape(t *testing.T) {
	e := newEnv(t, Options{})
	at := testNow.Add(-time.Hour)
	ro := true
	r := mkRecord(t, recOpts{id: "ev-1", t: at, readOnly: &ro, name: "GetBucketAcl", source: "s3.amazonaws.com", set: map[string]any{
		"resources": []any{map[string]any{"ARN": "arn:aws:s3:::logs", "accountId": acctA, "type": "AWS::S3::Bucket"}},
	}})
	e.st.add(r)
	noRO := mkRecord(t, recOpts{id: "ev-2", t: at.Add(-time.Minute), set: map[string]any{"readOnly": nil, "userIdentity": map[string]any{
		"type": "Root", "principalId": acctA, "arn": "arn:aws:iam::" + acctA + ":root", "accountId": acctA}}})
	e.st.add(noRO)

	status, body := e.call(acctA, regionA, "LookupEvents", `{}`)
	ct, _ := json.Marshal(string(r.Raw))
	ct2, _ := json.Marshal(string(noRO.Raw))
	want := `{"Events":[{"EventId":"ev-1","EventName":"GetBucketAcl","ReadOnly":"true","AccessKeyId":"AKIAQEXAMPLEKEY00001",` +
		fmt.Sprintf(`"EventTime":%d,"EventSource":"s3.amazonaws.com","Username":"alice",`, at.Unix()) +
		`"Resources":[{"ResourceType":"AWS::S3::Bucket","ResourceName":"arn:aws:s3:::logs"}],"CloudTrailEvent":` + string(ct) + `},` +
		`{"EventId":"ev-2","EventName":"StopLogging",` +
		fmt.Sprintf(`"EventTime":%d,"EventSource":"cloudtrail.amazonaws.com","Username":"root",`, at.Add(-time.Minute).Unix()) +
		`"Resources":[],"CloudTrailEvent":` + string(ct2) + `}]}`
	if status != 200 || body != want {
		t.Errorf("got %d\n%s\nwant\n%s", status, body, want)
	}

	// No events: an empty list, no token.
	status, body = e.call(acctB, regionA, "LookupEvents", `{}`)
	if status != 200 || body != `{"Events":[]}` {
		t.Errorf("empty: %d %s", status, body)
	}
}

// seedPaging stores n management events for acctA/regionA, several
// sharing a timestamp, plus events that must never show up.
func seedPaging(t *testing.T, e *env, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		at := testNow.Add(-time.Duration(i/3) * time.Minute) // three events per second
		e.st.add(mkRecord(t, recOpts{id: fmt.Sprintf("a-%03d", i), t: at, name: fmt.Sprintf("Op%d", i%4)}))
	}
	e.st.add(
		mkRecord(t, recOpts{id: "other-account", t: testNow, account: acctB}),
		mkRecord(t, recOpts{id: "other-region", t: testNow, region: regionB}),
		mkRecord(t, recOpts{id: "data", t: testNow, category: "Data", name: "GetObject", source: "s3.amazonaws.com"}),
		mkRecord(t, recOpts{id: "too-old", t: testNow.Add(-91 * 24 * time.Hour)}),
		insightRecord(t, "insight-1", testNow),
	)
}

func TestLookupEventsPaging(t *testing.T) {
	e := newEnv(t, Options{})
	seedPaging(t, e, 120)
	seen := map[string]bool{}
	var last float64 = 1e18
	token := ""
	pages := 0
	for {
		body := `{"MaxResults":50}`
		if token != "" {
			body = fmt.Sprintf(`{"MaxResults":50,"NextToken":%q}`, token)
		}
		r := e.lookupOK(acctA, regionA, body)
		pages++
		for _, ev := range r.Events {
			if seen[ev.EventId] {
				t.Fatalf("event %s returned twice", ev.EventId)
			}
			seen[ev.EventId] = true
			if ev.EventTime > last {
				t.Fatalf("not newest first: %v after %v", ev.EventTime, last)
			}
			last = ev.EventTime
			if !strings.HasPrefix(ev.EventId, "a-") {
				t.Errorf("foreign event %s", ev.EventId)
			}
		}
		token = r.NextToken
		if token == "" {
			break
		}
	}
	if len(seen) != 120 || pages != 3 {
		t.Errorf("got %d events in %d pages, want 120 in 3", len(seen), pages)
	}
}

func TestLookupEventsTokens(t *testing.T) {
	e := newEnv(t, Options{})
	seedPaging(t, e, 30)
	first := e.lookupOK(acctA, regionA, `{"MaxResults":3,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`)
	if first.NextToken == "" {
		t.Fatal("no token")
	}
	tok := first.NextToken
	flip := []byte(tok)
	if flip[20] == 'A' {
		flip[20] = 'B'
	} else {
		flip[20] = 'A'
	}
	otherKey, err := New(Config{Store: e.st, TokenKey: []byte("another key, 16+ bytes long"), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	foreign := otherKey.tokens.Issue(pagetoken.KindLookup, [pagetoken.HashLen]byte{}, make([]byte, 16))
	channelTok := e.svc.tokens.Issue(pagetoken.KindChannels, channelPageHash(acctA, regionA), []byte("x"))

	const invalid = "The NextToken is not valid."
	const mismatch = "The NextToken was issued for a request with different parameters; repeat the original parameters with it."
	tests := []struct {
		name, account, region, body, msg string
	}{
		{"tampered", acctA, regionA, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, flip), invalid},
		{"truncated", acctA, regionA, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok[:len(tok)-2]), invalid},
		{"other key", acctA, regionA, fmt.Sprintf(`{"NextToken":%q}`, foreign), invalid},
		{"other token kind", acctA, regionA, fmt.Sprintf(`{"NextToken":%q}`, channelTok), invalid},
		{"different attribute", acctA, regionA, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op2"}]}`, tok), mismatch},
		{"attribute dropped", acctA, regionA, fmt.Sprintf(`{"NextToken":%q}`, tok), mismatch},
		{"time added", acctA, regionA, fmt.Sprintf(`{"NextToken":%q,"StartTime":1,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok), mismatch},
		{"insight added", acctA, regionA, fmt.Sprintf(`{"NextToken":%q,"EventCategory":"insight","LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok), mismatch},
		{"other account", acctB, regionA, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok), mismatch},
		{"other region", acctA, regionB, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok), mismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.call(tt.account, tt.region, "LookupEvents", tt.body)
			wantError(t, status, body, 400, "InvalidNextTokenException", tt.msg)
		})
	}
	// The same parameters with another MaxResults continue the listing.
	r := e.lookupOK(acctA, regionA,
		fmt.Sprintf(`{"MaxResults":50,"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok))
	for _, ev := range r.Events {
		for _, f := range first.Events {
			if f.EventId == ev.EventId {
				t.Errorf("event %s on both pages", ev.EventId)
			}
		}
		if ev.EventName != "Op1" {
			t.Errorf("event %s is %s", ev.EventId, ev.EventName)
		}
	}
	if len(first.Events)+len(r.Events) != 30/4+1 || r.NextToken != "" {
		t.Errorf("pages hold %d+%d events (token %q), want %d", len(first.Events), len(r.Events), r.NextToken, 30/4+1)
	}
}

func TestLookupEventsIsolationAndCategories(t *testing.T) {
	e := newEnv(t, Options{})
	seedPaging(t, e, 3)
	ids := func(account, region, body string) []string {
		r := e.lookupOK(account, region, body)
		var out []string
		for _, ev := range r.Events {
			out = append(out, ev.EventId)
		}
		return out
	}
	tests := []struct {
		name, account, region, body, want string
	}{
		{"own account and region", acctA, regionA, `{}`, "a-000 a-001 a-002"},
		{"other account", acctB, regionA, `{}`, "other-account"},
		{"other region", acctA, regionB, `{}`, "other-region"},
		{"nobody", acctOrg, regionA, `{}`, ""},
		{"insight only", acctA, regionA, `{"EventCategory":"insight"}`, "insight-1"},
		{"insight by EventSource", acctA, regionA, `{"EventCategory":"insight","LookupAttributes":[{"AttributeKey":"EventSource","AttributeValue":"ec2.amazonaws.com"}]}`, "insight-1"},
		{"attribute", acctA, regionA, `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, "a-001"},
		{"time range inclusive", acctA, regionA, fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, testNow.Unix(), testNow.Unix()), "a-000 a-001 a-002"},
		{"start beyond window", acctA, regionA, fmt.Sprintf(`{"StartTime":%d}`, testNow.Add(-200*24*time.Hour).Unix()), "a-000 a-001 a-002"},
		{"range before window", acctA, regionA, fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, testNow.Add(-100*24*time.Hour).Unix(), testNow.Add(-90*24*time.Hour-time.Second).Unix()), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Same-second events come back highest sequence first.
			got := strings.Join(ids(tt.account, tt.region, tt.body), " ")
			want := tt.want
			if tt.name == "own account and region" || strings.HasPrefix(tt.name, "time range") || strings.HasPrefix(tt.name, "start beyond") {
				want = "a-002 a-001 a-000"
			}
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}

	// Beyond AWS: data events and a longer window, when configured.
	e2 := newEnv(t, Options{IncludeDataEvents: true, Retention: 365 * 24 * time.Hour})
	e2.st = e.st
	e2.svc.store = e.st
	got := strings.Join(func() []string {
		r := e2.lookupOK(acctA, regionA, `{}`)
		var out []string
		for _, ev := range r.Events {
			out = append(out, ev.EventId)
		}
		return out
	}(), " ")
	if got != "data a-002 a-001 a-000 too-old" {
		t.Errorf("with options: %q", got)
	}
}

func TestLookupEventsRateLimit(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 2})
	for i := 0; i < 2; i++ {
		if status, body := e.call(acctA, regionA, "LookupEvents", `{}`); status != 200 {
			t.Fatalf("call %d: %d %s", i, status, body)
		}
	}
	status, body := e.call(acctA, regionA, "LookupEvents", `{}`)
	wantError(t, status, body, 400, "ThrottlingException", "Rate exceeded")
	// Other account or region: own bucket.
	if status, _ := e.call(acctB, regionA, "LookupEvents", `{}`); status != 200 {
		t.Error("other account throttled")
	}
	if status, _ := e.call(acctA, regionB, "LookupEvents", `{}`); status != 200 {
		t.Error("other region throttled")
	}
	e.clock.Advance(500 * time.Millisecond)
	if status, _ := e.call(acctA, regionA, "LookupEvents", `{}`); status != 200 {
		t.Error("still throttled after refill")
	}
	if status, _ := e.call(acctA, regionA, "LookupEvents", `{}`); status != 400 {
		t.Error("second call after half a second not throttled")
	}
	// Default: no limit.
	e = newEnv(t, Options{})
	for i := 0; i < 20; i++ {
		if status, _ := e.call(acctA, regionA, "LookupEvents", `{}`); status != 200 {
			t.Fatal("throttled without a rate limit")
		}
	}
}

func TestLookupEventsStoreFailure(t *testing.T) {
	e := newEnv(t, Options{})
	e.st.fail = fmt.Errorf("read segment /data/x: %w", errSecret)
	status, body := e.call(acctA, regionA, "LookupEvents", `{}`)
	wantError(t, status, body, 500, "InternalFailure", "We encountered an internal error. Please try again.")
}

var errSecret = fmt.Errorf("secret internal detail")

func TestNewValidatesConfig(t *testing.T) {
	st := newMemStore()
	for _, cfg := range []Config{
		{TokenKey: tokKey},
		{Store: st, TokenKey: []byte("short")},
		{Store: st, TokenKey: tokKey, Options: Options{RateLimit: -1}},
		{Store: st, TokenKey: tokKey, Options: Options{Retention: -time.Hour}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg.Options)
		}
	}
}
