package digest

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is what a Source's Get returns (wrapped) for a missing
// object.
var ErrNotFound = errors.New("not found")

// ObjectRef names one object.
type ObjectRef struct {
	Bucket, Key string
}

// String returns the object's s3:// URL, as validate-logs prints it.
func (o ObjectRef) String() string { return "s3://" + o.Bucket + "/" + o.Key }

// Source is where validation reads a trail's digests, log files and
// public keys: opentrail's S3 API, any S3-compatible service, or a copy on
// local disk (LocalCopy). Implementations must be safe for concurrent use.
type Source interface {
	// ListDigests returns the keys of the trail's digest files for
	// (account, region) whose name time (the digest end time) lies in
	// [start, end], oldest first, backfill digests included.
	ListDigests(ctx context.Context, t Trail, start, end time.Time) ([]ObjectRef, error)
	// Get returns an object's bytes and its user metadata (lower-case
	// keys without "x-amz-meta-"), or an error wrapping ErrNotFound.
	Get(ctx context.Context, o ObjectRef) ([]byte, map[string]string, error)
	// PublicKeys returns the keys of the trail's source region whose
	// validity overlaps [start, end].
	PublicKeys(ctx context.Context, start, end time.Time) ([]PublicKey, error)
}

// MetadataFetcher is implemented by a Source over a local copy of a
// bucket, such as [LocalCopy]: a copy that may lack objects' metadata,
// as `aws s3 cp --recursive` drops it. Validate checks a digest without
// signature metadata with the previousDigestSignature of the newer
// digest that links to it; for one that no digest vouches for (the
// newest, or the last before a gap or a break) it calls FetchMetadata,
// which asks the bucket the copy was made from. When that fails, the
// digest is SignatureUnavailable. A digest without signature metadata
// read from a Source that is not a MetadataFetcher (a bucket) is
// BadSignature: a bucket keeps metadata.
type MetadataFetcher interface {
	// FetchMetadata returns an object's user metadata as Source.Get
	// does, or an error saying why it is not available.
	FetchMetadata(ctx context.Context, o ObjectRef) (map[string]string, error)
}

// Opener is implemented by a Source that can also stream an object.
// Validate reads log files through Open when the Source has it, so a
// file is hashed as it arrives and never held in memory whole. Open
// returns an error wrapping ErrNotFound for a missing object; errors from
// the returned reader other than io.EOF are read failures, not damage to
// the file.
type Opener interface {
	Open(ctx context.Context, o ObjectRef) (io.ReadCloser, error)
}

// Trail says which digest chain to validate.
type Trail struct {
	Bucket       string
	Prefix       string // S3KeyPrefix, "" for none
	OrgID        string // "o-…" for organisation trails
	Account      string
	SourceRegion string // the region whose logs the digests cover
	Name         string
	HomeRegion   string
}

// Kind says what a Result is about.
type Kind string

// Kinds of Result.
const (
	KindDigest Kind = "Digest file"
	KindLog    Kind = "Log file"
	KindGap    Kind = "Gap"
)

// Status is a validation outcome. The INVALID statuses carry the text
// `aws cloudtrail validate-logs` prints after "INVALID: ".
type Status string

// Outcomes.
const (
	Valid         Status = "valid"
	NotFound      Status = "not found"
	InvalidFormat Status = "invalid format"
	BadSignature  Status = "signature verification failed"
	Moved         Status = "has been moved from its original location"
	NoPublicKey   Status = "public key not found"
	HashMismatch  Status = "hash value doesn't match"
	// ChainBroken: the digest is validly signed but does not follow the
	// digest before it (a deleted, reordered or swapped digest, an altered
	// previousDigestSignature, or a gap opentrail did not record).
	ChainBroken Status = "chain broken"
	// Explained: no digest covers an interval, and the digest after it
	// says why (logging stopped, validation turned off, ...). Not invalid.
	Explained Status = "gap"
	// SignatureUnavailable: a digest in a local copy (a [MetadataFetcher]
	// Source) whose signature metadata the copy lacks, that no newer
	// digest vouches for and whose metadata could not be fetched from
	// the bucket the copy was made from. Everything but its signature
	// was checked, and the walk goes on from it as from a valid digest:
	// it vouches for the digest before it, and its log files are
	// checked against it. Not invalid, but not verified either.
	SignatureUnavailable Status = "signature not available in this copy"
)

// Result is one line of a validation report.
//
// A KindDigest or KindLog result names the file in Object. A KindGap
// result names in Object the newer digest of the two the interval
// [Start, End] lies between: the one whose link back (or whose chain
// start) the gap is about. Its Start is the older digest's end, or
// Options.Start when the walk found no valid older digest.
type Result struct {
	Kind   Kind
	Object ObjectRef
	Status Status
	// Detail says more: the fingerprint of a missing key, the gap's
	// interval and reason, the digest a log file was listed in, the
	// expected and found hashes.
	Detail string
	// Start and End are the digest's period (digests and gaps). For a
	// digest that is not valid, Start is zero and End is the time in its
	// name.
	Start, End time.Time
	// Backfill is set on results of the chain of backfill digests, which
	// Validate checks after the regular chain.
	Backfill bool
}

// Invalid reports whether r is a failure.
func (r Result) Invalid() bool {
	return r.Status != Valid && r.Status != Explained && r.Status != SignatureUnavailable
}

// Options tune Validate.
type Options struct {
	// Start and End bound the check, as validate-logs' --start-time and
	// --end-time: digests whose name time lies in [Start, End+1h] are
	// listed (a digest ending up to an hour after End lists files
	// delivered before End), and the walk stops at the first digest that
	// starts before Start. A zero End means now.
	Start, End time.Time
	// Parallel is how many log files are fetched and hashed at once
	// (default four times the number of CPUs: fetching from a remote
	// Source mostly waits, and hashing is cheap).
	Parallel int
	// LenientGaps makes a chain that restarts without an opentrailGap
	// record a gap (Explained) rather than ChainBroken, as validate-logs
	// treats it. Use it for trails delivered by AWS CloudTrail, which
	// does not record why a chain restarts.
	LenientGaps bool
}

// Summary counts outcomes.
type Summary struct {
	DigestsValid, DigestsInvalid int
	// DigestsUnverified counts SignatureUnavailable digests (neither
	// valid nor invalid).
	DigestsUnverified      int
	LogsValid, LogsInvalid int
	// Gaps counts intervals without digests that are explained (not
	// invalid); Broken counts KindGap results with Status ChainBroken.
	Gaps, Broken int
	// First and Last are the start of the oldest and the end of the
	// newest valid (or SignatureUnavailable) digest found (zero when
	// none).
	First, Last time.Time
}

// Invalid reports whether any result was a failure.
func (s Summary) Invalid() bool { return s.DigestsInvalid > 0 || s.LogsInvalid > 0 || s.Broken > 0 }

// Unverified reports whether a digest's signature could not be checked
// (SignatureUnavailable).
func (s Summary) Unverified() bool { return s.DigestsUnverified > 0 }

// add counts r.
func (s *Summary) add(r Result) {
	switch r.Kind {
	case KindDigest:
		switch r.Status {
		case Valid:
			s.DigestsValid++
		case SignatureUnavailable:
			s.DigestsUnverified++
		default:
			s.DigestsInvalid++
			return
		}
		if s.First.IsZero() || r.Start.Before(s.First) {
			s.First = r.Start
		}
		if r.End.After(s.Last) {
			s.Last = r.End
		}
	case KindLog:
		if r.Status == Valid {
			s.LogsValid++
		} else {
			s.LogsInvalid++
		}
	case KindGap:
		if r.Invalid() {
			s.Broken++
		} else {
			s.Gaps++
		}
	}
}
