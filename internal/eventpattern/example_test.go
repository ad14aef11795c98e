package eventpattern_test

import (
	"fmt"

	"github.com/opentrail/opentrail/internal/eventpattern"
)

func ExampleCompile() {
	p, err := eventpattern.Compile(`{
	  "source": ["aws.cloudtrail"],
	  "detail": {"eventName": ["StopLogging", "DeleteTrail"], "errorCode": [{"exists": false}]}
	}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	record := []byte(`{"eventVersion":"1.09","eventTime":"2026-12-05T05:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","eventID":"0b3c5e37-2b4f-4c5a-9a61-5d2f3b9a7e10","eventType":"AwsApiCall","recipientAccountId":"111122223333"}`)
	event, _ := eventpattern.CloudTrailEvent(record)
	ok, _ := p.Match(event)
	fmt.Println(ok)

	_, err = eventpattern.Compile(`{"detail": {"eventName": [{"prefix": ["Stop"]}]}}`)
	fmt.Println(err)
	// Output:
	// true
	// Event pattern is not valid. Reason: prefix match pattern must be a string
}

func ExampleSet() {
	set := eventpattern.NewSet()
	for id, src := range map[string]string{
		"iam-users":   `{"source": ["aws.iam"], "detail": {"eventName": ["CreateUser", "DeleteUser"]}}`,
		"root":        `{"detail": {"userIdentity": {"type": ["Root"]}}}`,
		"from-office": `{"detail": {"sourceIPAddress": [{"cidr": "198.51.100.0/24"}]}}`,
	} {
		p, err := eventpattern.Compile(src)
		if err != nil {
			panic(err)
		}
		set.Add(id, p)
	}
	event, _ := eventpattern.CloudTrailEvent([]byte(`{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","userIdentity":{"type":"Root"},"sourceIPAddress":"198.51.100.7","eventID":"e1","eventType":"AwsApiCall"}`))
	ids, _ := set.Matches(event, nil)
	fmt.Println(ids)
	// Output: [from-office iam-users root]
}
