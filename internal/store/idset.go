package store

import "math/bits"

// idSet is an open-addressing set of 64-bit hashes (linear probing): 8
// bytes a slot, filled to at most 4/5 and grown by half when it gets
// there, so n elements take 10–15 bytes each (ten million eventIDs
// 100–150 MB; a power-of-two table took 107–213 MB). A slot's home is
// fastrange(mix(h), slots), so any table size works. Hash 0 is stored as
// a separate flag. It is not safe for concurrent use; the store guards it
// with its write lock.
type idSet struct {
	slots []uint64
	n     int
	zero  bool
}

// idSetMaxLoad is the fill, in fifths, past which an idSet grows.
const idSetMaxLoad = 4

func newIDSet(hint int) *idSet {
	return &idSet{slots: make([]uint64, idSetSize(hint))}
}

// idSetSize is the table size for n elements: filled to 7/10, so that a
// set loaded whole has room for 14% more before it grows.
func idSetSize(n int) int {
	return max(1024, n/7*10+10)
}

func (s *idSet) home(h uint64) int {
	hi, _ := bits.Mul64(mix(h), uint64(len(s.slots)))
	return int(hi)
}

func (s *idSet) has(h uint64) bool {
	if h == 0 {
		return s.zero
	}
	n := len(s.slots)
	for i := s.home(h); ; i++ {
		if i == n {
			i = 0
		}
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *idSet) add(h uint64) {
	if h == 0 {
		s.zero = true
		return
	}
	if (s.n+1)*5 > len(s.slots)*idSetMaxLoad {
		s.grow()
	}
	if s.insert(h) {
		s.n++
	}
}

func (s *idSet) insert(h uint64) bool {
	n := len(s.slots)
	for i := s.home(h); ; i++ {
		if i == n {
			i = 0
		}
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			return true
		}
	}
}

func (s *idSet) grow() {
	old := s.slots
	s.slots = make([]uint64, len(old)/2*3)
	for _, h := range old {
		if h != 0 {
			s.insert(h)
		}
	}
}

// mix spreads FNV hashes, whose low bits are weak for similar inputs.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}
