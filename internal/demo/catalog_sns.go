// The SNS ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func topicARN(g *gen) {
	g.appendARN("arn:aws:sns:", g.reg.name, ":", g.acct.id, ":", g.pick(1, topics))
}

func topicRes(g *gen) { g.resourceARN("AWS::SNS::Topic", true, topicARN) }

func publishParams(g *gen) {
	g.open()
	g.arnValue("topicArn", topicARN)
	g.str("message", hidden)
	g.str("subject", hidden)
	g.close()
}

func publishResp(g *gen) {
	g.open()
	g.uuidValue("messageId")
	g.close()
}
