package trail

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/event"
)

// Settings are the parts of a trail's stored settings document that decide
// what it delivers and where. The control plane (internal/cloudtrail) stores a
// larger document with these fields at its top level; delivery reads them
// back with DecodeSettings.
type Settings struct {
	S3BucketName               string
	S3KeyPrefix                string `json:",omitempty"`
	IncludeGlobalServiceEvents bool
	IsMultiRegionTrail         bool
	IsOrganizationTrail        bool
	LogFileValidationEnabled   bool
	KmsKeyID                   string                  `json:"KmsKeyId,omitempty"`
	EventSelectors             []EventSelector         `json:",omitempty"`
	AdvancedEventSelectors     []AdvancedEventSelector `json:",omitempty"`
	IsLogging                  bool
	StartLoggingTime           *time.Time `json:",omitempty"`
	StopLoggingTime            *time.Time `json:",omitempty"`
	// StopLoggingRequestID is the requestID of the StopLogging call that
	// stopped the trail; see SelectsOwnStop.
	StopLoggingRequestID string `json:",omitempty"`
	// CloudWatchLogsLogGroupArn names the log group the trail's events
	// also stream into (internal/logwatch); empty for none.
	CloudWatchLogsLogGroupArn string `json:",omitempty"`
	// AggregationConfigurations are the trail's aggregated-event settings
	// (PutEventConfiguration): which templates summarise which category
	// of its events every 5 minutes (internal/aggregate). Empty: none.
	AggregationConfigurations []AggregationConfiguration `json:",omitempty"`
}

// AggregationConfiguration is one entry of a trail's
// AggregationConfigurations, with the members in the order of
// CloudTrail's API model.
type AggregationConfiguration struct {
	Templates     []string
	EventCategory string
}

// The aggregation templates CloudTrail defines, and the one event category
// they apply to.
const (
	TemplateAPIActivity    = "API_ACTIVITY"
	TemplateResourceAccess = "RESOURCE_ACCESS"
	TemplateUserActions    = "USER_ACTIONS"
	AggregationCategory    = "Data"
)

// AggregationTemplates returns the templates the trail aggregates its data
// events with, each once, in the order configured.
func (s *Settings) AggregationTemplates() []string {
	var out []string
	for _, c := range s.AggregationConfigurations {
		if c.EventCategory != AggregationCategory {
			continue
		}
		for _, t := range c.Templates {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// DecodeSettings reads the delivery settings out of a stored trail
// document; members it does not know are ignored.
func DecodeSettings(doc []byte) (Settings, error) {
	var s Settings
	if err := json.Unmarshal(doc, &s); err != nil {
		return Settings{}, fmt.Errorf("decode trail settings: %w", err)
	}
	return s, nil
}

// Selectors returns the trail's event selectors.
func (s *Settings) Selectors() Selectors {
	return Selectors{Basic: s.EventSelectors, Advanced: s.AdvancedEventSelectors}
}

// LoggingAt reports whether the trail was logging at t, as far as its
// latest start and stop times tell: while logging, from the latest start
// on; once stopped, between the latest start and the stop.
func (s *Settings) LoggingAt(t time.Time) bool {
	if s.StartLoggingTime == nil || t.Before(*s.StartLoggingTime) {
		return false
	}
	if s.IsLogging {
		return true
	}
	return s.StopLoggingTime != nil && t.Before(*s.StopLoggingTime)
}

// SelectsOwnStop reports whether rec is the record of the StopLogging call
// that stopped the trail (committed just after the stop, so Selects does
// not take it) and the trail, logging, would have delivered it. CloudTrail
// delivers that record; the log-group consumer takes it, so that a monitor
// of StopLogging (the CIS CloudTrail-changes control) sees the trail's own
// stop. Delivery to the bucket does not (it skips a stopped trail's stream
// past the stop without reading it).
func (s *Settings) SelectsOwnStop(account, homeRegion string, org *Organization, rec *event.Record) bool {
	if s.IsLogging || s.StopLoggingRequestID == "" || s.StopLoggingTime == nil || rec.EventName != "StopLogging" ||
		rec.EventSource != "cloudtrail.amazonaws.com" || fastjson.GetString(rec.Raw, "requestID") != s.StopLoggingRequestID {
		return false
	}
	return s.Selects(account, homeRegion, org, rec, s.StopLoggingTime.Add(-time.Nanosecond))
}

// CategoryNetworkActivity is the event category of VPC endpoint network
// activity events, which trails deliver with management and data events.
const CategoryNetworkActivity = "NetworkActivity"

// Selects reports whether a trail owned by account with home region
// homeRegion delivers rec, ingested at ingest: the event's category is one
// trails deliver, the trail was logging at ingest, the event belongs to the
// trail's account (or, for an organisation trail of org's management
// account, to a member), its region is the home region unless the trail is
// multi-region, and the selectors take it. Delivery and the log-group
// consumer both decide with it. org may be nil.
func (s *Settings) Selects(account, homeRegion string, org *Organization, rec *event.Record, ingest time.Time) bool {
	if rec.EventCategory != event.CategoryManagement && rec.EventCategory != event.CategoryData && rec.EventCategory != CategoryNetworkActivity {
		return false
	}
	return s.covers(account, homeRegion, org, rec, ingest) && s.Selectors().Match(rec)
}

// SelectsInsight reports whether the trail delivers the Insights event
// rec (into its CloudTrail-Insight/ files): the trail logs at ingest,
// covers the event's account and region as Selects does, and has an
// Insights selector of the event's insightDetails.insightType (types are
// the trail's InsightSelectors' InsightType values).
func (s *Settings) SelectsInsight(account, homeRegion string, org *Organization, rec *event.Record, ingest time.Time, types []string) bool {
	if rec.EventCategory != event.CategoryInsight || len(types) == 0 {
		return false
	}
	typ := fastjson.GetString(rec.Raw, "insightDetails", "insightType")
	return typ != "" && slices.Contains(types, typ) && s.covers(account, homeRegion, org, rec, ingest)
}

// InsightTypes returns the InsightType of each of a trail's Insights
// selectors, read from the trail document, where the control plane keeps
// them beside the settings (nil for none or an unreadable document).
func InsightTypes(doc []byte) []string {
	var d struct {
		InsightSelectors []struct{ InsightType string }
	}
	if json.Unmarshal(doc, &d) != nil || len(d.InsightSelectors) == 0 {
		return nil
	}
	out := make([]string, 0, len(d.InsightSelectors))
	for _, s := range d.InsightSelectors {
		out = append(out, s.InsightType)
	}
	return out
}

// SelectsAggregated reports whether the trail delivers the aggregated
// event rec (with its log files): the trail logs at ingest, covers the
// event's account and region as Selects does, and aggregates its data
// events with the template the record summarises (told by its primary
// dimension).
func (s *Settings) SelectsAggregated(account, homeRegion string, org *Organization, rec *event.Record, ingest time.Time) bool {
	if rec.EventCategory != event.CategoryAggregated {
		return false
	}
	tpl := AggregationTemplateOf(fastjson.GetString(rec.Raw, "summary", "primaryDimension", "dimension"))
	return tpl != "" && slices.Contains(s.AggregationTemplates(), tpl) && s.covers(account, homeRegion, org, rec, ingest)
}

// AggregationTemplateOf returns the template whose aggregated events have
// primary dimension dim: eventName (API_ACTIVITY), resourceARN
// (RESOURCE_ACCESS) or userIdentity (USER_ACTIONS); "" for another.
func AggregationTemplateOf(dim string) string {
	switch dim {
	case "eventName":
		return TemplateAPIActivity
	case "resourceARN":
		return TemplateResourceAccess
	case "userIdentity":
		return TemplateUserActions
	}
	return ""
}

// covers reports whether the trail was logging at ingest and rec is of
// its account (or its organisation's) and of a region it covers.
func (s *Settings) covers(account, homeRegion string, org *Organization, rec *event.Record, ingest time.Time) bool {
	if !s.LoggingAt(ingest) {
		return false
	}
	if s.IsOrganizationTrail && org != nil && account == org.Management {
		if rec.AccountID != account && !slices.Contains(org.Members, rec.AccountID) {
			return false
		}
	} else if rec.AccountID != account {
		return false
	}
	return s.IsMultiRegionTrail || rec.AWSRegion == homeRegion
}
