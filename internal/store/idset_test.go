package store

import (
	"math/rand/v2"
	"testing"
)

func TestIDSet(t *testing.T) {
	s := newIDSet(0)
	r := rand.New(rand.NewPCG(1, 2))
	in := make(map[uint64]bool)
	for i := 0; i < 100000; i++ {
		h := r.Uint64()
		if i%1000 == 0 {
			h = 0 // zero is stored apart
		}
		s.add(h)
		in[h] = true
	}
	for h := range in {
		if !s.has(h) {
			t.Fatalf("%x added but not found", h)
		}
	}
	misses := 0
	for i := 0; i < 100000; i++ {
		if h := r.Uint64(); !in[h] && s.has(h) {
			misses++
		}
	}
	if misses != 0 {
		t.Fatalf("%d absent hashes reported present", misses)
	}
	if s.n*5 > len(s.slots)*idSetMaxLoad {
		t.Fatalf("load factor %d/%d over %d/5", s.n, len(s.slots), idSetMaxLoad)
	}
	if len(s.slots)&(len(s.slots)-1) == 0 {
		t.Fatalf("%d slots: grown tables are not powers of two", len(s.slots))
	}
}
