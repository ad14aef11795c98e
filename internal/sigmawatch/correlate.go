package sigmawatch

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/findings"
	"github.com/opentrail/opentrail/internal/sigma"
	"github.com/opentrail/opentrail/internal/store"
)

// correlator runs a rule set's correlation rules over the plain rules'
// matches (sigma.Correlator, in event time).
type correlator struct{ c *sigma.Correlator }

func newCorrelator(rs *sigma.Ruleset) *correlator { return &correlator{c: rs.NewCorrelator()} }

// observe feeds one event and the plain rules it matched to the
// correlations and appends the signals of those that fire.
func (c *correlator) observe(ev *store.Event, matched []*sigma.Rule, sigs []findings.Signal) []findings.Signal {
	hits := c.c.Observe(ev.Rec.Raw, ev.Rec.EventTime, matched)
	if len(hits) == 0 {
		return sigs
	}
	f := factsOf(ev)
	for _, h := range hits {
		sigs = append(sigs, correlationSignal(h, f))
	}
	return sigs
}

// advance closes the windows that ended before t (conditions such as
// "lt" are decided only then) and appends their signals.
func (c *correlator) advance(t time.Time, sigs []findings.Signal) []findings.Signal {
	for _, h := range c.c.Advance(t) {
		sigs = append(sigs, correlationSignal(h, facts{}))
	}
	return sigs
}

// Group-by fields that say where a correlation happened.
var (
	accountFields   = []string{"recipientAccountId", "userIdentity.accountId"}
	regionFields    = []string{"awsRegion"}
	principalFields = []string{"userIdentity.arn", "userIdentity.principalId", "userIdentity.userName"}
	ipFields        = []string{"sourceIPAddress"}
)

func fromGroup(g map[string]string, fields []string) string {
	for _, k := range fields {
		if v := g[k]; v != "" {
			return v
		}
	}
	return ""
}

// correlationSignal is a correlation rule firing: keyed by its rule,
// group and window start, so that the same firing replayed is recorded
// once. Where it happened comes from the group-by fields, or else from the
// event that completed it (when that event is one of the hit's).
func correlationSignal(h sigma.CorrelationHit, last facts) findings.Signal {
	keys := make([]string, 0, len(h.Group))
	for k := range h.Group {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var group strings.Builder
	for i, k := range keys {
		if i > 0 {
			group.WriteString(",")
		}
		group.WriteString(k + "=" + h.Group[k])
	}
	if last.id == "" || !slices.Contains(h.EventIDs, last.id) {
		last = facts{}
	}
	pick := func(fields []string, dflt string) string {
		if v := fromGroup(h.Group, fields); v != "" {
			return v
		}
		return dflt
	}
	sum := sha256.Sum256([]byte(ruleID(h.Rule) + "\x00" + group.String() + "\x00" + strconv.FormatInt(h.First.UnixNano(), 10)))
	return findings.Signal{
		Detector: findings.DetectorSigma, RuleID: ruleID(h.Rule), Title: h.Rule.Title, Author: h.Rule.Author,
		Severity: severity(h.Rule.Level), Description: h.Rule.Description, References: h.Rule.References,
		Account: pick(accountFields, last.account), Region: pick(regionFields, last.region),
		Principal: pick(principalFields, last.principal), SourceIP: pick(ipFields, last.ip),
		EventIDs: h.EventIDs, EventTime: h.Last, GroupKey: group.String(), Key: "corr-" + hex.EncodeToString(sum[:12]),
	}
}
