// Package query runs read-only SQL over the event store in CloudTrail
// Lake's shape: queries read the table cloudtrail_events (or an event data
// store ID in its place) whose columns are the CloudTrail record's
// top-level fields under Lake's names, limited to the caller's accounts.
//
// Safety is enforced by DuckDB, not by matching text: the statement is
// parsed by DuckDB (json_serialize_sql serialises only SELECT statements),
// the parse tree is checked for the tables and functions it names, and the
// statement runs in a READ ONLY transaction on its own connection, with a
// timeout and a row cap. See Run.
//
// Columns the store indexes (eventTime, eventSource, eventName, awsRegion,
// sourceIPAddress, errorCode, readOnly, recipientAccountId, eventCategory)
// come from DuckDB's events table and cost nothing to read; the others are
// read from the stored record only for the rows that reach them.
//
// The package is imported by internal/lake and internal/cli.
package query

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/columnar"
	"github.com/opentrail/opentrail/internal/store"
)

// Defaults for Options.
const (
	DefaultTimeout = 5 * time.Minute
	DefaultMaxRows = 100_000
)

// ErrTimeout means a query ran longer than its Options.Timeout.
var ErrTimeout = errors.New("query timed out")

// Options limit a query. Either Accounts or AllAccounts must be set; the
// other fields have defaults.
type Options struct {
	// Accounts are the accounts whose events the query sees; at least one
	// is required. AllAccounts lifts the restriction instead.
	Accounts []string
	// AllAccounts lets the query see every account: the organisation's
	// management account's queries, and the operator's local use with
	// direct access to the data directory.
	AllAccounts bool
	// Timeout bounds the query's run time (default DefaultTimeout).
	Timeout time.Duration
	// MaxRows caps the rows returned (default DefaultMaxRows); a result
	// with more is cut and marked Truncated.
	MaxRows int
	// SeqIn, when set, further limits the events to those whose store
	// sequence number the SQL subquery SeqIn returns (one BIGINT
	// column, over the database's own tables), as a log group's
	// references to events do. It is trusted SQL written by the caller,
	// never user input; the account restriction applies as well.
	SeqIn string
	// Start and End, when set, limit the events to those whose eventTime
	// is in [Start, End], both ends included (a zero Start or End leaves
	// that side open). A query over a known range should set them: the
	// columnar files whose manifest times (store.ColdFile's MinTime and
	// MaxTime) lie outside the range are not read at all, and the hot
	// tail is filtered by its indexed event_time. The query sees exactly
	// the rows a WHERE on eventTime over the same range would keep.
	Start, End time.Time
}

// Result is a finished query's output. Every value is a string, as
// CloudTrail Lake returns them; NULL is "". Timestamps are written
// "2006-01-02 15:04:05.000" in UTC, lists, maps and structs as JSON.
type Result struct {
	Columns   []string
	Rows      [][]string
	Truncated bool // more than MaxRows rows; Rows holds the first MaxRows
	Stats     Stats
}

// Stats describe a query's cost.
type Stats struct {
	// EventsScanned is the number of events in the query's scope (the
	// rows of cloudtrail_events). With Options.Start or End it counts
	// the hot events in the range and every event of the columnar files
	// read, which may hold some outside it.
	EventsScanned int64
	// EventsMatched is the number of stored records the query read
	// beyond the indexed columns (0 for a query of indexed columns only).
	EventsMatched int64
	// BytesScanned is the size of the records read, uncompressed.
	BytesScanned  int64
	ExecutionTime time.Duration
}

var accountRE = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// Run validates q and runs it against st with the limits in opts. An
// *InvalidQueryError means q was refused before running; ErrTimeout that
// it ran out of time; a cancelled ctx returns ctx's error. Other errors
// come from DuckDB (an unknown column, a type error) or the store.
//
// Run is safe for concurrent use; each call takes its own connection.
func Run(ctx context.Context, st *store.Store, q string, opts Options) (*Result, error) {
	start := time.Now()
	if !opts.AllAccounts && len(opts.Accounts) == 0 {
		return nil, errors.New("run query: no accounts in scope")
	}
	for _, a := range opts.Accounts {
		if !accountRE.MatchString(a) {
			return nil, fmt.Errorf("run query: invalid account %q", a)
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxRows <= 0 {
		opts.MaxRows = DefaultMaxRows
	}
	if !opts.Start.IsZero() && !opts.End.IsZero() && opts.End.Before(opts.Start) {
		return nil, errors.New("run query: the range's end is before its start")
	}
	tctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	db := st.DB()
	conn, err := db.Conn(tctx)
	if err != nil {
		return nil, timeoutOr(ctx, tctx, fmt.Errorf("query connection: %w", err))
	}
	defer conn.Close()
	if err := ensureUDF(db, conn); err != nil {
		return nil, err
	}
	c, err := validate(tctx, conn, q)
	if err != nil {
		return nil, timeoutOr(ctx, tctx, err)
	}

	// The views live in this connection's temporary schema; they are
	// dropped before the connection goes back to the pool.
	views := append([]string{TableName}, c.idTables...)
	defer func() {
		for i := len(views) - 1; i >= 0; i-- {
			conn.ExecContext(context.Background(), `DROP VIEW IF EXISTS temp.`+quoteIdent(views[i]))
		}
	}()
	if err := ensureRebuildUDF(db, conn); err != nil {
		return nil, err
	}
	dropTrino, err := installTrino(tctx, db, conn, c.trino)
	if err != nil {
		return nil, timeoutOr(ctx, tctx, err)
	}
	defer dropTrino()

	reader := newRecordReader(st)
	defer reader.close()
	qctx := context.WithValue(tctx, readerKey{}, reader)

	// The view over both tiers is made, and the read-only transaction
	// begun, while no compaction can move events between them: the
	// events table the transaction sees and the columnar files the view
	// names are the same moment's.
	var scope []string
	if !opts.AllAccounts {
		scope = opts.Accounts
	}
	snap, err := st.SnapshotColdRange(scope, opts.Start, opts.End, func(cs *store.ColdSnapshot) error {
		if _, err := conn.ExecContext(tctx, `CREATE OR REPLACE TEMP VIEW `+quoteIdent(TableName)+` AS `+viewSQL(opts, cs.Files)); err != nil {
			return fmt.Errorf("create event view: %w", err)
		}
		for _, id := range c.idTables {
			if _, err := conn.ExecContext(tctx, `CREATE OR REPLACE TEMP VIEW `+quoteIdent(id)+` AS SELECT * FROM temp.`+quoteIdent(TableName)); err != nil {
				return fmt.Errorf("create event view: %w", err)
			}
		}
		if _, err := conn.ExecContext(qctx, `BEGIN TRANSACTION READ ONLY`); err != nil {
			return fmt.Errorf("begin read-only transaction: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, timeoutOr(ctx, tctx, err)
	}
	defer snap.Release()
	defer conn.ExecContext(context.Background(), `ROLLBACK`)

	res := &Result{}
	// The columnar files' events are counted from the manifest, and only
	// the hot tail by a query (a log group's are counted in the view).
	count, coldRows := `SELECT count(*) FROM main.events WHERE `+scopeWhere(opts), snap.Rows
	if opts.SeqIn != "" {
		count, coldRows = `SELECT count(*) FROM temp.`+quoteIdent(TableName), 0
	}
	if err := conn.QueryRowContext(qctx, count).Scan(&res.Stats.EventsScanned); err != nil {
		return nil, timeoutOr(ctx, tctx, fmt.Errorf("count events: %w", err))
	}
	res.Stats.EventsScanned += coldRows
	stmt := c.sql
	wrapped, shapes, ok, err := resultShapes(qctx, conn, c.sql)
	if err != nil {
		return nil, timeoutOr(ctx, tctx, queryError(err))
	}
	if ok {
		stmt = wrapped
	}
	rows, err := conn.QueryContext(qctx, stmt)
	if err != nil {
		return nil, timeoutOr(ctx, tctx, queryError(err))
	}
	defer rows.Close()
	if res.Columns, err = rows.Columns(); err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	vals := make([]any, len(res.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if len(res.Rows) == opts.MaxRows {
			res.Truncated = true
			break
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read row: %w", err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			var sh *shape
			if shapes != nil {
				sh = shapes[i]
			}
			row[i] = format(v, sh)
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, timeoutOr(ctx, tctx, queryError(err))
	}
	res.Stats.EventsMatched, res.Stats.BytesScanned = reader.stats()
	res.Stats.ExecutionTime = time.Since(start)
	return res, nil
}

// timeoutOr turns an error caused by the query's own deadline into
// ErrTimeout and one caused by the caller's cancellation into ctx's error.
func timeoutOr(parent, tctx context.Context, err error) error {
	if parent.Err() != nil {
		return fmt.Errorf("run query: %w", parent.Err())
	}
	if errors.Is(tctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return err
}

// queryError wraps an execution error. DuckDB's binder and conversion
// errors are the user's (an unknown column, a bad cast); they keep
// DuckDB's text.
func queryError(err error) error {
	return fmt.Errorf("query failed: %w", err)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// Lake's types for the record's nested fields. Struct field access is
// case-insensitive (userIdentity.arn, userIdentity.sessionContext
// .attributes.mfaAuthenticated); map-like fields are MAP(VARCHAR, VARCHAR)
// with nested values as JSON text, as Lake keeps them.
const (
	mapType          = `'"MAP(VARCHAR, VARCHAR)"'`
	userIdentityType = `'{"type":"VARCHAR","principalId":"VARCHAR","arn":"VARCHAR","accountId":"VARCHAR","accessKeyId":"VARCHAR","userName":"VARCHAR","invokedBy":"VARCHAR","identityProvider":"VARCHAR","credentialId":"VARCHAR","sessionContext":{"attributes":{"creationDate":"VARCHAR","mfaAuthenticated":"VARCHAR"},"sessionIssuer":{"type":"VARCHAR","principalId":"VARCHAR","arn":"VARCHAR","accountId":"VARCHAR","userName":"VARCHAR"},"webIdFederationData":"VARCHAR","sourceIdentity":"VARCHAR","ec2RoleDelivery":"VARCHAR","ec2IssuedInVPC":"VARCHAR"},"onBehalfOf":{"userId":"VARCHAR","identityStoreArn":"VARCHAR"}}'`
	resourcesType    = `'[{"accountId":"VARCHAR","type":"VARCHAR","ARN":"VARCHAR","ARNPrefix":"VARCHAR"}]'`
	tlsType          = `'{"tlsVersion":"VARCHAR","cipherSuite":"VARCHAR","clientProvidedHostHeader":"VARCHAR"}'`
)

// Columns lists cloudtrail_events' columns in order.
var Columns = []string{
	"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
	"sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
	"responseElements", "additionalEventData", "requestID", "eventID", "readOnly", "resources",
	"eventType", "apiVersion", "managementEvent", "recipientAccountId", "sharedEventID",
	"vpcEndpointId", "eventCategory", "tlsDetails", "sessionCredentialFromConsole",
	"serviceEventDetails", "eventJson",
}

// viewSQL is the body of the cloudtrail_events view for opts' scope: the
// hot events (the events table, records read through __ot_record) and the
// columnar files, whose typed columns are read directly.
func viewSQL(opts Options, files []string) string {
	where := scopeWhere(opts)
	hot := `SELECT
	j->>'eventVersion' AS eventVersion,
	json_transform(j->'userIdentity', ` + userIdentityType + `) AS userIdentity,
	event_time AS eventTime,
	event_source AS eventSource,
	event_name AS eventName,
	region AS awsRegion,
	nullif(source_ip, '') AS sourceIPAddress,
	j->>'userAgent' AS userAgent,
	nullif(error_code, '') AS errorCode,
	j->>'errorMessage' AS errorMessage,
	json_transform(j->'requestParameters', ` + mapType + `) AS requestParameters,
	json_transform(j->'responseElements', ` + mapType + `) AS responseElements,
	json_transform(j->'additionalEventData', ` + mapType + `) AS additionalEventData,
	j->>'requestID' AS requestID,
	j->>'eventID' AS eventID,
	read_only AS readOnly,
	json_transform(j->'resources', ` + resourcesType + `) AS resources,
	j->>'eventType' AS eventType,
	j->>'apiVersion' AS apiVersion,
	TRY_CAST(j->>'managementEvent' AS BOOLEAN) AS managementEvent,
	account AS recipientAccountId,
	j->>'sharedEventID' AS sharedEventID,
	j->>'vpcEndpointId' AS vpcEndpointId,
	category AS eventCategory,
	json_transform(j->'tlsDetails', ` + tlsType + `) AS tlsDetails,
	j->>'sessionCredentialFromConsole' AS sessionCredentialFromConsole,
	json_transform(j->'serviceEventDetails', ` + mapType + `) AS serviceEventDetails,
	j AS eventJson
FROM (SELECT *, ` + recordFunc + `(block, idx)::JSON AS j FROM main.events WHERE ` + where + `)`
	if len(files) == 0 {
		return hot
	}
	return hot + " UNION ALL " + coldViewSQL(files, opts)
}

// scopeWhere is the events table's predicate for opts' scope: the
// accounts, and the log group's sequence numbers.
func scopeWhere(opts Options) string {
	where := "TRUE"
	if !opts.AllAccounts {
		q := make([]string, len(opts.Accounts))
		for i, a := range opts.Accounts {
			q[i] = quoteString(a)
		}
		where = "account IN (" + strings.Join(q, ", ") + ")"
	}
	if opts.SeqIn != "" {
		where += " AND seq IN (" + opts.SeqIn + ")"
	}
	return where + timeWhere("event_time", opts)
}

// timeWhere is the predicate (" AND …", or "") limiting col to opts'
// range, both ends included.
func timeWhere(col string, opts Options) string {
	w := ""
	if !opts.Start.IsZero() {
		w += " AND " + col + " >= " + sqlTimestamp(opts.Start)
	}
	if !opts.End.IsZero() {
		w += " AND " + col + " <= " + sqlTimestamp(opts.End)
	}
	return w
}

// sqlTimestamp is a TIMESTAMP literal for t in UTC, to the microsecond
// (DuckDB's precision).
func sqlTimestamp(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.000000") + "'"
}

// coldViewSQL is the columnar files' branch of the view: the same columns
// and types as the hot branch, from the files' typed columns. Only
// eventJson is rebuilt row by row, and only for the rows that reach it.
// The files are already limited to the caller's accounts (and to those
// that may hold events of opts' range; the rows are filtered here).
func coldViewSQL(files []string, opts Options) string {
	where := "TRUE"
	if opts.SeqIn != "" {
		where = "_seq IN (" + opts.SeqIn + ")"
	}
	where = " WHERE " + where + timeWhere(`"eventTime"`, opts)
	rebuild := make([]string, len(columnar.Columns))
	for i, c := range columnar.Columns {
		rebuild[i] = quoteIdent(c.Name)
	}
	return `SELECT
	"eventVersion" AS eventVersion,
	"userIdentity" AS userIdentity,
	"eventTime" AS eventTime,
	"eventSource" AS eventSource,
	"eventName" AS eventName,
	region AS awsRegion,
	nullif("sourceIPAddress", '') AS sourceIPAddress,
	"userAgent" AS userAgent,
	nullif("errorCode", '') AS errorCode,
	"errorMessage" AS errorMessage,
	json_transform("requestParameters"::JSON, ` + mapType + `) AS requestParameters,
	json_transform("responseElements"::JSON, ` + mapType + `) AS responseElements,
	json_transform("additionalEventData"::JSON, ` + mapType + `) AS additionalEventData,
	"requestID" AS requestID,
	"eventID" AS eventID,
	_read_only AS readOnly,
	json_transform("resources"::JSON, ` + resourcesType + `) AS resources,
	"eventType" AS eventType,
	"apiVersion" AS apiVersion,
	"managementEvent" AS managementEvent,
	account AS recipientAccountId,
	"sharedEventID" AS sharedEventID,
	"vpcEndpointId" AS vpcEndpointId,
	_category AS eventCategory,
	"tlsDetails" AS tlsDetails,
	"sessionCredentialFromConsole" AS sessionCredentialFromConsole,
	json_transform("serviceEventDetails"::JSON, ` + mapType + `) AS serviceEventDetails,
	` + rebuildFunc + `(` + strings.Join(rebuild, ", ") + `)::JSON AS eventJson
FROM ` + store.ParquetSource(files) + where
}

// Check validates q as Run would, without running it: nil, an
// *InvalidQueryError, or an error reaching the database.
func Check(ctx context.Context, st *store.Store, q string) error {
	conn, err := st.DB().Conn(ctx)
	if err != nil {
		return fmt.Errorf("query connection: %w", err)
	}
	defer conn.Close()
	_, err = validate(ctx, conn, q)
	return err
}
