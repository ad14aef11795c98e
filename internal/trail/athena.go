package trail

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/layout"
)

// AthenaTable describes the Athena table over a trail's log files in
// their bucket: s3://Bucket/[Prefix/]AWSLogs/[OrgID/]account/CloudTrail/region/YYYY/MM/DD/.
type AthenaTable struct {
	Bucket string
	Prefix string // the trail's S3KeyPrefix; "" for none
	OrgID  string // o-…, for an organisation trail's layout; "" otherwise
	// Table is the table name (default DefaultAthenaTable).
	Table string
	// Accounts are the account IDs projected as the account partition.
	// Empty makes account an injected partition: every query must then
	// name its account(s) in WHERE account = '…' (or IN (…)).
	Accounts []string
	// Regions are the regions projected as the region partition (default
	// AthenaRegions).
	Regions []string
	// Start is the first day of the timestamp projection (YYYY/MM/DD;
	// default DefaultAthenaStart); the range ends at NOW.
	Start string
	// JSONSerDe selects org.apache.hive.hcatalog.data.JsonSerDe instead
	// of com.amazon.emr.hive.serde.CloudTrailSerde (both read with
	// CloudTrailInputFormat; Athena's current documentation uses the
	// former).
	JSONSerDe bool
}

// Defaults for AthenaTable.
const (
	DefaultAthenaTable = "cloudtrail_logs"
	// DefaultAthenaStart is the month CloudTrail launched; no log is older.
	DefaultAthenaStart = "2013/11/01"
)

// AthenaRegions are the commercial AWS regions, the default region
// projection.
var AthenaRegions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
	"ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
	"eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
	"sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
}

var (
	athenaBucketRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	athenaOrgRE     = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	athenaAccountRE = regexp.MustCompile(`^[0-9]{12}$`)
	athenaRegionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	athenaTableRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
	// A key prefix becomes part of a quoted string and an S3 path.
	athenaPrefixRE = regexp.MustCompile(`^[A-Za-z0-9!_.*()/-]+$`)
)

// athenaColumns are the columns of the CloudTrail table in Athena's
// documentation ("Create the table for CloudTrail logs in Athena using
// partition projection"), in its order.
const athenaColumns = `  eventversion STRING,
  useridentity STRUCT<
    type: STRING,
    principalid: STRING,
    arn: STRING,
    accountid: STRING,
    invokedby: STRING,
    accesskeyid: STRING,
    username: STRING,
    onbehalfof: STRUCT<
      userid: STRING,
      identitystorearn: STRING>,
    sessioncontext: STRUCT<
      attributes: STRUCT<
        mfaauthenticated: STRING,
        creationdate: STRING>,
      sessionissuer: STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        username: STRING>,
      ec2roledelivery: STRING,
      webidfederationdata: STRUCT<
        federatedprovider: STRING,
        attributes: MAP<STRING, STRING>>>>,
  eventtime STRING,
  eventsource STRING,
  eventname STRING,
  awsregion STRING,
  sourceipaddress STRING,
  useragent STRING,
  errorcode STRING,
  errormessage STRING,
  requestparameters STRING,
  responseelements STRING,
  additionaleventdata STRING,
  requestid STRING,
  eventid STRING,
  readonly STRING,
  resources ARRAY<STRUCT<
    arn: STRING,
    accountid: STRING,
    type: STRING>>,
  eventtype STRING,
  apiversion STRING,
  recipientaccountid STRING,
  serviceeventdetails STRING,
  sharedeventid STRING,
  vpcendpointid STRING,
  vpcendpointaccountid STRING,
  eventcategory STRING,
  addendum STRUCT<
    reason: STRING,
    updatedfields: STRING,
    originalrequestid: STRING,
    originaleventid: STRING>,
  sessioncredentialfromconsole STRING,
  edgedevicedetails STRING,
  tlsdetails STRUCT<
    tlsversion: STRING,
    ciphersuite: STRING,
    clientprovidedhostheader: STRING>`

// Validate checks every field and reports the first bad one with its
// value.
func (t AthenaTable) Validate() error {
	if !athenaBucketRE.MatchString(t.Bucket) || strings.Contains(t.Bucket, "..") {
		return fmt.Errorf("bucket %q is not a valid S3 bucket name", t.Bucket)
	}
	if t.Prefix != "" && (!athenaPrefixRE.MatchString(t.Prefix) || strings.HasPrefix(t.Prefix, "/") ||
		strings.HasSuffix(t.Prefix, "/") || strings.Contains(t.Prefix, "//")) {
		return fmt.Errorf("prefix %q: want a key prefix without leading, trailing or doubled slashes", t.Prefix)
	}
	if t.OrgID != "" && !athenaOrgRE.MatchString(t.OrgID) {
		return fmt.Errorf("organization ID %q: want o- and 10 to 32 lowercase letters or digits", t.OrgID)
	}
	if t.Table != "" && !athenaTableRE.MatchString(t.Table) {
		return fmt.Errorf("table name %q: want letters, digits and underscores", t.Table)
	}
	for _, a := range t.Accounts {
		if !athenaAccountRE.MatchString(a) {
			return fmt.Errorf("account %q is not a 12-digit account ID", a)
		}
	}
	for _, r := range t.Regions {
		if !athenaRegionRE.MatchString(r) {
			return fmt.Errorf("region %q is not a region name", r)
		}
	}
	if t.Start != "" {
		if _, err := time.Parse("2006/01/02", t.Start); err != nil {
			return fmt.Errorf("start %q is not a YYYY/MM/DD date", t.Start)
		}
	}
	return nil
}

// LocationTemplate returns the storage.location.template: the bucket
// layout with ${account}, ${region} and ${timestamp} in place.
func (t AthenaTable) LocationTemplate() string {
	return "s3://" + t.Bucket + "/" + layout.AccountRoot(t.Prefix, t.OrgID, "${account}") + layout.LogTree + "/${region}/${timestamp}"
}

// DDL returns the CREATE EXTERNAL TABLE statement for t, with partition
// projection on account, region and timestamp so that Athena needs no
// ALTER TABLE ADD PARTITION. It returns Validate's error for bad fields.
func (t AthenaTable) DDL() (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	if t.Table == "" {
		t.Table = DefaultAthenaTable
	}
	if len(t.Regions) == 0 {
		t.Regions = AthenaRegions
	}
	if t.Start == "" {
		t.Start = DefaultAthenaStart
	}
	serde := "com.amazon.emr.hive.serde.CloudTrailSerde"
	if t.JSONSerDe {
		serde = "org.apache.hive.hcatalog.data.JsonSerDe"
	}
	// The folder above the accounts: s3://B/[P/]AWSLogs/[o-id/].
	location := "s3://" + t.Bucket + "/" + strings.TrimSuffix(layout.AccountRoot(t.Prefix, t.OrgID, ""), "/")

	props := [][2]string{{"projection.enabled", "true"}}
	if len(t.Accounts) == 0 {
		props = append(props, [2]string{"projection.account.type", "injected"})
	} else {
		props = append(props,
			[2]string{"projection.account.type", "enum"},
			[2]string{"projection.account.values", strings.Join(t.Accounts, ",")})
	}
	props = append(props,
		[2]string{"projection.region.type", "enum"},
		[2]string{"projection.region.values", strings.Join(t.Regions, ",")},
		[2]string{"projection.timestamp.type", "date"},
		[2]string{"projection.timestamp.format", "yyyy/MM/dd"},
		[2]string{"projection.timestamp.interval", "1"},
		[2]string{"projection.timestamp.interval.unit", "DAYS"},
		[2]string{"projection.timestamp.range", t.Start + ",NOW"},
		[2]string{"storage.location.template", t.LocationTemplate()},
	)

	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE %s (\n%s\n)\n", t.Table, athenaColumns)
	b.WriteString("PARTITIONED BY (\n  account STRING,\n  region STRING,\n  `timestamp` STRING\n)\n")
	fmt.Fprintf(&b, "ROW FORMAT SERDE '%s'\n", serde)
	b.WriteString("STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n")
	b.WriteString("OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n")
	fmt.Fprintf(&b, "LOCATION '%s'\n", location)
	b.WriteString("TBLPROPERTIES (\n")
	for i, p := range props {
		sep := ","
		if i == len(props)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  '%s' = '%s'%s\n", p[0], p[1], sep)
	}
	b.WriteString(");\n")
	return b.String(), nil
}
