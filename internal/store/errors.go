package store

import "errors"

// Sentinels callers branch on; implementations wrap them with context, so
// test with errors.Is.
var (
	// ErrExists reports that a resource with the same identity (a channel's
	// ARN, or its name within the account and region) already exists.
	ErrExists = errors.New("already exists")
	// ErrNotFound reports that the named resource does not exist.
	ErrNotFound = errors.New("not found")
)
