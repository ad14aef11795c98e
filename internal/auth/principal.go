// Package auth maps verified access keys to principals and decides which
// accounts a principal may read and write. It is pure and safe for
// concurrent use once built.
package auth

// Principal is an authenticated caller.
type Principal struct {
	AccessKeyID string
	AccountID   string // 12 digits
	Type        string // userIdentity.type: IAMUser, Root, AssumedRole, ...
	UserName    string
	ARN         string
	PrincipalID string
	// Management is true for the organisation's management account, which
	// may write events for every member account.
	Management bool
	// Policies are the policy references that apply (built-in names, files, inline JSON); nil means the configured default.
	Policies []string
}
