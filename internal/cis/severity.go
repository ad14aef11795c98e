package cis

import "strings"

// highSeverity are the controls whose alarm is a high-severity finding:
// what an attacker does to take over an account or blind its audit —
// root use, console sign-in without MFA, CloudTrail or AWS Config
// switched off or changed, keys disabled or scheduled for deletion. The
// others (policy, network and bucket-policy changes, authorization and
// sign-in failures) are routine in a busy account one at a time and are
// medium: a burst of failures is what opentrail's correlation rules
// rank high.
var highSeverity = map[string]bool{
	"root-account-usage":         true,
	"console-signin-without-mfa": true,
	"cloudtrail-config-changes":  true,
	"cmk-disable-or-deletion":    true,
	"config-changes":             true,
}

// Severity is the findings severity of a control's alarm, by its Key:
// "high" or "medium".
func Severity(key string) string {
	if highSeverity[key] {
		return "high"
	}
	return "medium"
}

// AlarmSeverity is Severity for the pack's alarm of that name
// (ResourceName), "medium" for a name that is not the pack's.
func AlarmSeverity(alarmName string) string {
	key, ok := strings.CutPrefix(alarmName, NamePrefix)
	if !ok {
		return "medium"
	}
	return Severity(key)
}
