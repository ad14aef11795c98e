package objstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Memory is a Bucket held in memory, for tests of other packages. The
// zero value is not usable; call NewMemory.
type Memory struct {
	mu   sync.RWMutex
	objs map[string]*memObject
	keys []string // sorted
}

type memObject struct {
	data     []byte
	meta     map[string]string
	etag     string
	modified time.Time
}

var _ Bucket = (*Memory)(nil)

// NewMemory returns an empty in-memory bucket.
func NewMemory() *Memory {
	return &Memory{objs: make(map[string]*memObject)}
}

func (m *Memory) newObject(key string, data []byte, meta map[string]string) (*memObject, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	nm, err := normalizeMeta(meta)
	if err != nil {
		return nil, fmt.Errorf("put %q: %w", key, err)
	}
	return &memObject{data: bytes.Clone(data), meta: nm, etag: ETag(data), modified: time.Now().UTC()}, nil
}

// insert stores o under key; m.mu must be held for writing.
func (m *Memory) insert(key string, o *memObject) {
	if _, ok := m.objs[key]; !ok {
		i := sort.SearchStrings(m.keys, key)
		m.keys = slices.Insert(m.keys, i, key)
	}
	m.objs[key] = o
}

// Put implements Bucket.
func (m *Memory) Put(ctx context.Context, key string, data []byte, meta map[string]string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	o, err := m.newObject(key, data, meta)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.insert(key, o)
	return nil
}

// PutIfAbsent implements Bucket.
func (m *Memory) PutIfAbsent(ctx context.Context, key string, data []byte, meta map[string]string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	o, err := m.newObject(key, data, meta)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.objs[key]; ok {
		if bytes.Equal(old.data, data) {
			return nil
		}
		return fmt.Errorf("put %q: %w", key, ErrExists)
	}
	m.insert(key, o)
	return nil
}

func (o *memObject) info(key string, withMeta bool) Info {
	in := Info{Key: key, Size: int64(len(o.data)), ETag: o.etag, Modified: o.modified}
	if withMeta {
		in.Meta = cloneMeta(o.meta)
	}
	return in
}

// Get implements Bucket.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, *Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("get %q: %w", key, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.objs[key]
	if !ok {
		return nil, nil, fmt.Errorf("get %q: %w", key, ErrNotFound)
	}
	in := o.info(key, true)
	return bytes.Clone(o.data), &in, nil
}

// Head implements Bucket.
func (m *Memory) Head(ctx context.Context, key string) (*Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("head %q: %w", key, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.objs[key]
	if !ok {
		return nil, fmt.Errorf("head %q: %w", key, ErrNotFound)
	}
	in := o.info(key, true)
	return &in, nil
}

// List implements Bucket.
func (m *Memory) List(ctx context.Context, prefix, startAfter string, limit int) ([]Info, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("list %q: %w", prefix, err)
	}
	limit = checkList(limit)
	from := max(prefix, startAfter)
	m.mu.RLock()
	defer m.mu.RUnlock()
	i := sort.SearchStrings(m.keys, from)
	var out []Info
	for ; i < len(m.keys); i++ {
		k := m.keys[i]
		if k == startAfter {
			continue
		}
		if !strings.HasPrefix(k, prefix) {
			break
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, m.objs[k].info(k, false))
	}
	return out, false, nil
}
