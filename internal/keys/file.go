package keys

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opentrail/opentrail/internal/digest"
)

// openFile keeps the ring in the key file k.opts.File: it moves a ring
// still in the store there, refuses a ring in both places, refuses a key
// file that is not this store's, and starts a missing file only when the
// store never had keys kept outside it (or NewRing says to).
func (k *Keys) openFile(ctx context.Context, stored []byte, rec *record) (backend, error) {
	path := k.opts.File
	data, err := ReadKeyFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var ring *digest.KeyRing
	switch {
	case err == nil:
		if ring, err = k.decode(data); err != nil {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
		if len(stored) > 0 {
			if err := k.finishMove(ctx, ring, stored); err != nil {
				return nil, err
			}
		}
		if miss := rec.missing(fingerprints(ring.Keys)); len(miss) > 0 {
			if len(miss) == len(rec.Keys) {
				return nil, fmt.Errorf("the key file %s holds none of the keys this event store's digests were signed with (%s): it is not this store's key file; configure the right one (the store's keys were %s)",
					path, fingerprintList(miss), rec.where())
			}
			if !k.opts.NewRing {
				return nil, fmt.Errorf("the key file %s lacks %d of the keys this event store's digests were signed with (%s), made after the others it holds: "+
					"is it a backup from before they were made? Restore a newer one; or, to go on with new keys, start with keys.new_ring (serve --keys-new-ring): "+
					"the missing keys' public halves stay listed, new digests are signed with new keys",
					path, len(miss), fingerprintList(miss))
			}
			if err := k.restartRing(ring, rec, miss); err != nil {
				return nil, err
			}
			if err := WriteKeyFile(path, ring.Encode()); err != nil {
				return nil, err
			}
		}
	case len(stored) > 0:
		if ring, err = k.decode(stored); err != nil {
			return nil, err
		}
		if err := WriteKeyFile(path, ring.Encode()); err != nil {
			return nil, err
		}
		if err := writeRecord(ctx, k.meta, keptInFile, path, ring.Keys); err != nil {
			return nil, err
		}
		if err := k.meta.DeleteMeta(ctx, MetaKey); err != nil {
			return nil, err
		}
		k.log.Info("moved the digest signing keys from the event store into the key file; back it up, the store no longer holds them",
			"file", path, "keys", len(ring.Keys))
	case rec != nil && !k.opts.NewRing:
		return nil, fmt.Errorf("the key file %s does not exist, but this event store's digests were signed with keys kept %s (%d keys, newest %s): "+
			"restore the key file from its backup; or, to sign from now on with new keys, start a new ring with keys.new_ring (serve --keys-new-ring): "+
			"the old public keys stay listed, but digests of periods before now can no longer be signed",
			path, rec.where(), len(rec.Keys), rec.newest())
	case rec != nil:
		ring = &digest.KeyRing{Rotation: k.opts.Rotation, Generate: k.opts.Generate}
		var all []string
		for _, key := range rec.Keys {
			all = append(all, key.Fingerprint)
		}
		if err := k.restartRing(ring, rec, all); err != nil {
			return nil, err
		}
		if err := WriteKeyFile(path, ring.Encode()); err != nil {
			return nil, err
		}
	default:
		ring = &digest.KeyRing{Rotation: k.opts.Rotation, Generate: k.opts.Generate}
		if err := WriteKeyFile(path, ring.Encode()); err != nil {
			return nil, err
		}
		k.log.Info("created the digest signing key file; back it up: without it this store's digests cannot be signed", "file", path)
	}
	if err := writeRecord(ctx, k.meta, keptInFile, path, ring.Keys); err != nil {
		return nil, err
	}
	return &ringBackend{ring: ring, save: func(ctx context.Context, r *digest.KeyRing) error {
		if err := WriteKeyFile(path, r.Encode()); err != nil {
			return err
		}
		return writeRecord(ctx, k.meta, keptInFile, path, r.Keys)
	}}, nil
}

// restartRing adds the public halves of the record's keys named in miss
// to ring (their private halves are lost) and rotates each of their
// regions now, so new digests are signed with new keys.
func (k *Keys) restartRing(ring *digest.KeyRing, rec *record, miss []string) error {
	lost := map[string]bool{}
	for _, fp := range miss {
		lost[fp] = true
	}
	// The record has the keys' windows as they last were (a stale file
	// does not know its newest key was retired early by a rotation).
	windows := map[string]digest.Key{}
	for _, key := range rec.Keys {
		windows[key.Fingerprint] = key
	}
	for i := range ring.Keys {
		if w, ok := windows[ring.Keys[i].Fingerprint]; ok {
			ring.Keys[i].ValidFrom, ring.Keys[i].ValidTo = w.ValidFrom, w.ValidTo
		}
	}
	var affected []digest.Key
	for _, key := range rec.Keys {
		if lost[key.Fingerprint] {
			key.Private = nil
			ring.Keys = append(ring.Keys, key)
			affected = append(affected, key)
		}
	}
	now := k.opts.Clock.Now()
	for _, region := range regions(affected) {
		if region == "" {
			continue
		}
		if _, err := ring.Rotate(region, now); err != nil {
			return fmt.Errorf("start new keys: %w", err)
		}
	}
	k.log.Warn("started new digest signing keys: the private halves of some of this store's keys are missing; their public keys stay listed, new digests are signed with new keys",
		"file", k.opts.File, "missing", len(miss), "earlier", rec.where())
	return nil
}

// finishMove handles a ring both in the key file and in the store: a move
// interrupted after the file was written (the store's keys are all in
// the file, with their private halves) is finished; anything else is
// refused, since one of the two would be lost.
func (k *Keys) finishMove(ctx context.Context, file *digest.KeyRing, stored []byte) error {
	old, err := digest.DecodeKeyRing(stored)
	if err != nil {
		return err
	}
	inFile := map[string]string{}
	for _, key := range file.Keys {
		inFile[key.Fingerprint] = string(key.Private)
	}
	for _, key := range old.Keys {
		if p, ok := inFile[key.Fingerprint]; !ok || p != string(key.Private) {
			return fmt.Errorf("digest signing keys are both in the key file %s and in the event store (meta %s), and they differ (key %s): "+
				"opentrail will not choose; keep the one the trails' digests were signed with: move the other key file away, "+
				"or start once without keys.file to use the store's ring",
				k.opts.File, MetaKey, key.Fingerprint)
		}
	}
	if err := writeRecord(ctx, k.meta, keptInFile, k.opts.File, file.Keys); err != nil {
		return err
	}
	if err := k.meta.DeleteMeta(ctx, MetaKey); err != nil {
		return err
	}
	k.log.Info("finished moving the digest signing keys into the key file; the store no longer holds them", "file", k.opts.File)
	return nil
}

func fingerprints(keys []digest.Key) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k.Fingerprint] = true
	}
	return m
}

func regions(keys []digest.Key) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[k.Region] {
			seen[k.Region] = true
			out = append(out, k.Region)
		}
	}
	return out
}

// ReadKeyFile reads a key file, refusing one that its group or others may
// read or write (the private signing keys are in it). A missing file is
// an error that wraps fs.ErrNotExist.
func ReadKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s is open to its group or others (mode %04o), and it holds the private digest signing keys: run chmod 600 %s (and consider whether they were copied meanwhile: then rotate the keys)",
			path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return b, nil
}

// WriteKeyFile replaces the key file at path with data, owner-only and
// atomically: a temporary file in the same directory is written, synced,
// renamed over path, and the directory synced, so a crash leaves the old
// file or the new one. A missing directory is made, owner-only.
func WriteKeyFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write key file: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write key file: sync %s: %w", dir, err)
	}
	return nil
}
