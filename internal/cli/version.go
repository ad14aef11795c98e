package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

type versionCmd struct{ env *Env }

func (*versionCmd) Name() string     { return "version" }
func (*versionCmd) Synopsis() string { return "print the version (also opentrail --version)" }

func (c *versionCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "version", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	fmt.Fprintln(c.env.Stdout, versionLine())
	return nil
}

// versionLine describes this binary from its build information: the
// module version, the commit it was built from when the build recorded it
// (go build in a git clone does; go run does not), and the Go toolchain.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(Version, bi, runtime.GOOS+"/"+runtime.GOARCH)
}

// formatVersion is versionLine for a given -X Version, build information
// (nil if the binary has none) and platform:
//
//	opentrail v0.0.0-20261126080750-37b480d57bf7, revision 37b480d57bf7… (2026-11-26T08:07:50Z, modified), built with go1.26.0 for linux/amd64
func formatVersion(xVersion string, bi *debug.BuildInfo, platform string) string {
	var b strings.Builder
	b.WriteString("opentrail ")
	goVersion := runtime.Version()
	version := xVersion
	if bi != nil {
		goVersion = bi.GoVersion
		if version == "" {
			version = bi.Main.Version
		}
	}
	if version == "" {
		version = "(devel)" // as the Go toolchain says of a build without a version
	}
	b.WriteString(version)
	if bi != nil {
		var rev, at string
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			var notes []string
			if at != "" {
				notes = append(notes, at)
			}
			if modified {
				notes = append(notes, "modified")
			}
			b.WriteString(", revision " + rev)
			if len(notes) > 0 {
				b.WriteString(" (" + strings.Join(notes, ", ") + ")")
			}
		}
	}
	b.WriteString(", built with " + goVersion + " for " + platform)
	return b.String()
}
