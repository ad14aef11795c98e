package cis

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/filterpattern"
)

func compile(t *testing.T, text string) *filterpattern.Pattern {
	t.Helper()
	p, err := filterpattern.Compile(text)
	if err != nil {
		t.Fatalf("pattern %s does not compile: %v", text, err)
	}
	return p
}

func fix(t *testing.T, key string, positive bool) []byte {
	t.Helper()
	b, err := Fixture(key, positive)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCatalogueCoverage(t *testing.T) {
	want := map[string]struct {
		n      int
		prefix string
	}{
		"v1.2.0": {14, "3."}, "v1.4.0": {15, "4."}, "v1.5.0": {15, "4."}, "v2.0.0": {15, "4."},
		"v3.0.0": {15, "4."}, "v4.0.0": {15, "4."}, "v5.0.0": {15, "4."}, "v6.0.0": {15, "5."},
	}
	for _, v := range Versions {
		b, err := Lookup(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Controls) != want[v].n {
			t.Errorf("%s: %d controls, want %d", v, len(b.Controls), want[v].n)
		}
		seen := map[string]bool{}
		for i, c := range b.Controls {
			if c.ID != want[v].prefix+itoa(i+1) {
				t.Errorf("%s: control %d has id %s", v, i, c.ID)
			}
			if seen[c.Key] || c.Title == "" || c.MetricName == "" || c.Pattern == "" {
				t.Errorf("%s %s: incomplete or duplicate: %+v", v, c.ID, c)
			}
			seen[c.Key] = true
			if c.Key != "organizations-changes" && c.SecurityHub != "CloudWatch."+itoa(shNumber(c.Key)) {
				t.Errorf("%s %s: security hub id %q", v, c.ID, c.SecurityHub)
			}
		}
		if c, ok := b.Find("CloudWatch.6"); !ok || c.Key != "console-auth-failures" {
			t.Errorf("%s: Find(CloudWatch.6) = %+v, %v", v, c, ok)
		}
		if c, ok := b.Find(want[v].prefix + "5"); !ok || c.Key != "cloudtrail-config-changes" {
			t.Errorf("%s: Find(%s5) = %+v, %v", v, want[v].prefix, c, ok)
		}
	}
	for in, out := range map[string]string{"v1.2": "v1.2.0", "1.2": "v1.2.0", "v1.2.0": "v1.2.0", "3.0": "v3.0.0", "V3": "v3.0.0", "v6.0.0": "v6.0.0"} {
		if got, err := NormalizeVersion(in); got != out || err != nil {
			t.Errorf("NormalizeVersion(%q) = %q, %v; want %q", in, got, err, out)
		}
	}
	if _, err := NormalizeVersion("v1.1"); err == nil || !strings.Contains(err.Error(), "v1.2.0, v1.4.0") {
		t.Errorf("NormalizeVersion(v1.1) error = %v", err)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func shNumber(key string) int {
	for _, tp := range topics {
		if tp.key == key {
			n := 0
			for _, ch := range strings.TrimPrefix(tp.securityHub, "CloudWatch.") {
				n = n*10 + int(ch-'0')
			}
			return n
		}
	}
	return -1
}

// Byte-exact spot checks of the texts scanners compare.
func TestCatalogueExactTexts(t *testing.T) {
	for _, tc := range []struct{ version, id, text string }{
		{"v1.2", "3.1", `{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }`},
		{"v1.4", "4.1", `{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }`},
		{"v3.0", "4.1", `{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }`},
		{"v1.4", "4.2", `{($.eventName="ConsoleLogin") && ($.additionalEventData.MFAUsed !="Yes")}`},
		{"v1.4", "4.3", `{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`},
		{"v6.0", "5.10", `{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) || ($.eventName = ModifySecurityGroupRules) }`},
		{"v4.0", "4.10", `{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }`},
		{"v3.0", "4.9", `{ ($.eventSource = config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)||($.eventName=DeleteDeliveryChannel) ||($.eventName=PutDeliveryChannel)||($.eventName=PutConfigurationRecorder)) }`},
	} {
		b, _ := Lookup(tc.version)
		c, ok := b.Find(tc.id)
		if !ok || c.Pattern != tc.text {
			t.Errorf("%s %s pattern =\n%s\nwant\n%s", tc.version, tc.id, c.Pattern, tc.text)
		}
	}
	b, _ := Lookup("v1.4")
	if c, _ := b.Find("4.1"); c.BenchmarkText == "" || c.Defect == "" || !c.Accepted(c.BenchmarkText) {
		t.Errorf("v1.4 4.1 should record the published defective text: %+v", c)
	}
}

// Every pattern of every version compiles, matches its control's positive
// fixture and not its negative one; so do the accepted variants (the
// Security Hub texts, the SSO-friendly no-MFA form).
func TestPatternsMatchFixtures(t *testing.T) {
	for _, v := range Versions {
		b, _ := Lookup(v)
		for _, c := range b.Controls {
			pos, neg := fix(t, c.Key, true), fix(t, c.Key, false)
			for _, text := range append([]string{c.Pattern}, c.Variants...) {
				p := compile(t, text)
				if !p.Match(pos) {
					t.Errorf("%s %s: %s does not match the positive fixture %s", v, c.ID, text, pos)
				}
				if p.Match(neg) {
					t.Errorf("%s %s: %s matches the negative fixture %s", v, c.ID, text, neg)
				}
			}
		}
	}
}

// The fixtures are complete CloudTrail records the event parser accepts.
func TestFixturesAreRecords(t *testing.T) {
	for key := range fixtures {
		for _, pos := range []bool{true, false} {
			raw := fix(t, key, pos)
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "eventID", "eventType", "recipientAccountId"} {
				if _, ok := m[f]; !ok {
					t.Errorf("%s (positive %v) lacks %s", key, pos, f)
				}
			}
			if _, err := parseRecord(raw); err != nil {
				t.Errorf("%s (positive %v): %v", key, pos, err)
			}
		}
	}
}

// v2.0.0+ unauthorized: && binds tighter than ||, so the exclusions only
// qualify AccessDenied*: an UnauthorizedOperation on HeadBucket still
// counts, an AccessDenied on HeadBucket does not. v1.2.0 has no
// exclusions; v1.4.0's published text (|| throughout) matches nearly all.
func TestUnauthorizedPrecedence(t *testing.T) {
	rec := func(code, name string) []byte {
		m := baseRecord()
		call(m, "s3.amazonaws.com", name, true, obj{"bucketName": "example-reports", "Host": "example-reports.s3.us-east-1.amazonaws.com"}, nil)
		if code != "" {
			m["errorCode"] = code
			m["errorMessage"] = "Access Denied"
		}
		b, _ := json.Marshal(m)
		return b
	}
	v3, _ := Lookup("v3.0")
	v12, _ := Lookup("v1.2")
	v14, _ := Lookup("v1.4")
	c3, _ := v3.Find("4.1")
	c12, _ := v12.Find("3.1")
	c14, _ := v14.Find("4.1")
	p3, p12, p14 := compile(t, c3.Pattern), compile(t, c12.Pattern), compile(t, c14.BenchmarkText)
	for _, tc := range []struct {
		rec           []byte
		v3, v12, v14d bool
	}{
		{rec("AccessDenied", "HeadBucket"), false, true, true},
		{rec("Client.UnauthorizedOperation", "HeadBucket"), true, true, true},
		{rec("AccessDenied", "GetObject"), true, true, true},
		{rec("", "GetObject"), false, false, true},
	} {
		if got := p3.Match(tc.rec); got != tc.v3 {
			t.Errorf("v3.0 on %s = %v, want %v", tc.rec, got, tc.v3)
		}
		if got := p12.Match(tc.rec); got != tc.v12 {
			t.Errorf("v1.2 on %s = %v, want %v", tc.rec, got, tc.v12)
		}
		if got := p14.Match(tc.rec); got != tc.v14d {
			t.Errorf("v1.4 published text on %s = %v, want %v", tc.rec, got, tc.v14d)
		}
	}
	// A delivery.logs call denied is excluded from v3.0 only.
	m := baseRecord()
	call(m, "s3.amazonaws.com", "PutObject", false, nil, nil)
	m["errorCode"], m["sourceIPAddress"] = "AccessDenied", "delivery.logs.amazonaws.com"
	b, _ := json.Marshal(m)
	if p3.Match(b) || !p12.Match(b) {
		t.Errorf("delivery.logs AccessDenied: v3.0 %v (want false), v1.2 %v (want true)", p3.Match(b), p12.Match(b))
	}
}

// v1.4.0's published root text has the typo "invokedByNOT EXISTS", which
// is not a valid filter pattern: that is why the pack installs the text
// of the other versions.
func TestRootTypoIsInvalid(t *testing.T) {
	b, _ := Lookup("v1.4")
	c, _ := b.Find("4.3")
	if c.BenchmarkText == "" {
		t.Fatal("v1.4 4.3 should record the published text")
	}
	if _, err := filterpattern.Compile(c.BenchmarkText); err == nil {
		t.Errorf("the published v1.4 root text %s compiles; the catalogue says it is invalid", c.BenchmarkText)
	}
}

func TestSyntheticEvent(t *testing.T) {
	now := mustTime("2026-12-05T00:10:00Z")
	raw, id, err := Synthetic("console-auth-failures", "444455556666", "eu-west-1", now)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		EventID, EventTime, RecipientAccountID, AwsRegion string
		UserIdentity                                      struct{ AccountID, ARN string }
		AdditionalEventData                               map[string]any
	}
	json.Unmarshal(raw, &m)
	if m.EventID != id || m.EventTime != "2026-12-05T00:10:00Z" || m.RecipientAccountID != "444455556666" || m.AwsRegion != "eu-west-1" ||
		m.UserIdentity.AccountID != "444455556666" || m.UserIdentity.ARN != "arn:aws:iam::444455556666:user/alice" || m.AdditionalEventData["opentrailSynthetic"] != true {
		t.Errorf("synthetic event = %s", raw)
	}
	if _, id2, _ := Synthetic("console-auth-failures", "444455556666", "eu-west-1", now); id2 == id {
		t.Error("two synthetic events share an eventID")
	}
	b, _ := Lookup("v3.0")
	c, _ := b.Find("4.6")
	if !compile(t, c.Pattern).Match(raw) {
		t.Errorf("the synthetic event does not match its control: %s", raw)
	}
	if _, err := parseRecord(raw); err != nil {
		t.Error(err)
	}
}
