// The CloudTrail ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func trailARN(g *gen) {
	g.appendARN("arn:aws:cloudtrail:", g.reg.name, ":", g.acct.id, ":trail/", g.acct.trailName)
}

func trailNameParams(g *gen) {
	g.open()
	g.arnValue("name", trailARN)
	g.close()
}

func describeTrailsParams(g *gen) {
	g.open()
	g.raw("trailNameList", "[]")
	g.boolean("includeShadowTrails", true)
	g.close()
}

var lookupAttrs = [][2]string{{"EventName", "ConsoleLogin"}, {"Username", "alice"}, {"EventSource", "iam.amazonaws.com"},
	{"ResourceType", "AWS::EC2::SecurityGroup"}, {"ReadOnly", "false"}}

func lookupEventsParams(g *gen) {
	a := lookupAttrs[g.pickN(1, len(lookupAttrs))]
	g.open()
	g.arr("lookupAttributes")
	g.elemObj()
	g.str("attributeKey", a[0])
	g.str("attributeValue", a[1])
	g.close()
	g.closeArr()
	g.dateValue("startTime", g.t-86400)
	g.dateValue("endTime", g.t)
	g.num("maxResults", 50)
	g.close()
}

func trailIdent(g *gen) {
	trailARN(g)
	g.b = append(g.b, " for the user: "...)
	g.b = append(g.b, g.acct.id...)
}
