package logsinsights_test

import (
	"fmt"

	"github.com/opentrail/opentrail/internal/logsinsights"
)

func ExampleCompile() {
	c, err := logsinsights.Compile(`filter errorCode = "AccessDenied"
		| stats count(*) as denied by userIdentity.arn
		| sort denied desc | limit 10`, logsinsights.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Fields)
	// Output: [userIdentity.arn denied]
}

func ExampleSyntaxError() {
	_, err := logsinsights.Compile("fields eventName\n| filter eventName like", logsinsights.Options{})
	fmt.Println(err)
	// Output: expected a string or a /regular expression/ but found end of query at line 2 and position 23
}
