package objstore

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRelPath(t *testing.T) {
	tests := []struct{ key, want string }{
		{"a", "a"},
		{"a/b", "a%D/b"},
		{"a%D/b", "a%25D%D/b"},
		{".meta/x", "%2Emeta%D/x"},
		{"d/.tmp-1", "d%D/%2Etmp-1"},
		{"x/a.b.", "x%D/a.b."},
		{"%2E", "%252E"},
	}
	for _, tc := range tests {
		got, err := relPath(tc.key)
		if err != nil || got != tc.want {
			t.Errorf("relPath(%q) = %q, %v; want %q", tc.key, got, err, tc.want)
		}
	}
	if _, err := relPath(strings.Repeat("s", 256)); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("relPath of a 256-byte segment: err = %v, want ErrInvalidKey", err)
	}
	if _, err := relPath(strings.Repeat("s", 254) + "/x"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("relPath of a 254-byte directory segment: err = %v, want ErrInvalidKey", err)
	}
}

// FuzzRelPath checks that distinct keys never share a path, by decoding
// every path back to its key, and that no path escapes the bucket or
// takes a name reserved for the store.
func FuzzRelPath(f *testing.F) {
	for _, s := range []string{"a", "a/b", "a%D/b", ".meta", "%2E/%25", "x/.tmp-1", "ü/日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		rel, err := relPath(key)
		if err != nil {
			return
		}
		if !filepath.IsLocal(rel) {
			t.Fatalf("relPath(%q) = %q is not local", key, rel)
		}
		parts := strings.Split(rel, string(filepath.Separator))
		var segs []string
		for i, p := range parts {
			if strings.HasPrefix(p, ".") {
				t.Fatalf("relPath(%q) = %q has a dot-name", key, rel)
			}
			if i < len(parts)-1 {
				if !strings.HasSuffix(p, dirSuffix) {
					t.Fatalf("relPath(%q) = %q: directory %q lacks the suffix", key, rel, p)
				}
				p = strings.TrimSuffix(p, dirSuffix)
			} else if strings.HasSuffix(p, dirSuffix) {
				t.Fatalf("relPath(%q) = %q: file name has the directory suffix", key, rel)
			}
			segs = append(segs, segUnescaper.Replace(p))
		}
		if got := strings.Join(segs, "/"); got != key {
			t.Fatalf("relPath(%q) = %q decodes to %q", key, rel, got)
		}
	})
}

// TestFSFileAndDirectoryKeys checks what the conformance suite cannot ask
// of every S3-compatible server: "a" and "a/b" side by side.
func TestFSFileAndDirectoryKeys(t *testing.T) {
	for name, b := range map[string]Bucket{"fs": mustFS(t), "memory": NewMemory()} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			keys := []string{"a", "a/b", "a/b/c", "a-b", "a.b", "a/b-c", "a%D", "a%D/x", ".meta", ".meta/y"}
			for _, k := range keys {
				if err := b.Put(ctx, k, []byte(k), nil); err != nil {
					t.Fatalf("Put(%q): %v", k, err)
				}
			}
			for _, k := range keys {
				data, _, err := b.Get(ctx, k)
				if err != nil || string(data) != k {
					t.Errorf("Get(%q) = %q, %v", k, data, err)
				}
			}
			infos, truncated, err := b.List(ctx, "", "", 0)
			if err != nil || truncated {
				t.Fatalf("List: %v, truncated %v", err, truncated)
			}
			var got []string
			for _, in := range infos {
				got = append(got, in.Key)
			}
			want := slices.Sorted(slices.Values(keys))
			if !slices.Equal(got, want) {
				t.Errorf("List = %q, want %q", got, want)
			}
		})
	}
}

func mustFS(t *testing.T) *FS {
	t.Helper()
	b, err := OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFSSidecar(t *testing.T) {
	ctx := t.Context()
	b := mustFS(t)
	meta := map[string]string{"m": "1"}
	if err := b.PutIfAbsent(ctx, "k/obj", []byte("data"), meta); err != nil {
		t.Fatal(err)
	}
	sc := filepath.Join(b.Dir(), metaDir, "k%D", "obj")
	// A lost sidecar (a crash between link and sidecar): the object is
	// whole, its ETag computed, its metadata unknown.
	if err := os.Remove(sc); err != nil {
		t.Fatal(err)
	}
	in, err := b.Head(ctx, "k/obj")
	if err != nil || in.ETag != ETag([]byte("data")) || in.Meta != nil {
		t.Fatalf("Head without sidecar = %+v, %v", in, err)
	}
	// A replay repairs it.
	if err := b.PutIfAbsent(ctx, "k/obj", []byte("data"), meta); err != nil {
		t.Fatal(err)
	}
	if in, err := b.Head(ctx, "k/obj"); err != nil || in.Meta["m"] != "1" {
		t.Fatalf("Head after replay = %+v, %v", in, err)
	}
	// A sidecar for other bytes (a crash between sidecar and rename) is
	// ignored.
	good, err := os.ReadFile(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "k/obj", []byte("new data"), map[string]string{"m": "2"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sc, good, 0o644); err != nil {
		t.Fatal(err)
	}
	data, in, err := b.Get(ctx, "k/obj")
	if err != nil || string(data) != "new data" || in.ETag != ETag(data) || in.Meta != nil {
		t.Fatalf("Get with stale sidecar = %q, %+v, %v", data, in, err)
	}
	// Leftover temporary files are not objects.
	if err := os.WriteFile(filepath.Join(b.Dir(), "k%D", ".tmp-123"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	infos, _, err := b.List(ctx, "", "", 0)
	if err != nil || len(infos) != 1 || infos[0].Key != "k/obj" || infos[0].ETag != ETag([]byte("new data")) {
		t.Fatalf("List = %+v, %v; want only k/obj", infos, err)
	}
}
