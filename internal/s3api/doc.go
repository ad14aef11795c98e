// Package s3api serves the S3-compatible API of opentrail's built-in
// object store: path-style requests (/, /<bucket>, /<bucket>/<key>), and
// virtual-hosted-style ones whose Host is <bucket>.localhost or
// <bucket>.s3.<domain> ([VirtualHostBucket]), for the buckets of an
// [objstore.FSBuckets], answered as S3 answers them
// (XML bodies in the 2006-03-01 namespace, S3 error codes and statuses,
// the x-amz-request-id header).
//
// # Operations
//
// Buckets: ListBuckets, CreateBucket, HeadBucket, GetBucketLocation,
// DeleteBucket (empty buckets only) and Put/Get/DeleteBucketPolicy.
// Objects: ListObjects (v1 and v2, with prefixes, delimiters, paging and
// encoding-type=url), GetObject (with single byte ranges, conditional
// headers and response-* overrides) and HeadObject.
//
// opentrail's log delivery is the only writer of its buckets and
// delivered logs are immutable, so every request that would write or
// delete an object (PutObject, CopyObject, DeleteObject(s), multipart
// uploads, object ACLs, tags and so on) is refused with 403 AccessDenied.
// Bucket sub-resources opentrail does not keep (acl, versioning, cors,
// lifecycle, ...) are answered with 501 NotImplemented.
//
// # Authorisation
//
// The server has verified the request signature; the caller's account
// comes from [awsapi.CallerFrom]. The account that owns a bucket may do
// everything above with it. Other accounts may read (GetObject,
// HeadObject, ListObjects, HeadBucket, GetBucketLocation) only what the
// bucket policy allows them. An explicit Deny in the policy wins over
// everything, the owner included, except the owner's policy operations
// (Get, Put and DeleteBucketPolicy), so that an owner cannot lock itself
// out, as with S3 and an account's root user.
//
// Policies are evaluated with these limits:
//
//   - Principal matches "*", {"AWS": "*"}, a 12-digit account id,
//     "arn:aws:iam::<account>:root" (the whole account) or the exact ARN of
//     the calling principal; Service, Federated and other principals never
//     match a caller of this API. CanonicalUser matches the id this
//     package reports as the account's owner id. NotPrincipal, NotAction
//     and NotResource are honoured.
//   - Action and Resource patterns take the wildcards '*' and '?';
//     actions compare without regard to case, resources with it.
//   - An Allow statement with a Condition block never matches: opentrail
//     does not evaluate conditions that grant access.
//   - A Deny statement with a Condition block applies when all its
//     conditions hold. Conditions on aws:SecureTransport,
//     aws:PrincipalAccount and aws:PrincipalArn are evaluated with the
//     IAM policy language's operators (internal/iampolicy: String, Arn,
//     IpAddress, Bool, Null, Numeric, Date, IfExists, ForAnyValue and
//     ForAllValues); a Deny with a condition on another key, or with an
//     operator or value that language refuses, applies unconditionally,
//     so a policy fails closed.
//
// # Differences from S3
//
// There is one endpoint for all regions: requests are served whatever
// region they are signed for. The signing region is used only to decide
// which LocationConstraint a CreateBucket may name, as on S3's regional
// endpoints. CreateBucket of a bucket the caller already owns answers 409
// BucketAlreadyOwnedByYou in every region. Objects have no stored
// Content-Type and are served as application/octet-stream, never with a
// Content-Encoding. There are no versions, ACLs or multi-range responses.
//
// # Audit
//
// Every request that names an operation is recorded as a CloudTrail event
// (event source s3.amazonaws.com) through the [awsapi.Auditor] given in
// [Options].
//
// The package is imported by internal/server, which routes S3 requests to
// [Handler.Serve].
package s3api
