package objstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// FS is a Bucket stored in one directory of the local filesystem, the
// embedded default. A store with several buckets gives each bucket its own
// directory.
//
// # Layout
//
// An object's bytes live, unchanged, in a regular file whose path mirrors
// the key: each "/"-separated segment but the last names a directory, the
// last names the file. Segments are escaped so that no key can be confused
// with anything else on disk: '%' becomes "%25", a leading '.' becomes
// "%2E", and directory names get the suffix "%D". So the keys "a" and "a/b"
// are the file "a" and the file "a%D/b", and may exist side by side as in
// S3. No escaped name starts with '.', which leaves dot-names to the store:
// temporary files (".tmp-*", next to their final name) and the sidecar tree
// ".meta", which mirrors the object tree with one small JSON file per
// object holding its ETag and user metadata.
//
// # Durability
//
// A write goes to a temporary file in the object's directory, which is
// fsynced, then renamed (Put) or hard-linked (PutIfAbsent, whose link fails
// if the name is taken, which makes it race-free) to its final name, and
// the directory is fsynced. Directories created on the way are fsynced
// into their parents. A sidecar records the inode, size and modification
// time of the data file it describes; a sidecar that does not match its
// data file (a crash between the two writes, or a concurrent overwrite) is
// ignored: the ETag is then computed from the bytes and Meta is nil. A
// PutIfAbsent replay with identical bytes repairs such a sidecar.
//
// A segment must fit the file-name limit of 255 bytes once escaped
// (directories: with the suffix); longer segments are refused with
// ErrInvalidKey.
type FS struct {
	dir string
}

var _ Bucket = (*FS)(nil)

const (
	metaDir    = ".meta"
	tmpPattern = ".tmp-*"
	dirSuffix  = "%D"
	maxName    = 255
)

// OpenFS opens the bucket stored in dir, creating the directory if needed.
func OpenFS(dir string) (*FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open fs bucket %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, metaDir), 0o700); err != nil {
		return nil, fmt.Errorf("open fs bucket %s: %w", dir, err)
	}
	return &FS{dir: abs}, nil
}

// Dir returns the bucket's directory.
func (f *FS) Dir() string { return f.dir }

var segUnescaper = strings.NewReplacer("%25", "%", "%2E", ".")

func escapeSeg(seg string) string {
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c == '%':
			b.WriteString("%25")
		case c == '.' && i == 0:
			b.WriteString("%2E")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// relPath returns the path of key's data file relative to the bucket
// directory (and of its sidecar relative to the sidecar tree).
func relPath(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	segs := strings.Split(key, "/")
	parts := make([]string, len(segs))
	for i, s := range segs {
		e := escapeSeg(s)
		if i < len(segs)-1 {
			e += dirSuffix
		}
		if len(e) > maxName {
			return "", fmt.Errorf("validate key %q: segment %d is %d bytes on disk, longer than %d: %w",
				truncate(key), i+1, len(e), maxName, ErrInvalidKey)
		}
		parts[i] = e
	}
	return filepath.Join(parts...), nil
}

// sidecar is the JSON content of a metadata file.
type sidecar struct {
	Ino   uint64            `json:"ino"`
	Size  int64             `json:"size"`
	MTime int64             `json:"mtime"` // Unix nanoseconds
	ETag  string            `json:"etag"`
	Meta  map[string]string `json:"meta,omitempty"`
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

func (s *sidecar) matches(fi fs.FileInfo) bool {
	return s != nil && s.Ino == inode(fi) && s.Size == fi.Size() && s.MTime == fi.ModTime().UnixNano()
}

func newSidecar(fi fs.FileInfo, etag string, meta map[string]string) *sidecar {
	return &sidecar{Ino: inode(fi), Size: fi.Size(), MTime: fi.ModTime().UnixNano(), ETag: etag, Meta: meta}
}

// syncDir fsyncs a directory so that entries created in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// mkdirs creates dir and its missing parents up to the bucket directory,
// fsyncing each parent that gained an entry.
func mkdirs(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if err := mkdirs(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// writeTemp writes data to a new fsynced temporary file in dir and returns
// its path and description.
func writeTemp(dir string, data []byte) (string, fs.FileInfo, error) {
	if err := mkdirs(dir); err != nil {
		return "", nil, err
	}
	t, err := os.CreateTemp(dir, tmpPattern)
	if err != nil {
		return "", nil, err
	}
	fail := func(err error) (string, fs.FileInfo, error) {
		t.Close()
		os.Remove(t.Name())
		return "", nil, err
	}
	if _, err := t.Write(data); err != nil {
		return fail(err)
	}
	if err := t.Chmod(0o600); err != nil {
		return fail(err)
	}
	if err := t.Sync(); err != nil {
		return fail(err)
	}
	fi, err := t.Stat()
	if err != nil {
		return fail(err)
	}
	if err := t.Close(); err != nil {
		os.Remove(t.Name())
		return "", nil, err
	}
	return t.Name(), fi, nil
}

// writeSidecar atomically replaces the sidecar at rel.
func (f *FS) writeSidecar(rel string, sc *sidecar) error {
	b, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	final := filepath.Join(f.dir, metaDir, rel)
	tmp, _, err := writeTemp(filepath.Dir(final), b)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(final))
}

// readSidecar returns the sidecar at rel, or nil if it is missing or
// unreadable (which the caller treats as "no sidecar").
func (f *FS) readSidecar(rel string) *sidecar {
	b, err := os.ReadFile(filepath.Join(f.dir, metaDir, rel))
	if err != nil {
		return nil
	}
	var sc sidecar
	if json.Unmarshal(b, &sc) != nil {
		return nil
	}
	return &sc
}

// stage checks a write and puts its bytes in a synced temporary file
// beside the final name; both writes start here.
func (f *FS) stage(ctx context.Context, key string, data []byte, meta map[string]string) (rel, final, tmp string, fi fs.FileInfo, nm map[string]string, err error) {
	if rel, err = relPath(key); err != nil {
		return
	}
	if nm, err = normalizeMeta(meta); err != nil {
		err = fmt.Errorf("put %q: %w", key, err)
		return
	}
	if err = ctx.Err(); err != nil {
		err = fmt.Errorf("put %q: %w", key, err)
		return
	}
	final = filepath.Join(f.dir, rel)
	if tmp, fi, err = writeTemp(filepath.Dir(final), data); err != nil {
		err = fmt.Errorf("put %q: %w", key, err)
	}
	return
}

// Put implements Bucket.
func (f *FS) Put(ctx context.Context, key string, data []byte, meta map[string]string) error {
	rel, final, tmp, fi, nm, err := f.stage(ctx, key, data, meta)
	if err != nil {
		return err
	}
	// The sidecar goes first: until the rename it does not match the data
	// file in place and is ignored, so a crash leaves the old object whole.
	if err := f.writeSidecar(rel, newSidecar(fi, ETag(data), nm)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %q: write metadata: %w", key, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// PutIfAbsent implements Bucket.
func (f *FS) PutIfAbsent(ctx context.Context, key string, data []byte, meta map[string]string) error {
	rel, final, tmp, fi, nm, err := f.stage(ctx, key, data, meta)
	if err != nil {
		return err
	}
	lerr := os.Link(tmp, final)
	os.Remove(tmp)
	if lerr != nil {
		if !errors.Is(lerr, fs.ErrExist) {
			return fmt.Errorf("put %q: %w", key, lerr)
		}
		old, ofi, err := readFile(final)
		if err != nil {
			return fmt.Errorf("put %q: read existing object: %w", key, err)
		}
		if !bytes.Equal(old, data) {
			return fmt.Errorf("put %q: %w", key, ErrExists)
		}
		if !f.readSidecar(rel).matches(ofi) {
			if err := f.writeSidecar(rel, newSidecar(ofi, ETag(data), nm)); err != nil {
				return fmt.Errorf("put %q: repair metadata: %w", key, err)
			}
		}
		return nil
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	// The link kept the temporary file's inode, size and time, so fi
	// describes the object now in place.
	if err := f.writeSidecar(rel, newSidecar(fi, ETag(data), nm)); err != nil {
		return fmt.Errorf("put %q: write metadata: %w", key, err)
	}
	return nil
}

// readFile reads a whole file and describes the file it read.
func readFile(path string) ([]byte, fs.FileInfo, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fs.ErrNotExist
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(fh, data); err != nil {
		return nil, nil, err
	}
	return data, fi, nil
}

func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Get implements Bucket.
func (f *FS) Get(ctx context.Context, key string) ([]byte, *Info, error) {
	rel, err := relPath(key)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("get %q: %w", key, err)
	}
	data, fi, err := readFile(filepath.Join(f.dir, rel))
	if notFound(err) {
		return nil, nil, fmt.Errorf("get %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get %q: %w", key, err)
	}
	in := Info{Key: key, Size: fi.Size(), Modified: fi.ModTime().UTC()}
	if sc := f.readSidecar(rel); sc.matches(fi) {
		in.ETag, in.Meta = sc.ETag, cloneMeta(sc.Meta)
	} else {
		in.ETag = ETag(data)
	}
	return data, &in, nil
}

// info describes the object at rel, whose data file is described by fi.
func (f *FS) info(key, rel string, fi fs.FileInfo, withMeta bool) (Info, error) {
	in := Info{Key: key, Size: fi.Size(), Modified: fi.ModTime().UTC()}
	if sc := f.readSidecar(rel); sc.matches(fi) {
		in.ETag = sc.ETag
		if withMeta {
			in.Meta = cloneMeta(sc.Meta)
		}
		return in, nil
	}
	data, _, err := readFile(filepath.Join(f.dir, rel))
	if err != nil {
		return Info{}, err
	}
	in.ETag = ETag(data)
	return in, nil
}

// Head implements Bucket.
func (f *FS) Head(ctx context.Context, key string) (*Info, error) {
	rel, err := relPath(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("head %q: %w", key, err)
	}
	fi, err := os.Stat(filepath.Join(f.dir, rel))
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err == nil {
		var in Info
		if in, err = f.info(key, rel, fi, true); err == nil {
			return &in, nil
		}
	}
	if notFound(err) {
		return nil, fmt.Errorf("head %q: %w", key, ErrNotFound)
	}
	return nil, fmt.Errorf("head %q: %w", key, err)
}

var errStop = errors.New("stop")

// List implements Bucket. It walks only the directory named by the part
// of prefix up to its last '/', visits each directory's entries in key
// order, and skips subtrees whose keys all sort before startAfter, so a
// page costs about what it returns.
func (f *FS) List(ctx context.Context, prefix, startAfter string, limit int) ([]Info, bool, error) {
	l := lister{f: f, ctx: ctx, prefix: prefix, startAfter: startAfter, limit: checkList(limit)}
	base, rel := "", ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		base = prefix[:i+1]
		// Walk from the deepest directory that the prefix names fully.
		r, err := relPath(base + "x")
		if err != nil {
			return nil, false, nil // no valid key has this prefix
		}
		rel = filepath.Dir(r)
		if rel == "." {
			rel = ""
		}
	}
	err := l.walk(base, rel)
	if err != nil && err != errStop {
		return nil, false, fmt.Errorf("list %q: %w", prefix, err)
	}
	return l.out, l.truncated, nil
}

type lister struct {
	f                  *FS
	ctx                context.Context
	prefix, startAfter string
	limit              int
	out                []Info
	truncated          bool
}

type dirEntry struct {
	key   string // the object's key, or the key prefix ending in '/' of a directory
	name  string
	isDir bool
}

func (l *lister) walk(base, rel string) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	des, err := os.ReadDir(filepath.Join(l.f.dir, rel))
	if notFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ents := make([]dirEntry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		switch {
		case de.IsDir() && strings.HasSuffix(name, dirSuffix):
			seg := segUnescaper.Replace(strings.TrimSuffix(name, dirSuffix))
			ents = append(ents, dirEntry{key: base + seg + "/", name: name, isDir: true})
		case de.Type().IsRegular():
			ents = append(ents, dirEntry{key: base + segUnescaper.Replace(name), name: name})
		}
	}
	// Sorting a directory's files by key and its subdirectories by key
	// prefix gives global key order: every key below "x/" sorts against a
	// sibling exactly as "x/" does.
	slices.SortFunc(ents, func(a, b dirEntry) int { return strings.Compare(a.key, b.key) })
	for _, e := range ents {
		if e.isDir {
			inPrefix := strings.HasPrefix(e.key, l.prefix) || strings.HasPrefix(l.prefix, e.key)
			before := e.key <= l.startAfter && !strings.HasPrefix(l.startAfter, e.key)
			if !inPrefix || before {
				continue
			}
			if err := l.walk(e.key, filepath.Join(rel, e.name)); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(e.key, l.prefix) || e.key <= l.startAfter {
			continue
		}
		if len(l.out) == l.limit {
			l.truncated = true
			return errStop
		}
		r := filepath.Join(rel, e.name)
		fi, err := os.Stat(filepath.Join(l.f.dir, r))
		if notFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		in, err := l.f.info(e.key, r, fi, false)
		if notFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		l.out = append(l.out, in)
	}
	return nil
}
