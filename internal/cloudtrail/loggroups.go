package cloudtrail

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// LogGroups is what the trail checks need of CloudWatch Logs: whether a
// log group exists (*logwatch.Watch implements it).
type LogGroups interface {
	LogGroupExists(ctx context.Context, account, region, name string) (bool, error)
}

const (
	codeInvalidLogGroupArn = "InvalidCloudWatchLogsLogGroupArnException"
	codeInvalidLogsRoleArn = "InvalidCloudWatchLogsRoleArnException"
)

var (
	logGroupARN = regexp.MustCompile(`^arn:aws[a-z-]*:logs:([a-z0-9-]+):(\d{12}):log-group:([\.\-_/#A-Za-z0-9]{1,512})(:\*)?$`)
	logsRoleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
)

// checkLogGroup checks a trail's CloudWatch Logs wiring as CloudTrail
// does: the log group ARN and the role ARN come together (either both or
// neither), the role ARN is a well-formed IAM role ARN (opentrail does
// not evaluate IAM roles, so any such ARN is accepted), and the log group
// is an existing group of the trail's account in its home region — else
// CloudTrail's answer, "Access denied", since it cannot see the group.
func (s *Service) checkLogGroup(ctx context.Context, account, homeRegion string, d *trailDoc) error {
	group, role := d.CloudWatchLogsLogGroupArn, d.CloudWatchLogsRoleArn
	switch {
	case group == "" && role == "":
		return nil
	case group == "":
		return awsapi.NewError(codeInvalidLogGroupArn,
			"A CloudWatchLogsRoleArn needs a CloudWatchLogsLogGroupArn: give both, or neither.")
	case role == "":
		return awsapi.NewError(codeInvalidLogsRoleArn,
			"A CloudWatchLogsLogGroupArn needs a CloudWatchLogsRoleArn: give both, or neither.")
	}
	m := logGroupARN.FindStringSubmatch(group)
	if m == nil {
		return awsapi.Errorf(codeInvalidLogGroupArn,
			"CloudWatch Logs log group ARN %q is not valid; give arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*.", awsapi.Clip(group, 256))
	}
	if !logsRoleARN.MatchString(role) {
		return awsapi.Errorf(codeInvalidLogsRoleArn,
			"CloudWatch Logs role ARN %q is not valid; give arn:aws:iam::ACCOUNT:role/NAME.", awsapi.Clip(role, 256))
	}
	denied := awsapi.NewError(codeInvalidLogGroupArn, "Access denied. Verify in IAM that the role has adequate permissions.")
	region, owner, name := m[1], m[2], strings.TrimSuffix(m[3], ":*")
	if owner != account || region != homeRegion {
		return denied
	}
	if s.logGroups == nil {
		return nil
	}
	ok, err := s.logGroups.LogGroupExists(ctx, account, region, name)
	if err != nil {
		return fmt.Errorf("check log group %s: %w", name, err)
	}
	if !ok {
		return denied
	}
	return nil
}
