package reliability

import (
	"os"
	"path/filepath"
	"testing"
)

// writeServerConfig writes a configuration file for `serve --config` and
// returns its path.
func writeServerConfig(t testing.TB, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "opentrail.yml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
