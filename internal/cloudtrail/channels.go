package cloudtrail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/store"
)

// Channel error codes.
const (
	codeChannelNotFound      = "ChannelNotFoundException"
	codeChannelARNInvalid    = "ChannelARNInvalidException"
	codeChannelAlreadyExists = "ChannelAlreadyExistsException"
	codeChannelMaxLimit      = "ChannelMaxLimitExceededException"
	codeInvalidParameter     = "InvalidParameterException"
	codeInvalidSource        = "InvalidSourceException"
	codeEventDataStoreARN    = "EventDataStoreARNInvalidException"
	codeInvalidTagParameter  = "InvalidTagParameterException"
	codeTagsLimitExceeded    = "TagsLimitExceededException"
)

// Channel limits and destination types.
const (
	destinationEventDataStore = "EVENT_DATA_STORE"
	destinationAWSService     = "AWS_SERVICE"
	maxChannelsPerRegion      = 25
	maxTagsPerResource        = 50
	maxDestinations           = 200
	maxListChannelsResults    = 1000
)

// Destination is where a channel's events go.
type Destination struct {
	Type     *string `json:",omitempty"`
	Location *string `json:",omitempty"`
}

// Tag is a resource tag; Value may be absent.
type Tag struct {
	Key   *string `json:",omitempty"`
	Value *string `json:",omitempty"`
}

// ChannelDestination is a destination as stored in store.Channel (JSON) and
// returned in responses.
type ChannelDestination struct {
	Type     string
	Location string
}

// CreateChannelInput is the CreateChannel request.
type CreateChannelInput struct {
	Name         *string       `json:",omitempty"`
	Source       *string       `json:",omitempty"`
	Destinations []Destination `json:",omitempty"`
	Tags         []Tag         `json:",omitempty"`
}

// CreateChannelOutput is the CreateChannel response.
type CreateChannelOutput struct {
	ChannelARN   string               `json:"ChannelArn"`
	Name         string               `json:",omitempty"`
	Source       string               `json:",omitempty"`
	Destinations []ChannelDestination `json:",omitempty"`
	Tags         []ChannelTag         `json:",omitempty"`
}

// ChannelInput names a channel by ARN or id (GetChannel, DeleteChannel).
type ChannelInput struct {
	Channel *string `json:",omitempty"`
}

// IngestionStatus reports the latest PutAuditEvents activity on a channel
// since the server started.
type IngestionStatus struct {
	LatestIngestionSuccessTime    *awsapi.Time `json:",omitempty"`
	LatestIngestionSuccessEventID string       `json:",omitempty"`
	LatestIngestionErrorCode      string       `json:",omitempty"`
	LatestIngestionAttemptTime    *awsapi.Time `json:",omitempty"`
	LatestIngestionAttemptEventID string       `json:",omitempty"`
}

// GetChannelOutput is the GetChannel response.
type GetChannelOutput struct {
	ChannelARN      string               `json:"ChannelArn"`
	Name            string               `json:",omitempty"`
	Source          string               `json:",omitempty"`
	Destinations    []ChannelDestination `json:",omitempty"`
	IngestionStatus IngestionStatus
}

// ListChannelsInput is the ListChannels request.
type ListChannelsInput struct {
	MaxResults *int    `json:",omitempty"`
	NextToken  *string `json:",omitempty"`
}

// ChannelSummary is one ListChannels entry.
type ChannelSummary struct {
	ChannelARN string `json:"ChannelArn"`
	Name       string
}

// ListChannelsOutput is the ListChannels response.
type ListChannelsOutput struct {
	Channels  []ChannelSummary
	NextToken string `json:",omitempty"`
}

// DeleteChannelOutput is the (empty) DeleteChannel response.
type DeleteChannelOutput struct{}

func allRunes(s string, ok func(rune) bool) bool {
	for _, r := range s {
		if !ok(r) {
			return false
		}
	}
	return true
}

func validateDestinations(ds []Destination) ([]ChannelDestination, error) {
	if len(ds) == 0 || len(ds) > maxDestinations {
		return nil, awsapi.Errorf(codeInvalidParameter, "Destinations must list 1 to %d destinations; got %d.", maxDestinations, len(ds))
	}
	out := make([]ChannelDestination, 0, len(ds))
	for i, d := range ds {
		if d.Type == nil || d.Location == nil {
			return nil, awsapi.Errorf(codeInvalidParameter, "Destinations[%d] needs both Type and Location.", i)
		}
		switch *d.Type {
		case destinationEventDataStore:
		case destinationAWSService:
			return nil, awsapi.NewError(codeInvalidParameter,
				"AWS_SERVICE destinations belong to service-linked channels; CreateChannel accepts only EVENT_DATA_STORE destinations.")
		default:
			return nil, awsapi.Errorf(codeInvalidParameter,
				"Destination type %q is not valid; use EVENT_DATA_STORE.", awsapi.Clip(*d.Type, 64))
		}
		loc := *d.Location
		if n := len(loc); n < 3 || n > 1024 || !allRunes(loc, cloudtrailarn.IsARNChar) {
			return nil, awsapi.Errorf(codeEventDataStoreARN,
				"Destination location %q is not a valid event data store ARN or ID.", awsapi.Clip(loc, 128))
		}
		if strings.HasPrefix(loc, "arn:") {
			if _, err := cloudtrailarn.Parse(loc, "eventdatastore"); err != nil {
				return nil, awsapi.Errorf(codeEventDataStoreARN,
					"Destination location %q is not a valid event data store ARN.", awsapi.Clip(loc, 128))
			}
		}
		out = append(out, ChannelDestination{Type: *d.Type, Location: loc})
	}
	return out, nil
}

func validateTags(tags []Tag) ([]ChannelTag, error) {
	if len(tags) > maxTagsPerResource {
		return nil, awsapi.Errorf(codeTagsLimitExceeded, "A resource can have at most %d tags; got %d.", maxTagsPerResource, len(tags))
	}
	out := make([]ChannelTag, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if t.Key == nil {
			return nil, awsapi.NewError(codeInvalidTagParameter, "Every tag needs a Key.")
		}
		k := *t.Key
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
			return nil, awsapi.Errorf(codeInvalidTagParameter, "Tag key %q must be 1 to 128 characters long.", awsapi.Clip(k, 64))
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, awsapi.Errorf(codeInvalidTagParameter, "Tag key %q uses the reserved prefix aws:.", awsapi.Clip(k, 64))
		}
		if t.Value != nil {
			if n := utf8.RuneCountInString(*t.Value); n < 1 || n > 256 {
				return nil, awsapi.Errorf(codeInvalidTagParameter, "The value of tag %q must be 1 to 256 characters long.", awsapi.Clip(k, 64))
			}
		}
		if seen[k] {
			return nil, awsapi.Errorf(codeInvalidTagParameter, "Tag key %q appears more than once.", awsapi.Clip(k, 64))
		}
		seen[k] = true
		out = append(out, ChannelTag{Key: k, Value: t.Value})
	}
	return out, nil
}

func channelNotFound(arn string) error {
	return awsapi.Errorf(codeChannelNotFound, "Channel %s does not exist.", arn)
}

// ownChannel resolves ref and loads the channel, which must belong to the
// caller's account and region.
func (s *Service) ownChannel(ctx context.Context, ref *string) (store.Channel, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return store.Channel{}, err
	}
	if ref == nil || *ref == "" {
		return store.Channel{}, awsapi.NewError(codeInvalidParameter, "Channel is required.")
	}
	r, err := cloudtrailarn.ResolveChannel(c.Region, p.AccountID, *ref)
	if err != nil {
		return store.Channel{}, awsapi.NewError(codeChannelARNInvalid, err.Error())
	}
	if r.Foreign {
		return store.Channel{}, channelNotFound(r.ARN)
	}
	ch, err := s.store.GetChannel(ctx, r.ARN)
	if errors.Is(err, store.ErrNotFound) || err == nil && (ch.Account != p.AccountID || ch.Region != c.Region) {
		return store.Channel{}, channelNotFound(r.ARN)
	}
	if err != nil {
		return store.Channel{}, fmt.Errorf("get channel: %w", err)
	}
	return ch, nil
}

// CreateChannel creates a channel for PutAuditEvents in the caller's
// account and region.
func (s *Service) CreateChannel(ctx context.Context, in *CreateChannelInput) (*CreateChannelOutput, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, awsapi.NewError(codeInvalidParameter, "Name is required.")
	}
	name := *in.Name
	if n := len(name); n < 3 || n > 128 || !allRunes(name, cloudtrailarn.IsChannelNameChar) {
		return nil, awsapi.Errorf(codeInvalidParameter,
			"Channel name %q is not valid: use 3 to 128 letters, digits, periods (.), underscores (_) and hyphens (-).", awsapi.Clip(name, 128))
	}
	if in.Source == nil {
		return nil, awsapi.NewError(codeInvalidParameter, "Source is required.")
	}
	if n := utf8.RuneCountInString(*in.Source); n < 1 || n > 256 {
		return nil, awsapi.NewError(codeInvalidSource, "Source must be 1 to 256 characters long.")
	}
	dests, err := validateDestinations(in.Destinations)
	if err != nil {
		return nil, err
	}
	tags, err := validateTags(in.Tags)
	if err != nil {
		return nil, err
	}
	existing, err := s.store.ListChannels(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	inRegion := 0
	for _, ch := range existing {
		if ch.Region != c.Region {
			continue
		}
		if ch.Name == name {
			return nil, channelExists(name)
		}
		inRegion++
	}
	if inRegion >= maxChannelsPerRegion {
		return nil, awsapi.Errorf(codeChannelMaxLimit,
			"The account already has %d channels in %s, the most allowed.", maxChannelsPerRegion, c.Region)
	}
	destJSON, err := json.Marshal(dests)
	if err != nil {
		return nil, fmt.Errorf("encode destinations: %w", err)
	}
	tagJSON, err := json.Marshal(tags)
	if err != nil {
		return nil, fmt.Errorf("encode tags: %w", err)
	}
	ch := store.Channel{
		ARN:          cloudtrailarn.Channel(c.Region, p.AccountID, awsapi.NewUUID()),
		Name:         name,
		Source:       *in.Source,
		Account:      p.AccountID,
		Region:       c.Region,
		Destinations: destJSON,
		Tags:         tagJSON,
		Created:      s.now().UTC(),
	}
	if err := s.store.CreateChannel(ctx, ch); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, channelExists(name)
		}
		return nil, fmt.Errorf("create channel: %w", err)
	}
	out := &CreateChannelOutput{ChannelARN: ch.ARN, Name: ch.Name, Source: ch.Source, Destinations: dests}
	if len(tags) > 0 {
		out.Tags = tags
	}
	return out, nil
}

func channelExists(name string) error {
	return awsapi.Errorf(codeChannelAlreadyExists, "A channel named %s already exists.", name)
}

// GetChannel describes one of the caller's channels.
func (s *Service) GetChannel(ctx context.Context, in *ChannelInput) (*GetChannelOutput, error) {
	ch, err := s.ownChannel(ctx, in.Channel)
	if err != nil {
		return nil, err
	}
	out := &GetChannelOutput{ChannelARN: ch.ARN, Name: ch.Name, Source: ch.Source}
	if len(ch.Destinations) > 0 {
		if err := json.Unmarshal(ch.Destinations, &out.Destinations); err != nil {
			return nil, fmt.Errorf("decode destinations of %s: %w", ch.ARN, err)
		}
	}
	out.IngestionStatus = s.status.get(ch.ARN)
	return out, nil
}

// channelPageHash binds a ListChannels token to the caller's account and
// region.
func channelPageHash(account, region string) [pagetoken.HashLen]byte {
	return pagetoken.NewHasher().Str(account).Str(region).Sum()
}

// ListChannels lists the caller's channels in its region, ordered by ARN.
func (s *Service) ListChannels(ctx context.Context, in *ListChannelsInput) (*ListChannelsOutput, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	limit := maxListChannelsResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxListChannelsResults {
			return nil, awsapi.Errorf(codeInvalidParameter,
				"MaxResults must be between 1 and %d; got %d.", maxListChannelsResults, *in.MaxResults)
		}
		limit = *in.MaxResults
	}
	qh := channelPageHash(p.AccountID, c.Region)
	after := ""
	if in.NextToken != nil {
		b, err := s.tokens.Open(pagetoken.KindChannels, qh, *in.NextToken)
		if err != nil {
			return nil, err
		}
		after = string(b)
	}
	all, err := s.store.ListChannels(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ARN < all[j].ARN })
	out := &ListChannelsOutput{Channels: []ChannelSummary{}}
	for _, ch := range all {
		if ch.Region != c.Region || ch.ARN <= after {
			continue
		}
		if len(out.Channels) == limit {
			out.NextToken = s.tokens.Issue(pagetoken.KindChannels, qh, []byte(out.Channels[limit-1].ChannelARN))
			break
		}
		out.Channels = append(out.Channels, ChannelSummary{ChannelARN: ch.ARN, Name: ch.Name})
	}
	return out, nil
}

// DeleteChannel deletes one of the caller's channels. Events already
// ingested through it stay.
func (s *Service) DeleteChannel(ctx context.Context, in *ChannelInput) (*DeleteChannelOutput, error) {
	ch, err := s.ownChannel(ctx, in.Channel)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteChannel(ctx, ch.ARN); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, channelNotFound(ch.ARN)
		}
		return nil, fmt.Errorf("delete channel: %w", err)
	}
	s.status.forget(ch.ARN)
	return &DeleteChannelOutput{}, nil
}
