package trail_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/trail"
)

func TestValidateName(t *testing.T) {
	cases := []struct{ name, err string }{
		{"audit-main", ""},
		{"a.b_c-d9", ""},
		{"Abc", ""},
		{strings.Repeat("a", 128), ""},
		{"ab", "Trail name too short. Minimum allowed length: 3 characters. Specified name length: 2 characters."},
		{strings.Repeat("a", 129), "Trail name too long. Maximum allowed length: 128 characters. Specified name length: 129 characters."},
		{"-abc", "Trail name must starts with a letter or number."},
		{"abc_", "Trail name must ends with a letter or number."},
		{"my trail", "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_)."},
		{"my-_x", "Trail name cannot contain consecutive special characters (., -, _)."},
		{"my--x", "Trail name cannot contain consecutive special characters (., -, _)."},
		{"192.168.5.4", "Trail name cannot be formatted as an IP address."},
		{"tr/ail", "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_)."},
	}
	for _, c := range cases {
		err := trail.ValidateName(c.name)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.err {
			t.Errorf("ValidateName(%q) = %q, want %q", c.name, got, c.err)
		}
	}
}

func TestParseARN(t *testing.T) {
	a, err := trail.ParseARN("arn:aws:cloudtrail:eu-central-1:210987654321:trail/audit-main")
	if err != nil || a.Name != "audit-main" || a.Account != "210987654321" || a.Region != "eu-central-1" {
		t.Fatalf("ParseARN = %+v, %v", a, err)
	}
	if a.String() != "arn:aws:cloudtrail:eu-central-1:210987654321:trail/audit-main" {
		t.Fatalf("round trip: %s", a)
	}
	for _, bad := range []string{"arn:aws:cloudtrail:eu-central-1:21098765432:trail/x1y", "arn:aws:s3:::bucket", "arn:aws:cloudtrail:us-east-1:210987654321:trail/a b c", "audit-main"} {
		if _, err := trail.ParseARN(bad); err == nil {
			t.Errorf("ParseARN(%q) accepted", bad)
		}
	}
	if !trail.IsARN("arn:aws:cloudtrail:x") || trail.IsARN("audit-main") {
		t.Error("IsARN")
	}
}

func TestLogKeyRoundTrip(t *testing.T) {
	spec := regexp.MustCompile(`^(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_([A-Za-z0-9]{16})\.json\.gz$`)
	for _, k := range []trail.LogKey{
		{Account: "111122223333", Region: "us-east-1", End: time.Date(2024, 12, 31, 23, 55, 0, 0, time.UTC), Unique: trail.UniqueSuffix("t", "1")},
		{Prefix: "a/b c", OrgID: "o-abcdefghij", Account: "111122223333", Region: "ap-southeast-2", End: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Unique: trail.UniqueSuffix("t", "2")},
	} {
		s := k.String()
		if !spec.MatchString(s[strings.LastIndexByte(s, '/')+1:]) {
			t.Fatalf("file name of %s does not match the spec's pattern", s)
		}
		got, err := trail.ParseLogKey(s)
		if err != nil {
			t.Fatal(err)
		}
		if got != k {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, k)
		}
	}
	for _, bad := range []string{
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/444455556666_CloudTrail_us-east-1_20240101T0000Z_AAAAAAAAAAAAAAAA.json.gz",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240101T0000Z_AAAAAAAAAAAAAAAA.json.gz",
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/01/111122223333_CloudTrail_us-east-1_20240101T0000Z_short.json.gz",
	} {
		if _, err := trail.ParseLogKey(bad); err == nil {
			t.Errorf("ParseLogKey(%q) accepted", bad)
		}
	}
}

func TestUniqueSuffix(t *testing.T) {
	a, b := trail.UniqueSuffix("trail", "acct", "region", "window"), trail.UniqueSuffix("trail", "acct", "region", "window")
	if a != b || len(a) != 16 {
		t.Fatalf("not deterministic or wrong length: %q %q", a, b)
	}
	if a == trail.UniqueSuffix("trail", "acct", "region", "window2") || a == trail.UniqueSuffix("trailacct", "region", "window") {
		t.Fatal("different files share a suffix")
	}
}
