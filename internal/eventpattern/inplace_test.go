package eventpattern

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const publicDir = "../../../shared/testdata/public"

// envelopePatterns name the envelope's own members, the ones
// MatchesCloudTrail derives instead of reading.
var envelopePatterns = []string{
	`{"version":["0"]}`,
	`{"version":[0]}`,
	`{"version":[{"exists":false}]}`,
	`{"id":[{"exists":true}],"detail":{"eventName":["ConsoleLogin","CreateUser"]}}`,
	`{"id":[{"prefix":"0"},{"prefix":"a"},{"suffix":"7"}]}`,
	`{"account":["123456789012","111111111111"]}`,
	`{"account":[{"exists":false}]}`,
	`{"account":[""]}`,
	`{"time":[{"prefix":"2020"},{"prefix":"2026"}]}`,
	`{"time":[""]}`,
	`{"region":["us-east-1","eu-west-1"],"source":[{"prefix":"aws.s"}]}`,
	`{"resources":[{"exists":false}],"detail-type":["AWS Service Event via CloudTrail"]}`,
	`{"resources":[{"exists":true}]}`,
	`{"detail":{"resources":{"ARN":[{"prefix":"arn:"}]}}}`,
	`{"detail-type":[{"anything-but":"AWS API Call via CloudTrail"}]}`,
	`{"detail-type":["AWS Insight via CloudTrail","AWS Network Activity Event via CloudTrail","AWS Console Action via CloudTrail"]}`,
	`{"source":["aws.cloudtrail"]}`,
	`{"source":[{"equals-ignore-case":"AWS.IAM"}],"detail":{"eventName":[{"exists":true}]}}`,
	`{"eventName":["ConsoleLogin"]}`,
	`{"eventName":[{"exists":false}],"detail":{"eventType":["AwsConsoleSignIn"]}}`,
	`{"detail":{"detail-type":["x"],"source":["aws.iam"]}}`,
	`{"detail.eventName":["ConsoleLogin"],"detail.additionalEventData.MFAUsed":[{"anything-but":"Yes"}]}`,
	`{"detail":{"eventSource":[{"wildcard":"*.amazonaws.com"}],"recipientAccountId":[{"numeric":[">",0]}]}}`,
	`{"$or":[{"account":["123456789012"]},{"detail":{"userIdentity":{"accountId":["123456789012"]}}}]}`,
	`{"detail":{"requestParameters":{"ipPermissions":{"items":{"ipRanges":{"items":{"cidrIp":["0.0.0.0/0"]}},"fromPort":[22]}}}}}`,
}

// inPlaceSet is the 50 security patterns plus envelopePatterns.
func inPlaceSet(t testing.TB) *Set {
	t.Helper()
	src, err := os.ReadFile("testdata/security_patterns.json")
	if err != nil {
		t.Fatal(err)
	}
	var ps []struct {
		Name    string          `json:"name"`
		Pattern json.RawMessage `json:"pattern"`
	}
	if err := json.Unmarshal(src, &ps); err != nil {
		t.Fatal(err)
	}
	set := NewSet()
	for _, p := range ps {
		set.Add(p.Name, mustCompile(t, string(p.Pattern)))
	}
	for i, p := range envelopePatterns {
		set.Add(fmt.Sprintf("envelope-%02d", i), mustCompile(t, p))
	}
	return set
}

// sameAsEnvelope checks MatchesCloudTrail against Matches over the
// envelope CloudTrailEvent builds: the same ids, the same records refused
// (the offset a refusal names may differ: the two read different paths).
func sameAsEnvelope(t testing.TB, set *Set, rec []byte) (matched int) {
	t.Helper()
	env, envErr := CloudTrailEvent(rec)
	var want []string
	if envErr == nil {
		var err error
		if want, err = set.Matches(env, []string{"before"}); err != nil {
			t.Fatalf("the envelope of %q does not read: %v", rec, err)
		}
	}
	got, err := set.MatchesCloudTrail(rec, []string{"before"})
	if (err == nil) != (envErr == nil) || err != nil && !strings.HasPrefix(err.Error(), "eventpattern: the CloudTrail record is not ") {
		t.Fatalf("record %q: in place error %v, envelope error %v", rec, err, envErr)
	}
	if err == nil && !slices.Equal(got, want) {
		t.Fatalf("record %q: in place %v, envelope %v", rec, got, want)
	}
	return len(got) - 1
}

// publicRecords returns every CloudTrail record under ../shared/testdata/public.
func publicRecords(t testing.TB) (recs [][]byte) {
	t.Helper()
	files, _ := filepath.Glob(publicDir + "/*/*.json")
	nd, _ := filepath.Glob(publicDir + "/*/*.ndjson")
	if len(files) < 30 || len(nd) < 2 {
		t.Fatalf("found %d JSON and %d NDJSON files under %s", len(files), len(nd), publicDir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(b, &arr); err != nil {
			var env struct{ Records []json.RawMessage }
			if err := json.Unmarshal(b, &env); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			arr = env.Records
		}
		for _, r := range arr {
			recs = append(recs, r)
		}
	}
	for _, f := range nd {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			l := bytes.TrimSpace(sc.Bytes())
			if len(l) == 0 {
				continue
			}
			var wrapped struct{ Log json.RawMessage }
			if err := json.Unmarshal(l, &wrapped); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(wrapped.Log) > 0 {
				recs = append(recs, wrapped.Log) // a labelled test: the record is under "log"
			} else {
				recs = append(recs, append([]byte(nil), l...))
			}
		}
	}
	return recs
}

// TestMatchesCloudTrailPublic: over every public CloudTrail record, matching
// in place gives what matching the envelope gives.
func TestMatchesCloudTrailPublic(t *testing.T) {
	set := inPlaceSet(t)
	recs := publicRecords(t)
	matched := 0
	for _, rec := range recs {
		matched += sameAsEnvelope(t, set, rec)
	}
	if len(recs) < 1000 || matched < 200 {
		t.Fatalf("%d records, %d matches: the comparison says little", len(recs), matched)
	}
	t.Logf("%d records, %d matches", len(recs), matched)
}

// ctRecord is a random CloudTrail-like record in the spirit of ctgen, with
// the oddities the envelope must survive: missing or non-string members,
// duplicate keys, escapes, dotted keys, arrays, members named like the
// envelope's.
func ctRecord(r *rand.Rand) []byte {
	pick := func(vs ...string) string { return vs[r.Intn(len(vs))] }
	var b strings.Builder
	b.WriteString("{")
	first := true
	member := func(k, v string) {
		if !first {
			b.WriteString(",")
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	maybe := func(k string, vs ...string) {
		if r.Intn(6) > 0 {
			member(k, pick(vs...))
		}
	}
	maybe("eventVersion", `"1.08"`, `"1.09"`, `1.08`)
	account := pick(`"123456789012"`, `"111111111111"`, `""`, `123456789012`, `null`)
	maybe("userIdentity", `{"type":"Root","accountId":`+account+`,"arn":"arn:aws:iam::123456789012:root"}`,
		`{"type":"IAMUser","accountId":"111111111111","userName":"alice"}`, `{"type":"AssumedRole"}`, `"x"`, `[{"accountId":"123456789012"}]`)
	maybe("eventTime", `"2026-12-05T05:00:00Z"`, `"2020-01-01T00:00:00Z"`, `""`, `17`)
	maybe("eventSource", `"iam.amazonaws.com"`, `"signin.amazonaws.com"`, `"s3.amazonaws.com"`, `"sts"`, `""`, `".x"`, `"\u0069am.amazonaws.com"`, `["iam.amazonaws.com"]`, `7`)
	maybe("eventName", `"ConsoleLogin"`, `"CreateUser"`, `"AuthorizeSecurityGroupIngress"`, `"StopLogging"`, `"GetSecretValue"`, `"Create\u0055ser"`, `["ConsoleLogin"]`)
	maybe("awsRegion", `"us-east-1"`, `"eu-west-1"`, `""`, `{"a":1}`)
	maybe("sourceIPAddress", `"10.1.2.3"`, `"203.0.113.9"`, `"AWS Internal"`)
	maybe("userAgent", `"aws-cli/2.9"`, `"Mozilla/5.0 \"quoted\""`, `"Boto3/1.43 kali"`)
	maybe("errorCode", `"AccessDenied"`, `"ThrottlingException"`, `null`)
	maybe("requestParameters", `null`, `{"userName":"bob"}`,
		`{"ipPermissions":{"items":[{"fromPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}},{"fromPort":443,"ipRanges":{"items":[{"cidrIp":"10.0.0.0/8"}]}}]}}`,
		`{"ipPermissions":{"items":[{"fromPort":443,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}},{"fromPort":22}]}}`)
	maybe("responseElements", `{"ConsoleLogin":"Success"}`, `{"ConsoleLogin":"Failure"}`, `null`)
	maybe("additionalEventData", `{"MFAUsed":"No"}`, `{"MFAUsed":"Yes"}`, `{"MFAUsed":"NO"}`)
	maybe("eventID", `"`+fmt.Sprintf("%08x-0000-4000-8000-%012x", r.Uint32(), r.Int63n(1<<48))+`"`, `""`, `42`)
	maybe("eventType", `"AwsApiCall"`, `"AwsConsoleSignIn"`, `"AwsConsoleAction"`, `"AwsServiceEvent"`, `"AwsCloudTrailInsight"`, `"Other"`, `null`)
	maybe("eventCategory", `"Management"`, `"Data"`, `"Insight"`, `"NetworkActivity"`, `3`)
	maybe("recipientAccountId", `"123456789012"`, `"111111111111"`, `""`, `123456789012`, `null`)
	maybe("resources", `[{"ARN":"arn:aws:iam::123456789012:user/bob","type":"AWS::IAM::User"}]`, `[]`)
	if r.Intn(4) == 0 {
		member(pick("source", "detail-type", "detail", "version", "id", "account", "time", "region", "eventName.x", "additionalEventData.MFAUsed"),
			pick(`"aws.iam"`, `"ConsoleLogin"`, `{"eventName":"ConsoleLogin"}`, `"No"`, `["x"]`))
	}
	if r.Intn(5) == 0 { // a duplicate key: both values are leaves, the first string names the envelope
		member(pick("eventSource", "eventType", "recipientAccountId", "eventName", "awsRegion"), pick(`"s3.amazonaws.com"`, `"AwsServiceEvent"`, `"ConsoleLogin"`, `"eu-west-1"`, `"999999999999"`))
	}
	b.WriteString("}")
	out := b.String()
	if r.Intn(8) == 0 {
		out = " \n" + out + "\t"
	}
	return []byte(out)
}

// TestMatchesCloudTrailRandom: over random records, and random patterns
// over the envelope's vocabulary, matching in place gives what matching the
// envelope gives.
func TestMatchesCloudTrailRandom(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	set := inPlaceSet(t)
	g := gen{r}
	for i := 0; i < 200; i++ {
		set.Add(fmt.Sprintf("random-%03d", i), mustCompile(t, g.pattern()))
	}
	matched := 0
	for i := 0; i < 20000; i++ {
		matched += sameAsEnvelope(t, set, ctRecord(r))
		if i%1000 == 999 {
			set.Remove(fmt.Sprintf("random-%03d", r.Intn(200)))
		}
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":`, `{"a":1}x`, `{"eventSource":"\x"}`, "{\"a\":\"\xff\"}"} {
		sameAsEnvelope(t, set, []byte(bad))
	}
	if matched < 20000 {
		t.Fatalf("%d matches over 20,000 records: the comparison says little", matched)
	}
}

// FuzzMatchesCloudTrail: for any bytes, matching in place gives what
// matching the envelope CloudTrailEvent builds gives (or the same error).
func FuzzMatchesCloudTrail(f *testing.F) {
	set := inPlaceSet(f)
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		f.Add(ctRecord(r))
	}
	f.Add([]byte(`{"eventSource":"iam.amazonaws.com","eventName":"ConsoleLogin","detail":{"eventName":"x"},"eventType":"AwsConsoleSignIn","additionalEventData.MFAUsed":"No","responseElements":{"ConsoleLogin":"Success"}}`))
	f.Add([]byte(`[{"eventName":"ConsoleLogin"}]`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		sameAsEnvelope(t, set, rec)
	})
}

// BenchmarkMatchesCloudTrail matches the public records in place against
// the 50 security patterns (bench/rules measures ctgen records on one core).
func BenchmarkMatchesCloudTrail(b *testing.B) {
	set := inPlaceSet(b)
	recs := publicRecords(b)
	var ids []string
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ids, _ = set.MatchesCloudTrail(recs[i%len(recs)], ids[:0])
	}
}
