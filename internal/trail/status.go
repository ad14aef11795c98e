package trail

import "time"

// Organization is the organisation whose member accounts an organisation
// trail collects.
type Organization struct {
	ID         string // o-…
	Management string // the management account, which owns organisation trails
	Members    []string
}

// Status is a trail's delivery status: what GetTrailStatus reports, plus
// the delivered-through watermark.
type Status struct {
	// DeliveredThrough: every selected event that opentrail received before
	// this time is in a delivered log file.
	DeliveredThrough time.Time `json:",omitzero"`
	// LatestDelivery is when a log file was last written.
	LatestDelivery time.Time `json:",omitzero"`
	// LatestAttempt is when a write was last tried; LatestAttemptOK whether
	// that attempt succeeded.
	LatestAttempt   time.Time `json:",omitzero"`
	LatestAttemptOK bool      `json:",omitempty"`
	// LatestError is the error of the latest failed attempt, cleared by the
	// next success ("NoSuchBucket", "AccessDenied", or what the store said).
	LatestError     string    `json:",omitempty"`
	LatestErrorTime time.Time `json:",omitzero"`
	Files           int64     `json:",omitempty"`
	Events          int64     `json:",omitempty"`
	// LatestLogFile is the s3:// URL of the log file written last.
	LatestLogFile string `json:",omitempty"`
	// Digest delivery, for trails with log file validation.
	LatestDigestDelivery time.Time `json:",omitzero"`
	// LatestDigestFile is the s3:// URL of the digest file written last.
	LatestDigestFile  string `json:",omitempty"`
	LatestDigestError string `json:",omitempty"`
	Digests           int64  `json:",omitempty"`
	// LatestVerifyError is what the background verifier found wrong last
	// (a changed or missing file), with its time.
	LatestVerifyError     string    `json:",omitempty"`
	LatestVerifyErrorTime time.Time `json:",omitzero"`
}
