package lake

import "github.com/opentrail/opentrail/internal/cloudtrailwire"

// The request and response shapes that opentrail's own clients decode as
// well live in internal/cloudtrailwire, so that the CLI need not import a
// service; these aliases name them here, where the operations are.
type (
	StartQueryInput                 = cloudtrailwire.StartQueryInput
	StartQueryOutput                = cloudtrailwire.StartQueryOutput
	QueryStatisticsForDescribeQuery = cloudtrailwire.QueryStatisticsForDescribeQuery
	DescribeQueryInput              = cloudtrailwire.DescribeQueryInput
	DescribeQueryOutput             = cloudtrailwire.DescribeQueryOutput
	GetQueryResultsInput            = cloudtrailwire.GetQueryResultsInput
	QueryStatistics                 = cloudtrailwire.QueryStatistics
	GetQueryResultsOutput           = cloudtrailwire.GetQueryResultsOutput
	CancelQueryInput                = cloudtrailwire.CancelQueryInput
	CancelQueryOutput               = cloudtrailwire.CancelQueryOutput
)
