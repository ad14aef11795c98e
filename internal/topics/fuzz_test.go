package topics

import (
	"testing"
)

// FuzzDeliveryPolicy: any DeliveryPolicy text is refused or gives a
// policy whose delays are bounded and never negative.
func FuzzDeliveryPolicy(f *testing.F) {
	f.Add(`{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3}}}`)
	f.Add(`{"healthyRetryPolicy":{"numRetries":100,"numNoDelayRetries":200,"minDelayTarget":1,"maxDelayTarget":3600}}`)
	f.Add(`{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":30,"maxDelayTarget":10}}}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := parseDeliveryPolicy(doc, DefaultRetry)
		if err != nil {
			return
		}
		if p.NoDelayRetries < 0 || p.BackoffRetries < 0 || p.MinDelay <= 0 || p.MaxDelay < p.MinDelay {
			t.Fatalf("%q gave %+v", doc, p)
		}
		for n := 1; n < p.Attempts() && n < 200; n++ {
			if d := p.Delay(n); d < 0 || d > p.MaxDelay {
				t.Fatalf("%q: delay %d = %v", doc, n, d)
			}
		}
	})
}

// FuzzTopicARN: a topic ARN that parses is rebuilt from its parts.
func FuzzTopicARN(f *testing.F) {
	f.Add("arn:aws:sns:us-east-1:111122223333:alerts")
	f.Add("arn:aws:sns:us-east-1:111122223333:a:b")
	f.Fuzz(func(t *testing.T, arn string) {
		region, account, name, ok := parseTopicARN(arn)
		if ok && TopicARN(region, account, name) != arn {
			t.Fatalf("%q parsed as %s %s %s", arn, region, account, name)
		}
	})
}

// FuzzStructuredMessage: a MessageStructure=json message either is
// refused or gives every protocol a string.
func FuzzStructuredMessage(f *testing.F) {
	f.Add(`{"default":"d","https":"h"}`)
	f.Add(`{"default":1}`)
	f.Fuzz(func(t *testing.T, msg string) {
		if checkStructured(msg) != nil {
			return
		}
		for _, p := range []string{"http", "https", "email", "email-json"} {
			_ = forProtocol(msg, true, p)
		}
	})
}
