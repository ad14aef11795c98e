// The RDS ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func describeDBParams(g *gen) {
	if g.p[2]%2 == 0 {
		g.b = append(g.b, "null"...)
		return
	}
	g.open()
	g.str("dBInstanceIdentifier", g.pick(1, dbs))
	g.close()
}

func createDBSnapshotParams(g *gen) {
	db := g.pick(1, dbs)
	g.open()
	g.key("dBSnapshotIdentifier")
	g.q()
	g.b = append(g.b, db...)
	g.b = append(g.b, "-manual-"...)
	n := len(g.b)
	g.b = appendTime(g.b, g.t)[:n+10]
	g.q()
	g.str("dBInstanceIdentifier", db)
	g.close()
}

func createDBSnapshotResp(g *gen) {
	db := g.pick(1, dbs)
	g.open()
	g.key("dBSnapshotIdentifier")
	g.q()
	g.b = append(g.b, db...)
	g.b = append(g.b, "-manual-"...)
	n := len(g.b)
	g.b = appendTime(g.b, g.t)[:n+10]
	g.q()
	g.str("dBInstanceIdentifier", db)
	g.str("engine", "postgres")
	g.num("allocatedStorage", 100)
	g.str("status", "creating")
	g.num("port", 5432)
	g.str("availabilityZone", g.reg.azs[0])
	g.str("vpcId", g.acct.vpc)
	g.str("instanceCreateTime", "Mar 14, 2023, 9:26:53 AM")
	g.str("masterUsername", "app")
	g.str("engineVersion", "16.2")
	g.str("licenseModel", "postgresql-license")
	g.str("snapshotType", "manual")
	g.num("percentProgress", 0)
	g.str("storageType", "gp3")
	g.boolean("encrypted", true)
	g.key("kmsKeyId")
	g.q()
	g.appendARN("arn:aws:kms:", g.reg.name, ":", g.acct.id, ":key/")
	g.b = g.acct.appendKMSKeyID(g.b, g.reg, 1)
	g.q()
	g.str("snapshotTarget", "region")
	g.num("storageThroughput", 125)
	g.close()
}

func dbIdent(g *gen) { g.b = append(g.b, g.pick(1, dbs)...) }
