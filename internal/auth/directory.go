package auth

import (
	"regexp"

	"github.com/opentrail/opentrail/internal/config"
)

// LocalAccount is the account local mode maps the well-known key "test" to.
const LocalAccount = "000000000000"

// LocalSecret is the secret local mode accepts for every access key id.
const LocalSecret = "test"

var twelveDigits = regexp.MustCompile(`^\d{12}$`)

// Directory resolves access keys to secrets and principals. Build it with
// Local or FromConfig; it is immutable and safe for concurrent use.
type Directory struct {
	local      bool
	keys       map[string]entry
	management string          // organisation management account, "" if none
	members    map[string]bool // organisation member accounts
}

type entry struct {
	secret string
	p      Principal
}

// Local returns the local-mode directory: any access key id with the
// secret "test"; the key "test" (and any key that is not 12 digits) maps to
// account 000000000000, a 12-digit key to that account, as LocalStack users
// expect; 000000000000 acts as the organisation's management account.
func Local() *Directory {
	return &Directory{local: true, management: LocalAccount}
}

// FromConfig builds the directory from validated configuration.
func FromConfig(c *config.Config) *Directory {
	if c.LocalMode() {
		return Local()
	}
	d := &Directory{keys: make(map[string]entry, len(c.Principals)), members: map[string]bool{}}
	if o := c.Organization; o != nil {
		d.management = o.ManagementAccount
		for _, m := range o.Members {
			d.members[m] = true
		}
	}
	for _, p := range c.Principals {
		d.keys[p.AccessKeyID] = entry{secret: p.SecretAccessKey, p: Principal{
			AccessKeyID: p.AccessKeyID,
			AccountID:   p.Account,
			Type:        p.Type,
			UserName:    p.UserName,
			ARN:         p.ARN,
			PrincipalID: principalID(p.AccessKeyID, p.Account, p.Type),
			Management:  d.management != "" && p.Account == d.management,
			Policies:    p.Policies,
		}}
	}
	return d
}

// ManagementAccount is the organisation's management account: the local
// account in local mode, "" when no organisation is configured.
func (d *Directory) ManagementAccount() string { return d.management }

// IsLocal reports local mode.
func (d *Directory) IsLocal() bool { return d.local }

// Secret returns the secret for an access key id; it has the signature
// sigv4.Credentials expects.
func (d *Directory) Secret(accessKeyID string) (string, bool) {
	if d.local {
		return LocalSecret, accessKeyID != ""
	}
	e, ok := d.keys[accessKeyID]
	return e.secret, ok
}

// Principal returns the principal an access key id belongs to.
func (d *Directory) Principal(accessKeyID string) (*Principal, bool) {
	if d.local {
		if accessKeyID == "" {
			return nil, false
		}
		acct := LocalAccount
		if twelveDigits.MatchString(accessKeyID) {
			acct = accessKeyID
		}
		return &Principal{
			AccessKeyID: accessKeyID,
			AccountID:   acct,
			Type:        "Root",
			ARN:         "arn:aws:iam::" + acct + ":root",
			PrincipalID: acct,
			Management:  acct == LocalAccount,
		}, true
	}
	e, ok := d.keys[accessKeyID]
	if !ok {
		return nil, false
	}
	p := e.p
	return &p, true
}

// CanWrite reports whether p may record events that belong to account: its
// own account always; any member account (any account at all in local
// mode) if p is the organisation's management account.
func (d *Directory) CanWrite(p *Principal, account string) bool {
	if p == nil {
		return false
	}
	if account == p.AccountID {
		return true
	}
	if !p.Management {
		return false
	}
	return d.local || d.members[account]
}

func principalID(akid, account, typ string) string {
	if typ == "Root" {
		return account
	}
	return "AIDA" + akid
}

// KeyFor returns an access key and its secret that act for account: in
// local mode the account's own key (the account id itself, or "test" for
// the local account), otherwise the first configured principal of the
// account, by access key id, for which usable (nil: any) is true. ok is
// false when the account has none.
func (d *Directory) KeyFor(account string, usable func(*Principal) bool) (accessKeyID, secret string, ok bool) {
	if d.local {
		if account == LocalAccount {
			return "test", LocalSecret, true
		}
		return account, LocalSecret, twelveDigits.MatchString(account)
	}
	for id, e := range d.keys {
		if e.p.AccountID != account || (accessKeyID != "" && id > accessKeyID) {
			continue
		}
		if usable != nil && !usable(&e.p) {
			continue
		}
		accessKeyID, secret = id, e.secret
	}
	return accessKeyID, secret, accessKeyID != ""
}
