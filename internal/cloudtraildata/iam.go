package cloudtraildata

import "github.com/opentrail/opentrail/internal/awsapi"

// IAMResources is the channel the events are put into
// (arn:aws:cloudtrail:R:A:channel/ID, named by ARN or ID), the resource
// cloudtrail-data:PutAuditEvents is authorized on.
func (in *PutAuditEventsInput) IAMResources(c *awsapi.Caller) []string {
	return []string{c.NameOrARN("cloudtrail", "channel/", in.ChannelARN)}
}
