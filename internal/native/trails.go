package native

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/trail"
)

// nativeTrail is one trail in GET /v1/trails: its place, its logging
// state and how far delivery has got.
type nativeTrail struct {
	Name                string `json:"name"`
	ARN                 string `json:"arn"`
	HomeRegion          string `json:"homeRegion"`
	MultiRegion         bool   `json:"multiRegion"`
	Organization        bool   `json:"organization"`
	Bucket              string `json:"bucket"`
	Prefix              string `json:"prefix,omitempty"`
	Logging             bool   `json:"logging"`
	DeliveredThrough    string `json:"deliveredThrough,omitempty"`
	LatestDelivery      string `json:"latestDelivery,omitempty"`
	LatestAttempt       string `json:"latestAttempt,omitempty"`
	LatestDeliveryError string `json:"latestDeliveryError,omitempty"`
	Files               int64  `json:"files"`
	Events              int64  `json:"events"`
	LatestDigest        string `json:"latestDigest,omitempty"`
	LatestDigestError   string `json:"latestDigestError,omitempty"`
	Digests             int64  `json:"digests,omitempty"`
	// VerifyError is what the background verifier last found wrong.
	VerifyError     string `json:"verifyError,omitempty"`
	VerifyErrorTime string `json:"verifyErrorTime,omitempty"`
}

// listTrails serves GET /v1/trails: every trail of the caller's account,
// in all regions, with its delivery status and delivered-through watermark
// (every selected event received before it is in a delivered file).
func (n *Native) listTrails(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	req.Params = map[string]any{}
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	trails, err := n.store.ListTrails(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list trails: %w", err)
	}
	sort.Slice(trails, func(i, j int) bool { return trails[i].ARN < trails[j].ARN })
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	out := struct {
		Trails []nativeTrail `json:"trails"`
	}{Trails: []nativeTrail{}}
	for _, t := range trails {
		set, err := trail.DecodeSettings(t.Doc)
		if err != nil {
			return nil, fmt.Errorf("decode trail %s: %w", t.ARN, err)
		}
		nt := nativeTrail{
			Name: t.Name, ARN: t.ARN, HomeRegion: t.HomeRegion,
			MultiRegion: set.IsMultiRegionTrail, Organization: set.IsOrganizationTrail,
			Bucket: set.S3BucketName, Prefix: set.S3KeyPrefix, Logging: set.IsLogging,
		}
		if n.delivery != nil {
			ds, err := n.delivery.Status(ctx, t.ARN)
			if err != nil {
				return nil, fmt.Errorf("delivery status of %s: %w", t.ARN, err)
			}
			nt.DeliveredThrough, nt.LatestDelivery, nt.LatestAttempt = stamp(ds.DeliveredThrough), stamp(ds.LatestDelivery), stamp(ds.LatestAttempt)
			nt.LatestDeliveryError, nt.Files, nt.Events = ds.LatestError, ds.Files, ds.Events
			nt.LatestDigest, nt.LatestDigestError, nt.Digests = stamp(ds.LatestDigestDelivery), ds.LatestDigestError, ds.Digests
			nt.VerifyError, nt.VerifyErrorTime = ds.LatestVerifyError, stamp(ds.LatestVerifyErrorTime)
		}
		out.Trails = append(out.Trails, nt)
	}
	return jsonResponse(out)
}
