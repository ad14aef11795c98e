package eventpattern

import (
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// wildcard is a compiled {"wildcard": …} value: the literal parts between
// its unescaped '*'s (a pattern with n stars has n+1 parts).
type wildcard struct {
	parts []string
}

// maxWildcardStates bounds a wildcard's complexity as maxStates measures
// it. EventBridge refuses patterns whose matching machine grows too large
// ("Rule is too complex …") but does not publish its bound; this one is the
// most permissive agreeing with AWS's answers: "*:*:*:*:*:event-bus/*"
// (11) is refused, "arn:aws:events:us-east-1:*:event-bus/*" (3) accepted.
const maxWildcardStates = 10

const tooComplex = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character"

func compileWildcard(s string) (*wildcard, *Error) {
	w := &wildcard{}
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				// AWS counts positions from the opening quote of the JSON string.
				return nil, invalid("Consecutive wildcard characters at pos " + strconv.Itoa(i+1))
			}
			w.parts = append(w.parts, cur.String())
			cur.Reset()
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '\\') {
				cur.WriteByte(s[i+1])
				i++
				continue
			}
			return nil, invalid("Invalid escape character at pos " + strconv.Itoa(i+1))
		default:
			cur.WriteByte(c)
		}
	}
	w.parts = append(w.parts, cur.String())
	if len(w.parts) > 1 && w.maxStates() > maxWildcardStates {
		return nil, invalid(tooComplex)
	}
	return w, nil
}

func (w *wildcard) match(l *leaf) bool {
	return l.typ == fastjson.TypeString && w.matchString(l.s)
}

// matchString reports whether s matches: the first part is a prefix, the
// last a suffix, and the middle parts occur in order between them (taking
// each at its leftmost place is enough for '*'-only patterns).
func (w *wildcard) matchString(s string) bool {
	n := len(w.parts)
	if n == 1 {
		return s == w.parts[0]
	}
	first, last := w.parts[0], w.parts[n-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, p := range w.parts[1 : n-1] {
		i := strings.Index(mid, p)
		if i < 0 {
			return false
		}
		mid = mid[i+len(p):]
	}
	return true
}

// maxStates measures the pattern as EventBridge's matcher does: the most
// prefixes of the pattern (with the quotes around the JSON string, a
// prefix ending before or after a star counting separately) that one input
// matches at once. It runs the subset construction of the pattern's
// automaton, where state p means "the first p tokens match the input".
func (w *wildcard) maxStates() int {
	toks := []int{'"'} // -1 is a star, otherwise a byte
	for i, p := range w.parts {
		if i > 0 {
			toks = append(toks, -1)
		}
		for j := 0; j < len(p); j++ {
			toks = append(toks, int(p[j]))
		}
	}
	toks = append(toks, '"')
	alphabet := map[int]bool{256: true} // 256 stands for any byte not in the pattern
	for _, t := range toks {
		if t >= 0 {
			alphabet[t] = true
		}
	}
	letters := make([]int, 0, len(alphabet))
	for c := range alphabet {
		letters = append(letters, c)
	}
	sort.Ints(letters)
	closure := func(set []bool) {
		for p := 0; p < len(toks); p++ {
			if set[p] && toks[p] == -1 {
				set[p+1] = true
			}
		}
	}
	key := func(set []bool) string {
		b := make([]byte, len(set))
		for i, in := range set {
			if in {
				b[i] = 1
			}
		}
		return string(b)
	}
	start := make([]bool, len(toks)+1)
	start[0] = true
	closure(start)
	seen := map[string]bool{key(start): true}
	queue := [][]bool{start}
	best := 0
	for len(queue) > 0 {
		set := queue[0]
		queue = queue[1:]
		for _, c := range letters {
			next := make([]bool, len(toks)+1)
			n := 0
			for p, in := range set {
				if !in {
					continue
				}
				if p < len(toks) && toks[p] == c {
					next[p+1] = true
				}
				if p > 0 && toks[p-1] == -1 {
					next[p] = true // the star takes the byte
				}
			}
			closure(next)
			for _, in := range next {
				if in {
					n++
				}
			}
			if n == 0 {
				continue
			}
			if n > best {
				best = n
				if best > maxWildcardStates {
					return best
				}
			}
			if k := key(next); !seen[k] {
				if len(seen) > 1<<14 {
					return maxWildcardStates + 1
				}
				seen[k] = true
				queue = append(queue, next)
			}
		}
	}
	return best
}
