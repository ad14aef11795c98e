package cloudtrail

import (
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailwire"
)

// The IAM resources of CloudTrail's operations (see awsapi.IAMResourcer),
// as the Service Authorization Reference lists them: trails
// arn:aws:cloudtrail:R:A:trail/N, channels ...:channel/ID, event data
// stores ...:eventdatastore/ID; nil ("*") for the actions with no
// resource type.

func trailARN(c *awsapi.Caller, ref *string) string {
	return cloudtrailwire.TrailARN(c, awsapi.Value(ref))
}

// IAMResources is the trail to be created.
func (in *CreateTrailInput) IAMResources(c *awsapi.Caller) []string {
	return []string{trailARN(c, in.Name)}
}

// IAMResources is the trail.
func (in *UpdateTrailInput) IAMResources(c *awsapi.Caller) []string {
	return []string{trailARN(c, in.Name)}
}

// IAMResources is the trail.
func (in *PutEventSelectorsInput) IAMResources(c *awsapi.Caller) []string {
	return []string{trailARN(c, in.TrailName)}
}

// IAMResources is the trail.
func (in *PutInsightSelectorsInput) IAMResources(c *awsapi.Caller) []string {
	return []string{trailARN(c, in.TrailName)}
}

// eventConfigResource is the trail or the event data store a request
// names.
func eventConfigResource(c *awsapi.Caller, trailName, eds *string) []string {
	if eds != nil {
		return []string{c.NameOrARN("cloudtrail", "eventdatastore/", *eds)}
	}
	return []string{trailARN(c, trailName)}
}

// IAMResources is the trail or event data store.
func (in *PutEventConfigurationInput) IAMResources(c *awsapi.Caller) []string {
	return eventConfigResource(c, in.TrailName, in.EventDataStore)
}

// IAMResources is the trail or event data store.
func (in *EventConfigurationInput) IAMResources(c *awsapi.Caller) []string {
	return eventConfigResource(c, in.TrailName, in.EventDataStore)
}

// IAMResources: the channel's ID is made by the call, so no ARN can name
// it beforehand ("*").
func (in *CreateChannelInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the channel (GetChannel, DeleteChannel).
func (in *ChannelInput) IAMResources(c *awsapi.Caller) []string {
	return []string{c.NameOrARN("cloudtrail", "channel/", awsapi.Value(in.Channel))}
}

// IAMResources: ListChannels has no resource type.
func (in *ListChannelsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: LookupEvents has no resource type.
func (in *LookupEventsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: ListPublicKeys has no resource type.
func (in *ListPublicKeysInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the trail when one is named, else "*".
func (in *ListInsightsMetricDataInput) IAMResources(c *awsapi.Caller) []string {
	if in.TrailName == nil {
		return nil
	}
	return []string{trailARN(c, in.TrailName)}
}

// IAMResources is the insight source (a trail or event data store ARN)
// when it is an ARN, else "*".
func (in *ListInsightsDataInput) IAMResources(c *awsapi.Caller) []string {
	if in.InsightSource == nil {
		return nil
	}
	return []string{trailARN(c, in.InsightSource)}
}

// IAMResources is the tagged resource (AddTags, RemoveTags).
func (in *TagsInput) IAMResources(c *awsapi.Caller) []string {
	return []string{trailARN(c, in.ResourceID)}
}
