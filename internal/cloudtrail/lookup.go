package cloudtrail

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailwire"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/store"
)

// LookupEvents error codes.
const (
	codeInvalidLookupAttributes = "InvalidLookupAttributesException"
	codeInvalidTimeRange        = "InvalidTimeRangeException"
	codeInvalidEventCategory    = "InvalidEventCategoryException"
	codeInvalidMaxResults       = "InvalidMaxResultsException"
)

// Lookup limits from the CloudTrail API model.
const (
	lookupMaxResults     = 50
	maxAttributeValueLen = cloudtrailwire.MaxAttributeValueLen
)

// lookupKeys are the LookupEvents attribute keys (case-sensitive).
var lookupKeys = cloudtrailwire.LookupAttributeKeys

// insightKeys are the keys that apply to Insights events.
var insightKeys = map[string]bool{"EventId": true, "EventName": true, "EventSource": true}

// LookupAttribute is one LookupEvents condition.
type LookupAttribute struct {
	AttributeKey   *string `json:",omitempty"`
	AttributeValue *string `json:",omitempty"`
}

// LookupEventsInput is the LookupEvents request.
type LookupEventsInput struct {
	LookupAttributes []LookupAttribute `json:",omitempty"`
	StartTime        *awsapi.Time      `json:",omitempty"`
	EndTime          *awsapi.Time      `json:",omitempty"`
	EventCategory    *string           `json:",omitempty"`
	MaxResults       *int              `json:",omitempty"`
	NextToken        *string           `json:",omitempty"`
}

// AuditParams logs the request with timestamps as CloudTrail record times.
func (in *LookupEventsInput) AuditParams() any {
	p := map[string]any{}
	if len(in.LookupAttributes) > 0 {
		p["lookupAttributes"] = in.LookupAttributes
	}
	if in.StartTime != nil && !in.StartTime.IsZero() {
		p["startTime"] = in.StartTime.UTC().Format(time.RFC3339)
	}
	if in.EndTime != nil && !in.EndTime.IsZero() {
		p["endTime"] = in.EndTime.UTC().Format(time.RFC3339)
	}
	if in.EventCategory != nil {
		p["eventCategory"] = *in.EventCategory
	}
	if in.MaxResults != nil {
		p["maxResults"] = *in.MaxResults
	}
	if in.NextToken != nil {
		p["nextToken"] = *in.NextToken
	}
	return p
}

// Resource is one element of an Event's Resources.
type Resource struct {
	ResourceType string `json:",omitempty"`
	ResourceName string `json:",omitempty"`
}

// Event is one LookupEvents result. ReadOnly is the string "true" or
// "false"; CloudTrailEvent is the whole record as a JSON string.
type Event struct {
	EventID         string `json:"EventId,omitempty"`
	EventName       string `json:",omitempty"`
	ReadOnly        string `json:",omitempty"`
	AccessKeyID     string `json:"AccessKeyId,omitempty"`
	EventTime       awsapi.Time
	EventSource     string `json:",omitempty"`
	Username        string `json:",omitempty"`
	Resources       []Resource
	CloudTrailEvent string
}

// LookupEventsOutput is the LookupEvents response.
type LookupEventsOutput struct {
	Events    []Event
	NextToken string `json:",omitempty"`
}

// lookupRequest is a validated LookupEvents request.
type lookupRequest struct {
	attrs      []store.Attr
	start, end time.Time // as given; zero = absent
	insight    bool
	limit      int
	token      string
}

func validateLookup(in *LookupEventsInput) (*lookupRequest, error) {
	r := &lookupRequest{limit: lookupMaxResults}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > lookupMaxResults {
			return nil, awsapi.Errorf(codeInvalidMaxResults,
				"MaxResults must be between 1 and %d; got %d.", lookupMaxResults, *in.MaxResults)
		}
		r.limit = *in.MaxResults
	}
	if in.EventCategory != nil {
		if *in.EventCategory != "insight" {
			return nil, awsapi.Errorf(codeInvalidEventCategory,
				"EventCategory %q is not valid; the only valid value is insight.", awsapi.Clip(*in.EventCategory, 64))
		}
		r.insight = true
	}
	if len(in.LookupAttributes) > 1 {
		return nil, awsapi.Errorf(codeInvalidLookupAttributes,
			"You can specify at most one lookup attribute; got %d.", len(in.LookupAttributes))
	}
	for _, a := range in.LookupAttributes {
		if a.AttributeKey == nil || *a.AttributeKey == "" {
			return nil, awsapi.NewError(codeInvalidLookupAttributes, "AttributeKey is required in a lookup attribute.")
		}
		key := *a.AttributeKey
		if !lookupKeys[key] {
			return nil, awsapi.Errorf(codeInvalidLookupAttributes,
				"AttributeKey %q is not valid; valid keys are EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource and AccessKeyId.",
				awsapi.Clip(key, 64))
		}
		if r.insight && !insightKeys[key] {
			return nil, awsapi.Errorf(codeInvalidLookupAttributes,
				"AttributeKey %s does not apply to Insights events; use EventId, EventName or EventSource.", key)
		}
		if a.AttributeValue == nil {
			return nil, awsapi.NewError(codeInvalidLookupAttributes, "AttributeValue is required in a lookup attribute.")
		}
		val := *a.AttributeValue
		if n := utf8.RuneCountInString(val); n < 1 || n > maxAttributeValueLen {
			return nil, awsapi.Errorf(codeInvalidLookupAttributes,
				"AttributeValue must be 1 to %d characters long; got %d.", maxAttributeValueLen, n)
		}
		if key == "ReadOnly" && val != "true" && val != "false" {
			return nil, awsapi.Errorf(codeInvalidLookupAttributes,
				"AttributeValue for ReadOnly must be true or false; got %q.", awsapi.Clip(val, 64))
		}
		r.attrs = append(r.attrs, store.Attr{Key: key, Value: val})
	}
	if in.StartTime != nil {
		r.start = in.StartTime.Time
	}
	if in.EndTime != nil {
		r.end = in.EndTime.Time
	}
	if !r.start.IsZero() && !r.end.IsZero() && r.start.After(r.end) {
		return nil, awsapi.NewError(codeInvalidTimeRange, "StartTime must not be after EndTime.")
	}
	if in.NextToken != nil {
		r.token = *in.NextToken
	}
	return r, nil
}

// queryHash binds a LookupEvents token to everything that selects events
// except MaxResults, which clients may change from page to page.
func (r *lookupRequest) queryHash(account, region string) [pagetoken.HashLen]byte {
	h := pagetoken.NewHasher().Str(account).Str(region)
	h.Int(int64(len(r.attrs)))
	for _, a := range r.attrs {
		h.Str(a.Key).Str(a.Value)
	}
	h.Time(r.start).Time(r.end)
	if r.insight {
		h.Str("insight")
	} else {
		h.Str("")
	}
	return h.Sum()
}

// LookupEvents answers the CloudTrail event history for the caller's
// account and region: management events (Insights events with
// EventCategory=insight), newest first, within the retention window.
func (s *Service) LookupEvents(ctx context.Context, in *LookupEventsInput) (*LookupEventsOutput, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if s.limiter != nil && !s.limiter.allow(p.AccountID+"/"+c.Region) {
		return nil, awsapi.Throttled()
	}
	r, err := validateLookup(in)
	if err != nil {
		return nil, err
	}
	qh := r.queryHash(p.AccountID, c.Region)
	q := store.LookupQuery{
		Accounts: []string{p.AccountID},
		Region:   c.Region,
		Attrs:    r.attrs,
		Start:    r.start,
		End:      r.end,
		Limit:    r.limit + 1,
	}
	switch {
	case r.insight:
		q.Categories = []string{event.CategoryInsight}
	case s.opts.IncludeDataEvents:
		q.Categories = []string{event.CategoryManagement, event.CategoryActivityAuditLog, event.CategoryData}
	default:
		// Events sent through PutAuditEvents are in the history too: they
		// are how users record their own applications' management activity.
		q.Categories = []string{event.CategoryManagement, event.CategoryActivityAuditLog}
	}
	if r.token != "" {
		pos, err := s.openPosition(pagetoken.KindLookup, qh, r.token)
		if err != nil {
			return nil, err
		}
		q.After = pos
	}
	out := &LookupEventsOutput{Events: []Event{}}
	floor := s.now().Add(-s.opts.Retention)
	if q.Start.Before(floor) {
		q.Start = floor
	}
	if !q.End.IsZero() && q.End.Before(q.Start) {
		return out, nil // the whole range is older than the window
	}
	evs, err := s.store.Lookup(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("lookup events: %w", err)
	}
	if len(evs) > r.limit {
		evs = evs[:r.limit]
		last := evs[len(evs)-1]
		out.NextToken = s.issuePosition(pagetoken.KindLookup, qh, last)
	}
	for _, e := range evs {
		out.Events = append(out.Events, lookupEvent(e.Rec))
	}
	return out, nil
}

func lookupEvent(rec *event.Record) Event {
	ev := Event{
		EventID:         rec.EventID,
		EventName:       rec.EventName,
		AccessKeyID:     rec.AccessKeyID,
		EventTime:       awsapi.Time{Time: rec.EventTime},
		EventSource:     rec.EventSource,
		Username:        rec.Username,
		Resources:       make([]Resource, 0, len(rec.Resources)),
		CloudTrailEvent: string(rec.Raw),
	}
	if rec.ReadOnlySet {
		ev.ReadOnly = "false"
		if rec.ReadOnly {
			ev.ReadOnly = "true"
		}
	}
	for _, res := range rec.Resources {
		ev.Resources = append(ev.Resources, Resource{ResourceType: res.Type, ResourceName: res.Name})
	}
	return ev
}

// issuePosition returns a token resuming after e.
func (s *Service) issuePosition(kind byte, qh [pagetoken.HashLen]byte, e store.Event) string {
	return s.tokens.Issue(kind, qh, pagetoken.Position(e.Rec.EventTime, e.Seq))
}

func (s *Service) openPosition(kind byte, qh [pagetoken.HashLen]byte, tok string) (*store.Position, error) {
	t, seq, err := s.tokens.OpenPosition(kind, qh, tok)
	if err != nil {
		return nil, err
	}
	return &store.Position{Time: t, Seq: seq}, nil
}
