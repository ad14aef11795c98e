package eventpattern

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

type namedPattern struct {
	Name    string          `json:"name"`
	Pattern json.RawMessage `json:"pattern"`
}

// securityPatterns loads the 50 CloudTrail security patterns of
// testdata/security_patterns.json (also the event rules of bench/rules).
func securityPatterns(tb testing.TB) *Set {
	tb.Helper()
	src, err := os.ReadFile("testdata/security_patterns.json")
	if err != nil {
		tb.Fatal(err)
	}
	var ps []namedPattern
	if err := json.Unmarshal(src, &ps); err != nil {
		tb.Fatal(err)
	}
	set := NewSet()
	for _, p := range ps {
		c, err := Compile(string(p.Pattern))
		if err != nil {
			tb.Fatalf("%s: %v", p.Name, err)
		}
		set.Add(p.Name, c)
	}
	if set.Len() != 50 {
		tb.Fatalf("%d patterns, want 50", set.Len())
	}
	return set
}

// stratusRecords reads one Stratus Red Team detonation log (a JSON array
// of CloudTrail records) and wraps each record in EventBridge's envelope.
func stratusRecords(t *testing.T, technique string) [][]byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../../../shared/testdata/public/stratus-red-team", technique+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(src, &recs); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, r := range recs {
		ev, err := CloudTrailEvent(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestSecurityPatternsOnStratus: the event rules fire on the real
// detonation logs of the techniques they target.
func TestSecurityPatternsOnStratus(t *testing.T) {
	set := securityPatterns(t)
	for technique, rule := range map[string]string{
		"aws.credential-access.ec2-get-password-data":                 "ec2-get-password-data",
		"aws.defense-evasion.cloudtrail-stop":                         "cloudtrail-tampering",
		"aws.defense-evasion.cloudtrail-delete":                       "cloudtrail-tampering",
		"aws.defense-evasion.cloudtrail-event-selectors":              "cloudtrail-tampering",
		"aws.discovery.ec2-download-user-data":                        "ec2-userdata-read",
		"aws.execution.ssm-send-command":                              "ssm-send-command",
		"aws.persistence.iam-create-user-login-profile":               "iam-login-profile",
		"aws.persistence.iam-create-admin-user":                       "iam-admin-policy-attached",
		"aws.persistence.sts-federation-token":                        "sts-get-federation-token",
		"aws.credential-access.ssm-retrieve-securestring-parameters":  "ssm-parameters-decrypted",
		"aws.lateral-movement.ec2-serial-console-send-ssh-public-key": "ec2-serial-console",
		"aws.initial-access.console-login-without-mfa":                "console-login-without-mfa",
	} {
		fired := false
		for _, ev := range stratusRecords(t, technique) {
			ids, err := set.Matches(ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(ids, rule) {
				fired = true
			}
		}
		if !fired {
			t.Errorf("%s: rule %s did not fire", technique, rule)
		}
	}
}

// ctgenEvents runs the shared CloudTrail generator and wraps its records
// in EventBridge's envelope.
func ctgenEvents(tb testing.TB, n string) [][]byte {
	tb.Helper()
	cmd := exec.Command("go", "run", ".", "--events", n, "--inject")
	cmd.Dir = "../../../shared/tools/ctgen"
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("ctgen: %v", err)
	}
	var evs [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ev, err := CloudTrailEvent(sc.Bytes())
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// BenchmarkSetMatches runs ctgen records (in EventBridge's envelope)
// through the 50 security patterns on one core and reports events/s.
func BenchmarkSetMatches(b *testing.B) {
	set := securityPatterns(b)
	evs := ctgenEvents(b, "20000")
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var dst []string
	hits := 0
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		dst, err = set.Matches(evs[i%len(evs)], dst[:0])
		if err != nil {
			b.Fatal(err)
		}
		hits += len(dst)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// on a shared machine, wall time overstates the cost: CPU time does not
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	if b.N >= len(evs) && hits == 0 {
		b.Fatal("no pattern matched any record")
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPatternsOneByOne is the baseline the Set's index is measured
// against: the same 50 patterns, each reading the event on its own.
func BenchmarkPatternsOneByOne(b *testing.B) {
	set := securityPatterns(b)
	var ps []*Pattern
	for _, m := range set.members {
		ps = append(ps, m.p)
	}
	evs := ctgenEvents(b, "20000")
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		for _, p := range ps {
			if _, err := p.Match(ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}
