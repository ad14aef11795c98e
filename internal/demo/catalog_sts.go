// The STS ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

// target is the actor whose role an AssumeRole call assumes.
func (g *gen) assumeTarget() *actor {
	if g.target != nil {
		return g.target
	}
	t := g.a.t.targets
	if len(t) == 0 {
		return g.acct.actors[tAdminRole]
	}
	return g.acct.actors[t[g.pickN(3, len(t))]]
}

func assumeRoleARN(g *gen) { g.b = append(g.b, g.assumeTarget().roleArn...) }

func assumeRoleParams(g *gen) {
	tg := g.assumeTarget()
	g.open()
	g.str("roleArn", tg.roleArn)
	g.str("roleSessionName", tg.session)
	g.num("durationSeconds", tg.t.sessLen)
	g.close()
}

func (g *gen) credentials(key uint64, created, life int64) {
	g.obj("credentials")
	g.key("accessKeyId")
	g.q()
	g.b = appendSessionKey(g.b, key)
	g.q()
	g.key("sessionToken")
	g.q()
	g.b = append(g.b, "IQoJb3JpZ2luX2VjE"...)
	g.b = appendChars(g.b, key^0x746f6b656e, 180, base64Chars)
	g.b = append(g.b, '=', '=')
	g.q()
	g.dateValue("expiration", created+life)
	g.close()
}

func (g *gen) assumedRoleUser(tg *actor) {
	g.obj("assumedRoleUser")
	g.str("assumedRoleId", tg.principal)
	g.str("arn", tg.arn)
	g.close()
}

func assumeRoleResp(g *gen) {
	tg := g.assumeTarget()
	key, _ := tg.sessionAt(g.t + 1)
	g.open()
	g.credentials(key, g.t, tg.t.sessLen)
	g.assumedRoleUser(tg)
	g.close()
}

func assumeRoleWebIDResp(g *gen) {
	tg := g.assumeTarget()
	key, _ := tg.sessionAt(g.t + 1)
	g.open()
	g.credentials(key, g.t, tg.t.sessLen)
	g.str("subjectFromWebIdentityToken", "repo:acme/infrastructure:ref:refs/heads/main")
	g.assumedRoleUser(tg)
	g.strs("provider", "arn:aws:iam::", g.acct.id, ":oidc-provider/token.actions.githubusercontent.com")
	g.str("audience", "sts.amazonaws.com")
	g.close()
}

func assumeRoleRes(g *gen) {
	g.resource("AWS::IAM::Role", g.assumeTarget().roleArn)
}

func getSessionTokenParams(g *gen) {
	g.open()
	g.num("durationSeconds", 43200)
	g.close()
}

func getSessionTokenResp(g *gen) {
	g.open()
	g.credentials(g.r.Uint64(), g.t, 43200)
	g.close()
}
