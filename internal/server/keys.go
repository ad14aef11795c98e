package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// keyInfo is one digest signing key in the native keys API.
type keyInfo struct {
	Region      string `json:"region"`
	Fingerprint string `json:"fingerprint"`
	ValidFrom   string `json:"validFrom"`
	ValidTo     string `json:"validTo"`
	PublicKey   []byte `json:"publicKey"` // PKCS#1 DER, base64 in JSON
}

// serveKeys answers GET /v1/keys?region=R (every signing key of the
// region, ever) and POST /v1/keys/rotate?region=R (retire the active key
// now; digests ending from now on use a new one). The region defaults to
// the request's. Rotation is for the organisation's management account
// (or the local-mode key): keys sign every account's digests.
func (s *Server) serveKeys(w http.ResponseWriter, r *http.Request) {
	c := awsapi.CallerFrom(r.Context())
	region := r.URL.Query().Get("region")
	if region == "" {
		region = c.Region
	}
	var (
		out     any
		errCode string
		err     error
	)
	op := "ListKeys"
	if r.Method == http.MethodPost {
		op = "RotateKey"
		if !c.Principal.Management {
			err = &awsapi.Error{Code: "AccessDeniedException", Status: http.StatusForbidden,
				Message: "Only the organisation's management account may rotate the digest signing keys, which sign every account's digests."}
		} else {
			var k keyInfo
			pk, rerr := s.keys.Rotate(r.Context(), region)
			if rerr == nil {
				k = keyInfo{Region: pk.Region, Fingerprint: pk.Fingerprint, ValidFrom: pk.ValidFrom.Format(time.RFC3339), ValidTo: pk.ValidTo.Format(time.RFC3339), PublicKey: pk.Value}
			}
			out, err = map[string]any{"key": k}, rerr
		}
	} else {
		keys, lerr := s.keys.PublicKeys(r.Context(), region, time.Time{}, time.Unix(1<<40, 0))
		list := []keyInfo{}
		for _, pk := range keys {
			list = append(list, keyInfo{Region: pk.Region, Fingerprint: pk.Fingerprint, ValidFrom: pk.ValidFrom.Format(time.RFC3339), ValidTo: pk.ValidTo.Format(time.RFC3339), PublicKey: pk.Value})
		}
		out, err = map[string]any{"keys": list}, lerr
	}
	if err != nil {
		if ae, ok := err.(*awsapi.Error); ok {
			errCode = ae.Code
		} else {
			s.log.Error("digest keys", "op", op, "err", err)
		}
	}
	// A rotation's record is committed before the answer.
	readOnly := r.Method == http.MethodGet
	rec := awsapi.AuditRecord(c, "opentrail", op, readOnly, map[string]any{"region": region}, nil, errCode, "")
	if aerr := awsapi.RecordCall(r.Context(), s, readOnly, rec); aerr != nil {
		s.log.Error("self-audit record not stored; answering 503", "operation", op, "request_id", c.RequestID, "err", aerr)
		err = awsapi.AuditUnavailable()
	}
	if err != nil {
		awsapi.WriteRESTJSONError(w, c.RequestID, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
