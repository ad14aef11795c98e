package cloudtrail

import (
	"context"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/digest"
)

// KeySource gives the digest signing keys ListPublicKeys serves
// (*keys.Keys implements it).
type KeySource interface {
	PublicKeys(ctx context.Context, region string, start, end time.Time) ([]digest.PublicKey, error)
}

// ListPublicKeysInput is the ListPublicKeys request.
type ListPublicKeysInput struct {
	StartTime *awsapi.Time `json:",omitempty"`
	EndTime   *awsapi.Time `json:",omitempty"`
	NextToken *string      `json:",omitempty"`
}

// PublicKeyOutput is one key of ListPublicKeys: Value is the PKCS#1 DER
// public key (base64 on the wire), Fingerprint the hex MD5 of those bytes.
type PublicKeyOutput struct {
	Value             []byte
	ValidityStartTime awsapi.Time
	ValidityEndTime   awsapi.Time
	Fingerprint       string
}

// ListPublicKeysOutput is the ListPublicKeys response.
type ListPublicKeysOutput struct {
	PublicKeyList []PublicKeyOutput
}

// ListPublicKeys returns the public keys of the caller's region whose
// validity overlaps [StartTime, EndTime] (both default to now), oldest
// first, in one page.
func (s *Service) ListPublicKeys(ctx context.Context, in *ListPublicKeysInput) (*ListPublicKeysOutput, error) {
	c, _, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if in.NextToken != nil && *in.NextToken != "" {
		return nil, awsapi.NewError(codeInvalidToken, "Reserved for future use; opentrail answers in one page.")
	}
	now := s.now().UTC()
	start, end := now, now
	if in.StartTime != nil {
		start = in.StartTime.Time
	}
	if in.EndTime != nil {
		end = in.EndTime.Time
	}
	if end.Before(start) {
		return nil, awsapi.NewError("InvalidTimeRangeException", "Occurs if the timestamp values are invalid. Either the start time occurs after the end time, or the time range is outside the range of possible values.")
	}
	out := &ListPublicKeysOutput{PublicKeyList: []PublicKeyOutput{}}
	if s.keys == nil {
		return out, nil
	}
	keys, err := s.keys.PublicKeys(ctx, c.Region, start, end)
	if err != nil {
		return nil, fmt.Errorf("list public keys: %w", err)
	}
	for _, k := range keys {
		out.PublicKeyList = append(out.PublicKeyList, PublicKeyOutput{
			Value: k.Value, Fingerprint: k.Fingerprint,
			ValidityStartTime: awsapi.Time{Time: k.ValidFrom}, ValidityEndTime: awsapi.Time{Time: k.ValidTo},
		})
	}
	return out, nil
}
