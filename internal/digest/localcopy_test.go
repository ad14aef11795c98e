package digest_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLocalCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	copyDir := filepath.Join(dir, "copy")
	tr := corpusTrail
	at := func(h int) time.Time { return corpusT0.Add(time.Duration(h) * time.Hour) }
	keys := []string{digestKey(tr, at(1)), digestKey(tr, at(2)), digestKey(tr, at(26))}
	for _, k := range keys {
		writeFile(t, filepath.Join(copyDir, k), "digest")
	}
	bf := digestKey(tr, at(2).Add(30*time.Minute))
	bf = bf[:len(bf)-len(".json.gz")] + "_backfill.json.gz"
	writeFile(t, filepath.Join(copyDir, bf), "backfill")
	other := tr
	other.Name = "other"
	writeFile(t, filepath.Join(copyDir, digestKey(other, at(1))), "another trail's")
	writeFile(t, filepath.Join(copyDir, keys[0]+digest.MetaSuffix), `{"Metadata": {"Signature": "abc", "x-amz-meta-signature-algorithm": "SHA256withRSA"}}`)
	writeFile(t, filepath.Join(copyDir, keys[1]+digest.MetaSuffix), `{"signature": "def", "signature-algorithm": "SHA256withRSA"}`)
	writeFile(t, filepath.Join(copyDir, keys[2]+digest.MetaSuffix), `not json`)
	writeFile(t, filepath.Join(dir, "secret"), "outside the copy")

	s := &digest.LocalCopy{Dir: copyDir, Bucket: tr.Bucket}
	refs, err := s.ListDigests(ctx, tr, at(1), at(3))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.Key)
	}
	if want := []string{keys[0], keys[1], bf}; !slices.Equal(got, want) {
		t.Errorf("ListDigests = %q, want %q", got, want)
	}
	if refs, err := s.ListDigests(ctx, digest.Trail{Bucket: tr.Bucket, Account: "999999999999", SourceRegion: "x", Name: "n", HomeRegion: "x"}, at(0), at(30)); err != nil || len(refs) != 0 {
		t.Errorf("ListDigests of a trail with no folder = %v, %v", refs, err)
	}
	other.Bucket = "elsewhere"
	if refs, err := s.ListDigests(ctx, other, at(0), at(30)); err != nil || len(refs) != 0 {
		t.Errorf("ListDigests of another bucket = %v, %v", refs, err)
	}

	for i, want := range []map[string]string{
		{"signature": "abc", "signature-algorithm": "SHA256withRSA"},
		{"signature": "def", "signature-algorithm": "SHA256withRSA"},
	} {
		b, meta, err := s.Get(ctx, digest.ObjectRef{Bucket: tr.Bucket, Key: keys[i]})
		if err != nil || string(b) != "digest" || !maps.Equal(meta, want) {
			t.Errorf("Get(%d) = %q, %v, %v; want metadata %v", i, b, meta, err, want)
		}
	}
	if _, _, err := s.Get(ctx, digest.ObjectRef{Bucket: tr.Bucket, Key: keys[2]}); err == nil || errors.Is(err, digest.ErrNotFound) {
		t.Errorf("Get with a bad sidecar = %v, want a read error", err)
	}
	if _, meta, err := s.Get(ctx, digest.ObjectRef{Bucket: tr.Bucket, Key: bf}); err != nil || len(meta) != 0 {
		t.Errorf("Get without a sidecar = %v, %v; want no metadata", meta, err)
	}
	rc, err := s.Open(ctx, digest.ObjectRef{Bucket: tr.Bucket, Key: bf})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(rc); string(b) != "backfill" {
		t.Errorf("Open read %q", b)
	}
	rc.Close()

	if err := os.Symlink(filepath.Join(dir, "secret"), filepath.Join(copyDir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../secret", "/etc/passwd", "corp", "", "missing/file", keys[0] + "/below-a-file"} {
		if _, _, err := s.Get(ctx, digest.ObjectRef{Bucket: tr.Bucket, Key: key}); !errors.Is(err, digest.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		}
	}
	if _, _, err := s.Get(ctx, digest.ObjectRef{Bucket: "elsewhere", Key: keys[0]}); !errors.Is(err, digest.ErrNotFound) {
		t.Errorf("Get from another bucket = %v, want ErrNotFound", err)
	}
	if b, _, err := s.Get(ctx, digest.ObjectRef{Bucket: tr.Bucket, Key: "link"}); err == nil {
		t.Errorf("Get through a symbolic link out of the copy read %q", b)
	}

	s.Keys = corpusKeysAt()
	for _, c := range []struct {
		from, to time.Time
		want     int
	}{
		{corpusT0, corpusT0.Add(time.Hour), 1},
		{corpusT0, corpusT0.Add(6 * time.Hour), 2},
		{corpusT0.Add(-48 * time.Hour), corpusT0.Add(-25 * time.Hour), 0},
	} {
		if keys, err := s.PublicKeys(ctx, c.from, c.to); err != nil || len(keys) != c.want {
			t.Errorf("PublicKeys(%s, %s) = %d keys, %v; want %d", c.from, c.to, len(keys), err, c.want)
		}
	}
}

func corpusKeysAt() []digest.PublicKey {
	return []digest.PublicKey{
		{Fingerprint: "a", ValidFrom: corpusT0.Add(-24 * time.Hour), ValidTo: corpusRotation},
		{Fingerprint: "b", ValidFrom: corpusRotation, ValidTo: corpusT0.Add(30 * 24 * time.Hour)},
	}
}
