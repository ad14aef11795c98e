package demo

import (
	"strings"
)

// actorKind says what sort of principal an actor is; ops name the kinds
// that call them.
type actorKind uint16

const (
	kHuman    actorKind = 1 << iota // IAM user with a long-term key, CLI or SDK
	kAuto                           // automation: IAM user key or CI role, Terraform or SDK
	kAdmin                          // administrators: SSO admin console, admin role from the CLI
	kConsole                        // SSO power-user session in the console
	kReader                         // SSO read-only session from the CLI
	kWorkload                       // EC2 instance profile role
	kFunction                       // Lambda execution role
	kService                        // AWSService identity (credential vending)
	kWebID                          // WebIdentityUser (OIDC federation)
	kRoot                           // root user, console session
)

const kPeople = kHuman | kAdmin | kConsole | kReader

// uaKind selects how an actor's user agent is built.
type uaKind uint8

const (
	uaCLIMac uaKind = iota
	uaCLILinux
	uaBoto3
	uaGo
	uaTerraform
	uaConsole
	uaJS
	uaGitHub
	uaService
)

// actorTemplate describes an actor that exists in every account.
type actorTemplate struct {
	kind     actorKind
	typ      string // userIdentity.type
	name     string // user name, or role name
	session  string // role session name; "" for users and root
	path     string // role path, e.g. "aws-reserved/sso.amazonaws.com/"
	ua       uaKind
	weight   float64
	ipKind   ipKind
	ipIndex  int
	sessLen  int64 // seconds a session's credentials live
	mfa      bool
	ec2      bool    // instance-profile credentials (ec2RoleDelivery)
	webID    bool    // web-identity federated session
	service  string  // for kService: the service that vends credentials
	targets  []int   // templates whose role this actor assumes
	home     bool    // keeps to a home region
	mfaLogin bool    // console sign-ins use MFA
	failRate float64 // share of console sign-ins with a wrong password
}

type ipKind uint8

const (
	ipOffice  ipKind = iota // 203.0.113.10-29
	ipHome                  // 198.51.100.10-69
	ipCloud                 // 198.51.100.128-254, workloads with public addresses
	ipRunner                // 203.0.113.128-254, CI runners
	ipService               // the AWS service's DNS name
)

// Template indices used by ops and incidents.
const (
	tAlice = iota
	tBob
	tCILegacy
	tTerraform
	tSSOAdmin
	tSSODev
	tSSORead
	tAdminRole
	tWeb1
	tWeb2
	tBatch
	tOrdersFn
	tThumbFn
	tCIRole
	tGitHubOIDC
	tEC2Service
	tLambdaService
	tRoot
	numTemplates
)

var templates = [numTemplates]actorTemplate{
	tAlice: {kind: kHuman, typ: "IAMUser", name: "alice", ua: uaCLIMac, weight: 3, ipKind: ipOffice, ipIndex: 3, mfaLogin: true, failRate: 0.03,
		targets: []int{tAdminRole}},
	tBob:       {kind: kHuman, typ: "IAMUser", name: "bob", ua: uaCLILinux, weight: 2, ipKind: ipHome, ipIndex: 17, mfaLogin: true, failRate: 0.15},
	tCILegacy:  {kind: kAuto, typ: "IAMUser", name: "ci-legacy", ua: uaBoto3, weight: 2, ipKind: ipRunner, ipIndex: 9},
	tTerraform: {kind: kAuto, typ: "IAMUser", name: "terraform", ua: uaTerraform, weight: 2, ipKind: ipRunner, ipIndex: 21},
	tSSOAdmin: {kind: kAdmin, typ: "AssumedRole", name: "AWSReservedSSO_AdministratorAccess_", session: "dana@example.com",
		path: "aws-reserved/sso.amazonaws.com/", ua: uaConsole, weight: 2, ipKind: ipOffice, ipIndex: 5, sessLen: 8 * 3600},
	tSSODev: {kind: kConsole, typ: "AssumedRole", name: "AWSReservedSSO_PowerUserAccess_", session: "alice@example.com",
		path: "aws-reserved/sso.amazonaws.com/", ua: uaConsole, weight: 4, ipKind: ipOffice, ipIndex: 3, sessLen: 8 * 3600},
	tSSORead: {kind: kReader, typ: "AssumedRole", name: "AWSReservedSSO_ReadOnlyAccess_", session: "erin@example.com",
		path: "aws-reserved/sso.amazonaws.com/", ua: uaCLILinux, weight: 3, ipKind: ipHome, ipIndex: 41, sessLen: 8 * 3600},
	tAdminRole: {kind: kAdmin, typ: "AssumedRole", name: "OrganizationAccountAccessRole", session: "alice",
		ua: uaCLIMac, weight: 1.5, ipKind: ipOffice, ipIndex: 3, sessLen: 3600, mfa: true},
	tWeb1: {kind: kWorkload, typ: "AssumedRole", name: "web-app-role", ua: uaGo, weight: 6, ipKind: ipCloud, ipIndex: 11,
		sessLen: 6 * 3600, ec2: true, home: true},
	tWeb2: {kind: kWorkload, typ: "AssumedRole", name: "web-app-role", ua: uaGo, weight: 6, ipKind: ipCloud, ipIndex: 12,
		sessLen: 6 * 3600, ec2: true, home: true},
	tBatch: {kind: kWorkload, typ: "AssumedRole", name: "batch-worker-role", ua: uaBoto3, weight: 4, ipKind: ipCloud, ipIndex: 30,
		sessLen: 6 * 3600, ec2: true, home: true},
	tOrdersFn: {kind: kFunction, typ: "AssumedRole", name: "orders-api-role", session: "orders-api", ua: uaBoto3, weight: 6,
		ipKind: ipCloud, ipIndex: 77, sessLen: 4 * 3600, home: true},
	tThumbFn: {kind: kFunction, typ: "AssumedRole", name: "image-thumbnailer-role", session: "image-thumbnailer", ua: uaJS,
		weight: 4, ipKind: ipCloud, ipIndex: 78, sessLen: 4 * 3600, home: true},
	tCIRole: {kind: kAuto, typ: "AssumedRole", name: "github-actions-deploy", session: "GitHubActions", ua: uaTerraform,
		weight: 3, ipKind: ipRunner, ipIndex: 40, sessLen: 3600, webID: true},
	tGitHubOIDC: {kind: kWebID, typ: "WebIdentityUser", ua: uaGitHub, weight: 1, ipKind: ipRunner, ipIndex: 40,
		targets: []int{tCIRole}},
	tEC2Service:    {kind: kService, typ: "AWSService", service: "ec2.amazonaws.com", weight: 4, ipKind: ipService, targets: []int{tWeb1, tWeb2, tBatch}},
	tLambdaService: {kind: kService, typ: "AWSService", service: "lambda.amazonaws.com", weight: 3, ipKind: ipService, targets: []int{tOrdersFn, tThumbFn}},
	tRoot:          {kind: kRoot, typ: "Root", ua: uaConsole, weight: 0.15, ipKind: ipOffice, ipIndex: 5, sessLen: 3600, mfa: true},
}

// actor is one template made concrete in one account: its identifiers and
// the fixed pieces of its userIdentity JSON.
type actor struct {
	t         *actorTemplate
	idx       int
	acct      *account
	seed      uint64
	ip        string
	arn       string // principal ARN as errors quote it
	principal string // principalId
	roleArn   string // for roles: arn:aws:iam::<acct>:role/<path><name>
	roleID    string // AROA… for roles
	roleName  string // full role name (SSO roles carry a suffix)
	key       string // AKIA… for IAM users
	session   string // session name (instance id for EC2 roles)
	instance  string // EC2 instance id for instance-profile roles
	privateIP string // address seen through a VPC endpoint

	// userIdentity = pre + accessKeyId + mid + creationDate + post [+ invokedBy] + "}"
	// For identities without session credentials mid is unused and the
	// creation date is not written.
	pre, mid, post string
	hasSession     bool
	// fixedKey and fixedCreated pin one session (used by incidents).
	fixedKey     string
	fixedCreated int64
}

// account holds one account's actors and resources.
type account struct {
	id     string
	idx    int
	seed   uint64
	actors [numTemplates]*actor

	buckets    []string
	instances  []string
	sgs        []string
	vpc        string
	vpce       string // S3 gateway endpoint used by some workloads
	subnets    []string
	amis       []string
	trailName  string
	kmsKeys    [4]uint64 // seeds of the account's KMS key ids (per region mixed in)
	alias      string
	orgID      string
	identityID string // identity store suffix for SSO role names
}

var (
	functions  = []string{"orders-api", "image-thumbnailer", "nightly-report", "auth-authorizer", "stripe-webhook"}
	tables     = []string{"Orders", "Sessions", "Customers", "FeatureFlags"}
	queues     = []string{"orders-events", "email-outbox", "thumbnail-jobs"}
	topics     = []string{"alerts", "order-notifications", "deploy-events"}
	secrets    = []string{"prod/db/postgres", "prod/stripe/api-key", "ci/github-token", "prod/sendgrid"}
	parameters = []string{"/prod/app/db-host", "/prod/app/feature-flags", "/prod/app/log-level", "/shared/ami/al2023-latest"}
	logGroups  = []string{"/aws/lambda/orders-api", "/aws/lambda/image-thumbnailer", "/ecs/web-app", "/aws/lambda/nightly-report"}
	dbs        = []string{"orders-db", "analytics-db"}
	roleNames  = []string{"web-app-role", "batch-worker-role", "orders-api-role", "image-thumbnailer-role", "github-actions-deploy", "OrganizationAccountAccessRole"}
	userNames  = []string{"alice", "bob", "ci-legacy", "terraform"}
	alarms     = []string{"orders-api-5xx", "web-app-high-cpu", "queue-depth-orders", "db-free-storage"}
)

type world struct {
	accounts []*account
	regions  []*region
	global   *region // us-east-1, where global services record
	seed     uint64
}

type region struct {
	name string
	h    uint64
	azs  [3]string
}

func newRegion(name string) *region {
	r := &region{name: name, h: hashString(name)}
	for i, s := range []string{"a", "b", "c"} {
		r.azs[i] = name + s
	}
	return r
}

func newWorld(opts *Options) *world {
	w := &world{seed: mix64(uint64(opts.World) ^ 0x6f70656e747261)}
	for _, name := range opts.Regions {
		w.regions = append(w.regions, newRegion(name))
	}
	w.global = newRegion("us-east-1")
	for _, r := range w.regions {
		if r.name == "us-east-1" {
			w.global = r
		}
	}
	for i, id := range opts.Accounts {
		w.accounts = append(w.accounts, newAccount(w, i, id))
	}
	return w
}

func newAccount(w *world, idx int, id string) *account {
	a := &account{id: id, idx: idx, seed: mix64(w.seed ^ hashString(id))}
	h := a.seed
	next := func() uint64 { h += 0x9e3779b97f4a7c15; return mix64(h) }
	a.alias = "acme-" + id[8:]
	for _, b := range []string{"assets", "uploads", "data-lake", "backups", "terraform-state", "build-artifacts"} {
		a.buckets = append(a.buckets, "acme-"+id[8:]+"-"+b)
	}
	for range 24 {
		a.instances = append(a.instances, "i-0"+string(appendHex(nil, next(), 16, false)))
	}
	for range 5 {
		a.sgs = append(a.sgs, "sg-0"+string(appendHex(nil, next(), 16, false)))
	}
	a.vpc = "vpc-0" + string(appendHex(nil, next(), 16, false))
	a.vpce = "vpce-0" + string(appendHex(nil, next(), 16, false))
	for range 3 {
		a.subnets = append(a.subnets, "subnet-0"+string(appendHex(nil, next(), 16, false)))
	}
	for range 3 {
		a.amis = append(a.amis, "ami-0"+string(appendHex(nil, next(), 16, false)))
	}
	a.trailName = "management-events"
	for i := range a.kmsKeys {
		a.kmsKeys[i] = next()
	}
	a.orgID = "o-" + string(appendChars(nil, w.seed, 10, alnumLower))
	a.identityID = string(appendHex(nil, next(), 16, false))
	for i := range templates {
		a.actors[i] = newActor(a, i, next())
	}
	return a
}

func publicIP(kind ipKind, i int) string {
	switch kind {
	case ipOffice:
		return "203.0.113." + itoa(10+i%20)
	case ipHome:
		return "198.51.100." + itoa(10+i%60)
	case ipCloud:
		return "198.51.100." + itoa(128+i%127)
	case ipRunner:
		return "203.0.113." + itoa(128+i%127)
	}
	return ""
}

func itoa(v int) string {
	var buf [20]byte
	i := len(buf)
	if v == 0 {
		return "0"
	}
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return string(buf[i:])
}

func newActor(a *account, idx int, seed uint64) *actor {
	t := &templates[idx]
	ac := &actor{t: t, idx: idx, acct: a, seed: seed}
	// Office, home and runner addresses are shared across accounts (one
	// company); cloud addresses differ per account.
	ipi := t.ipIndex
	if t.ipKind == ipCloud {
		ipi += a.idx * 31
	}
	ac.ip = publicIP(t.ipKind, ipi)
	ac.privateIP = "10.0." + itoa(1+int(seed%3)) + "." + itoa(4+int(seed>>8)%250)
	if t.ipKind == ipService {
		ac.ip = t.service
	}
	id := a.id
	idChars := func(prefix string, h uint64) string {
		return prefix + string(appendChars(nil, h, 17, base32Upper))
	}
	var sb strings.Builder
	switch t.typ {
	case "IAMUser":
		ac.principal = idChars("AIDA", seed)
		ac.arn = "arn:aws:iam::" + id + ":user/" + t.name
		ac.key = "AKIA" + string(appendChars(nil, seed^0x6b6579, 16, base32Upper))
		sb.WriteString(`{"type":"IAMUser","principalId":"` + ac.principal + `","arn":"` + ac.arn +
			`","accountId":"` + id + `","accessKeyId":"`)
		ac.pre = sb.String()
		ac.post = `","userName":"` + t.name + `"`
	case "AssumedRole":
		ac.roleName = t.name
		if t.path == "aws-reserved/sso.amazonaws.com/" {
			ac.roleName += a.identityID
		}
		ac.roleID = idChars("AROA", mix64(hashString(ac.roleName)^a.seed))
		ac.roleArn = "arn:aws:iam::" + id + ":role/" + t.path + ac.roleName
		ac.session = t.session
		if t.ec2 {
			ac.instance = a.instances[idx%len(a.instances)]
			ac.session = ac.instance
		}
		ac.principal = ac.roleID + ":" + ac.session
		ac.arn = "arn:aws:sts::" + id + ":assumed-role/" + ac.roleName + "/" + ac.session
		ac.hasSession = true
		ac.pre = `{"type":"AssumedRole","principalId":"` + ac.principal + `","arn":"` + ac.arn +
			`","accountId":"` + id + `","accessKeyId":"`
		web := `{}`
		if t.webID {
			web = `{"federatedProvider":"arn:aws:iam::` + id + `:oidc-provider/token.actions.githubusercontent.com","attributes":{}}`
		}
		ac.mid = `","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"` + ac.roleID + `","arn":"` + ac.roleArn +
			`","accountId":"` + id + `","userName":"` + ac.roleName + `"},"webIdFederationData":` + web +
			`,"attributes":{"creationDate":"`
		post := `","mfaAuthenticated":"` + boolString(t.mfa) + `"}`
		if t.ec2 {
			post += `,"ec2RoleDelivery":"2.0"`
		}
		ac.post = post + `}`
	case "Root":
		ac.principal = id
		ac.arn = "arn:aws:iam::" + id + ":root"
		ac.hasSession = true
		ac.pre = `{"type":"Root","principalId":"` + id + `","arn":"` + ac.arn + `","accountId":"` + id + `","accessKeyId":"`
		ac.mid = `","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"`
		ac.post = `","mfaAuthenticated":"` + boolString(t.mfa) + `"}}`
	case "WebIdentityUser":
		sub := "repo:acme/infrastructure:ref:refs/heads/main"
		provider := "arn:aws:iam::" + id + ":oidc-provider/token.actions.githubusercontent.com"
		ac.principal = provider + ":sts.amazonaws.com:" + sub
		ac.arn = ac.principal
		ac.pre = `{"type":"WebIdentityUser","principalId":"` + ac.principal + `","userName":"` + sub +
			`","identityProvider":"` + provider + `"`
	case "AWSService":
		ac.arn = t.service
		ac.pre = `{"type":"AWSService","invokedBy":"` + t.service + `"`
	}
	return ac
}

// withoutMFA returns a copy of a root or role actor whose sessions are not
// MFA-authenticated.
func (ac *actor) withoutMFA() *actor {
	c := *ac
	c.post = strings.Replace(c.post, `"mfaAuthenticated":"true"`, `"mfaAuthenticated":"false"`, 1)
	return &c
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// sessionAt returns the access key id and creation time of the session the
// actor holds at unix second t. Sessions are back to back, sessLen long,
// with a phase that differs per actor.
func (ac *actor) sessionAt(t int64) (key uint64, created int64) {
	l := ac.t.sessLen
	if l == 0 {
		l = 3600
	}
	phase := int64(ac.seed % uint64(l))
	n := (t + phase) / l
	created = n*l - phase
	return mix64(ac.seed ^ uint64(n)*0x9e3779b97f4a7c15), created
}

// appendSessionKey appends the ASIA… id of the session with key seed k.
func appendSessionKey(b []byte, k uint64) []byte {
	b = append(b, "ASIA"...)
	return appendChars(b, k, 16, base32Upper)
}

// appendIdentity appends the actor's userIdentity object at time t.
// invokedBy, when set, names the service that called on the actor's behalf.
func (ac *actor) appendIdentity(b []byte, t int64, invokedBy string) []byte {
	b = append(b, ac.pre...)
	switch {
	case ac.hasSession:
		if ac.fixedKey != "" {
			b = append(b, ac.fixedKey...)
			b = append(b, ac.mid...)
			b = appendTime(b, ac.fixedCreated)
		} else {
			k, created := ac.sessionAt(t)
			b = appendSessionKey(b, k)
			b = append(b, ac.mid...)
			b = appendTime(b, created)
		}
		b = append(b, ac.post...)
	case ac.t.typ == "IAMUser":
		b = append(b, ac.key...)
		b = append(b, ac.post...)
	}
	if invokedBy != "" && ac.t.typ != "AWSService" {
		b = append(b, `,"invokedBy":"`...)
		b = append(b, invokedBy...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendKMSKeyID appends the id of the account's i-th KMS key in region r.
func (a *account) appendKMSKeyID(b []byte, r *region, i int) []byte {
	h := mix64(a.kmsKeys[i%len(a.kmsKeys)] ^ r.h)
	return appendUUID(b, h, mix64(h))
}
