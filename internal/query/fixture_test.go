package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

// base is the time fixture events are placed after.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ev describes one fixture event; rec builds its record.
type ev struct {
	account, name, source, region string
	identity                      map[string]any
	params                        map[string]any
	errorCode                     string
	ip                            string
	extra                         map[string]any // more top-level fields
	at                            time.Duration  // after base
}

func iamUser(account, name, key string) map[string]any {
	return map[string]any{"type": "IAMUser", "principalId": "AIDA" + name, "arn": "arn:aws:iam::" + account + ":user/" + name,
		"accountId": account, "accessKeyId": key, "userName": name}
}

func root(account string) map[string]any {
	return map[string]any{"type": "Root", "principalId": account, "arn": "arn:aws:iam::" + account + ":root", "accountId": account}
}

func (e ev) rec(i int) []byte {
	if e.account == "" {
		e.account = acctA
	}
	if e.region == "" {
		e.region = "us-east-1"
	}
	if e.source == "" {
		e.source = "ec2.amazonaws.com"
	}
	if e.identity == nil {
		e.identity = iamUser(e.account, "alice", "AKIAALICE00000000001")
	}
	if e.ip == "" {
		e.ip = "198.51.100.9"
	}
	m := map[string]any{
		"eventVersion": "1.09", "userIdentity": e.identity,
		"eventTime":   base.Add(e.at).Format(time.RFC3339),
		"eventSource": e.source, "eventName": e.name, "awsRegion": e.region,
		"sourceIPAddress": e.ip, "userAgent": "aws-cli/2.9.19",
		"requestParameters": e.params, "responseElements": nil,
		"requestID": fmt.Sprintf("req-%d", i), "eventID": fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		"readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
		"recipientAccountId": e.account, "eventCategory": "Management",
	}
	if e.errorCode != "" {
		m["errorCode"] = e.errorCode
		m["errorMessage"] = "denied"
	}
	for k, v := range e.extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// openStore returns a store holding evs (event i gets eventID …i).
func openStore(t testing.TB, evs []ev) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var recs []*event.Record
	for i, e := range evs {
		r, err := event.Parse(e.rec(i))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		recs = append(recs, r)
	}
	for i := 0; i < len(recs); i += 1000 {
		if _, err := st.Append(ctx, recs[i:min(i+1000, len(recs))], base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// fixture is a small mixed history in two accounts.
func fixture() []ev {
	alice := iamUser(acctA, "alice", "AKIAALICE00000000001")
	bob := iamUser(acctA, "bob", "AKIABOB0000000000002")
	var evs []ev
	for i := 0; i < 30; i++ {
		evs = append(evs, ev{name: "DescribeInstances", identity: alice, at: time.Duration(i) * time.Minute})
	}
	for i := 0; i < 10; i++ {
		evs = append(evs, ev{name: "RunInstances", identity: bob, errorCode: "AccessDenied", at: time.Duration(i) * time.Minute})
	}
	evs = append(evs,
		ev{name: "AuthorizeSecurityGroupIngress", identity: bob, params: map[string]any{"groupId": "sg-0123", "ipPermissions": map[string]any{"items": []any{map[string]any{"fromPort": 22}}}}, at: 40 * time.Minute},
		ev{name: "ConsoleLogin", source: "signin.amazonaws.com", identity: root(acctA), ip: "203.0.113.5",
			extra: map[string]any{"additionalEventData": map[string]any{"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com"}, "responseElements": map[string]any{"ConsoleLogin": "Success"}}, at: 41 * time.Minute},
		ev{name: "ConsoleLogin", source: "signin.amazonaws.com", identity: alice,
			extra: map[string]any{"additionalEventData": map[string]any{"MFAUsed": "Yes"}, "responseElements": map[string]any{"ConsoleLogin": "Success"}}, at: 42 * time.Minute},
		ev{name: "GetCallerIdentity", source: "sts.amazonaws.com", identity: alice, ip: "192.0.2.77", at: 43 * time.Minute},
	)
	// Another account: must never be visible to acctA.
	for i := 0; i < 20; i++ {
		evs = append(evs, ev{account: acctB, name: "DeleteBucket", source: "s3.amazonaws.com", identity: iamUser(acctB, "mallory", "AKIAMALLORY000000003"), at: time.Duration(i) * time.Minute})
	}
	return evs
}
