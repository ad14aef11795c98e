package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/authz"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/iampolicy"
)

type policyCmd struct{ env *Env }

func (*policyCmd) Name() string { return "policy" }
func (*policyCmd) Synopsis() string {
	return "simulate a call against the configured policies, list or show the built-in policies (policy simulate|list|show)"
}

// ExitDenied is the exit code of `policy simulate` when the call is
// refused (0 when allowed; 1 for errors, 2 for usage errors).
const ExitDenied = 3

// denied is a refusal `policy simulate` has printed.
type denied struct{}

func (denied) Error() string { return "denied" }
func (denied) ExitCode() int { return ExitDenied }

// builtinSummaries describe the built-in policies in `policy list`.
var builtinSummaries = map[string]string{
	"administrator":   "everything (the default unless authorization.default_policy says otherwise)",
	"read-only":       "an auditor: every read and query of every service, nothing that changes state",
	"ingest-only":     "write events (cloudtrail-data:PutAuditEvents, opentrail:PutEvents), nothing else",
	"trail-protector": "everything but stopping, deleting or re-pointing trails and deleting log groups",
	"protect-trails":  "guard rail (organization.guard_rails): trail-protector's denies for member accounts",
}

func (c *policyCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "policy", "simulate --principal AKID-or-ARN --action ACTION [--resource ARN]... [flags] | list | show NAME")
	var (
		cfgFile, principal, action, sourceIP, region string
		resources                                    listFlag
		secure, mfa                                  bool
	)
	fs.StringVar(&cfgFile, "config", "", "configuration file (YAML or JSON) whose principals and policies to use; none: local mode")
	fs.StringVar(&principal, "principal", "", "the caller: an access key id or principal ARN of the configuration")
	fs.StringVar(&action, "action", "", "the IAM action, e.g. cloudtrail:StopLogging")
	fs.Var(&resources, "resource", "resource ARNs the call acts on (comma-separated or repeated; none: \"*\")")
	fs.StringVar(&sourceIP, "source-ip", "", "aws:SourceIp of the call")
	fs.StringVar(&region, "region", "", "aws:RequestedRegion (default: the first resource ARN's region, else us-east-1)")
	fs.BoolVar(&secure, "secure-transport", false, "the call comes over TLS (aws:SecureTransport)")
	fs.BoolVar(&mfa, "mfa", false, "the caller signed in with MFA (aws:MultiFactorAuthPresent)")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	if len(pos) == 0 {
		fs.Usage()
		return errUsage
	}
	switch sub, pos := pos[0], pos[1:]; sub {
	case "list":
		if len(pos) > 0 {
			return fmt.Errorf("unexpected argument %q; policy list takes no arguments", pos[0])
		}
		tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
		for _, name := range iampolicy.BuiltinNames() {
			fmt.Fprintf(tw, "%s\t%s\n", name, builtinSummaries[name])
		}
		return tw.Flush()
	case "show":
		if len(pos) != 1 {
			return fmt.Errorf("policy show needs one built-in policy name (%s)", strings.Join(iampolicy.BuiltinNames(), ", "))
		}
		doc, ok := iampolicy.BuiltinDocument(pos[0])
		if !ok {
			return fmt.Errorf("%q is not a built-in policy; the built-in policies are %s", pos[0], strings.Join(iampolicy.BuiltinNames(), ", "))
		}
		fmt.Fprintln(c.env.Stdout, doc)
		return nil
	case "simulate":
		if len(pos) > 0 {
			return fmt.Errorf("unexpected argument %q; policy simulate takes flags only", pos[0])
		}
		if principal == "" || action == "" {
			return fmt.Errorf("policy simulate needs --principal (an access key id or ARN) and --action (such as cloudtrail:StopLogging)")
		}
		return c.simulate(cfgFile, principal, authz.Request{Action: action, Resources: resources, Region: region,
			SourceIP: sourceIP, SecureTransport: secure, MFA: mfa})
	default:
		return fmt.Errorf("unknown subcommand %q; use policy simulate, policy list or policy show NAME", sub)
	}
}

var arnRegionRE = regexp.MustCompile(`^arn:[^:]+:[^:]+:([a-z0-9-]+):`)

func (c *policyCmd) simulate(cfgFile, who string, r authz.Request) error {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	a, err := authz.New(&cfg, cfg.BaseDir)
	if err != nil {
		return err
	}
	p, err := findPrincipal(&cfg, who)
	if err != nil {
		return err
	}
	r.Principal = p
	if r.Region == "" {
		r.Region = "us-east-1"
		if len(r.Resources) > 0 {
			if m := arnRegionRE.FindStringSubmatch(r.Resources[0]); m != nil {
				r.Region = m[1]
			}
		}
	}
	res := a.Authorize(r)
	resource := res.Resource
	if res.Allowed {
		resource = strings.Join(r.Resources, ", ")
		if resource == "" {
			resource = "*"
		}
	}
	w := c.env.Stdout
	verdict := "denied"
	if res.Allowed {
		verdict = "allowed"
	}
	fmt.Fprintf(w, "%s: %s on %s\n", verdict, r.Action, resource)
	fmt.Fprintf(w, "  principal:  %s (%s)\n", p.ARN, p.AccessKeyID)
	policies := "the default, " + cfg.Authorization.DefaultPolicy
	if len(p.Policies) > 0 {
		policies = strings.Join(p.Policies, ", ")
	}
	fmt.Fprintf(w, "  policies:   %s\n", oneLine(policies))
	switch {
	case res.Policy == "":
		fmt.Fprintf(w, "  decided by: no statement matched (implicit deny)\n")
	case res.Sid != "":
		fmt.Fprintf(w, "  decided by: policy %s, statement %s\n", res.Policy, res.Sid)
	default:
		fmt.Fprintf(w, "  decided by: policy %s, statement %d\n", res.Policy, res.Statement)
	}
	if res.Allowed {
		return nil
	}
	fmt.Fprintf(w, "  message:    %s\n", res.Message(p.ARN))
	return denied{}
}

// findPrincipal returns the configured principal with that access key
// id or ARN; in local mode, the local principal of that key (or of the
// ARN's account).
func findPrincipal(cfg *config.Config, who string) (*auth.Principal, error) {
	d := auth.FromConfig(cfg)
	if cfg.LocalMode() {
		key := who
		if strings.HasPrefix(who, "arn:") {
			if parts := strings.Split(who, ":"); len(parts) > 4 && parts[4] != "" {
				key = parts[4]
			}
		}
		p, _ := d.Principal(key)
		return p, nil
	}
	for _, p := range cfg.Principals {
		if p.AccessKeyID == who || p.ARN == who {
			pr, _ := d.Principal(p.AccessKeyID)
			return pr, nil
		}
	}
	var known []string
	for _, p := range cfg.Principals {
		known = append(known, p.AccessKeyID)
	}
	return nil, fmt.Errorf("no configured principal has the access key id or ARN %q; the configuration's principals are %s", who, strings.Join(known, ", "))
}
