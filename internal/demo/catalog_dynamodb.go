// The DynamoDB ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func tableARN(g *gen) {
	g.appendARN("arn:aws:dynamodb:", g.reg.name, ":", g.acct.id, ":table/", g.pick(1, tables))
}

func tableRes(g *gen) { g.resourceARN("AWS::DynamoDB::Table", true, tableARN) }

func getItemParams(g *gen) {
	g.open()
	g.str("tableName", g.pick(1, tables))
	g.obj("key")
	g.str("pk", hidden)
	g.str("sk", hidden)
	g.close()
	g.boolean("consistentRead", g.p[2]%4 == 0)
	g.close()
}

func putItemParams(g *gen) {
	g.open()
	g.str("tableName", g.pick(1, tables))
	g.obj("key")
	g.str("pk", hidden)
	g.str("sk", hidden)
	g.close()
	g.raw("item", `["pk","sk","status","updatedAt","total"]`)
	g.str("conditionExpression", "attribute_not_exists(pk)")
	g.str("returnValues", "NONE")
	g.close()
}

func queryParams(g *gen) {
	g.open()
	g.str("tableName", g.pick(1, tables))
	g.str("keyConditionExpression", "pk = :pk AND begins_with(sk, :prefix)")
	g.num("limit", 50)
	g.boolean("scanIndexForward", false)
	g.boolean("consistentRead", false)
	g.close()
}
