package trail

import (
	"encoding/json"
	"fmt"
	"time"
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
