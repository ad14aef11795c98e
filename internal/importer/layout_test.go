package importer_test

import (
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/importer"
)

func TestClassifyKey(t *testing.T) {
	day := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		key  string
		want importer.KeyInfo
	}{
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/05/111122223333_CloudTrail_us-east-1_20240305T0000Z_abcdefghijklmnop.json.gz",
			importer.KeyInfo{Kind: importer.KindLog, Layout: true, Account: "111122223333", Region: "us-east-1", Day: day}},
		{"my/prefix/AWSLogs/o-abcdefghij/111122223333/CloudTrail/eu-west-1/2024/03/05/x.json.gz",
			importer.KeyInfo{Kind: importer.KindLog, Layout: true, Prefix: "my/prefix", OrgID: "o-abcdefghij", Account: "111122223333", Region: "eu-west-1", Day: day}},
		{"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/05/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240305T000000Z.json.gz",
			importer.KeyInfo{Kind: importer.KindDigest, Layout: true, Account: "111122223333", Region: "us-east-1", Day: day}},
		{"p/AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/03/05/a.json.gz",
			importer.KeyInfo{Kind: importer.KindInsight, Layout: true, Prefix: "p", Account: "111122223333", Region: "us-east-1", Day: day}},
		{"AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/05/README.txt",
			importer.KeyInfo{Kind: importer.KindOther, Layout: true, Account: "111122223333", Region: "us-east-1", Day: day}},
		{"stratus/aws.exfiltration.ec2-share-ami.json", importer.KeyInfo{Kind: importer.KindLog}},
		{"x/records.ndjson.gz", importer.KeyInfo{Kind: importer.KindLog}},
		{"x/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240305T000000Z.json.gz", importer.KeyInfo{Kind: importer.KindDigest}},
		{"x/111122223333_CloudTrail-Insight_us-east-1_20240305T0000Z_abc.json.gz", importer.KeyInfo{Kind: importer.KindInsight}},
		{"LICENSE", importer.KeyInfo{Kind: importer.KindOther}},
		{"AWSLogs/1234/CloudTrail/us-east-1/2024/03/05/a.json", importer.KeyInfo{Kind: importer.KindLog}}, // not 12 digits: no layout
	}
	for _, tt := range tests {
		if got := importer.ClassifyKey(tt.key); got != tt.want {
			t.Errorf("ClassifyKey(%q)\n got %+v\nwant %+v", tt.key, got, tt.want)
		}
	}
}

func TestFilter(t *testing.T) {
	d := func(day int) time.Time { return time.Date(2024, 3, day, 0, 0, 0, 0, time.UTC) }
	f := importer.Filter{Accounts: []string{"111122223333"}, Regions: []string{"us-east-1", "eu-west-1"}, Start: d(10), End: d(12)}
	info := func(acct, region string, day int) importer.KeyInfo {
		return importer.KeyInfo{Layout: true, Account: acct, Region: region, Day: d(day)}
	}
	skip := []struct {
		info importer.KeyInfo
		want bool
	}{
		{info("111122223333", "us-east-1", 10), false},
		{info("111122223333", "eu-west-1", 11), false},
		{info("444455556666", "us-east-1", 10), true},  // account
		{info("111122223333", "ap-south-1", 10), true}, // region
		{info("111122223333", "us-east-1", 9), true},   // delivered before Start's day
		{info("111122223333", "us-east-1", 12), false}, // may hold events of the 11th
		{info("111122223333", "us-east-1", 13), true},  // beyond End + DayMargin
		{importer.KeyInfo{}, false},                    // no layout: read it
	}
	for _, tt := range skip {
		if got := f.SkipFile(tt.info); got != tt.want {
			t.Errorf("SkipFile(%+v) = %v, want %v", tt.info, got, tt.want)
		}
	}
	at := d(11)
	match := []struct {
		acct, region string
		t            time.Time
		want         bool
	}{
		{"111122223333", "us-east-1", at, true},
		{"111122223333", "us-east-1", d(10), true},  // Start inclusive
		{"111122223333", "us-east-1", d(12), false}, // End exclusive
		{"111122223333", "us-east-1", d(9), false},
		{"444455556666", "us-east-1", at, false},
		{"111122223333", "us-west-2", at, false},
	}
	for _, tt := range match {
		if got := f.Match(tt.acct, tt.region, tt.t); got != tt.want {
			t.Errorf("Match(%s, %s, %v) = %v, want %v", tt.acct, tt.region, tt.t, got, tt.want)
		}
	}
	var zero importer.Filter
	if !zero.Match("x", "y", at) || zero.SkipFile(info("1", "2", 1)) {
		t.Error("the zero Filter must select everything")
	}
}

func TestParseS3URL(t *testing.T) {
	b, p, ok := importer.ParseS3URL("s3://bucket/AWSLogs/123")
	if !ok || b != "bucket" || p != "AWSLogs/123" {
		t.Errorf("got %q %q %v", b, p, ok)
	}
	if _, _, ok := importer.ParseS3URL("/tmp/x"); ok {
		t.Error("a path is not an S3 URL")
	}
}
