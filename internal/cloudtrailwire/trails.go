// Package cloudtrailwire holds the JSON shapes of the CloudTrail API (AWS
// JSON 1.1) that opentrail's own clients decode as well as its server
// answers with: the trail control plane's (trails, status, selectors,
// tags) and CloudTrail Lake's queries, and the LookupEvents attribute
// keys. The operations themselves are in internal/cloudtrail and
// internal/lake, which name these types by alias.
//
// It has no behaviour: no I/O, no state; it imports only awsapi (for
// awsapi.Time). Anything may import it; the CLI does, so that it need not
// pull in a service.
package cloudtrailwire

import (
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/trail"
)

// LookupAttributeKeys are the LookupEvents attribute keys
// (case-sensitive); GET /v1/events takes the same.
var LookupAttributeKeys = map[string]bool{
	"EventId": true, "EventName": true, "ReadOnly": true, "Username": true,
	"ResourceType": true, "ResourceName": true, "EventSource": true, "AccessKeyId": true,
}

// MaxAttributeValueLen is the longest LookupEvents attribute value (from
// the CloudTrail API model).
const MaxAttributeValueLen = 2000

// InsightSelector is one Insights type enabled on a trail.
type InsightSelector struct {
	InsightType     string   `json:",omitempty"`
	EventCategories []string `json:",omitempty"`
}

// TrailInfo is the Trail object of GetTrail and DescribeTrails.
type TrailInfo struct {
	Name                       string
	S3BucketName               string
	S3KeyPrefix                string `json:",omitempty"`
	SnsTopicName               string `json:",omitempty"`
	SnsTopicARN                string `json:",omitempty"`
	IncludeGlobalServiceEvents bool
	IsMultiRegionTrail         bool
	HomeRegion                 string
	TrailARN                   string
	LogFileValidationEnabled   bool
	CloudWatchLogsLogGroupArn  string `json:",omitempty"`
	CloudWatchLogsRoleArn      string `json:",omitempty"`
	KmsKeyID                   string `json:"KmsKeyId,omitempty"`
	HasCustomEventSelectors    bool
	HasInsightSelectors        bool
	IsOrganizationTrail        bool
}

// TrailNameInput names a trail by name or ARN (GetTrail, DeleteTrail,
// GetTrailStatus, StartLogging, StopLogging).
type TrailNameInput struct {
	Name *string `json:",omitempty"`
}

// DescribeTrailsInput is the DescribeTrails request (lower-camel members).
type DescribeTrailsInput struct {
	TrailNameList       []string `json:"trailNameList,omitempty"`
	IncludeShadowTrails *bool    `json:"includeShadowTrails,omitempty"`
}

// ListTrailsInput is the ListTrails request.
type ListTrailsInput struct {
	NextToken *string `json:",omitempty"`
}

// TrailSummary is one ListTrails entry.
type TrailSummary struct {
	TrailARN   string
	Name       string
	HomeRegion string
}

// ListTrailsOutput is the ListTrails response.
type ListTrailsOutput struct {
	Trails    []TrailSummary
	NextToken string `json:",omitempty"`
}

// GetTrailStatusOutput is the GetTrailStatus response. The time members
// are absent until there is something to report; the legacy string
// members (no longer in use, but still read by older clients) are always
// present, "" when unset, as AWS sends them. DeliveredThroughTime is
// opentrail's own: every selected event received before it is in a
// delivered log file; AWS clients ignore it.
type GetTrailStatusOutput struct {
	IsLogging                          bool
	LatestDeliveryError                string       `json:",omitempty"`
	LatestDeliveryTime                 *awsapi.Time `json:",omitempty"`
	LatestDigestDeliveryTime           *awsapi.Time `json:",omitempty"`
	LatestDigestDeliveryError          string       `json:",omitempty"`
	StartLoggingTime                   *awsapi.Time `json:",omitempty"`
	StopLoggingTime                    *awsapi.Time `json:",omitempty"`
	LatestDeliveryAttemptTime          string
	LatestNotificationAttemptTime      string
	LatestNotificationAttemptSucceeded string
	LatestDeliveryAttemptSucceeded     string
	TimeLoggingStarted                 string
	TimeLoggingStopped                 string
	DeliveredThroughTime               *awsapi.Time `json:",omitempty"`
}

// TrailNameRefInput names a trail in the TrailName member
// (GetEventSelectors, GetInsightSelectors).
type TrailNameRefInput struct {
	TrailName *string `json:",omitempty"`
}

// EventSelectorsOutput is the PutEventSelectors and GetEventSelectors
// response.
type EventSelectorsOutput struct {
	TrailARN               string
	EventSelectors         []trail.EventSelector         `json:",omitempty"`
	AdvancedEventSelectors []trail.AdvancedEventSelector `json:",omitempty"`
}

// InsightSelectorsOutput is the PutInsightSelectors and
// GetInsightSelectors response.
type InsightSelectorsOutput struct {
	TrailARN         string
	InsightSelectors []InsightSelector
}

// ListTagsInput is the ListTags request.
type ListTagsInput struct {
	ResourceIDList []string `json:"ResourceIdList,omitempty"`
	NextToken      *string  `json:",omitempty"`
}

// ResourceTag is one ListTags entry.
type ResourceTag struct {
	ResourceID string `json:"ResourceId"`
	TagsList   []ChannelTag
}

// ListTagsOutput is the ListTags response.
type ListTagsOutput struct {
	ResourceTagList []ResourceTag
}

// ChannelTag is a tag as stored and returned; Value may be absent.
type ChannelTag struct {
	Key   string
	Value *string `json:",omitempty"`
}
