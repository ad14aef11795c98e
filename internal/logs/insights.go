package logs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/logsinsights"
	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/query"
)

// AllEventsGroup is the reserved log group name (or, in an ARN, log group
// identifier) that Logs Insights queries use to read every event of the
// caller's account in the store, in every region, whether or not a trail
// sends it to a log group. It shadows a log group of the same name.
const AllEventsGroup = "/opentrail/all-events"

// Logs Insights limits, as AWS sets them.
const (
	maxConcurrentQueries = 30                 // running queries per account
	maxQueryGroups       = 50                 // logGroupNames / logGroupIdentifiers
	keepQueries          = 7 * 24 * time.Hour // finished queries' results
	keepQueriesPerAcct   = 1000
	defaultQueryTimeout  = 15 * time.Minute
)

// Insights is what Logs Insights needs of the log-group component
// (*logwatch.Watch implements it).
type Insights interface {
	EventSeqsSQL(ctx context.Context, account, region string, names []string, from, to time.Time) (string, error)
}

// Query statuses.
const (
	statusScheduled = "Scheduled"
	statusRunning   = "Running"
	statusComplete  = "Complete"
	statusFailed    = "Failed"
	statusCancelled = "Cancelled"
	statusTimeout   = "Timeout"
)

// insightsQuery is one StartQuery's state.
type insightsQuery struct {
	id, account, region string
	queryString         string
	group               string // the first log group named
	created             time.Time
	cancel              context.CancelFunc

	// guarded by queries.mu
	status  string
	results [][]ResultField
	stats   QueryStatistics
	ended   time.Time
}

type queries struct {
	mu   sync.Mutex
	byID map[string]*insightsQuery
}

func running(status string) bool { return status == statusScheduled || status == statusRunning }

// StartQueryInput is StartQuery's request.
type StartQueryInput struct {
	LogGroupName        *string  `json:"logGroupName,omitempty"`
	LogGroupNames       []string `json:"logGroupNames,omitempty"`
	LogGroupIdentifiers []string `json:"logGroupIdentifiers,omitempty"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	QueryString         *string  `json:"queryString"`
	Limit               *int32   `json:"limit,omitempty"`
	QueryLanguage       *string  `json:"queryLanguage,omitempty"`
}

// StartQueryOutput is StartQuery's answer.
type StartQueryOutput struct {
	QueryID string `json:"queryId"`
}

// ResultField is one field of a result row.
type ResultField struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// QueryStatistics are a query's figures.
type QueryStatistics struct {
	RecordsMatched Double `json:"recordsMatched"`
	RecordsScanned Double `json:"recordsScanned"`
	BytesScanned   Double `json:"bytesScanned"`
}

// StartQuery compiles a Logs Insights query and runs it in the
// background; GetQueryResults reads its results.
func (s *Service) StartQuery(ctx context.Context, in *StartQueryInput) (*StartQueryOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if s.store == nil || s.insights == nil {
		return nil, awsapi.Unavailable("Logs Insights queries are not available on this server.")
	}
	if in.QueryString == nil {
		return nil, validation("queryString", "null", "Member must not be null")
	}
	if in.StartTime == nil {
		return nil, validation("startTime", "null", "Member must not be null")
	}
	if in.EndTime == nil {
		return nil, validation("endTime", "null", "Member must not be null")
	}
	if len(*in.QueryString) > 10000 {
		return nil, validation("queryString", "'"+awsapi.Clip(*in.QueryString, 64)+"'", "Member must have length less than or equal to 10000")
	}
	if *in.StartTime < 0 {
		return nil, validation("startTime", "'"+strconv.FormatInt(*in.StartTime, 10)+"'", "Member must have value greater than or equal to 0")
	}
	if *in.EndTime < 0 {
		return nil, validation("endTime", "'"+strconv.FormatInt(*in.EndTime, 10)+"'", "Member must have value greater than or equal to 0")
	}
	if *in.EndTime < *in.StartTime {
		return nil, invalidf("End time %d is before start time %d: endTime must not be before startTime.", *in.EndTime, *in.StartTime)
	}
	lim, err := limit("limit", in.Limit, logsinsights.MaxLimit)
	if err != nil {
		return nil, err
	}
	if in.Limit == nil {
		lim = logsinsights.DefaultLimit
	}
	if in.QueryLanguage != nil && *in.QueryLanguage != "CWLI" {
		return nil, invalidf("Query language %s is not supported; only CWLI (the Logs Insights query language) is.", *in.QueryLanguage)
	}
	var names []string
	given := 0
	if in.LogGroupName != nil {
		given++
		names = []string{*in.LogGroupName}
	}
	if in.LogGroupNames != nil {
		given++
		names = in.LogGroupNames
	}
	if in.LogGroupIdentifiers != nil {
		given++
		for _, id := range in.LogGroupIdentifiers {
			n := id
			if a, r, gn, ok := logwatch.ParseGroupARN(id); ok {
				if a != acc || r != reg {
					return nil, awsapi.NewError(logwatch.CodeNotFound, "Log group "+id+" does not exist in this account and region.")
				}
				n = gn
			}
			names = append(names, n)
		}
	}
	switch {
	case given > 1:
		return nil, invalidf("logGroupName, logGroupNames and logGroupIdentifiers are mutually exclusive parameters.")
	case len(names) == 0:
		return nil, invalidf("Query must specify at least one log group: logGroupName, logGroupNames or logGroupIdentifiers.")
	case len(names) > maxQueryGroups:
		return nil, invalidf("A query can name at most %d log groups.", maxQueryGroups)
	}
	start, end := time.Unix(*in.StartTime, 0).UTC(), time.Unix(*in.EndTime, 0).UTC()
	opts := query.Options{Accounts: []string{acc}, Timeout: s.queryTimeout, MaxRows: lim}
	if slices.Contains(names, AllEventsGroup) {
		if len(names) > 1 {
			return nil, invalidf("%s (every event of the account) cannot be queried together with other log groups.", AllEventsGroup)
		}
	} else {
		if opts.SeqIn, err = s.insights.EventSeqsSQL(ctx, acc, reg, names, start, end.Add(999*time.Millisecond)); err != nil {
			return nil, wire(err)
		}
	}
	compiled, err := logsinsights.Compile(*in.QueryString, logsinsights.Options{
		Start: start, End: end.Add(999 * time.Millisecond), Limit: lim, Log: acc + ":" + names[0]})
	if err != nil {
		var se *logsinsights.SyntaxError
		if errors.As(err, &se) {
			e := awsapi.NewError("MalformedQueryException", se.Error())
			e.Members = map[string]any{"queryCompileError": map[string]any{
				"location": map[string]int{"startCharOffset": se.StartOffset, "endCharOffset": se.EndOffset},
				"message":  se.Reason,
			}}
			return nil, e
		}
		return nil, err
	}

	id, err := newQueryID()
	if err != nil {
		return nil, err
	}
	qctx, cancel := context.WithCancel(context.Background())
	q := &insightsQuery{id: id, account: acc, region: reg, queryString: *in.QueryString, group: names[0],
		created: s.now(), cancel: cancel, status: statusScheduled}
	s.q.mu.Lock()
	n := 0
	for _, o := range s.q.byID {
		if o.account == acc && running(o.status) {
			n++
		}
	}
	if n >= maxConcurrentQueries {
		s.q.mu.Unlock()
		cancel()
		return nil, awsapi.NewError(logwatch.CodeLimit, fmt.Sprintf("Account maximum query concurrency limit of [%d] reached.", maxConcurrentQueries))
	}
	s.forget(acc)
	s.q.byID[id] = q
	s.q.mu.Unlock()
	scanned := ""
	if opts.SeqIn == "" {
		// The view holds every event of the account: count the time
		// range's.
		scanned = logsinsights.ScannedSQL(logsinsights.Options{Start: start, End: end.Add(999 * time.Millisecond)})
	}
	go s.runQuery(qctx, q, compiled, scanned, opts)
	return &StartQueryOutput{QueryID: id}, nil
}

// forget drops finished queries past their keeping time, and the oldest
// finished ones over the per-account count. Called with s.q.mu held.
func (s *Service) forget(acc string) {
	now := s.now()
	var done []*insightsQuery
	for id, o := range s.q.byID {
		if running(o.status) {
			continue
		}
		if now.Sub(o.ended) > keepQueries {
			delete(s.q.byID, id)
		} else if o.account == acc {
			done = append(done, o)
		}
	}
	if len(done) >= keepQueriesPerAcct {
		sort.Slice(done, func(i, j int) bool { return done[i].created.Before(done[j].created) })
		for _, o := range done[:len(done)-keepQueriesPerAcct+1] {
			delete(s.q.byID, o.id)
		}
	}
}

// runQuery runs c; scanned, when set, counts the events scanned (else
// the view's size is that count).
func (s *Service) runQuery(ctx context.Context, q *insightsQuery, c *logsinsights.Compiled, scanned string, opts query.Options) {
	defer q.cancel()
	s.q.mu.Lock()
	if q.status != statusScheduled {
		s.q.mu.Unlock()
		return
	}
	q.status = statusRunning
	s.q.mu.Unlock()

	res, err := query.Run(ctx, s.store, c.SQL, opts)
	var count *query.Result
	if err == nil && scanned != "" {
		count, err = query.Run(ctx, s.store, scanned, query.Options{Accounts: opts.Accounts, Timeout: opts.Timeout})
		if err == nil && (len(count.Rows) != 1 || len(count.Rows[0]) != 1) {
			err = fmt.Errorf("count scanned events: unexpected result %q", count.Rows)
		}
	}
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	q.ended = s.now()
	if q.status == statusCancelled {
		return
	}
	switch {
	case errors.Is(err, query.ErrTimeout):
		q.status = statusTimeout
		return
	case err != nil:
		s.log.Warn("logs: Logs Insights query failed", "query_id", q.id, "err", err)
		q.status = statusFailed
		return
	}
	q.results = make([][]ResultField, 0, len(res.Rows))
	var matched int64
	for _, row := range res.Rows {
		fields := make([]ResultField, 0, len(c.Fields))
		for j, f := range c.Fields {
			if row[j] != "" {
				fields = append(fields, ResultField{Field: f, Value: row[j]})
			}
		}
		q.results = append(q.results, fields)
		matched, _ = strconv.ParseInt(row[len(row)-1], 10, 64)
	}
	q.stats = QueryStatistics{RecordsMatched: Double(matched), RecordsScanned: Double(res.Stats.EventsScanned),
		BytesScanned: Double(res.Stats.BytesScanned)}
	if count != nil {
		n, _ := strconv.ParseInt(count.Rows[0][0], 10, 64)
		q.stats.RecordsScanned = Double(n)
	}
	q.status = statusComplete
}

func newQueryID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("query id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// lookup returns the caller's query id.
func (s *Service) lookup(acc string, id *string) (*insightsQuery, error) {
	if id == nil {
		return nil, validation("queryId", "null", "Member must not be null")
	}
	q := s.q.byID[*id]
	if q == nil || q.account != acc {
		return nil, awsapi.NewError(logwatch.CodeNotFound, "The specified query does not exist.")
	}
	return q, nil
}

// GetQueryResultsInput is GetQueryResults' request.
type GetQueryResultsInput struct {
	QueryID *string `json:"queryId"`
}

// GetQueryResultsOutput is GetQueryResults' answer.
type GetQueryResultsOutput struct {
	QueryLanguage string          `json:"queryLanguage"`
	Results       [][]ResultField `json:"results"`
	Statistics    QueryStatistics `json:"statistics"`
	Status        string          `json:"status"`
}

// GetQueryResults returns a query's status and, once it is complete, its
// results.
func (s *Service) GetQueryResults(ctx context.Context, in *GetQueryResultsInput) (*GetQueryResultsOutput, error) {
	acc, _, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	q, err := s.lookup(acc, in.QueryID)
	if err != nil {
		return nil, err
	}
	out := &GetQueryResultsOutput{QueryLanguage: "CWLI", Results: [][]ResultField{}, Status: q.status, Statistics: q.stats}
	if q.results != nil {
		out.Results = q.results
	}
	return out, nil
}

// StopQueryInput is StopQuery's request.
type StopQueryInput struct {
	QueryID *string `json:"queryId"`
}

// StopQueryOutput is StopQuery's answer.
type StopQueryOutput struct {
	Success bool `json:"success"`
}

// StopQuery cancels a running query; a query that has ended is
// InvalidParameterException.
func (s *Service) StopQuery(ctx context.Context, in *StopQueryInput) (*StopQueryOutput, error) {
	acc, _, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	q, err := s.lookup(acc, in.QueryID)
	if err != nil {
		return nil, err
	}
	if !running(q.status) {
		return nil, invalidf("The specified query is not running: it has ended with status %s.", q.status)
	}
	q.status = statusCancelled
	q.ended = s.now()
	q.cancel()
	return &StopQueryOutput{Success: true}, nil
}

// DescribeQueriesInput is DescribeQueries' request.
type DescribeQueriesInput struct {
	LogGroupName  *string `json:"logGroupName,omitempty"`
	Status        *string `json:"status,omitempty"`
	MaxResults    *int32  `json:"maxResults,omitempty"`
	NextToken     *string `json:"nextToken,omitempty"`
	QueryLanguage *string `json:"queryLanguage,omitempty"`
}

// QueryInfo is one query in DescribeQueries' answer.
type QueryInfo struct {
	QueryLanguage string `json:"queryLanguage"`
	QueryID       string `json:"queryId"`
	QueryString   string `json:"queryString"`
	Status        string `json:"status"`
	CreateTime    int64  `json:"createTime"`
	LogGroupName  string `json:"logGroupName"`
}

// DescribeQueriesOutput is DescribeQueries' answer.
type DescribeQueriesOutput struct {
	Queries   []QueryInfo `json:"queries"`
	NextToken *string     `json:"nextToken,omitempty"`
}

var queryStatuses = []string{statusScheduled, statusRunning, statusComplete, statusFailed, statusCancelled, statusTimeout, "Unknown"}

// DescribeQueries lists the caller's recent queries in the region, newest
// first.
func (s *Service) DescribeQueries(ctx context.Context, in *DescribeQueriesInput) (*DescribeQueriesOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	lim, err := limit("maxResults", in.MaxResults, 1000)
	if err != nil {
		return nil, err
	}
	var group, status string
	if in.LogGroupName != nil {
		group = *in.LogGroupName
	}
	if in.Status != nil {
		if !slices.Contains(queryStatuses, *in.Status) {
			return nil, validation("status", "'"+*in.Status+"'", "Member must satisfy enum value set: [Scheduled, Running, Complete, Failed, Cancelled, Timeout, Unknown]")
		}
		status = *in.Status
	}
	qh := pagetoken.NewHasher().Str(acc).Str(reg).Str(group).Str(status).Sum()
	off, err := s.page(pagetoken.KindDescribeQueries, qh, in.NextToken)
	if err != nil {
		return nil, err
	}
	s.q.mu.Lock()
	var all []QueryInfo
	for _, q := range s.q.byID {
		if q.account != acc || q.region != reg || group != "" && q.group != group || status != "" && q.status != status {
			continue
		}
		all = append(all, QueryInfo{QueryLanguage: "CWLI", QueryID: q.id, QueryString: q.queryString, Status: q.status,
			CreateTime: q.created.UnixMilli(), LogGroupName: q.group})
	}
	s.q.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if all[i].CreateTime != all[j].CreateTime {
			return all[i].CreateTime > all[j].CreateTime
		}
		return all[i].QueryID < all[j].QueryID
	})
	lo, hi, next := window(len(all), off, lim)
	return &DescribeQueriesOutput{Queries: append([]QueryInfo{}, all[lo:hi]...),
		NextToken: s.issue(pagetoken.KindDescribeQueries, qh, next)}, nil
}
