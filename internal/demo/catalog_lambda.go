// The Lambda ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func lambdaARN(g *gen) {
	g.appendARN("arn:aws:lambda:", g.reg.name, ":", g.acct.id, ":function:", g.pick(1, functions))
}

func lambdaRes(g *gen) { g.resourceARN("AWS::Lambda::Function", true, lambdaARN) }

func invokeParams(g *gen) {
	g.open()
	g.arnValue("functionName", lambdaARN)
	if g.via != "" {
		g.str("invocationType", "Event")
	}
	g.close()
}

func invokeExtra(g *gen) {
	g.open()
	g.key("functionVersion")
	g.q()
	lambdaARN(g)
	g.b = append(g.b, ":$LATEST"...)
	g.q()
	g.close()
}

func updateFunctionCodeParams(g *gen) {
	fn := g.pick(1, functions)
	g.open()
	g.str("functionName", fn)
	g.str("s3Bucket", g.acct.buckets[5])
	g.strs("s3Key", "lambda/", fn, ".zip")
	g.boolean("publish", true)
	g.boolean("dryRun", false)
	g.close()
}

func updateFunctionCodeResp(g *gen) {
	fn := g.pick(1, functions)
	g.open()
	g.str("functionName", fn)
	g.arnValue("functionArn", lambdaARN)
	g.str("runtime", "python3.12")
	g.strs("role", "arn:aws:iam::", g.acct.id, ":role/", fn, "-role")
	g.str("handler", "app.handler")
	g.num("codeSize", int64(g.p[3]%9_000_000)+20_000)
	g.str("description", "")
	g.num("timeout", 30)
	g.num("memorySize", 512)
	g.key("lastModified")
	g.q()
	n := len(g.b)
	g.b = appendTime(g.b, g.t)[:n+19]
	g.b = append(g.b, ".000+0000"...)
	g.q()
	g.key("codeSha256")
	g.q()
	g.b = appendChars(g.b, g.r.Uint64(), 43, base64Chars)
	g.b = append(g.b, '=')
	g.q()
	g.strs("version", itoa(2+g.pickN(3, 40)))
	g.raw("tracingConfig", `{"mode":"PassThrough"}`)
	g.uuidValue("revisionId")
	g.str("state", "Active")
	g.str("lastUpdateStatus", "InProgress")
	g.str("lastUpdateStatusReason", "The function is being created.")
	g.str("lastUpdateStatusReasonCode", "Creating")
	g.str("packageType", "Zip")
	g.raw("architectures", `["x86_64"]`)
	g.raw("ephemeralStorage", `{"size":512}`)
	g.raw("snapStart", `{"applyOn":"None","optimizationStatus":"Off"}`)
	g.close()
}
