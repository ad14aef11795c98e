// Package trail holds the rules of a trail, as CloudTrail defines them:
// name rules and ARNs, the settings document the control plane stores and
// delivery reads, event selectors, bucket policy checks, the Athena DDL of
// a trail's bucket and the delivery status value GetTrailStatus reports.
// Everything here is pure: functions of their arguments, safe for
// concurrent use. Where a trail's files go, their object keys, is package
// layout's.
//
// It is not delivery: the package starts no goroutines, reads no store and
// holds no signing keys. Writing a trail's log and digest files, the
// digest chain and the background verifier are internal/delivery; the
// digest signing keys are internal/keys.
package trail
