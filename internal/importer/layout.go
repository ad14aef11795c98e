package importer

import (
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/layout"
)

// Kind says what a file is, judged by its key.
type Kind int

const (
	// KindLog is a CloudTrail log file, or a data file outside CloudTrail's
	// layout (a .json, .json.gz, .ndjson or .jsonl file): it is imported.
	KindLog Kind = iota
	// KindDigest is a CloudTrail-Digest file: skipped.
	KindDigest
	// KindInsight is a CloudTrail-Insight file: its Insights events are
	// imported, to be found with the Insight event category.
	KindInsight
	// KindOther is not a data file (README, LICENSE, …): ignored.
	KindOther
)

// Imported reports whether files of this kind are imported: log and
// Insights files.
func (k Kind) Imported() bool { return k == KindLog || k == KindInsight }

func (k Kind) String() string {
	switch k {
	case KindLog:
		return "log"
	case KindDigest:
		return "digest"
	case KindInsight:
		return "insight"
	}
	return "other"
}

// KeyInfo is what a file's key says about it. Account, Region and Day are
// known only for keys in CloudTrail's layout (Layout true).
type KeyInfo struct {
	Kind    Kind
	Layout  bool   // the key is in CloudTrail's AWSLogs layout
	Prefix  string // S3KeyPrefix before AWSLogs/, "" for none
	OrgID   string // "o-…" in an organisation trail's layout
	Account string
	Region  string
	Day     time.Time // the date folders, UTC midnight
}

// ClassifyKey reads a file's key (an S3 object key, or a path relative to
// the imported directory with "/" separators): CloudTrail's layouts
// ([prefix/]AWSLogs/[o-id/]account/CloudTrail/region/YYYY/MM/DD/…, and the
// CloudTrail-Digest and CloudTrail-Insight trees beside it, as
// layout.ParseLocation reads them) give the account, region and day;
// elsewhere a name containing _CloudTrail-Digest_ or _CloudTrail-Insight_
// is a digest or Insights file, and any other file is a log file when its
// name ends in .json, .ndjson or .jsonl, optionally followed by .gz, or is
// KindOther.
func ClassifyKey(key string) KeyInfo {
	if loc, ok := layout.ParseLocation(key); ok {
		info := KeyInfo{Kind: treeKind(loc.Tree), Layout: true, Prefix: loc.Prefix, OrgID: loc.OrgID,
			Account: loc.Account, Region: loc.Region, Day: loc.Day}
		if info.Kind == KindLog && !isDataName(key) {
			info.Kind = KindOther
		}
		return info
	}
	name := key[strings.LastIndexByte(key, '/')+1:]
	if k := layout.NameKind(name); k != "" {
		return KeyInfo{Kind: treeKind(k)}
	}
	if isDataName(name) {
		return KeyInfo{Kind: KindLog}
	}
	return KeyInfo{Kind: KindOther}
}

// treeKind is the Kind of the files in one of layout's trees.
func treeKind(tree string) Kind {
	switch tree {
	case layout.DigestTree:
		return KindDigest
	case layout.InsightTree:
		return KindInsight
	}
	return KindLog
}

func isDataName(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	return strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".ndjson") || strings.HasSuffix(name, ".jsonl")
}

// Filter selects events by account, region and eventTime. The zero value
// selects everything.
type Filter struct {
	Accounts []string  // recipient account is one of these; empty = any
	Regions  []string  // awsRegion is one of these; empty = any
	Start    time.Time // eventTime >= Start; zero = open
	End      time.Time // eventTime < End; zero = open
}

// Key describes f, "" for the zero Filter: two filters select the same
// events when their keys are equal.
func (f Filter) Key() string {
	if len(f.Accounts) == 0 && len(f.Regions) == 0 && f.Start.IsZero() && f.End.IsZero() {
		return ""
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return "accounts=" + strings.Join(slices.Sorted(slices.Values(f.Accounts)), ",") +
		";regions=" + strings.Join(slices.Sorted(slices.Values(f.Regions)), ",") +
		";start=" + at(f.Start) + ";end=" + at(f.End)
}

// DayMargin is how far an event's eventTime may lie before the date
// folder its log file was delivered under and still be considered: files
// whose folder day is more than DayMargin after End are skipped unread.
const DayMargin = 24 * time.Hour

// SkipFile reports whether no event of the file info describes can pass
// f, judging by its key alone: another account or region, or a date folder
// that cannot hold events in [Start, End). CloudTrail files a log under the
// day it delivered it, which is never before its events' eventTime and
// rarely more than minutes after it; DayMargin allows for late delivery.
func (f *Filter) SkipFile(info KeyInfo) bool {
	if !info.Layout {
		return false
	}
	if len(f.Accounts) > 0 && !contains(f.Accounts, info.Account) {
		return true
	}
	if len(f.Regions) > 0 && !contains(f.Regions, info.Region) {
		return true
	}
	if info.Day.IsZero() {
		return false
	}
	dayEnd := info.Day.Add(24 * time.Hour)
	if !f.Start.IsZero() && !dayEnd.After(f.Start) {
		return true // delivered before Start's day: every event is older
	}
	if !f.End.IsZero() && !info.Day.Add(-DayMargin).Before(f.End) {
		return true
	}
	return false
}

// Match reports whether an event with these fields passes f.
func (f *Filter) Match(account, region string, t time.Time) bool {
	switch {
	case len(f.Accounts) > 0 && !contains(f.Accounts, account),
		len(f.Regions) > 0 && !contains(f.Regions, region),
		!f.Start.IsZero() && t.Before(f.Start),
		!f.End.IsZero() && !t.Before(f.End):
		return false
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
