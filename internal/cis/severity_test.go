package cis

import "testing"

func TestSeverity(t *testing.T) {
	b, err := Lookup(DefaultVersion)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, c := range b.Controls {
		keys[c.Key] = true
	}
	for k := range highSeverity {
		if !keys[k] {
			t.Errorf("high-severity key %q is no control of %s", k, DefaultVersion)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"CIS-root-account-usage", "high"},
		{"CIS-cloudtrail-config-changes", "high"},
		{"CIS-security-group-changes", "medium"},
		{"CIS-console-auth-failures", "medium"},
		{"root-account-usage", "medium"}, // not the pack's name
	} {
		if got := AlarmSeverity(tc.name); got != tc.want {
			t.Errorf("AlarmSeverity(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
