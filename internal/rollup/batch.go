package rollup

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/opentrail/opentrail/internal/cis"
	"github.com/opentrail/opentrail/internal/event"
)

// ChangeControls are the CIS change controls whose events ru_cis keeps
// (flag change), in the benchmark's order: the CIS dashboard's change
// panels.
var ChangeControls = []string{
	"iam-policy-changes", "cloudtrail-config-changes", "config-changes", "network-gateway-changes",
	"route-table-changes", "nacl-changes", "security-group-changes", "vpc-changes", "s3-bucket-policy-changes",
}

// KMSControl is the CIS control whose events ru_cis keeps with flag kms.
const KMSControl = "cmk-disable-or-deletion"

// cisMatcher tells the events the CIS panels count, as the console's SQL
// conditions over cloudtrail_events do.
type cisMatcher struct {
	change               map[string]bool // eventName
	kmsNames, kmsSources []string
}

func newCISMatcher() (cisMatcher, error) {
	b, err := cis.Lookup(cis.DefaultVersion)
	if err != nil {
		return cisMatcher{}, fmt.Errorf("rollup: %w", err)
	}
	m := cisMatcher{change: map[string]bool{}}
	for _, k := range ChangeControls {
		c, _ := b.Find(k)
		_, names := c.EventNames()
		for _, n := range names {
			m.change[n] = true
		}
	}
	c, _ := b.Find(KMSControl)
	m.kmsSources, m.kmsNames = c.EventNames()
	return m, nil
}

// cisRow is one row of ru_cis.
type cisRow struct {
	seq                                 int64
	account                             string
	t                                   time.Time
	id, name, source, etype, user       string
	ip, code, keyID                     *string // NULL when absent, as the event view has them
	failed, noMFA, root, unauth, change bool
	kms                                 bool
}

// match fills row's flags for rec and reports whether any is set. Fields
// the record does not index are read from Raw only for the records that
// can need them (console sign-ins, the root user, KMS key events).
func (m *cisMatcher) match(rec *event.Record, row *cisRow) bool {
	ip := nullable(rec.SourceIP)
	code := nullable(rec.ErrorCode)
	// (errorCode LIKE '%UnauthorizedOperation' OR errorCode LIKE
	// 'AccessDenied%') AND sourceIPAddress <> 'delivery.logs.amazonaws.com'
	// AND eventName <> 'HeadBucket' (NULLs compare false).
	row.unauth = code != nil && (strings.HasSuffix(*code, "UnauthorizedOperation") || strings.HasPrefix(*code, "AccessDenied")) &&
		ip != nil && *ip != "delivery.logs.amazonaws.com" && rec.EventName != "HeadBucket"
	row.change = m.change[rec.EventName]
	row.kms = slices.Contains(m.kmsNames, rec.EventName) && (len(m.kmsSources) == 0 || slices.Contains(m.kmsSources, rec.EventSource))
	login := rec.EventName == "ConsoleLogin"
	if login || rec.Username == "root" || row.kms {
		var f rawFields
		f.parse(rec.Raw)
		if login {
			// errorMessage = 'Failed authentication' OR
			// responseElements['ConsoleLogin'] = 'Failure'
			result := f.mapValue(f.responseElements, "ConsoleLogin")
			row.failed = eq(f.text("errorMessage"), "Failed authentication") || eq(result, "Failure")
			// coalesce(additionalEventData['MFAUsed'], '') <> 'Yes' AND
			// responseElements['ConsoleLogin'] = 'Success'
			mfa := f.mapValue(f.additional, "MFAUsed")
			row.noMFA = !eq(mfa, "Yes") && eq(result, "Success")
		}
		// userIdentity.type = 'Root' AND userIdentity.invokedBy IS NULL AND
		// coalesce(eventType, '') <> 'AwsServiceEvent'
		row.root = eq(f.identType, "Root") && f.invokedBy == nil && rec.EventType != "AwsServiceEvent"
		if row.kms {
			row.keyID = f.mapValue(f.requestParameters, "keyId")
		}
	}
	if !(row.failed || row.noMFA || row.root || row.unauth || row.change || row.kms) {
		return false
	}
	row.account, row.t = rec.AccountID, rec.EventTime.UTC()
	row.id, row.name, row.source, row.etype, row.user = rec.EventID, rec.EventName, rec.EventSource, rec.EventType, rec.Username
	row.ip, row.code = ip, code
	return true
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func eq(p *string, s string) bool { return p != nil && *p == s }

// rawFields are the record's fields the CIS conditions read beyond the
// indexed ones, as the event view exposes them: maps' values as text
// (strings unquoted, other JSON compacted), JSON null as NULL.
type rawFields struct {
	top                                             map[string]json.RawMessage
	responseElements, additional, requestParameters map[string]json.RawMessage
	identType, invokedBy                            *string
}

func (f *rawFields) parse(raw []byte) {
	if json.Unmarshal(raw, &f.top) != nil {
		return
	}
	f.responseElements = object(f.top["responseElements"])
	f.additional = object(f.top["additionalEventData"])
	f.requestParameters = object(f.top["requestParameters"])
	ident := object(f.top["userIdentity"])
	f.identType = textOf(ident["type"])
	f.invokedBy = textOf(ident["invokedBy"])
}

func object(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// text is a top-level field as ->> reads it.
func (f *rawFields) text(key string) *string { return textOf(f.top[key]) }

func (f *rawFields) mapValue(m map[string]json.RawMessage, key string) *string {
	v, ok := m[key]
	if !ok {
		return nil
	}
	return textOf(v)
}

// textOf is a JSON value as text: a string's contents, null (or nothing)
// as nil, anything else compacted.
func textOf(raw json.RawMessage) *string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		return &s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return nil
	}
	s := b.String()
	return &s
}

type hourKey struct {
	account string
	hour    int64 // Unix seconds of the hour's start
	dim     string
	value   string
}

// batch is one step's counts and CIS rows.
type batch struct {
	counts map[hourKey]int64
	cis    []cisRow
}

func newBatch() *batch { return &batch{counts: map[hourKey]int64{}} }

// category is the overview's category of rec: eventCategory, or
// Aggregated / Management by eventType when it is empty.
func category(rec *event.Record) string {
	if rec.EventCategory != "" {
		return rec.EventCategory
	}
	if rec.EventType == "AwsAggregatedEvent" {
		return "Aggregated"
	}
	return "Management"
}

func (b *batch) add(seq int64, rec *event.Record, m *cisMatcher) {
	h := rec.EventTime.UTC().Truncate(time.Hour).Unix()
	inc := func(dim, v string) { b.counts[hourKey{rec.AccountID, h, dim, v}]++ }
	inc(DimCategory, category(rec))
	errored := rec.ErrorCode != ""
	inc(DimErrored, fmt.Sprint(errored))
	switch {
	case !rec.ReadOnlySet:
		inc(DimReadOnly, "unknown")
	case rec.ReadOnly:
		inc(DimReadOnly, "true")
	default:
		inc(DimReadOnly, "false")
	}
	inc(DimSource, rec.EventSource)
	inc(DimName, rec.EventName)
	inc(DimUser, rec.Username)
	inc(DimIP, rec.SourceIP)
	if errored {
		inc(DimError, rec.ErrorCode)
	}
	row := cisRow{seq: seq}
	if m.match(rec, &row) {
		b.cis = append(b.cis, row)
	}
}

// write adds the batch to the tables on conn (in the caller's
// transaction). Rows go in through DuckDB's appender: the counts into a
// temporary table merged into ru_hourly by one INSERT … ON CONFLICT, the
// CIS rows straight into ru_cis. (Multi-row INSERTs with bound parameters
// cost twice what the store's own append of the same events did.)
func (b *batch) write(ctx context.Context, conn *sql.Conn) error {
	if len(b.counts) > 0 {
		if _, err := conn.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS ru_hourly_in (account VARCHAR, hour TIMESTAMP, dim VARCHAR, value VARCHAR, n BIGINT)`); err != nil {
			return fmt.Errorf("store hourly counts: %w", err)
		}
		err := appendRows(conn, "ru_hourly_in", func(app *duckdb.Appender) error {
			for k, n := range b.counts {
				if err := app.AppendRow(k.account, time.Unix(k.hour, 0).UTC(), k.dim, k.value, n); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store hourly counts: %w", err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO ru_hourly SELECT * FROM ru_hourly_in ON CONFLICT (account, hour, dim, value) DO UPDATE SET n = n + excluded.n`); err != nil {
			return fmt.Errorf("store hourly counts: %w", err)
		}
		if _, err := conn.ExecContext(ctx, `DELETE FROM ru_hourly_in`); err != nil {
			return fmt.Errorf("store hourly counts: %w", err)
		}
	}
	if len(b.cis) == 0 {
		return nil
	}
	err := appendRows(conn, "ru_cis", func(app *duckdb.Appender) error {
		for _, r := range b.cis {
			if err := app.AppendRow(r.seq, r.account, r.t, r.id, r.name, r.source, r.etype, r.user, str(r.ip), str(r.code), str(r.keyID),
				r.failed, r.noMFA, r.root, r.unauth, r.change, r.kms); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store CIS rows: %w", err)
	}
	return nil
}

// str is a nullable string as the appender takes it.
func str(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// appendRows runs fill with an appender on table, on conn's connection
// (so in its transaction), and flushes it.
func appendRows(conn *sql.Conn, table string, fill func(*duckdb.Appender) error) error {
	return conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		app, err := duckdb.NewAppenderFromConn(dconn, "", table)
		if err != nil {
			return err
		}
		if err := fill(app); err != nil {
			app.Close()
			return err
		}
		return app.Close() // flushes
	})
}
