// Tags of trails: AddTags, RemoveTags, ListTags.

package cloudtrail

import (
	"context"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/cloudtrailarn"
	"github.com/opentrail/opentrail/internal/trail"
)

func (s *Service) taggedTrail(ctx context.Context, id string) (*trailRec, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, awsapi.NewError(codeInvalidParameter, "ResourceId is required.")
	}
	if !trail.IsARN(id) {
		return nil, awsapi.Errorf(codeTrailARNInvalid, "%s is not a valid trail ARN: tagging takes a full ARN.", awsapi.Clip(id, 256))
	}
	if _, err := cloudtrailarn.Parse(id, "trail"); err != nil {
		if strings.Contains(id, ":cloudtrail:") && (strings.Contains(id, ":channel/") || strings.Contains(id, ":eventdatastore/")) {
			return nil, awsapi.Errorf(codeResourceTypeNotSupport, "Tagging %s is not supported; only trails can be tagged.", awsapi.Clip(id, 256))
		}
	}
	t, err := s.findTrail(ctx, c, p, id)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, awsapi.Errorf(codeResourceNotFound, "Resource %s not found.", id)
	}
	return t, nil
}

// AddTags adds tags to a trail, replacing the values of keys it already
// has.
func (s *Service) AddTags(ctx context.Context, in *TagsInput) (*EmptyOutput, error) {
	s.trailMu.Lock()
	defer s.trailMu.Unlock()
	t, err := s.taggedTrail(ctx, deref(in.ResourceID))
	if err != nil {
		return nil, err
	}
	if len(in.TagsList) > maxTagsPerCall {
		return nil, awsapi.Errorf(codeTagsLimitExceeded, "A request can carry at most %d tags; got %d.", maxTagsPerCall, len(in.TagsList))
	}
	add, err := validateTags(in.TagsList)
	if err != nil {
		return nil, err
	}
	tags := slices.Clone(t.doc.Tags)
	for _, nt := range add {
		i := slices.IndexFunc(tags, func(x ChannelTag) bool { return x.Key == nt.Key })
		if i >= 0 {
			tags[i] = nt
		} else {
			tags = append(tags, nt)
		}
	}
	if len(tags) > maxTagsPerResource {
		return nil, awsapi.Errorf(codeTagsLimitExceeded,
			"A resource can have at most %d tags; the trail would have %d.", maxTagsPerResource, len(tags))
	}
	t.doc.Tags = tags
	if err := s.saveTrail(ctx, t); err != nil {
		return nil, err
	}
	return &EmptyOutput{}, nil
}

// RemoveTags removes tags from a trail by key; keys it lacks are ignored.
func (s *Service) RemoveTags(ctx context.Context, in *TagsInput) (*EmptyOutput, error) {
	s.trailMu.Lock()
	defer s.trailMu.Unlock()
	t, err := s.taggedTrail(ctx, deref(in.ResourceID))
	if err != nil {
		return nil, err
	}
	drop := map[string]bool{}
	for _, tg := range in.TagsList {
		if tg.Key == nil {
			return nil, awsapi.NewError(codeInvalidTagParameter, "Every tag needs a Key.")
		}
		drop[*tg.Key] = true
	}
	t.doc.Tags = slices.DeleteFunc(slices.Clone(t.doc.Tags), func(x ChannelTag) bool { return drop[x.Key] })
	if err := s.saveTrail(ctx, t); err != nil {
		return nil, err
	}
	return &EmptyOutput{}, nil
}

// ListTags returns the tags of up to 20 trails, in one page.
func (s *Service) ListTags(ctx context.Context, in *ListTagsInput) (*ListTagsOutput, error) {
	if in.NextToken != nil {
		return nil, awsapi.NewError(codeInvalidToken, "The NextToken is not valid: ListTags answers in a single page.")
	}
	if len(in.ResourceIDList) == 0 || len(in.ResourceIDList) > maxListTagsIDs {
		return nil, awsapi.Errorf(codeInvalidParameter,
			"ResourceIdList must name 1 to %d resources; got %d.", maxListTagsIDs, len(in.ResourceIDList))
	}
	out := &ListTagsOutput{ResourceTagList: []ResourceTag{}}
	for _, id := range in.ResourceIDList {
		t, err := s.taggedTrail(ctx, id)
		if err != nil {
			return nil, err
		}
		tags := t.doc.Tags
		if tags == nil {
			tags = []ChannelTag{}
		}
		out.ResourceTagList = append(out.ResourceTagList, ResourceTag{ResourceID: t.row.ARN, TagsList: tags})
	}
	return out, nil
}
