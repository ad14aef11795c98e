package sigmawatch

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/sigma"
	"github.com/opentrail/opentrail/internal/store"
)

// facts are what a signal says about the event behind it.
type facts struct {
	id, account, region, principal, ip string
	t                                  time.Time
}

func factsOf(ev *store.Event) facts {
	r := ev.Rec
	f := facts{id: r.EventID, account: r.AccountID, region: r.AWSRegion, ip: r.SourceIP, t: r.EventTime}
	if v, err := fastjson.ParseBytes(r.Raw); err == nil {
		if arn := v.GetStringBytes("userIdentity", "arn"); len(arn) > 0 {
			f.principal = string(arn)
		} else if pid := v.GetStringBytes("userIdentity", "principalId"); len(pid) > 0 {
			f.principal = string(pid)
		}
	}
	if f.principal == "" {
		f.principal = r.Username
	}
	return f
}

// severity maps a Sigma level to a finding severity (Sigma's levels are
// the severities; an unknown or empty level is medium).
func severity(level string) string {
	l := strings.ToLower(level)
	if findings.ValidSeverity(l) {
		return l
	}
	return findings.SeverityMedium
}

// eventSignal is one event matching a plain rule: keyed by the event, and
// grouped by the principal (a finding per rule, account, region and
// principal within the dedup window).
func eventSignal(r *sigma.Rule, f facts) findings.Signal {
	return findings.Signal{
		Detector: findings.DetectorSigma, RuleID: ruleID(r), Title: r.Title, Author: r.Author,
		Severity: severity(r.Level), Description: r.Description, References: r.References,
		Account: f.account, Region: f.region, Principal: f.principal, SourceIP: f.ip,
		EventIDs: []string{f.id}, EventTime: f.t, GroupKey: f.principal, Key: f.id,
	}
}

// ruleID is the rule's Sigma id, or its title when it has none.
func ruleID(r *sigma.Rule) string {
	if r.ID != "" {
		return r.ID
	}
	return r.Title
}
