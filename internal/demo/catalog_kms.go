// The KMS ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func kmsARN(g *gen) {
	g.appendARN("arn:aws:kms:", g.reg.name, ":", g.acct.id, ":key/")
	g.b = g.acct.appendKMSKeyID(g.b, g.reg, g.pickN(0, 4))
}

func kmsRes(g *gen) { g.resourceARN("AWS::KMS::Key", true, kmsARN) }

func kmsDecryptParams(g *gen) {
	g.open()
	switch g.via {
	case "secretsmanager.amazonaws.com":
		g.obj("encryptionContext")
		g.key("SecretARN")
		g.q()
		secretARN(g)
		g.q()
		g.uuidValue("SecretVersionId")
		g.close()
	case "s3.amazonaws.com":
		g.obj("encryptionContext")
		g.key("aws:s3:arn")
		g.q()
		g.appendARN("arn:aws:s3:::", g.pick(1, g.acct.buckets))
		g.q()
		g.close()
	case "ssm.amazonaws.com":
		g.obj("encryptionContext")
		g.strs("PARAMETER_ARN", "arn:aws:ssm:", g.reg.name, ":", g.acct.id, ":parameter", g.pick(1, parameters))
		g.close()
	}
	g.str("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
	g.close()
}

func kmsGenerateDataKeyParams(g *gen) {
	g.open()
	g.arnValue("keyId", kmsARN)
	if g.via == "s3.amazonaws.com" {
		g.obj("encryptionContext")
		g.strs("aws:s3:arn", "arn:aws:s3:::", g.pick(1, g.acct.buckets))
		g.close()
	}
	g.str("keySpec", "AES_256")
	g.close()
}

func createGrantParams(g *gen) {
	g.open()
	g.arnValue("keyId", kmsARN)
	g.strs("granteePrincipal", "arn:aws:iam::", g.acct.id, ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
	g.arr("operations")
	for _, s := range []string{"Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKeyWithoutPlaintext", "DescribeKey"} {
		g.elemStr(s)
	}
	g.closeArr()
	g.obj("constraints")
	g.obj("encryptionContextSubset")
	g.strs("aws:ebs:id", "vol-0", g.pick(2, g.acct.instances)[3:])
	g.close()
	g.close()
	g.close()
}

func createGrantResp(g *gen) {
	g.open()
	g.key("grantId")
	g.q()
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.close()
}
