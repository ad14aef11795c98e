package console

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/rollup"
)

// dashSrc is where a built-in dashboard's panels read their numbers: the
// events, through SQL over cloudtrail_events, or the rollups
// (internal/rollup) when they hold every event committed before the
// request. Every panel query names its grouping expression and condition
// in the event view's terms; from translates the ones the rollups keep
// and leaves the others to the events, so a panel reads the rollups only
// for what they count exactly.
type dashSrc struct {
	c *Console
	s *Session
	// roll is set when the rollups serve this page.
	roll *rollup.Rollups
	// hourly is set when the window is whole hours in whole-hour buckets,
	// so that ru_hourly serves the overview's panels.
	hourly bool
	// building says, when the rollups are far behind (their first
	// build), how far they are: the page reads the events meanwhile.
	building string
}

// dashSource decides where the page over win reads: the rollups when they
// are configured, cover win and are fresh (caught up, or caught up now if
// only a little behind), else the events.
func (c *Console) dashSource(ctx context.Context, s *Session, win window) *dashSrc {
	d := &dashSrc{c: c, s: s}
	r := c.cfg.Dashboards.Rollups
	if r == nil || !r.Covers(win.Start) {
		return d
	}
	fresh, err := r.Fresh(ctx)
	if err != nil {
		c.log.Warn("console: the dashboards' rollups could not be brought up to date; reading the events", "err", err)
		return d
	}
	if !fresh {
		if counted, committed, known := r.Progress(); known && committed > counted {
			d.building = fmt.Sprintf("The dashboards' hourly rollups are being built (%d of %d events counted); until they are, this page reads the events, which takes longer.",
				counted, committed)
		}
		return d
	}
	d.roll = r
	d.hourly = win.Start.Truncate(time.Hour).Equal(win.Start) && win.End.Truncate(time.Hour).Equal(win.End) && win.Step%time.Hour == 0
	return d
}

// Expressions and conditions the panels use that the rollups keep.
const (
	categoryExpr = "coalesce(eventCategory, CASE WHEN eventType = 'AwsAggregatedEvent' THEN 'Aggregated' ELSE 'Management' END)"
	erroredExpr  = "coalesce(errorCode, '') <> ''"
	erroredCond  = erroredExpr
	readOnlyExpr = "CASE WHEN readOnly IS NULL THEN 'unknown' WHEN CAST(readOnly AS VARCHAR) IN ('true', 'True') THEN 'true' ELSE 'false' END"
	unauthCond   = `(errorCode LIKE '%UnauthorizedOperation' OR errorCode LIKE 'AccessDenied%') AND sourceIPAddress <> 'delivery.logs.amazonaws.com' AND eventName <> 'HeadBucket'`
	rootCond     = `userIdentity.type = 'Root' AND userIdentity.invokedBy IS NULL AND coalesce(eventType, '') <> 'AwsServiceEvent'`
	noMFACond    = `eventName = 'ConsoleLogin' AND coalesce(additionalEventData['MFAUsed'], '') <> 'Yes' AND responseElements['ConsoleLogin'] = 'Success'`
	keyIDExpr    = "coalesce(requestParameters['keyId'], '')"
)

// hourlyDims are the ru_hourly dimensions of the overview's expressions
// over every event.
var hourlyDims = map[string]string{
	categoryExpr:      rollup.DimCategory,
	erroredExpr:       rollup.DimErrored,
	readOnlyExpr:      rollup.DimReadOnly,
	"eventSource":     rollup.DimSource,
	"eventName":       rollup.DimName,
	userExpr:          rollup.DimUser,
	"sourceIPAddress": rollup.DimIP,
}

// cisFlags are ru_cis's flags for the CIS panels' conditions.
var cisFlags = map[string]string{
	failedLoginCond: "failed_login",
	noMFACond:       "no_mfa",
	rootCond:        "root",
	unauthCond:      "unauth",
}

// cisCols are ru_cis's columns for expressions it does not keep under
// the event view's name; the others it keeps as they are.
var cisCols = map[string]string{userExpr: "username", keyIDExpr: "coalesce(keyId, '')"}

// cisExprs are the expressions over ru_cis's columns that read as they
// do over the events.
var cisExprs = map[string]bool{
	"''": true, "errorCode": true, "sourceIPAddress": true, "eventName": true, "eventSource": true, "eventTime": true,
	"recipientAccountId": true, "eventID": true, "coalesce(errorCode, '')": true,
	"CASE WHEN eventName = 'ConsoleLogin' THEN 'Console logins' ELSE 'Other calls' END": true,
}

// source is one panel query's table in the chosen source.
type source struct {
	table   string
	timeCol string
	count   string   // the aggregate counting events
	exprs   []string // the grouping expressions, translated
	cond    string   // the condition, translated, with the accounts' scope
	rolled  bool
}

// from translates a query over the events matching cond, grouped by
// exprs, to the source that serves it: ru_cis for the CIS conditions (any
// window: it keeps exact times), ru_hourly for the overview's counts over
// whole hours, else the events.
func (d *dashSrc) from(cond string, exprs ...string) source {
	events := source{table: "cloudtrail_events", timeCol: "eventTime", count: "count(*)", exprs: exprs, cond: cond}
	if d.roll == nil {
		return events
	}
	accounts := d.s.User.Accounts()
	if flag, ok := cisFlags[cond]; ok || cond == changeCond || cond == kmsCond {
		switch cond {
		case changeCond:
			flag = "change"
		case kmsCond:
			flag = "kms"
		}
		out := source{table: rollup.CISTable, timeCol: "eventTime", count: "count(*)", rolled: true,
			cond: flag + " AND " + rollup.Scope("recipientAccountId", accounts)}
		for _, e := range exprs {
			if col, ok := cisCols[e]; ok {
				e = col
			} else if !cisExprs[e] {
				return events
			}
			out.exprs = append(out.exprs, e)
		}
		return out
	}
	if !d.hourly || len(exprs) != 1 {
		return events
	}
	dim, ok := hourlyDims[exprs[0]]
	switch {
	case cond == erroredCond && exprs[0] == "errorCode":
		dim = rollup.DimError
	case cond != "TRUE" || !ok:
		return events
	}
	value := "value"
	if dim == rollup.DimIP {
		value = "nullif(value, '')" // as the event view has an absent address
	}
	return source{table: rollup.HourlyTable, timeCol: "hour", count: "sum(n)", exprs: []string{value}, rolled: true,
		cond: "dim = '" + dim + "' AND " + rollup.Scope("account", accounts)}
}

// run runs a panel's query over w in its source.
func (d *dashSrc) run(ctx context.Context, w window, src source, q string) ([][]string, error) {
	if src.rolled {
		return d.roll.Query(ctx, q)
	}
	res, err := d.c.cfg.Dashboards.Events.Run(ctx, q, rangeOpts(d.s, w))
	if err != nil {
		return nil, err
	}
	return res.Rows, nil
}

// timeCondOn limits a query to the window on the time column col.
func timeCondOn(col string, w window) string {
	return col + " >= " + sqlTime(w.Start) + " AND " + col + " < " + sqlTime(w.End)
}

// bucketExprOn is the bucket number in w of the time column col.
func bucketExprOn(col string, w window, step time.Duration) string {
	return fmt.Sprintf("CAST(floor((epoch(%s) - %d) / %d) AS BIGINT)", col, w.Start.Unix(), int64(step/time.Second))
}

// kpis are the overview's headline numbers: events, failed calls and
// distinct source addresses.
func (d *dashSrc) kpis(ctx context.Context, win window) (total, errs, ips float64, err error) {
	src := d.from("TRUE", categoryExpr)
	q := `SELECT count(*), count(*) FILTER (WHERE coalesce(errorCode, '') <> ''), count(DISTINCT sourceIPAddress) FROM cloudtrail_events WHERE ` + timeCond(win)
	if src.rolled {
		q = fmt.Sprintf(`SELECT sum(n) FILTER (WHERE dim = '%s'), sum(n) FILTER (WHERE dim = '%s' AND value = 'true'), count(DISTINCT value) FILTER (WHERE dim = '%s' AND value <> '')
			FROM %s WHERE %s AND %s`, rollup.DimCategory, rollup.DimErrored, rollup.DimIP, rollup.HourlyTable, timeCondOn("hour", win), rollup.Scope("account", d.s.User.Accounts()))
	}
	rows, err := d.run(ctx, win, src, q)
	if err != nil || len(rows) != 1 {
		return 0, 0, 0, err
	}
	return num(rows[0][0]), num(rows[0][1]), num(rows[0][2]), nil
}

// namesCond is "eventName IN (…)" and, with sources, "AND eventSource
// IN (…)".
func namesCond(names, sources []string) string {
	cond := "eventName IN " + sqlList(names)
	if len(sources) > 0 {
		cond += " AND eventSource IN " + sqlList(sources)
	}
	return cond
}

// changeCond and kmsCond are the change panels' and the KMS panel's
// conditions (set from the benchmark when the package loads).
var changeCond, kmsCond = cisConds()

func joinCols(exprs []string) string { return strings.Join(exprs, ", ") }
