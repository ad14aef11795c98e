package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

type usersCmd struct{ env *Env }

func (*usersCmd) Name() string { return "users" }
func (*usersCmd) Synopsis() string {
	return "manage the web console's users on a running server (users [list|add|remove|passwd|mfa-enable|mfa-disable] NAME)"
}

// consoleUser is a user as GET /v1/console/users answers it.
type consoleUser struct {
	Name, Account, ARN  string
	Admin, MFA          bool
	MFAPending          bool
	Created, LastSignIn string
	LockedSeconds       int64
	Policies            []string
}

const minConsolePassword = 12

func (c *usersCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "users", "list | add NAME --account ACCOUNT [--admin] [--policy P]... | policies NAME [--policy P]... | remove NAME | passwd NAME | mfa-enable NAME | mfa-disable NAME [flags]")
	var (
		cf            clientFlags
		asJSON, admin bool
		account       string
		pwStdin       bool
		policies      multiFlag
	)
	cf.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the server's answer as JSON")
	fs.StringVar(&account, "account", "", "add: the 12-digit account the user acts in (users of the organisation's management account see every account)")
	fs.BoolVar(&admin, "admin", false, "add: make the user an administrator (manages console users)")
	fs.Var(&policies, "policy", "add, policies: a policy that applies to the user (repeatable): a built-in name (read-only, ...), a JSON file (sent as its content) or a JSON document; none means the server's default policy")
	fs.BoolVar(&pwStdin, "password-stdin", false, "add, passwd: read the password from the first line of standard input instead of prompting")
	if err := parse(fs, args); err != nil {
		return err
	}
	pos := fs.Args()
	sub := "list"
	if len(pos) > 0 {
		sub, pos = pos[0], pos[1:]
	}
	switch sub {
	case "list":
		if len(pos) > 0 {
			return fmt.Errorf("unexpected argument %q; users list takes flags only", pos[0])
		}
	case "add", "policies", "remove", "passwd", "mfa-enable", "mfa-disable":
		if len(pos) != 1 {
			return fmt.Errorf("users %s needs one user name", sub)
		}
		if sub == "add" && account == "" {
			return fmt.Errorf("users add needs --account: the 12-digit account the user acts in")
		}
	default:
		return fmt.Errorf("unknown users command %q; use list, add, policies, remove, passwd, mfa-enable or mfa-disable", sub)
	}
	refs, err := policyRefs(policies)
	if err != nil {
		return err
	}
	// Read the password before calling the server, so a prompt is not
	// interrupted by its answer.
	var password string
	if sub == "add" || sub == "passwd" {
		if password, err = c.password(pwStdin, pos[0]); err != nil {
			return err
		}
	}
	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	var path string
	if len(pos) > 0 {
		path = "/v1/console/users/" + url.PathEscape(pos[0])
	}
	var out []byte
	switch sub {
	case "list":
		if out, err = cl.Do(ctx, "opentrail", http.MethodGet, "/v1/console/users", nil, nil); err != nil {
			return err
		}
		if asJSON {
			fmt.Fprintln(c.env.Stdout, strings.TrimSpace(string(out)))
			return nil
		}
		var resp struct{ Users []consoleUser }
		if err := json.Unmarshal(out, &resp); err != nil {
			return fmt.Errorf("read the server's answer: %w", err)
		}
		return printUsers(c.env.Stdout, resp.Users)
	case "add":
		body, _ := json.Marshal(map[string]any{"Name": pos[0], "Account": account, "Admin": admin, "Password": password, "Policies": refs})
		if out, err = cl.Do(ctx, "opentrail", http.MethodPost, "/v1/console/users", jsonHdr, body); err != nil {
			return err
		}
		var resp struct{ User consoleUser }
		if err := json.Unmarshal(out, &resp); err != nil {
			return fmt.Errorf("read the server's answer: %w", err)
		}
		fmt.Fprintf(c.env.Stdout, "added %s (%s)%s, policies: %s\n", resp.User.Name, resp.User.ARN, map[bool]string{true: ", administrator"}[resp.User.Admin], policyList(resp.User.Policies))
	case "policies":
		body, _ := json.Marshal(map[string]any{"Policies": refs})
		if out, err = cl.Do(ctx, "opentrail", http.MethodPut, path+"/policies", jsonHdr, body); err != nil {
			return err
		}
		var resp struct{ User consoleUser }
		if err := json.Unmarshal(out, &resp); err != nil {
			return fmt.Errorf("read the server's answer: %w", err)
		}
		fmt.Fprintf(c.env.Stdout, "policies of %s: %s\n", resp.User.Name, policyList(resp.User.Policies))
	case "remove":
		if _, err = cl.Do(ctx, "opentrail", http.MethodDelete, path, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "removed %s; their browsers are signed out\n", pos[0])
	case "passwd":
		body, _ := json.Marshal(map[string]string{"Password": password})
		if _, err = cl.Do(ctx, "opentrail", http.MethodPut, path+"/password", jsonHdr, body); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "password of %s set; their browsers are signed out\n", pos[0])
	case "mfa-disable":
		if _, err = cl.Do(ctx, "opentrail", http.MethodDelete, path+"/mfa", nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "MFA device of %s removed; signing in needs the password only\n", pos[0])
	case "mfa-enable":
		return c.mfaEnable(ctx, cl, path, pos[0])
	}
	return nil
}

// doer is the signing client's one call.
type doer interface {
	Do(ctx context.Context, service, method, path string, h http.Header, body []byte) ([]byte, error)
}

// mfaEnable starts an enrolment, shows the secret, and confirms it with
// the code read from standard input.
func (c *usersCmd) mfaEnable(ctx context.Context, cl doer, path, name string) error {
	out, err := cl.Do(ctx, "opentrail", http.MethodPost, path+"/mfa", nil, nil)
	if err != nil {
		return err
	}
	var e struct{ Secret, URI string }
	if err := json.Unmarshal(out, &e); err != nil {
		return fmt.Errorf("read the server's answer: %w", err)
	}
	fmt.Fprintf(c.env.Stdout, "Add this account to an authenticator app (TOTP) for %s:\nSecret: %s\nURI: %s\n", name, e.Secret, e.URI)
	fmt.Fprint(c.env.Stderr, "Code the app shows now: ")
	code, err := bufio.NewReader(c.env.Stdin).ReadString('\n')
	if err != nil && (err != io.EOF || code == "") {
		return fmt.Errorf("read the code: %w; the device is not enrolled (run mfa-enable again)", err)
	}
	body, _ := json.Marshal(map[string]string{"Code": strings.TrimSpace(code)})
	if _, err := cl.Do(ctx, "opentrail", http.MethodPost, path+"/mfa/confirm", http.Header{"Content-Type": {"application/json"}}, body); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "MFA device of %s enrolled: signing in needs a code from it\n", name)
	return nil
}

// password reads a new password: the first line of standard input with
// --password-stdin, else typed twice at a prompt without echo.
func (c *usersCmd) password(fromStdin bool, name string) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(c.env.Stdin).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if len([]rune(pw)) < minConsolePassword {
			return "", fmt.Errorf("the password must be at least %d characters long", minConsolePassword)
		}
		return pw, nil
	}
	f, ok := c.env.Stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return "", errors.New("standard input is not a terminal: pass the password on standard input with --password-stdin (never as a flag)")
	}
	fmt.Fprintf(c.env.Stderr, "New password for %s (at least %d characters): ", name, minConsolePassword)
	pw, err := readNoEcho(f)
	fmt.Fprintln(c.env.Stderr)
	if err != nil {
		return "", err
	}
	if len([]rune(pw)) < minConsolePassword {
		return "", fmt.Errorf("the password must be at least %d characters long", minConsolePassword)
	}
	fmt.Fprint(c.env.Stderr, "The same password again: ")
	again, err := readNoEcho(f)
	fmt.Fprintln(c.env.Stderr)
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the two passwords differ")
	}
	return pw, nil
}

func printUsers(w io.Writer, us []consoleUser) error {
	if len(us) == 0 {
		fmt.Fprintln(w, "no console users (add one: opentrail users add NAME --account ACCOUNT --admin)")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tACCOUNT\tADMIN\tMFA\tLAST SIGN-IN\tLOCKED\tPOLICIES")
	for _, u := range us {
		mfa := "no"
		if u.MFA {
			mfa = "yes"
		} else if u.MFAPending {
			mfa = "unconfirmed"
		}
		last := u.LastSignIn
		if last == "" {
			last = "never"
		}
		locked := "-"
		if u.LockedSeconds > 0 {
			locked = fmt.Sprintf("%ds", u.LockedSeconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, u.Account, map[bool]string{true: "yes", false: "no"}[u.Admin], mfa, last, locked, policyList(u.Policies))
	}
	return tw.Flush()
}

// policyList shows a user's policies; none means the server's default.
func policyList(p []string) string {
	if len(p) == 0 {
		return "(default)"
	}
	out := make([]string, len(p))
	for i, r := range p {
		if strings.HasPrefix(strings.TrimSpace(r), "{") {
			r = "inline #" + strconv.Itoa(i+1)
		}
		out[i] = r
	}
	return strings.Join(out, ",")
}

// policyRefs turns --policy values into the references sent to the
// server: a file (its name ends in .json, or it exists) is sent as its
// JSON content, since the server may not see this machine's files.
func policyRefs(flags []string) ([]string, error) {
	refs := []string{}
	for _, f := range flags {
		f = strings.TrimSpace(f)
		if f == "" || strings.HasPrefix(f, "{") {
			refs = append(refs, f)
			continue
		}
		if _, err := os.Stat(f); err != nil && !strings.HasSuffix(f, ".json") {
			refs = append(refs, f) // a built-in name
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read policy %s: %w", f, err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("policy %s is not a JSON document: %w", f, err)
		}
		compact, _ := json.Marshal(doc)
		refs = append(refs, string(compact))
	}
	return refs, nil
}
