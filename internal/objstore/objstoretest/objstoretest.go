// Package objstoretest is the conformance suite for objstore.Bucket: every
// implementation runs the same checks through Run.
package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/objstore"
)

// Run checks that the buckets newBucket returns keep the objstore.Bucket
// contract. newBucket is called once per subtest and must return an empty
// bucket; it may register cleanups with t.
func Run(t *testing.T, newBucket func(t *testing.T) objstore.Bucket) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b objstore.Bucket)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentConcurrent", testPutIfAbsentConcurrent},
		{"NotFound", testNotFound},
		{"InvalidKey", testInvalidKey},
		{"InvalidMeta", testInvalidMeta},
		{"ListEmpty", testListEmpty},
		{"List", testList},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newBucket(t))
		})
	}
}

func metaEqual(a, b map[string]string) bool {
	return len(a) == 0 && len(b) == 0 || maps.Equal(a, b)
}

// checkObject checks that key holds data and meta through Get and Head.
func checkObject(t *testing.T, b objstore.Bucket, key string, data []byte, meta map[string]string, since time.Time) {
	t.Helper()
	ctx := t.Context()
	got, in, err := b.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("Get(%q) = %d bytes %.40q, want %d bytes %.40q", key, len(got), got, len(data), data)
	}
	hin, err := b.Head(ctx, key)
	if err != nil {
		t.Fatalf("Head(%q): %v", key, err)
	}
	for _, c := range []struct {
		op string
		in *objstore.Info
	}{{"Get", in}, {"Head", hin}} {
		if c.in.Key != key {
			t.Errorf("%s(%q).Key = %q", c.op, key, c.in.Key)
		}
		if c.in.Size != int64(len(data)) {
			t.Errorf("%s(%q).Size = %d, want %d", c.op, key, c.in.Size, len(data))
		}
		if want := objstore.ETag(data); c.in.ETag != want {
			t.Errorf("%s(%q).ETag = %q, want %q", c.op, key, c.in.ETag, want)
		}
		// Servers keep whole seconds; allow for that and for clock steps.
		if c.in.Modified.Before(since.Add(-2*time.Second)) || c.in.Modified.After(time.Now().Add(2*time.Second)) {
			t.Errorf("%s(%q).Modified = %v, want between %v and now", c.op, key, c.in.Modified, since)
		}
		if !metaEqual(c.in.Meta, meta) {
			t.Errorf("%s(%q).Meta = %v, want %v", c.op, key, c.in.Meta, meta)
		}
	}
}

func testRoundTrip(t *testing.T, b objstore.Bucket) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := make([]byte, 3<<20+17)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	longKey := strings.Repeat(strings.Repeat("k", 199)+"/", 5)
	longKey += strings.Repeat("z", objstore.MaxKeyLen-len(longKey))
	tests := []struct {
		name     string
		key      string
		data     []byte
		meta     map[string]string
		wantMeta map[string]string
	}{
		{"text", "a/b/c.json", []byte(`{"Records":[]}`), nil, nil},
		{"empty", "empty", []byte{}, nil, nil},
		{"binary", "bin/all-bytes", all, nil, nil},
		{"large", "bin/large", big, nil, nil},
		{"meta", "meta/obj", []byte("x"),
			map[string]string{"Trail-Name": "t1", "digest": "abc 123"},
			map[string]string{"trail-name": "t1", "digest": "abc 123"}},
		{"empty meta map", "meta/empty", []byte("y"), map[string]string{}, nil},
		{"spaces", "dir with space/file name.txt", []byte("s"), nil, nil},
		{"unicode", "ünïcödé/日本語/ファイル 😀.json", []byte("u"), nil, nil},
		{"punctuation", "p/a+b=c&d;e,f@g$h!i'j(k)l*m~n%20o#p", []byte("p"), nil, nil},
		{"leading dot segment", "d/.hidden", []byte("h"), nil, nil},
		{"longest key", longKey, []byte("l"), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			since := time.Now()
			if err := b.Put(t.Context(), tc.key, tc.data, tc.meta); err != nil {
				t.Fatalf("Put(%q): %v", tc.key, err)
			}
			checkObject(t, b, tc.key, tc.data, tc.wantMeta, since)
		})
	}
}

func testOverwrite(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	since := time.Now()
	if err := b.Put(ctx, "k", []byte("first version"), map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "k", []byte("second"), map[string]string{"v": "2", "w": "x"}); err != nil {
		t.Fatal(err)
	}
	checkObject(t, b, "k", []byte("second"), map[string]string{"v": "2", "w": "x"}, since)
	if err := b.Put(ctx, "k", []byte("third, longer than the others"), nil); err != nil {
		t.Fatal(err)
	}
	checkObject(t, b, "k", []byte("third, longer than the others"), nil, since)
	if err := b.Put(ctx, "k", nil, nil); err != nil {
		t.Fatal(err)
	}
	checkObject(t, b, "k", nil, nil, since)
}

func testPutIfAbsent(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	since := time.Now()
	key := "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/26/file.json.gz"
	data := []byte("delivered once")
	meta := map[string]string{"trail": "t"}
	if err := b.PutIfAbsent(ctx, key, data, meta); err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	checkObject(t, b, key, data, meta, since)
	// A replay with identical bytes succeeds, whatever its metadata.
	if err := b.PutIfAbsent(ctx, key, data, nil); err != nil {
		t.Fatalf("identical PutIfAbsent: %v", err)
	}
	err := b.PutIfAbsent(ctx, key, []byte("something else"), meta)
	if !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("different PutIfAbsent: err = %v, want ErrExists", err)
	}
	if errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("different PutIfAbsent: err %v also matches ErrNotFound", err)
	}
	checkObject(t, b, key, data, meta, since)
	// Same length, different bytes.
	if err := b.PutIfAbsent(ctx, key, []byte("delivered twice"), nil); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("same-size PutIfAbsent: err = %v, want ErrExists", err)
	}
	// An object written by Put counts too; so does an empty one.
	if err := b.Put(ctx, "put", []byte("p"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.PutIfAbsent(ctx, "put", []byte("p"), nil); err != nil {
		t.Fatalf("PutIfAbsent over identical Put: %v", err)
	}
	if err := b.PutIfAbsent(ctx, "empty", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.PutIfAbsent(ctx, "empty", []byte{}, nil); err != nil {
		t.Fatalf("PutIfAbsent of empty object again: %v", err)
	}
	if err := b.PutIfAbsent(ctx, "empty", []byte("x"), nil); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("PutIfAbsent over empty object: err = %v, want ErrExists", err)
	}
	checkObject(t, b, "empty", nil, nil, since)
}

func testPutIfAbsentConcurrent(t *testing.T, b objstore.Bucket) {
	const (
		keys     = 4
		writers  = 12
		variants = 3
	)
	ctx := t.Context()
	for k := range keys {
		key := fmt.Sprintf("race/%d/file.json.gz", k)
		content := func(w int) []byte {
			return fmt.Appendf(nil, "key %d content %d %s", k, w%variants, strings.Repeat("x", 1000*(w%variants)))
		}
		errs := make([]error, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				<-start
				errs[w] = b.PutIfAbsent(ctx, key, content(w), map[string]string{"writer": fmt.Sprint(w)})
			})
		}
		close(start)
		wg.Wait()
		got, _, err := b.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q) after race: %v", key, err)
		}
		winner := -1
		for v := range variants {
			if bytes.Equal(got, content(v)) {
				winner = v
			}
		}
		if winner < 0 {
			t.Fatalf("%s holds %.40q, which no writer wrote", key, got)
		}
		for w, err := range errs {
			switch {
			case w%variants == winner && err != nil:
				t.Errorf("%s: writer %d wrote the winning content but got %v", key, w, err)
			case w%variants != winner && !errors.Is(err, objstore.ErrExists):
				t.Errorf("%s: writer %d lost (content %d won) but got %v, want ErrExists", key, w, winner, err)
			}
		}
	}
}

func testNotFound(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	if err := b.Put(ctx, "dir/sub/obj", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"missing", "dir", "dir/sub", "dir/sub/obj/deeper", "dir/sub/ob", "dir/sub/obj2", "Dir/sub/obj"} {
		if _, _, err := b.Get(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Get(%q): err = %v, want ErrNotFound", key, err)
		}
		if _, err := b.Head(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Head(%q): err = %v, want ErrNotFound", key, err)
		}
	}
}

func testInvalidKey(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	bad := []string{
		"",
		"/leading",
		"a//b",
		"trailing/",
		"..",
		"../escape",
		"a/../b",
		"a/..",
		".",
		"a/./b",
		"bad\xffutf8",
		"nul\x00byte",
		strings.Repeat("a/", objstore.MaxKeyLen/2) + "x",
	}
	for _, key := range bad {
		if err := objstore.ValidateKey(key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("ValidateKey(%.40q) = %v, want ErrInvalidKey", key, err)
		}
		if err := b.Put(ctx, key, []byte("x"), nil); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Put(%.40q): err = %v, want ErrInvalidKey", key, err)
		}
		if err := b.PutIfAbsent(ctx, key, []byte("x"), nil); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("PutIfAbsent(%.40q): err = %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := b.Get(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Get(%.40q): err = %v, want ErrInvalidKey", key, err)
		}
		if _, err := b.Head(ctx, key); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Head(%.40q): err = %v, want ErrInvalidKey", key, err)
		}
	}
	infos, _, err := b.List(ctx, "", "", 0)
	if err != nil || len(infos) != 0 {
		t.Errorf("List after refused writes = %v, %v; want nothing", infos, err)
	}
	for _, key := range []string{"a..b", "..a/b", "a/b..", "...", "a/.b", "x/%2E%2E/y"} {
		if err := b.Put(ctx, key, []byte(key), nil); err != nil {
			t.Errorf("Put(%q): %v", key, err)
			continue
		}
		checkObject(t, b, key, []byte(key), nil, time.Now().Add(-time.Minute))
	}
}

func testInvalidMeta(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	for _, meta := range []map[string]string{
		{"": "v"},
		{"with space": "v"},
		{"under_score": "v"},
		{"k": "line\nbreak"},
		{"k": "non-ascii é"},
		{"k": " padded "},
		{"Dup": "1", "dup": "2"},
	} {
		if err := b.Put(ctx, "k", []byte("x"), meta); !errors.Is(err, objstore.ErrInvalidMeta) {
			t.Errorf("Put with meta %q: err = %v, want ErrInvalidMeta", meta, err)
		}
		if err := b.PutIfAbsent(ctx, "k", []byte("x"), meta); !errors.Is(err, objstore.ErrInvalidMeta) {
			t.Errorf("PutIfAbsent with meta %q: err = %v, want ErrInvalidMeta", meta, err)
		}
	}
	if _, err := b.Head(ctx, "k"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head after refused writes: err = %v, want ErrNotFound", err)
	}
}

func testListEmpty(t *testing.T, b objstore.Bucket) {
	for _, prefix := range []string{"", "a", "a/"} {
		infos, truncated, err := b.List(t.Context(), prefix, "", 0)
		if err != nil || len(infos) != 0 || truncated {
			t.Errorf("List(%q) of empty bucket = %v, %v, %v", prefix, infos, truncated, err)
		}
	}
}

// listKeys returns the keys testList stores: a CloudTrail-like tree plus
// keys whose byte order differs from a per-directory walk.
func listKeys() []string {
	var keys []string
	for _, acct := range []string{"111111111111", "222222222222"} {
		for _, region := range []string{"eu-west-1", "us-east-1", "us-east-2"} {
			for day := 1; day <= 4; day++ {
				for n := range 48 {
					keys = append(keys, fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/2026/11/%02d/%s_CloudTrail_%s_20261126T%02d%02dZ_%03d.json.gz",
						acct, region, day, acct, region, n/12, n%12*5, n))
				}
			}
		}
	}
	keys = append(keys,
		// "-" and " " sort before "/", so these sort between "x/y" and
		// "x/y/…" although a directory walk sorted by name would not.
		"x/y z", "x/y-z", "x/y.z", "x/y0", "x/y/a", "x/y/b/c", "x/yy", "x/y~",
		"space dir/a file", "space dir/b file", "spacedir/x",
		"ünïcödé/日本語/ファイル", "ünïcödé/日本語/ファイル2", "ünïcödé/ascii", "unicode/plain",
		"emoji/😀", "emoji/😀😀", "emoji/a",
		"pct/%", "pct/%25", "pct/%2E", "pct/a%D", "pct/b%D/c", "pct/.dot",
		"Upper/x", "lower/x", "z", "zz/z", "~tilde",
	)
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("flat/%d", i))
	}
	slices.Sort(keys)
	return keys
}

func testList(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	keys := listKeys()
	if len(keys) < 1200 {
		t.Fatalf("only %d keys", len(keys))
	}
	body := func(k string) []byte { return []byte("body of " + k) }
	putAll(t, b, keys, body)

	// want returns the keys List(prefix, startAfter) must page through.
	want := func(prefix, startAfter string) []string {
		var out []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) && k > startAfter {
				out = append(out, k)
			}
		}
		return out
	}
	// page lists with the given limit until List reports no truncation,
	// checking every page.
	page := func(t *testing.T, prefix, startAfter string, limit int) {
		t.Helper()
		exp := want(prefix, startAfter)
		pageMax := limit
		if pageMax <= 0 {
			pageMax = objstore.DefaultListLimit
		}
		var got []string
		after := startAfter
		for calls := 0; ; calls++ {
			if calls > len(keys)+1 {
				t.Fatalf("List(%q, %q, %d) does not end", prefix, startAfter, limit)
			}
			infos, truncated, err := b.List(ctx, prefix, after, limit)
			if err != nil {
				t.Fatalf("List(%q, %q, %d): %v", prefix, after, limit, err)
			}
			if len(infos) > pageMax {
				t.Fatalf("List(%q, %q, %d) returned %d objects", prefix, after, limit, len(infos))
			}
			for _, in := range infos {
				data := body(in.Key)
				if in.Size != int64(len(data)) || in.ETag != objstore.ETag(data) || in.Modified.IsZero() {
					t.Errorf("List: %q has Size %d ETag %q Modified %v; want %d %q and a time",
						in.Key, in.Size, in.ETag, in.Modified, len(data), objstore.ETag(data))
				}
				got = append(got, in.Key)
			}
			if !truncated {
				break
			}
			if len(infos) < pageMax {
				t.Fatalf("List(%q, %q, %d) truncated after %d objects", prefix, after, limit, len(infos))
			}
			after = infos[len(infos)-1].Key
		}
		if !slices.Equal(got, exp) {
			t.Errorf("List(%q, %q, %d) paged through %d keys, want %d\n got %.10q\nwant %.10q\nfirst difference: %s",
				prefix, startAfter, limit, len(got), len(exp), got, exp, firstDiff(got, exp))
		}
	}

	for _, tc := range []struct {
		prefix, startAfter string
		limit              int
	}{
		{"", "", 0},
		{"", "", 1000},
		{"", "", 137},
		{"", "", 1},
		{"AWSLogs/", "", 500},
		{"AWSLogs/222222222222/CloudTrail/us-east-1/2026/11/03/", "", 10},
		{"AWSLogs/222222222222/CloudTrail/us-east-1/2026/11/0", "", 50},
		{"AWSLogs/1111", "", 100},
		{"AWSLogs/111111111111/CloudTrail/us-east-", "AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/04/", 25},
		{"AWSLogs/", "AWSLogs/111111111111/CloudTrail/us-east-2/2026/11/02/111111111111_CloudTrail_us-east-2_20261126T0155Z_023.json.gz", 64},
		{"AWSLogs/", "AWSLogs/111111111111/CloudTrail/us-east-2/2026/11/02/111111111111_CloudTrail_us-east-2_20261126T0155Z_023.json.gz-not-a-key", 64},
		{"", "AWSLogs/2", 300},
		{"", "AWSLogs/\U0010FFFF", 0},
		{"", "a", 5},
		{"", "~tilde", 5},
		{"", "\U0010FFFF", 5},
		{"x/", "", 3},
		{"x/y", "", 0},
		{"x/y", "x/y", 0},
		{"x/y/", "", 0},
		{"x/y", "x/y-z", 2},
		{"x/y", "x/y/a", 2},
		{"space", "", 1},
		{"space dir/", "space dir/a file", 0},
		{"ünïcödé/", "", 0},
		{"ünïcödé/日本語/ファ", "", 1},
		{"emoji/😀", "", 0},
		{"pct/", "", 2},
		{"pct/a%", "", 0},
		{"flat/", "flat/5", 7},
		{"flat/9", "", 0},
		{"nothing/", "", 0},
		{"zz", "", 0},
		{"zz/z", "", 0},
		{"zz/z/", "", 0},
		{"AWSLogs/111111111111/CloudTrail/eu-west-1/2026/11/01/", "AWSLogs/2", 0},
		{"AWSLogs/222222222222/", "AWSLogs/1", 1000},
	} {
		page(t, tc.prefix, tc.startAfter, tc.limit)
	}

	// An exact limit is not truncated; one less is.
	prefix := "AWSLogs/111111111111/CloudTrail/eu-west-1/2026/11/02/"
	n := len(want(prefix, ""))
	if infos, truncated, err := b.List(ctx, prefix, "", n); err != nil || len(infos) != n || truncated {
		t.Errorf("List with limit = count: %d objects, truncated %v, %v; want %d, false", len(infos), truncated, err, n)
	}
	if infos, truncated, err := b.List(ctx, prefix, "", n-1); err != nil || len(infos) != n-1 || !truncated {
		t.Errorf("List with limit = count-1: %d objects, truncated %v, %v; want %d, true", len(infos), truncated, err, n-1)
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("index %d: got %q, want %q", i, got[i], want[i])
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("extra %q", got[len(want)])
	}
	if len(want) > len(got) {
		return fmt.Sprintf("missing %q", want[len(got)])
	}
	return "none"
}

// putAll stores every key with a few writers in parallel.
func putAll(t *testing.T, b objstore.Bucket, keys []string, body func(string) []byte) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	work := make(chan string)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range 8 {
		wg.Go(func() {
			for k := range work {
				if err := b.Put(ctx, k, body(k), nil); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("Put(%q): %w", k, err)
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, k := range keys {
		if ctx.Err() != nil {
			break
		}
		work <- k
	}
	close(work)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}
