package filterpattern

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// customPatterns are ten realistic filters a team adds beside CIS.
var customPatterns = []string{
	`{ ($.errorCode = "Throttling*") || ($.errorCode = "SlowDown") || ($.errorCode = "Client.RequestLimitExceeded") }`,
	`{ $.sourceIPAddress = %^198\.51\.100\.% }`,
	`{ $.userIdentity.arn = "arn:aws:iam::*:user/breakglass*" }`,
	`{ ($.eventName = RunInstances) || ($.eventName = TerminateInstances) || ($.eventName = StopInstances) }`,
	`{ $.additionalEventData.bytesTransferredOut > 10000000 }`,
	`"iam.amazonaws.com" DeleteUser`,
	`{ $.userIdentity.type = "AssumedRole" && $.userIdentity.sessionContext.attributes.mfaAuthenticated = "false" && $.readOnly IS FALSE && $.eventSource = "iam.amazonaws.com" }`,
	`{ ($.eventSource = "sts.amazonaws.com") && ($.eventName = "GetFederationToken") }`,
	`{ ($.tlsDetails.tlsVersion = "TLSv1") || ($.tlsDetails.tlsVersion = "TLSv1.1") }`,
	`{ ($.eventName = "GetSecretValue") && ($.userIdentity.type = "IAMUser") && ($.errorCode NOT EXISTS) }`,
}

func benchPatterns(tb testing.TB) []*Pattern {
	var ps []*Pattern
	ids := mapsKeys(cisV3)
	slices.Sort(ids)
	for _, id := range ids {
		ps = append(ps, MustCompile(cisV3[id]))
	}
	for _, c := range customPatterns {
		p, err := Compile(c)
		if err != nil {
			tb.Fatalf("%s: %v", c, err)
		}
		ps = append(ps, p)
	}
	return ps
}

func mapsKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// benchRecords reads FP_BENCH_RECORDS (an NDJSON file of CloudTrail
// records, e.g. from ctgen) or falls back to variants of baseRecord.
func benchRecords(tb testing.TB) [][]byte {
	if f := os.Getenv("FP_BENCH_RECORDS"); f != "" {
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatal(err)
		}
		defer fh.Close()
		var out [][]byte
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() && len(out) < 20000 {
			out = append(out, slices.Clone(sc.Bytes()))
		}
		return out
	}
	return [][]byte{
		record(tb, nil),
		record(tb, map[string]any{"errorCode": "AccessDenied", "errorMessage": "User is not authorized"}),
		record(tb, map[string]any{"eventName": "ConsoleLogin", "eventSource": "signin.amazonaws.com", "additionalEventData": map[string]any{"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com"}}),
		record(tb, map[string]any{"eventName": "PutBucketPolicy", "eventSource": "s3.amazonaws.com", "requestParameters": map[string]any{"bucketName": "logs", "policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}`}}),
	}
}

func BenchmarkSetMatchAll(b *testing.B) {
	s := NewSet(benchPatterns(b))
	recs := benchRecords(b)
	hits := make([]bool, s.Len())
	var bytes int64
	for _, r := range recs {
		bytes += int64(len(r))
	}
	b.SetBytes(bytes / int64(len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.MatchAll(recs[i%len(recs)], hits)
	}
}

func BenchmarkUnmarshalBaseline(b *testing.B) {
	recs := benchRecords(b)
	var bytes int64
	for _, r := range recs {
		bytes += int64(len(r))
	}
	b.SetBytes(bytes / int64(len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var m map[string]any
		if err := json.Unmarshal(recs[i%len(recs)], &m); err != nil {
			b.Fatal(err)
		}
	}
}
