package iampolicy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// servicePrefix is the IAM service prefix of each package that registers
// operations. A package that registers operations and is missing here
// fails TestBuiltinsAgainstOperations: add it, and check read-only.
var servicePrefix = map[string]string{
	"cloudtrail":     "cloudtrail",
	"lake":           "cloudtrail",
	"cloudtraildata": "cloudtrail-data",
	"cloudwatch":     "cloudwatch",
	"logs":           "logs",
	"sns":            "sns",
	"events":         "events",
	"native":         "opentrail",
	"s3api":          "s3",
	"sts":            "sts",
}

// s3Actions translates S3 operations whose IAM action is not s3:<name>
// (when route.go names none).
var s3Actions = map[string]string{
	"ListBuckets":          "s3:ListAllMyBuckets",
	"SelectObjectContent":  "s3:GetObject",
	"ListParts":            "s3:ListMultipartUploadParts",
	"ListObjectVersions":   "s3:ListBucketVersions",
	"ListMultipartUploads": "s3:ListBucketMultipartUploads",
	"CreateSession":        "s3express:CreateSession",
}

// notReads are operations route.go lists among the reads that IAM counts
// as writes: CreateSession creates S3 Express session credentials.
var notReads = map[string]bool{"s3express:CreateSession": true}

// op is one operation opentrail serves, as its registration says.
type op struct {
	action   string // IAM action
	readOnly bool
	where    string
}

// servedOperations reads every operation registration in the source of
// the service packages: awsapi.Register, RegisterREST, RegisterRaw and RegisterRawResources
// calls (the string before the readOnly flag is the name), sts's
// operation map, and s3api's route table.
func servedOperations(t *testing.T) []op {
	t.Helper()
	var ops []op
	dirs, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "awsapi" {
			continue
		}
		pkg := d.Name()
		files, _ := filepath.Glob(filepath.Join("..", pkg, "*.go"))
		var found []op
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			found = append(found, registrations(t, f)...)
			if pkg == "s3api" {
				found = append(found, s3Routes(t, f)...)
			}
		}
		if len(found) == 0 {
			continue
		}
		prefix, ok := servicePrefix[pkg]
		if !ok {
			t.Errorf("internal/%s registers operations (%s, ...) but has no IAM service prefix in servicePrefix: add it and check that the built-in policies treat its operations right", pkg, found[0].action)
			continue
		}
		for _, o := range found {
			if !strings.Contains(o.action, ":") {
				if a, ok := s3Actions[o.action]; ok && prefix == "s3" {
					o.action = a
				} else {
					o.action = prefix + ":" + o.action
				}
			}
			o.readOnly = o.readOnly && !notReads[o.action]
			ops = append(ops, o)
		}
	}
	t.Logf("%d registered operations", len(ops))
	if len(ops) < 100 {
		t.Fatalf("found only %d registered operations: the source scan is broken", len(ops))
	}
	return ops
}

func registrations(t *testing.T, file string) []op {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ops []op
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			var name string
			switch fn := n.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			case *ast.IndexListExpr:
				if s, ok := fn.X.(*ast.SelectorExpr); ok {
					name = s.Sel.Name
				}
			}
			if name != "Register" && name != "RegisterREST" && name != "RegisterRaw" && name != "RegisterRawResources" {
				return true
			}
			for i := 1; i < len(n.Args); i++ {
				lit, ok1 := n.Args[i-1].(*ast.BasicLit)
				flag, ok2 := n.Args[i].(*ast.Ident)
				if ok1 && ok2 && lit.Kind == token.STRING && (flag.Name == "true" || flag.Name == "false") {
					s, _ := strconv.Unquote(lit.Value)
					ops = append(ops, op{action: s, readOnly: flag.Name == "true", where: file})
				}
			}
		case *ast.KeyValueExpr: // sts: "GetCallerIdentity": newOperation(true, ...)
			lit, ok := n.Key.(*ast.BasicLit)
			call, ok2 := n.Value.(*ast.CallExpr)
			if ok && ok2 && lit.Kind == token.STRING && len(call.Args) > 0 {
				if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "newOperation" {
					flag, _ := call.Args[0].(*ast.Ident)
					s, _ := strconv.Unquote(lit.Value)
					ops = append(ops, op{action: s, readOnly: flag != nil && flag.Name == "true", where: file})
				}
			}
		}
		return true
	})
	return ops
}

var (
	s3OpRE       = regexp.MustCompile(`&operation\{name: "(\w+)"([^}]*)`)
	s3ActionRE   = regexp.MustCompile(`action: "(s3:\w+)"`)
	s3SubRE      = regexp.MustCompile(`\{"[\w-]+", \[3\]string\{"(\w*)", "(\w*)", "(\w*)"\}\}`)
	s3DeniedRE   = regexp.MustCompile(`deniedWrite\("(\w+)"\)`)
	s3ObjReadRE  = regexp.MustCompile(`(?s)var objectReadSubresources = .*?\n\}`)
	s3ObjWriteRE = regexp.MustCompile(`(?s)var objectWriteSubresources = .*?\n\}`)
	s3PairRE     = regexp.MustCompile(`\{"[\w-]+", "(\w+)"\}`)
)

// s3Routes reads s3api's route table: its operation literals, the bucket
// and object sub-resource tables and the refused writes.
func s3Routes(t *testing.T, file string) []op {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	var ops []op
	for _, m := range s3OpRE.FindAllStringSubmatch(src, -1) {
		o := op{action: m[1], readOnly: strings.Contains(m[2], "readOnly: true"), where: file}
		if a := s3ActionRE.FindStringSubmatch(m[2]); a != nil {
			o.action = a[1]
		}
		ops = append(ops, o)
	}
	for _, m := range s3SubRE.FindAllStringSubmatch(src, -1) {
		for i, name := range m[1:] {
			if name != "" {
				ops = append(ops, op{action: name, readOnly: i == 0, where: file})
			}
		}
	}
	for _, m := range s3DeniedRE.FindAllStringSubmatch(src, -1) {
		ops = append(ops, op{action: m[1], where: file})
	}
	for _, block := range s3ObjReadRE.FindAllString(src, -1) {
		for _, m := range s3PairRE.FindAllStringSubmatch(block, -1) {
			ops = append(ops, op{action: m[1], readOnly: true, where: file})
		}
	}
	for _, block := range s3ObjWriteRE.FindAllString(src, -1) {
		for _, m := range s3PairRE.FindAllStringSubmatch(block, -1) {
			ops = append(ops, op{action: m[1], where: file})
		}
	}
	return ops
}

// readOnlyWrites are the operations registered as changing state that
// read-only still allows: running and stopping queries, which an auditor
// needs and which change nothing recorded.
var readOnlyWrites = map[string]bool{
	"cloudtrail:StartQuery":  true,
	"cloudtrail:CancelQuery": true,
	"logs:StopQuery":         true,
}

// notServed are AWS actions the protecting policies deny although
// opentrail does not serve them (yet), so that they keep protecting when
// it does.
var notServed = map[string]bool{
	"cloudtrail:DeleteEventDataStore":        true,
	"cloudtrail:UpdateEventDataStore":        true,
	"cloudtrail:StopEventDataStoreIngestion": true,
	"logs:DeleteLogStream":                   true,
}

// TestBuiltinsAgainstOperations checks every built-in policy against
// every operation opentrail serves, read from the registrations in the
// source: read-only allows each read and no write (but the listed query
// operations), ingest-only only writes events, trail-protector and
// protect-trails allow everything but what they name, and what they name
// exists.
func TestBuiltinsAgainstOperations(t *testing.T) {
	ops := servedOperations(t)
	served := map[string]bool{}
	for _, o := range ops {
		served[strings.ToLower(o.action)] = true
	}
	decide := func(policy, action string) Effect {
		p, _ := Builtin(policy)
		return p.Evaluate(Request{Action: action, Resource: "arn:aws:cloudtrail:us-east-1:123456789012:trail/main"}).Effect
	}
	protected := map[string]bool{}
	for _, name := range []string{"trail-protector", "protect-trails"} {
		p, _ := Builtin(name)
		for _, s := range p.Statements {
			if s.Effect != ExplicitDeny {
				continue
			}
			for _, a := range s.Action {
				protected[a] = true
				if !served[strings.ToLower(a)] && !notServed[a] {
					t.Errorf("%s denies %s, which opentrail does not serve: a typo? (or add it to notServed)", name, a)
				}
			}
		}
	}
	for a := range readOnlyWrites {
		if !served[strings.ToLower(a)] {
			t.Errorf("readOnlyWrites lists %s, which opentrail does not serve", a)
		}
	}
	for _, o := range ops {
		got := decide("read-only", o.action)
		switch {
		case o.readOnly && got != Allow:
			t.Errorf("read-only does not allow %s, a read operation (%s)", o.action, o.where)
		case !o.readOnly && !readOnlyWrites[o.action] && got == Allow:
			t.Errorf("read-only allows %s, which changes state (%s)", o.action, o.where)
		}
		if got := decide("administrator", o.action); got != Allow {
			t.Errorf("administrator does not allow %s", o.action)
		}
		ingest := o.action == "cloudtrail-data:PutAuditEvents" || o.action == "opentrail:PutEvents" ||
			o.action == "opentrail:PutCaptureIntents" || o.action == "opentrail:RenewCaptureIntents" || o.action == "opentrail:CompleteCaptureRecords"
		if got := decide("ingest-only", o.action); (got == Allow) != ingest {
			t.Errorf("ingest-only decides %s: %v", o.action, got)
		}
		for _, name := range []string{"trail-protector", "protect-trails"} {
			want := Allow
			if protected[o.action] {
				want = ExplicitDeny
			}
			if got := decide(name, o.action); got != want {
				t.Errorf("%s decides %s: %v, want %v", name, o.action, got, want)
			}
		}
	}
	for _, a := range []string{"cloudtrail-data:PutAuditEvents", "opentrail:PutEvents", "cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "logs:DeleteLogGroup"} {
		if !served[strings.ToLower(a)] {
			t.Errorf("%s is not among the registered operations: the source scan misses it", a)
		}
	}
}

// TestBuiltinsDocumented checks that docs/authorization.md shows every
// built-in policy's document as it is.
func TestBuiltinsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/authorization.md")
	if err != nil {
		t.Fatal(err)
	}
	names := BuiltinNames()
	if !sort.StringsAreSorted(names) || len(names) != 5 {
		t.Errorf("BuiltinNames = %q", names)
	}
	for _, name := range names {
		doc, _ := BuiltinDocument(name)
		if !strings.Contains(string(b), "```json\n"+doc+"\n```") {
			t.Errorf("docs/authorization.md does not show built-in %s as it is; paste:\n%s", name, doc)
		}
	}
}
