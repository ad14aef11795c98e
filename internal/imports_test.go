package internal_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/opentrail/opentrail/internal/"

// floors places every package under internal/ on a floor. A package may
// import only packages on lower floors: dependencies point one way, from
// the command line down to the pure packages, as docs/architecture.md
// draws them. A new package must be given its floor here.
var floors = map[string]int{
	// 0: pure rules and formats, and the small leaves everything may use.
	"clock": 0, "config": 0, "event": 0, "sigv4": 0, "layout": 0,
	"metrics": 0, "objstore": 0, "client": 0, "demo": 0, "cloudtrailarn": 0,
	"filterpattern": 0,
	"alarmrule":     0,
	// eventpattern: EventBridge's event-pattern language.
	"eventpattern": 0,
	// columnar: the cold tier's record codec (Parquet columns + template).
	"columnar":     0,
	"logsinsights": 0,
	"rulepack":     0,
	// sigma: the Sigma rule engine (rules, correlations) for CloudTrail records.
	"sigma": 0,
	// chart: the console's SVG charts (time series, top N, pie, table).
	"chart": 0,
	// iampolicy: the IAM policy language (parse, evaluate) and the
	// built-in policies.
	"iampolicy": 0,
	// s3op: the S3 operation classifier shared by s3api and capture.
	"s3op": 0,
	// geoip: IP address to country/city through a MaxMind .mmdb file.
	"geoip": 1, "geoip/geoiptest": 1,
	// 1: pure rules built on those, the event store, the credential directory.
	"trail": 1, "digest": 1, "store": 1, "auth": 1, "objstore/objstoretest": 1,
	"cis":      1,
	"findings": 1,
	// poll: the background loop of the stream consumers (step, tick, wake, close).
	"poll": 1,
	// tlsconf: the server's certificate (files reloaded on change, or
	// self-signed under the data directory).
	"tlsconf": 1,
	// 2: the wire layer and the components fed by the store.
	"awsapi": 2, "query": 2, "ingest": 2, "importer": 2, "keys": 2, "delivery": 2, "topics": 2,
	// logwatch: CloudWatch Logs' log groups, fed from the stream.
	"logwatch": 2,
	// cisclient: the CIS pack's API over a server's public APIs, for the
	// cis commands and the server's start-up.
	"cisclient": 2,
	"alarms":    2,
	// insights: CloudTrail Insights over the stream.
	"insights": 2,
	// compact: moves sealed events into the store's columnar tier.
	"compact": 2,
	// aggregate: aggregated events (5-minute summaries of data events).
	"aggregate": 2,
	// eventrules: EventBridge rules and targets, run over the stream.
	"eventrules": 2,
	// rollup: the dashboards' hourly rollups (ru_ tables), fed from the stream.
	"rollup": 2,
	// sigmawatch: the Sigma detector over the stream, reporting findings.
	"sigmawatch": 2,
	// authz: who may do what: principals' policies and guard rails
	// (above auth, whose Principal it decides for).
	"authz": 2,
	// users: console users (cu_ tables), passwords, TOTP, lockout, and
	// their sign-ins recorded as ConsoleLogin events (auth principals).
	"users": 2,
	// dashboards: the console's saved dashboards, in the store's DuckDB.
	"dashboards": 2,
	// 3: what the services share on top of the wire layer: pagination
	// tokens, and the wire shapes the CLI decodes too.
	"pagetoken": 3, "cloudtrailwire": 3,
	// servicetest fakes the store, ingester and delivery for the services'
	// tests: above what it fakes (store, ingest, awsapi, trail), below the
	// services whose tests import it. Only its non-test imports count here.
	"servicetest": 3,
	// capture: the capture gateway's and middleware's record model
	// (operation identification, CloudTrail records of captured calls).
	"capture": 3,
	// intents: capture intents (a durable journal), the local capture
	// Recorder over it and the ingester, and the reaper.
	"intents": 3,
	// 4: one package per AWS service spoken, and the native endpoints.
	"cloudtrail": 4, "cloudtraildata": 4, "lake": 4, "native": 4, "s3api": 4, "sts": 4, "sns": 4,
	"logs": 4, "cloudwatch": 4,
	// gateway: the capture gateway (SigV4-aware reverse proxy recording
	// every call through capture's Recorder).
	"gateway": 4,
	"events":  4,
	// The web console: pages over the services (in process) and the components.
	"console": 4,
	// 5: the front door and the wiring.
	"server": 5,
	// 6: the commands.
	"cli": 6,
	// Tests only: they may drive anything.
	"e2e":         7,
	"testserver":  7,
	"reliability": 8,
}

// pure packages hold rules and formats: no database, no network clients,
// no other opentrail package but the ones listed.
var pure = map[string][]string{
	"alarmrule":     nil,
	"clock":         nil,
	"cloudtrailarn": nil,
	"columnar":      nil,
	"event":         nil,
	"eventpattern":  nil,
	"filterpattern": nil,
	"logsinsights":  nil,
	"rulepack":      nil,
	"sigma":         nil,
	"chart":         nil,
	"iampolicy":     nil,
	"sigv4":         nil,
	"digest":        {"layout"},
	"layout":        nil,
	"trail":         {"event", "iampolicy", "layout"},
	"cis":           {"event", "filterpattern"},
	"poll":          {"clock"},
	"s3op":          nil,
}

// impure are imports a pure package never makes.
var impure = []string{"database/sql", "github.com/duckdb/", "github.com/aws/", "os/exec"}

// TestImportDirection enforces the floors above and the purity of the
// pure packages, reading the non-test files of every package.
func TestImportDirection(t *testing.T) {
	imports := map[string]map[string]bool{} // package -> imported paths
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == "." || strings.Contains(path, "testdata") {
			return err
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ImportsOnly)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(path)
		for _, p := range pkgs {
			for _, f := range p.Files {
				for _, imp := range f.Imports {
					s, _ := strconv.Unquote(imp.Path.Value)
					if imports[name] == nil {
						imports[name] = map[string]bool{}
					}
					imports[name][s] = true
				}
			}
		}
		if len(pkgs) > 0 && imports[name] == nil {
			imports[name] = map[string]bool{}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range imports {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		floor, ok := floors[name]
		if !ok {
			t.Errorf("package internal/%s has no floor: add it to floors in imports_test.go and to docs/architecture.md", name)
			continue
		}
		allowed, isPure := pure[name]
		for imp := range imports[name] {
			if isPure {
				for _, bad := range impure {
					if strings.HasPrefix(imp, bad) {
						t.Errorf("pure package internal/%s imports %s", name, imp)
					}
				}
			}
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if isPure && !contains(allowed, dep) {
				t.Errorf("pure package internal/%s imports internal/%s, which is not among its allowed imports %v", name, dep, allowed)
			}
			depFloor, ok := floors[dep]
			if !ok {
				continue // reported above, as a package without a floor
			}
			if depFloor >= floor {
				t.Errorf("internal/%s (floor %d) imports internal/%s (floor %d): a package imports only lower floors", name, floor, dep, depFloor)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
