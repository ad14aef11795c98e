package findings_test

import (
	"context"
	"errors"
	"testing"

	"github.com/opentrail/opentrail/internal/findings"
)

// FuzzListToken: a next-page token from a client is either refused with
// ErrBadToken or read; it never makes the query fail otherwise.
func FuzzListToken(f *testing.F) {
	for _, s := range []string{"1700000000000/fd-0123456789abcdef0123", "garbage", "/", "1/fd-", "-1/fd-x'; DROP TABLE fd_findings; --", "9999999999999999999/fd-1"} {
		f.Add(s)
	}
	s, _, _ := openStore(&testing.T{}, nil, nil)
	ctx := context.Background()
	if err := s.Record(ctx, []findings.Signal{sig("1", t0)}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == "" {
			return
		}
		_, _, err := s.List(ctx, findings.Filter{Next: tok})
		if err != nil && !errors.Is(err, findings.ErrBadToken) {
			t.Fatalf("token %q: %v", tok, err)
		}
	})
}
