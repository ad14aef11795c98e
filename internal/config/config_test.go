package config_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/config"
)

func TestGoodFiles(t *testing.T) {
	t.Setenv("OT_TEST_ROOT_SECRET", "from-env")
	files, _ := filepath.Glob("testdata/*.good.yml")
	if len(files) == 0 {
		t.Fatal("no good fixtures")
	}
	for _, f := range files {
		c, err := config.Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	det, _ := config.Load("testdata/detection.good.yml")
	if det.Detection.SigmaDir != "testdata" || det.Detection.BuiltinRules || det.Findings.DedupWindow != 30*time.Minute || det.Findings.Notify == "" {
		t.Errorf("detection.good.yml: %+v %+v", det.Detection, det.Findings)
	}
	if d := config.Default(); d.Findings.DedupWindow != time.Hour || !d.Detection.BuiltinRules {
		t.Errorf("defaults %+v %+v", d.Findings, d.Detection)
	}
	cisc, _ := config.Load("testdata/cis.good.yml")
	if k := cisc.CIS; !k.Enabled || k.Benchmark != "v3.0" || len(k.Notify) != 2 || k.Trail != "management-events" ||
		k.Suppress["unauthorized-api-calls"].IdentityTypes[0] != "AWSService" || k.Suppress["CloudWatch.8"].EventSources[0] != "s3.amazonaws.com" {
		t.Errorf("cis: %+v", k)
	}
	c, _ := config.Load("testdata/full.good.yml")
	c.Validate()
	if c.Principals[1].SecretAccessKey != "from-env" || c.Principals[1].ARN != "arn:aws:iam::222222222222:root" {
		t.Errorf("root principal: %+v", c.Principals[1])
	}
	if c.Principals[0].ARN != "arn:aws:iam::111111111111:user/admin" || c.Principals[0].Type != "IAMUser" {
		t.Errorf("user principal: %+v", c.Principals[0])
	}
	if c.RetentionDuration() != 0 || c.History.LookupWindowDays != 30 || !c.History.IncludeDataEvents {
		t.Errorf("history: %+v", c.History)
	}
	if c.Delivery.Interval != 30*time.Second || c.Delivery.MaxFileBytes != 4<<20 {
		t.Errorf("delivery: %+v", c.Delivery)
	}
	if o := c.ObjectStore; o.Type != "s3" || o.Region != "us-east-1" || !o.PathStyle || o.SecretAccessKey != "from-env" || o.ServerSideEncryption != "AES256" {
		t.Errorf("object store: %+v", o)
	}
	src, _ := config.Load("testdata/sources.good.yml")
	if err := src.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(src.Sources) != 2 {
		t.Fatalf("sources: %+v", src.Sources)
	}
	if s := src.Sources[0]; s.S3 != "s3://org-trail/AWSLogs/" || s.SecretAccessKey != "from-env" || !s.PathStyle ||
		s.PollInterval != 10*time.Second || s.Region != "us-east-1" || len(s.Accounts) != 1 || len(s.Regions) != 2 {
		t.Errorf("source 0: %+v", s)
	}
	if s := src.Sources[1]; s.PollInterval != config.DefaultPollInterval || s.AccessKeyID != "" || s.NotificationToken != "3f9a1c0e5b7d2468ace0-trail" {
		t.Errorf("source 1 defaults: %+v", s)
	}
	if !c.TLS.Enabled() || c.TLS.KeyFile != "/etc/opentrail/tls/privkey.pem" {
		t.Errorf("tls: %+v", c.TLS)
	}
	e, _ := config.Load("testdata/empty.good.yml")
	if e.Addr != config.DefaultAddr || e.History.RetentionDays != 90 || !e.LocalMode() {
		t.Errorf("empty file should give defaults: %+v", e)
	}
}

func TestBadFiles(t *testing.T) {
	want := map[string]string{
		"local-nonloopback":      `addr "0.0.0.0:4747": without configured principals`,
		"unknown-key":            `unknown field "adress"`,
		"bad-account":            `principals[0].account "12345": must be a 12-digit account id`,
		"missing-secret-env":     `principals[0].secret_env "OT_TEST_UNSET_VARIABLE": names an environment variable that is unset or empty`,
		"bad-org":                `organization.id "org-1"`,
		"duplicate-key":          `principals[1].access_key_id "AKIAX00000000000001": is configured twice`,
		"short-interval":         `delivery.interval "500ms": must be between 1s and 24h`,
		"bad-store":              `object_store.type "gcs": must be fs`,
		"bad-source":             `sources[1].poll_interval "500ms": must be between 1s and 24h`,
		"cis-notify":             `cis.notify[0] "ftp://example.com/alerts": want an http(s) URL or an e-mail address`,
		"smtp-no-from":           `notifications.smtp.from "": must name the sender address`,
		"findings-notify":        `findings.notify "findings-topic": want an SNS topic ARN`,
		"findings-window":        `findings.dedup_window "10s": want a duration from 1m to 720h`,
		"geoip-not-mmdb":         `console.geoip_database "/var/lib/GeoIP/GeoLite2-City.csv": want a MaxMind DB file (.mmdb)`,
		"policy-unknown-builtin": `principals[0].policies[1] "read-onyl": principal AKIAAPP0000000000001: not a built-in policy (administrator, ingest-only, protect-trails, read-only, trail-protector)`,
		"policy-bad-json":        `principals[0].policies[0] "{\"Version\": \"2012-10-17\", \"Statement\": [}": principal AKIAAPP0000000000001: the inline policy document is not valid JSON`,
		"guard-rail-unknown":     `organization.guard_rails[0] "protect-trail": not a built-in policy`,
		"default-policy-empty":   `authorization.default_policy "": an empty policy reference`,
		"keys-both":              `keys.file "/etc/opentrail/digest-keys.json": give keys.file (opentrail holds the keys) or keys.sign_command`,
		"keys-signer-no-public":  `keys.public_keys_file "": is required with keys.sign_command`,
		"plain-http":             `addr "0.0.0.0:4747": principals are configured and the address is not loopback`,
		"tls-half":               `tls.cert_file "/etc/opentrail/tls/fullchain.pem": tls.cert_file and tls.key_file go together`,
		"tls-both":               `tls.self_signed "true": give either a certificate`,
	}
	files, _ := filepath.Glob("testdata/*.bad.yml")
	if len(files) != len(want) {
		t.Fatalf("%d bad fixtures, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".bad.yml")
		c, err := config.Load(f)
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: error %q does not contain %q", name, err, want[name])
		}
	}
}

func TestValidationErrorNamesField(t *testing.T) {
	c := config.Default()
	c.Limits.MaxBodyBytes = 10
	var ve *config.ValidationError
	if err := c.Validate(); !errors.As(err, &ve) || ve.Field != "limits.max_body_bytes" || ve.Value != "10" {
		t.Fatalf("err = %v", err)
	}
	c = config.Default()
	c.Addr = "nonsense"
	if err := c.Validate(); !errors.As(err, &ve) || ve.Field != "addr" {
		t.Fatalf("err = %v", err)
	}
}

func TestSourceValidation(t *testing.T) {
	for _, tc := range []struct {
		src   config.Source
		field string
	}{
		{config.Source{S3: "bucket/prefix"}, "sources[0].s3"},
		{config.Source{S3: "s3://"}, "sources[0].s3"},
		{config.Source{S3: "s3://b"}, "sources[0].s3"},
		{config.Source{S3: "s3://trail", AccessKeyID: "AK"}, "sources[0].access_key_id"},
		{config.Source{S3: "s3://trail", AccessKeyID: "AK", SecretEnv: "OT_TEST_UNSET_VARIABLE"}, "sources[0].secret_env"},
		{config.Source{S3: "s3://trail", Accounts: []string{"1"}}, "sources[0].accounts[0]"},
		{config.Source{S3: "s3://trail", Regions: []string{"mars"}}, "sources[0].regions[0]"},
		{config.Source{S3: "s3://trail", PollInterval: 48 * time.Hour}, "sources[0].poll_interval"},
		{config.Source{S3: "s3://trail", NotificationToken: "short"}, "sources[0].notification_token"},
		{config.Source{S3: "s3://trail", NotificationToken: "0123456789abcdef0123&x=1"}, "sources[0].notification_token"},
		{config.Source{S3: "s3://trail", NotificationTokenEnv: "OT_TEST_UNSET_VARIABLE"}, "sources[0].notification_token_env"},
	} {
		c := config.Default()
		c.Sources = []config.Source{tc.src}
		var ve *config.ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%+v: err = %v, want one naming %s", tc.src, err, tc.field)
		}
	}
	c := config.Default()
	c.Sources = []config.Source{{S3: "s3://trail/a/"}, {S3: "s3://trail/a/"}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `sources[1].s3 "s3://trail/a/": is configured twice`) {
		t.Errorf("duplicate source: %v", err)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	t.Setenv("OPENTRAIL_ADDR", "127.0.0.1:9999")
	t.Setenv("OPENTRAIL_DATA", "/tmp/x")
	c, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.Data != "/tmp/x" {
		t.Fatalf("env not applied: %+v", c)
	}
}

func TestMemoryBytes(t *testing.T) {
	if got := config.Default().Limits.MemoryBytes; got != 1<<30 {
		t.Errorf("default limits.memory_bytes = %d, want 1 GiB", got)
	}
	var ve *config.ValidationError
	c := config.Default()
	c.Limits.MemoryBytes = 100 << 20
	if err := c.Validate(); !errors.As(err, &ve) || ve.Field != "limits.memory_bytes" {
		t.Errorf("100 MiB: err = %v", err)
	}
	// One largest request, parsed, must fit in the body budget.
	c = config.Default()
	c.Limits.MaxBodyBytes = 256 << 20
	if err := c.Validate(); !errors.As(err, &ve) || ve.Field != "limits.memory_bytes" || !strings.Contains(err.Error(), "max_body_bytes") {
		t.Errorf("256 MiB bodies in 1 GiB: err = %v", err)
	}
	c.Limits.MemoryBytes = config.MinMemoryBytes(c.Limits.MaxBodyBytes)
	if err := c.Validate(); err != nil {
		t.Errorf("at the minimum: %v", err)
	}
}

func TestAuthorization(t *testing.T) {
	if d := config.Default(); d.Authorization.DefaultPolicy != "administrator" {
		t.Errorf("default policy %q, want administrator", d.Authorization.DefaultPolicy)
	}
	c, err := config.Load("testdata/authorization.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.BaseDir != "testdata" {
		t.Errorf("BaseDir %q, want testdata (the file's directory)", c.BaseDir)
	}
	if c.Authorization.DefaultPolicy != "read-only" || len(c.Organization.GuardRails) != 2 || len(c.Principals[1].Policies) != 2 ||
		c.Principals[2].Policies[1] != "./policies/extra.json" {
		t.Errorf("authorization: %+v %+v %+v", c.Authorization, c.Organization, c.Principals)
	}
	for ref, want := range map[string][2]bool{ // inline, file
		"read-only":           {false, false},
		"./extra-policy.json": {false, true},
		"extra.json":          {false, true},
		"/etc/opentrail/p":    {false, true},
		` {"Version": "x"}`:   {true, false},
	} {
		if got := [2]bool{config.IsInlinePolicy(ref), config.IsPolicyFile(ref)}; got != want {
			t.Errorf("%q: inline, file = %v, want %v", ref, got, want)
		}
	}
}

// InlineSecrets names the secrets written in the file, not those taken
// from the environment.
func TestInlineSecrets(t *testing.T) {
	t.Setenv("OT_TEST_ROOT_SECRET", "from-env")
	c, err := config.Load("testdata/full.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.InlineSecrets(), " ")
	if !strings.Contains(got, "principals[0].secret_access_key") || strings.Contains(got, "principals[1]") || strings.Contains(got, "object_store") {
		t.Errorf("InlineSecrets = %q; want principals[0] (inline) and not principals[1] or object_store (secret_env)", got)
	}
	k, _ := config.Load("testdata/keys-signer.good.yml")
	if k.Keys.SignTimeout != 5*time.Second || len(k.Keys.SignCommand) != 3 || len(k.InlineSecrets()) != 0 {
		t.Errorf("keys-signer.good.yml: %+v", k.Keys)
	}
}
