package cloudtrailwire

import (
	"regexp"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// The IAM resources of the CloudTrail operations whose inputs live here
// (see awsapi.IAMResourcer): a trail named by ARN is that ARN; by name,
// the trail of that name in the caller's account and region.

// TrailARN is the ARN a request's trail reference names.
func TrailARN(c *awsapi.Caller, nameOrARN string) string {
	return c.NameOrARN("cloudtrail", "trail/", nameOrARN)
}

// IAMResources is the trail (GetTrail, DeleteTrail, StartLogging,
// StopLogging, GetTrailStatus).
func (in *TrailNameInput) IAMResources(c *awsapi.Caller) []string {
	return []string{TrailARN(c, awsapi.Value(in.Name))}
}

// IAMResources is the trail (GetEventSelectors, GetInsightSelectors).
func (in *TrailNameRefInput) IAMResources(c *awsapi.Caller) []string {
	return []string{TrailARN(c, awsapi.Value(in.TrailName))}
}

// IAMResources: DescribeTrails has no resource type ("*").
func (in *DescribeTrailsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: ListTrails has no resource type ("*").
func (in *ListTrailsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources are the resources whose tags are listed (trail, event
// data store or channel ARNs).
func (in *ListTagsInput) IAMResources(c *awsapi.Caller) []string {
	out := make([]string, 0, len(in.ResourceIDList))
	for _, id := range in.ResourceIDList {
		out = append(out, TrailARN(c, id))
	}
	return out
}

// EventDataStoreARN is the ARN an event data store reference (ARN or ID)
// names.
func EventDataStoreARN(c *awsapi.Caller, ref string) string {
	return c.NameOrARN("cloudtrail", "eventdatastore/", ref)
}

// EventDataStoreOrAny is the event data store ref names, or nil ("*")
// when it names none.
func EventDataStoreOrAny(c *awsapi.Caller, ref string) []string {
	if ref == "" {
		return nil
	}
	return []string{EventDataStoreARN(c, ref)}
}

// fromEDS finds the event data stores a statement reads (FROM and JOIN
// operands).
var fromEDS = regexp.MustCompile(`(?i)\b(?:from|join)\s+([A-Za-z0-9:/._-]+)`)

// IAMResourceFormats describes StartQuery's resources for the
// documentation.
func (in *StartQueryInput) IAMResourceFormats() []string {
	return []string{"arn:aws:cloudtrail:${Region}:${Account}:eventdatastore/${ID} (each event data store FROM and JOIN name)"}
}

// IAMResources are the event data stores the statement reads ("*" when
// it names none: the statement is refused by the operation then).
func (in *StartQueryInput) IAMResources(c *awsapi.Caller) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range fromEDS.FindAllStringSubmatch(in.QueryStatement, -1) {
		if a := EventDataStoreARN(c, m[1]); !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// IAMResources is the event data store when named.
func (in *DescribeQueryInput) IAMResources(c *awsapi.Caller) []string {
	return EventDataStoreOrAny(c, in.EventDataStore)
}

// IAMResources is the event data store when named.
func (in *GetQueryResultsInput) IAMResources(c *awsapi.Caller) []string {
	return EventDataStoreOrAny(c, in.EventDataStore)
}

// IAMResources is the event data store when named.
func (in *CancelQueryInput) IAMResources(c *awsapi.Caller) []string {
	return EventDataStoreOrAny(c, in.EventDataStore)
}
