package trail_test

import (
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/trail"
)

func ExampleLogKey() {
	k := trail.LogKey{Account: "210987654321", Region: "eu-central-1",
		End: time.Date(2024, 5, 6, 7, 5, 0, 0, time.UTC), Unique: "Qm3xT9aLp0ZrW7cB"}
	fmt.Println(k)
	k.Prefix, k.OrgID = "audit/prod", "o-exampleorg1"
	fmt.Println(k)
	// Output:
	// AWSLogs/210987654321/CloudTrail/eu-central-1/2024/05/06/210987654321_CloudTrail_eu-central-1_20240506T0705Z_Qm3xT9aLp0ZrW7cB.json.gz
	// audit/prod/AWSLogs/o-exampleorg1/210987654321/CloudTrail/eu-central-1/2024/05/06/210987654321_CloudTrail_eu-central-1_20240506T0705Z_Qm3xT9aLp0ZrW7cB.json.gz
}

func ExampleDigestKey() {
	k := trail.DigestKey{Account: "210987654321", SourceRegion: "us-west-2", Trail: "audit-main", HomeRegion: "eu-central-1",
		End: time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)}
	fmt.Println(k)
	k.Backfill = true
	fmt.Println(k)
	// Output:
	// AWSLogs/210987654321/CloudTrail-Digest/us-west-2/2024/05/06/210987654321_CloudTrail-Digest_us-west-2_audit-main_eu-central-1_20240506T080000Z.json.gz
	// AWSLogs/210987654321/CloudTrail-Digest/us-west-2/2024/05/06/210987654321_CloudTrail-Digest_us-west-2_audit-main_eu-central-1_20240506T080000Z_backfill.json.gz
}

func ExampleARN() {
	a := trail.ARN{Region: "eu-central-1", Account: "210987654321", Name: "audit-main"}
	fmt.Println(a)
	// Output: arn:aws:cloudtrail:eu-central-1:210987654321:trail/audit-main
}
