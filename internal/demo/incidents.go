package demo

import (
	"slices"
	"time"
)

// planted is one pre-rendered incident record.
type planted struct {
	t   int64
	rec []byte
}

// planter renders the incidents' records with its own random stream.
type planter struct {
	g     *gen
	start int64
	end   int64 // last usable second
	scale float64
	recs  []planted
	cur   *Incident
}

// at returns the time frac of the way through the span plus offset
// seconds, the offset shrunk for spans shorter than six hours.
func (p *planter) at(frac float64, offset float64) int64 {
	t := p.start + int64(frac*float64(p.end-p.start+1)) + int64(offset*p.scale)
	return min(max(t, p.start), p.end)
}

// emit keeps the record in p.g.b as part of the current incident.
func (p *planter) emit() {
	g := p.g
	p.recs = append(p.recs, planted{t: g.t, rec: slices.Clone(g.b)})
	p.cur.EventIDs = append(p.cur.EventIDs, g.lastEventID())
	tt := time.Unix(g.t, 0).UTC()
	if len(p.cur.EventIDs) == 1 {
		p.cur.Start = tt
	}
	p.cur.End = tt
}

// attackerIP returns an address in 192.0.2.0/24, which background records
// never use.
func (p *planter) attackerIP() string {
	return "192.0.2." + itoa(10+p.g.r.IntN(240))
}

// event prepares an API-call event of o at t by actor a.
func (p *planter) event(o *op, t int64, acct *account, reg *region, a *actor, ip, ua string) {
	g := p.g
	g.resetEvent()
	g.t, g.op, g.acct, g.reg = t, o, acct, reg
	g.setActor(a)
	g.stsGlobal = false
	if o.prefix == "sts" && reg == g.w.global {
		g.stsGlobal = true
	}
	g.console = false
	g.ip, g.ua = ip, ua
}

const attackerCLI = "aws-cli/2.9.19 Python/3.11.2 Linux/6.1.0-18-amd64 source/x86_64.debian.12 prompt/off command/"

func plantIncidents(w *world, sel *selector, o *Options) ([]planted, []Incident) {
	g := newGen(w, newRand(o.Seed, streamIncidents), sel)
	dur := int64(o.Duration / time.Second)
	p := &planter{g: g, start: o.Start.Unix(), end: o.Start.Unix() + dur - 1, scale: min(1, float64(dur)/(6*3600))}
	r := g.r
	n := len(w.accounts)
	pickAcct := func(i int) *account { return w.accounts[(i+r.IntN(n))%n] }
	pickRegion := func() *region { return w.regions[r.IntN(len(w.regions))] }
	jitter := func() float64 { return (r.Float64() - 0.5) * 0.04 }
	var out []Incident
	begin := func(kind, summary string, acct *account, reg *region, actor, ip string) {
		out = append(out, Incident{Kind: kind, Summary: summary, Account: acct.id, Region: reg.name, Actor: actor, SourceIP: ip})
		p.cur = &out[len(out)-1]
	}

	// Console brute force against an IAM user, then a success without MFA.
	{
		acct := pickAcct(0)
		victim := acct.actors[tBob]
		ip := p.attackerIP()
		ua := browsers[1]
		begin(KindConsoleBruteForce, "30 failed console sign-ins from one address, then a successful sign-in without MFA",
			acct, w.global, victim.arn, ip)
		login := catalog[opIndex("signin.amazonaws.com", "ConsoleLogin")]
		base, off := 0.29+jitter(), 0.0
		for i := range 31 {
			p.event(login, p.at(base, off), acct, w.global, victim, ip, ua)
			g.loginFail = i < 30
			g.loginHidden = i < 6
			g.renderLogin()
			p.emit()
			off += 3 + r.Float64()*12
		}
	}

	// Root sign-in without MFA, then root actions.
	{
		acct := pickAcct(1)
		root := acct.actors[tRoot].withoutMFA()
		ip := p.attackerIP()
		t0 := p.at(0.40+jitter(), 0)
		key := string(appendSessionKey(nil, r.Uint64()))
		root.fixedKey, root.fixedCreated = key, t0
		begin(KindRootLoginNoMFA, "root signed in to the console without MFA from a new address and created an access key",
			acct, w.global, root.arn, ip)
		login := catalog[opIndex("signin.amazonaws.com", "ConsoleLogin")]
		p.event(login, t0, acct, w.global, root, ip, browsers[3])
		g.renderLogin()
		p.emit()
		off := 40.0
		for _, name := range []string{"GetAccountSummary", "ListUsers", "CreateAccessKey"} {
			o := catalog[opIndex("iam.amazonaws.com", name)]
			p.event(o, min(p.end, t0+int64((off+r.Float64()*30)*p.scale)), acct, w.global, root, ip, "console.amazonaws.com")
			g.console = true
			g.renderAPI()
			p.emit()
			off += 45 + r.Float64()*60
		}
	}

	// Trail tampering by one admin session.
	{
		acct := pickAcct(2)
		reg := pickRegion()
		admin := *acct.actors[tSSOAdmin]
		ip := p.attackerIP()
		t0 := p.at(0.52+jitter(), 0)
		admin.fixedKey = string(appendSessionKey(nil, r.Uint64()))
		admin.fixedCreated = max(p.start, t0-int64(1200*p.scale))
		begin(KindTrailTampering, "one administrator session stopped CloudTrail logging and then deleted the trail",
			acct, reg, admin.arn, ip)
		steps := []struct {
			o   *op
			off float64
		}{
			{catalog[opIndex("cloudtrail.amazonaws.com", "DescribeTrails")], 0},
			{catalog[opIndex("cloudtrail.amazonaws.com", "GetTrailStatus")], 25},
			{opStopLogging, 70},
			{opDeleteTrail, 70 + 360 + r.Float64()*180},
		}
		for _, s := range steps {
			p.event(s.o, min(p.end, t0+int64(s.off*p.scale)), acct, reg, &admin, ip, attackerCLI+s.o.cli)
			g.renderAPI()
			p.emit()
		}
	}

	// Burst of denials for a leaked access key.
	{
		acct := pickAcct(0)
		user := acct.actors[tCILegacy]
		ip := p.attackerIP()
		t0 := p.at(0.63+jitter(), 0)
		begin(KindAccessDeniedBurst, "a leaked access key probed 16 APIs from a new address and was denied 60 times in about 3 minutes",
			acct, w.global, user.arn, ip)
		o := catalog[opIndex("sts.amazonaws.com", "GetCallerIdentity")]
		p.event(o, t0, acct, w.global, user, ip, attackerCLI+o.cli)
		g.renderAPI()
		p.emit()
		probes := []string{
			"ec2.amazonaws.com DescribeInstances", "ec2.amazonaws.com DescribeSecurityGroups", "ec2.amazonaws.com DescribeVpcs",
			"s3.amazonaws.com ListBuckets", "s3.amazonaws.com GetBucketPolicy", "iam.amazonaws.com ListUsers",
			"iam.amazonaws.com ListRoles", "iam.amazonaws.com ListAttachedRolePolicies", "secretsmanager.amazonaws.com ListSecrets",
			"secretsmanager.amazonaws.com GetSecretValue", "ssm.amazonaws.com GetParameter", "lambda.amazonaws.com ListFunctions20150331",
			"rds.amazonaws.com DescribeDBInstances", "kms.amazonaws.com ListAliases", "cloudtrail.amazonaws.com DescribeTrails",
			"logs.amazonaws.com DescribeLogGroups",
		}
		off := 5.0
		for i := range 60 {
			o := opByName[probes[(i+i/16)%len(probes)]]
			reg := w.regions[(i/len(probes))%len(w.regions)]
			if o.global {
				reg = w.global
			}
			p.event(o, min(p.end, t0+int64(off*p.scale)), acct, reg, user, ip, attackerCLI+o.cli)
			g.err = denial(o)
			g.renderAPI()
			p.emit()
			off += 1 + r.Float64()*4
		}
	}

	// RunInstances spike.
	{
		acct := pickAcct(1)
		reg := pickRegion()
		user := acct.actors[tTerraform]
		ip := p.attackerIP()
		t0 := p.at(0.75+jitter(), 0)
		begin(KindRunInstancesSpike, "120 RunInstances calls for large instance types in 10 minutes from one access key",
			acct, reg, user.arn, ip)
		o := catalog[opIndex("ec2.amazonaws.com", "RunInstances")]
		ua := uaBoto3EC2
		big := []string{"c5.24xlarge", "p3.16xlarge", "g4dn.12xlarge", "c6i.32xlarge"}
		for i := range 120 {
			p.event(o, min(p.end, t0+int64(float64(i)*5*p.scale)+int64(r.IntN(5))), acct, reg, user, ip, ua)
			g.instanceType = big[r.IntN(len(big))]
			if r.Float64() < 0.15 {
				g.err = &errVcpuLimit
			}
			g.renderAPI()
			p.emit()
		}
	}

	slices.SortStableFunc(p.recs, func(a, b planted) int {
		switch {
		case a.t < b.t:
			return -1
		case a.t > b.t:
			return 1
		}
		return 0
	})
	return p.recs, out
}

var errVcpuLimit = apiErr{code: "Client.VcpuLimitExceeded", text: "You have requested more vCPU capacity than your current vCPU limit of 64 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."}

// denial is the error a service returns to a caller without permission.
func denial(o *op) *apiErr {
	switch o.prefix {
	case "ec2":
		return &errEC2Unauth
	case "s3":
		return &errS3Denied
	case "kms", "secretsmanager", "ssm", "lambda", "cloudtrail", "logs":
		return &errAccessExc
	}
	return &errAccessIAM
}

func opIndex(source, name string) int {
	o := opByName[source+" "+name]
	if o == nil || o.idx < 0 {
		panic("demo: no catalog op " + source + " " + name)
	}
	return o.idx
}
