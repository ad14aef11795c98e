package cis

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opentrail/opentrail/internal/event"
)

// Suppression lists what a control ignores: an event matching any entry
// does not count towards the control's metric.
type Suppression struct {
	// Principals are ARN patterns (`*` matches any run of characters)
	// compared with userIdentity.arn, userIdentity.invokedBy and
	// userIdentity.sessionContext.sessionIssuer.arn, e.g.
	// "arn:aws:iam::*:role/aws-service-role/*" or
	// "elasticloadbalancing.amazonaws.com".
	Principals []string
	// EventSources are event sources (patterns too), e.g. "s3.amazonaws.com".
	EventSources []string
	// IdentityTypes are userIdentity.type values, e.g. "AWSService".
	IdentityTypes []string
}

// Suppressor decides, per metric filter, which events a control ignores.
// The zero value and nil suppress nothing.
type Suppressor struct {
	rules map[string][]Suppression // metric filter name → rules
}

// AllControls is the key of a suppression applying to every control.
const AllControls = "*"

// NewSuppressor builds the rules from configuration: rules maps a control
// (its Key, its Security Hub id "CloudWatch.2", its ID in the benchmark
// version, e.g. "4.1", or "*" for every control) to what it ignores.
func NewSuppressor(version string, rules map[string]Suppression) (*Suppressor, error) {
	if version == "" {
		version = DefaultVersion
	}
	bench, err := Lookup(version)
	if err != nil {
		return nil, err
	}
	s := &Suppressor{rules: map[string][]Suppression{}}
	for ref, r := range rules {
		for _, p := range append(append(append([]string{}, r.Principals...), r.EventSources...), r.IdentityTypes...) {
			if strings.TrimSpace(p) == "" {
				return nil, fmt.Errorf("cis.suppress.%s: an empty entry would match nothing; remove it", ref)
			}
		}
		if ref == AllControls {
			for _, t := range topics {
				n := NamePrefix + t.key
				s.rules[n] = append(s.rules[n], r)
			}
			continue
		}
		c, ok := bench.Find(ref)
		if !ok {
			return nil, fmt.Errorf("cis.suppress.%s: no such control in CIS %s; use a control key (e.g. unauthorized-api-calls), a Security Hub id (CloudWatch.2), an id (%s) or *", ref, bench.Version, bench.Refs())
		}
		n := ResourceName(c)
		s.rules[n] = append(s.rules[n], r)
	}
	return s, nil
}

// Suppressed reports whether the event rec does not count for the metric
// filter named filterName (a pack filter, CIS-<control>); events are never
// suppressed for other filters.
func (s *Suppressor) Suppressed(filterName string, rec *event.Record) bool {
	if s == nil || rec == nil {
		return false
	}
	rules := s.rules[filterName]
	if len(rules) == 0 {
		return false
	}
	var r struct {
		UserIdentity struct {
			Type           string `json:"type"`
			ARN            string `json:"arn"`
			InvokedBy      string `json:"invokedBy"`
			SessionContext struct {
				SessionIssuer struct {
					ARN string `json:"arn"`
				} `json:"sessionIssuer"`
			} `json:"sessionContext"`
		} `json:"userIdentity"`
	}
	_ = json.Unmarshal(rec.Raw, &r) // a record that does not parse has no identity to match
	ui := r.UserIdentity
	principals := []string{ui.ARN, ui.InvokedBy, ui.SessionContext.SessionIssuer.ARN}
	for _, rule := range rules {
		for _, p := range rule.Principals {
			for _, v := range principals {
				if v != "" && glob(p, v) {
					return true
				}
			}
		}
		for _, p := range rule.EventSources {
			if glob(p, rec.EventSource) {
				return true
			}
		}
		for _, p := range rule.IdentityTypes {
			if ui.Type != "" && strings.EqualFold(p, ui.Type) {
				return true
			}
		}
	}
	return false
}

// glob matches s against pattern, where * matches any run of characters
// (slashes included, unlike path.Match) and everything else is literal.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
