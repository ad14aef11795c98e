package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestGatewayJSONAndQueryUpstreams puts the gateway in front of a JSON 1.0
// service (DynamoDB's protocol) and a query service (SNS's), drives both
// with the Debian AWS CLI, and reads the records back: each names its
// operation and holds its input, errors included; the upstreams saw the
// calls re-signed with their own key.
func TestGatewayJSONAndQueryUpstreams(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "", "--config", captureServerConfig(t, ""))
	jsonUp, queryUp := startJSONUpstream(t), startQueryUpstream(t)
	jsonGW := startGateway(t, "", upstreamArgs(jsonUp.URL, srv)...)
	queryGW := startGateway(t, "", upstreamArgs(queryUp.URL, srv)...)

	if out := mustGatewayCLI(t, jsonGW.url, "dynamodb", "list-tables"); !strings.Contains(out, "orders") {
		t.Errorf("aws dynamodb list-tables through the gateway: %s", out)
	}
	mustGatewayCLI(t, jsonGW.url, "dynamodb", "delete-table", "--table-name", "orders")
	_, errs, code := gatewayCLI(t, jsonGW.url, "dynamodb", "delete-table", "--table-name", "missing")
	if code == 0 || !strings.Contains(errs, "ResourceNotFoundException") {
		t.Errorf("delete-table of a missing table through the gateway: exit %d %s; want ResourceNotFoundException", code, errs)
	}
	if out := mustGatewayCLI(t, queryGW.url, "sns", "create-topic", "--name", "alerts"); !strings.Contains(out, "arn:aws:sns:us-east-1:123456789012:alerts") {
		t.Errorf("aws sns create-topic through the gateway: %s", out)
	}
	mustGatewayCLI(t, queryGW.url, "sns", "list-topics")
	_, errs, code = gatewayCLI(t, queryGW.url, "sns", "delete-topic", "--topic-arn", "arn:aws:sns:us-east-1:123456789012:gone")
	if code == 0 || !strings.Contains(errs, "NotFound") {
		t.Errorf("delete-topic of a missing topic through the gateway: exit %d %s; want NotFound", code, errs)
	}

	// The upstreams' own view: every call arrived, signed with the
	// upstream's key, not the client's.
	for _, up := range []*protocolUpstream{jsonUp, queryUp} {
		seen := up.requests()
		if len(seen) != 3 {
			t.Errorf("the upstream saw %d requests, want 3: %+v", len(seen), seen)
		}
		for _, r := range seen {
			if !strings.Contains(r.Auth, "Credential="+upstreamAccess+"/") {
				t.Errorf("the upstream got a request signed %q, not with its own key %s", r.Auth, upstreamAccess)
			}
		}
	}

	ddb := waitRecords(t, srv, "dynamodb.amazonaws.com", 20*time.Second, "3 DynamoDB records",
		func(recs []map[string]any) bool { return len(recs) == 3 })
	list := byName(ddb, "ListTables")
	if len(list) != 1 || list[0]["readOnly"] != true {
		t.Errorf("ListTables records: %v", list)
	}
	del := byName(ddb, "DeleteTable")
	if len(del) != 2 {
		t.Fatalf("%d DeleteTable records, want 2: %v", len(del), names(ddb))
	}
	var ok, failed map[string]any
	for _, r := range del {
		checkGenericRecord(t, r, false)
		if r["errorCode"] == nil {
			ok = r
		} else {
			failed = r
		}
	}
	if ok == nil || failed == nil {
		t.Fatalf("DeleteTable records: want one success and one error: %v", del)
	}
	wantParam(t, ok, "TableName", "orders")
	wantParam(t, failed, "TableName", "missing")
	wantField(t, failed, "errorCode", "ResourceNotFoundException", "errorCode")
	wantField(t, failed, "errorMessage", "Requested resource not found: Table: missing not found", "errorMessage")

	sns := waitRecords(t, srv, "sns.amazonaws.com", 20*time.Second, "3 SNS records",
		func(recs []map[string]any) bool { return len(recs) == 3 })
	create := byName(sns, "CreateTopic")
	if len(create) != 1 {
		t.Fatalf("CreateTopic records: %v", names(sns))
	}
	checkGenericRecord(t, create[0], false)
	wantParam(t, create[0], "Name", "alerts")
	if p, _ := create[0]["requestParameters"].(map[string]any); p["Action"] != nil || p["Version"] != nil {
		t.Errorf("CreateTopic requestParameters hold the protocol's Action/Version: %v", p)
	}
	lt := byName(sns, "ListTopics")
	if len(lt) != 1 || lt[0]["readOnly"] != true {
		t.Errorf("ListTopics records: %v", lt)
	}
	dt := byName(sns, "DeleteTopic")
	if len(dt) != 1 {
		t.Fatalf("DeleteTopic records: %v", names(sns))
	}
	wantParam(t, dt[0], "TopicArn", "arn:aws:sns:us-east-1:123456789012:gone")
	wantField(t, dt[0], "errorCode", "NotFound", "errorCode")
	wantField(t, dt[0], "errorMessage", "Topic does not exist", "errorMessage")
}

// checkGenericRecord checks the fields every captured management call has.
func checkGenericRecord(t *testing.T, r map[string]any, readOnly bool) {
	t.Helper()
	if r["readOnly"] != readOnly || r["eventType"] != "AwsApiCall" || r["managementEvent"] != true ||
		r["eventCategory"] != "Management" || r["awsRegion"] != "us-east-1" || r["recipientAccountId"] != "000000000000" {
		b, _ := json.Marshal(r)
		t.Errorf("%s record: readOnly/eventType/managementEvent/eventCategory/awsRegion/recipientAccountId not as CloudTrail writes a management call: %s", r["eventName"], b)
	}
	if recField(r, "userIdentity", "accessKeyId") != "test" {
		t.Errorf("%s: userIdentity %v, want the client's key test", r["eventName"], r["userIdentity"])
	}
	if recField(r, "additionalEventData", "outcome") == "unknown" {
		t.Errorf("%s: the final record still says outcome unknown", r["eventName"])
	}
}

// wantParam checks a request parameter, whose name CloudTrail writes as the
// protocol names it or with a lower-case first letter (tableName): either
// is accepted, the value must match.
func wantParam(t *testing.T, r map[string]any, name string, want any) {
	t.Helper()
	p, _ := r["requestParameters"].(map[string]any)
	lower := strings.ToLower(name[:1]) + name[1:]
	got, ok := p[name]
	if !ok {
		got = p[lower]
	}
	if got != want {
		t.Errorf("%s requestParameters = %v, want %s (or %s) = %v", r["eventName"], p, name, lower, want)
	}
}
