// The SSM ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func parameterARN(g *gen) {
	g.appendARN("arn:aws:ssm:", g.reg.name, ":", g.acct.id, ":parameter", g.pick(1, parameters))
}

func getParameterParams(g *gen) {
	g.open()
	g.str("name", g.pick(1, parameters))
	g.boolean("withDecryption", g.p[2]%3 != 0)
	g.close()
}

func updateInstanceInfoParams(g *gen) {
	az := g.reg.azs[g.pickN(3, 3)]
	ip := itoa(int(g.a.seed % 250))
	g.open()
	g.str("instanceId", g.a.instance)
	g.str("agentVersion", "3.3.40.0")
	g.str("agentStatus", "Active")
	g.str("platformType", "Linux")
	g.str("platformName", "Amazon Linux")
	g.str("platformVersion", "2023")
	g.strs("iPAddress", "10.0.1.", ip)
	g.strs("computerName", "ip-10-0-1-", ip, ".ec2.internal")
	g.str("agentName", "amazon-ssm-agent")
	g.str("availabilityZone", az)
	g.close()
}
