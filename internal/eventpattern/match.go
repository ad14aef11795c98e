package eventpattern

import (
	"errors"
	"sync"
	"unsafe"

	"github.com/valyala/fastjson"
)

// registry names the field paths a matcher looks at: an id per field path,
// and every dot-prefix of them so that the walk skips the rest of an event.
type registry struct {
	ids    map[string]int
	wanted map[string]uint8
	paths  []string
}

func newRegistry() *registry {
	return &registry{ids: map[string]int{}, wanted: map[string]uint8{}}
}

// add returns the id of path, registering it and its prefixes.
func (r *registry) add(path string) int {
	if id, ok := r.ids[path]; ok {
		return id
	}
	id := len(r.paths)
	r.ids[path] = id
	r.paths = append(r.paths, path)
	r.wanted[path] |= wantLeaf
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			r.wanted[path[:i]] |= wantPrefix
		}
	}
	return id
}

// scratch is the per-call state of a match: the parsed event and its
// leaves by path id. Strings in leaves alias the parser's buffers and live
// only until the scratch is reused.
type scratch struct {
	p       fastjson.Parser
	leaves  [][]leaf
	stack   []arrPos
	arrBuf  []arrPos
	numBuf  []byte
	path    []byte
	nextArr int32
	view    [][]leaf
	chosen  []*leaf
	seen    []uint32
	gen     uint32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// errNotObject is returned for an event that is valid JSON but not an object.
var errNotObject = errors.New("eventpattern: the event is not a JSON object")

// load parses event and collects the leaves of the registry's paths.
func (sc *scratch) load(reg *registry, event []byte) error {
	v, err := sc.p.ParseBytes(event)
	if err != nil {
		return errors.New("eventpattern: the event is not valid JSON: " + err.Error())
	}
	if v.Type() != fastjson.TypeObject {
		return errNotObject
	}
	n := len(reg.paths)
	if cap(sc.leaves) < n {
		sc.leaves = make([][]leaf, n)
	}
	sc.leaves = sc.leaves[:n]
	for i := range sc.leaves {
		sc.leaves[i] = sc.leaves[i][:0]
	}
	sc.stack, sc.arrBuf, sc.numBuf, sc.path, sc.nextArr = sc.stack[:0], sc.arrBuf[:0], sc.numBuf[:0], sc.path[:0], 0
	sc.object(reg, v)
	return nil
}

func (sc *scratch) object(reg *registry, v *fastjson.Value) {
	o, _ := v.Object()
	base := len(sc.path)
	o.Visit(func(k []byte, x *fastjson.Value) {
		sc.path = sc.path[:base]
		if base > 0 {
			sc.path = append(sc.path, '.')
		}
		sc.path = append(sc.path, k...)
		if w := reg.wanted[string(sc.path)]; w != 0 {
			sc.value(reg, x, w)
		}
	})
	sc.path = sc.path[:base]
}

// value handles x found at sc.path, whose registry flags are w.
func (sc *scratch) value(reg *registry, x *fastjson.Value, w uint8) {
	switch x.Type() {
	case fastjson.TypeObject:
		if w&wantPrefix != 0 {
			sc.object(reg, x)
		}
	case fastjson.TypeArray:
		items, _ := x.Array()
		id := sc.nextArr
		sc.nextArr++
		for i, it := range items {
			sc.stack = append(sc.stack, arrPos{id: id, idx: int32(i)})
			sc.value(reg, it, w)
			sc.stack = sc.stack[:len(sc.stack)-1]
		}
	default:
		if w&wantLeaf == 0 {
			return
		}
		l := leaf{typ: x.Type()}
		switch l.typ {
		case fastjson.TypeString:
			b := x.GetStringBytes()
			l.s = unsafe.String(unsafe.SliceData(b), len(b))
		case fastjson.TypeNumber:
			start := len(sc.numBuf)
			sc.numBuf = x.MarshalTo(sc.numBuf)
			b := sc.numBuf[start:]
			l.s = unsafe.String(unsafe.SliceData(b), len(b))
			l.f, l.fok = comparable(l.s)
		}
		if len(sc.stack) > 0 {
			start := len(sc.arrBuf)
			sc.arrBuf = append(sc.arrBuf, sc.stack...)
			l.arr = sc.arrBuf[start:len(sc.arrBuf):len(sc.arrBuf)]
		}
		id := reg.ids[string(sc.path)]
		sc.leaves[id] = append(sc.leaves[id], l)
	}
}

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
