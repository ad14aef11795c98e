package cis

import "github.com/opentrail/opentrail/internal/filterpattern"

// Matches reports whether the filter pattern matches the record, as a
// metric filter would; a pattern that does not compile matches nothing.
func Matches(pattern string, record []byte) bool {
	p, err := filterpattern.Compile(pattern)
	return err == nil && p.Match(record)
}
