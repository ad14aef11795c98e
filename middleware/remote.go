package middleware

import (
	"context"
	"fmt"
	"strings"

	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/client"
)

// remote is the Recorder over the capture endpoints of the opentrail
// server at o.Endpoint (POST /v1/capture/intents, /renew, /complete),
// which acknowledge only what they have fsynced; concurrent calls share
// one request (group commit). Requests are signed with o's keys, else the
// usual AWS credential chain, else the local-mode pair test/test. Its
// close function stops it.
func remote(o Options) (Recorder, func(context.Context) error, error) {
	if !strings.HasPrefix(o.Endpoint, "http://") && !strings.HasPrefix(o.Endpoint, "https://") {
		return nil, nil, fmt.Errorf("middleware: Options.Endpoint %q is not an http:// or https:// URL of an opentrail server", o.Endpoint)
	}
	var c *client.Client
	switch {
	case o.AccessKeyID != "" && o.SecretAccessKey != "":
		c = client.NewStatic(o.Endpoint, o.Region, o.AccessKeyID, o.SecretAccessKey)
	case o.AccessKeyID != "" || o.SecretAccessKey != "":
		return nil, nil, fmt.Errorf("middleware: set both Options.AccessKeyID and Options.SecretAccessKey, or neither to use the AWS credential chain")
	default:
		var err error
		c, err = client.New(context.Background(), client.Options{Endpoint: o.Endpoint, Region: o.Region})
		if err != nil {
			return nil, nil, fmt.Errorf("middleware: credentials for %s: %w", o.Endpoint, err)
		}
	}
	r := capture.NewRemote(c, capture.RemoteOptions{Timeout: o.CommitTimeout})
	return r, r.Close, nil
}
