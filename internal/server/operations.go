package server

import "github.com/opentrail/opentrail/internal/awsapi"

// Operations lists every operation of the API routers (CloudTrail and
// Lake, CloudTrail Data, CloudWatch, CloudWatch Logs, SNS, EventBridge and
// the native API), for tests that must cover each one. The S3 API and STS
// route by other means and are not listed.
func (s *Server) Operations() []awsapi.OperationInfo {
	var out []awsapi.OperationInfo
	for _, r := range []*awsapi.Router{s.cloudtrail, s.monitoring, s.logs, s.sns, s.events} {
		out = append(out, r.OperationList()...)
	}
	out = append(out, s.cloudtrailData.OperationList()...)
	return append(out, s.native.OperationList()...)
}
