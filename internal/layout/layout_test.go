package layout_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/layout"
)

func TestLogRoundTrip(t *testing.T) {
	spec := regexp.MustCompile(`^(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_([A-Za-z0-9]{16})\.json\.gz$`)
	for _, k := range []layout.Log{
		{Account: "111122223333", Region: "us-east-1", End: time.Date(2024, 12, 31, 23, 55, 0, 0, time.UTC), Unique: layout.UniqueSuffix("t", "1")},
		{Prefix: "a/b c", OrgID: "o-abcdefghij", Account: "111122223333", Region: "ap-southeast-2", End: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Unique: layout.UniqueSuffix("t", "2")},
	} {
		s := k.String()
		if !spec.MatchString(s[strings.LastIndexByte(s, '/')+1:]) {
			t.Fatalf("file name of %s does not match the spec's pattern", s)
		}
		got, err := layout.ParseLog(s)
		if err != nil {
			t.Fatal(err)
		}
		if got != k {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, k)
		}
		if _, err := layout.ParseInsight(s); err == nil {
			t.Errorf("ParseInsight accepted the log key %s", s)
		}
	}
	for _, bad := range []string{
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/444455556666_CloudTrail_us-east-1_20240101T0000Z_AAAAAAAAAAAAAAAA.json.gz",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240101T0000Z_AAAAAAAAAAAAAAAA.json.gz",
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/111122223333_CloudTrail_us-east-1_20240101T0000Z_short.json.gz",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/111122223333_CloudTrail-Insight_us-east-1_20240101T0000Z_AAAAAAAAAAAAAAAA.json.gz",
	} {
		if _, err := layout.ParseLog(bad); err == nil {
			t.Errorf("ParseLog(%q) accepted", bad)
		}
	}
}

func TestDigestRejects(t *testing.T) {
	for _, bad := range []string{
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240101T000000Z.json.gz",
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/01/111122223333_CloudTrail-Digest_us-east-2_t_us-east-1_20240101T000000Z.json.gz",
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240101T0000Z.json.gz",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240101T000000Z.json.gz",
	} {
		if _, err := layout.ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) accepted", bad)
		}
	}
}

func TestChainPatterns(t *testing.T) {
	c := layout.Chain{Prefix: "p", Account: "111122223333", SourceRegion: "us-east-1", Trail: "t", HomeRegion: "eu-west-1"}
	d := layout.Digest{Prefix: "p", Account: c.Account, SourceRegion: c.SourceRegion, Trail: c.Trail, HomeRegion: c.HomeRegion,
		End: time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)}
	key := d.String()
	if !strings.HasPrefix(key, c.Folder()) || !c.Pattern().MatchString(key) || !c.ValidateLogsPattern().MatchString(key) {
		t.Fatalf("%s: not in the chain's folder or not matched", key)
	}
	other := d
	other.Prefix = "q"
	if c.Pattern().MatchString(other.String()) || !c.ValidateLogsPattern().MatchString(other.String()) {
		t.Errorf("%s: Pattern must require the prefix, ValidateLogsPattern must not", other)
	}
	other = d
	other.Trail = "u"
	if c.Pattern().MatchString(other.String()) || c.ValidateLogsPattern().MatchString(other.String()) {
		t.Errorf("%s: another trail's digest matched", other)
	}
	lk := layout.Log{Prefix: "p", Account: c.Account, Region: c.SourceRegion, End: d.End, Unique: layout.UniqueSuffix("x")}
	m := c.LogPattern().FindStringSubmatch(lk.String())
	root, ok := layout.DigestAccountRoot(key)
	if m == nil || !ok || m[1] != root || root != layout.AccountRoot("p", "", c.Account) {
		t.Errorf("log %s: match %q, digest root %q", lk, m, root)
	}
}

func TestUniqueSuffix(t *testing.T) {
	a, b := layout.UniqueSuffix("trail", "acct", "region", "window"), layout.UniqueSuffix("trail", "acct", "region", "window")
	if a != b || len(a) != 16 {
		t.Fatalf("not deterministic or wrong length: %q %q", a, b)
	}
	if a == layout.UniqueSuffix("trail", "acct", "region", "window2") || a == layout.UniqueSuffix("trailacct", "region", "window") {
		t.Fatal("different files share a suffix")
	}
}
