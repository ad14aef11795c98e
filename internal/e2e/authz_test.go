package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// authzConfig is an organisation of one account with four principals,
// each holding one of the ready-made policies, and the CIS pack
// notifying notify. Every secret is "test", so s.awsCLI signs for them.
func authzConfig(t *testing.T, notify string) string {
	t.Helper()
	return writeConfig(t, `organization:
  id: o-exampleorg1
  management_account: "111111111111"
  members: ["222222222222"]
  guard_rails: [protect-trails]
principals:
  - access_key_id: AKIAADMIN00000000001
    secret_access_key: test
    account: "111111111111"
    user_name: admin
    policies: [administrator]
  - access_key_id: AKIAAPP0000000000001
    secret_access_key: test
    account: "111111111111"
    user_name: app
    policies: [trail-protector]
  - access_key_id: AKIAAUDITOR000000001
    secret_access_key: test
    account: "111111111111"
    user_name: auditor
    policies: [read-only]
  - access_key_id: AKIAINGEST0000000001
    secret_access_key: test
    account: "111111111111"
    user_name: collector
    policies: [ingest-only]
  - access_key_id: AKIAMEMBERADMIN00001
    secret_access_key: test
    account: "222222222222"
    user_name: member-admin
    policies: [administrator]
cis:
  enabled: true
  account: "111111111111"
  notify: [`+notify+`]
`)
}

// TestAccessDeniedStopLogging is the acceptance: a second
// principal of the administrator's account cannot stop or delete the
// trail; each refusal answers AWS's AccessDeniedException through the AWS
// CLI, is itself recorded with errorCode AccessDenied, and trips the CIS
// unauthorised-API-calls alarm, whose notification names it. The auditor
// reads but cannot change; the collector's keys write events and nothing
// else; a member account's administrator is held by the organisation's
// guard rail.
func TestAccessDeniedStopLogging(t *testing.T) {
	sub := newSubscriber(t)
	s := startServer(t, "", "--config", authzConfig(t, sub.srv.URL+"/cis"))
	const admin, app, auditor, collector = "AKIAADMIN00000000001", "AKIAAPP0000000000001", "AKIAAUDITOR000000001", "AKIAINGEST0000000001"
	must := func(akid string, args ...string) string {
		t.Helper()
		out, errs, code := s.awsCLI(t, akid, "us-east-1", args...)
		if code != 0 {
			t.Fatalf("aws %s as %s: exit %d\n%s\n%s", strings.Join(args, " "), akid, code, out, errs)
		}
		return out
	}
	denied := func(akid, user, op, resource, because string, args ...string) {
		t.Helper()
		out, errs, code := s.awsCLI(t, akid, "us-east-1", args...)
		want := "An error occurred (AccessDeniedException) when calling the " + op + " operation: User: arn:aws:iam::111111111111:user/" + user +
			" is not authorized to perform: " + resource + because
		if code != 254 || !strings.Contains(errs, want) {
			t.Fatalf("aws %s as %s: exit %d, want 254 and\n%s\ngot:\n%s\n%s", strings.Join(args, " "), user, code, want, out, errs)
		}
	}

	must(admin, "s3", "mb", "s3://org-trail-logs")
	must(admin, "cloudtrail", "create-trail", "--name", "main", "--s3-bucket-name", "org-trail-logs", "--is-multi-region-trail")
	must(admin, "cloudtrail", "start-logging", "--name", "main")
	t.Setenv("AWS_ACCESS_KEY_ID", admin)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("OPENTRAIL_ENDPOINT", s.url)
	waitFor(t, 30*time.Second, "the subscriber's confirmation", sub.isConfirmed)
	waitFor(t, 30*time.Second, "every CIS chain complete", func() bool { _, code := cisStatus(t); return code == 0 })

	trailARN := "arn:aws:cloudtrail:us-east-1:111111111111:trail/main"
	denied(app, "app", "StopLogging", "cloudtrail:StopLogging on resource: "+trailARN, " with an explicit deny in an identity-based policy",
		"cloudtrail", "stop-logging", "--name", "main")
	denied(app, "app", "DeleteTrail", "cloudtrail:DeleteTrail on resource: "+trailARN, " with an explicit deny in an identity-based policy",
		"cloudtrail", "delete-trail", "--name", trailARN)
	denied(auditor, "auditor", "StopLogging", "cloudtrail:StopLogging on resource: "+trailARN,
		" because no identity-based policy allows the cloudtrail:StopLogging action", "cloudtrail", "stop-logging", "--name", "main")
	var status struct{ IsLogging bool }
	if err := json.Unmarshal([]byte(must(auditor, "cloudtrail", "get-trail-status", "--name", "main")), &status); err != nil || !status.IsLogging {
		t.Fatalf("the trail after refused StopLogging and DeleteTrail: logging %v (%v)", status.IsLogging, err)
	}
	// The trail-protector may do everything else: it reads and changes
	// alarms, for one.
	must(app, "cloudtrail", "describe-trails")
	must(app, "cloudwatch", "put-metric-alarm", "--alarm-name", "app-alarm", "--namespace", "App", "--metric-name", "Errors",
		"--statistic", "Sum", "--period", "60", "--evaluation-periods", "1", "--threshold", "1", "--comparison-operator", "GreaterThanOrEqualToThreshold")

	// Each refusal is on the record, as AccessDenied by its principal.
	var found struct {
		Events []struct{ Username, CloudTrailEvent string }
	}
	waitFor(t, 20*time.Second, "the refused StopLogging calls in history", func() bool {
		raw := must(auditor, "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=StopLogging")
		if err := json.Unmarshal([]byte(raw), &found); err != nil {
			t.Fatal(err)
		}
		return len(found.Events) == 2
	})
	var refusedIDs []string
	for _, e := range found.Events {
		var rec struct{ EventID, ErrorCode, ErrorMessage string }
		json.Unmarshal([]byte(e.CloudTrailEvent), &rec)
		if rec.ErrorCode != "AccessDenied" || !strings.Contains(rec.ErrorMessage, "is not authorized to perform: cloudtrail:StopLogging") {
			t.Errorf("the refused StopLogging by %s is recorded with errorCode %q, errorMessage %q", e.Username, rec.ErrorCode, rec.ErrorMessage)
		}
		refusedIDs = append(refusedIDs, rec.EventID)
	}

	// The CIS unauthorised-API-calls alarm goes off on the first refusal
	// (the later ones fall in the same ALARM) and names it.
	waitFor(t, 20*time.Second, "the refused DeleteTrail in history", func() bool {
		raw := must(auditor, "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=DeleteTrail")
		var del struct {
			Events []struct{ CloudTrailEvent string }
		}
		if err := json.Unmarshal([]byte(raw), &del); err != nil {
			t.Fatal(err)
		}
		for _, e := range del.Events {
			var rec struct{ EventID, ErrorCode string }
			json.Unmarshal([]byte(e.CloudTrailEvent), &rec)
			if rec.ErrorCode == "AccessDenied" {
				refusedIDs = append(refusedIDs, rec.EventID)
				return true
			}
		}
		return false
	})
	note := alarmNoteFor(t, sub, "CIS-unauthorized-api-calls", 60*time.Second)
	named := 0
	for _, id := range refusedIDs {
		if strings.Contains(note.Raw, id) {
			named++
		}
	}
	if named == 0 {
		t.Errorf("the unauthorised-calls ALARM names none of the refused calls %v:\n%s", refusedIDs, note.Raw)
	}

	// The collector's keys write events and do nothing else.
	if n, _ := s.postEvents(t, collector, [][]byte{record(recOpts{id: uuid("collector", 1), account: "111111111111"})}); n != 1 {
		t.Fatalf("the collector's POST /v1/events accepted %d of 1", n)
	}
	// A member account's administrator is bound by the organisation's
	// guard rail: its own trail cannot be stopped either.
	const member = "AKIAMEMBERADMIN00001"
	must(member, "s3", "mb", "s3://member-trail-logs")
	must(member, "cloudtrail", "create-trail", "--name", "member", "--s3-bucket-name", "member-trail-logs")
	must(member, "cloudtrail", "start-logging", "--name", "member")
	out, errs, code := s.awsCLI(t, member, "us-east-1", "cloudtrail", "stop-logging", "--name", "member")
	if want := "User: arn:aws:iam::222222222222:user/member-admin is not authorized to perform: cloudtrail:StopLogging on resource: " +
		"arn:aws:cloudtrail:us-east-1:222222222222:trail/member with an explicit deny in a service control policy"; code != 254 || !strings.Contains(errs, want) {
		t.Fatalf("the member administrator's stop-logging: exit %d, want 254 and %q\n%s\n%s", code, want, out, errs)
	}
	must(member, "cloudtrail", "describe-trails")

	denied(collector, "collector", "LookupEvents", "cloudtrail:LookupEvents on resource: *",
		" because no identity-based policy allows the cloudtrail:LookupEvents action", "cloudtrail", "lookup-events", "--max-items", "1")
}
