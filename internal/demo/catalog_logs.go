// The CloudWatch Logs ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func createLogStreamParams(g *gen) {
	g.open()
	g.strs("logGroupName", "/aws/lambda/", g.a.t.session)
	g.key("logStreamName")
	g.q()
	y, m, d := civil(g.t / 86400)
	g.b = append4(g.b, y)
	g.b = append(g.b, '/')
	g.b = append2(g.b, m)
	g.b = append(g.b, '/')
	g.b = append2(g.b, d)
	g.b = append(g.b, "/[$LATEST]"...)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.close()
}

func describeLogGroupsParams(g *gen) {
	g.open()
	g.str("logGroupNamePrefix", "/aws/lambda/")
	g.close()
}

func putRetentionParams(g *gen) {
	g.open()
	g.str("logGroupName", g.pick(1, logGroups))
	g.num("retentionInDays", 30)
	g.close()
}
