package demo

import (
	"math"
	"math/rand/v2"
)

// gen renders records. One gen belongs to one goroutine; its buffer is
// reused by every record.
type gen struct {
	jw
	w *world
	r *rand.Rand

	// The event being rendered.
	t            int64
	acct         *account
	reg          *region
	a            *actor
	op           *op
	err          *apiErr
	via          string    // invokedBy service, or ""
	ip           string    // sourceIPAddress override
	ua           string    // userAgent override
	p            [4]uint64 // per-event picks the writers choose resources by
	target       *actor    // AssumeRole target override
	vpce         string
	cipher       string
	tlsVersion   string
	instanceType string // RunInstances type override
	console      bool   // the caller is a console session
	stsGlobal    bool   // STS call to the global endpoint
	loginFail    bool
	loginHidden  bool
	loginMFA     bool
	idPos        int // offset of the eventID value in b

	sel *selector
}

// selector holds the cumulative weight tables the background draws from.
type selector struct {
	opCum     []float64
	callers   [][]int // per op: template indices
	callerCum [][]float64
	acctCum   []float64
	regCum    []float64
	ua        [numTemplates][]string // per template, per op
}

const zipfS = 1.0

func newSelector(w *world) *selector {
	s := &selector{}
	var sum float64
	for i, o := range catalog {
		sum += o.weight / math.Pow(float64(i+1), zipfS)
		s.opCum = append(s.opCum, sum)
	}
	for _, o := range catalog {
		var idx []int
		var cum []float64
		var c float64
		for ti := range templates {
			if templates[ti].kind&o.callers != 0 && (!o.assume || len(templates[ti].targets) > 0) {
				c += templates[ti].weight
				idx = append(idx, ti)
				cum = append(cum, c)
			}
		}
		if len(cum) == 0 {
			panic("demo: op " + o.name + " has no callers")
		}
		s.callers = append(s.callers, idx)
		s.callerCum = append(s.callerCum, cum)
	}
	s.acctCum = powerCum(len(w.accounts), 0.8)
	s.regCum = powerCum(len(w.regions), 1.1)
	for ti := range templates {
		s.ua[ti] = make([]string, len(catalog))
		for oi, o := range catalog {
			s.ua[ti][oi] = userAgent(&templates[ti], o)
		}
	}
	return s
}

// powerCum returns cumulative weights 1/(i+1)^s for n items.
func powerCum(n int, s float64) []float64 {
	cum := make([]float64, n)
	var c float64
	for i := range n {
		c += 1 / math.Pow(float64(i+1), s)
		cum[i] = c
	}
	return cum
}

// draw picks an index with probability proportional to its weight, given
// the cumulative weights cum.
func draw(r *rand.Rand, cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

func newGen(w *world, r *rand.Rand, sel *selector) *gen {
	return &gen{w: w, r: r, sel: sel, jw: jw{b: make([]byte, 0, 8192)}}
}

// reset clears the per-event state.
func (g *gen) resetEvent() {
	g.err, g.via, g.ip, g.ua, g.target, g.vpce, g.instanceType = nil, "", "", "", nil, "", ""
	g.loginFail, g.loginHidden, g.loginMFA = false, false, false
	for i := range g.p {
		g.p[i] = g.r.Uint64()
	}
}

var browsers = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
}

const (
	uaCLIMacPrefix   = "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/"
	uaCLILinuxPrefix = "aws-cli/2.13.25 Python/3.11.5 Linux/6.5.0-28-generic exe/x86_64.ubuntu.22 prompt/off command/"
	uaBoto3EC2       = "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#6.1.84-99.169.amzn2023.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.84"
	uaBoto3Lambda    = "Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.214-225.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.42"
	uaGoPrefix       = "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/"
	uaTerraformPre   = "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.45.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.1 ua/2.0 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/"
	uaJSPrefix       = "aws-sdk-js/3.556.0 ua/2.0 os/linux#5.10.214-225.855.amzn2.x86_64 lang/js md/nodejs#20.12.1 api/"
)

// userAgent is the user agent actor template t sends for op o.
func userAgent(t *actorTemplate, o *op) string {
	if o.login {
		return browsers[hashString(t.name+t.session)%uint64(len(browsers))]
	}
	if o.uaFixed != "" {
		return o.uaFixed
	}
	switch t.ua {
	case uaCLIMac:
		return uaCLIMacPrefix + o.cli
	case uaCLILinux:
		return uaCLILinuxPrefix + o.cli
	case uaBoto3:
		if t.kind == kFunction {
			return uaBoto3Lambda
		}
		return uaBoto3EC2
	case uaGo:
		return uaGoPrefix + o.sdk + "#" + o.sdkVer
	case uaTerraform:
		return uaTerraformPre + o.sdk + "#" + o.sdkVer
	case uaConsole:
		if hashString(o.name)%3 == 0 {
			return "AWS Internal"
		}
		return "console.amazonaws.com"
	case uaJS:
		return uaJSPrefix + o.sdk + "#3.556.0 exec-env/AWS_Lambda_nodejs20.x"
	case uaGitHub:
		return "configure-aws-credentials-for-github-actions"
	case uaService:
		return t.service
	}
	return t.service
}

// setActor makes a the caller of the event and picks its TLS settings.
func (g *gen) setActor(a *actor) {
	g.a = a
	g.console = a.t.ua == uaConsole
	if a.seed%5 == 0 {
		g.tlsVersion, g.cipher = "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"
	} else {
		g.tlsVersion, g.cipher = "TLSv1.3", "TLS_AES_128_GCM_SHA256"
	}
}

// homeRegion is where a workload actor runs.
func (g *gen) homeRegion(a *actor) *region {
	if a.seed&3 != 0 {
		return g.w.regions[0]
	}
	return g.w.regions[int(a.seed>>8)%len(g.w.regions)]
}

// pickRegion chooses the region an event of o by the current actor is
// recorded in.
func (g *gen) pickRegion(o *op) {
	g.stsGlobal = false
	switch {
	case o.global:
		g.reg = g.w.global
	case o.prefix == "sts" && g.r.Float64() < stsGlobalShare:
		g.reg, g.stsGlobal = g.w.global, true
	case g.a.t.home && g.r.Float64() < 0.9:
		g.reg = g.homeRegion(g.a)
	default:
		g.reg = g.w.regions[draw(g.r, g.sel.regCum)]
	}
}

// background renders one background event at unix second t into g.b.
func (g *gen) background(t int64) {
	g.resetEvent()
	g.t = t
	oi := draw(g.r, g.sel.opCum)
	o := catalog[oi]
	g.op = o
	if o.mgmtOnly {
		g.acct = g.w.accounts[0]
	} else {
		g.acct = g.w.accounts[draw(g.r, g.sel.acctCum)]
	}
	ti := g.sel.callers[oi][draw(g.r, g.sel.callerCum[oi])]
	g.setActor(g.acct.actors[ti])
	g.ua = g.sel.ua[ti][oi]
	g.pickRegion(o)
	if o.login {
		g.ip = g.a.ip
		switch g.a.t.kind {
		case kHuman:
			g.loginFail = g.r.Float64() < g.a.t.failRate
			g.loginMFA = g.a.t.mfaLogin && !g.loginFail
		case kRoot:
			g.loginMFA = true
		}
		g.renderLogin()
		return
	}
	if o.viaRate > 0 && g.a.t.kind != kService && g.r.Float64() < o.viaRate {
		g.via = o.via[g.r.IntN(len(o.via))]
	}
	if g.via == "" && g.a.t.kind != kService && g.r.Float64() < o.errRate {
		g.err = &o.errs[g.r.IntN(len(o.errs))]
	}
	if g.a.t.kind == kWorkload && o.host == hostS3Bucket && g.a.seed&4 != 0 {
		g.vpce = g.acct.vpce
		g.ip = g.a.privateIP
	}
	g.renderAPI()
}

func (g *gen) eventID() {
	g.key("eventID")
	g.q()
	g.idPos = len(g.b)
	g.b = appendUUID(g.b, g.r.Uint64(), g.r.Uint64())
	g.q()
}

// lastEventID returns the eventID of the record in g.b.
func (g *gen) lastEventID() string { return string(g.b[g.idPos : g.idPos+36]) }

// renderAPI renders an AwsApiCall record for the current event.
func (g *gen) renderAPI() {
	o, a := g.op, g.a
	g.reset()
	g.open()
	g.str("eventVersion", o.version)
	g.key("userIdentity")
	g.b = a.appendIdentity(g.b, g.t, g.via)
	g.key("eventTime")
	g.q()
	g.b = appendTime(g.b, g.t)
	g.q()
	g.str("eventSource", o.source)
	g.str("eventName", o.name)
	g.str("awsRegion", g.reg.name)
	service := a.t.kind == kService
	switch {
	case g.via != "":
		g.str("sourceIPAddress", g.via)
		g.str("userAgent", g.via)
	case service:
		g.str("sourceIPAddress", a.t.service)
		g.str("userAgent", a.t.service)
	default:
		ip := g.ip
		if ip == "" {
			ip = a.ip
		}
		g.str("sourceIPAddress", ip)
		g.str("userAgent", g.ua)
	}
	if g.err != nil {
		g.errorFields()
	}
	g.key("requestParameters")
	if o.params == nil {
		g.b = append(g.b, "null"...)
	} else {
		o.params(g)
	}
	g.key("responseElements")
	if g.err != nil || o.resp == nil {
		g.b = append(g.b, "null"...)
	} else {
		o.resp(g)
	}
	if o.extra != nil {
		g.key("additionalEventData")
		o.extra(g)
	}
	g.key("requestID")
	g.q()
	if o.prefix == "s3" {
		g.b = appendHex(g.b, g.r.Uint64(), 16, true)
	} else {
		g.b = appendUUID(g.b, g.r.Uint64(), g.r.Uint64())
	}
	g.q()
	g.eventID()
	g.boolean("readOnly", o.readOnly)
	if o.res != nil {
		g.arr("resources")
		o.res(g)
		g.closeArr()
	}
	g.str("eventType", o.eventType)
	g.boolean("managementEvent", !o.data)
	g.str("recipientAccountId", g.acct.id)
	if service {
		g.uuidValue("sharedEventID")
	}
	if g.vpce != "" {
		g.str("vpcEndpointId", g.vpce)
	}
	if o.data {
		g.str("eventCategory", "Data")
	} else {
		g.str("eventCategory", "Management")
	}
	if g.via == "" && !service && o.host != hostNone {
		g.obj("tlsDetails")
		g.str("tlsVersion", g.tlsVersion)
		g.str("cipherSuite", g.cipher)
		g.key("clientProvidedHostHeader")
		g.q()
		g.appendHost()
		g.q()
		g.close()
	}
	if g.console && g.via == "" {
		g.str("sessionCredentialFromConsole", "true")
	}
	g.close()
}

func (g *gen) appendHost() {
	o := g.op
	switch {
	case o.host == hostS3Bucket:
		g.appendARN(g.pick(0, g.acct.buckets), ".s3.", g.reg.name, ".amazonaws.com")
	case o.host == hostS3:
		g.appendARN("s3.", g.reg.name, ".amazonaws.com")
	case o.host == hostGlobal || g.stsGlobal:
		g.appendARN(o.endpoint, ".amazonaws.com")
	default:
		g.appendARN(o.endpoint, ".", g.reg.name, ".amazonaws.com")
	}
}

func (g *gen) errorFields() {
	e, o := g.err, g.op
	g.str("errorCode", e.code)
	switch e.msg {
	case msgFixed:
		if e.text != "" {
			g.str("errorMessage", e.text)
		}
	case msgIAM:
		g.key("errorMessage")
		g.q()
		g.appendARN("User: ", g.a.arn, " is not authorized to perform: ", o.prefix, ":", o.action)
		if o.arn != nil {
			g.b = append(g.b, " on resource: "...)
			o.arn(g)
		}
		g.appendARN(" because no identity-based policy allows the ", o.prefix, ":", o.action, " action")
		g.q()
	case msgEncoded:
		g.key("errorMessage")
		g.q()
		g.b = append(g.b, "You are not authorized to perform this operation. Encoded authorization failure message: "...)
		g.b = appendChars(g.b, g.r.Uint64(), 320, base64Chars[:62])
		g.q()
	case msgName:
		pre, post, _ := cutVerb(e.text)
		g.key("errorMessage")
		g.q()
		g.b = appendEscaped(g.b, pre)
		if o.ident != nil {
			o.ident(g)
		}
		g.b = appendEscaped(g.b, post)
		g.q()
	}
}

// cutVerb splits a message template at its %s.
func cutVerb(s string) (before, after string, found bool) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' && s[i+1] == 's' {
			return s[:i], s[i+2:], true
		}
	}
	return s, "", false
}

// renderLogin renders a ConsoleLogin record for the current event.
func (g *gen) renderLogin() {
	a := g.a
	acct := g.acct.id
	g.reset()
	g.open()
	g.str("eventVersion", "1.09")
	g.key("userIdentity")
	switch a.t.typ {
	case "IAMUser":
		if g.loginHidden {
			g.appendARN(`{"type":"IAMUser","accountId":"`, acct, `","accessKeyId":"","userName":"`, hidden, `"}`)
		} else if g.loginFail {
			g.appendARN(`{"type":"IAMUser","principalId":"`, a.principal, `","accountId":"`, acct,
				`","accessKeyId":"","userName":"`, a.t.name, `"}`)
		} else {
			g.appendARN(`{"type":"IAMUser","principalId":"`, a.principal, `","arn":"`, a.arn, `","accountId":"`, acct,
				`","accessKeyId":"","userName":"`, a.t.name, `"}`)
		}
	case "Root":
		g.appendARN(`{"type":"Root","principalId":"`, acct, `","arn":"`, a.arn, `","accountId":"`, acct, `","accessKeyId":""}`)
	default:
		_, created := a.sessionAt(g.t)
		g.b = append(g.b, a.pre...)
		g.b = append(g.b, a.mid...)
		g.b = appendTime(g.b, created)
		g.b = append(g.b, a.post...)
		g.b = append(g.b, '}')
	}
	g.key("eventTime")
	g.q()
	g.b = appendTime(g.b, g.t)
	g.q()
	g.str("eventSource", "signin.amazonaws.com")
	g.str("eventName", "ConsoleLogin")
	g.str("awsRegion", g.reg.name)
	g.str("sourceIPAddress", g.ip)
	g.str("userAgent", g.ua)
	if g.loginFail {
		g.str("errorMessage", "Failed authentication")
	}
	g.null("requestParameters")
	if g.loginFail {
		g.raw("responseElements", `{"ConsoleLogin":"Failure"}`)
	} else {
		g.raw("responseElements", `{"ConsoleLogin":"Success"}`)
	}
	g.obj("additionalEventData")
	g.key("LoginTo")
	g.q()
	g.b = append(g.b, "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_"...)
	g.b = append(g.b, g.reg.name...)
	g.b = append(g.b, '_')
	g.b = appendHex(g.b, g.r.Uint64(), 16, false)
	g.q()
	g.str("MobileVersion", "No")
	if g.loginMFA {
		switch a.t.typ {
		case "Root":
			g.strs("MFAIdentifier", "arn:aws:iam::", acct, ":mfa/root-account-mfa-device")
		case "IAMUser":
			g.strs("MFAIdentifier", "arn:aws:iam::", acct, ":mfa/", a.t.name)
		}
		g.str("MFAUsed", "Yes")
	} else {
		g.str("MFAUsed", "No")
	}
	g.close()
	g.eventID()
	g.boolean("readOnly", false)
	g.str("eventType", "AwsConsoleSignIn")
	g.boolean("managementEvent", true)
	g.str("recipientAccountId", acct)
	g.str("eventCategory", "Management")
	g.close()
}
