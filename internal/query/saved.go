package query

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Saved is a ready-made query. Its SQL may name parameters as {{name}};
// Render replaces each with the caller's value as a SQL string literal.
type Saved struct {
	Name        string
	Description string
	Params      []string // parameter names, all required
	SQL         string
}

// savedQueries are the ready-made queries, by name.
var savedQueries = []Saved{
	{
		Name:        "top-callers",
		Description: "Principals making the most calls.",
		SQL: `SELECT userIdentity.arn AS principal, count(*) AS calls
FROM cloudtrail_events
GROUP BY principal
ORDER BY calls DESC, principal
LIMIT 20`,
	},
	{
		Name:        "failed-calls-by-principal",
		Description: "Calls that failed (any errorCode), by principal and error.",
		SQL: `SELECT userIdentity.arn AS principal, errorCode, count(*) AS failures
FROM cloudtrail_events
WHERE errorCode IS NOT NULL
GROUP BY principal, errorCode
ORDER BY failures DESC, principal, errorCode`,
	},
	{
		Name:        "console-logins-without-mfa",
		Description: "Successful console sign-ins that did not use MFA.",
		SQL: `SELECT eventTime, userIdentity.type AS identityType, userIdentity.arn AS principal, sourceIPAddress
FROM cloudtrail_events
WHERE eventName = 'ConsoleLogin'
  AND responseElements['ConsoleLogin'] = 'Success'
  AND coalesce(additionalEventData['MFAUsed'], 'No') <> 'Yes'
ORDER BY eventTime DESC`,
	},
	{
		Name:        "root-activity",
		Description: "Everything the root user did.",
		SQL: `SELECT eventTime, eventSource, eventName, awsRegion, sourceIPAddress, errorCode
FROM cloudtrail_events
WHERE userIdentity.type = 'Root'
ORDER BY eventTime DESC`,
	},
	{
		Name:        "security-group-changes",
		Description: "Changes to EC2 security groups.",
		SQL: `SELECT eventTime, eventName, userIdentity.arn AS principal, requestParameters['groupId'] AS groupId, errorCode
FROM cloudtrail_events
WHERE eventSource = 'ec2.amazonaws.com'
  AND eventName IN ('AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress',
                    'RevokeSecurityGroupIngress', 'RevokeSecurityGroupEgress',
                    'CreateSecurityGroup', 'DeleteSecurityGroup', 'ModifySecurityGroupRules')
ORDER BY eventTime DESC`,
	},
	{
		Name:        "access-key-activity",
		Description: "Everything done with one access key.",
		Params:      []string{"access_key_id"},
		SQL: `SELECT eventTime, eventSource, eventName, awsRegion, sourceIPAddress, errorCode
FROM cloudtrail_events
WHERE userIdentity.accessKeyId = {{access_key_id}}
ORDER BY eventTime DESC`,
	},
	{
		Name:        "new-ips-for-principal",
		Description: "Source IPs a principal (ARN) used, newest first seen first; since (a timestamp) splits new from known IPs.",
		Params:      []string{"principal", "since"},
		SQL: `SELECT sourceIPAddress, min(eventTime) AS firstSeen, max(eventTime) AS lastSeen, count(*) AS calls
FROM cloudtrail_events
WHERE userIdentity.arn = {{principal}} AND sourceIPAddress IS NOT NULL
GROUP BY sourceIPAddress
HAVING min(eventTime) >= CAST({{since}} AS TIMESTAMP)
ORDER BY firstSeen DESC`,
	},
}

// SavedQueries returns the ready-made queries, sorted by name.
func SavedQueries() []Saved {
	out := append([]Saved(nil), savedQueries...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupSaved returns the saved query with this name.
func LookupSaved(name string) (Saved, bool) {
	for _, s := range savedQueries {
		if s.Name == name {
			return s, true
		}
	}
	return Saved{}, false
}

var paramRE = regexp.MustCompile(`\{\{([a-z_]+)\}\}`)

// Render returns s's SQL with every parameter replaced by params' value as
// a string literal. Every parameter is required and no others are
// accepted.
func (s Saved) Render(params map[string]string) (string, error) {
	known := map[string]bool{}
	for _, p := range s.Params {
		known[p] = true
		if _, ok := params[p]; !ok {
			return "", fmt.Errorf("saved query %s: parameter %s is required", s.Name, p)
		}
	}
	for p := range params {
		if !known[p] {
			return "", fmt.Errorf("saved query %s: unknown parameter %s (it takes: %s)", s.Name, p, strings.Join(s.Params, ", "))
		}
	}
	return paramRE.ReplaceAllStringFunc(s.SQL, func(m string) string {
		return quoteString(params[paramRE.FindStringSubmatch(m)[1]])
	}), nil
}
