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
	e, _ := config.Load("testdata/empty.good.yml")
	if e.Addr != config.DefaultAddr || e.History.RetentionDays != 90 || !e.LocalMode() {
		t.Errorf("empty file should give defaults: %+v", e)
	}
}

func TestBadFiles(t *testing.T) {
	want := map[string]string{
		"local-nonloopback":  `addr "0.0.0.0:4747": without configured principals`,
		"unknown-key":        `unknown field "adress"`,
		"bad-account":        `principals[0].account "12345": must be a 12-digit account id`,
		"missing-secret-env": `principals[0].secret_env "OT_TEST_UNSET_VARIABLE": names an environment variable that is unset or empty`,
		"bad-org":            `organization.id "org-1"`,
		"duplicate-key":      `principals[1].access_key_id "AKIAX00000000000001": is configured twice`,
		"short-interval":     `delivery.interval "500ms": must be between 1s and 24h`,
		"bad-store":          `object_store.type "gcs": must be fs`,
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
