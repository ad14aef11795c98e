// Command opentrail is a self-hosted, CloudTrail-compatible activity audit
// trail. See the README for a tour.
package main

import (
	"context"
	"os"

	"github.com/opentrail/opentrail/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], nil))
}
