package layout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/layout"
)

// FuzzKeyRoundTrip checks both directions: keys built from any valid
// parts parse back to those parts, and any string a parser accepts
// rebuilds to exactly that string; no input makes a parser panic.
func FuzzKeyRoundTrip(f *testing.F) {
	f.Add("AWSLogs/210987654321/CloudTrail/eu-central-1/2024/05/06/210987654321_CloudTrail_eu-central-1_20240506T0705Z_Qm3xT9aLp0ZrW7cB.json.gz", "audit/prod", "exampleorg1", "t_1", int64(28590000))
	f.Add("p/AWSLogs/o-exampleorg1/210987654321/CloudTrail-Digest/us-west-2/2024/05/06/210987654321_CloudTrail-Digest_us-west-2_audit-main_eu-central-1_20240506T080000Z_backfill.json.gz", "", "", "audit-main", int64(0))
	f.Add("AWSLogs/210987654321/CloudTrail-Insight/eu-central-1/2024/05/06/210987654321_CloudTrail-Insight_eu-central-1_20240506T0730Z_abcdefghijklmnop.json.gz", "a//b", "", "x", int64(-1))
	f.Add("AWSLogs/AWSLogs/210987654321/CloudTrail/x/2024/02/30/210987654321_CloudTrail_x_20240230T0000Z_AAAAAAAAAAAAAAAA.json.gz", "AWSLogs", "o-", "_", int64(1<<40))
	f.Fuzz(func(t *testing.T, key, prefix, org, trailName string, minutes int64) {
		// Parse → build.
		if k, err := layout.ParseLog(key); err == nil && k.String() != key {
			t.Fatalf("ParseLog(%q) = %+v, which builds %q", key, k, k.String())
		}
		if k, err := layout.ParseInsight(key); err == nil && k.String() != key {
			t.Fatalf("ParseInsight(%q) = %+v, which builds %q", key, k, k.String())
		}
		if k, err := layout.ParseDigest(key); err == nil {
			if k.String() != key {
				t.Fatalf("ParseDigest(%q) = %+v, which builds %q", key, k, k.String())
			}
			if end, bf, ok := layout.DigestTime(key); !ok || !end.Equal(k.End) || bf != k.Backfill {
				t.Fatalf("DigestTime(%q) = %v %v %v, ParseDigest %v %v", key, end, bf, ok, k.End, k.Backfill)
			}
		}
		if loc, ok := layout.ParseLocation(key); ok && !strings.Contains(key, layout.Folder(loc.Tree, loc.Prefix, loc.OrgID, loc.Account, loc.Region)) {
			t.Fatalf("ParseLocation(%q) = %+v, whose folder is not in the key", key, loc)
		}
		layout.DigestTime(key)
		layout.DigestAt(key, time.Unix(minutes, 0))

		// Build → parse, from parts made valid.
		prefix = strings.Trim(prefix, "/")
		if org = clean(org, false); org != "" {
			org = "o-" + (org + "0000000000")[:min(32, max(10, len(org)))]
		}
		trailName = strings.ReplaceAll(trailName, "/", "")
		if trailName == "" {
			trailName = "t"
		}
		m := minutes % 4_000_000_000 // years 1970 to about 9580: four digits
		if m < 0 {
			m = -m
		}
		end := time.Unix(m*60, 0).UTC()
		lk := layout.Log{Prefix: prefix, OrgID: org, Account: "111122223333", Region: "us-east-1", End: end, Unique: layout.UniqueSuffix(key)}
		if got, err := layout.ParseLog(lk.String()); err != nil || !sameLog(got, lk) {
			t.Fatalf("log %#v: built %q, parsed %#v, %v", lk, lk.String(), got, err)
		}
		ik := layout.Insight(lk)
		if got, err := layout.ParseInsight(ik.String()); err != nil || !sameLog(layout.Log(got), layout.Log(ik)) {
			t.Fatalf("insight %+v: built %q, parsed %+v, %v", ik, ik.String(), got, err)
		}
		for _, bf := range []bool{false, true} {
			dk := layout.Digest{Prefix: prefix, OrgID: org, Account: "111122223333", SourceRegion: "eu-west-1", Trail: trailName,
				HomeRegion: "us-east-1", End: end.Add(time.Duration(minutes%60) * time.Second), Backfill: bf}
			if got, err := layout.ParseDigest(dk.String()); err != nil || !got.End.Equal(dk.End) || got.String() != dk.String() || got.Trail != dk.Trail || got.Prefix != dk.Prefix || got.OrgID != dk.OrgID || got.Backfill != dk.Backfill {
				t.Fatalf("digest %+v: built %q, parsed %+v, %v", dk, dk.String(), got, err)
			}
		}
	})
}

// sameLog compares parts, times by instant.
func sameLog(a, b layout.Log) bool {
	te := a.End.Equal(b.End)
	a.End, b.End = time.Time{}, time.Time{}
	return te && a == b
}

// clean keeps the lower-case letters and digits of s.
func clean(s string, _ bool) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}
