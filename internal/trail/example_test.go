package trail_test

import (
	"fmt"

	"github.com/opentrail/opentrail/internal/trail"
)

func ExampleARN() {
	a := trail.ARN{Region: "eu-central-1", Account: "210987654321", Name: "audit-main"}
	fmt.Println(a)
	// Output: arn:aws:cloudtrail:eu-central-1:210987654321:trail/audit-main
}
