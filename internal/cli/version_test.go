package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, c := range []struct {
		x    string
		bi   *debug.BuildInfo
		want string
	}{
		{"", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20261126080750-37b480d57bf7"},
			Settings: vcs("vcs", "git", "vcs.revision", "37b480d57bf7030830ad258935202c734d226fb6", "vcs.time", "2026-11-26T08:07:50Z", "vcs.modified", "true")},
			"opentrail v0.0.0-20261126080750-37b480d57bf7, revision 37b480d57bf7030830ad258935202c734d226fb6 (2026-11-26T08:07:50Z, modified), built with go1.26.0 for linux/amd64"},
		{"", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"},
			Settings: vcs("vcs.revision", "abc", "vcs.modified", "false")},
			"opentrail v1.2.3, revision abc, built with go1.26.0 for linux/amd64"},
		{"", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			"opentrail (devel), built with go1.26.0 for linux/amd64"},
		{"v9.9.9", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "abc")},
			"opentrail v9.9.9, revision abc, built with go1.26.0 for linux/amd64"},
	} {
		if got := formatVersion(c.x, c.bi, "linux/amd64"); got != c.want {
			t.Errorf("formatVersion:\n got %q\nwant %q", got, c.want)
		}
	}
	if got := formatVersion("", nil, "linux/amd64"); !strings.HasPrefix(got, "opentrail (devel), built with go") {
		t.Errorf("no build information: %q", got)
	}
}

// TestVersionCommand checks that `opentrail --version` and `opentrail
// version` print the same line, from the binary's build information.
func TestVersionCommand(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("the test binary has no build information")
	}
	want := formatVersion("", bi, "") // platform aside
	want = strings.TrimSuffix(want, " for ")
	var outs []string
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		out, errs, code := runMain(t, args...)
		if code != 0 || !strings.HasPrefix(out, want+" for ") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
			t.Fatalf("opentrail %s: exit %d %q %q; want %q…", args[0], code, out, errs, want)
		}
		outs = append(outs, out)
	}
	if outs[0] != outs[1] || outs[1] != outs[2] {
		t.Errorf("version, --version and -version differ: %q", outs)
	}
	if _, _, code := runMain(t, "version", "now"); code != 2 {
		t.Errorf("version now: exit %d, want 2", code)
	}
}
