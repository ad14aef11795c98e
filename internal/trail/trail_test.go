package trail_test

import (
	"strings"
	"testing"

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
