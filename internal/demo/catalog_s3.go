// The S3 ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

var s3Prefixes = []string{"images/", "exports/orders/", "uploads/", "reports/daily/", "artifacts/build-", "logs/app/"}

var s3Suffixes = []string{".jpg", ".parquet", ".pdf", ".csv.gz", ".tar.gz", ".json"}

func (g *gen) appendS3Key() {
	i := g.pickN(1, len(s3Prefixes))
	g.b = append(g.b, s3Prefixes[i]...)
	y, m, d := civil(g.t / 86400)
	g.b = append4(g.b, y)
	g.b = append(g.b, '/')
	g.b = append2(g.b, m)
	g.b = append(g.b, '/')
	g.b = append2(g.b, d)
	g.b = append(g.b, '/')
	g.b = appendHex(g.b, g.p[2], 12, false)
	g.b = append(g.b, s3Suffixes[i]...)
}

func s3ObjectARN(g *gen) {
	g.appendARN("arn:aws:s3:::", g.pick(0, g.acct.buckets), "/")
	g.appendS3Key()
}

func bucketARN(g *gen) { g.appendARN("arn:aws:s3:::", g.pick(0, g.acct.buckets)) }

func (g *gen) s3Host() {
	g.strs("Host", g.pick(0, g.acct.buckets), ".s3.", g.reg.name, ".amazonaws.com")
}

func s3ObjectParams(g *gen) {
	g.open()
	g.str("bucketName", g.pick(0, g.acct.buckets))
	g.s3Host()
	g.key("key")
	g.q()
	g.appendS3Key()
	g.q()
	if g.op.name == "PutObject" {
		g.str("x-amz-server-side-encryption", "aws:kms")
	}
	g.close()
}

func bucketParams(sub string) func(g *gen) {
	return func(g *gen) {
		g.open()
		g.str("bucketName", g.pick(0, g.acct.buckets))
		g.s3Host()
		g.str(sub, "")
		g.close()
	}
}

func listBucketsParams(g *gen) {
	g.open()
	g.strs("Host", "s3.", g.reg.name, ".amazonaws.com")
	g.close()
}

func putBucketPolicyParams(g *gen) {
	b := g.pick(0, g.acct.buckets)
	g.open()
	g.str("bucketName", b)
	g.s3Host()
	g.obj("bucketPolicy")
	g.str("Version", "2012-10-17")
	g.arr("Statement")
	g.elemObj()
	g.str("Sid", "DenyInsecureTransport")
	g.str("Effect", "Deny")
	g.str("Principal", "*")
	g.str("Action", "s3:*")
	g.arr("Resource")
	g.elemStr("arn:aws:s3:::" + b)
	g.elemStr("arn:aws:s3:::" + b + "/*")
	g.closeArr()
	g.raw("Condition", `{"Bool":{"aws:SecureTransport":"false"}}`)
	g.close()
	g.closeArr()
	g.close()
	g.str("policy", "")
	g.close()
}

func s3PutResp(g *gen) {
	g.open()
	g.str("x-amz-server-side-encryption", "aws:kms")
	g.key("x-amz-server-side-encryption-aws-kms-key-id")
	g.q()
	g.appendARN("arn:aws:kms:", g.reg.name, ":", g.acct.id, ":key/")
	g.b = g.acct.appendKMSKeyID(g.b, g.reg, 0)
	g.q()
	g.str("x-amz-server-side-encryption-bucket-key-enabled", "true")
	g.key("x-amz-version-id")
	g.q()
	g.b = appendChars(g.b, g.p[3], 32, base64Chars[:62])
	g.q()
	g.close()
}

func s3Extra(g *gen) {
	g.open()
	g.str("SignatureVersion", "SigV4")
	g.str("CipherSuite", g.cipher)
	in, out := int64(0), int64(0)
	switch g.op.name {
	case "PutObject":
		in = int64(g.p[3]%4_000_000) + 512
	case "GetObject":
		out = int64(g.p[3]%4_000_000) + 512
	case "ListBuckets":
		out = 1200 + int64(len(g.acct.buckets))*110
	case "PutBucketPolicy":
		in = 412
	case "GetBucketPolicy":
		out = 412
	case "GetBucketLocation":
		out = 137
	}
	g.num("bytesTransferredIn", in)
	g.str("AuthenticationMethod", "AuthHeader")
	g.key("x-amz-id-2")
	g.q()
	g.b = appendChars(g.b, g.r.Uint64(), 76, base64Chars)
	g.q()
	g.num("bytesTransferredOut", out)
	g.close()
}

func s3ObjectRes(g *gen) {
	g.resourceARN("AWS::S3::Object", false, s3ObjectARN)
	g.resourceARN("AWS::S3::Bucket", true, bucketARN)
}

func bucketRes(g *gen) { g.resourceARN("AWS::S3::Bucket", true, bucketARN) }
