package store

// idSet is an open-addressing set of 64-bit hashes: 8 bytes a slot at a
// load factor of at most 3/4, so ten million events cost 134 MB. Hash 0 is stored as a separate flag. It is not safe for concurrent
// use; the store guards it with its write lock.
type idSet struct {
	slots []uint64
	n     int
	zero  bool
}

func newIDSet(hint int) *idSet {
	size := 1024
	for size*3 < hint*4 {
		size <<= 1
	}
	return &idSet{slots: make([]uint64, size)}
}

func (s *idSet) has(h uint64) bool {
	if h == 0 {
		return s.zero
	}
	mask := uint64(len(s.slots) - 1)
	for i := mix(h) & mask; ; i = (i + 1) & mask {
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
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	if s.insert(h) {
		s.n++
	}
}

func (s *idSet) insert(h uint64) bool {
	mask := uint64(len(s.slots) - 1)
	for i := mix(h) & mask; ; i = (i + 1) & mask {
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
	s.slots = make([]uint64, len(old)*2)
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
