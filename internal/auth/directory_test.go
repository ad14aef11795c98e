package auth_test

import (
	"testing"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/config"
)

func TestLocalMode(t *testing.T) {
	d := auth.Local()
	cases := []struct {
		akid, account string
		management    bool
	}{
		{"test", "000000000000", true},
		{"AKIAANYTHING", "000000000000", true},
		{"111122223333", "111122223333", false},
	}
	for _, c := range cases {
		secret, ok := d.Secret(c.akid)
		if !ok || secret != "test" {
			t.Errorf("Secret(%q) = %q, %v", c.akid, secret, ok)
		}
		p, ok := d.Principal(c.akid)
		if !ok || p.AccountID != c.account || p.Management != c.management || p.Type != "Root" {
			t.Errorf("Principal(%q) = %+v", c.akid, p)
		}
	}
	if _, ok := d.Secret(""); ok {
		t.Error("empty access key accepted")
	}
	mgmt, _ := d.Principal("test")
	member, _ := d.Principal("111122223333")
	if !d.CanWrite(mgmt, "999999999999") {
		t.Error("local management account cannot write for another account")
	}
	if d.CanWrite(member, "000000000000") || !d.CanWrite(member, "111122223333") {
		t.Error("a member account's write rights are wrong")
	}
}

func TestConfiguredPrincipals(t *testing.T) {
	c := config.Default()
	c.Organization = &config.Organization{ID: "o-exampleorg1", ManagementAccount: "111111111111", Members: []string{"222222222222"}}
	c.Principals = []config.Principal{
		{AccessKeyID: "AKIAMGMT", SecretAccessKey: "m", Account: "111111111111", UserName: "admin"},
		{AccessKeyID: "AKIAMEMBER", SecretAccessKey: "x", Account: "222222222222", UserName: "app", Policies: []string{"ingest-only", "./p.json"}},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := auth.FromConfig(&c)
	if d.IsLocal() {
		t.Fatal("configured directory is in local mode")
	}
	if s, ok := d.Secret("AKIAMGMT"); !ok || s != "m" {
		t.Fatal("secret lookup")
	}
	if _, ok := d.Secret("test"); ok {
		t.Fatal("local credentials accepted with principals configured")
	}
	mgmt, _ := d.Principal("AKIAMGMT")
	member, _ := d.Principal("AKIAMEMBER")
	if !mgmt.Management || member.Management {
		t.Fatal("management flag")
	}
	if !d.CanWrite(mgmt, "222222222222") || d.CanWrite(mgmt, "333333333333") {
		t.Error("management may write for members only")
	}
	if d.CanWrite(member, "111111111111") {
		t.Error("member wrote for the management account")
	}
	if member.ARN != "arn:aws:iam::222222222222:user/app" {
		t.Errorf("ARN %q", member.ARN)
	}
	if len(member.Policies) != 2 || member.Policies[1] != "./p.json" || mgmt.Policies != nil {
		t.Errorf("policies %q %q: want the configured references, nil for none", member.Policies, mgmt.Policies)
	}
	if p, _ := auth.Local().Principal("test"); p.Policies != nil {
		t.Errorf("local principal policies %q, want nil (the default)", p.Policies)
	}
}
