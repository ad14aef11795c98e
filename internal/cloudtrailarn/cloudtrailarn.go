// Package cloudtrailarn builds and parses the names CloudTrail resources
// go by: channel, event data store and trail ARNs
// (arn:partition:cloudtrail:region:account:type/id), channel references
// (an ARN or a bare id) and account IDs.
//
// It is pure: no I/O, no state, no imports beyond the standard library.
// The wire-service packages (cloudtrail, cloudtraildata, lake, native)
// share it; trail names and trail ARN rules proper live in internal/trail.
package cloudtrailarn

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Parts is a parsed arn:partition:service:region:account:type/id.
type Parts struct {
	Partition, Region, Account, ID string
}

// Parse parses an ARN of a CloudTrail resource of the given type
// ("channel", "eventdatastore", "trail").
func Parse(s, typ string) (Parts, error) {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[1] == "" || f[2] != "cloudtrail" || f[3] == "" || !IsAccountID(f[4]) {
		return Parts{}, fmt.Errorf("parse ARN %q: not a CloudTrail ARN", s)
	}
	rest, ok := strings.CutPrefix(f[5], typ+"/")
	if !ok || rest == "" || strings.ContainsAny(rest, "/:") {
		return Parts{}, fmt.Errorf("parse ARN %q: not a %s ARN", s, typ)
	}
	return Parts{Partition: f[1], Region: f[3], Account: f[4], ID: rest}, nil
}

// IsAccountID reports whether s is a 12-digit AWS account ID.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Channel returns the ARN of channel id.
func Channel(region, account, id string) string {
	return "arn:aws:cloudtrail:" + region + ":" + account + ":channel/" + id
}

// EventDataStore returns the ARN of event data store id.
func EventDataStore(region, account, id string) string {
	return "arn:aws:cloudtrail:" + region + ":" + account + ":eventdatastore/" + id
}

// IsChannelNameChar matches the model's channel name pattern
// ^[a-zA-Z0-9._\-]+$.
func IsChannelNameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// IsARNChar matches the model's ChannelArn and Location pattern
// ^[a-zA-Z0-9._/\-:]+$.
func IsARNChar(r rune) bool {
	return IsChannelNameChar(r) || r == '/' || r == ':'
}

// The lengths a channel ARN or id may have.
const channelRefMin, channelRefMax = 3, 256

// ChannelRef is a channel named by ARN or by id, resolved against the
// caller's account and region.
type ChannelRef struct {
	ARN   string
	Parts Parts
	// Foreign: the reference names another account or region than the
	// caller's.
	Foreign bool
}

// ResolveChannel turns a channel reference (ARN or id) made by a caller
// of account in region into a channel ARN. The error's text is the
// message AWS gives for a malformed reference.
func ResolveChannel(region, account, ref string) (ChannelRef, error) {
	if n := len(ref); n < channelRefMin || n > channelRefMax || !allRunes(ref, IsARNChar) {
		return ChannelRef{}, fmt.Errorf("%q is not a valid channel ARN or ID.", truncate(ref, 128))
	}
	if strings.HasPrefix(ref, "arn:") {
		parts, err := Parse(ref, "channel")
		if err != nil {
			return ChannelRef{}, fmt.Errorf("%q is not a valid channel ARN.", truncate(ref, 128))
		}
		return ChannelRef{ARN: ref, Parts: parts, Foreign: parts.Account != account || parts.Region != region}, nil
	}
	if strings.ContainsAny(ref, "/:") {
		return ChannelRef{}, fmt.Errorf("%q is not a valid channel ARN or ID.", truncate(ref, 128))
	}
	return ChannelRef{
		ARN:   Channel(region, account, ref),
		Parts: Parts{Partition: "aws", Region: region, Account: account, ID: ref},
	}, nil
}

func allRunes(s string, ok func(rune) bool) bool {
	for _, r := range s {
		if !ok(r) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
