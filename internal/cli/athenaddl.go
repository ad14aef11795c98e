package cli

import (
	"context"
	"fmt"

	"github.com/opentrail/opentrail/internal/trail"
)

// athenaDDLCmd is `opentrail athena-ddl`: it prints the CREATE EXTERNAL
// TABLE that lets Athena query a trail's log files where they lie, with
// partition projection on account, region and day.
//
//	opentrail athena-ddl --bucket B [--prefix P] [--org-id o-…] [--table NAME] [--accounts a,b] [--regions r1,r2] [--start YYYY/MM/DD]
type athenaDDLCmd struct{ env *Env }

func (*athenaDDLCmd) Name() string { return "athena-ddl" }
func (*athenaDDLCmd) Synopsis() string {
	return "print the Athena CREATE EXTERNAL TABLE for a trail's bucket, with partition projection"
}

func (c *athenaDDLCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "athena-ddl", "--bucket B [flags]")
	var (
		t                 trail.AthenaTable
		accounts, regions listFlag
	)
	fs.StringVar(&t.Bucket, "bucket", "", "the trail's S3 bucket (required)")
	fs.StringVar(&t.Prefix, "prefix", "", "the trail's S3 key prefix, if any")
	fs.StringVar(&t.OrgID, "org-id", "", "organization ID (o-…) for an organization trail's layout")
	fs.StringVar(&t.Table, "table", trail.DefaultAthenaTable, "table name")
	fs.Var(&accounts, "accounts", "account IDs to project (comma-separated or repeated; default: injected, so queries must name the account)")
	fs.Var(&regions, "regions", "regions to project (comma-separated or repeated; default: every commercial region)")
	fs.StringVar(&t.Start, "start", trail.DefaultAthenaStart, "first day of the date projection, YYYY/MM/DD")
	fs.BoolVar(&t.JSONSerDe, "json-serde", false, "use org.apache.hive.hcatalog.data.JsonSerDe instead of CloudTrailSerde")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || t.Bucket == "" {
		fs.Usage()
		return errUsage
	}
	t.Accounts, t.Regions = accounts, regions
	ddl, err := t.DDL()
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(c.env.Stdout, ddl)
	return err
}
