// The IAM ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func roleARN(g *gen) { g.appendARN("arn:aws:iam::", g.acct.id, ":role/", g.pick(1, roleNames)) }

func userARN(g *gen) { g.appendARN("arn:aws:iam::", g.acct.id, ":user/", g.pick(1, userNames)) }

var newUsers = []string{"svc-reporting", "svc-backup", "frank", "grace", "svc-etl", "heidi"}

func newUserARN(g *gen) { g.appendARN("arn:aws:iam::", g.acct.id, ":user/", g.pick(1, newUsers)) }

func roleNameParams(g *gen) {
	g.open()
	g.str("roleName", g.pick(1, roleNames))
	g.close()
}

func userNameParams(g *gen) {
	g.open()
	g.str("userName", g.pick(1, userNames))
	g.close()
}

func newUserNameParams(g *gen) {
	g.open()
	g.str("userName", g.pick(1, newUsers))
	g.close()
}

func listRolesParams(g *gen) {
	if g.p[2]%2 == 0 {
		g.b = append(g.b, "null"...)
		return
	}
	g.open()
	g.num("maxItems", 1000)
	g.close()
}

var managedPolicies = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
	"arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}

func attachRolePolicyParams(g *gen) {
	g.open()
	g.str("roleName", g.pick(1, roleNames))
	g.str("policyArn", g.pick(2, managedPolicies))
	g.close()
}

const trustPolicy = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": {\"Service\": \"lambda.amazonaws.com\"},\n      \"Action\": \"sts:AssumeRole\"\n    }\n  ]\n}"

func putRolePolicyParams(g *gen) {
	g.open()
	g.str("roleName", g.pick(1, roleNames))
	g.str("policyName", "inline-s3-access")
	g.key("policyDocument")
	g.b = appendJSONString(g.b, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\", \"s3:PutObject\"], \"Resource\": \"arn:aws:s3:::"+g.pick(0, g.acct.buckets)+"/*\"}]\n}")
	g.close()
}

func createRoleParams(g *gen) {
	g.open()
	g.str("roleName", g.pick(1, roleNames))
	g.str("assumeRolePolicyDocument", trustPolicy)
	g.str("description", "Managed by Terraform")
	g.raw("tags", `[{"key":"managed-by","value":"terraform"}]`)
	g.close()
}

func createRoleResp(g *gen) {
	g.open()
	g.obj("role")
	g.str("path", "/")
	g.str("roleName", g.pick(1, roleNames))
	g.key("roleId")
	g.q()
	g.b = append(g.b, "AROA"...)
	g.b = appendChars(g.b, g.r.Uint64(), 17, base32Upper)
	g.q()
	g.arnValue("arn", roleARN)
	g.dateValue("createDate", g.t)
	g.str("assumeRolePolicyDocument", "%7B%0A%20%20%22Version%22%3A%20%222012-10-17%22%2C%0A%20%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Principal%22%3A%20%7B%22Service%22%3A%20%22lambda.amazonaws.com%22%7D%2C%20%22Action%22%3A%20%22sts%3AAssumeRole%22%7D%5D%0A%7D")
	g.raw("tags", `[{"key":"managed-by","value":"terraform"}]`)
	g.close()
	g.close()
}

func createUserParams(g *gen) {
	g.open()
	g.str("userName", g.pick(1, newUsers))
	g.raw("tags", `[{"key":"team","value":"data"}]`)
	g.close()
}

func createUserResp(g *gen) {
	g.open()
	g.obj("user")
	g.str("path", "/")
	g.str("userName", g.pick(1, newUsers))
	g.key("userId")
	g.q()
	g.b = append(g.b, "AIDA"...)
	g.b = appendChars(g.b, g.r.Uint64(), 17, base32Upper)
	g.q()
	g.arnValue("arn", newUserARN)
	g.dateValue("createDate", g.t)
	g.raw("tags", `[{"key":"team","value":"data"}]`)
	g.close()
	g.close()
}

func createAccessKeyResp(g *gen) {
	g.open()
	g.obj("accessKey")
	g.str("userName", g.pick(1, newUsers))
	g.key("accessKeyId")
	g.q()
	g.b = append(g.b, "AKIA"...)
	g.b = appendChars(g.b, g.r.Uint64(), 16, base32Upper)
	g.q()
	g.str("status", "Active")
	g.dateValue("createDate", g.t)
	g.close()
	g.close()
}

func roleIdent(g *gen) { g.b = append(g.b, g.pick(1, roleNames)...) }

func newUserIdent(g *gen) { g.b = append(g.b, g.pick(1, newUsers)...) }
