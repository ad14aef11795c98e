package lake

import (
	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailwire"
)

// The IAM resources of CloudTrail Lake's operations (see
// awsapi.IAMResourcer): event data stores
// arn:aws:cloudtrail:R:A:eventdatastore/ID (named by ARN or ID); nil
// ("*") for the actions with no resource type (the import and listing
// actions).

func edsARN(c *awsapi.Caller, ref string) string {
	return cloudtrailwire.EventDataStoreARN(c, ref)
}

// IAMResources: ListEventDataStores has no resource type.
func (in *ListEventDataStoresInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the event data store.
func (in *GetEventDataStoreInput) IAMResources(c *awsapi.Caller) []string {
	return []string{edsARN(c, in.EventDataStore)}
}

// IAMResources are the destination event data stores.
func (in *StartImportInput) IAMResources(c *awsapi.Caller) []string {
	out := make([]string, 0, len(in.Destinations))
	for _, d := range in.Destinations {
		out = append(out, edsARN(c, d))
	}
	return out
}

// IAMResources: GetImport and StopImport have no resource type.
func (in *ImportIDInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: ListImports has no resource type.
func (in *ListImportsInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources: ListImportFailures has no resource type.
func (in *ListImportFailuresInput) IAMResources(*awsapi.Caller) []string { return nil }

// IAMResources is the event data store.
func (in *ListQueriesInput) IAMResources(c *awsapi.Caller) []string {
	return cloudtrailwire.EventDataStoreOrAny(c, in.EventDataStore)
}
