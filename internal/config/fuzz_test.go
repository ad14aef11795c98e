package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as a configuration file and
// what it reads to Validate. Neither may panic; whatever Validate accepts
// keeps the defaults' invariants it checks (a data directory, positive
// intervals).
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yml")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("addr: 127.0.0.1:4566\ndelivery:\n  interval: 10s\n"))
	f.Add([]byte("principals:\n  - access_key_id: AKIA\n    secret_access_key: s\n    account: '111111111111'\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		path := filepath.Join(t.TempDir(), "opentrail.yml")
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			return
		}
		if c.Delivery.Interval <= 0 || c.Delivery.DigestInterval <= 0 {
			t.Fatalf("Validate accepted intervals %v and %v", c.Delivery.Interval, c.Delivery.DigestInterval)
		}
	})
}
