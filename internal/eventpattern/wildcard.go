package eventpattern

import (
	"slices"
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
// automaton, where state p means "the first p tokens match the input",
// and stops as soon as the bound is passed, so subsets stay small.
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
	const other = 256 // any byte the subset's positions do not name
	// closed adds the positions after stars (a star also matches nothing);
	// stars are never consecutive, so one step suffices.
	closed := func(set []int) []int {
		for _, p := range set {
			if p < len(toks) && toks[p] == -1 && !slices.Contains(set, p+1) {
				set = append(set, p+1)
			}
		}
		slices.Sort(set)
		return set
	}
	key := func(set []int) string {
		b := make([]byte, 0, 3*len(set))
		for _, p := range set {
			b = append(b, byte(p>>16), byte(p>>8), byte(p))
		}
		return string(b)
	}
	start := closed([]int{0})
	seen := map[string]bool{key(start): true}
	queue := [][]int{start}
	best := 0
	var letters []int
	for len(queue) > 0 {
		set := queue[0]
		queue = queue[1:]
		letters = append(letters[:0], other)
		for _, p := range set {
			if p < len(toks) && toks[p] >= 0 && !slices.Contains(letters, toks[p]) {
				letters = append(letters, toks[p])
			}
		}
		for _, c := range letters {
			var next []int
			for _, p := range set {
				if p < len(toks) && toks[p] == c && !slices.Contains(next, p+1) {
					next = append(next, p+1)
				}
				if p > 0 && toks[p-1] == -1 && !slices.Contains(next, p) {
					next = append(next, p) // the star takes the byte
				}
			}
			if len(next) == 0 {
				continue
			}
			next = closed(next)
			if len(next) > best {
				best = len(next)
				if best > maxWildcardStates {
					return best
				}
			}
			if k := key(next); !seen[k] {
				if len(seen) > 1<<16 {
					return maxWildcardStates + 1
				}
				seen[k] = true
				queue = append(queue, next)
			}
		}
	}
	return best
}
