// Command filter measures metric-filter matching: how many CloudTrail
// records per second one core runs through a filterpattern.Set holding
// every CIS AWS Foundations Benchmark v3.0.0 monitoring filter (4.1–4.15)
// and ten realistic custom filters, beside the cost of decoding the same
// record once with json.Unmarshal into a map[string]any (the "parse
// once" baseline a filter must stay under), and beside matching the 25
// patterns one by one.
//
//	go run ./bench/filter                        # 200,000 ctgen records, 5 runs
//	go run ./bench/filter --events 500000 --runs 7 --cpuprofile cpu.prof
//
// Records come from the shared generator ../shared/tools/ctgen (NDJSON,
// with its planted incidents so that the CIS filters have something to
// find). Everything runs on one core (GOMAXPROCS=1); each run times the
// three passes over all records in turn, and the report gives the median
// of the runs.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/opentrail/opentrail/bench/internal/prof"
	"github.com/opentrail/opentrail/internal/filterpattern"
)

// cisV3 are the CIS v3.0.0 monitoring filters 4.1–4.15, as the benchmark
// text spells them.
var cisV3 = []string{
	`{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }`,
	`{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }`,
	`{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`,
	`{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=DetachGroupPolicy)}`,
	`{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }`,
	`{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`,
	`{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }`,
	`{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication)) }`,
	`{ ($.eventSource = config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)||($.eventName=DeleteDeliveryChannel) ||($.eventName=PutDeliveryChannel)||($.eventName=PutConfigurationRecorder)) }`,
	`{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }`,
	`{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }`,
	`{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }`,
	`{ ($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable) }`,
	`{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }`,
	`{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake") || ($.eventName = "AttachPolicy") || ($.eventName = "CreateAccount") || ($.eventName = "CreateOrganizationalUnit") || ($.eventName = "CreatePolicy") || ($.eventName = "DeclineHandshake") || ($.eventName = "DeleteOrganization") || ($.eventName = "DeleteOrganizationalUnit") || ($.eventName = "DeletePolicy") || ($.eventName = "DetachPolicy") || ($.eventName = "DisablePolicyType") || ($.eventName = "EnablePolicyType") || ($.eventName = "InviteAccountToOrganization") || ($.eventName = "LeaveOrganization") || ($.eventName = "MoveAccount") || ($.eventName = "RemoveAccountFromOrganization") || ($.eventName = "UpdatePolicy") || ($.eventName = "UpdateOrganizationalUnit")) }`,
}

// custom are ten filters a team adds beside CIS: error-code globs, a
// source-IP regex, an ARN glob, an event-name list, a numeric
// comparison, a term pattern, booleans, NOT EXISTS.
var custom = []string{
	`{ ($.errorCode = "Throttling*") || ($.errorCode = "SlowDown") || ($.errorCode = "Client.RequestLimitExceeded") }`,
	`{ $.sourceIPAddress = %^198\.51\.100\.% }`,
	`{ $.userIdentity.arn = "arn:aws:iam::*:user/breakglass*" }`,
	`{ ($.eventName = RunInstances) || ($.eventName = TerminateInstances) || ($.eventName = StopInstances) }`,
	`{ $.additionalEventData.bytesTransferredOut > 10000000 }`,
	`"iam.amazonaws.com" DeleteUser`,
	`{ $.userIdentity.type = "AssumedRole" && $.userIdentity.sessionContext.attributes.mfaAuthenticated = "false" && $.readOnly IS FALSE && $.eventSource = "iam.amazonaws.com" }`,
	`{ ($.eventSource = "sts.amazonaws.com") && ($.eventName = "GetFederationToken") }`,
	`{ ($.tlsDetails.tlsVersion = "TLSv1") || ($.tlsDetails.tlsVersion = "TLSv1.1") }`,
	`{ ($.eventName = "GetSecretValue") && ($.userIdentity.type = "IAMUser") && ($.errorCode NOT EXISTS) }`,
}

func main() {
	var (
		ctgenSrc, cpuProfile string
		events, runs         int
	)
	flag.StringVar(&ctgenSrc, "ctgen", "../shared/tools/ctgen", "source directory of the ctgen generator")
	flag.IntVar(&events, "events", 200000, "background records to generate (ctgen adds its planted incidents)")
	flag.IntVar(&runs, "runs", 5, "timed runs; the report gives medians")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the timed runs to this file")
	flag.Parse()
	if err := run(ctgenSrc, cpuProfile, events, runs); err != nil {
		fmt.Fprintln(os.Stderr, "filter:", err)
		os.Exit(1)
	}
}

func run(ctgenSrc, cpuProfile string, events, runs int) error {
	recs, err := generate(ctgenSrc, events)
	if err != nil {
		return err
	}
	var size int
	for _, r := range recs {
		size += len(r)
	}
	var ps []*filterpattern.Pattern
	for _, s := range append(slices.Clone(cisV3), custom...) {
		p, err := filterpattern.Compile(s)
		if err != nil {
			return fmt.Errorf("compile %s: %w", s, err)
		}
		ps = append(ps, p)
	}
	set := filterpattern.NewSet(ps)

	runtime.GOMAXPROCS(1)
	stop, err := prof.CPU(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()

	// Wall time and this process's CPU time (user + system, all threads:
	// the garbage collector's work counts) of each pass; on a shared
	// machine the CPU time is the steadier figure.
	var setT, oneT, jsonT, setC, oneC, jsonC []time.Duration
	counts := make([]int, len(ps))
	hits := make([]bool, len(ps))
	for r := 0; r < runs; r++ {
		runtime.GC()
		t0, c0 := time.Now(), cpuTime()
		for _, rec := range recs {
			set.MatchAll(rec, hits)
		}
		setT, setC = append(setT, time.Since(t0)), append(setC, cpuTime()-c0)

		runtime.GC()
		t0, c0 = time.Now(), cpuTime()
		n := 0
		for _, rec := range recs {
			for _, p := range ps {
				if p.Match(rec) {
					n++
				}
			}
		}
		oneT, oneC = append(oneT, time.Since(t0)), append(oneC, cpuTime()-c0)

		runtime.GC()
		t0, c0 = time.Now(), cpuTime()
		for _, rec := range recs {
			var m map[string]any
			if err := json.Unmarshal(rec, &m); err != nil {
				return err
			}
		}
		jsonT, jsonC = append(jsonT, time.Since(t0)), append(jsonC, cpuTime()-c0)
	}
	stop()
	// Matches per pattern, checked against matching one by one.
	total := 0
	for _, rec := range recs {
		set.MatchAll(rec, hits)
		for k, h := range hits {
			if h {
				counts[k]++
				total++
			}
			if h != ps[k].Match(rec) {
				return fmt.Errorf("Set and Match disagree on pattern %d for %s", k, rec)
			}
		}
	}

	host, _ := os.Hostname()
	fmt.Printf("records: %d (%.0f MB, mean %.0f bytes), patterns: %d (CIS v3.0 4.1–4.15 + %d custom), GOMAXPROCS=1, %s, %s/%s, host %s\n\n",
		len(recs), float64(size)/1e6, float64(size)/float64(len(recs)), len(ps), len(custom), runtime.Version(), runtime.GOOS, runtime.GOARCH, host)
	fmt.Println("| pass | wall s (runs) | CPU s (runs) | median CPU s | records per CPU-second | ns/record | MB/s | median wall records/s |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|")
	row := func(name string, ts, cs []time.Duration) {
		med, wall := median(cs), median(ts)
		fmt.Printf("| %s | %s | %s | %.3f | %s | %.0f | %.0f | %s |\n", name, secs(ts), secs(cs), med.Seconds(),
			group(float64(len(recs))/med.Seconds()), float64(med.Nanoseconds())/float64(len(recs)), float64(size)/1e6/med.Seconds(),
			group(float64(len(recs))/wall.Seconds()))
	}
	row(fmt.Sprintf("`Set.MatchAll`, %d patterns", len(ps)), setT, setC)
	row(fmt.Sprintf("`Pattern.Match` × %d, one by one", len(ps)), oneT, oneC)
	row("`json.Unmarshal` into `map[string]any` (baseline)", jsonT, jsonC)
	fmt.Printf("\nSet.MatchAll costs %.2f× (CPU) one json.Unmarshal of the same record.\n\n", median(setC).Seconds()/median(jsonC).Seconds())
	fmt.Println("| # | pattern | matches |")
	fmt.Println("|---:|---|---:|")
	for k, p := range ps {
		s := p.String()
		if len(s) > 70 {
			s = s[:67] + "..."
		}
		fmt.Printf("| %d | `%s` | %d |\n", k+1, s, counts[k])
	}
	return nil
}

// generate builds ctgen from src and returns n records (plus its planted
// incidents) as NDJSON lines.
func generate(src string, n int) ([][]byte, error) {
	work, err := os.MkdirTemp("", "bench-filter-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "ctgen")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = src
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build ctgen in %s: %w", src, err)
	}
	fmt.Fprintf(os.Stderr, "generating %d records...\n", n)
	out, err := exec.Command(bin, "--events", strconv.Itoa(n), "--inject").Output()
	if err != nil {
		return nil, fmt.Errorf("ctgen: %w", err)
	}
	var recs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		recs = append(recs, slices.Clone(sc.Bytes()))
	}
	return recs, sc.Err()
}

func median(ts []time.Duration) time.Duration {
	s := slices.Clone(ts)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuTime is the CPU time this process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func secs(ts []time.Duration) string {
	var list []string
	for _, t := range ts {
		list = append(list, strconv.FormatFloat(t.Seconds(), 'f', 3, 64))
	}
	return joinDot(list)
}

func joinDot(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " · "
		}
		out += x
	}
	return out
}

// group writes n rounded with thousands separators.
func group(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
