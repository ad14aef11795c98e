package trail

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// NameError is a trail name that breaks CloudTrail's rules; Error gives
// CloudTrail's message, which the API answers as InvalidTrailNameException.
type NameError struct{ msg string }

func (e *NameError) Error() string { return e.msg }

// ValidateName applies CloudTrail's trail-name rules: 3–128 characters of
// ASCII letters, digits, '.', '_' and '-'; starting and ending with a
// letter or digit; no two of '.', '_', '-' next to each other; not
// formatted as an IP address.
func ValidateName(name string) error {
	switch {
	case len(name) < 3:
		return &NameError{fmt.Sprintf("Trail name too short. Minimum allowed length: 3 characters. Specified name length: %d characters.", len(name))}
	case len(name) > 128:
		return &NameError{fmt.Sprintf("Trail name too long. Maximum allowed length: 128 characters. Specified name length: %d characters.", len(name))}
	case !isAlnum(name[0]):
		return &NameError{"Trail name must starts with a letter or number."}
	case !isAlnum(name[len(name)-1]):
		return &NameError{"Trail name must ends with a letter or number."}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return &NameError{"Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_)."}
		}
		if i > 0 && !isAlnum(c) && !isAlnum(name[i-1]) {
			return &NameError{"Trail name cannot contain consecutive special characters (., -, _)."}
		}
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return &NameError{"Trail name cannot be formatted as an IP address."}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ARN is a trail's ARN: arn:<partition>:cloudtrail:<region>:<account>:trail/<name>.
type ARN struct {
	Partition, Region, Account, Name string
}

// String formats the ARN.
func (a ARN) String() string {
	p := a.Partition
	if p == "" {
		p = "aws"
	}
	return fmt.Sprintf("arn:%s:cloudtrail:%s:%s:trail/%s", p, a.Region, a.Account, a.Name)
}

var arnRE = regexp.MustCompile(`^arn:(aws[a-z-]*):cloudtrail:([a-z0-9-]+):(\d{12}):trail/(.+)$`)

// IsARN reports whether s looks like an ARN rather than a bare name: API
// members that take a trail accept either.
func IsARN(s string) bool { return strings.HasPrefix(s, "arn:") }

// ParseARN reads a trail ARN; the error is what CloudTrail answers as
// CloudTrailARNInvalidException.
func ParseARN(s string) (ARN, error) {
	m := arnRE.FindStringSubmatch(s)
	if m == nil {
		return ARN{}, fmt.Errorf("ARN %s is invalid: want arn:aws:cloudtrail:<region>:<account>:trail/<name>", s)
	}
	if err := ValidateName(m[4]); err != nil {
		return ARN{}, err
	}
	return ARN{Partition: m[1], Region: m[2], Account: m[3], Name: m[4]}, nil
}
