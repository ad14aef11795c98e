package sigma_test

import (
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/sigma"
)

func ExampleRuleset_Match() {
	rules, err := sigma.ParseRules([]byte(`title: Console login without MFA
id: 00000000-0000-0000-0000-000000000001
author: Example Author
level: medium
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: ConsoleLogin
    additionalEventData.MFAUsed: 'NO'
  condition: selection
`), "example.yml")
	if err != nil {
		panic(err)
	}
	rs, _ := sigma.NewRuleset(rules)
	rec := []byte(`{"eventName":"ConsoleLogin","additionalEventData":{"MFAUsed":"No"}}`)
	for _, r := range rs.Match(rec, nil) {
		fmt.Println(r.Title, "by", r.Author)
	}
	// Output: Console login without MFA by Example Author
}

func ExampleCorrelator_Observe() {
	rules, _ := sigma.ParseRules([]byte(`title: Failed login
name: failed
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    errorMessage: Failed authentication
  condition: sel
---
title: Brute force
correlation:
  type: event_count
  rules: failed
  group-by: sourceIPAddress
  timespan: 10m
  condition: {gte: 3}
`), "example.yml")
	rs, _ := sigma.NewRuleset(rules)
	c := rs.NewCorrelator()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		raw := []byte(fmt.Sprintf(`{"eventID":"e%d","errorMessage":"Failed authentication","sourceIPAddress":"192.0.2.1"}`, i))
		for _, h := range c.Observe(raw, t0.Add(time.Duration(i)*time.Minute), rs.Match(raw, nil)) {
			fmt.Println(h.Rule.Title, h.Group["sourceIPAddress"], h.Count, h.EventIDs)
		}
	}
	// Output: Brute force 192.0.2.1 3 [e0 e1 e2]
}

func ExampleLoadError() {
	_, err := sigma.ParseRules([]byte(`title: Windows rule
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4625
  condition: sel
`), "win.yml")
	fmt.Println(err)
	// Output: win.yml: rule Windows rule: logsource product "windows" service "security" is not CloudTrail (want product aws, service cloudtrail)
}
