// The EC2 ops' writers: requestParameters, responseElements,
// resources and the ARNs and names their errors quote (catalog.go lists
// the ops).

package demo

func (g *gen) emptySets(names ...string) {
	for _, n := range names {
		g.raw(n, "{}")
	}
}

func (g *gen) filter(name, value string) {
	g.obj("filterSet")
	g.arr("items")
	g.elemObj()
	g.str("name", name)
	g.obj("valueSet")
	g.arr("items")
	g.elemObj()
	g.str("value", value)
	g.close()
	g.closeArr()
	g.close()
	g.close()
	g.closeArr()
	g.close()
}

func (g *gen) instanceItems(k string, ids int) {
	g.obj(k)
	g.arr("items")
	for i := range ids {
		g.elemObj()
		g.str("instanceId", g.acct.instances[(int(g.p[1]%97)+i)%len(g.acct.instances)])
		g.close()
	}
	g.closeArr()
	g.close()
}

func describeInstancesParams(g *gen) {
	g.open()
	if g.p[2]%3 == 0 {
		g.instanceItems("instancesSet", 1)
		g.raw("filterSet", "{}")
	} else {
		g.raw("instancesSet", "{}")
		g.filter("instance-state-name", "running")
	}
	g.close()
}

func describeSGParams(g *gen) {
	g.open()
	g.emptySets("securityGroupSet", "securityGroupIdSet")
	g.filter("vpc-id", g.acct.vpc)
	g.close()
}

func describeVpcsParams(g *gen) {
	g.open()
	g.emptySets("vpcSet", "filterSet")
	g.close()
}

func describeSubnetsParams(g *gen) {
	g.open()
	g.raw("subnetSet", "{}")
	g.filter("vpc-id", g.acct.vpc)
	g.close()
}

func describeImagesParams(g *gen) {
	g.open()
	g.emptySets("executableBySet", "imagesSet")
	g.raw("ownersSet", `{"items":[{"owner":"amazon"}]}`)
	g.filter("name", "al2023-ami-2023.*-x86_64")
	g.close()
}

func describeVolumesParams(g *gen) {
	g.open()
	g.raw("volumeSet", "{}")
	g.filter("attachment.instance-id", g.pick(1, g.acct.instances))
	g.close()
}

var instanceTypes = []string{"t3.medium", "t3.large", "m6i.large", "c6i.xlarge", "t3.small", "r6i.large"}

func runInstancesParams(g *gen) {
	typ := g.instanceType
	if typ == "" {
		typ = g.pick(2, instanceTypes)
	}
	g.open()
	g.obj("instancesSet")
	g.arr("items")
	g.elemObj()
	g.str("imageId", g.pick(1, g.acct.amis))
	g.num("minCount", 1)
	g.num("maxCount", 1)
	g.close()
	g.closeArr()
	g.close()
	g.str("instanceType", typ)
	g.raw("blockDeviceMapping", "{}")
	g.raw("monitoring", `{"enabled":false}`)
	g.boolean("disableApiTermination", false)
	g.boolean("disableApiStop", false)
	g.uuidValue("clientToken")
	g.str("subnetId", g.pick(3, g.acct.subnets))
	g.obj("iamInstanceProfile")
	g.str("name", "web-app-role")
	g.close()
	g.raw("tagSpecificationSet", `{"items":[{"resourceType":"instance","tags":[{"key":"Name","value":"web-app"},{"key":"team","value":"platform"}]}]}`)
	g.close()
}

func runInstancesResp(g *gen) {
	typ := g.instanceType
	if typ == "" {
		typ = g.pick(2, instanceTypes)
	}
	az := g.reg.azs[g.pickN(3, 3)]
	ip1, ip2 := itoa(1+g.pickN(3, 3)), itoa(int(g.r.Uint64()%250)+4)
	g.open()
	g.uuidValue("requestId")
	g.key("reservationId")
	g.q()
	g.b = append(g.b, "r-0"...)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.str("ownerId", g.acct.id)
	g.raw("groupSet", "{}")
	g.obj("instancesSet")
	g.arr("items")
	g.elemObj()
	g.key("instanceId")
	g.q()
	g.b = append(g.b, "i-0"...)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.str("imageId", g.pick(1, g.acct.amis))
	g.str("currentInstanceBootMode", "legacy-bios")
	g.raw("instanceState", `{"code":0,"name":"pending"}`)
	g.strs("privateDnsName", "ip-10-0-", ip1, "-", ip2, ".ec2.internal")
	g.num("amiLaunchIndex", 0)
	g.raw("productCodes", "{}")
	g.str("instanceType", typ)
	g.num("launchTime", g.t*1000)
	g.obj("placement")
	g.str("availabilityZone", az)
	g.str("tenancy", "default")
	g.close()
	g.raw("monitoring", `{"state":"disabled"}`)
	g.str("subnetId", g.pick(3, g.acct.subnets))
	g.str("vpcId", g.acct.vpc)
	g.strs("privateIpAddress", "10.0.", ip1, ".", ip2)
	g.raw("stateReason", `{"code":"pending","message":"pending"}`)
	g.str("architecture", "x86_64")
	g.str("rootDeviceType", "ebs")
	g.str("rootDeviceName", "/dev/xvda")
	g.raw("blockDeviceMapping", "{}")
	g.str("virtualizationType", "hvm")
	g.str("hypervisor", "xen")
	g.obj("groupSet")
	g.arr("items")
	g.elemObj()
	g.str("groupId", g.acct.sgs[0])
	g.str("groupName", "web-app")
	g.close()
	g.closeArr()
	g.close()
	g.boolean("sourceDestCheck", true)
	g.raw("cpuOptions", `{"coreCount":1,"threadsPerCore":2}`)
	g.raw("metadataOptions", `{"state":"pending","httpTokens":"required","httpPutResponseHopLimit":2,"httpEndpoint":"enabled","httpProtocolIpv4":"enabled","httpProtocolIpv6":"disabled","instanceMetadataTags":"disabled"}`)
	g.raw("enclaveOptions", `{"enabled":false}`)
	g.close()
	g.closeArr()
	g.close()
	g.close()
}

func createTagsParams(g *gen) {
	g.open()
	g.obj("resourcesSet")
	g.arr("items")
	g.elemObj()
	g.str("resourceId", g.pick(1, g.acct.instances))
	g.close()
	g.closeArr()
	g.close()
	g.raw("tagSet", `{"items":[{"key":"owner","value":"platform-team"},{"key":"cost-center","value":"cc-1042"}]}`)
	g.close()
}

func ec2ReturnTrue(g *gen) {
	g.open()
	g.uuidValue("requestId")
	g.boolean("_return", true)
	g.close()
}

func instanceIDParams(g *gen) {
	g.open()
	g.instanceItems("instancesSet", 1)
	g.close()
}

func stopInstancesParams(g *gen) {
	g.open()
	g.instanceItems("instancesSet", 1)
	g.boolean("force", false)
	g.close()
}

func (g *gen) stateChange(code int64, name string, prevCode int64, prev string) {
	g.open()
	g.uuidValue("requestId")
	g.obj("instancesSet")
	g.arr("items")
	g.elemObj()
	g.str("instanceId", g.acct.instances[int(g.p[1]%97)%len(g.acct.instances)])
	g.obj("currentState")
	g.num("code", code)
	g.str("name", name)
	g.close()
	g.obj("previousState")
	g.num("code", prevCode)
	g.str("name", prev)
	g.close()
	g.close()
	g.closeArr()
	g.close()
	g.close()
}

func terminateResp(g *gen) { g.stateChange(32, "shutting-down", 16, "running") }

func stopResp(g *gen) { g.stateChange(64, "stopping", 16, "running") }

func authorizeSGParams(g *gen) {
	g.open()
	g.str("groupId", g.pick(1, g.acct.sgs))
	g.raw("ipPermissions", `{"items":[{"ipProtocol":"tcp","fromPort":443,"toPort":443,"groups":{},"ipRanges":{"items":[{"cidrIp":"10.0.0.0/16","description":"internal https"}]},"ipv6Ranges":{},"prefixListIds":{}}]}`)
	g.close()
}

func authorizeSGResp(g *gen) {
	g.open()
	g.uuidValue("requestId")
	g.boolean("_return", true)
	g.obj("securityGroupRuleSet")
	g.arr("items")
	g.elemObj()
	g.str("groupOwnerId", g.acct.id)
	g.str("groupId", g.pick(1, g.acct.sgs))
	g.key("securityGroupRuleId")
	g.q()
	g.b = append(g.b, "sgr-0"...)
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.boolean("isEgress", false)
	g.str("ipProtocol", "tcp")
	g.num("fromPort", 443)
	g.num("toPort", 443)
	g.str("cidrIpv4", "10.0.0.0/16")
	g.str("description", "internal https")
	g.close()
	g.closeArr()
	g.close()
	g.close()
}

func instanceIdent(g *gen) {
	g.b = append(g.b, g.acct.instances[int(g.p[1]%97)%len(g.acct.instances)]...)
}
