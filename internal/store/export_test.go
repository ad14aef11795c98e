package store

// SetCompactHook makes Compact stop at a step, as a crash would (tests).
func SetCompactHook(f func(step string) error) { compactHook = f }

// SetScanRows sets how many rows ScanRun reads from a file at a time
// (tests) and returns the previous value.
func SetScanRows(n int64) int64 { old := scanRows; scanRows = n; return old }
