package eventpattern

import (
	"bytes"
	"errors"
	"strings"
	"sync"
)

// registry names the field paths a matcher looks at: an id per field
// path, and a tree of their dot-separated segments so that reading an event
// follows only the members some path names. Splitting at dots makes an
// event key "a.b" and the nested keys "a", "b" the same field, as in
// EventBridge.
type registry struct {
	ids   map[string]int
	paths []string
	root  *node
}

// node is one segment of the registered paths.
type node struct {
	children map[string]*node
	id       int // the field path ending here, or -1
	// A filter in front of children: bits of the children's name lengths
	// and of their first and last bytes. Most members of a CloudTrail
	// record lead nowhere; the filter turns most of them away without
	// hashing their names.
	lens, firsts, lasts uint64
}

// mayHave reports whether n may have a child named seg (false: it has none).
func (n *node) mayHave(seg []byte) bool {
	if len(seg) == 0 || len(seg) >= 64 {
		return true
	}
	return n.lens&(1<<len(seg)) != 0 && n.firsts&(1<<(seg[0]&63)) != 0 && n.lasts&(1<<(seg[len(seg)-1]&63)) != 0
}

func newRegistry() *registry {
	return &registry{ids: map[string]int{}, root: &node{id: -1}}
}

// add returns the id of path, registering it.
func (r *registry) add(path string) int {
	if id, ok := r.ids[path]; ok {
		return id
	}
	id := len(r.paths)
	r.ids[path] = id
	r.paths = append(r.paths, path)
	n := r.root
	for _, seg := range strings.Split(path, ".") {
		c := n.children[seg]
		if c == nil {
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c = &node{id: -1}
			n.children[seg] = c
			if l := len(seg); l > 0 && l < 64 {
				n.lens |= 1 << l
				n.firsts |= 1 << (seg[0] & 63)
				n.lasts |= 1 << (seg[l-1] & 63)
			}
		}
		n = c
	}
	n.id = id
	return id
}

// child follows a member name (which may hold dots) from n; nil when no
// registered path continues that way.
func (n *node) child(key []byte) *node {
	for {
		i := bytes.IndexByte(key, '.')
		if i < 0 {
			if !n.mayHave(key) {
				return nil
			}
			return n.children[string(key)]
		}
		if !n.mayHave(key[:i]) {
			return nil
		}
		n = n.children[string(key[:i])]
		if n == nil {
			return nil
		}
		key = key[i+1:]
	}
}

// scratch is the per-call state of a match: the parsed event and its
// leaves by path id. Strings in leaves alias the parser's buffers and live
// only until the scratch is reused.
type scratch struct {
	leaves  [][]leaf
	stack   []arrPos
	arrBuf  []arrPos
	strBuf  []byte
	keyBuf  []byte
	nextArr int32
	view    [][]leaf
	chosen  []*leaf
	seen    []uint32
	gen     uint32
	byPath  [][]leaf            // MatchesCloudTrail: the leaves by Set path id
	env     [envRegion + 1]leaf // MatchesCloudTrail: the envelope's members
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// errNotObject is returned for an event that is valid JSON but not an object.
var errNotObject = errors.New("eventpattern: the event is not a JSON object")

// Match reports whether the event (a JSON object) matches the pattern. It
// fails only when the event is not a JSON object.
func (p *Pattern) Match(event []byte) (bool, error) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if err := sc.load(p.reg, event); err != nil {
		return false, err
	}
	return p.matchView(sc, sc.leaves), nil
}

// matchView evaluates the branches over leaves indexed by the pattern's
// own path ids.
func (p *Pattern) matchView(sc *scratch, view [][]leaf) bool {
	for _, b := range p.branches {
		if matchFields(b.fields, view, sc.chosen[:0]) {
			return true
		}
	}
	return false
}

// matchFields finds, field by field, a leaf each field accepts such that
// all chosen leaves agree on the elements of the arrays they share.
func matchFields(fs []*field, view [][]leaf, chosen []*leaf) bool {
	if len(fs) == 0 {
		return true
	}
	f := fs[0]
	ls := view[f.pathID]
	if len(ls) == 0 {
		return f.absent && matchFields(fs[1:], view, chosen)
	}
	for i := range ls {
		l := &ls[i]
		if !consistent(l, chosen) || !f.accepts(l) {
			continue
		}
		if matchFields(fs[1:], view, append(chosen, l)) {
			return true
		}
		if len(l.arr) == 0 {
			// a leaf outside arrays constrains nothing: no other leaf does better
			return false
		}
	}
	return false
}

func (f *field) accepts(l *leaf) bool {
	for _, m := range f.matchers {
		if m.match(l) {
			return true
		}
	}
	return false
}

// consistent reports whether l sits in the same element as every chosen
// leaf of each array they both sit in.
func consistent(l *leaf, chosen []*leaf) bool {
	if len(l.arr) == 0 {
		return true
	}
	for _, c := range chosen {
		for i := 0; i < len(l.arr) && i < len(c.arr); i++ {
			if l.arr[i].id != c.arr[i].id {
				break
			}
			if l.arr[i].idx != c.arr[i].idx {
				return false
			}
		}
	}
	return true
}
