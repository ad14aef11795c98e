package cli

import (
	"context"
	"fmt"
	"runtime"
)

type versionCmd struct{ env *Env }

func (*versionCmd) Name() string     { return "version" }
func (*versionCmd) Synopsis() string { return "print the version" }

func (c *versionCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "version", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "opentrail %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
