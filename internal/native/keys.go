package native

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/keys"
)

// Keys is the digest signing-key store /v1/keys reads and rotates
// (*keys.Keys implements it).
type Keys interface {
	PublicKeys(ctx context.Context, region string, start, end time.Time) ([]digest.PublicKey, error)
	Rotate(ctx context.Context, region string) (digest.PublicKey, error)
}

// keyInfo is one digest signing key in the native keys API.
type keyInfo struct {
	Region      string `json:"region"`
	Fingerprint string `json:"fingerprint"`
	ValidFrom   string `json:"validFrom"`
	ValidTo     string `json:"validTo"`
	PublicKey   []byte `json:"publicKey"` // PKCS#1 DER, base64 in JSON
}

func newKeyInfo(pk digest.PublicKey) keyInfo {
	return keyInfo{Region: pk.Region, Fingerprint: pk.Fingerprint, ValidFrom: pk.ValidFrom.Format(time.RFC3339),
		ValidTo: pk.ValidTo.Format(time.RFC3339), PublicKey: pk.Value}
}

// keyRegion is the region parameter of /v1/keys, which defaults to the
// request's.
func keyRegion(c *awsapi.Caller, r *http.Request) string {
	if region := r.URL.Query().Get("region"); region != "" {
		return region
	}
	return c.Region
}

// listKeys serves GET /v1/keys?region=R: every signing key of the region,
// ever.
func (n *Native) listKeys(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	c, _, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	region := keyRegion(c, req.HTTP)
	req.Params = map[string]any{"region": region}
	keys, err := n.keys.PublicKeys(ctx, region, time.Time{}, time.Unix(1<<40, 0))
	if err != nil {
		return nil, err
	}
	list := []keyInfo{}
	for _, pk := range keys {
		list = append(list, newKeyInfo(pk))
	}
	return jsonResponse(map[string]any{"keys": list})
}

// rotateKey serves POST /v1/keys/rotate?region=R: retire the active key
// now; digests ending from now on use a new one. Rotation is for the
// organisation's management account (or the local-mode key): keys sign
// every account's digests.
func (n *Native) rotateKey(ctx context.Context, req *awsapi.RawRequest) (*awsapi.RawResponse, error) {
	c, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	region := keyRegion(c, req.HTTP)
	req.Params = map[string]any{"region": region}
	if !p.Management {
		return nil, &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
			Message: "Only the organisation's management account may rotate the digest signing keys, which sign every account's digests."}
	}
	pk, err := n.keys.Rotate(ctx, region)
	if errors.Is(err, keys.ErrExternalRotation) {
		return nil, &awsapi.Error{Code: "UnsupportedOperationException", Status: http.StatusBadRequest, Message: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	return jsonResponse(map[string]any{"key": newKeyInfo(pk)})
}

// jsonResponse encodes v as the body of a raw answer as json.Encoder
// writes it: HTML-escaped, with its newline.
func jsonResponse(v any) (*awsapi.RawResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &awsapi.RawResponse{Body: append(b, '\n')}, nil
}
