package demo_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/demo"
)

var day = time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)

// collect runs Generate and returns copies of the records.
func collect(t testing.TB, opts demo.Options) [][]byte {
	t.Helper()
	var out [][]byte
	if err := demo.Generate(opts, func(rec []byte) error {
		out = append(out, bytes.Clone(rec))
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return out
}

func digest(t testing.TB, opts demo.Options) ([32]byte, int) {
	t.Helper()
	h := sha256.New()
	n := 0
	if err := demo.Generate(opts, func(rec []byte) error {
		h.Write(rec)
		h.Write([]byte{'\n'})
		n++
		return nil
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return [32]byte(h.Sum(nil)), n
}

func TestGenerateDeterministic(t *testing.T) {
	opts := demo.Options{Seed: 7, Start: day, Events: 5000, Incidents: true}
	a, n := digest(t, opts)
	b, _ := digest(t, opts)
	if a != b {
		t.Fatal("two runs with the same options differ")
	}
	if n <= 5000 {
		t.Fatalf("got %d records, want 5000 background plus incidents", n)
	}
	opts.Seed = 8
	if c, _ := digest(t, opts); c == a {
		t.Fatal("a different seed gave the same output")
	}
	i1, err := demo.Incidents(demo.Options{Seed: 7, Start: day, Events: 5000, Incidents: true})
	if err != nil {
		t.Fatal(err)
	}
	i2, _ := demo.Incidents(demo.Options{Seed: 7, Start: day, Events: 5000, Incidents: true})
	if fmt.Sprint(i1) != fmt.Sprint(i2) {
		t.Fatal("Incidents differs between calls")
	}
}

// TestWorldAcrossSeeds checks that Seed and World divide the output as
// documented: World alone decides the organisation (principal ids, access
// keys, instances), Seed the activity in it and so the eventIDs, and a
// zero World is Seed's.
func TestWorldAcrossSeeds(t *testing.T) {
	base := demo.Options{Seed: 4, Start: day, Events: 3000, Incidents: true}
	a, _ := digest(t, base)
	withWorld := base
	withWorld.World = 4
	if b, _ := digest(t, withWorld); b != a {
		t.Fatal("World equal to Seed changed the output; zero World must mean Seed")
	}
	ids := regexp.MustCompile(`"(?:principalId|accessKeyId|eventID)":"[^"]+"|i-0[0-9a-f]{16}`)
	sets := func(opts demo.Options) (world, events map[string]bool) {
		world, events = map[string]bool{}, map[string]bool{}
		for _, rec := range collect(t, opts) {
			for _, m := range ids.FindAll(rec, -1) {
				if bytes.HasPrefix(m, []byte(`"eventID"`)) {
					events[string(m)] = true
				} else {
					world[string(m)] = true
				}
			}
		}
		return world, events
	}
	overlap := func(x, y map[string]bool) int {
		n := 0
		for k := range x {
			if y[k] {
				n++
			}
		}
		return n
	}
	w1, e1 := sets(withWorld)
	sameWorld := withWorld
	sameWorld.Seed = 5
	w2, e2 := sets(sameWorld)
	otherWorld := demo.Options{Seed: 5, Start: day, Events: 3000, Incidents: true}
	w3, _ := sets(otherWorld)
	if n := overlap(e1, e2); n != 0 {
		t.Errorf("seeds 4 and 5 in world 4 share %d eventIDs", n)
	}
	if n := overlap(w1, w2); n < len(w1)/2 {
		t.Errorf("seeds 4 and 5 in world 4 share %d of %d principal ids, access keys and instances; want most", n, len(w1))
	}
	if n := overlap(w1, w3); n > len(w1)/20 {
		t.Errorf("worlds 4 and 5 share %d of %d principal ids, access keys and instances; want next to none", n, len(w1))
	}
}

// Planting incidents must leave the background untouched: removing the
// incidents' records gives the output without incidents.
func TestIncidentsLeaveBackgroundUnchanged(t *testing.T) {
	opts := demo.Options{Seed: 3, Start: day, Events: 4000}
	plain := collect(t, opts)
	opts.Incidents = true
	with := collect(t, opts)
	inc, err := demo.Incidents(opts)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, in := range inc {
		for _, id := range in.EventIDs {
			ids[id] = true
		}
	}
	var rest [][]byte
	for _, rec := range with {
		var m struct{ EventID string }
		if err := json.Unmarshal(rec, &m); err != nil {
			t.Fatal(err)
		}
		if !ids[m.EventID] {
			rest = append(rest, rec)
		}
	}
	if len(with)-len(rest) != len(ids) {
		t.Fatalf("found %d incident records in the output, Incidents lists %d", len(with)-len(rest), len(ids))
	}
	if len(rest) != len(plain) {
		t.Fatalf("background has %d records with incidents, %d without", len(rest), len(plain))
	}
	for i := range rest {
		if !bytes.Equal(rest[i], plain[i]) {
			t.Fatalf("background record %d differs:\n%s\n%s", i, rest[i], plain[i])
		}
	}
}

var (
	guidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	accessKeyRE = regexp.MustCompile(`^(AKIA|ASIA)[A-Z2-7]{16}$`)
	knownFields = map[string]bool{
		"eventVersion": true, "userIdentity": true, "eventTime": true, "eventSource": true, "eventName": true,
		"awsRegion": true, "sourceIPAddress": true, "userAgent": true, "errorCode": true, "errorMessage": true,
		"requestParameters": true, "responseElements": true, "additionalEventData": true, "requestID": true,
		"eventID": true, "readOnly": true, "resources": true, "eventType": true, "managementEvent": true,
		"recipientAccountId": true, "sharedEventID": true, "vpcEndpointId": true, "eventCategory": true,
		"tlsDetails": true, "sessionCredentialFromConsole": true,
	}
	docRanges = []netip.Prefix{
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
	}
	attackerRange = netip.MustParsePrefix("192.0.2.0/24")
	privateRange  = netip.MustParsePrefix("10.0.0.0/8")
	userAgents    = []string{"aws-cli/2.", "Boto3/1.", "aws-sdk-go-v2/1.", "aws-sdk-go/1.", "aws-sdk-js/3.", "APN/1.0 HashiCorp/1.0 Terraform/",
		"console.amazonaws.com", "AWS Internal", "Mozilla/5.0 ", "awslambda-worker/", "configure-aws-credentials-for-github-actions"}
	globalSources = map[string]bool{"iam.amazonaws.com": true, "signin.amazonaws.com": true, "organizations.amazonaws.com": true}
)

// checker validates records against the CloudTrail record format and
// gathers statistics for the distribution tests.
type checker struct {
	t        *testing.T
	opts     demo.Options
	last     time.Time
	ids      map[string]bool
	n        int
	bytes    int
	sizes    []int
	data     int
	errs     int
	readOnly int
	count    map[string]map[string]int // dimension → value → records
	byID     map[string]map[string]any
}

func newChecker(t *testing.T, opts demo.Options) *checker {
	return &checker{t: t, opts: opts, ids: map[string]bool{}, count: map[string]map[string]int{}, byID: map[string]map[string]any{}}
}

func (c *checker) inc(dim, val string) {
	if c.count[dim] == nil {
		c.count[dim] = map[string]int{}
	}
	c.count[dim][val]++
}

func str(m map[string]any, k string) (string, bool) {
	s, ok := m[k].(string)
	return s, ok
}

func (c *checker) check(rec []byte) error {
	var m map[string]any
	if err := json.Unmarshal(rec, &m); err != nil {
		return fmt.Errorf("invalid JSON: %v: %s", err, rec)
	}
	if !json.Valid(rec) || bytes.ContainsAny(rec, "\n\r") {
		return fmt.Errorf("record is not compact JSON: %s", rec)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", fmt.Sprintf(format, args...), rec)
	}
	for k := range m {
		if !knownFields[k] {
			return fail("unknown field %q", k)
		}
	}
	c.n++
	c.bytes += len(rec)
	c.sizes = append(c.sizes, len(rec))

	v, _ := str(m, "eventVersion")
	if v != "1.08" && v != "1.09" {
		return fail("eventVersion %q", v)
	}
	c.inc("version", v)

	ts, _ := str(m, "eventTime")
	et, err := time.Parse("2006-01-02T15:04:05Z", ts)
	if err != nil {
		return fail("eventTime %q: %v", ts, err)
	}
	if et.Before(c.opts.Start) || !et.Before(c.opts.Start.Add(c.opts.Duration)) {
		return fail("eventTime %s outside [%s, +%s)", et, c.opts.Start, c.opts.Duration)
	}
	if et.Before(c.last) {
		return fail("eventTime %s before the previous record's %s", et, c.last)
	}
	c.last = et
	c.inc("hour", fmt.Sprint(et.Hour()))

	src, _ := str(m, "eventSource")
	name, _ := str(m, "eventName")
	if !strings.HasSuffix(src, ".amazonaws.com") || name == "" {
		return fail("eventSource %q eventName %q", src, name)
	}
	c.inc("source", src)
	c.inc("name", src+" "+name)

	region, _ := str(m, "awsRegion")
	if region != "us-east-1" && !slices.Contains(c.opts.Regions, region) {
		return fail("awsRegion %q not among %v", region, c.opts.Regions)
	}
	if globalSources[src] && region != "us-east-1" {
		return fail("global service %s recorded in %s", src, region)
	}
	c.inc("region", region)

	id, _ := str(m, "eventID")
	if !guidRE.MatchString(id) {
		return fail("eventID %q is not a GUID", id)
	}
	if c.ids[id] {
		return fail("duplicate eventID %s", id)
	}
	c.ids[id] = true
	c.byID[id] = m

	et2, _ := str(m, "eventType")
	c.inc("eventType", et2)
	switch et2 {
	case "AwsApiCall":
		if rid, ok := str(m, "requestID"); !ok || rid == "" {
			return fail("AwsApiCall without requestID")
		}
	case "AwsConsoleSignIn":
		if name != "ConsoleLogin" {
			return fail("AwsConsoleSignIn for %s", name)
		}
	default:
		return fail("eventType %q", et2)
	}

	for _, k := range []string{"requestParameters", "responseElements"} {
		val, ok := m[k]
		if !ok {
			return fail("missing %s", k)
		}
		if _, isObj := val.(map[string]any); val != nil && !isObj {
			return fail("%s is %T, want object or null", k, val)
		}
	}
	if val, ok := m["additionalEventData"]; ok {
		if _, isObj := val.(map[string]any); !isObj {
			return fail("additionalEventData is %T", val)
		}
	}
	ro, ok := m["readOnly"].(bool)
	if !ok {
		return fail("readOnly is %T, want bool", m["readOnly"])
	}
	if ro {
		c.readOnly++
	}
	mgmt, ok := m["managementEvent"].(bool)
	if !ok {
		return fail("managementEvent is %T, want bool", m["managementEvent"])
	}
	cat, _ := str(m, "eventCategory")
	switch {
	case cat == "Management" && mgmt:
	case cat == "Data" && !mgmt:
		c.data++
	default:
		return fail("eventCategory %q with managementEvent %v", cat, mgmt)
	}
	rcpt, _ := str(m, "recipientAccountId")
	if !slices.Contains(c.opts.Accounts, rcpt) {
		return fail("recipientAccountId %q", rcpt)
	}
	c.inc("account", rcpt)

	if code, ok := m["errorCode"]; ok {
		if s, isStr := code.(string); !isStr || s == "" {
			return fail("errorCode %v", code)
		}
	}
	if msg, ok := m["errorMessage"]; ok {
		if _, isStr := msg.(string); !isStr {
			return fail("errorMessage %v", msg)
		}
	}
	_, hasCode := m["errorCode"]
	_, hasMsg := m["errorMessage"]
	if hasCode || hasMsg {
		c.errs++
		if code, _ := str(m, "errorCode"); code != "" {
			c.inc("errorCode", code)
		}
	}

	if err := c.checkIdentity(m, et, fail); err != nil {
		return err
	}

	ip, _ := str(m, "sourceIPAddress")
	if addr, err := netip.ParseAddr(ip); err == nil {
		inDoc := slices.ContainsFunc(docRanges, func(p netip.Prefix) bool { return p.Contains(addr) })
		_, vpce := m["vpcEndpointId"]
		switch {
		case inDoc:
		case attackerRange.Contains(addr):
			c.inc("attacker", ip)
		case privateRange.Contains(addr) && vpce:
		default:
			return fail("sourceIPAddress %s outside the documentation ranges", ip)
		}
	} else if !strings.HasSuffix(ip, ".amazonaws.com") {
		return fail("sourceIPAddress %q", ip)
	}
	ua, _ := str(m, "userAgent")
	if !slices.ContainsFunc(userAgents, func(p string) bool { return strings.HasPrefix(ua, p) }) && !strings.HasSuffix(ua, ".amazonaws.com") {
		return fail("userAgent %q", ua)
	}
	for _, p := range userAgents {
		if strings.HasPrefix(ua, p) {
			c.inc("ua", p)
		}
	}

	if res, ok := m["resources"]; ok {
		list, isList := res.([]any)
		if !isList || len(list) == 0 {
			return fail("resources %v", res)
		}
		for _, r := range list {
			o, _ := r.(map[string]any)
			arn, _ := str(o, "ARN")
			typ, _ := str(o, "type")
			if !strings.HasPrefix(arn, "arn:aws:") || !strings.HasPrefix(typ, "AWS::") {
				return fail("resource %v", r)
			}
			if acct, ok := o["accountId"]; ok {
				if s, _ := acct.(string); !accountRE.MatchString(s) {
					return fail("resource accountId %v", acct)
				}
			}
		}
	}
	if tls, ok := m["tlsDetails"]; ok {
		o, _ := tls.(map[string]any)
		host, _ := str(o, "clientProvidedHostHeader")
		tv, _ := str(o, "tlsVersion")
		cs, _ := str(o, "cipherSuite")
		if !strings.HasSuffix(host, ".amazonaws.com") || !strings.HasPrefix(tv, "TLSv1.") || cs == "" {
			return fail("tlsDetails %v", tls)
		}
		if src == "sts.amazonaws.com" && host == "sts.amazonaws.com" && region != "us-east-1" {
			return fail("STS global endpoint recorded in %s", region)
		}
	}
	if v, ok := m["sessionCredentialFromConsole"]; ok && v != "true" {
		return fail("sessionCredentialFromConsole %v", v)
	}
	if name == "ConsoleLogin" {
		resp, _ := m["responseElements"].(map[string]any)
		extra, _ := m["additionalEventData"].(map[string]any)
		result, _ := str(resp, "ConsoleLogin")
		mfa, _ := str(extra, "MFAUsed")
		msg, _ := str(m, "errorMessage")
		if (result == "Failure") != (msg == "Failed authentication") || (result != "Success" && result != "Failure") {
			return fail("ConsoleLogin result %q with errorMessage %q", result, msg)
		}
		if mfa != "Yes" && mfa != "No" {
			return fail("MFAUsed %q", mfa)
		}
		ui := m["userIdentity"].(map[string]any)
		typ, _ := str(ui, "type")
		c.inc("login", typ+" "+result+" MFA "+mfa)
	}
	return nil
}

func (c *checker) checkIdentity(m map[string]any, et time.Time, fail func(string, ...any) error) error {
	ui, ok := m["userIdentity"].(map[string]any)
	if !ok {
		return fail("userIdentity is %T", m["userIdentity"])
	}
	typ, _ := str(ui, "type")
	c.inc("identity", typ)
	if _, ok := ui["invokedBy"]; ok {
		c.inc("invokedBy", typ)
	}
	if key, ok := ui["accessKeyId"]; ok {
		s, isStr := key.(string)
		if !isStr || (s != "" && !accessKeyRE.MatchString(s)) {
			return fail("accessKeyId %v", key)
		}
	}
	switch typ {
	case "IAMUser":
		if _, ok := str(ui, "userName"); !ok {
			return fail("IAMUser without userName")
		}
		if acct, _ := str(ui, "accountId"); !accountRE.MatchString(acct) {
			return fail("IAMUser accountId %q", acct)
		}
	case "AssumedRole", "Root":
		arn, _ := str(ui, "arn")
		if !strings.HasPrefix(arn, "arn:aws:") {
			return fail("%s arn %q", typ, arn)
		}
		sc, ok := ui["sessionContext"].(map[string]any)
		if !ok {
			if typ == "Root" {
				return nil // root sign-in records carry no session
			}
			return fail("AssumedRole without sessionContext")
		}
		attrs, _ := sc["attributes"].(map[string]any)
		cd, ok1 := str(attrs, "creationDate")
		mfa, ok2 := str(attrs, "mfaAuthenticated")
		if !ok1 || !ok2 || (mfa != "true" && mfa != "false") {
			return fail("session attributes %v must be strings", attrs)
		}
		created, err := time.Parse("2006-01-02T15:04:05Z", cd)
		if err != nil || created.After(et) {
			return fail("creationDate %q after eventTime", cd)
		}
		if typ == "AssumedRole" {
			iss, _ := sc["sessionIssuer"].(map[string]any)
			if it, _ := str(iss, "type"); it != "Role" {
				return fail("sessionIssuer %v", iss)
			}
		}
	case "AWSService":
		if s, _ := str(ui, "invokedBy"); !strings.HasSuffix(s, ".amazonaws.com") {
			return fail("AWSService invokedBy %q", s)
		}
	case "WebIdentityUser":
		if _, ok := str(ui, "identityProvider"); !ok {
			return fail("WebIdentityUser without identityProvider")
		}
	default:
		return fail("userIdentity.type %q", typ)
	}
	return nil
}

func run(t *testing.T, opts demo.Options) *checker {
	t.Helper()
	if opts.Accounts == nil {
		opts.Accounts = []string{"000000000000", "111122223333", "444455556666"}
	}
	if opts.Regions == nil {
		opts.Regions = []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"}
	}
	if opts.Duration == 0 {
		opts.Duration = 24 * time.Hour
	}
	c := newChecker(t, opts)
	if err := demo.Generate(opts, c.check); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRecordsAndDistribution(t *testing.T) {
	c := run(t, demo.Options{Seed: 1, Start: day})
	if c.n != 20_000 {
		t.Fatalf("got %d records, want the default 20,000", c.n)
	}
	ratio := func(k int) float64 { return float64(k) / float64(c.n) }
	if r := ratio(c.data); r < 0.14 || r > 0.22 {
		t.Errorf("data events %.3f, want 0.14–0.22", r)
	}
	if r := ratio(c.errs); r < 0.015 || r > 0.045 {
		t.Errorf("errors %.3f, want 0.015–0.045", r)
	}
	if r := ratio(c.readOnly); r < 0.5 || r > 0.85 {
		t.Errorf("read-only %.3f, want 0.5–0.85", r)
	}
	for _, a := range []string{"000000000000", "111122223333", "444455556666"} {
		if c.count["account"][a] < 1000 {
			t.Errorf("account %s has %d records", a, c.count["account"][a])
		}
	}
	for _, r := range []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"} {
		if c.count["region"][r] < 300 {
			t.Errorf("region %s has %d records", r, c.count["region"][r])
		}
	}
	if n := len(c.count["source"]); n < 15 {
		t.Errorf("%d services, want ≥ 15: %v", n, c.count["source"])
	}
	if n := len(c.count["name"]); n < 55 {
		t.Errorf("%d distinct API calls, want ≥ 55", n)
	}
	if n := len(c.count["errorCode"]); n < 10 {
		t.Errorf("%d distinct error codes, want ≥ 10: %v", n, c.count["errorCode"])
	}
	for _, typ := range []string{"IAMUser", "AssumedRole", "Root", "AWSService", "WebIdentityUser"} {
		if c.count["identity"][typ] == 0 {
			t.Errorf("no %s identities", typ)
		}
	}
	if c.count["invokedBy"]["AssumedRole"] == 0 {
		t.Error("no calls made on a role's behalf by a service (invokedBy)")
	}
	for _, v := range []string{"1.08", "1.09"} {
		if c.count["version"][v] == 0 {
			t.Errorf("no eventVersion %s", v)
		}
	}
	for _, ua := range userAgents {
		if ua == "Mozilla/5.0 " || ua == "awslambda-worker/" || ua == "aws-sdk-go/1." || ua == "configure-aws-credentials-for-github-actions" {
			continue
		}
		if c.count["ua"][ua] == 0 {
			t.Errorf("no user agent %q", ua)
		}
	}
	// Zipf: the most popular call is far more common than the median one.
	var counts []int
	for _, n := range c.count["name"] {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	if top, med := counts[len(counts)-1], counts[len(counts)/2]; top < 10*med {
		t.Errorf("most popular call has %d records, median %d: not Zipf-like", top, med)
	}
	// Diurnal curve: working hours are busier than the night.
	hours := func(from, to int) (n int) {
		for h := from; h < to; h++ {
			n += c.count["hour"][fmt.Sprint(h)]
		}
		return n
	}
	if work, night := hours(11, 15), hours(0, 4); work < 2*night {
		t.Errorf("11–15h has %d records, 0–4h %d: want a diurnal curve", work, night)
	}
	// Sign-ins succeed and fail, mostly with MFA; the background never has
	// root sign-ins without MFA, and never stops or deletes trails.
	if c.count["login"]["IAMUser Failure MFA No"] == 0 || c.count["login"]["IAMUser Success MFA Yes"] == 0 {
		t.Errorf("console logins: %v", c.count["login"])
	}
	if n := c.count["login"]["Root Success MFA No"]; n != 0 {
		t.Errorf("%d root sign-ins without MFA in the background", n)
	}
	for _, name := range []string{"cloudtrail.amazonaws.com StopLogging", "cloudtrail.amazonaws.com DeleteTrail"} {
		if c.count["name"][name] != 0 {
			t.Errorf("background has %s", name)
		}
	}
	if len(c.count["attacker"]) != 0 {
		t.Errorf("background uses 192.0.2.0/24: %v", c.count["attacker"])
	}
}

func TestRecordSizes(t *testing.T) {
	c := run(t, demo.Options{Seed: 2, Start: day, Events: 10_000, Incidents: true})
	mean := float64(c.bytes) / float64(c.n)
	if mean < 1000 || mean > 1800 {
		t.Errorf("mean record %.0f bytes, want 1.0–1.8 KB", mean)
	}
	slices.Sort(c.sizes)
	p50, p99, maxSize := c.sizes[len(c.sizes)/2], c.sizes[len(c.sizes)*99/100], c.sizes[len(c.sizes)-1]
	if p50 < 900 || p99 > 6000 || maxSize > 256*1024 {
		t.Errorf("sizes p50 %d p99 %d max %d", p50, p99, maxSize)
	}
	t.Logf("record size mean %.0f p50 %d p99 %d max %d", mean, p50, p99, maxSize)
}

func TestIncidents(t *testing.T) {
	opts := demo.Options{Seed: 5, Start: day, Events: 8000, Incidents: true}
	c := run(t, opts)
	inc, err := demo.Incidents(opts)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]demo.Incident{}
	for _, in := range inc {
		kinds[in.Kind] = in
		if len(in.EventIDs) == 0 || in.End.Before(in.Start) || in.Start.Before(day) {
			t.Errorf("%s: %d events from %s to %s", in.Kind, len(in.EventIDs), in.Start, in.End)
		}
		for _, id := range in.EventIDs {
			m := c.byID[id]
			if m == nil {
				t.Fatalf("%s: eventID %s not in the output", in.Kind, id)
			}
			if ip, _ := str(m, "sourceIPAddress"); ip != in.SourceIP {
				t.Errorf("%s: record from %s, incident says %s", in.Kind, ip, in.SourceIP)
			}
			if acct, _ := str(m, "recipientAccountId"); acct != in.Account {
				t.Errorf("%s: record in account %s, incident says %s", in.Kind, acct, in.Account)
			}
		}
	}
	records := func(kind string) []map[string]any {
		var out []map[string]any
		for _, id := range kinds[kind].EventIDs {
			out = append(out, c.byID[id])
		}
		return out
	}
	keyOf := func(m map[string]any) string {
		k, _ := str(m["userIdentity"].(map[string]any), "accessKeyId")
		return k
	}

	t.Run(demo.KindConsoleBruteForce, func(t *testing.T) {
		recs := records(demo.KindConsoleBruteForce)
		fails := 0
		for i, m := range recs {
			if name, _ := str(m, "eventName"); name != "ConsoleLogin" {
				t.Fatalf("record %d is %s", i, name)
			}
			if msg, _ := str(m, "errorMessage"); msg == "Failed authentication" {
				fails++
			}
		}
		last := recs[len(recs)-1]
		if fails < 20 || last["responseElements"].(map[string]any)["ConsoleLogin"] != "Success" ||
			last["additionalEventData"].(map[string]any)["MFAUsed"] != "No" {
			t.Errorf("%d failures, last record %v", fails, last)
		}
	})
	t.Run(demo.KindRootLoginNoMFA, func(t *testing.T) {
		first := records(demo.KindRootLoginNoMFA)[0]
		ui := first["userIdentity"].(map[string]any)
		if ui["type"] != "Root" || first["eventName"] != "ConsoleLogin" || first["additionalEventData"].(map[string]any)["MFAUsed"] != "No" {
			t.Errorf("first record %v", first)
		}
	})
	t.Run(demo.KindTrailTampering, func(t *testing.T) {
		var names []string
		keys := map[string]bool{}
		for _, m := range records(demo.KindTrailTampering) {
			names = append(names, m["eventName"].(string))
			keys[keyOf(m)] = true
		}
		if !slices.Contains(names, "StopLogging") || !slices.Contains(names, "DeleteTrail") || len(keys) != 1 {
			t.Errorf("calls %v with access keys %v, want StopLogging and DeleteTrail from one session", names, keys)
		}
	})
	t.Run(demo.KindAccessDeniedBurst, func(t *testing.T) {
		denied, apis, keys := 0, map[string]bool{}, map[string]bool{}
		recs := records(demo.KindAccessDeniedBurst)
		for _, m := range recs {
			keys[keyOf(m)] = true
			if code, _ := str(m, "errorCode"); strings.Contains(code, "AccessDenied") || strings.Contains(code, "UnauthorizedOperation") {
				denied++
				apis[m["eventName"].(string)] = true
			}
		}
		span := kinds[demo.KindAccessDeniedBurst].End.Sub(kinds[demo.KindAccessDeniedBurst].Start)
		if denied < 50 || len(apis) < 15 || len(keys) != 1 || span > 10*time.Minute {
			t.Errorf("%d denials over %d APIs, %d keys, in %s", denied, len(apis), len(keys), span)
		}
		for k := range keys {
			if !strings.HasPrefix(k, "AKIA") {
				t.Errorf("leaked key %q is not a long-term key", k)
			}
		}
	})
	t.Run(demo.KindRunInstancesSpike, func(t *testing.T) {
		recs := records(demo.KindRunInstancesSpike)
		in := kinds[demo.KindRunInstancesSpike]
		for _, m := range recs {
			if m["eventName"] != "RunInstances" || m["awsRegion"] != in.Region {
				t.Fatalf("record %v", m)
			}
		}
		if len(recs) < 100 || in.End.Sub(in.Start) > 11*time.Minute {
			t.Errorf("%d RunInstances in %s", len(recs), in.End.Sub(in.Start))
		}
		// The whole day's background, over all accounts and regions, has
		// fewer than the spike's 10 minutes.
		if bg := c.count["name"]["ec2.amazonaws.com RunInstances"] - len(recs); bg >= len(recs) {
			t.Errorf("background has %d RunInstances a day, the spike %d in 10 minutes", bg, len(recs))
		}
	})
	for _, k := range []string{demo.KindConsoleBruteForce, demo.KindRootLoginNoMFA, demo.KindTrailTampering,
		demo.KindAccessDeniedBurst, demo.KindRunInstancesSpike} {
		if _, ok := kinds[k]; !ok {
			t.Errorf("no %s incident", k)
		}
	}
	if len(c.count["attacker"]) == 0 {
		t.Error("incidents use no 192.0.2.0/24 address")
	}
}

// Short spans and custom accounts and regions still give valid records in
// range, incidents included.
func TestCustomOptions(t *testing.T) {
	tests := []demo.Options{
		{Seed: 9, Start: day.Add(13*time.Hour + 500*time.Millisecond), Duration: time.Minute, Events: 500, Incidents: true},
		{Seed: 10, Start: day, Duration: 90 * time.Second, Events: 1, Incidents: true},
		{Seed: 11, Start: day, Duration: 72 * time.Hour, Events: 3000, Accounts: []string{"123456789012"}, Regions: []string{"ap-southeast-2"}},
		{Seed: 12, Start: day, Duration: time.Second, Events: 50},
	}
	for i, opts := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want := opts
			want.Start = want.Start.Truncate(time.Second)
			c := run(t, want)
			if c.n < opts.Events {
				t.Errorf("got %d records, want ≥ %d", c.n, opts.Events)
			}
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts demo.Options
		want string
	}{
		{"short account", demo.Options{Accounts: []string{"12345"}}, `invalid account id "12345"`},
		{"letters in account", demo.Options{Accounts: []string{"12345678901a"}}, "want 12 digits"},
		{"duplicate account", demo.Options{Accounts: []string{"123456789012", "123456789012"}}, "listed twice"},
		{"no accounts", demo.Options{Accounts: []string{}}, "invalid accounts"},
		{"bad region", demo.Options{Regions: []string{"US East"}}, `invalid region "US East"`},
		{"region with quote", demo.Options{Regions: []string{`eu-"west-1`}}, "invalid region"},
		{"duplicate region", demo.Options{Regions: []string{"eu-west-1", "eu-west-1"}}, "listed twice"},
		{"no regions", demo.Options{Regions: []string{}}, "invalid regions"},
		{"negative events", demo.Options{Events: -1}, "invalid event count -1"},
		{"sub-second duration", demo.Options{Duration: 500 * time.Millisecond}, "invalid duration"},
		{"negative duration", demo.Options{Duration: -time.Hour}, "invalid duration"},
		{"before 1970", demo.Options{Start: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}, "invalid start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			err := demo.Generate(tt.opts, func([]byte) error { called = true; return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Generate error %v, want one containing %q", err, tt.want)
			}
			if called {
				t.Error("Generate called fn despite invalid options")
			}
			if _, err := demo.Incidents(tt.opts); err == nil {
				t.Error("Incidents accepted invalid options")
			}
		})
	}
}

func TestGenerateStopsOnError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := demo.Generate(demo.Options{Start: day, Events: 1000, Incidents: true}, func([]byte) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("got %v after %d records, want stop after 10", err, n)
	}
}

func TestIncidentsOff(t *testing.T) {
	inc, err := demo.Incidents(demo.Options{Start: day})
	if err != nil || inc != nil {
		t.Fatalf("Incidents without Incidents: %v, %v", inc, err)
	}
}

func TestDefaultStart(t *testing.T) {
	var first time.Time
	err := demo.Generate(demo.Options{Events: 1}, func(rec []byte) error {
		var m struct{ EventTime time.Time }
		if err := json.Unmarshal(rec, &m); err != nil {
			return err
		}
		first = m.EventTime
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if first.Before(today.Add(-24*time.Hour)) || !first.Before(today.Add(time.Minute)) {
		t.Errorf("default span holds %s, want yesterday (UTC)", first)
	}
}

func ExampleGenerate() {
	opts := demo.Options{Seed: 1, Start: time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), Events: 1000, Incidents: true}
	n, logins := 0, 0
	err := demo.Generate(opts, func(rec []byte) error {
		n++
		if bytes.Contains(rec, []byte(`"eventName":"ConsoleLogin"`)) {
			logins++
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	incidents, _ := demo.Incidents(opts)
	planted := 0
	for _, in := range incidents {
		planted += len(in.EventIDs)
	}
	fmt.Println(n == opts.Events+planted, len(incidents), logins > 31)
	// Output: true 5 true
}

func BenchmarkGenerate(b *testing.B) {
	const perRun = 20_000
	opts := demo.Options{Seed: 1, Start: day, Events: perRun}
	size := 0
	if err := demo.Generate(opts, func(rec []byte) error { size += len(rec); return nil }); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := demo.Generate(opts, func([]byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(perRun)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(size)/perRun, "B/record")
}
