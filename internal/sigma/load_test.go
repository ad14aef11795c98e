package sigma

import (
	"testing"
)

const rulesDir = "../../../shared/testdata/sigma/rules"

// TestLoadSigmaHQRules loads every SigmaHQ CloudTrail rule with no load
// error.
func TestLoadSigmaHQRules(t *testing.T) {
	rs, errs, err := LoadDir(rulesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("load error: %v", e)
	}
	if n := len(rs.Rules()); n != 57 {
		t.Fatalf("loaded %d rules, want 57", n)
	}
	for _, r := range rs.Rules() {
		if r.req.field == "" {
			t.Logf("scan: %s", r.File)
		}
	}
}
