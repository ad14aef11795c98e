package eventpattern

import (
	"sort"
	"sync"

	"github.com/valyala/fastjson"
)

// Set holds many patterns under ids and finds those an event matches. Each
// pattern is indexed by one field whose every alternative is an exact
// string, in each of its "$or" branches (detail.eventName preferred, then
// other fields, then detail-type, then source): an event meets only the
// patterns indexed under one of its own values, plus the few patterns that
// have no such field. A Set is safe for concurrent use.
type Set struct {
	mu         sync.RWMutex
	reg        *registry
	members    map[string]*member
	slots      []*member // by member.slot; nil when free
	free       []int
	index      map[int]map[string][]*member // Set path id → exact value → members
	indexPaths []int
	scan       []*member
}

type member struct {
	id   string
	p    *Pattern
	ids  []int // the pattern's path ids → the Set's path ids
	slot int
	keys []indexKey // where the member is indexed; none: on the scan list
}

type indexKey struct {
	path int
	val  string
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{reg: newRegistry(), members: map[string]*member{}, index: map[int]map[string][]*member{}}
}

// Len returns the number of patterns in the Set.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.members)
}

// Add puts p in the Set under id, replacing any pattern already there.
func (s *Set) Add(id string, p *Pattern) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(id)
	m := &member{id: id, p: p, ids: make([]int, len(p.reg.paths))}
	for i, path := range p.reg.paths {
		m.ids[i] = s.reg.add(path)
	}
	if n := len(s.free); n > 0 {
		m.slot = s.free[n-1]
		s.free = s.free[:n-1]
		s.slots[m.slot] = m
	} else {
		m.slot = len(s.slots)
		s.slots = append(s.slots, m)
	}
	s.members[id] = m
	keys, ok := indexKeys(p)
	if !ok {
		s.scan = append(s.scan, m)
		return
	}
	seen := map[indexKey]bool{}
	for _, k := range keys {
		k.path = m.ids[k.path]
		if seen[k] {
			continue
		}
		seen[k] = true
		byVal := s.index[k.path]
		if byVal == nil {
			byVal = map[string][]*member{}
			s.index[k.path] = byVal
			s.indexPaths = append(s.indexPaths, k.path)
		}
		byVal[k.val] = append(byVal[k.val], m)
		m.keys = append(m.keys, k)
	}
}

// Remove takes the pattern under id out of the Set, if there is one.
func (s *Set) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(id)
}

func (s *Set) remove(id string) {
	m := s.members[id]
	if m == nil {
		return
	}
	delete(s.members, id)
	s.slots[m.slot] = nil
	s.free = append(s.free, m.slot)
	if len(m.keys) == 0 {
		s.scan = without(s.scan, m)
		return
	}
	for _, k := range m.keys {
		byVal := s.index[k.path]
		if rest := without(byVal[k.val], m); len(rest) > 0 {
			byVal[k.val] = rest
		} else {
			delete(byVal, k.val)
		}
	}
}

func without(ms []*member, m *member) []*member {
	out := ms[:0]
	for _, x := range ms {
		if x != m {
			out = append(out, x)
		}
	}
	for i := len(out); i < len(ms); i++ {
		ms[i] = nil
	}
	return out
}

// indexKeys chooses, in every branch of p, one field all of whose
// alternatives are exact strings, and returns its values (path ids are
// the pattern's). ok is false when some branch has no such field.
func indexKeys(p *Pattern) (keys []indexKey, ok bool) {
	for _, b := range p.branches {
		var best *field
		bestRank := 0
		for _, f := range b.fields {
			if f.absent || len(f.matchers) == 0 {
				continue
			}
			exact := true
			for _, m := range f.matchers {
				if e, isExact := m.(*exactString); !isExact || e.isIP {
					exact = false
					break
				}
			}
			if !exact {
				continue
			}
			if r := indexRank(f.path); r > bestRank {
				best, bestRank = f, r
			}
		}
		if best == nil {
			return nil, false
		}
		for _, m := range best.matchers {
			keys = append(keys, indexKey{path: best.pathID, val: m.(*exactString).s})
		}
	}
	return keys, true
}

// indexRank prefers the most selective field of CloudTrail events.
func indexRank(path string) int {
	switch path {
	case "detail.eventName":
		return 5
	case "detail-type":
		return 2
	case "source":
		return 1
	case "detail.eventSource":
		return 3
	}
	return 4
}

// Matches appends to dst the ids of the patterns the event (a JSON object)
// matches, in id order, and returns the extended slice. It fails only when
// the event is not a JSON object.
func (s *Set) Matches(event []byte, dst []string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if err := sc.load(s.reg, event); err != nil {
		return dst, err
	}
	if len(sc.seen) < len(s.slots) {
		sc.seen = make([]uint32, len(s.slots)+len(s.slots)/2)
		sc.gen = 0
	}
	sc.gen++
	if sc.gen == 0 {
		clear(sc.seen)
		sc.gen = 1
	}
	start := len(dst)
	eval := func(m *member) {
		if sc.seen[m.slot] == sc.gen {
			return
		}
		sc.seen[m.slot] = sc.gen
		view := sc.view[:0]
		for _, id := range m.ids {
			view = append(view, sc.leaves[id])
		}
		sc.view = view
		if m.p.matchView(sc, view) {
			dst = append(dst, m.id)
		}
	}
	for _, path := range s.indexPaths {
		byVal := s.index[path]
		for i := range sc.leaves[path] {
			l := &sc.leaves[path][i]
			if l.typ != fastjson.TypeString {
				continue
			}
			for _, m := range byVal[l.s] {
				eval(m)
			}
		}
	}
	for _, m := range s.scan {
		eval(m)
	}
	sort.Strings(dst[start:])
	return dst, nil
}
