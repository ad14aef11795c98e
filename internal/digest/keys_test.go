package digest_test

import (
	"crypto/rsa"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
)

// TestKeyRingWindows checks that a region's key windows stay back to
// back, also when a key is rotated after the newest one has expired, so
// that every time after the first key's start has a signing key.
func TestKeyRingWindows(t *testing.T) {
	testKeys(t)
	next := []*rsa.PrivateKey{key1, key2, key3, key1, key2, key3}
	r := &digest.KeyRing{Rotation: time.Hour, Generate: func() (*rsa.PrivateKey, error) {
		k := next[0]
		next = next[1:]
		return k, nil
	}}
	const region = "eu-central-1"
	t0 := corpusT0
	if _, _, err := r.For(region, t0); err != nil {
		t.Fatal(err)
	}
	// The only key expired at t0+1h; rotate at t0+3h30m.
	if _, err := r.Rotate(region, t0.Add(3*time.Hour+30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, 90 * time.Minute, 3 * time.Hour, 3*time.Hour + 45*time.Minute, 5 * time.Hour} {
		k, _, err := r.For(region, t0.Add(at))
		if err != nil {
			t.Errorf("For(t0+%s): %v", at, err)
			continue
		}
		if w := t0.Add(at); w.Before(k.ValidFrom) || !w.Before(k.ValidTo) {
			t.Errorf("For(t0+%s) = key valid [%s, %s)", at, k.ValidFrom, k.ValidTo)
		}
	}
	pub := r.Public(region, t0, t0.Add(5*time.Hour))
	for i := 1; i < len(pub); i++ {
		if !pub[i].ValidFrom.Equal(pub[i-1].ValidTo) {
			t.Errorf("key %d starts at %s, key %d ends at %s", i, pub[i].ValidFrom, i-1, pub[i-1].ValidTo)
		}
	}
	if _, err := r.Rotate(region, pub[len(pub)-1].ValidFrom); err == nil {
		t.Error("Rotate at the active key's start succeeded")
	}
}
