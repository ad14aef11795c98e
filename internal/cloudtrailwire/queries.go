package cloudtrailwire

import "github.com/opentrail/opentrail/internal/awsapi"

// StartQueryInput is StartQuery's request.
type StartQueryInput struct {
	QueryStatement               string
	DeliveryS3Uri                string
	QueryAlias                   string
	QueryParameters              []string
	EventDataStoreOwnerAccountId string
}

// StartQueryOutput is StartQuery's response.
type StartQueryOutput struct {
	QueryId string
}

// QueryStatisticsForDescribeQuery is DescribeQuery's QueryStatistics.
type QueryStatisticsForDescribeQuery struct {
	EventsMatched         int64
	EventsScanned         int64
	BytesScanned          int64
	ExecutionTimeInMillis int64
	CreationTime          awsapi.Time
}

// DescribeQueryInput is DescribeQuery's request.
type DescribeQueryInput struct {
	QueryId        string
	EventDataStore string // deprecated; ignored
	QueryAlias     string
}

// DescribeQueryOutput is DescribeQuery's response.
type DescribeQueryOutput struct {
	QueryId         string
	QueryString     string
	QueryStatus     string
	QueryStatistics QueryStatisticsForDescribeQuery
	ErrorMessage    string `json:",omitempty"`
}

// GetQueryResultsInput is GetQueryResults' request.
type GetQueryResultsInput struct {
	QueryId         string
	NextToken       string
	MaxQueryResults *int
	EventDataStore  string // deprecated; ignored
}

// QueryStatistics is GetQueryResults' QueryStatistics.
type QueryStatistics struct {
	ResultsCount      int
	TotalResultsCount int
	BytesScanned      int64
}

// GetQueryResultsOutput is GetQueryResults' response. Each row is a list
// of single-entry maps, column name to value, in column order.
type GetQueryResultsOutput struct {
	QueryStatus     string
	QueryStatistics QueryStatistics
	QueryResultRows [][]map[string]string
	NextToken       string `json:",omitempty"`
	ErrorMessage    string `json:",omitempty"`
}

// CancelQueryInput is CancelQuery's request.
type CancelQueryInput struct {
	QueryId                      string
	EventDataStore               string // deprecated; ignored
	EventDataStoreOwnerAccountId string
}

// CancelQueryOutput is CancelQuery's response.
type CancelQueryOutput struct {
	QueryId     string
	QueryStatus string
}
