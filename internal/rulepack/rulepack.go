// Package rulepack holds the detection rules opentrail ships and loads by
// default (detection.builtin_rules): Sigma rules of its own authorship for
// what a CloudTrail responder expects to be told about at once — console
// sign-in brute force, bursts of authorization failures, root sign-in
// without MFA, logging stopped. SigmaHQ's rules are not shipped here (they
// are loaded from a directory, `opentrail sigma load DIR`); the rules here
// complement them with correlations SigmaHQ's CloudTrail set lacks.
package rulepack

import (
	"embed"
	"io/fs"
)

//go:embed sigma/*.yml
var files embed.FS

// Sigma returns the pack's Sigma rule files, by file name.
func Sigma() fs.FS {
	sub, err := fs.Sub(files, "sigma")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}
