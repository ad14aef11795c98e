package cloudtrailarn

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	p, err := Parse("arn:aws:cloudtrail:eu-central-1:210987654321:channel/abc", "channel")
	if err != nil || p != (Parts{Partition: "aws", Region: "eu-central-1", Account: "210987654321", ID: "abc"}) {
		t.Errorf("Parse = %+v, %v", p, err)
	}
	for _, bad := range []string{
		"arn:aws:cloudtrail:eu-central-1:210987654321:trail/abc",   // another type
		"arn:aws:s3:eu-central-1:210987654321:channel/abc",         // another service
		"arn:aws:cloudtrail:eu-central-1:21098765432:channel/abc",  // 11 digits
		"arn:aws:cloudtrail:eu-central-1:210987654321:channel/a/b", // nested id
		"arn:aws:cloudtrail::210987654321:channel/abc",             // no region
		"arn:aws:cloudtrail:eu-central-1:210987654321:channel/",    // no id
	} {
		if _, err := Parse(bad, "channel"); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestResolveChannel(t *testing.T) {
	r, err := ResolveChannel("eu-central-1", "210987654321", "abc")
	if err != nil || r.ARN != Channel("eu-central-1", "210987654321", "abc") || r.Foreign {
		t.Errorf("id: %+v, %v", r, err)
	}
	r, err = ResolveChannel("eu-central-1", "210987654321", "arn:aws:cloudtrail:us-east-1:210987654321:channel/abc")
	if err != nil || !r.Foreign || r.Parts.Region != "us-east-1" {
		t.Errorf("other region: %+v, %v", r, err)
	}
	for ref, msg := range map[string]string{
		"ab":                       `"ab" is not a valid channel ARN or ID.`,
		"a/b/c":                    `"a/b/c" is not a valid channel ARN or ID.`,
		"arn:aws:cloudtrail:x:y:z": `"arn:aws:cloudtrail:x:y:z" is not a valid channel ARN.`,
	} {
		if _, err := ResolveChannel("eu-central-1", "210987654321", ref); err == nil || err.Error() != msg {
			t.Errorf("ResolveChannel(%q) = %v, want %s", ref, err, msg)
		}
	}
}

// FuzzResolveChannel resolves arbitrary references: no panics, and an
// accepted one yields an ARN that parses back to the same parts.
func FuzzResolveChannel(f *testing.F) {
	for _, s := range []string{"abc", "arn:aws:cloudtrail:eu-central-1:210987654321:channel/abc", "a:b", "", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		r, err := ResolveChannel("eu-central-1", "210987654321", ref)
		if err != nil {
			return
		}
		p, err := Parse(r.ARN, "channel")
		if err != nil || p != r.Parts {
			t.Fatalf("%q resolved to %+v, which parses as %+v, %v", ref, r, p, err)
		}
	})
}
