package trail

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// LogKey describes one log file: the trail's key prefix, the
// organisation (for organisation trails), the account and region whose
// events it holds, the end of its delivery window, and a 16-character
// suffix that tells files of the same window apart.
type LogKey struct {
	Prefix  string // S3KeyPrefix, without leading or trailing "/"; "" for none
	OrgID   string // "o-…" for organisation trails, else ""
	Account string
	Region  string
	End     time.Time // minute resolution, UTC
	Unique  string    // 16 ASCII letters and digits
}

// String returns the object key:
// [prefix/]AWSLogs/[o-id/]account/CloudTrail/region/YYYY/MM/DD/account_CloudTrail_region_YYYYMMDDTHHMMZ_unique.json.gz
func (k LogKey) String() string {
	t := k.End.UTC()
	return fmt.Sprintf("%sCloudTrail/%s/%s/%s_CloudTrail_%s_%sZ_%s.json.gz",
		accountRoot(k.Prefix, k.OrgID, k.Account), k.Region, t.Format("2006/01/02"),
		k.Account, k.Region, t.Format("20060102T1504"), k.Unique)
}

// DigestKey describes one digest file of a trail for one account and
// source region, named after the end of the period it covers.
type DigestKey struct {
	Prefix       string
	OrgID        string
	Account      string
	SourceRegion string // the region whose log files it lists
	Trail        string // the trail's name
	HomeRegion   string // the region the trail was created in
	End          time.Time
	Backfill     bool // a late digest for files delivered after the period closed
}

// String returns the object key:
// [prefix/]AWSLogs/[o-id/]account/CloudTrail-Digest/source/YYYY/MM/DD/account_CloudTrail-Digest_source_trail_home_YYYYMMDDTHHMMSSZ.json.gz
func (k DigestKey) String() string {
	t := k.End.UTC()
	suffix := ".json.gz"
	if k.Backfill {
		suffix = "_backfill.json.gz"
	}
	return fmt.Sprintf("%sCloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s%s",
		accountRoot(k.Prefix, k.OrgID, k.Account), k.SourceRegion, t.Format("2006/01/02"),
		k.Account, k.SourceRegion, k.Trail, k.HomeRegion, t.Format("20060102T150405Z"), suffix)
}

// DigestFolder is the folder holding the digests of one account and source
// region: "[prefix/]AWSLogs/[o-id/]account/CloudTrail-Digest/region/".
func DigestFolder(prefix, org, account, region string) string {
	return accountRoot(prefix, org, account) + "CloudTrail-Digest/" + region + "/"
}

// accountRoot is "[prefix/]AWSLogs/[o-id/]account/".
func accountRoot(prefix, org, account string) string {
	var b strings.Builder
	if prefix != "" {
		b.WriteString(prefix)
		b.WriteByte('/')
	}
	b.WriteString("AWSLogs/")
	if org != "" {
		b.WriteString(org)
		b.WriteByte('/')
	}
	b.WriteString(account)
	b.WriteByte('/')
	return b.String()
}

var logKeyRE = regexp.MustCompile(`^(?:(.+)/)?AWSLogs/(?:(o-[a-z0-9]{10,32})/)?(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_([A-Za-z0-9]{16})\.json\.gz$`)

// ParseLogKey reads a log file's object key back into its parts. It
// accepts exactly what CloudTrail writes: the account and region in the
// path must match those in the file name.
func ParseLogKey(key string) (LogKey, error) {
	m := logKeyRE.FindStringSubmatch(key)
	if m == nil {
		return LogKey{}, fmt.Errorf("%q is not a CloudTrail log file key ([prefix/]AWSLogs/[o-id/]account/CloudTrail/region/YYYY/MM/DD/account_CloudTrail_region_YYYYMMDDTHHMMZ_unique.json.gz)", key)
	}
	if m[3] != m[8] || m[4] != m[9] {
		return LogKey{}, fmt.Errorf("%q: the path names account %s region %s, the file name account %s region %s", key, m[3], m[4], m[8], m[9])
	}
	t, err := time.Parse("20060102T1504Z", m[10])
	if err != nil {
		return LogKey{}, fmt.Errorf("%q: bad time %s: %w", key, m[10], err)
	}
	if t.Format("2006/01/02") != m[5]+"/"+m[6]+"/"+m[7] {
		return LogKey{}, fmt.Errorf("%q: the date folders do not match the file's time %s", key, m[10])
	}
	return LogKey{Prefix: m[1], OrgID: m[2], Account: m[3], Region: m[4], End: t, Unique: m[11]}, nil
}

const uniqueAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// UniqueSuffix derives a log file's 16-character suffix from what
// identifies the file (trail, account, region, window, part), so that a
// delivery replayed after a crash writes the same key again and
// write-once storage turns the replay into a no-op.
func UniqueSuffix(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	var b [16]byte
	for i := range b {
		b[i] = uniqueAlphabet[int(h[i])%len(uniqueAlphabet)]
	}
	return string(b[:])
}
