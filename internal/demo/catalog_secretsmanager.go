// The Secrets Manager ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func secretARN(g *gen) {
	g.appendARN("arn:aws:secretsmanager:", g.reg.name, ":", g.acct.id, ":secret:", g.pick(1, secrets), "-")
	g.b = appendChars(g.b, g.acct.seed^g.p[1]%uint64(len(secrets)), 6, base64Chars[:62])
}

func getSecretParams(g *gen) {
	g.open()
	if g.p[2]%2 == 0 {
		g.str("secretId", g.pick(1, secrets))
	} else {
		g.arnValue("secretId", secretARN)
	}
	g.close()
}
