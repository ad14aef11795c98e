package store

// SetCompactHook makes Compact stop at a step, as a crash would (tests).
func SetCompactHook(f func(step string) error) { compactHook = f }
