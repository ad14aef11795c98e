// Package layout is where CloudTrail puts its files in a bucket: the
// object keys of log, digest and Insights files, built and parsed, the
// folders above them ([prefix/]AWSLogs/[o-id/]account/tree/region/), with
// and without an S3 key prefix and an organisation folder, exactly as
// shared/spec/cloudtrail-formats.md §2 describes them.
//
// Delivery builds keys with it, digest validation and the CLI list and
// match them, and import reads account, region and day from them. It is
// pure: it imports only the standard library, does no I/O and is safe
// for concurrent use. It is not about what the files hold (package digest
// and package importer read their content) nor about reading them
// (package objstore).
package layout

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The trees under an account's folder, one per kind of file.
const (
	LogTree     = "CloudTrail"         // log files
	DigestTree  = "CloudTrail-Digest"  // digest files
	InsightTree = "CloudTrail-Insight" // Insights files
)

// Time layouts of the names.
const (
	logTime    = "20060102T1504Z"   // log and Insights files: minutes
	digestTime = "20060102T150405Z" // digests: seconds
	dayFolders = "2006/01/02"
)

// Root returns the folder above the accounts: "[prefix/]AWSLogs/".
func Root(prefix string) string {
	if prefix == "" {
		return "AWSLogs/"
	}
	return prefix + "/AWSLogs/"
}

// AccountRoot returns an account's folder:
// "[prefix/]AWSLogs/[o-id/]account/".
func AccountRoot(prefix, org, account string) string {
	var b strings.Builder
	b.WriteString(Root(prefix))
	if org != "" {
		b.WriteString(org)
		b.WriteByte('/')
	}
	b.WriteString(account)
	b.WriteByte('/')
	return b.String()
}

// Folder returns the folder of one tree (LogTree, DigestTree or
// InsightTree) for an account and region:
// "[prefix/]AWSLogs/[o-id/]account/tree/region/"; the date folders
// YYYY/MM/DD/ follow it.
func Folder(tree, prefix, org, account, region string) string {
	return AccountRoot(prefix, org, account) + tree + "/" + region + "/"
}

// DigestFolder is Folder(DigestTree, …): where the digests of an account
// and source region lie.
func DigestFolder(prefix, org, account, region string) string {
	return Folder(DigestTree, prefix, org, account, region)
}

// DayFolder returns the date folders of t, "YYYY/MM/DD/" in UTC.
func DayFolder(t time.Time) string { return t.UTC().Format(dayFolders) + "/" }

// Log is one log file: the trail's key prefix, the organisation (for
// organisation trails), the account and region whose events it holds,
// the end of its delivery window, and a 16-character suffix that tells
// files of the same window apart.
type Log struct {
	Prefix  string // S3KeyPrefix, without leading or trailing "/"; "" for none
	OrgID   string // "o-…" for organisation trails, else ""
	Account string
	Region  string
	End     time.Time // minute resolution, UTC
	Unique  string    // 16 ASCII letters and digits
}

// String returns the object key:
// [prefix/]AWSLogs/[o-id/]account/CloudTrail/region/YYYY/MM/DD/account_CloudTrail_region_YYYYMMDDTHHMMZ_unique.json.gz
func (k Log) String() string {
	return fileKey(LogTree, k.Prefix, k.OrgID, k.Account, k.Region, k.End, k.Unique)
}

// Insight is one Insights file; its parts are a Log's.
type Insight Log

// String returns the object key:
// [prefix/]AWSLogs/[o-id/]account/CloudTrail-Insight/region/YYYY/MM/DD/account_CloudTrail-Insight_region_YYYYMMDDTHHMMZ_unique.json.gz
func (k Insight) String() string {
	return fileKey(InsightTree, k.Prefix, k.OrgID, k.Account, k.Region, k.End, k.Unique)
}

func fileKey(tree, prefix, org, account, region string, end time.Time, unique string) string {
	t := end.UTC()
	return Folder(tree, prefix, org, account, region) + DayFolder(t) +
		account + "_" + tree + "_" + region + "_" + t.Format(logTime) + "_" + unique + ".json.gz"
}

// Digest is one digest file of a trail for one account and source
// region, named after the end of the period it covers.
type Digest struct {
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
func (k Digest) String() string {
	t := k.End.UTC()
	suffix := ".json.gz"
	if k.Backfill {
		suffix = "_backfill.json.gz"
	}
	return DigestFolder(k.Prefix, k.OrgID, k.Account, k.SourceRegion) + DayFolder(t) +
		k.Account + "_" + DigestTree + "_" + k.SourceRegion + "_" + k.Trail + "_" + k.HomeRegion + "_" + t.Format(digestTime) + suffix
}

// fileRE matches the key of a log or Insights file; group 4 is the tree.
// A prefix may hold any byte, a newline too, as an S3 key may.
var fileRE = regexp.MustCompile(`(?s)^(?:(.+)/)?AWSLogs/(?:(o-[a-z0-9]{10,32})/)?(\d{12})/(CloudTrail|CloudTrail-Insight)/([a-z0-9-]+)/(\d{4}/\d{2}/\d{2})/(\d{12})_(CloudTrail|CloudTrail-Insight)_([a-z0-9-]+)_(\d{8}T\d{4}Z)_([A-Za-z0-9]{16})\.json\.gz$`)

// ParseLog reads a log file's object key back into its parts. It accepts
// exactly what CloudTrail writes: the account and region in the path must
// match those in the file name, and the date folders its time.
func ParseLog(key string) (Log, error) {
	k, err := parseFile(key, LogTree)
	return Log(k), err
}

// ParseInsight reads an Insights file's object key back into its parts,
// as ParseLog does a log file's.
func ParseInsight(key string) (Insight, error) {
	return parseFile(key, InsightTree)
}

func parseFile(key, tree string) (Insight, error) {
	m := fileRE.FindStringSubmatch(key)
	if m == nil || m[4] != tree {
		return Insight{}, fmt.Errorf("%q is not a %s file key ([prefix/]AWSLogs/[o-id/]account/%[2]s/region/YYYY/MM/DD/account_%[2]s_region_YYYYMMDDTHHMMZ_unique.json.gz)", key, tree)
	}
	if m[3] != m[7] || m[4] != m[8] || m[5] != m[9] {
		return Insight{}, fmt.Errorf("%q: the path names account %s region %s, the file name account %s region %s", key, m[3], m[5], m[7], m[9])
	}
	t, err := time.Parse(logTime, m[10])
	if err != nil {
		return Insight{}, fmt.Errorf("%q: bad time %s: %w", key, m[10], err)
	}
	if t.Format(dayFolders) != m[6] {
		return Insight{}, fmt.Errorf("%q: the date folders do not match the file's time %s", key, m[10])
	}
	return Insight{Prefix: m[1], OrgID: m[2], Account: m[3], Region: m[5], End: t, Unique: m[11]}, nil
}

// digestRE matches a digest key. A trail name may hold "_", a region
// cannot, so the home region is the last part before the time.
var digestRE = regexp.MustCompile(`(?s)^(?:(.+)/)?AWSLogs/(?:(o-[a-z0-9]{10,32})/)?(\d{12})/CloudTrail-Digest/([a-z0-9-]+)/(\d{4}/\d{2}/\d{2})/(\d{12})_CloudTrail-Digest_([a-z0-9-]+)_([^/]+)_([a-z0-9-]+)_(\d{8}T\d{6}Z)(_backfill)?\.json\.gz$`)

// ParseDigest reads a digest's object key back into its parts. It accepts
// exactly what CloudTrail writes: the account and source region in the
// path must match those in the file name, and the date folders its time.
func ParseDigest(key string) (Digest, error) {
	m := digestRE.FindStringSubmatch(key)
	if m == nil {
		return Digest{}, fmt.Errorf("%q is not a CloudTrail digest key ([prefix/]AWSLogs/[o-id/]account/CloudTrail-Digest/region/YYYY/MM/DD/account_CloudTrail-Digest_region_trail_home_YYYYMMDDTHHMMSSZ[_backfill].json.gz)", key)
	}
	if m[3] != m[6] || m[4] != m[7] {
		return Digest{}, fmt.Errorf("%q: the path names account %s region %s, the file name account %s region %s", key, m[3], m[4], m[6], m[7])
	}
	t, err := time.Parse(digestTime, m[10])
	if err != nil {
		return Digest{}, fmt.Errorf("%q: bad time %s: %w", key, m[10], err)
	}
	if t.Format(dayFolders) != m[5] {
		return Digest{}, fmt.Errorf("%q: the date folders do not match the file's time %s", key, m[10])
	}
	return Digest{Prefix: m[1], OrgID: m[2], Account: m[3], SourceRegion: m[4], Trail: m[8], HomeRegion: m[9],
		End: t, Backfill: m[11] != ""}, nil
}

// DigestTime returns the end time a digest's key names and whether it is
// a backfill digest, read where validate-logs reads it: the 16 characters
// before ".json.gz" or "_backfill.json.gz" (its key[-24:-8]), whatever
// precedes them.
func DigestTime(key string) (end time.Time, backfill, ok bool) {
	k, ok := strings.CutSuffix(key, ".json.gz")
	if !ok {
		return time.Time{}, false, false
	}
	k, backfill = strings.CutSuffix(k, "_backfill")
	if len(k) < 16 {
		return time.Time{}, false, false
	}
	end, err := time.Parse(digestTime, k[len(k)-16:])
	return end, backfill, err == nil
}

// digestAtRE splits a digest key around its date folders and time.
var digestAtRE = regexp.MustCompile(`^(.*/)\d{4}/\d{2}/\d{2}/(.+_)\d{8}T\d{6}Z((?:_backfill)?\.json\.gz)$`)

// DigestAt returns the key a digest of the same chain as key would have
// if it ended at end: the same folder and name with end's date folders
// and time. ok is false when key does not end like a digest's.
func DigestAt(key string, end time.Time) (string, bool) {
	m := digestAtRE.FindStringSubmatch(key)
	if m == nil {
		return "", false
	}
	end = end.UTC()
	return m[1] + DayFolder(end) + m[2] + end.Format(digestTime) + m[3], true
}

// Chain names the digests of one trail for one account and source
// region, and the log files they list.
type Chain struct {
	Prefix, OrgID, Account string
	SourceRegion           string
	Trail, HomeRegion      string
}

// Folder returns the chain's digest folder.
func (c Chain) Folder() string {
	return DigestFolder(c.Prefix, c.OrgID, c.Account, c.SourceRegion)
}

// Pattern matches the keys of the chain's digests as CloudTrail writes
// them: in Folder, any date folders, the chain's name and a time, with or
// without _backfill.
func (c Chain) Pattern() *regexp.Regexp {
	q := regexp.QuoteMeta
	return regexp.MustCompile(`^` + q(c.Folder()) + `\d{4}/\d{2}/\d{2}/` + q(c.Account) + `_CloudTrail-Digest_` +
		q(c.SourceRegion) + `_` + q(c.Trail) + `_` + q(c.HomeRegion) + `_\d{8}T\d{6}Z(?:_backfill)?\.json\.gz$`)
}

// ValidateLogsPattern matches the keys of the chain's digests under any
// prefix, as `aws cloudtrail validate-logs` does (its pattern, with the
// time it takes from the end of the name required to be one); the
// chain's Prefix is not used.
func (c Chain) ValidateLogsPattern() *regexp.Regexp {
	q := regexp.QuoteMeta
	org := ""
	if c.OrgID != "" {
		org = q(c.OrgID) + "/"
	}
	return regexp.MustCompile(`^(?:.+/)?AWSLogs/` + org + q(c.Account) + `/CloudTrail-Digest/` + q(c.SourceRegion) +
		`/\d+/\d+/\d+/` + q(c.Account) + `_CloudTrail-Digest_` + q(c.SourceRegion) + `_` + q(c.Trail) + `_` + q(c.HomeRegion) +
		`_.*\d{8}T\d{6}Z(?:_backfill)?\.json\.gz$`)
}

// LogPattern matches the keys of the log files of the chain's account
// and source region under any account folder; group 1 is the part before
// "CloudTrail/", the account folder "[prefix/]AWSLogs/[o-id/]account/"
// that a digest's own key must share (see DigestAccountRoot).
func (c Chain) LogPattern() *regexp.Regexp {
	q := regexp.QuoteMeta
	return regexp.MustCompile(`^(.*)CloudTrail/` + q(c.SourceRegion) + `/\d{4}/\d{2}/\d{2}/` + q(c.Account) + `_CloudTrail_` +
		q(c.SourceRegion) + `_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$`)
}

// DigestAccountRoot returns the part of a digest key before
// "CloudTrail-Digest/": its account folder. ok is false when the key has
// no such part.
func DigestAccountRoot(key string) (root string, ok bool) {
	i := strings.Index(key, DigestTree+"/")
	if i < 0 {
		return "", false
	}
	return key[:i], true
}

// Location is what a key in CloudTrail's layout says about the file at
// it, whatever the file's name: the tree it is in, the prefix,
// organisation, account and region folders, and the day of its date
// folders.
type Location struct {
	Tree    string // LogTree, DigestTree or InsightTree
	Prefix  string // S3KeyPrefix before AWSLogs/, "" for none
	OrgID   string // "o-…" in an organisation trail's layout
	Account string
	Region  string
	Day     time.Time // the date folders, UTC midnight; zero if they are no date
}

// locationRE matches [prefix/]AWSLogs/[o-id/]account/tree/region/YYYY/MM/DD/name.
var locationRE = regexp.MustCompile(`^(?:(.*)/)?AWSLogs/(?:(o-[a-z0-9]{10,32})/)?(\d{12})/(CloudTrail|CloudTrail-Digest|CloudTrail-Insight)/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/[^/]+$`)

// ParseLocation reads the folders of a key in CloudTrail's layout
// ([prefix/]AWSLogs/[o-id/]account/tree/region/YYYY/MM/DD/name, any
// name); ok is false for a key outside it.
func ParseLocation(key string) (loc Location, ok bool) {
	m := locationRE.FindStringSubmatch(key)
	if m == nil {
		return Location{}, false
	}
	loc = Location{Tree: m[4], Prefix: m[1], OrgID: m[2], Account: m[3], Region: m[5]}
	if d, err := time.Parse(dayFolders, m[6]+"/"+m[7]+"/"+m[8]); err == nil {
		loc.Day = d
	}
	return loc, true
}

// NameKind reports which tree a file name outside the layout belongs to
// by the infix CloudTrail puts in it: "_CloudTrail-Digest_" is DigestTree,
// "_CloudTrail-Insight_" is InsightTree, anything else "".
func NameKind(name string) string {
	switch {
	case strings.Contains(name, "_"+DigestTree+"_"):
		return DigestTree
	case strings.Contains(name, "_"+InsightTree+"_"):
		return InsightTree
	}
	return ""
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
