package cloudtrail

import (
	"context"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/servicetest"
)

// fakeGroups is a set of existing log groups, keyed account/region/name.
type fakeGroups map[string]bool

func (f fakeGroups) LogGroupExists(_ context.Context, account, region, name string) (bool, error) {
	return f[account+"/"+region+"/"+name], nil
}

func TestTrailLogGroupWiring(t *testing.T) {
	e := newEnv(t, Options{})
	e.svc.logGroups = fakeGroups{servicetest.AcctA + "/" + servicetest.RegionA + "/CloudTrail/audit": true}
	group := "arn:aws:logs:" + servicetest.RegionA + ":" + servicetest.AcctA + ":log-group:CloudTrail/audit:*"
	role := "arn:aws:iam::" + servicetest.AcctA + ":role/CloudTrail_CloudWatchLogs_Role"
	for _, c := range []struct{ name, body, code string }{
		{"group without role", `"CloudWatchLogsLogGroupArn":"` + group + `"`, "InvalidCloudWatchLogsRoleArnException"},
		{"role without group", `"CloudWatchLogsRoleArn":"` + role + `"`, "InvalidCloudWatchLogsLogGroupArnException"},
		{"malformed group", `"CloudWatchLogsLogGroupArn":"cwllga","CloudWatchLogsRoleArn":"` + role + `"`, "InvalidCloudWatchLogsLogGroupArnException"},
		{"malformed role", `"CloudWatchLogsLogGroupArn":"` + group + `","CloudWatchLogsRoleArn":"cwlra"`, "InvalidCloudWatchLogsRoleArnException"},
		{"missing group", `"CloudWatchLogsLogGroupArn":"` + strings.Replace(group, "audit", "other", 1) + `","CloudWatchLogsRoleArn":"` + role + `"`,
			"InvalidCloudWatchLogsLogGroupArnException"},
		{"other account's group", `"CloudWatchLogsLogGroupArn":"` + strings.Replace(group, servicetest.AcctA, servicetest.AcctB, 1) +
			`","CloudWatchLogsRoleArn":"` + role + `"`, "InvalidCloudWatchLogsLogGroupArnException"},
	} {
		status, body := e.call(servicetest.AcctA, servicetest.RegionA, "CreateTrail", `{"Name":"wired","S3BucketName":"audit-logs",`+c.body+`}`)
		if status != 400 || !strings.Contains(body, `"__type":"`+c.code+`"`) {
			t.Errorf("%s: %d %s, want %s", c.name, status, body, c.code)
		}
	}
	if _, body := e.call(servicetest.AcctA, servicetest.RegionA, "CreateTrail",
		`{"Name":"wired","S3BucketName":"audit-logs","CloudWatchLogsLogGroupArn":"cwllga","CloudWatchLogsRoleArn":"x"}`); !strings.Contains(body, "not valid") {
		t.Errorf("malformed ARN message: %s", body)
	}
	status, body := e.call(servicetest.AcctA, servicetest.RegionA, "CreateTrail",
		`{"Name":"wired","S3BucketName":"audit-logs","CloudWatchLogsLogGroupArn":"`+group+`","CloudWatchLogsRoleArn":"`+role+`"}`)
	if status != 200 || !strings.Contains(body, `"CloudWatchLogsLogGroupArn":"`+group+`"`) || !strings.Contains(body, `"CloudWatchLogsRoleArn":"`+role+`"`) {
		t.Fatalf("create wired trail: %d %s", status, body)
	}
	_, body = e.call(servicetest.AcctA, servicetest.RegionA, "DescribeTrails", `{}`)
	if !strings.Contains(body, `"CloudWatchLogsLogGroupArn":"`+group+`"`) || !strings.Contains(body, `"CloudWatchLogsRoleArn":"`+role+`"`) {
		t.Errorf("DescribeTrails does not show the wiring: %s", body)
	}
	// UpdateTrail checks a changed wiring, and clears it with empty strings.
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "UpdateTrail", `{"Name":"wired","CloudWatchLogsLogGroupArn":"`+
		strings.Replace(group, "audit", "gone", 1)+`"}`)
	if status != 400 || !strings.Contains(body, "Access denied. Verify in IAM that the role has adequate permissions.") {
		t.Errorf("update to a missing group: %d %s", status, body)
	}
	status, body = e.call(servicetest.AcctA, servicetest.RegionA, "UpdateTrail", `{"Name":"wired","CloudWatchLogsLogGroupArn":"","CloudWatchLogsRoleArn":""}`)
	if status != 200 || strings.Contains(body, "CloudWatchLogs") {
		t.Errorf("clear the wiring: %d %s", status, body)
	}
}
