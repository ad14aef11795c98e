// Package findings is the one model for everything that fires — CIS
// alarms, Insights, event rules and Sigma rules: a detector reports
// Signals; the store groups them into findings (deduplicated over a
// window, with counts, first and last seen, the matching events,
// principals, source IPs, accounts and regions) that move through the
// states new → acknowledged → resolved (or suppressed, with a reason).
// It is not a detector: detectors are components of their own that
// report here.
package findings

import (
	"context"
	"time"
)

// Detectors that report signals.
const (
	DetectorCIS       = "cis"
	DetectorInsight   = "insight"
	DetectorEventRule = "eventrule"
	DetectorSigma     = "sigma"
	// DetectorAlarm is a CloudWatch alarm that is not one of the CIS
	// pack's going to ALARM.
	DetectorAlarm = "alarm"
)

// Severities, lowest first (Sigma's levels).
const (
	SeverityInformational = "informational"
	SeverityLow           = "low"
	SeverityMedium        = "medium"
	SeverityHigh          = "high"
	SeverityCritical      = "critical"
)

// A Signal is one firing of one rule: usually one matching event, or one
// correlation, insight or alarm transition.
type Signal struct {
	Detector    string // one of the Detector constants
	RuleID      string // Sigma id, event rule ARN, insight type, alarm ARN
	Title       string
	Author      string // the rule's author (Sigma's licence asks alerts to name it); "" if none
	Severity    string // one of the Severity constants
	Description string
	References  []string

	Account   string
	Region    string
	Principal string // userIdentity ARN (or principalId) of the matching event; "" if none
	SourceIP  string
	EventIDs  []string  // the matching events (links into history)
	EventTime time.Time // when it happened (the event's time, the insight's start, the transition)

	// GroupKey is what findings of one rule are grouped by within an
	// account and region over the dedup window (for example the
	// principal); "" groups all signals of the rule.
	GroupKey string
	// Key makes a signal idempotent: recording a signal whose Detector,
	// RuleID and Key were recorded before changes nothing (a replay of
	// the committed stream). Typically the event id, or the insight's
	// shared id and state.
	Key string
}

// Sink is what detectors report to. A detector declares the interface it
// needs; this one is the findings store's.
type Sink interface {
	Record(ctx context.Context, sigs []Signal) error
}
