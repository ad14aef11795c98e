package trail_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/trail"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestAthenaDDLGolden(t *testing.T) {
	for _, c := range []struct {
		golden string
		table  trail.AthenaTable
	}{
		{"athena_default.golden", trail.AthenaTable{Bucket: "audit-logs"}},
		{"athena_org.golden", trail.AthenaTable{
			Bucket: "org-trail.example", Prefix: "ct/main", OrgID: "o-abc123def4", Table: "org_events",
			Accounts: []string{"111111111111", "012345678901"}, Regions: []string{"us-east-1", "eu-west-1"},
			Start: "2024/01/01", JSONSerDe: true,
		}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			ddl, err := c.table.DDL()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.golden, ddl)
		})
	}
}

func TestAthenaLocationTemplate(t *testing.T) {
	for _, c := range []struct {
		table trail.AthenaTable
		want  string
	}{
		{trail.AthenaTable{Bucket: "bk1"}, "s3://bk1/AWSLogs/${account}/CloudTrail/${region}/${timestamp}"},
		{trail.AthenaTable{Bucket: "bk1", Prefix: "p/q"}, "s3://bk1/p/q/AWSLogs/${account}/CloudTrail/${region}/${timestamp}"},
		{trail.AthenaTable{Bucket: "bk1", OrgID: "o-abc123def4"}, "s3://bk1/AWSLogs/o-abc123def4/${account}/CloudTrail/${region}/${timestamp}"},
	} {
		if got := c.table.LocationTemplate(); got != c.want {
			t.Errorf("%+v: LocationTemplate() = %q, want %q", c.table, got, c.want)
		}
		// The projected template must agree with the keys CloudTrail writes.
		ddl, err := c.table.DDL()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ddl, "'storage.location.template' = '"+c.want+"'") {
			t.Errorf("DDL does not carry template %q:\n%s", c.want, ddl)
		}
	}
}

func TestAthenaDDLRefuses(t *testing.T) {
	for _, c := range []struct {
		table trail.AthenaTable
		want  string
	}{
		{trail.AthenaTable{}, `bucket ""`},
		{trail.AthenaTable{Bucket: "Bad_Bucket"}, "bucket"},
		{trail.AthenaTable{Bucket: "bk1", Prefix: "/p"}, "prefix"},
		{trail.AthenaTable{Bucket: "bk1", Prefix: "p'; DROP"}, "prefix"},
		{trail.AthenaTable{Bucket: "bk1", OrgID: "org-1"}, "organization ID"},
		{trail.AthenaTable{Bucket: "bk1", Table: "x y"}, "table name"},
		{trail.AthenaTable{Bucket: "bk1", Accounts: []string{"12345"}}, `account "12345"`},
		{trail.AthenaTable{Bucket: "bk1", Regions: []string{"mars"}}, `region "mars"`},
		{trail.AthenaTable{Bucket: "bk1", Start: "2024-01-01"}, "YYYY/MM/DD"},
	} {
		if _, err := c.table.DDL(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want it to mention %q", c.table, err, c.want)
		}
	}
}
