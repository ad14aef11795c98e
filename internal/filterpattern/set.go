package filterpattern

// A Set matches many patterns against one message, reading a JSON
// message once for all its JSON patterns: the values every pattern needs
// are gathered in one scan, then each pattern's expression is decided on
// them. It is immutable and safe for concurrent use.
type Set struct {
	pats  []*Pattern
	trie  *tnode
	slots int
	maps  [][]int // per pattern: its slot -> the Set's slot (JSON patterns only)
	anyJS bool
}

// NewSet builds a Set of the patterns, in order.
func NewSet(ps []*Pattern) *Set {
	s := &Set{pats: append([]*Pattern(nil), ps...), trie: newTrie(), maps: make([][]int, len(ps))}
	global := map[string]int{}
	for k, p := range ps {
		if p.kind != kindJSON {
			continue
		}
		s.anyJS = true
		m := make([]int, len(p.json.paths))
		for i, key := range p.json.paths {
			g, ok := global[key]
			if !ok {
				g = len(global)
				global[key] = g
				s.trie.add(p.json.steps[i], g)
			}
			m[i] = g
		}
		s.maps[k] = m
	}
	s.slots = len(global)
	s.trie.finish()
	return s
}

// Len is the number of patterns.
func (s *Set) Len() int { return len(s.pats) }

// MatchAll sets hits[k] to whether msg matches the k-th pattern; hits
// must be at least Len() long.
func (s *Set) MatchAll(msg []byte, hits []bool) {
	hits = hits[:len(s.pats)]
	var st *scanState
	scanned, isJSON := false, false
	for k, p := range s.pats {
		if p.kind != kindJSON {
			hits[k] = p.Match(msg)
			continue
		}
		if !scanned {
			scanned = true
			st = getState(s.slots)
			isJSON = st.scan(msg, s.trie)
		}
		hits[k] = isJSON && p.json.root.eval(st, s.maps[k])
	}
	if st != nil {
		putState(st)
	}
}
