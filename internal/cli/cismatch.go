package cli

// cisMatch tests a filter pattern against a record for `cis status`.
var cisMatch func(pattern string, record []byte) bool
