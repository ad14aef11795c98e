package awsapi_test

import (
	"fmt"

	"github.com/opentrail/opentrail/internal/awsapi"
)

func ExampleClip() {
	fmt.Println(awsapi.Clip("short", 64))
	fmt.Println(awsapi.Clip("trail-name-much-too-long", 10))
	fmt.Println(awsapi.Clip("naïve", 3)) // never cuts inside a rune
	// Output:
	// short
	// trail-name…
	// na…
}
