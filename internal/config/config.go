// Package config holds opentrail's server configuration: Default(), then a
// YAML (or JSON) file, then environment variables, then flags, then
// Validate(). Validation errors name the field and the bad value.
//
// The package is pure apart from reading the file and the environment.
package config

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Config is the whole server configuration.
type Config struct {
	// Addr is the host:port the server listens on.
	Addr string `yaml:"addr"`
	// Data is the data directory (the DuckDB store and delivered objects).
	Data string `yaml:"data"`

	History     History     `yaml:"history"`
	Storage     Storage     `yaml:"storage"`
	Limits      Limits      `yaml:"limits"`
	Delivery    Delivery    `yaml:"delivery"`
	ObjectStore ObjectStore `yaml:"object_store"`

	// Sources are S3 bucket prefixes holding CloudTrail logs, polled for
	// new log files to import.
	Sources []Source `yaml:"sources"`

	// Organization, when set, names the management account (which may
	// write events for member accounts) and the members.
	Organization *Organization `yaml:"organization"`
	// Principals are the credentials the server accepts. With none, the
	// server runs in local mode (loopback only, secret "test" for any key).
	Principals []Principal `yaml:"principals"`

	// CIS, when enabled, sets up the CIS monitoring pack at start-up, as
	// `opentrail cis enable` does (docs/cis.md).
	CIS CIS `yaml:"cis"`
	// Notifications configures SNS topic delivery.
	Notifications Notifications `yaml:"notifications"`
	// Insights tunes the CloudTrail Insights detector (docs/detections.md).
	Insights Insights `yaml:"insights"`

	// Detection configures the detectors over the stream; Findings the
	// store they report to (docs/detections.md#findings).
	Detection Detection `yaml:"detection"`
	Findings  Findings  `yaml:"findings"`

	// Console configures the web console (docs/console.md).
	Console Console `yaml:"console"`

	// Authorization configures who may do what (docs/authorization.md).
	Authorization Authorization `yaml:"authorization"`

	// BaseDir is the directory of the file Load read ("." without one):
	// relative policy file references start there (authz.New).
	BaseDir string `yaml:"-"`

	// Keys says where the digest signing keys live (docs/security.md).
	Keys Keys `yaml:"keys"`

	// TLS makes the port serve HTTPS (docs/tls.md).
	TLS TLS `yaml:"tls"`

	// Gateway, when set, runs the capture gateway beside the server
	// (gateway.go, docs/capture.md).
	Gateway *Gateway `yaml:"gateway"`
}

// Console configures the web console.
type Console struct {
	// GeoIPDatabase is a MaxMind DB file (GeoLite2-City.mmdb or
	// GeoIP2-City/-Country) the dashboards place source IP addresses
	// with; "" shows no locations (the panel says how to set one).
	GeoIPDatabase string `yaml:"geoip_database"`
}

// Detection configures the detectors.
type Detection struct {
	// SigmaDir is a directory of Sigma rule files (*.yml, *.yaml,
	// recursively) loaded at start, replacing the rule set loaded before
	// (by `opentrail sigma load` or an earlier start); "" keeps that set.
	SigmaDir string `yaml:"sigma_dir"`
	// BuiltinRules runs opentrail's own rule pack (internal/rulepack)
	// beside the loaded rules (default true).
	BuiltinRules bool `yaml:"builtin_rules"`
}

// Findings configures the findings store.
type Findings struct {
	// DedupWindow is how long after a finding was last seen a signal of
	// the same rule, account, region and group still joins it (1h).
	DedupWindow time.Duration `yaml:"dedup_window"`
	// Notify is an SNS topic ARN told of every new finding; "" for none.
	Notify string `yaml:"notify"`
}

var snsTopicRE = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)

func (c *Config) validateDetection() error {
	if d := c.Detection.SigmaDir; d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return &ValidationError{"detection.sigma_dir", d, "must be a directory of Sigma rule files"}
		}
	}
	if w := c.Findings.DedupWindow; w < time.Minute || w > 30*24*time.Hour {
		return &ValidationError{"findings.dedup_window", w.String(), "want a duration from 1m to 720h, such as 1h"}
	}
	if n := c.Findings.Notify; n != "" && !snsTopicRE.MatchString(n) {
		return &ValidationError{"findings.notify", n, "want an SNS topic ARN such as arn:aws:sns:us-east-1:000000000000:findings"}
	}
	return nil
}

// Insights tunes the Insights detector; zero values take the defaults
// given here.
type Insights struct {
	BaselineDays   int           `yaml:"baseline_days"`     // trailing baseline window (7)
	MinHistoryDays float64       `yaml:"min_history_days"`  // observed history before any insight (1)
	Factor         float64       `yaml:"factor"`            // unusual ≥ factor × expected rate (3)
	Spread         float64       `yaml:"spread"`            // … and ≥ expected + spread × standard deviation (8)
	MinCount       float64       `yaml:"min_count"`         // … and ≥ min_count calls in the minute (7)
	EndQuiet       int           `yaml:"end_quiet_minutes"` // minutes below the threshold that end an insight (5)
	Lateness       time.Duration `yaml:"lateness"`          // how long a minute waits for late events (1m)
}

// CIS configures the CIS AWS Foundations Benchmark monitoring pack.
type CIS struct {
	// Enabled runs `cis enable` at start-up (idempotent).
	Enabled bool `yaml:"enabled"`
	// Benchmark is the benchmark version: v1.2.0 … v6.0.0 (v1.2 and 1.2
	// work too); empty = the newest.
	Benchmark string `yaml:"benchmark"`
	// Notify are the alert subscribers: http(s) URLs (Slack incoming
	// webhooks too) and e-mail addresses.
	Notify []string `yaml:"notify"`
	// Trail names the multi-region trail to watch; empty = the account's
	// multi-region trail that is logging.
	Trail string `yaml:"trail"`
	// Account and Region are where that trail lives (default: the
	// local-mode account, us-east-1).
	Account string `yaml:"account"`
	Region  string `yaml:"region"`
	// Suppress maps a control (its key, e.g. unauthorized-api-calls, its
	// Security Hub id CloudWatch.2, its id in the benchmark, or "*") to
	// the events it ignores.
	Suppress map[string]CISSuppression `yaml:"suppress"`
}

// CISSuppression is what one control ignores; `*` is a wildcard.
type CISSuppression struct {
	// Principals are ARN patterns matched against userIdentity.arn,
	// userIdentity.invokedBy and the session issuer's ARN.
	Principals []string `yaml:"principals"`
	// EventSources are event sources, e.g. s3.amazonaws.com.
	EventSources []string `yaml:"event_sources"`
	// IdentityTypes are userIdentity.type values, e.g. AWSService.
	IdentityTypes []string `yaml:"identity_types"`
}

// Notifications configures how SNS topics deliver.
type Notifications struct {
	// PublicURL is the URL subscribers reach this server at; the
	// SubscribeURL, UnsubscribeURL and SigningCertURL of every message
	// start with it. Empty means http://<addr>.
	PublicURL string `yaml:"public_url"`
	// SMTP is the mail server for email and email-json subscriptions;
	// without a host they are refused.
	SMTP SMTP `yaml:"smtp"`
	// SlackHosts are the hosts whose endpoints are Slack-compatible
	// incoming webhooks (default hooks.slack.com).
	SlackHosts []string `yaml:"slack_hosts"`
	// Timeout bounds one delivery attempt (default 15s).
	Timeout time.Duration `yaml:"timeout"`
}

// SMTP is a mail server.
type SMTP struct {
	Host        string `yaml:"host"`
	Port        int    `yaml:"port"` // default 587
	From        string `yaml:"from"`
	Username    string `yaml:"username"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
	StartTLS    bool   `yaml:"starttls"`
}

// History configures the event history.
type History struct {
	// RetentionDays is how long events are kept (default 90; 0 = forever).
	RetentionDays int `yaml:"retention_days"`
	// RetentionCoversImported makes retention delete events imported
	// from existing CloudTrail logs (opentrail import, sources) too; by
	// default they are kept.
	RetentionCoversImported bool `yaml:"retention_covers_imported"`
	// LookupWindowDays is how far back LookupEvents reaches (default 90,
	// as AWS; 0 = no limit).
	LookupWindowDays int `yaml:"lookup_window_days"`
	// IncludeDataEvents makes LookupEvents return data events as well
	// (AWS never does).
	IncludeDataEvents bool `yaml:"include_data_events"`
	// LookupRateLimit is LookupEvents calls per second per account and
	// region (0 = unlimited; 2 emulates AWS's throttling).
	LookupRateLimit float64 `yaml:"lookup_rate_limit"`
}

// Storage tunes the event store's columnar tier (docs/storage.md).
type Storage struct {
	// CompactAfter is how long after ingestion an event is sealed and may
	// move from the hot tail to the columnar files (default 10m).
	CompactAfter time.Duration `yaml:"compact_after"`
	// CompactMinEvents is how many sealed events make a compaction
	// worthwhile (default 100,000): fewer wait, for larger files.
	CompactMinEvents int64 `yaml:"compact_min_events"`
	// CompactMaxWait is how long a sealed event waits for CompactMinEvents
	// at most (default 1h).
	CompactMaxWait time.Duration `yaml:"compact_max_wait"`
}

// Limits bound what one request may carry.
type Limits struct {
	// MaxBodyBytes caps a request body after decompression (default 8 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxEventsPerRequest caps the records in one POST /v1/events
	// (default 10,000).
	MaxEventsPerRequest int `yaml:"max_events_per_request"`
	// MemoryBytes bounds the server's resident memory (default 1 GiB):
	// DuckDB gets a quarter of it, Go's heap is kept within most of the
	// rest, and request bodies (with what parsing them takes) are admitted
	// only while they fit. See docs/configuration.md.
	MemoryBytes int64 `yaml:"memory_bytes"`
}

// Delivery configures how trails deliver log files.
type Delivery struct {
	// Interval is the delivery window: one log file per trail, account
	// and region per window (default 5m, at least 1s).
	Interval time.Duration `yaml:"interval"`
	// MaxFileBytes caps one log file's uncompressed JSON; a busier
	// account and region gets several files per window (default 16 MiB).
	MaxFileBytes int `yaml:"max_file_bytes"`
	// DigestInterval is the digest period of trails with log file
	// validation (default 1h, as CloudTrail's; at least 1s and a multiple
	// of Interval).
	DigestInterval time.Duration `yaml:"digest_interval"`
	// KeyRotation is how long a digest signing key stays active before
	// the next one takes over (default 720h, 30 days).
	KeyRotation time.Duration `yaml:"key_rotation"`
	// VerifyDigests re-validates each digest after writing it (with its
	// log files and its link to the one before) and reports changed or
	// missing files in the log, /metrics and GET /v1/trails.
	VerifyDigests bool `yaml:"verify_digests"`
}

// ObjectStore says where trail buckets live.
type ObjectStore struct {
	// Type is "fs" (default: buckets are directories under <data>/buckets,
	// served by opentrail's S3-compatible API) or "s3" (an S3-compatible
	// service; trails' S3BucketName name buckets there).
	Type string `yaml:"type"`
	// The rest configures type s3.
	Endpoint  string `yaml:"endpoint"`   // e.g. https://minio.internal:9000; empty = AWS
	Region    string `yaml:"region"`     // default us-east-1
	PathStyle bool   `yaml:"path_style"` // path-style requests (most self-hosted servers need them)
	// AccessKeyID and SecretAccessKey (or SecretEnv, an environment
	// variable holding it); empty = the AWS SDK's default chain.
	AccessKeyID          string `yaml:"access_key_id"`
	SecretAccessKey      string `yaml:"secret_access_key"`
	SecretEnv            string `yaml:"secret_env"`
	ServerSideEncryption string `yaml:"server_side_encryption"` // AES256 or aws:kms
	SSEKMSKeyID          string `yaml:"sse_kms_key_id"`
}

// Source is a CloudTrail bucket prefix the server polls, importing each
// new log file once.
type Source struct {
	// S3 is s3://bucket/prefix.
	S3        string `yaml:"s3"`
	Endpoint  string `yaml:"endpoint"`   // e.g. https://minio.internal:9000; empty = AWS
	Region    string `yaml:"region"`     // default us-east-1
	PathStyle bool   `yaml:"path_style"` // path-style requests
	// AccessKeyID and SecretAccessKey (or SecretEnv, an environment
	// variable holding it); empty = the AWS SDK's default chain.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	SecretEnv       string `yaml:"secret_env"`
	// PollInterval is the pause between two listings (default 1m, at
	// least 1s).
	PollInterval time.Duration `yaml:"poll_interval"`
	// Accounts and Regions, when set, import only those accounts' and
	// regions' events.
	Accounts []string `yaml:"accounts"`
	Regions  []string `yaml:"regions"`
	// NotificationToken (or NotificationTokenEnv, an environment
	// variable holding it), when set, lets S3 event notifications for
	// this source's bucket be posted to /v1/s3-notifications with it, so
	// new log files are imported as they arrive rather than at the next
	// poll.
	NotificationToken    string `yaml:"notification_token"`
	NotificationTokenEnv string `yaml:"notification_token_env"`
}

// MinNotificationToken is the fewest characters a notification token has.
const MinNotificationToken = 16

// DefaultPollInterval is a source's poll interval unless set.
const DefaultPollInterval = time.Minute

// Organization is an AWS-Organizations-like grouping of accounts.
type Organization struct {
	ID                string   `yaml:"id"`
	ManagementAccount string   `yaml:"management_account"`
	Members           []string `yaml:"members"`
	// GuardRails are policy references (see Principal.Policies) applied
	// as service control policies to every principal of every account
	// but the management account: their explicit denies win over any
	// identity policy, and what they do not allow is refused
	// (docs/authorization.md#guard-rails).
	GuardRails []string `yaml:"guard_rails"`
}

// Principal is one set of credentials.
type Principal struct {
	AccessKeyID string `yaml:"access_key_id"`
	// SecretAccessKey is the secret itself; SecretEnv names an environment
	// variable that holds it instead.
	SecretAccessKey string `yaml:"secret_access_key"`
	SecretEnv       string `yaml:"secret_env"`
	Account         string `yaml:"account"`
	// Type is the userIdentity type recorded for this principal (default
	// IAMUser; Root and AssumedRole are accepted too).
	Type     string `yaml:"type"`
	UserName string `yaml:"user_name"`
	// ARN defaults to arn:aws:iam::<account>:user/<user_name>.
	ARN string `yaml:"arn"`
	// Policies are the principal's identity policies: built-in names
	// (administrator, read-only, ingest-only, trail-protector), files
	// (a reference with a / or ending in .json, relative to the
	// configuration file's directory) or inline JSON documents. None
	// means authorization.default_policy (docs/authorization.md).
	Policies []string `yaml:"policies"`
}

// DefaultAddr is where the server listens unless told otherwise.
const DefaultAddr = "127.0.0.1:4747"

// Default returns the built-in configuration: local mode on loopback.
func Default() Config {
	return Config{
		Addr: DefaultAddr,
		Data: "./opentrail-data",
		History: History{
			RetentionDays:    90,
			LookupWindowDays: 90,
		},
		Limits: Limits{
			MaxBodyBytes:        8 << 20,
			MaxEventsPerRequest: 10000,
			MemoryBytes:         1 << 30,
		},
		Storage:     Storage{CompactAfter: 10 * time.Minute, CompactMinEvents: 100_000, CompactMaxWait: time.Hour},
		Delivery:    Delivery{Interval: 5 * time.Minute, MaxFileBytes: 16 << 20, DigestInterval: time.Hour, KeyRotation: 30 * 24 * time.Hour},
		ObjectStore: ObjectStore{Type: "fs"},
		Findings:    Findings{DedupWindow: time.Hour},
		Detection:   Detection{BuiltinRules: true},

		Authorization: Authorization{DefaultPolicy: "administrator"},
	}
}

// Load returns Default() overlaid with the file at path (if path is not
// empty) and the environment, not yet validated.
func Load(path string) (Config, error) {
	c := Default()
	c.BaseDir = "."
	if path != "" {
		c.BaseDir = filepath.Dir(path)
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("read config: %w", err)
		}
		if len(bytes.TrimSpace(b)) > 0 {
			if err := yaml.NewDecoder(bytes.NewReader(b), yaml.DisallowUnknownField()).Decode(&c); err != nil {
				return c, fmt.Errorf("config %s: %s", path, yaml.FormatError(err, false, true))
			}
		}
	}
	if v := os.Getenv("OPENTRAIL_ADDR"); v != "" {
		c.Addr = v
	}
	if v := os.Getenv("OPENTRAIL_DATA"); v != "" {
		c.Data = v
	}
	if v := os.Getenv("OPENTRAIL_DELIVERY_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, &ValidationError{"OPENTRAIL_DELIVERY_INTERVAL", v, "want a duration such as 5m or 10s"}
		}
		c.Delivery.Interval = d
	}
	if v := os.Getenv("OPENTRAIL_DIGEST_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, &ValidationError{"OPENTRAIL_DIGEST_INTERVAL", v, "want a duration such as 1h or 10s"}
		}
		c.Delivery.DigestInterval = d
	}
	if o := &c.ObjectStore; o.SecretAccessKey == "" && o.SecretEnv != "" {
		o.SecretAccessKey = os.Getenv(o.SecretEnv)
	}
	for i := range c.Principals {
		p := &c.Principals[i]
		if p.SecretAccessKey == "" && p.SecretEnv != "" {
			p.SecretAccessKey = os.Getenv(p.SecretEnv)
		}
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.SecretAccessKey == "" && s.SecretEnv != "" {
			s.SecretAccessKey = os.Getenv(s.SecretEnv)
		}
		if s.NotificationToken == "" && s.NotificationTokenEnv != "" {
			s.NotificationToken = os.Getenv(s.NotificationTokenEnv)
		}
	}
	return c, nil
}

// LocalMode reports whether no principals are configured.
func (c *Config) LocalMode() bool { return len(c.Principals) == 0 }

// ValidationError names the field and value that broke a rule.
type ValidationError struct {
	Field  string
	Value  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("config: %s %q: %s", e.Field, e.Value, e.Reason)
}

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	orgIDRE   = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	akidRE    = regexp.MustCompile(`^[A-Za-z0-9]{3,128}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	bucketRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	tokenRE   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// Validate checks every rule and fills derived defaults (principal ARNs).
func (c *Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || port == "" {
		return &ValidationError{"addr", c.Addr, "want host:port, e.g. 127.0.0.1:4747"}
	}
	if c.LocalMode() && !isLoopback(host) {
		return &ValidationError{"addr", c.Addr, "without configured principals opentrail runs in local mode, which accepts the well-known secret \"test\" and so binds loopback only; configure principals (see docs/configuration.md) or listen on 127.0.0.1"}
	}
	if c.Data == "" {
		return &ValidationError{"data", c.Data, "must name a directory"}
	}
	if err := c.validateTLS(host); err != nil {
		return err
	}
	if n := c.Notifications; n.PublicURL != "" && !strings.HasPrefix(n.PublicURL, "http://") && !strings.HasPrefix(n.PublicURL, "https://") {
		return &ValidationError{"notifications.public_url", n.PublicURL, "want an http:// or https:// URL subscribers reach this server at"}
	}
	if i := c.Insights; i.BaselineDays < 0 || i.BaselineDays > 28 {
		return &ValidationError{"insights.baseline_days", fmt.Sprint(i.BaselineDays), "want 1 to 28 days (0 for the default, 7)"}
	}
	if i := c.Insights; i.MinHistoryDays < 0 || i.Factor < 0 || i.Spread < 0 || i.MinCount < 0 || i.EndQuiet < 0 {
		return &ValidationError{"insights", "", "min_history_days, factor, spread, min_count and end_quiet_minutes must not be negative"}
	}
	if m := c.Notifications.SMTP; m.Host != "" && m.From == "" {
		return &ValidationError{"notifications.smtp.from", m.From, "must name the sender address when notifications.smtp.host is set"}
	}
	if m := c.Notifications.SMTP; m.Port < 0 || m.Port > 65535 {
		return &ValidationError{"notifications.smtp.port", fmt.Sprint(m.Port), "must be a TCP port (default 587)"}
	}
	if g := c.Console.GeoIPDatabase; g != "" && !strings.HasSuffix(strings.ToLower(g), ".mmdb") {
		return &ValidationError{"console.geoip_database", g, "want a MaxMind DB file (.mmdb), e.g. /var/lib/GeoIP/GeoLite2-City.mmdb"}
	}
	if g := c.Console.GeoIPDatabase; g != "" {
		if fi, err := os.Stat(g); err == nil && fi.IsDir() {
			return &ValidationError{"console.geoip_database", g, "is a directory; want the .mmdb file inside it"}
		}
	}
	if c.Storage.CompactAfter < 0 {
		return &ValidationError{"storage.compact_after", c.Storage.CompactAfter.String(), "must be a positive duration such as 10m"}
	}
	if c.Storage.CompactMinEvents < 0 {
		return &ValidationError{"storage.compact_min_events", fmt.Sprint(c.Storage.CompactMinEvents), "must be positive"}
	}
	if c.Storage.CompactMaxWait < 0 {
		return &ValidationError{"storage.compact_max_wait", c.Storage.CompactMaxWait.String(), "must be a positive duration such as 1h"}
	}
	if c.History.RetentionDays < 0 {
		return &ValidationError{"history.retention_days", fmt.Sprint(c.History.RetentionDays), "must be 0 (keep forever) or positive"}
	}
	if c.History.LookupWindowDays < 0 {
		return &ValidationError{"history.lookup_window_days", fmt.Sprint(c.History.LookupWindowDays), "must be 0 (no limit) or positive"}
	}
	if c.History.LookupRateLimit < 0 {
		return &ValidationError{"history.lookup_rate_limit", fmt.Sprint(c.History.LookupRateLimit), "must be 0 (unlimited) or positive"}
	}
	if c.Limits.MaxBodyBytes < 1024 || c.Limits.MaxBodyBytes > 1<<30 {
		return &ValidationError{"limits.max_body_bytes", fmt.Sprint(c.Limits.MaxBodyBytes), "must be between 1 KiB and 1 GiB"}
	}
	if c.Limits.MemoryBytes < 256<<20 || c.Limits.MemoryBytes > 1<<40 {
		return &ValidationError{"limits.memory_bytes", fmt.Sprint(c.Limits.MemoryBytes), "must be between 256 MiB and 1 TiB"}
	}
	if need := MinMemoryBytes(c.Limits.MaxBodyBytes); c.Limits.MemoryBytes < need {
		return &ValidationError{"limits.memory_bytes", fmt.Sprint(c.Limits.MemoryBytes), fmt.Sprintf(
			"must be at least %d (%d MiB) with limits.max_body_bytes %d: one largest request, parsed, must fit; raise it or lower max_body_bytes", need, need>>20, c.Limits.MaxBodyBytes)}
	}
	if c.Limits.MaxEventsPerRequest < 1 || c.Limits.MaxEventsPerRequest > 1000000 {
		return &ValidationError{"limits.max_events_per_request", fmt.Sprint(c.Limits.MaxEventsPerRequest), "must be between 1 and 1000000"}
	}
	if d := c.Delivery.Interval; d < time.Second || d > 24*time.Hour {
		return &ValidationError{"delivery.interval", d.String(), "must be between 1s and 24h"}
	}
	if d := c.Delivery.DigestInterval; d < time.Second || d > 24*time.Hour || d%c.Delivery.Interval != 0 {
		return &ValidationError{"delivery.digest_interval", d.String(), fmt.Sprintf("must be between 1s and 24h and a multiple of delivery.interval (%s), so that no delivery window straddles two digests", c.Delivery.Interval)}
	}
	if d := c.Delivery.KeyRotation; d < time.Minute {
		return &ValidationError{"delivery.key_rotation", d.String(), "must be at least 1m"}
	}
	if n := c.Delivery.MaxFileBytes; n < 1<<10 || n > 1<<30 {
		return &ValidationError{"delivery.max_file_bytes", fmt.Sprint(n), "must be between 1 KiB and 1 GiB"}
	}
	switch o := &c.ObjectStore; o.Type {
	case "fs":
	case "s3":
		if o.Region == "" {
			o.Region = "us-east-1"
		}
		if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
			if o.SecretEnv != "" && o.SecretAccessKey == "" {
				return &ValidationError{"object_store.secret_env", o.SecretEnv, "names an environment variable that is unset or empty"}
			}
			return &ValidationError{"object_store.access_key_id", o.AccessKeyID, "give both access_key_id and secret_access_key (or secret_env), or neither to use the AWS SDK's default credentials"}
		}
		switch o.ServerSideEncryption {
		case "", "AES256", "aws:kms":
		default:
			return &ValidationError{"object_store.server_side_encryption", o.ServerSideEncryption, "must be AES256 or aws:kms"}
		}
	default:
		return &ValidationError{"object_store.type", o.Type, "must be fs (buckets under the data directory) or s3 (an S3-compatible service)"}
	}
	if o := c.Organization; o != nil {
		if !orgIDRE.MatchString(o.ID) {
			return &ValidationError{"organization.id", o.ID, "must look like o-abcdefghij (o- and 10–32 lowercase letters or digits)"}
		}
		if !accountRE.MatchString(o.ManagementAccount) {
			return &ValidationError{"organization.management_account", o.ManagementAccount, "must be a 12-digit account id"}
		}
		for i, m := range o.Members {
			if !accountRE.MatchString(m) {
				return &ValidationError{fmt.Sprintf("organization.members[%d]", i), m, "must be a 12-digit account id"}
			}
		}
	}
	if err := c.validateSources(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range c.Principals {
		p := &c.Principals[i]
		f := func(name string) string { return fmt.Sprintf("principals[%d].%s", i, name) }
		if !akidRE.MatchString(p.AccessKeyID) {
			return &ValidationError{f("access_key_id"), p.AccessKeyID, "must be 3–128 letters or digits"}
		}
		if seen[p.AccessKeyID] {
			return &ValidationError{f("access_key_id"), p.AccessKeyID, "is configured twice"}
		}
		seen[p.AccessKeyID] = true
		if p.SecretAccessKey == "" {
			if p.SecretEnv != "" {
				return &ValidationError{f("secret_env"), p.SecretEnv, "names an environment variable that is unset or empty"}
			}
			return &ValidationError{f("secret_access_key"), "", "is required (or secret_env)"}
		}
		if !accountRE.MatchString(p.Account) {
			return &ValidationError{f("account"), p.Account, "must be a 12-digit account id"}
		}
		switch p.Type {
		case "":
			p.Type = "IAMUser"
		case "IAMUser", "Root", "AssumedRole":
		default:
			return &ValidationError{f("type"), p.Type, "must be IAMUser, Root or AssumedRole"}
		}
		if p.UserName == "" && p.Type != "Root" {
			return &ValidationError{f("user_name"), "", "is required"}
		}
		if p.ARN == "" {
			switch p.Type {
			case "Root":
				p.ARN = "arn:aws:iam::" + p.Account + ":root"
			case "AssumedRole":
				return &ValidationError{f("arn"), "", "is required for AssumedRole principals (arn:aws:sts::<account>:assumed-role/<role>/<session>)"}
			default:
				p.ARN = "arn:aws:iam::" + p.Account + ":user/" + p.UserName
			}
		}
		if !strings.HasPrefix(p.ARN, "arn:") {
			return &ValidationError{f("arn"), p.ARN, "must be an ARN"}
		}
	}
	if err := c.validateDetection(); err != nil {
		return err
	}
	if err := c.validateAuthorization(); err != nil {
		return err
	}
	if err := c.Keys.validate(); err != nil {
		return err
	}
	if c.Gateway != nil {
		if err := c.Gateway.Validate(c.LocalMode()); err != nil {
			return err
		}
		if err := c.validateGatewayTLS(); err != nil {
			return err
		}
	}
	return c.CIS.validate()
}

var (
	cisBenchmarkRE = regexp.MustCompile(`^[vV]?[0-9]+(\.[0-9]+){0,2}$`)
	cisEmailRE     = regexp.MustCompile(`^(mailto:)?[^@\s/:]+@[^@\s/:]+\.[^@\s/:]+$`)
	cisAccountRE   = regexp.MustCompile(`^[0-9]{12}$`)
)

func (c *CIS) validate() error {
	if c.Benchmark != "" && !cisBenchmarkRE.MatchString(c.Benchmark) {
		return &ValidationError{"cis.benchmark", c.Benchmark, "want a benchmark version such as v3.0.0 (v1.2.0, v1.4.0, v1.5.0, v2.0.0, v3.0.0, v4.0.0, v5.0.0, v6.0.0)"}
	}
	for i, n := range c.Notify {
		if !(strings.HasPrefix(n, "http://") || strings.HasPrefix(n, "https://")) && !cisEmailRE.MatchString(n) {
			return &ValidationError{fmt.Sprintf("cis.notify[%d]", i), n, "want an http(s) URL or an e-mail address"}
		}
	}
	if c.Account != "" && !cisAccountRE.MatchString(c.Account) {
		return &ValidationError{"cis.account", c.Account, "must be a 12-digit account id"}
	}
	for ref, s := range c.Suppress {
		for _, v := range append(append(append([]string{}, s.Principals...), s.EventSources...), s.IdentityTypes...) {
			if strings.TrimSpace(v) == "" {
				return &ValidationError{"cis.suppress." + ref, v, "an empty entry matches nothing; remove it"}
			}
		}
	}
	return nil
}

// validateSources checks the sources and fills their defaults.
func (c *Config) validateSources() error {
	seen := map[string]bool{}
	for i := range c.Sources {
		s := &c.Sources[i]
		f := func(name string) string { return fmt.Sprintf("sources[%d].%s", i, name) }
		rest, ok := strings.CutPrefix(s.S3, "s3://")
		bucket, _, _ := strings.Cut(rest, "/")
		if !ok || !bucketRE.MatchString(bucket) {
			return &ValidationError{f("s3"), s.S3, "must be s3://bucket or s3://bucket/prefix"}
		}
		key := s.Endpoint + " " + s.S3
		if seen[key] {
			return &ValidationError{f("s3"), s.S3, "is configured twice"}
		}
		seen[key] = true
		if s.Region == "" {
			s.Region = "us-east-1"
		}
		if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
			if s.SecretEnv != "" && s.SecretAccessKey == "" {
				return &ValidationError{f("secret_env"), s.SecretEnv, "names an environment variable that is unset or empty"}
			}
			return &ValidationError{f("access_key_id"), s.AccessKeyID, "give both access_key_id and secret_access_key (or secret_env), or neither to use the AWS SDK's default credentials"}
		}
		if s.PollInterval == 0 {
			s.PollInterval = DefaultPollInterval
		}
		if d := s.PollInterval; d < time.Second || d > 24*time.Hour {
			return &ValidationError{f("poll_interval"), d.String(), "must be between 1s and 24h"}
		}
		for j, a := range s.Accounts {
			if !accountRE.MatchString(a) {
				return &ValidationError{fmt.Sprintf("sources[%d].accounts[%d]", i, j), a, "must be a 12-digit account id"}
			}
		}
		for j, r := range s.Regions {
			if !regionRE.MatchString(r) {
				return &ValidationError{fmt.Sprintf("sources[%d].regions[%d]", i, j), r, "must be a region name such as us-east-1"}
			}
		}
		if s.NotificationToken == "" && s.NotificationTokenEnv != "" {
			return &ValidationError{f("notification_token_env"), s.NotificationTokenEnv, "names an environment variable that is unset or empty"}
		}
		if t := s.NotificationToken; t != "" && (len(t) < MinNotificationToken || !tokenRE.MatchString(t)) {
			return &ValidationError{f("notification_token"), "(hidden)", fmt.Sprintf("must be at least %d characters of A-Z, a-z, 0-9, '-', '_' or '.' (it goes in a URL); make one with: openssl rand -hex 24", MinNotificationToken)}
		}
	}
	return nil
}

// RetentionDuration is the history retention as a duration (0 = forever).
func (c *Config) RetentionDuration() time.Duration {
	return time.Duration(c.History.RetentionDays) * 24 * time.Hour
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Shares of limits.memory_bytes (see docs/configuration.md).
const (
	// BaseMemoryBytes is set aside before the shares: the program's code
	// and the runtime's own structures (a started server is ~60 MiB
	// resident before its first request).
	BaseMemoryBytes = 64 << 20
	// DuckDBMemoryShare is the part of the rest DuckDB's memory_limit
	// gets.
	DuckDBMemoryShare = 0.25
	// GoMemoryShare is the part of the rest Go's heap is kept within (its
	// soft memory limit); what remains is headroom for the runtime, thread stacks
	// and DuckDB's allocations outside its buffer pool.
	GoMemoryShare = 0.60
	// BodyMemoryShare is the part of Go's share that request bodies being
	// read, parsed and committed may take at once.
	BodyMemoryShare = 0.5
	// BodyMemoryFactor is how many bytes of memory a request takes per
	// byte of body while it is parsed and committed: measured on a 6.3 MB
	// body of realistic records, the parsed records and their compressed
	// blocks hold 4.3 times the body, which is held too (5.3 in all).
	BodyMemoryFactor = 6
)

// MinMemoryBytes is the smallest limits.memory_bytes that admits one
// request of maxBody bytes.
func MinMemoryBytes(maxBody int64) int64 {
	return BaseMemoryBytes + int64(float64(maxBody*BodyMemoryFactor)/(GoMemoryShare*BodyMemoryShare))
}

// InlineSecrets names the fields whose secrets are written in the
// configuration file itself rather than taken from an environment
// variable (secret_env, password_env, notification_token_env): a file
// holding any must be owner-only.
func (c *Config) InlineSecrets() []string {
	var out []string
	add := func(field, secret, env string) {
		if secret != "" && env == "" {
			out = append(out, field)
		}
	}
	for i, p := range c.Principals {
		add(fmt.Sprintf("principals[%d].secret_access_key", i), p.SecretAccessKey, p.SecretEnv)
	}
	add("object_store.secret_access_key", c.ObjectStore.SecretAccessKey, c.ObjectStore.SecretEnv)
	for i, s := range c.Sources {
		add(fmt.Sprintf("sources[%d].secret_access_key", i), s.SecretAccessKey, s.SecretEnv)
		add(fmt.Sprintf("sources[%d].notification_token", i), s.NotificationToken, s.NotificationTokenEnv)
	}
	add("notifications.smtp.password", c.Notifications.SMTP.Password, c.Notifications.SMTP.PasswordEnv)
	return out
}
