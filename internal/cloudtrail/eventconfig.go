// Event configuration of a trail: PutEventConfiguration and
// GetEventConfiguration, which set and report the trail's aggregated
// events (AggregationConfigurations). MaxEventSize and ContextKeySelectors
// are event data store settings; with a trail they are refused, and the
// event data store form of the operations is not served.

package cloudtrail

import (
	"context"
	"slices"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/trail"
)

const codeUnsupportedOperation = "UnsupportedOperationException"

// AggregationConfiguration is one entry of AggregationConfigurations.
type AggregationConfiguration = trail.AggregationConfiguration

// ContextKeySelector is an event data store's context key selector; it is
// decoded so that a request carrying one gets a clear refusal.
type ContextKeySelector struct {
	Type   string   `json:",omitempty"`
	Equals []string `json:",omitempty"`
}

// PutEventConfigurationInput is the PutEventConfiguration request.
type PutEventConfigurationInput struct {
	TrailName                 *string                    `json:",omitempty"`
	EventDataStore            *string                    `json:",omitempty"`
	MaxEventSize              *string                    `json:",omitempty"`
	ContextKeySelectors       []ContextKeySelector       `json:",omitempty"`
	AggregationConfigurations []AggregationConfiguration `json:",omitempty"`
}

// EventConfigurationInput is the GetEventConfiguration request.
type EventConfigurationInput struct {
	TrailName      *string `json:",omitempty"`
	EventDataStore *string `json:",omitempty"`
}

// EventConfigurationOutput is the PutEventConfiguration and
// GetEventConfiguration response for a trail.
type EventConfigurationOutput struct {
	TrailARN                  string
	AggregationConfigurations []AggregationConfiguration `json:",omitempty"`
}

// eventConfigTarget checks that exactly one of a trail and an event data
// store is named, and refuses the event data store form.
func eventConfigTarget(trailName, eds *string) error {
	hasTrail, hasEDS := trailName != nil && *trailName != "", eds != nil && *eds != ""
	switch {
	case hasTrail && hasEDS:
		return awsapi.NewError(codeInvalidParameterCombination,
			"Specify either TrailName or EventDataStore, not both.")
	case hasEDS:
		return awsapi.NewError(codeUnsupportedOperation,
			"Event configuration of an event data store (MaxEventSize, ContextKeySelectors) is not supported by this server; name a trail with TrailName to configure its aggregated events.")
	case !hasTrail:
		return awsapi.NewError(codeInvalidParameterCombination,
			"Specify either TrailName or EventDataStore.")
	}
	return nil
}

// validAggregation checks AggregationConfigurations as CloudTrail's model
// bounds them: at most one configuration, of event category Data, with 1
// to 50 templates from API_ACTIVITY, RESOURCE_ACCESS and USER_ACTIONS,
// each named once.
func validAggregation(cs []AggregationConfiguration) error {
	if len(cs) > 1 {
		return awsapi.Errorf(codeInvalidParameter,
			"AggregationConfigurations holds %d configurations; at most 1 is allowed.", len(cs))
	}
	for _, c := range cs {
		if c.EventCategory != trail.AggregationCategory {
			return awsapi.Errorf(codeInvalidParameter,
				"EventCategory %q is not valid for aggregation; the only valid value is Data.", awsapi.Clip(c.EventCategory, 64))
		}
		if len(c.Templates) == 0 || len(c.Templates) > 50 {
			return awsapi.Errorf(codeInvalidParameter,
				"Templates holds %d values; specify 1 to 50 of API_ACTIVITY, RESOURCE_ACCESS, USER_ACTIONS.", len(c.Templates))
		}
		for i, t := range c.Templates {
			switch t {
			case trail.TemplateAPIActivity, trail.TemplateResourceAccess, trail.TemplateUserActions:
			default:
				return awsapi.Errorf(codeInvalidParameter,
					"Template %q is not valid; use API_ACTIVITY, RESOURCE_ACCESS or USER_ACTIONS.", awsapi.Clip(t, 64))
			}
			if slices.Contains(c.Templates[:i], t) {
				return awsapi.Errorf(codeInvalidParameter, "Template %s appears more than once.", t)
			}
		}
	}
	return nil
}

// PutEventConfiguration sets a trail's aggregated events: its
// AggregationConfigurations replace the trail's (an empty list turns
// aggregation off).
func (s *Service) PutEventConfiguration(ctx context.Context, in *PutEventConfigurationInput) (*EventConfigurationOutput, error) {
	if err := eventConfigTarget(in.TrailName, in.EventDataStore); err != nil {
		return nil, err
	}
	if in.MaxEventSize != nil || in.ContextKeySelectors != nil {
		return nil, awsapi.NewError(codeInvalidParameterCombination,
			"MaxEventSize and ContextKeySelectors apply to event data stores only; for a trail, specify AggregationConfigurations.")
	}
	if in.AggregationConfigurations == nil {
		return nil, awsapi.NewError(codeInvalidParameter, "AggregationConfigurations is required for a trail.")
	}
	if err := validAggregation(in.AggregationConfigurations); err != nil {
		return nil, err
	}
	s.trailMu.Lock()
	defer s.trailMu.Unlock()
	t, err := s.ownTrail(ctx, "TrailName", in.TrailName, true)
	if err != nil {
		return nil, err
	}
	t.doc.AggregationConfigurations = nil
	for _, c := range in.AggregationConfigurations {
		t.doc.AggregationConfigurations = append(t.doc.AggregationConfigurations,
			AggregationConfiguration{Templates: slices.Clone(c.Templates), EventCategory: c.EventCategory})
	}
	if err := s.saveTrail(ctx, t); err != nil {
		return nil, err
	}
	return &EventConfigurationOutput{TrailARN: t.row.ARN, AggregationConfigurations: t.doc.AggregationConfigurations}, nil
}

// GetEventConfiguration returns a trail's aggregated-event settings; a
// trail without them reports its ARN alone.
func (s *Service) GetEventConfiguration(ctx context.Context, in *EventConfigurationInput) (*EventConfigurationOutput, error) {
	if err := eventConfigTarget(in.TrailName, in.EventDataStore); err != nil {
		return nil, err
	}
	t, err := s.ownTrail(ctx, "TrailName", in.TrailName, false)
	if err != nil {
		return nil, err
	}
	return &EventConfigurationOutput{TrailARN: t.row.ARN, AggregationConfigurations: t.doc.AggregationConfigurations}, nil
}
