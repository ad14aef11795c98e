package cloudtrail

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/servicetest"
)

func (e *env) lookupOK(account, region, body string) servicetest.LookupResp {
	e.t.Helper()
	status, b := e.call(account, region, "LookupEvents", body)
	return servicetest.DecodeLookup(e.t, status, b)
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
			status, body := e.call(servicetest.AcctA, servicetest.RegionA, "LookupEvents", tt.body)
			servicetest.WantError(t, status, body, 400, tt.code, tt.msg)
		})
	}
	// Equal bounds are a valid (one-instant) range.
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "LookupEvents", `{"StartTime":1709251200,"EndTime":1709251200}`)
	servicetest.DecodeLookup(t, status, body)
}

func TestLookupEventsResponseShape(t *testing.T) {
	e := newEnv(t, Options{})
	at := servicetest.Now.Add(-time.Hour)
	ro := true
	r := servicetest.Record(t, servicetest.RecordOpts{ID: "ev-1", Time: at, ReadOnly: &ro, Name: "GetBucketAcl", Source: "s3.amazonaws.com", Set: map[string]any{
		"resources": []any{map[string]any{"ARN": "arn:aws:s3:::logs", "accountId": servicetest.AcctA, "type": "AWS::S3::Bucket"}},
	}})
	e.st.Add(r)
	noRO := servicetest.Record(t, servicetest.RecordOpts{ID: "ev-2", Time: at.Add(-time.Minute), Set: map[string]any{"readOnly": nil, "userIdentity": map[string]any{
		"type": "Root", "principalId": servicetest.AcctA, "arn": "arn:aws:iam::" + servicetest.AcctA + ":root", "accountId": servicetest.AcctA}}})
	e.st.Add(noRO)

	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "LookupEvents", `{}`)
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
	status, body = e.call(servicetest.AcctB, servicetest.RegionA, "LookupEvents", `{}`)
	if status != 200 || body != `{"Events":[]}` {
		t.Errorf("empty: %d %s", status, body)
	}
}

func TestLookupEventsPaging(t *testing.T) {
	e := newEnv(t, Options{})
	servicetest.SeedPaging(t, e.st, 120)
	seen := map[string]bool{}
	var last float64 = 1e18
	token := ""
	pages := 0
	for {
		body := `{"MaxResults":50}`
		if token != "" {
			body = fmt.Sprintf(`{"MaxResults":50,"NextToken":%q}`, token)
		}
		r := e.lookupOK(servicetest.AcctA, servicetest.RegionA, body)
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
	servicetest.SeedPaging(t, e.st, 30)
	first := e.lookupOK(servicetest.AcctA, servicetest.RegionA, `{"MaxResults":3,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`)
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
	channelTok := e.svc.tokens.Issue(pagetoken.KindChannels, channelPageHash(servicetest.AcctA, servicetest.RegionA), []byte("x"))

	const invalid = "The NextToken is not valid."
	const mismatch = "The NextToken was issued for a request with different parameters; repeat the original parameters with it."
	tests := []struct {
		name, account, region, body, msg string
	}{
		{"tampered", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, flip), invalid},
		{"truncated", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok[:len(tok)-2]), invalid},
		{"other key", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"NextToken":%q}`, foreign), invalid},
		{"other token kind", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"NextToken":%q}`, channelTok), invalid},
		{"different attribute", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op2"}]}`, tok), mismatch},
		{"attribute dropped", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"NextToken":%q}`, tok), mismatch},
		{"time added", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"NextToken":%q,"StartTime":1,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok), mismatch},
		{"insight added", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"NextToken":%q,"EventCategory":"insight","LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok), mismatch},
		{"other account", servicetest.AcctB, servicetest.RegionA, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok), mismatch},
		{"other region", servicetest.AcctA, servicetest.RegionB, fmt.Sprintf(`{"NextToken":%q,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, tok), mismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.call(tt.account, tt.region, "LookupEvents", tt.body)
			servicetest.WantError(t, status, body, 400, "InvalidNextTokenException", tt.msg)
		})
	}
	// The same parameters with another MaxResults continue the listing.
	r := e.lookupOK(servicetest.AcctA, servicetest.RegionA,
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
	servicetest.SeedPaging(t, e.st, 3)
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
		{"own account and region", servicetest.AcctA, servicetest.RegionA, `{}`, "a-000 a-001 a-002"},
		{"other account", servicetest.AcctB, servicetest.RegionA, `{}`, "other-account"},
		{"other region", servicetest.AcctA, servicetest.RegionB, `{}`, "other-region"},
		{"nobody", servicetest.AcctOrg, servicetest.RegionA, `{}`, ""},
		{"insight only", servicetest.AcctA, servicetest.RegionA, `{"EventCategory":"insight"}`, "insight-1"},
		{"insight by EventSource", servicetest.AcctA, servicetest.RegionA, `{"EventCategory":"insight","LookupAttributes":[{"AttributeKey":"EventSource","AttributeValue":"ec2.amazonaws.com"}]}`, "insight-1"},
		{"attribute", servicetest.AcctA, servicetest.RegionA, `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Op1"}]}`, "a-001"},
		{"time range inclusive", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, servicetest.Now.Unix(), servicetest.Now.Unix()), "a-000 a-001 a-002"},
		{"start beyond window", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"StartTime":%d}`, servicetest.Now.Add(-200*24*time.Hour).Unix()), "a-000 a-001 a-002"},
		{"range before window", servicetest.AcctA, servicetest.RegionA, fmt.Sprintf(`{"StartTime":%d,"EndTime":%d}`, servicetest.Now.Add(-100*24*time.Hour).Unix(), servicetest.Now.Add(-90*24*time.Hour-time.Second).Unix()), ""},
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
		r := e2.lookupOK(servicetest.AcctA, servicetest.RegionA, `{}`)
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
		if status, body := e.call(servicetest.AcctA, servicetest.RegionA, "LookupEvents", `{}`); status != 200 {
			t.Fatalf("call %d: %d %s", i, status, body)
		}
	}
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "LookupEvents", `{}`)
	servicetest.WantError(t, status, body, 400, "ThrottlingException", "Rate exceeded")
	// Other account or region: own bucket.
	if status, _ := e.call(servicetest.AcctB, servicetest.RegionA, "LookupEvents", `{}`); status != 200 {
		t.Error("other account throttled")
	}
	if status, _ := e.call(servicetest.AcctA, servicetest.RegionB, "LookupEvents", `{}`); status != 200 {
		t.Error("other region throttled")
	}
	e.clock.Advance(500 * time.Millisecond)
	if status, _ := e.call(servicetest.AcctA, servicetest.RegionA, "LookupEvents", `{}`); status != 200 {
		t.Error("still throttled after refill")
	}
	if status, _ := e.call(servicetest.AcctA, servicetest.RegionA, "LookupEvents", `{}`); status != 400 {
		t.Error("second call after half a second not throttled")
	}
	// Default: no limit.
	e = newEnv(t, Options{})
	for i := 0; i < 20; i++ {
		if status, _ := e.call(servicetest.AcctA, servicetest.RegionA, "LookupEvents", `{}`); status != 200 {
			t.Fatal("throttled without a rate limit")
		}
	}
}

func TestLookupEventsStoreFailure(t *testing.T) {
	e := newEnv(t, Options{})
	e.st.Fail = fmt.Errorf("read segment /data/x: %w", errSecret)
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "LookupEvents", `{}`)
	servicetest.WantError(t, status, body, 500, "InternalFailure", "We encountered an internal error. Please try again.")
}

var errSecret = fmt.Errorf("secret internal detail")

func TestNewValidatesConfig(t *testing.T) {
	st := servicetest.NewStore()
	for _, cfg := range []Config{
		{TokenKey: servicetest.TokenKey},
		{Store: st, TokenKey: []byte("short")},
		{Store: st, TokenKey: servicetest.TokenKey, Options: Options{RateLimit: -1}},
		{Store: st, TokenKey: servicetest.TokenKey, Options: Options{Retention: -time.Hour}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg.Options)
		}
	}
}
