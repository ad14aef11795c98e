// Package cli implements the opentrail command: one file per subcommand,
// each a type with its own FlagSet and Run(ctx, args) error. Errors are
// printed as one line with a hint.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/opentrail/opentrail/internal/client"
)

// Version, when set at build time (-ldflags "-X
// github.com/opentrail/opentrail/internal/cli.Version=v1.2.3"), is the
// version `opentrail version` prints instead of the module version in the
// binary's build information.
var Version string

// Command is one subcommand.
type Command interface {
	Name() string
	Synopsis() string
	Run(ctx context.Context, args []string) error
}

// Env is what commands write to; tests replace it.
type Env struct {
	Stdout, Stderr io.Writer
	Stdin          io.Reader
}

func commands(env *Env) []Command {
	return []Command{
		&serveCmd{env: env},
		&sendCmd{env: env},
		&lookupCmd{env: env},
		&demoCmd{env: env},
		&trailsCmd{env: env},
		&cisCmd{env: env},
		&findingsCmd{env: env},
		&usersCmd{env: env},
		&sigmaCmd{env: env},
		&detectCmd{env: env},
		&keysCmd{env: env},
		&insightsCmd{env: env},
		&validateLogsCmd{env: env},
		&importCmd{env: env},
		&queryCmd{env: env},
		&exportCmd{env: env},
		&athenaDDLCmd{env: env},
		&versionCmd{env: env},
		&policyCmd{env: env},
		&gatewayCmd{env: env},
	}
}

// ExitInterrupted is the exit code of a command stopped by SIGINT or
// SIGTERM, as shells report a process ended by SIGINT.
const ExitInterrupted = 130

// Process runs the command line args as the opentrail process: SIGINT or
// SIGTERM cancels the command's context, so that it stops cleanly and
// says what it finished (an import, for instance, records the files it
// stored and says how to resume), and a second signal ends the process
// at once. It returns the exit code: ExitInterrupted after a signal.
func Process(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // the next signal takes its default action
	}()
	code := Main(ctx, args, nil)
	if code != 0 && ctx.Err() != nil {
		return ExitInterrupted
	}
	return code
}

// Main runs the command line args (without the program name) and returns
// the process exit code.
func Main(ctx context.Context, args []string, env *Env) int {
	if env == nil {
		env = &Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin}
	}
	cmds := commands(env)
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.Name() == args[0] {
			err := c.Run(ctx, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			}
			// A command that has printed its own messages (validate-logs,
			// as the AWS CLI does) chooses the exit code.
			var ec interface{ ExitCode() int }
			if errors.As(err, &ec) {
				return ec.ExitCode()
			}
			fmt.Fprintf(env.Stderr, "opentrail %s: %v\n", c.Name(), err)
			if h := client.Hint(err); h != "" {
				fmt.Fprintf(env.Stderr, "hint: %s\n", h)
			}
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "opentrail: unknown command %q\n", args[0])
	usage(env.Stderr, cmds)
	return 2
}

// errUsage means the flags were wrong and the FlagSet has said so.
var errUsage = errors.New("usage")

func usage(w io.Writer, cmds []Command) {
	fmt.Fprintln(w, "opentrail: a self-hosted, CloudTrail-compatible activity audit trail")
	fmt.Fprintln(w, "\nUsage: opentrail <command> [flags]\n\nCommands:")
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-14s %s\n", c.Name(), c.Synopsis())
	}
	fmt.Fprintln(w, "\nRun 'opentrail <command> -h' for a command's flags, 'opentrail --version' for the version.")
}

// parse parses args with fs, turning flag errors into errUsage. Flags may
// come before, between or after positional arguments (`import ./logs
// --data DIR`), as users of most command-line tools expect; after "--"
// every argument is positional. fs.Args() returns the positional
// arguments in their order.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(interspersed(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// interspersed returns args with the flags first and the positional
// arguments after a "--", in their order, so that the flag package (which
// stops at the first positional argument) parses every flag.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	isPos, dangling := positional(fs, args)
	for i, a := range args {
		switch {
		case isPos[i]:
			pos = append(pos, a)
		case a != "--":
			flags = append(flags, a)
		}
	}
	if len(pos) == 0 || dangling {
		return flags // with a flag that lacks its value last, for fs.Parse to refuse
	}
	return append(append(flags, "--"), pos...)
}

// positional reports which of args are positional arguments when parsed
// with fs: a flag of fs that takes a value takes the next argument unless
// written -name=value, a boolean flag takes none, "-" alone (standard
// input) is positional, and so is every argument after "--" (which is
// itself neither). An argument fs does not know as a flag counts as a
// flag, for fs.Parse to refuse with its own message. dangling reports a
// last argument that is a flag lacking its value.
func positional(fs *flag.FlagSet, args []string) (isPos []bool, dangling bool) {
	isPos = make([]bool, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			for j := i + 1; j < len(args); j++ {
				isPos[j] = true
			}
			break
		}
		if len(a) < 2 || a[0] != '-' {
			isPos[i] = true
			continue
		}
		name := strings.TrimPrefix(a[1:], "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i == len(args)-1 {
			return isPos, true
		}
		i++ // the flag's value
	}
	return isPos, false
}

// subcommand returns the first positional argument of args as fs parses
// them (a subcommand such as `trails show`, wherever the flags are) and
// args without it; "" and args when there is none.
func subcommand(fs *flag.FlagSet, args []string) (string, []string) {
	isPos, _ := positional(fs, args)
	for i, p := range isPos {
		if p {
			return args[i], append(slices.Clip(args[:i]), args[i+1:]...)
		}
	}
	return "", args
}

// clientFlags are the flags of every subcommand that talks to a server.
type clientFlags struct {
	endpoint, region, profile, caBundle string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "endpoint", "", "server URL (default $OPENTRAIL_ENDPOINT or "+client.DefaultEndpoint+")")
	fs.StringVar(&f.region, "region", "", "region to act in (default from AWS_REGION / the AWS config, else us-east-1)")
	fs.StringVar(&f.profile, "profile", "", "AWS profile whose credentials sign the requests")
	fs.StringVar(&f.caBundle, "ca-bundle", "", "PEM file of the CA certificates an https endpoint must chain to (default $AWS_CA_BUNDLE, else the system's; a --tls-self-signed server's is <data>/tls/cert.pem)")
}

func (f *clientFlags) client(ctx context.Context) (*client.Client, error) {
	return client.New(ctx, client.Options{Endpoint: f.endpoint, Region: f.region, Profile: f.profile, CABundle: f.caBundle})
}

func newFlagSet(env *Env, name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: opentrail %s %s\n\nFlags:\n", name, usageLine)
		fs.PrintDefaults()
	}
	return fs
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// isTerminal reports whether w is a terminal (progress then redraws one
// line; otherwise it prints occasional lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
