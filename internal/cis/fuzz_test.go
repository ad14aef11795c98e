package cis

import (
	"slices"
	"strings"
	"testing"
)

// FuzzCheck feeds arbitrary filter patterns to Clauses and Check: no
// panic, clauses sorted and unique, and a pattern is exact only when it is
// one of the control's texts.
func FuzzCheck(f *testing.F) {
	b, _ := Lookup(DefaultVersion)
	for _, c := range b.Controls {
		f.Add(c.Pattern)
	}
	f.Add(`{ $.a = "x\"y" || $.b NOT EXISTS && $.c IS NULL }`)
	f.Add(`[ip, user, ...]`)
	f.Add(`{$.`)
	f.Fuzz(func(t *testing.T, pattern string) {
		cl := Clauses(pattern)
		if !slices.IsSorted(cl) || len(slices.Compact(slices.Clone(cl))) != len(cl) {
			t.Fatalf("Clauses(%q) = %q: not sorted and unique", pattern, cl)
		}
		for _, c := range b.Controls {
			v := Check(c, pattern, Matches)
			if (v == Exact) != c.Accepted(pattern) {
				t.Fatalf("Check(%s, %q) = %s", c.ID, pattern, v)
			}
		}
		if n, err := ParseNotify(pattern); err == nil && n.Protocol != "email" && !strings.HasPrefix(n.Endpoint, n.Protocol+"://") {
			t.Fatalf("ParseNotify(%q) = %+v", pattern, n)
		}
	})
}
