package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/opentrail/opentrail/internal/columnar"
	"github.com/opentrail/opentrail/internal/store"

	"github.com/opentrail/opentrail/internal/trail"
)

// athenaDDLCmd is `opentrail athena-ddl`: it prints the CREATE EXTERNAL
// TABLE that lets Athena query a trail's log files where they lie, with
// partition projection on account, region and day.
//
//	opentrail athena-ddl --bucket B [--prefix P] [--org-id o-…] [--table NAME] [--accounts a,b] [--regions r1,r2] [--start YYYY/MM/DD]
//	opentrail athena-ddl --columnar s3://B/P/ [--table NAME] [--start YYYY-MM-DD]
//
// With --columnar it prints the table over the store's columnar files
// (docs/storage.md), Parquet in account=/region=/date= partitions, copied
// to that location.
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
	columnarLoc := fs.String("columnar", "", "print the table over the store's columnar Parquet files copied to this location (s3://bucket/prefix/) instead")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *columnarLoc != "" {
		if fs.NArg() != 0 || t.Bucket != "" {
			fs.Usage()
			return errUsage
		}
		table := t.Table
		if table == trail.DefaultAthenaTable {
			table = "opentrail_events"
		}
		start := strings.ReplaceAll(t.Start, "/", "-")
		ddl, err := columnarDDL(table, *columnarLoc, start)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(c.env.Stdout, ddl)
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

var (
	columnarLocRE   = regexp.MustCompile(`^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^'\\]*)?$`)
	columnarTableRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,127}$`)
	columnarDateRE  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// columnarDDL is the CREATE EXTERNAL TABLE over the columnar files at
// location: Parquet, partitioned by account, region and date as the
// store lays them out, with partition projection (accounts injected, so
// queries name the account).
func columnarDDL(table, location, start string) (string, error) {
	if !columnarLocRE.MatchString(location) {
		return "", fmt.Errorf("--columnar %q: want an S3 location such as s3://bucket/prefix/", location)
	}
	if !columnarTableRE.MatchString(table) {
		return "", fmt.Errorf("--table %q: want lower-case letters, digits and underscores", table)
	}
	if !columnarDateRE.MatchString(start) {
		return "", fmt.Errorf("--start %q: want YYYY-MM-DD", start)
	}
	if !strings.HasSuffix(location, "/") {
		location += "/"
	}
	var cols []string
	for _, c := range append(append([]columnar.Column(nil), store.ColdColumns...), columnar.Columns...) {
		ht, err := hiveType(c.Type)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", c.Name, err)
		}
		cols = append(cols, "  `"+strings.ToLower(c.Name)+"` "+ht)
	}
	return "CREATE EXTERNAL TABLE " + table + " (\n" + strings.Join(cols, ",\n") + "\n)\n" +
		"PARTITIONED BY (`account` string, `region` string, `date` string)\n" +
		"STORED AS PARQUET\n" +
		"LOCATION '" + location + "'\n" +
		"TBLPROPERTIES (\n" +
		"  'projection.enabled'='true',\n" +
		"  'projection.account.type'='injected',\n" +
		"  'projection.region.type'='enum',\n" +
		"  'projection.region.values'='" + strings.Join(trail.AthenaRegions, ",") + "',\n" +
		"  'projection.date.type'='date',\n" +
		"  'projection.date.format'='yyyy-MM-dd',\n" +
		"  'projection.date.range'='" + start + ",NOW',\n" +
		"  'projection.date.interval'='1',\n" +
		"  'projection.date.interval.unit'='DAYS',\n" +
		"  'storage.location.template'='" + location + "account=${account}/region=${region}/date=${date}'\n" +
		");\n", nil
}

// hiveType turns a DuckDB column type of the columnar files into Hive's.
func hiveType(t string) (string, error) {
	switch {
	case t == "VARCHAR":
		return "string", nil
	case t == "BOOLEAN":
		return "boolean", nil
	case t == "BIGINT":
		return "bigint", nil
	case t == "TIMESTAMP":
		return "timestamp", nil
	case strings.HasSuffix(t, "[]"):
		e, err := hiveType(strings.TrimSuffix(t, "[]"))
		return "array<" + e + ">", err
	case strings.HasPrefix(t, "STRUCT(") && strings.HasSuffix(t, ")"):
		var parts []string
		for _, m := range splitTop(t[len("STRUCT(") : len(t)-1]) {
			m = strings.TrimSpace(m)
			sp := strings.IndexByte(m[1:], '"') + 2
			name := strings.Trim(m[:sp], `"`)
			mt, err := hiveType(strings.TrimSpace(m[sp:]))
			if err != nil {
				return "", err
			}
			parts = append(parts, strings.ToLower(name)+":"+mt)
		}
		return "struct<" + strings.Join(parts, ",") + ">", nil
	}
	return "", fmt.Errorf("no Hive type for %s", t)
}

// splitTop splits a STRUCT's member list at its top-level commas.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
