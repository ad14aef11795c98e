package digest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opentrail/opentrail/internal/layout"
)

// MetaSuffix ends the name of the file that holds an object's user
// metadata in a LocalCopy: the metadata of key k is in k + MetaSuffix.
const MetaSuffix = ".meta.json"

// LocalCopy is a Source over a local copy of one bucket: the tree that
// `aws s3 cp --recursive s3://bucket/ DIR` makes, object key k being the
// file DIR/k. Files on disk have no S3 metadata, so a digest's is read
// from a sidecar file k.meta.json beside it, holding either the metadata
// object itself ({"signature": "…", "signature-algorithm": "…"}) or what
// `aws s3api head-object` prints (its "Metadata" member). Without the
// sidecar, Validate checks a digest with the signature its successor
// records, so only the newest digest (and the last one before each gap)
// needs one; for those it asks Remote, the bucket the copy was made
// from, and when that fails too reports them SignatureUnavailable (see
// [MetadataFetcher]).
//
// Reads are confined to Dir: a key with ".." elements is not found, and
// reading through a symbolic link that leads out of Dir fails. A
// LocalCopy is safe for concurrent use.
type LocalCopy struct {
	Dir    string      // the copy's root
	Bucket string      // the bucket it is a copy of; other buckets are empty
	Keys   []PublicKey // the public keys, as ParsePublicKeys reads them
	// Remote, when set, fetches the metadata of a digest whose signature
	// neither a sidecar nor a newer digest provides: a HEAD on the same
	// key in the bucket the copy was made from.
	Remote MetadataFetcher
}

var (
	_ Source          = (*LocalCopy)(nil)
	_ Opener          = (*LocalCopy)(nil)
	_ MetadataFetcher = (*LocalCopy)(nil)
)

// ErrNoRemote is what FetchMetadata returns for a LocalCopy without a
// Remote.
var ErrNoRemote = errors.New("no source to fetch it from was given")

// FetchMetadata asks Remote for an object's metadata.
func (s *LocalCopy) FetchMetadata(ctx context.Context, o ObjectRef) (map[string]string, error) {
	if s.Remote == nil {
		return nil, ErrNoRemote
	}
	return s.Remote.FetchMetadata(ctx, o)
}

// ListDigests walks the trail's digest folder and returns the digests
// whose name time lies in [start, end] (start taken to the second, as
// validate-logs compares), oldest first.
func (s *LocalCopy) ListDigests(ctx context.Context, t Trail, start, end time.Time) ([]ObjectRef, error) {
	if t.Bucket != s.Bucket {
		return nil, nil
	}
	names := t.chain().ValidateLogsPattern()
	dir := t.chain().Folder()
	start = start.Truncate(time.Second)
	var refs []ObjectRef
	err := filepath.WalkDir(filepath.Join(s.Dir, filepath.FromSlash(dir)), func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(s.Dir, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !names.MatchString(key) {
			return nil
		}
		if te, _, ok := layout.DigestTime(key); ok && !te.Before(start) && !te.After(end) {
			refs = append(refs, ObjectRef{s.Bucket, key})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list digests in %s: %w", s.Dir, err)
	}
	slices.SortFunc(refs, func(a, b ObjectRef) int {
		ta, _, _ := layout.DigestTime(a.Key)
		tb, _, _ := layout.DigestTime(b.Key)
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return refs, nil
}

// open opens the file of an object.
func (s *LocalCopy) open(o ObjectRef) (*os.File, error) {
	name := filepath.FromSlash(o.Key)
	if o.Bucket != s.Bucket || o.Key == "" || !filepath.IsLocal(name) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, o)
	}
	f, err := os.OpenInRoot(s.Dir, name)
	if err != nil {
		return nil, dirError(o, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, dirError(o, err)
	}
	return f, nil
}

// dirError wraps err as ErrNotFound when the object is not in the copy.
func dirError(o ObjectRef, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %s", ErrNotFound, o)
	}
	return fmt.Errorf("read %s: %w", o, err)
}

// Open streams an object's file.
func (s *LocalCopy) Open(ctx context.Context, o ObjectRef) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.open(o)
}

// Get reads an object's file and its metadata sidecar (no sidecar: no
// metadata).
func (s *LocalCopy) Get(ctx context.Context, o ObjectRef) ([]byte, map[string]string, error) {
	f, err := s.Open(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", o, err)
	}
	meta := map[string]string{}
	mf, err := s.open(ObjectRef{o.Bucket, o.Key + MetaSuffix})
	if errors.Is(err, ErrNotFound) {
		return b, meta, nil
	}
	if err != nil {
		return nil, nil, err
	}
	mb, err := io.ReadAll(mf)
	mf.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("read metadata of %s: %w", o, err)
	}
	if meta, err = ParseMetadata(mb); err != nil {
		return nil, nil, fmt.Errorf("read metadata of %s: %w", o, err)
	}
	return b, meta, nil
}

// ParseMetadata reads a metadata sidecar: a JSON object of strings, or
// one with such an object under "Metadata" (as `aws s3api head-object`
// prints). Keys are lower-cased and lose any "x-amz-meta-" prefix.
func ParseMetadata(b []byte) (map[string]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("parse metadata: %w", err)
	}
	if m, ok := top["Metadata"]; ok {
		b = m
	}
	var raw map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("parse metadata: %w", err)
	}
	meta := make(map[string]string, len(raw))
	for k, v := range raw {
		k = strings.ToLower(k)
		meta[strings.TrimPrefix(k, "x-amz-meta-")] = v
	}
	return meta, nil
}

// PublicKeys returns the keys whose validity overlaps [start, end]; a
// key without validity times always does.
func (s *LocalCopy) PublicKeys(ctx context.Context, start, end time.Time) ([]PublicKey, error) {
	var out []PublicKey
	for _, k := range s.Keys {
		if (!k.ValidTo.IsZero() && k.ValidTo.Before(start)) || (!k.ValidFrom.IsZero() && k.ValidFrom.After(end)) {
			continue
		}
		out = append(out, k)
	}
	return out, ctx.Err()
}

// publicKeyJSON is one key as ListPublicKeys returns it.
type publicKeyJSON struct {
	Value             string          `json:"Value"`
	ValidityStartTime json.RawMessage `json:"ValidityStartTime,omitempty"`
	ValidityEndTime   json.RawMessage `json:"ValidityEndTime,omitempty"`
	Fingerprint       string          `json:"Fingerprint"`
}

// ParsePublicKeys reads public keys saved from ListPublicKeys: the JSON
// `aws cloudtrail list-public-keys` prints, {"PublicKeyList": [{"Value":
// base64 DER, "ValidityStartTime", "ValidityEndTime", "Fingerprint"}]}.
// Times may be epoch seconds (numbers or strings, as the API and old
// CLIs write them) or RFC 3339 strings (as CLI v2 writes them). A key
// without a Fingerprint gets the one of its bytes.
func ParsePublicKeys(b []byte) ([]PublicKey, error) {
	var f struct {
		PublicKeyList []publicKeyJSON `json:"PublicKeyList"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse public keys: %w", err)
	}
	keys := make([]PublicKey, 0, len(f.PublicKeyList))
	for i, k := range f.PublicKeyList {
		der, err := base64.StdEncoding.DecodeString(k.Value)
		if err != nil {
			return nil, fmt.Errorf("parse public keys: key %d: Value: %w", i, err)
		}
		from, err := parseKeyTime(k.ValidityStartTime)
		if err != nil {
			return nil, fmt.Errorf("parse public keys: key %d: ValidityStartTime: %w", i, err)
		}
		to, err := parseKeyTime(k.ValidityEndTime)
		if err != nil {
			return nil, fmt.Errorf("parse public keys: key %d: ValidityEndTime: %w", i, err)
		}
		fp := k.Fingerprint
		if fp == "" {
			fp = Fingerprint(der)
		}
		keys = append(keys, PublicKey{Value: der, Fingerprint: fp, ValidFrom: from, ValidTo: to})
	}
	return keys, nil
}

// parseKeyTime reads a time as ListPublicKeys results carry it.
func parseKeyTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, err
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC(), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is neither epoch seconds nor an RFC 3339 time", s)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
}

// MarshalPublicKeys writes keys as ParsePublicKeys reads them, with
// RFC 3339 times, one key per line.
func MarshalPublicKeys(keys []PublicKey) []byte {
	var b strings.Builder
	b.WriteString("{\"PublicKeyList\": [")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		j := publicKeyJSON{Value: base64.StdEncoding.EncodeToString(k.Value), Fingerprint: k.Fingerprint}
		if !k.ValidFrom.IsZero() {
			j.ValidityStartTime, _ = json.Marshal(k.ValidFrom.UTC().Format(time.RFC3339))
		}
		if !k.ValidTo.IsZero() {
			j.ValidityEndTime, _ = json.Marshal(k.ValidTo.UTC().Format(time.RFC3339))
		}
		line, _ := json.Marshal(j) // strings only
		b.WriteString("\n  ")
		b.Write(line)
	}
	b.WriteString("\n]}\n")
	return []byte(b.String())
}
