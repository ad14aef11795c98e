// Package demo generates realistic, deterministic CloudTrail activity: a
// day (or any span) of API calls, console sign-ins and data events for a few
// accounts and regions, with optional planted incidents. `opentrail demo`
// fills a fresh store with it, and benchmarks use it as a workload.
//
// Records follow the CloudTrail record format (eventVersion 1.08/1.09):
// about 60 real API calls over 17 services, Zipf-weighted by popularity;
// identities of IAM users with long-term keys, SSO and assumed-role
// sessions, EC2 instance profiles, Lambda execution roles, web-identity
// federation, AWS services and, rarely, root; calls made on a principal's
// behalf by another service (invokedBy); about 19% data events (S3 objects,
// Lambda Invoke, DynamoDB items, SQS, SNS); about 3% errors with
// service-specific codes and messages; a diurnal curve that peaks in UTC
// working hours; global services (IAM, sign-in, Organizations, the STS
// global endpoint) recorded in us-east-1 whatever the regions chosen. Public
// addresses come from the documentation ranges 198.51.100.0/24 and
// 203.0.113.0/24; 192.0.2.0/24 is used only by planted incidents, so any
// record from it belongs to one.
//
// Output is a pure function of Options: the same Options give the same
// bytes. Records average about 1.5 KB. The package is pure (no I/O), may be
// imported by any package, and its functions may be called concurrently.
package demo

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Options select what Generate produces. The zero value is usable: every
// zero field takes the default given on it.
type Options struct {
	// Seed selects the pseudo-random sequence. Same Options ⇒ same bytes.
	Seed int64
	// World selects the organisation the activity happens in: the
	// accounts' instances, buckets' owners, roles, keys and organisation
	// id, and the ids of their principals. Runs with the same World and
	// different Seeds are more activity of the same organisation (with
	// other eventIDs); zero means Seed.
	World int64
	// Start is the beginning of the span, truncated to the second. Zero
	// means midnight UTC of yesterday (then, and only then, the output
	// depends on the clock).
	Start time.Time
	// Duration is the length of the span, in whole seconds; zero means 24h.
	Duration time.Duration
	// Events is the number of background records; zero means 20,000.
	// Records of planted incidents come on top.
	Events int
	// Accounts are 12-digit account ids; nil means 000000000000,
	// 111122223333 and 444455556666. The first account is the
	// organisation's management account and gets the most activity.
	Accounts []string
	// Regions are where regional calls happen, busiest first; nil means
	// us-east-1, us-west-2, eu-west-1 and eu-central-1.
	Regions []string
	// Incidents plants the stories listed by Incidents.
	Incidents bool
}

// Default values of Options.
const (
	DefaultEvents   = 20_000
	DefaultDuration = 24 * time.Hour
)

var (
	defaultAccounts = []string{"000000000000", "111122223333", "444455556666"}
	defaultRegions  = []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"}
)

// Incident kinds.
const (
	// KindConsoleBruteForce: many failed ConsoleLogins from one address,
	// some with unknown user names, then a success without MFA.
	KindConsoleBruteForce = "console_login_bruteforce"
	// KindRootLoginNoMFA: a root console sign-in without MFA from a new
	// address, followed by a few root actions (one creates an access key).
	KindRootLoginNoMFA = "root_login_no_mfa"
	// KindTrailTampering: one admin session looks at the trail, stops its
	// logging and minutes later deletes it.
	KindTrailTampering = "trail_tampering"
	// KindAccessDeniedBurst: a leaked IAM user access key used from a new
	// address, denied across many APIs within minutes.
	KindAccessDeniedBurst = "access_denied_burst"
	// KindRunInstancesSpike: RunInstances of large instance types at many
	// times the usual rate, in one account and region.
	KindRunInstancesSpike = "api_rate_spike"
)

// Incident is one planted story and the records that tell it.
type Incident struct {
	Kind     string // one of the Kind constants
	Summary  string // one sentence for people
	Account  string
	Region   string // region of the story's main records
	Actor    string // ARN of the principal involved
	SourceIP string
	Start    time.Time // eventTime of the first record
	End      time.Time // eventTime of the last record
	EventIDs []string  // every record of the story, in time order
}

// normalize fills defaults and validates o.
func (o Options) normalize() (Options, error) {
	if o.Start.IsZero() {
		o.Start = time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	}
	o.Start = o.Start.UTC().Truncate(time.Second)
	if o.Start.Unix() < 0 {
		return o, fmt.Errorf("invalid start %s: before 1970", o.Start.Format(time.RFC3339))
	}
	if o.World == 0 {
		o.World = o.Seed
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Duration < time.Second {
		return o, fmt.Errorf("invalid duration %s: want at least 1s", o.Duration)
	}
	o.Duration = o.Duration.Truncate(time.Second)
	if o.Events == 0 {
		o.Events = DefaultEvents
	}
	if o.Events < 0 {
		return o, fmt.Errorf("invalid event count %d: want ≥ 0", o.Events)
	}
	if o.Accounts == nil {
		o.Accounts = defaultAccounts
	}
	if len(o.Accounts) == 0 {
		return o, errors.New("invalid accounts: want at least one")
	}
	seen := map[string]bool{}
	for _, a := range o.Accounts {
		if !isAccountID(a) {
			return o, fmt.Errorf("invalid account id %q: want 12 digits", a)
		}
		if seen[a] {
			return o, fmt.Errorf("invalid account id %q: listed twice", a)
		}
		seen[a] = true
	}
	if o.Regions == nil {
		o.Regions = defaultRegions
	}
	if len(o.Regions) == 0 {
		return o, errors.New("invalid regions: want at least one")
	}
	clear(seen)
	for _, r := range o.Regions {
		if !isRegion(r) {
			return o, fmt.Errorf("invalid region %q: want a name like eu-west-1", r)
		}
		if seen[r] {
			return o, fmt.Errorf("invalid region %q: listed twice", r)
		}
		seen[r] = true
	}
	o.Accounts = append([]string(nil), o.Accounts...)
	o.Regions = append([]string(nil), o.Regions...)
	return o, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isRegion accepts lower-case letters, digits and inner hyphens, starting
// with a letter and ending with a digit (us-east-1, us-gov-west-1).
func isRegion(s string) bool {
	if len(s) < 3 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] < '0' || s[len(s)-1] > '9' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// Streams of the seeded generator; each part of the output draws from its
// own, so planting incidents leaves the background unchanged.
const (
	streamTimes     = 0x74696d6573
	streamEvents    = 0x6576656e7473
	streamIncidents = 0x696e6369
)

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// Generate calls fn with each record as compact JSON, in eventTime order
// (records with equal eventTime in an unspecified but fixed order): Events
// background records and, when opts.Incidents, the incidents' records.
// rec is only valid during the call; fn must copy what it keeps. Generate
// stops at and returns the first error fn returns, or an error for invalid
// Options before calling fn at all. Each record's eventTime lies in
// [Start, Start+Duration).
func Generate(opts Options, fn func(rec []byte) error) error {
	o, err := opts.normalize()
	if err != nil {
		return err
	}
	w := newWorld(&o)
	sel := newSelector(w)
	var planted []planted
	if o.Incidents {
		planted, _ = plantIncidents(w, sel, &o)
	}
	start := o.Start.Unix()
	tl := newTimeline(newRand(o.Seed, streamTimes), start, int64(o.Duration/time.Second), o.Events)
	g := newGen(w, newRand(o.Seed, streamEvents), sel)
	next := 0
	for range o.Events {
		t := tl.next()
		for ; next < len(planted) && planted[next].t <= t; next++ {
			if err := fn(planted[next].rec); err != nil {
				return err
			}
		}
		g.background(t)
		if err := fn(g.b); err != nil {
			return err
		}
	}
	for ; next < len(planted); next++ {
		if err := fn(planted[next].rec); err != nil {
			return err
		}
	}
	return nil
}

// Incidents returns the stories Generate plants for opts, with the
// eventIDs of their records; nil when opts.Incidents is false. It does not
// generate the background.
func Incidents(opts Options) ([]Incident, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if !o.Incidents {
		return nil, nil
	}
	w := newWorld(&o)
	_, inc := plantIncidents(w, newSelector(w), &o)
	return inc, nil
}
