package cis_test

import (
	"slices"
	"testing"

	"github.com/opentrail/opentrail/internal/cis"
)

func TestEventNames(t *testing.T) {
	b, err := cis.Lookup(cis.DefaultVersion)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]struct {
		sources []string
		names   int
		has     string
	}{
		"iam-policy-changes":       {nil, 16, "AttachRolePolicy"},
		"cmk-disable-or-deletion":  {[]string{"kms.amazonaws.com"}, 2, "ScheduleKeyDeletion"},
		"security-group-changes":   {nil, 7, "ModifySecurityGroupRules"},
		"console-auth-failures":    {nil, 1, "ConsoleLogin"},
		"s3-bucket-policy-changes": {[]string{"s3.amazonaws.com"}, 9, "PutBucketPolicy"},
		"root-account-usage":       {nil, 0, ""},
	} {
		c, ok := b.Find(key)
		if !ok {
			t.Fatalf("no control %s", key)
		}
		src, names := c.EventNames()
		if !slices.Equal(src, want.sources) || len(names) != want.names || want.has != "" && !slices.Contains(names, want.has) {
			t.Errorf("%s: sources %v, names %v", key, src, names)
		}
	}
	// Every control that lists events lists only event names.
	for _, c := range b.Controls {
		_, names := c.EventNames()
		for _, n := range names {
			if n == "" || n[0] < 'A' || n[0] > 'Z' {
				t.Errorf("%s: odd event name %q", c.Key, n)
			}
		}
	}
}
