package capture

// RedactParams hides, in place and at any depth, the values of m's members
// that the built-in list or extra (as [Options.Redact]) names, as
// [Identify] does for requestParameters. It returns m, or nil when m is
// empty. The middleware redacts the answers it records with it.
func RedactParams(m map[string]any, extra []string) map[string]any {
	return newRedactor(extra).params(m)
}
