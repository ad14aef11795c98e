package cli

import (
	"strings"
	"testing"
)

func TestColumnarDDL(t *testing.T) {
	ddl, err := columnarDDL("opentrail_events", "s3://audit-archive/opentrail", "2026-01-01")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"CREATE EXTERNAL TABLE opentrail_events (\n  `_seq` bigint,",
		"`useridentity` struct<type:string,principalid:string,arn:string,",
		"sessioncontext:struct<attributes:struct<creationdate:string,mfaauthenticated:string>,",
		"`eventtime` timestamp,",
		"`requestparameters` string,",
		"`readonly` boolean,",
		"`_resource_names` array<string>,",
		"`_template` string\n)",
		"PARTITIONED BY (`account` string, `region` string, `date` string)\nSTORED AS PARQUET\nLOCATION 's3://audit-archive/opentrail/'",
		"'projection.date.range'='2026-01-01,NOW'",
		"'storage.location.template'='s3://audit-archive/opentrail/account=${account}/region=${region}/date=${date}'",
	} {
		if !strings.Contains(ddl, want) {
			t.Errorf("DDL lacks %q:\n%s", want, ddl)
		}
	}
	for _, bad := range [][3]string{
		{"t", "/local/path", "2026-01-01"},
		{"t", "s3://b/p'; DROP", "2026-01-01"},
		{"T-1", "s3://bucket/p/", "2026-01-01"},
		{"t", "s3://bucket/p/", "2026/01/01x"},
	} {
		if _, err := columnarDDL(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("columnarDDL%q accepted", bad)
		}
	}
}
