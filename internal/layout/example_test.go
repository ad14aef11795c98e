package layout_test

import (
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/layout"
)

func ExampleLog() {
	k := layout.Log{Account: "210987654321", Region: "eu-central-1",
		End: time.Date(2024, 5, 6, 7, 5, 0, 0, time.UTC), Unique: "Qm3xT9aLp0ZrW7cB"}
	fmt.Println(k)
	k.Prefix, k.OrgID = "audit/prod", "o-exampleorg1"
	fmt.Println(k)
	// Output:
	// AWSLogs/210987654321/CloudTrail/eu-central-1/2024/05/06/210987654321_CloudTrail_eu-central-1_20240506T0705Z_Qm3xT9aLp0ZrW7cB.json.gz
	// audit/prod/AWSLogs/o-exampleorg1/210987654321/CloudTrail/eu-central-1/2024/05/06/210987654321_CloudTrail_eu-central-1_20240506T0705Z_Qm3xT9aLp0ZrW7cB.json.gz
}

func ExampleParseLog() {
	k, err := layout.ParseLog("audit/AWSLogs/210987654321/CloudTrail/eu-central-1/2024/05/06/210987654321_CloudTrail_eu-central-1_20240506T0705Z_Qm3xT9aLp0ZrW7cB.json.gz")
	fmt.Println(k.Prefix, k.Account, k.Region, k.End.Format(time.RFC3339), k.Unique, err)
	_, err = layout.ParseLog("AWSLogs/210987654321/CloudTrail/eu-central-1/2024/05/07/210987654321_CloudTrail_eu-central-1_20240506T0705Z_Qm3xT9aLp0ZrW7cB.json.gz")
	fmt.Println(err != nil)
	// Output:
	// audit 210987654321 eu-central-1 2024-05-06T07:05:00Z Qm3xT9aLp0ZrW7cB <nil>
	// true
}

func ExampleDigest() {
	k := layout.Digest{Account: "210987654321", SourceRegion: "us-west-2", Trail: "audit-main", HomeRegion: "eu-central-1",
		End: time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)}
	fmt.Println(k)
	k.Backfill = true
	fmt.Println(k)
	// Output:
	// AWSLogs/210987654321/CloudTrail-Digest/us-west-2/2024/05/06/210987654321_CloudTrail-Digest_us-west-2_audit-main_eu-central-1_20240506T080000Z.json.gz
	// AWSLogs/210987654321/CloudTrail-Digest/us-west-2/2024/05/06/210987654321_CloudTrail-Digest_us-west-2_audit-main_eu-central-1_20240506T080000Z_backfill.json.gz
}

func ExampleParseDigest() {
	k, err := layout.ParseDigest("AWSLogs/o-exampleorg1/210987654321/CloudTrail-Digest/us-west-2/2024/05/06/210987654321_CloudTrail-Digest_us-west-2_audit_main_eu-central-1_20240506T080000Z_backfill.json.gz")
	fmt.Println(k.OrgID, k.SourceRegion, k.Trail, k.HomeRegion, k.End.Format(time.RFC3339), k.Backfill, err)
	// Output: o-exampleorg1 us-west-2 audit_main eu-central-1 2024-05-06T08:00:00Z true <nil>
}

func ExampleInsight() {
	k := layout.Insight{Account: "210987654321", Region: "eu-central-1",
		End: time.Date(2024, 5, 6, 7, 30, 0, 0, time.UTC), Unique: "abcdefghijklmnop"}
	fmt.Println(k)
	// Output:
	// AWSLogs/210987654321/CloudTrail-Insight/eu-central-1/2024/05/06/210987654321_CloudTrail-Insight_eu-central-1_20240506T0730Z_abcdefghijklmnop.json.gz
}

func ExampleFolder() {
	fmt.Println(layout.Root(""))
	fmt.Println(layout.AccountRoot("audit", "o-exampleorg1", "210987654321"))
	fmt.Println(layout.Folder(layout.LogTree, "", "", "210987654321", "eu-central-1"))
	fmt.Println(layout.DigestFolder("audit", "", "210987654321", "us-west-2") + layout.DayFolder(time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)))
	// Output:
	// AWSLogs/
	// audit/AWSLogs/o-exampleorg1/210987654321/
	// AWSLogs/210987654321/CloudTrail/eu-central-1/
	// audit/AWSLogs/210987654321/CloudTrail-Digest/us-west-2/2024/05/06/
}

func ExampleDigestTime() {
	end, backfill, ok := layout.DigestTime("x/210987654321_CloudTrail-Digest_us-west-2_audit-main_eu-central-1_20240506T080000Z_backfill.json.gz")
	fmt.Println(end.Format(time.RFC3339), backfill, ok)
	next, _ := layout.DigestAt("AWSLogs/210987654321/CloudTrail-Digest/us-west-2/2024/05/06/210987654321_CloudTrail-Digest_us-west-2_audit-main_eu-central-1_20240506T230000Z.json.gz",
		time.Date(2024, 5, 7, 0, 0, 0, 0, time.UTC))
	fmt.Println(next)
	// Output:
	// 2024-05-06T08:00:00Z true true
	// AWSLogs/210987654321/CloudTrail-Digest/us-west-2/2024/05/07/210987654321_CloudTrail-Digest_us-west-2_audit-main_eu-central-1_20240507T000000Z.json.gz
}

func ExampleParseLocation() {
	loc, ok := layout.ParseLocation("p/AWSLogs/210987654321/CloudTrail-Insight/us-east-1/2024/03/01/any-name.json")
	fmt.Println(loc.Tree, loc.Prefix, loc.Account, loc.Region, loc.Day.Format(time.DateOnly), ok)
	_, ok = layout.ParseLocation("exports/records.json")
	fmt.Println(ok)
	// Output:
	// CloudTrail-Insight p 210987654321 us-east-1 2024-03-01 true
	// false
}
