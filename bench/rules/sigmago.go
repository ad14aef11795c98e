package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"
)

// sigmaGo is the same rules through github.com/bradleyjkemp/sigma-go, the
// Go library a user would otherwise reach for: its parser, its
// RuleEvaluatorBundle (Aho-Corasick over the contains/re values), each
// record decoded with encoding/json and flattened to dotted keys (sigma-go
// reads an event as a flat map; nested CloudTrail members such as
// userIdentity.type are found only that way or through a field-mapping
// config).
type sigmaGo struct {
	bundle      evaluator.RuleEvaluatorBundle
	parsed      int
	parseErrs   []string // file: reason
	evalErrs    []string // rule: the error sigma-go gives evaluating it
	stems       map[string]string
	caseFolding string
}

func loadSigmaGo(dir string, sample [][]byte) (*sigmaGo, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil {
		return nil, err
	}
	sg := &sigmaGo{stems: map[string]string{}}
	var rules []sigmago.Rule
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		stem := strings.TrimSuffix(filepath.Base(f), ".yml")
		r, err := sigmago.ParseRule(src)
		if err != nil {
			sg.parseErrs = append(sg.parseErrs, stem+": "+err.Error())
			continue
		}
		sg.parsed++
		// sigma-go reports an evaluation error per event (an unknown
		// modifier, keywords); its bundle drops such rules silently.
		ev := evaluator.ForRule(r)
		for _, rec := range sample {
			if _, err := ev.Matches(context.Background(), flatEvent(rec)); err != nil {
				sg.evalErrs = append(sg.evalErrs, stem+": "+err.Error())
				break
			}
		}
		sg.stems[r.ID] = stem
		rules = append(rules, r)
	}
	sort.Strings(sg.parseErrs)
	sort.Strings(sg.evalErrs)
	sg.bundle = evaluator.ForRules(rules)
	sg.caseFolding = sg.caseCheck()
	return sg, nil
}

// flatEvent decodes a record and flattens its objects to dotted keys.
func flatEvent(rec []byte) map[string]any {
	var m map[string]any
	if json.Unmarshal(rec, &m) != nil {
		return nil
	}
	out := make(map[string]any, 64)
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	walk("", m)
	return out
}

// match returns the stems of the rules matching rec.
func (sg *sigmaGo) match(rec []byte, dst []string) ([]string, error) {
	res, err := sg.bundle.Matches(context.Background(), flatEvent(rec))
	if err != nil {
		return dst, err
	}
	for _, r := range res {
		if r.Match {
			dst = append(dst, sg.stems[r.ID])
		}
	}
	return dst, nil
}

// caseCheck says whether sigma-go matches the console-login-without-MFA
// rule (MFAUsed: 'No') on a record whose MFAUsed is "NO".
func (sg *sigmaGo) caseCheck() string {
	rec := func(mfa string) []byte {
		return []byte(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","accountId":"123456789012","userName":"alice"},"eventTime":"2026-12-05T05:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"` + mfa + `"},"eventType":"AwsConsoleSignIn","recipientAccountId":"123456789012"}`)
	}
	var says []string
	for _, mfa := range []string{"No", "NO"} {
		got, _ := sg.match(rec(mfa), nil)
		hit := false
		for _, s := range got {
			hit = hit || s == "aws_cloudtrail_console_login_success_without_mfa"
		}
		says = append(says, fmt.Sprintf("MFAUsed %q: %v", mfa, hit))
	}
	return strings.Join(says, ", ")
}
