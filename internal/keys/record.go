package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/store"
)

// RecordKey is the event store's meta key of the public record: when the
// private keys are kept outside the store, the public halves of every
// key and where the private ones are.
const RecordKey = "digest-public-keys"

// Where a record says the private keys are.
const (
	keptInFile    = "file"
	keptBySigner  = "command"
	maxNamedFlaws = 5
)

// record is the store's public record of keys kept outside it.
type record struct {
	Kept string       `json:"kept"` // keptInFile or keptBySigner
	File string       `json:"file"` // the key file, or the signer's public keys file
	Keys []digest.Key `json:"keys"` // public halves only
}

func readRecord(ctx context.Context, m Meta) (*record, error) {
	b, err := m.Meta(ctx, RecordKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read the store's record of its digest signing keys (meta %s): %w", RecordKey, err)
	}
	return &r, nil
}

// writeRecord stores the public halves of keys as kept in file; an
// unchanged record is not rewritten.
func writeRecord(ctx context.Context, m Meta, kept, file string, keys []digest.Key) error {
	r := record{Kept: kept, File: file, Keys: make([]digest.Key, 0, len(keys))}
	for _, k := range keys {
		k.Private = nil
		r.Keys = append(r.Keys, k)
	}
	b, err := json.Marshal(&r)
	if err != nil {
		return err
	}
	if old, err := m.Meta(ctx, RecordKey); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return m.SetMeta(ctx, RecordKey, b)
}

// where says where the record's private keys are.
func (r *record) where() string {
	if r.Kept == keptBySigner {
		return "signed by an external command whose public keys file was " + r.File
	}
	return "in the key file " + r.File
}

// newest is the fingerprint of the newest key, or "none".
func (r *record) newest() string {
	if len(r.Keys) == 0 {
		return "none"
	}
	n := r.Keys[0]
	for _, k := range r.Keys[1:] {
		if k.ValidFrom.After(n.ValidFrom) {
			n = k
		}
	}
	return n.Fingerprint
}

// missing lists the record's fingerprints that have lacks.
func (r *record) missing(have map[string]bool) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, k := range r.Keys {
		if !have[k.Fingerprint] {
			out = append(out, k.Fingerprint)
		}
	}
	return out
}

// fingerprintList writes fingerprints for an error message, at most a few.
func fingerprintList(fps []string) string {
	if len(fps) > maxNamedFlaws {
		return strings.Join(fps[:maxNamedFlaws], ", ") + fmt.Sprintf(" and %d more", len(fps)-maxNamedFlaws)
	}
	return strings.Join(fps, ", ")
}
