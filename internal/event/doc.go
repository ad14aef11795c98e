// Package event defines the CloudTrail event record as opentrail stores it:
// the original JSON kept losslessly, plus the few fields the store indexes,
// extracted in a single pass over the bytes.
//
// The package is pure: it does no I/O and may be imported by any other
// package. A *Record is immutable once Parse returns it and is safe for
// concurrent readers. Parse and SplitBody are safe for concurrent use.
//
// # JSON
//
// A record is one JSON object of at most MaxRecordSize bytes. Parse accepts
// RFC 8259 JSON with these extra rules:
//
//   - strings must be valid UTF-8, and \u escapes must not leave a lone
//     UTF-16 surrogate;
//   - no object, at any depth, may hold the same key twice (keys are
//     compared after unescaping, so "a" and "\u0061" are the same key),
//     so that every reader of the stored record sees the same members;
//   - objects and arrays nest at most 64 levels deep, the record itself
//     being level 1.
//
// Record.Raw is the record with insignificant whitespace removed and
// nothing else changed: key order, unknown members at any depth, string
// escapes and number text (12345678901234567890, 1e400) are kept byte for
// byte, so Parse(Raw) yields the same Raw.
//
// # Fields
//
// These members are checked (a JSON null counts as the wrong type unless
// stated):
//
//	eventVersion        required string, <digits>.<digits>
//	eventTime           required string, RFC 3339 with optional fractional
//	                    seconds and any offset (Record.EventTime is in UTC;
//	                    Raw keeps the text as sent)
//	eventID             required string, 1–128 of A-Z a-z 0-9 . _ : -
//	eventSource         required non-empty string, except in Insights events
//	eventName           required non-empty string, except in Insights events
//	awsRegion           required string, 1–64 of a-z 0-9 -
//	recipientAccountId  string; when non-empty, 12 digits
//	userIdentity        object; its accountId, when non-empty, 12 digits
//	                    (recipientAccountId or userIdentity.accountId must
//	                    be non-empty)
//	readOnly            boolean
//	managementEvent     boolean
//	resources           array of objects whose ARN, accountId and type are
//	                    strings
//	requestParameters   object or null
//	responseElements    object or null
//	insightDetails      object; in Insights events (eventType
//	                    AwsCloudTrailInsight) required, with non-empty
//	                    eventSource and eventName strings
//
// The other members documented for CloudTrail records are type-checked
// too: sourceIPAddress, userAgent, errorCode, errorMessage, requestID,
// eventType, apiVersion, sharedEventID, vpcEndpointId, eventCategory and
// sessionCredentialFromConsole are strings; additionalEventData,
// serviceEventDetails, addendum, edgeDeviceDetails, tlsDetails and
// eventContext are objects; inside userIdentity, type, principalId, arn,
// accessKeyId, userName, invokedBy, identityProvider and credentialId are
// strings and sessionContext, inScopeOf and onBehalfOf objects; inside
// sessionContext, attributes, sessionIssuer and webIdFederationData are
// objects and sourceIdentity and ec2RoleDelivery strings; the members of
// sessionContext.attributes and sessionContext.sessionIssuer are strings;
// inside insightDetails, state, insightType and errorCode are strings and
// insightContext an object; inside a resources element, ARNPrefix,
// resourceName and name are strings.
// Lengths are not capped beyond MaxRecordSize. Any other member is kept
// unchecked.
//
// Aggregated events (eventType AwsAggregatedEvent, CloudTrail's 5-minute
// summaries of data events) are shaped differently and are checked so:
// eventVersion, eventSource and awsRegion as above; eventId (the
// eventID rule), accountId (12 digits) and timeWindow.windowStart (RFC
// 3339, which becomes Record.EventTime) are required; eventTime, eventID
// and eventName are not. Their Record.EventCategory is
// CategoryAggregated unless eventCategory says otherwise.
//
// # Errors
//
// Parse reports input longer than MaxRecordSize with ErrTooLarge
// (wrapped), bytes that are not JSON or break the JSON rules above with a
// *SyntaxError, and well-formed JSON that breaks a field rule, or repeats
// a key, with a *ValidationError naming the member, e.g.
//
//	eventTime: "2024-13-01" is not an RFC 3339 UTC time
//	userIdentity.accountId: "anonymous" is not a 12-digit account ID
//	requestParameters.tags[0].key: is a duplicate key
//
// When a record has both kinds of fault, the *SyntaxError is reported.
//
// # Bodies
//
// SplitBody cuts a request body or log file into records: NDJSON (one
// record per line) or one {"Records":[...]} document, the form CloudTrail
// log files take. It finds record boundaries only; each record is then
// given to Parse, so no byte is decoded twice.
package event
