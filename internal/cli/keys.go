package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
)

type keysCmd struct{ env *Env }

func (*keysCmd) Name() string { return "keys" }
func (*keysCmd) Synopsis() string {
	return "list or rotate the keys that sign trails' digest files (keys [list|rotate])"
}

func (c *keysCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "keys", "[list|rotate] [flags]")
	var (
		cf     clientFlags
		asJSON bool
	)
	cf.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the server's answer as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	sub := "list"
	switch pos := fs.Args(); {
	case len(pos) == 1 && (pos[0] == "list" || pos[0] == "rotate"):
		sub = pos[0]
	case len(pos) > 1 && (pos[0] == "list" || pos[0] == "rotate"):
		return fmt.Errorf("unexpected argument %q after %s; keys %s takes flags only", pos[1], pos[0], pos[0])
	case len(pos) > 0:
		return fmt.Errorf("unexpected argument %q; use keys list or keys rotate", pos[0])
	}
	cl, err := cf.client(ctx)
	if err != nil {
		return err
	}
	q := url.Values{"region": {cl.Region}}
	method, path := http.MethodGet, "/v1/keys?"
	if sub == "rotate" {
		method, path = http.MethodPost, "/v1/keys/rotate?"
	}
	out, err := cl.Do(ctx, "opentrail", method, path+q.Encode(), nil, nil)
	if err != nil {
		return err
	}
	if asJSON {
		fmt.Fprintln(c.env.Stdout, string(out))
		return nil
	}
	type key struct{ Region, Fingerprint, ValidFrom, ValidTo string }
	var resp struct {
		Keys []key `json:"keys"`
		Key  *key  `json:"key"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("read the server's answer: %w", err)
	}
	if resp.Key != nil {
		resp.Keys = []key{*resp.Key}
		fmt.Fprintf(c.env.Stderr, "rotated: digests of %s that end from now on are signed with the new key\n", resp.Key.Region)
	}
	if len(resp.Keys) == 0 {
		fmt.Fprintf(c.env.Stderr, "no signing keys in %s yet: one is made when a trail with log file validation writes its first digest\n", cl.Region)
		return nil
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tFINGERPRINT\tVALID FROM\tVALID TO")
	for _, k := range resp.Keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Region, k.Fingerprint, k.ValidFrom, k.ValidTo)
	}
	return tw.Flush()
}
