package eventpattern

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"unsafe"

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
	// For MatchesCloudTrail: the registry of the record's own paths (the
	// detail.* paths without "detail.", after the envelope's fields) and,
	// by Set path id, where the path's leaves come from.
	recReg  *registry
	inPlace []source
}

// source says where, for a record matched in place, a Set path's leaves
// come from: the record path rec (a detail.* path), an envelope member
// env, or nowhere (neither: the envelope holds nothing at that path).
type source struct {
	rec int // id in Set.recReg, or -1
	env int // one of the env* members, or envNone
}

// The envelope's members as leaves; resources is always empty and detail
// an object, so neither has leaves.
const (
	envNone = iota
	envVersion
	envID
	envDetailType
	envSource
	envAccount
	envTime
	envRegion
)

var envelopeMembers = map[string]int{
	"version": envVersion, "id": envID, "detail-type": envDetailType, "source": envSource,
	"account": envAccount, "time": envTime, "region": envRegion,
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
	return &Set{reg: newRegistry(), members: map[string]*member{}, index: map[int]map[string][]*member{}, recReg: newRecordRegistry()}
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
	for _, path := range s.reg.paths[len(s.inPlace):] {
		src := source{rec: -1, env: envelopeMembers[path]}
		if rest, ok := strings.CutPrefix(path, "detail."); ok {
			src.rec = s.recReg.add(rest)
		}
		s.inPlace = append(s.inPlace, src)
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
	return s.match(sc, sc.leaves, dst), nil
}

// MatchesCloudTrail appends to dst the ids of the patterns that the
// EventBridge event CloudTrailEvent(record) matches, in id order, and
// returns the extended slice: the same ids as
// Matches(CloudTrailEvent(record), dst), but the record is read in place
// and no envelope is built. It fails, as CloudTrailEvent does, when the
// record is not a JSON object.
func (s *Set) MatchesCloudTrail(record []byte, dst []string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if err := sc.load(s.recReg, record); err != nil {
		if err == errNotObject {
			return dst, errors.New("eventpattern: the CloudTrail record is not a JSON object")
		}
		return dst, errors.New("eventpattern: the CloudTrail record " + strings.TrimPrefix(err.Error(), "eventpattern: the event "))
	}
	h := envelopeOf(sc.leaves)
	n := len(s.inPlace)
	if cap(sc.byPath) < n {
		sc.byPath = make([][]leaf, n)
	}
	view := sc.byPath[:n]
	for i, src := range s.inPlace {
		var str string
		switch src.env {
		case envNone:
			view[i] = nil
			if src.rec >= 0 {
				view[i] = sc.leaves[src.rec]
			}
			continue
		case envVersion:
			str = "0"
		case envID:
			str = envelopeID(h.eventID)
		case envDetailType:
			str = h.detailType
		case envSource:
			start := len(sc.strBuf)
			sc.strBuf = append(append(sc.strBuf, "aws."...), h.service...)
			b := sc.strBuf[start:]
			str = unsafe.String(unsafe.SliceData(b), len(b))
		case envAccount:
			str = h.account
		case envTime:
			str = h.time
		case envRegion:
			str = h.region
		}
		sc.env[src.env] = leaf{typ: fastjson.TypeString, s: str}
		view[i] = sc.env[src.env : src.env+1]
	}
	return s.match(sc, view, dst), nil
}

// match finishes Matches and MatchesCloudTrail: leaves are the event's, by
// Set path id.
func (s *Set) match(sc *scratch, leaves [][]leaf, dst []string) []string {
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
			view = append(view, leaves[id])
		}
		sc.view = view
		if m.p.matchView(sc, view) {
			dst = append(dst, m.id)
		}
	}
	for _, path := range s.indexPaths {
		byVal := s.index[path]
		for i := range leaves[path] {
			l := &leaves[path][i]
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
	return dst
}
