package logsinsights

import (
	"strconv"
	"strings"
)

// Top-level record fields the view has as columns, with their kinds.
var columns = map[string]kind{
	"eventVersion": kStr, "eventSource": kStr, "eventName": kStr, "awsRegion": kStr,
	"sourceIPAddress": kStr, "userAgent": kStr, "errorCode": kStr, "errorMessage": kStr, "requestID": kStr,
	"eventID": kStr, "readOnly": kBool, "eventType": kStr, "apiVersion": kStr, "managementEvent": kBool,
	"recipientAccountId": kStr, "sharedEventID": kStr, "vpcEndpointId": kStr, "eventCategory": kStr,
	"sessionCredentialFromConsole": kStr,
}

// mapColumns are the free-form fields the view has as MAP(VARCHAR,
// VARCHAR): one level below them is a map lookup.
var mapColumns = map[string]bool{"requestParameters": true, "responseElements": true,
	"additionalEventData": true, "serviceEventDetails": true}

// structLeaves are the VARCHAR leaves of the view's struct columns, with
// the exact case of the record's names (struct access in DuckDB is
// case-insensitive; Logs Insights field names are not).
var structLeaves = map[string]bool{}

func init() {
	for _, p := range []string{"type", "principalId", "arn", "accountId", "accessKeyId", "userName", "invokedBy",
		"identityProvider", "credentialId", "sessionContext.attributes.creationDate",
		"sessionContext.attributes.mfaAuthenticated", "sessionContext.sessionIssuer.type",
		"sessionContext.sessionIssuer.principalId", "sessionContext.sessionIssuer.arn",
		"sessionContext.sessionIssuer.accountId", "sessionContext.sessionIssuer.userName",
		"sessionContext.sourceIdentity", "sessionContext.ec2RoleDelivery", "sessionContext.ec2IssuedInVPC",
		"onBehalfOf.userId", "onBehalfOf.identityStoreArn"} {
		structLeaves["userIdentity."+p] = true
	}
	for _, p := range []string{"tlsVersion", "cipherSuite", "clientProvidedHostHeader"} {
		structLeaves["tlsDetails."+p] = true
	}
}

// resolve returns the SQL of the field name: a field an earlier command
// defined, else a system field or the record's field. ref (may be nil)
// places errors.
func (c *compiler) resolve(name string, ref *fieldRef) (val, *SyntaxError) {
	if v, ok := c.scope[name]; ok {
		return v, nil
	}
	if !c.raw {
		return val{"NULL::VARCHAR", kStr}, nil
	}
	switch name {
	case "@timestamp":
		return val{`"eventTime"`, kTime}, nil
	case "@message":
		return val{`CAST("eventJson" AS VARCHAR)`, kStr}, nil
	case "@logStream":
		return val{`("recipientAccountId" || '_CloudTrail_' || "awsRegion")`, kStr}, nil
	case "@log":
		return val{quoteString(c.opts.Log), kStr}, nil
	case "@ptr":
		return val{`"eventID"`, kStr}, nil
	case "@ingestionTime":
		if ref != nil {
			return val{}, errAt(c.src, ref.pos, ref.end, "@ingestionTime is not available: queries read the CloudTrail records, whose ingestion time the event view does not expose")
		}
		return val{}, errAt(c.src, 0, 0, "@ingestionTime is not available")
	case "eventTime":
		// The record's text form (CloudTrail writes whole seconds, Z).
		return val{`strftime("eventTime", '%Y-%m-%dT%H:%M:%SZ')`, kStr}, nil
	}
	if strings.HasPrefix(name, "@") {
		return val{"NULL::VARCHAR", kStr}, nil
	}
	if k, ok := columns[name]; ok {
		return val{quoteIdent(name), k}, nil
	}
	if structLeaves[name] {
		parts := strings.Split(name, ".")
		s := quoteIdent(parts[0])
		for _, p := range parts[1:] {
			s += "[" + quoteString(p) + "]"
		}
		return val{s, kStr}, nil
	}
	parts := strings.Split(name, ".")
	if len(parts) == 2 && mapColumns[parts[0]] && parts[1] != "" {
		// A nested object's value is its JSON text in the map, as
		// Lake keeps it; Insights has only its leaves as fields.
		return val{quoteIdent(parts[0]) + "[" + quoteString(parts[1]) + "]", kStr}, nil
	}
	return val{"json_extract_string(\"eventJson\", " + quoteString(jsonPath(parts)) + ")", kStr}, nil
}

// jsonPath turns a dotted field name into a JSONPath: numbers index
// arrays (resources.0.ARN), other parts are quoted keys.
func jsonPath(parts []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err == nil && n >= 0 && strconv.Itoa(n) == p {
			b.WriteString("[" + p + "]")
			continue
		}
		b.WriteString(`."` + strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `"`, `\"`) + `"`)
	}
	return b.String()
}
