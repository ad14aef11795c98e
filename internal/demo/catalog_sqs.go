// The SQS ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func queueARN(g *gen) {
	g.appendARN("arn:aws:sqs:", g.reg.name, ":", g.acct.id, ":", g.pick(1, queues))
}

func queueRes(g *gen) { g.resourceARN("AWS::SQS::Queue", true, queueARN) }

func (g *gen) queueURL() {
	g.strs("queueUrl", "https://sqs.", g.reg.name, ".amazonaws.com/", g.acct.id, "/", g.pick(1, queues))
}

func sendMessageParams(g *gen) {
	g.open()
	g.queueURL()
	g.str("messageBody", hidden)
	g.close()
}

func sendMessageResp(g *gen) {
	g.open()
	g.key("mD5OfMessageBody")
	g.q()
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.uuidValue("messageId")
	g.close()
}

func createQueueParams(g *gen) {
	g.open()
	g.str("queueName", g.pick(1, queues))
	g.raw("attributes", `{"VisibilityTimeout":"60","MessageRetentionPeriod":"345600","SqsManagedSseEnabled":"true"}`)
	g.close()
}

func createQueueResp(g *gen) {
	g.open()
	g.queueURL()
	g.close()
}
