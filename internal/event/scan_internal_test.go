package event

import (
	"math/rand/v2"
	"testing"
)

// TestSkipPlain checks the eight-bytes-at-a-time scan against a plain
// byte loop, for every byte value in every lane and for random strings.
func TestSkipPlain(t *testing.T) {
	naive := func(s []byte, i int) int {
		for i < len(s) && plain[s[i]] {
			i++
		}
		return i
	}
	s := make([]byte, 24)
	for c := range 256 {
		for pos := range len(s) {
			for i := range s {
				s[i] = 'a'
			}
			s[pos] = byte(c)
			for start := range 9 {
				if got, want := skipPlain(s, start), naive(s, start); got != want {
					t.Fatalf("byte 0x%02x at %d, start %d: skipPlain = %d, want %d", c, pos, start, got, want)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abc \"\\\x00\x1f\x7f\x80\xff")
	for range 20000 {
		s := make([]byte, r.IntN(40))
		for i := range s {
			if r.IntN(8) == 0 {
				s[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				s[i] = byte(0x20 + r.IntN(0x60))
			}
		}
		if got, want := skipPlain(s, 0), naive(s, 0); got != want {
			t.Fatalf("%q: skipPlain = %d, want %d", s, got, want)
		}
	}
}
