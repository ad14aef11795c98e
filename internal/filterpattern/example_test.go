package filterpattern_test

import (
	"fmt"

	"github.com/opentrail/opentrail/internal/filterpattern"
)

func ExampleCompile() {
	p, _ := filterpattern.Compile(`{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`)
	fmt.Println(p.Match([]byte(`{"eventName":"ConsoleLogin","errorMessage":"Failed authentication"}`)))
	fmt.Println(p.Match([]byte(`{"eventName":"ConsoleLogin"}`)))
	// Output:
	// true
	// false
}

func ExampleCompile_error() {
	_, err := filterpattern.Compile(`ERR*`)
	fmt.Println(err)
	_, err = filterpattern.Compile(`{ $.a = 1 AND $.b = 2 }`)
	fmt.Println(err)
	// Output:
	// Invalid character(s) in term '*'
	// Invalid metric filter pattern
}

func ExampleCompile_terms() {
	p := filterpattern.MustCompile(`ERROR -timeout`)
	for _, m := range []string{"ERROR disk full", "ERROR timeout", "[ERROR]", "error"} {
		fmt.Println(m, p.Match([]byte(m)))
	}
	// Output:
	// ERROR disk full true
	// ERROR timeout false
	// [ERROR] true
	// error false
}

func ExamplePattern_Test() {
	p := filterpattern.MustCompile(`[ip, user, ..., status=4*, bytes]`)
	ex, ok := p.Test([]byte(`10.0.0.1 alice GET /index.html 404 512`))
	fmt.Println(ok, ex["$user"], ex["$3"], ex["$4"], ex["$status"], ex["$bytes"])
	// Output:
	// true alice GET /index.html 404 512
}

func ExamplePattern_Emit() {
	p := filterpattern.MustCompile(`{ $.eventName = "GetObject" }`)
	zero := 0.0
	t := filterpattern.Transformation{
		MetricName: "BytesOut", MetricNamespace: "S3", MetricValue: "$.additionalEventData.bytesTransferredOut",
		DefaultValue: &zero,
	}
	pt, ok := p.Emit([]byte(`{"eventName":"GetObject","additionalEventData":{"bytesTransferredOut":512}}`), t)
	fmt.Println(pt.Value, pt.Matched, ok)
	pt, ok = p.Emit([]byte(`{"eventName":"PutObject"}`), t)
	fmt.Println(pt.Value, pt.Matched, ok)
	// Output:
	// 512 true true
	// 0 false true
}

func ExampleSet_MatchAll() {
	s := filterpattern.NewSet([]*filterpattern.Pattern{
		filterpattern.MustCompile(`{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }`),
		filterpattern.MustCompile(`{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }`),
		filterpattern.MustCompile(`AccessDenied`),
	})
	hits := make([]bool, s.Len())
	s.MatchAll([]byte(`{"userIdentity":{"type":"Root"},"errorCode":"AccessDenied"}`), hits)
	fmt.Println(hits)
	// Output:
	// [true true true]
}
