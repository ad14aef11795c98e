package native

import (
	"encoding/json"
	"fmt"
	"net/http"
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

// Trails serves GET /v1/trails: every trail of the caller's account, in
// all regions, with its delivery status and delivered-through watermark
// (every selected event received before it is in a delivered file).
func (n *Native) Trails(w http.ResponseWriter, r *http.Request) {
	c, p, err := callerOf(r.Context())
	if err != nil {
		awsapi.WriteRESTJSONError(w, "", err)
		return
	}
	trails, err := n.store.ListTrails(r.Context(), p.AccountID)
	if err != nil {
		err = fmt.Errorf("list trails: %w", err)
		n.logger.Error("list trails", "err", err)
		awsapi.WriteRESTJSONError(w, c.RequestID, err)
		return
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
			err = fmt.Errorf("decode trail %s: %w", t.ARN, err)
			n.logger.Error("list trails", "err", err)
			awsapi.WriteRESTJSONError(w, c.RequestID, err)
			return
		}
		nt := nativeTrail{
			Name: t.Name, ARN: t.ARN, HomeRegion: t.HomeRegion,
			MultiRegion: set.IsMultiRegionTrail, Organization: set.IsOrganizationTrail,
			Bucket: set.S3BucketName, Prefix: set.S3KeyPrefix, Logging: set.IsLogging,
		}
		if n.delivery != nil {
			ds, err := n.delivery.Status(r.Context(), t.ARN)
			if err != nil {
				n.logger.Error("delivery status", "trail", t.ARN, "err", err)
				awsapi.WriteRESTJSONError(w, c.RequestID, err)
				return
			}
			nt.DeliveredThrough, nt.LatestDelivery, nt.LatestAttempt = stamp(ds.DeliveredThrough), stamp(ds.LatestDelivery), stamp(ds.LatestAttempt)
			nt.LatestDeliveryError, nt.Files, nt.Events = ds.LatestError, ds.Files, ds.Events
			nt.LatestDigest, nt.LatestDigestError, nt.Digests = stamp(ds.LatestDigestDelivery), ds.LatestDigestError, ds.Digests
			nt.VerifyError, nt.VerifyErrorTime = ds.LatestVerifyError, stamp(ds.LatestVerifyErrorTime)
		}
		out.Trails = append(out.Trails, nt)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
