// Command opentrail is a self-hosted, CloudTrail-compatible activity audit
// trail. See the README for a tour.
package main

import (
	"os"

	"github.com/opentrail/opentrail/internal/cli"
)

func main() {
	os.Exit(cli.Process(os.Args[1:]))
}
