package lake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/pagetoken"
	"github.com/opentrail/opentrail/internal/query"
)

// CloudTrail Lake query operations: StartQuery runs a query in the
// background; DescribeQuery, GetQueryResults, ListQueries and CancelQuery
// follow it. Queries and their results live in memory for
// queryRetention (bounded by maxQueries) and are visible only to the
// account that started them; the SQL sees only that account's events, or
// every account's when the organisation's management account started it.

// Query statuses, as the AWS model spells them.
const (
	queryQueued    = "QUEUED"
	queryRunning   = "RUNNING"
	queryFinished  = "FINISHED"
	queryFailed    = "FAILED"
	queryCancelled = "CANCELLED"
	queryTimedOut  = "TIMED_OUT"
)

const (
	codeInvalidQueryStatement = "InvalidQueryStatementException"
	codeQueryIDNotFound       = "QueryIdNotFoundException"
	codeInactiveQuery         = "InactiveQueryException"
	codeMaxConcurrentQueries  = "MaxConcurrentQueriesException"
	codeInvalidNextToken      = "InvalidNextTokenException"
	codeInvalidQueryStatus    = "InvalidQueryStatusException"
	codeInvalidDateRange      = "InvalidDateRangeException"
	codeUnsupportedOperation  = "UnsupportedOperationException"

	queryRetention       = time.Hour
	maxQueries           = 1000 // kept in memory, oldest finished dropped first
	maxConcurrentQueries = 10   // per account, as Lake
	queryTimeout         = 10 * time.Minute
	queryMaxRows         = 100_000
	maxStatementLen      = 10000
)

// maxResultBytes bounds the results kept in memory, all accounts'
// together: past it the oldest finished queries are dropped (the newest is
// always kept). Without it a steady stream of queries returning many rows
// grew the server's memory by the size of the last 1,000 results. A
// variable for tests.
var maxResultBytes int64 = 128 << 20

// lakeQueries holds the queries of a Service. The zero value is ready.
type lakeQueries struct {
	mu    sync.Mutex
	m     map[string]*lakeQuery
	bytes int64 // the sizes of the results in m
}

// lakeQuery is one query; its fields after id are guarded by
// lakeQueries.mu.
type lakeQuery struct {
	id, account, statement string
	management             bool // started by the organisation's management account: sees every account
	created                time.Time
	status                 string
	errMsg                 string
	res                    *query.Result
	cancel                 context.CancelFunc
	done                   time.Time
	size                   int64 // res's size in memory, about
}

// StartQuery checks the statement and runs it in the background.
func (s *Service) StartQuery(ctx context.Context, in *StartQueryInput) (*StartQueryOutput, error) {
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if s.engine == nil {
		return nil, awsapi.NewError(codeUnsupportedOperation, "Queries are not available on this server.")
	}
	switch {
	case in.QueryStatement == "":
		return nil, awsapi.NewError(codeInvalidParameter, "QueryStatement is required.")
	case len(in.QueryStatement) > maxStatementLen:
		return nil, awsapi.Errorf(codeInvalidQueryStatement, "The query statement is longer than %d characters.", maxStatementLen)
	case in.DeliveryS3Uri != "":
		return nil, awsapi.NewError(codeInvalidParameter, "DeliveryS3Uri is not supported; read the results with GetQueryResults.")
	case len(in.QueryParameters) > 0:
		return nil, awsapi.NewError(codeInvalidParameter, "QueryParameters are not supported.")
	case in.EventDataStoreOwnerAccountId != "" && in.EventDataStoreOwnerAccountId != p.AccountID:
		return nil, awsapi.Errorf(codeInvalidParameter, "EventDataStoreOwnerAccountId must be your own account, %s.", p.AccountID)
	}
	if err := s.engine.Check(ctx, in.QueryStatement); err != nil {
		var ie *query.InvalidQueryError
		if errors.As(err, &ie) {
			return nil, awsapi.NewError(codeInvalidQueryStatement, ie.Reason)
		}
		return nil, err
	}
	now := s.now().UTC()
	q := &lakeQuery{id: awsapi.NewUUID(), account: p.AccountID, management: p.Management, statement: in.QueryStatement, created: now, status: queryQueued}
	qctx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel

	lq := &s.queries
	lq.mu.Lock()
	if lq.m == nil {
		lq.m = map[string]*lakeQuery{}
	}
	lq.expire(now)
	running := 0
	for _, o := range lq.m {
		if o.account == p.AccountID && (o.status == queryQueued || o.status == queryRunning) {
			running++
		}
	}
	if running >= maxConcurrentQueries {
		lq.mu.Unlock()
		cancel()
		return nil, awsapi.Errorf(codeMaxConcurrentQueries, "You already have %d queries running; wait for one to finish or cancel one.", running)
	}
	lq.m[q.id] = q
	lq.mu.Unlock()

	s.running.Add(1)
	go func() {
		defer s.running.Done()
		s.runQuery(qctx, q)
	}()
	return &StartQueryOutput{QueryId: q.id}, nil
}

func (s *Service) runQuery(ctx context.Context, q *lakeQuery) {
	lq := &s.queries
	lq.mu.Lock()
	if q.status != queryQueued { // cancelled before it started
		lq.mu.Unlock()
		return
	}
	q.status = queryRunning
	lq.mu.Unlock()

	// As in an organisation event data store (and GET /v1/events), the
	// organisation's management account reads every account's events;
	// any other account reads its own.
	opts := query.Options{Accounts: []string{q.account}, Timeout: queryTimeout, MaxRows: queryMaxRows}
	if q.management {
		opts = query.Options{AllAccounts: true, Timeout: queryTimeout, MaxRows: queryMaxRows}
	}
	res, err := s.engine.Run(ctx, q.statement, opts)

	lq.mu.Lock()
	defer lq.mu.Unlock()
	q.cancel()
	q.done = s.now().UTC()
	if q.status == queryCancelled {
		return
	}
	var ie *query.InvalidQueryError
	switch {
	case err == nil:
		q.status, q.res = queryFinished, res
		q.size = resultSize(res)
		lq.bytes += q.size
		lq.trim(q)
		if res.Truncated {
			q.errMsg = fmt.Sprintf("The result has more than %d rows; only the first %d are kept. Add a LIMIT.", queryMaxRows, queryMaxRows)
		}
	case errors.Is(err, query.ErrTimeout):
		q.status, q.errMsg = queryTimedOut, fmt.Sprintf("The query ran longer than %v.", queryTimeout)
	case errors.Is(err, context.Canceled):
		q.status = queryCancelled
	case errors.As(err, &ie):
		q.status, q.errMsg = queryFailed, ie.Reason
	default:
		q.status, q.errMsg = queryFailed, err.Error()
		s.logger.Warn("query failed", "query_id", q.id, "err", err)
	}
}

// cancelAll cancels every query that has not finished (Close).
func (lq *lakeQueries) cancelAll() {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	for _, q := range lq.m {
		if q.done.IsZero() {
			q.cancel()
		}
	}
}

// expire drops finished queries past queryRetention and, beyond
// maxQueries, the oldest finished ones. lq.mu must be held.
func (lq *lakeQueries) expire(now time.Time) {
	var finished []*lakeQuery
	for _, q := range lq.m {
		if q.done.IsZero() {
			continue
		}
		if now.Sub(q.done) > queryRetention {
			lq.drop(q)
			continue
		}
		finished = append(finished, q)
	}
	if extra := len(lq.m) - maxQueries + 1; extra > 0 {
		sort.Slice(finished, func(i, j int) bool { return finished[i].done.Before(finished[j].done) })
		for _, q := range finished[:min(extra, len(finished))] {
			lq.drop(q)
		}
	}
}

// trim drops the oldest finished queries other than keep while the
// results kept pass maxResultBytes. lq.mu must be held.
func (lq *lakeQueries) trim(keep *lakeQuery) {
	if lq.bytes <= maxResultBytes {
		return
	}
	var finished []*lakeQuery
	for _, q := range lq.m {
		if q != keep && q.res != nil {
			finished = append(finished, q)
		}
	}
	sort.Slice(finished, func(i, j int) bool { return finished[i].done.Before(finished[j].done) })
	for _, q := range finished {
		if lq.bytes <= maxResultBytes {
			return
		}
		lq.drop(q)
	}
}

// drop forgets a query and its result. lq.mu must be held.
func (lq *lakeQueries) drop(q *lakeQuery) {
	delete(lq.m, q.id)
	lq.bytes -= q.size
}

// resultSize is about what a result takes in memory: its strings and
// their headers.
func resultSize(res *query.Result) int64 {
	n := int64(0)
	for _, row := range res.Rows {
		n += 24 + int64(len(row))*16
		for _, v := range row {
			n += int64(len(v))
		}
	}
	return n
}

// get returns the caller's query, or QueryIdNotFoundException. lq.mu must
// be held.
func (lq *lakeQueries) get(account, id string) (*lakeQuery, error) {
	if id == "" {
		return nil, awsapi.NewError(codeInvalidParameter, "QueryId is required.")
	}
	q, ok := lq.m[id]
	if !ok || q.account != account {
		return nil, awsapi.Errorf(codeQueryIDNotFound, "The query ID %s does not exist or is not associated with your account.", id)
	}
	return q, nil
}

// lockQuery returns the caller's query id with s.queries locked; the
// caller unlocks s.queries.mu. On error nothing stays locked.
func (s *Service) lockQuery(ctx context.Context, id string) (*lakeQuery, error) {
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	s.queries.mu.Lock()
	q, err := s.queries.get(p.AccountID, id)
	if err != nil {
		s.queries.mu.Unlock()
		return nil, err
	}
	return q, nil
}

// DescribeQuery reports a query's status and statistics.
func (s *Service) DescribeQuery(ctx context.Context, in *DescribeQueryInput) (*DescribeQueryOutput, error) {
	q, err := s.lockQuery(ctx, in.QueryId)
	if err != nil {
		return nil, err
	}
	defer s.queries.mu.Unlock()
	out := &DescribeQueryOutput{QueryId: q.id, QueryString: q.statement, QueryStatus: q.status, ErrorMessage: q.errMsg}
	out.QueryStatistics.CreationTime = awsapi.Time{Time: q.created}
	if q.res != nil {
		st := q.res.Stats
		out.QueryStatistics.EventsMatched = st.EventsMatched
		out.QueryStatistics.EventsScanned = st.EventsScanned
		out.QueryStatistics.BytesScanned = st.BytesScanned
		out.QueryStatistics.ExecutionTimeInMillis = st.ExecutionTime.Milliseconds()
	}
	return out, nil
}

// GetQueryResults returns a page of a query's rows (1–1000, default 1000).
// A query still running answers with its status and no rows.
func (s *Service) GetQueryResults(ctx context.Context, in *GetQueryResultsInput) (*GetQueryResultsOutput, error) {
	if _, _, err := awsapi.Authenticated(ctx); err != nil {
		return nil, err
	}
	max := 1000
	if in.MaxQueryResults != nil {
		if *in.MaxQueryResults < 1 || *in.MaxQueryResults > 1000 {
			return nil, awsapi.Errorf(codeInvalidMaxResults, "MaxQueryResults must be between 1 and 1000; got %d.", *in.MaxQueryResults)
		}
		max = *in.MaxQueryResults
	}
	q, err := s.lockQuery(ctx, in.QueryId)
	if err != nil {
		return nil, err
	}
	defer s.queries.mu.Unlock()
	out := &GetQueryResultsOutput{QueryStatus: q.status, ErrorMessage: q.errMsg, QueryResultRows: [][]map[string]string{}}
	if q.res == nil {
		if in.NextToken != "" {
			return nil, awsapi.NewError(codeInvalidNextToken, "The NextToken is not valid for this query.")
		}
		return out, nil
	}
	start := 0
	if in.NextToken != "" {
		start, err = s.queryToken(q.id, in.NextToken)
		if err != nil || start > len(q.res.Rows) {
			return nil, awsapi.NewError(codeInvalidNextToken, "The NextToken is not valid for this query.")
		}
	}
	end := min(start+max, len(q.res.Rows))
	for _, row := range q.res.Rows[start:end] {
		r := make([]map[string]string, len(row))
		for i, v := range row {
			r[i] = map[string]string{q.res.Columns[i]: v}
		}
		out.QueryResultRows = append(out.QueryResultRows, r)
	}
	out.QueryStatistics = QueryStatistics{ResultsCount: end - start, TotalResultsCount: len(q.res.Rows), BytesScanned: q.res.Stats.BytesScanned}
	if end < len(q.res.Rows) {
		out.NextToken = s.tokens.Issue(pagetoken.KindQueryResults, pagetoken.NewHasher().Str(q.id).Sum(), []byte(strconv.Itoa(end)))
	}
	return out, nil
}

// queryToken checks a GetQueryResults NextToken and returns its offset.
func (s *Service) queryToken(id, token string) (int, error) {
	b, err := s.tokens.Open(pagetoken.KindQueryResults, pagetoken.NewHasher().Str(id).Sum(), token)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

func listQueriesHash(account string, in *ListQueriesInput) [pagetoken.HashLen]byte {
	return pagetoken.NewHasher().Str(account).Str(in.EventDataStore).Str(in.QueryStatus).Time(in.StartTime.Time).Time(in.EndTime.Time).Sum()
}

// ListQueriesInput is ListQueries' request.
type ListQueriesInput struct {
	EventDataStore string
	NextToken      string
	MaxResults     *int
	StartTime      awsapi.Time
	EndTime        awsapi.Time
	QueryStatus    string
}

// QuerySummary is one entry of ListQueries.
type QuerySummary struct {
	QueryId      string
	QueryStatus  string
	CreationTime awsapi.Time
}

// ListQueriesOutput is ListQueries' response.
type ListQueriesOutput struct {
	Queries   []QuerySummary
	NextToken string `json:",omitempty"`
}

// ListQueries lists the caller's queries, newest first. Every event data
// store name or ARN means the server's one event store.
func (s *Service) ListQueries(ctx context.Context, in *ListQueriesInput) (*ListQueriesOutput, error) {
	_, p, err := awsapi.Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if in.EventDataStore == "" {
		return nil, awsapi.NewError(codeInvalidParameter, "EventDataStore is required.")
	}
	max, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	switch in.QueryStatus {
	case "", queryQueued, queryRunning, queryFinished, queryFailed, queryCancelled, queryTimedOut:
	default:
		return nil, awsapi.Errorf(codeInvalidQueryStatus, "QueryStatus %q is not valid.", in.QueryStatus)
	}
	if !in.StartTime.IsZero() && !in.EndTime.IsZero() && in.StartTime.After(in.EndTime.Time) {
		return nil, awsapi.NewError(codeInvalidDateRange, "StartTime must be before EndTime.")
	}
	lq := &s.queries
	lq.mu.Lock()
	var qs []QuerySummary
	for _, q := range lq.m {
		if q.account != p.AccountID || in.QueryStatus != "" && q.status != in.QueryStatus ||
			!in.StartTime.IsZero() && q.created.Before(in.StartTime.Time) || !in.EndTime.IsZero() && q.created.After(in.EndTime.Time) {
			continue
		}
		qs = append(qs, QuerySummary{QueryId: q.id, QueryStatus: q.status, CreationTime: awsapi.Time{Time: q.created}})
	}
	lq.mu.Unlock()
	sort.Slice(qs, func(i, j int) bool {
		if !qs[i].CreationTime.Equal(qs[j].CreationTime.Time) {
			return qs[i].CreationTime.After(qs[j].CreationTime.Time)
		}
		return qs[i].QueryId < qs[j].QueryId
	})
	start := 0
	if in.NextToken != "" {
		b, err := s.tokens.Open(pagetoken.KindListQueries, listQueriesHash(p.AccountID, in), in.NextToken)
		if err != nil {
			return nil, err
		}
		// Resume after the query ID in the token.
		after := string(b)
		start = len(qs)
		for i, q := range qs {
			if q.QueryId == after {
				start = i + 1
				break
			}
		}
	}
	end := min(start+max, len(qs))
	out := &ListQueriesOutput{Queries: append([]QuerySummary{}, qs[start:end]...)}
	if end < len(qs) {
		out.NextToken = s.tokens.Issue(pagetoken.KindListQueries, listQueriesHash(p.AccountID, in), []byte(qs[end-1].QueryId))
	}
	return out, nil
}

// CancelQuery stops a queued or running query; a finished one is
// InactiveQueryException.
func (s *Service) CancelQuery(ctx context.Context, in *CancelQueryInput) (*CancelQueryOutput, error) {
	q, err := s.lockQuery(ctx, in.QueryId)
	if err != nil {
		return nil, err
	}
	defer s.queries.mu.Unlock()
	if q.status != queryQueued && q.status != queryRunning {
		return nil, awsapi.Errorf(codeInactiveQuery, "The query %s is %s and cannot be cancelled.", q.id, q.status)
	}
	q.status = queryCancelled
	q.done = s.now().UTC()
	q.cancel()
	return &CancelQueryOutput{QueryId: q.id, QueryStatus: q.status}, nil
}
