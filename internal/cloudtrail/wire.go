package cloudtrail

import "github.com/opentrail/opentrail/internal/cloudtrailwire"

// The request and response shapes that opentrail's own clients decode as
// well live in internal/cloudtrailwire, so that the CLI need not import a
// service; these aliases name them here, where the operations are.
type (
	ChannelTag             = cloudtrailwire.ChannelTag
	InsightSelector        = cloudtrailwire.InsightSelector
	TrailInfo              = cloudtrailwire.TrailInfo
	TrailNameInput         = cloudtrailwire.TrailNameInput
	DescribeTrailsInput    = cloudtrailwire.DescribeTrailsInput
	ListTrailsInput        = cloudtrailwire.ListTrailsInput
	TrailSummary           = cloudtrailwire.TrailSummary
	ListTrailsOutput       = cloudtrailwire.ListTrailsOutput
	GetTrailStatusOutput   = cloudtrailwire.GetTrailStatusOutput
	TrailNameRefInput      = cloudtrailwire.TrailNameRefInput
	EventSelectorsOutput   = cloudtrailwire.EventSelectorsOutput
	InsightSelectorsOutput = cloudtrailwire.InsightSelectorsOutput
	ListTagsInput          = cloudtrailwire.ListTagsInput
	ResourceTag            = cloudtrailwire.ResourceTag
	ListTagsOutput         = cloudtrailwire.ListTagsOutput
)
