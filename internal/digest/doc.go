// Package digest holds CloudTrail's log file integrity format and its
// validation: digest files, the string they are signed over,
// SHA256withRSA signatures, the signing keys and their fingerprints
// (shared/spec/cloudtrail-formats.md §3), and [Validate], which walks a
// trail's digest chain as `aws cloudtrail validate-logs` does, only
// stricter. Delivery writes digests with [SignDigest] and [Gzip]; the
// validate-logs command reads them through a [Source] such as
// [LocalCopy]. Digest and log file keys are package layout's; the
// package imports nothing else of opentrail's.
//
// # The walk
//
// Validate lists the trail's digests whose name time lies in [Start,
// End+1h] and starts from the newest. It fetches each digest and checks,
// in validate-logs' order: gzip and JSON (else InvalidFormat), the
// signature metadata (else BadSignature), the six keys validate-logs
// requires (else InvalidFormat), that digestS3Bucket/digestS3Object name
// the place it was read from (else Moved), that a public key has its
// fingerprint (else NoPublicKey), and the signature (else BadSignature).
// A valid digest is reported, then each of its log files: fetched,
// gunzipped as a stream and hashed (NotFound, InvalidFormat,
// HashMismatch or Valid), in parallel but reported in the digest's order.
// The walk then follows previousDigestS3Object; when a digest is missing
// or invalid, or a chain starts, it goes on with the next older listed
// digest. It stops at the first valid digest that starts before Start.
//
// # Stricter than validate-logs
//
// validate-logs trusts what it does not check; Validate names the file
// for every kind of tampering it can see:
//
//   - A validly signed digest must also say the right things, else it is
//     InvalidFormat: awsAccountId is the trail's account; the times parse
//     and end after they start; the algorithms are SHA256withRSA and
//     SHA-256; the previousDigest* fields are all null or all set; every
//     listed log file is in the digest's bucket, under the same
//     [prefix/]AWSLogs/[o-id/]account/ as the digest and named as a log
//     file of the trail's account and region, with a lowercase hex
//     SHA-256, listed once.
//   - A link must hold. When a valid digest N links to a digest X that is
//     valid too, X's signature must be N's previousDigestSignature, the
//     SHA-256 of X's uncompressed bytes N's previousDigestHashValue, and
//     X's digestEndTime N's digestStartTime. A link that does not hold,
//     for any reason (X missing, invalid, not a digest of this trail, or
//     not matching), is reported once, as a KindGap ChainBroken result on
//     N covering the interval from the next valid older digest's end (or
//     the start of the range) to N's start, after the results of the
//     digests in between.
//   - A deleted digest is reported NotFound under the key N links to.
//     When several consecutive digests are gone, the chain's period and
//     the hole tell how many: if the valid digests on both sides of the
//     hole cover the same period and the hole is a whole number of
//     periods, each missing digest's key is known and is reported
//     NotFound too ("inferred" in Detail).
//   - A listed digest that the chain passes over (a link that skips it,
//     or a digest inside an older digest's period) is reported as a
//     KindDigest ChainBroken result: it is not on the chain.
//   - Gzip is read as gzip(1) reads it: every member, to the end. A
//     truncated file, or bytes after the last member that are not
//     another member, is InvalidFormat; an appended member changes the
//     uncompressed content: HashMismatch. (validate-logs inflates only
//     the first member and ignores the rest, so it passes both, and it
//     reports a truncated log file as a hash mismatch.) Hashes cover
//     uncompressed bytes, so a log file compressed again with the same
//     JSON is valid.
//   - A public key whose bytes do not have the fingerprint it is served
//     under is BadSignature.
//
// # Gaps
//
// A digest whose previous* fields are null starts a chain. When it is the
// oldest digest in range, that is nothing to report. Otherwise:
//
//   - If it carries the opentrail extension opentrailGap ([Gap]), the gap
//     is explained: Validate follows the previous digest it names (or,
//     when it names none, goes on with the next older listed digest),
//     checks that the gap starts where that digest ends and ends where
//     the new chain starts, and reports a KindGap result with Status
//     Explained (not invalid). If the named digest is missing or does not
//     fit, the result is ChainBroken instead, as for a broken link.
//   - If it does not, validate-logs prints "No log files were delivered
//     by CloudTrail between …" and exits 0; Validate reports the interval
//     as a KindGap result with Status ChainBroken, which is invalid:
//     opentrail records why its chains restart, so a restart without a
//     record means delivery lost its state or the chain was rewritten.
//     Options.LenientGaps makes it Explained, for trails delivered by
//     AWS, which records no reasons.
//
// Backfill digests (keys ending _backfill.json.gz) are walked as a
// chain of their own after the regular one, with lenient gaps.
//
// # Offline copies
//
// A digest needs its x-amz-meta-signature, which a local copy made with
// `aws s3 cp --recursive` does not keep. [LocalCopy] reads it from a
// sidecar file; without one, Validate checks a digest with the
// previousDigestSignature of the digest that links to it, as AWS's guide
// to custom validation suggests, so only the newest digest (and the last
// before a gap or a break) needs its metadata. For those, a Source that
// is a copy ([MetadataFetcher]) is asked to fetch it from the bucket the
// copy was made from; when it cannot, the digest is SignatureUnavailable:
// not invalid, checked in everything but its signature, and the walk
// goes on from it. A bucket Source keeps metadata, so there a digest
// without it is BadSignature.
//
// # Limits
//
// Deleting the newest digests (and their log files) leaves a shorter
// chain that is valid: compare the newest digest's end with the trail's
// LatestDigestDeliveryTime. Files that no digest lists are not checked.
// Whoever holds a signing key can write a valid chain.
//
// # Performance
//
// Digests are read one at a time (each names the next); log files are
// fetched and hashed by Options.Parallel workers, each holding one file
// (or, with an [Opener], one buffer) at a time, with klauspost/compress's
// inflater and the standard library's SHA-256. The walk runs a bounded
// distance ahead of the reports.
package digest
