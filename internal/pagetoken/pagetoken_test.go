package pagetoken

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestIssueOpen(t *testing.T) {
	s := NewSigner(key)
	qh := NewHasher().Str("210987654321").Str("eu-central-1").Sum()
	tok := s.Issue(KindLookup, qh, []byte("resume here"))
	b, err := s.Open(KindLookup, qh, tok)
	if err != nil || string(b) != "resume here" {
		t.Fatalf("Open = %q, %v", b, err)
	}
	if _, err := s.Open(KindChannels, qh, tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("another kind: %v, want ErrInvalid", err)
	}
	other := NewHasher().Str("210987654321").Str("us-east-1").Sum()
	if _, err := s.Open(KindLookup, other, tok); !errors.Is(err, ErrMismatch) {
		t.Errorf("other parameters: %v, want ErrMismatch", err)
	}
	if _, err := NewSigner([]byte("another key, 16+ bytes")).Open(KindLookup, qh, tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("other key: %v, want ErrInvalid", err)
	}
	if NewHasher().Str("ab").Str("c").Sum() == NewHasher().Str("a").Str("bc").Sum() {
		t.Error("fields are not length-prefixed")
	}
	if NewHasher().Time(time.Time{}).Sum() == NewHasher().Time(time.Unix(0, 0)).Sum() {
		t.Error("the zero time hashes as the epoch")
	}
}

func TestPosition(t *testing.T) {
	at := time.Date(2024, 5, 6, 12, 0, 0, 123456789, time.UTC)
	got, seq, err := ParsePosition(Position(at, 42))
	if err != nil || !got.Equal(at) || seq != 42 {
		t.Errorf("ParsePosition = %v, %d, %v", got, seq, err)
	}
	if _, _, err := ParsePosition([]byte("short")); !errors.Is(err, ErrInvalid) {
		t.Errorf("short payload: %v", err)
	}
}

// FuzzOpen opens arbitrary tokens: no panics, only the two errors, and a
// token that opens is one the signer issued (re-issuing gives it back).
func FuzzOpen(f *testing.F) {
	s := NewSigner(key)
	qh := NewHasher().Str("q").Sum()
	f.Add(s.Issue(KindLookup, qh, Position(time.Unix(1, 2), 3)))
	f.Add("")
	f.Add("AAAA")
	f.Add("not base64 !")
	f.Fuzz(func(t *testing.T, tok string) {
		b, err := s.Open(KindLookup, qh, tok)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrMismatch) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := s.Open(KindLookup, qh, s.Issue(KindLookup, qh, b))
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip of %q: %q, %v", b, again, err)
		}
	})
}
