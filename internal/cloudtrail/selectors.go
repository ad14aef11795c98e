// Event and Insights selectors of a trail: PutEventSelectors,
// GetEventSelectors, PutInsightSelectors, GetInsightSelectors.

package cloudtrail

import (
	"context"
	"slices"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/trail"
)

// defaultEventSelectors is what a trail without custom selectors reports:
// all management events, no data events.
func defaultEventSelectors() []trail.EventSelector {
	yes := true
	return []trail.EventSelector{{ReadWriteType: readWriteAll, IncludeManagementEvents: &yes, DataResources: []trail.DataResource{}}}
}

func (t *trailRec) selectorsOutput() *EventSelectorsOutput {
	out := &EventSelectorsOutput{TrailARN: t.row.ARN}
	switch {
	case len(t.doc.AdvancedEventSelectors) > 0:
		out.AdvancedEventSelectors = t.doc.AdvancedEventSelectors
	case len(t.doc.EventSelectors) > 0:
		out.EventSelectors = t.doc.EventSelectors
	default:
		out.EventSelectors = defaultEventSelectors()
	}
	return out
}

// PutEventSelectors replaces a trail's event selectors with basic or
// advanced selectors.
func (s *Service) PutEventSelectors(ctx context.Context, in *PutEventSelectorsInput) (*EventSelectorsOutput, error) {
	s.trailMu.Lock()
	defer s.trailMu.Unlock()
	t, err := s.ownTrail(ctx, "TrailName", in.TrailName, true)
	if err != nil {
		return nil, err
	}
	basic, adv := in.EventSelectors, in.AdvancedEventSelectors
	switch {
	case len(basic) > 0 && len(adv) > 0:
		return nil, awsapi.NewError(codeInvalidEventSelectors,
			"You cannot apply both event selectors and advanced event selectors to a trail.")
	case len(basic) == 0 && len(adv) == 0:
		return nil, awsapi.NewError(codeInvalidEventSelectors,
			"Specify either EventSelectors or AdvancedEventSelectors, with at least one selector.")
	}
	sel := trail.Selectors{Basic: slices.Clone(basic), Advanced: adv}
	yes := true
	for i := range sel.Basic {
		es := &sel.Basic[i]
		if es.ReadWriteType == "" {
			es.ReadWriteType = readWriteAll
		}
		if es.IncludeManagementEvents == nil {
			es.IncludeManagementEvents = &yes
		}
		if es.DataResources == nil {
			es.DataResources = []trail.DataResource{}
		}
	}
	if err := sel.Validate(); err != nil {
		return nil, awsapi.NewError(codeInvalidEventSelectors, err.Error())
	}
	t.doc.EventSelectors, t.doc.AdvancedEventSelectors = sel.Basic, sel.Advanced
	if err := s.saveTrail(ctx, t); err != nil {
		return nil, err
	}
	return t.selectorsOutput(), nil
}

// GetEventSelectors returns a trail's event selectors; a trail that never
// had custom selectors reports the default basic selector.
func (s *Service) GetEventSelectors(ctx context.Context, in *TrailNameRefInput) (*EventSelectorsOutput, error) {
	t, err := s.ownTrail(ctx, "TrailName", in.TrailName, false)
	if err != nil {
		return nil, err
	}
	return t.selectorsOutput(), nil
}

// PutInsightSelectors sets the Insights types of a trail; an empty list
// turns Insights off.
func (s *Service) PutInsightSelectors(ctx context.Context, in *PutInsightSelectorsInput) (*InsightSelectorsOutput, error) {
	s.trailMu.Lock()
	defer s.trailMu.Unlock()
	t, err := s.ownTrail(ctx, "TrailName", in.TrailName, true)
	if err != nil {
		return nil, err
	}
	if in.InsightSelectors == nil {
		return nil, awsapi.NewError(codeInvalidParameter, "InsightSelectors is required.")
	}
	seen := map[string]bool{}
	for _, is := range in.InsightSelectors {
		if is.InsightType != insightCallRate && is.InsightType != insightErrorRate {
			return nil, awsapi.Errorf(codeInvalidInsights,
				"InsightType %q is not valid; use ApiCallRateInsight or ApiErrorRateInsight.", awsapi.Clip(is.InsightType, 64))
		}
		if seen[is.InsightType] {
			return nil, awsapi.Errorf(codeInvalidInsights, "InsightType %s appears more than once.", is.InsightType)
		}
		seen[is.InsightType] = true
		for _, cat := range is.EventCategories {
			if cat != "Management" && cat != "Data" {
				return nil, awsapi.Errorf(codeInvalidInsights,
					"EventCategories value %q is not valid; use Management or Data.", awsapi.Clip(cat, 64))
			}
		}
	}
	t.doc.InsightSelectors = slices.Clone(in.InsightSelectors)
	if err := s.saveTrail(ctx, t); err != nil {
		return nil, err
	}
	return &InsightSelectorsOutput{TrailARN: t.row.ARN, InsightSelectors: in.InsightSelectors}, nil
}

// GetInsightSelectors returns a trail's Insights types, or
// InsightNotEnabledException when it has none.
func (s *Service) GetInsightSelectors(ctx context.Context, in *TrailNameRefInput) (*InsightSelectorsOutput, error) {
	t, err := s.ownTrail(ctx, "TrailName", in.TrailName, false)
	if err != nil {
		return nil, err
	}
	if len(t.doc.InsightSelectors) == 0 {
		return nil, awsapi.Errorf(codeInsightNotEnabled, "Trail %s does not have Insights enabled.", t.row.ARN)
	}
	return &InsightSelectorsOutput{TrailARN: t.row.ARN, InsightSelectors: t.doc.InsightSelectors}, nil
}

// taggedTrail resolves a tagging ResourceId, which must be the ARN of one
