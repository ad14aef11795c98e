package lake

import (
	"reflect"
	"testing"

	"github.com/opentrail/opentrail/internal/auth"
	"github.com/opentrail/opentrail/internal/awsapi"
)

func TestStartQueryResources(t *testing.T) {
	c := &awsapi.Caller{Region: "eu-west-1", Principal: &auth.Principal{AccountID: "111111111111"}}
	in := &StartQueryInput{QueryStatement: "SELECT a.eventName FROM 0a1b2c3d-0000 a JOIN arn:aws:cloudtrail:us-east-1:222222222222:eventdatastore/ff b ON a.eventID = b.eventID WHERE x IN (SELECT y from 0a1b2c3d-0000)"}
	want := []string{"arn:aws:cloudtrail:eu-west-1:111111111111:eventdatastore/0a1b2c3d-0000", "arn:aws:cloudtrail:us-east-1:222222222222:eventdatastore/ff"}
	if got := in.IAMResources(c); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
}
