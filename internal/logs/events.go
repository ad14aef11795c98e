package logs

import (
	"context"
	"strconv"

	"github.com/opentrail/opentrail/internal/logwatch"
	"github.com/opentrail/opentrail/internal/pagetoken"
)

// CreateLogStreamInput is CreateLogStream's request.
type CreateLogStreamInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

// CreateLogStream creates a stream.
func (s *Service) CreateLogStream(ctx context.Context, in *CreateLogStreamInput) (*Empty, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := required("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	return nil, wire(s.groups.CreateLogStream(ctx, acc, reg, in.LogGroupName, in.LogStreamName))
}

// DescribeLogStreamsInput is DescribeLogStreams' request.
type DescribeLogStreamsInput struct {
	LogGroupName        *string `json:"logGroupName,omitempty"`
	LogGroupIdentifier  *string `json:"logGroupIdentifier,omitempty"`
	LogStreamNamePrefix *string `json:"logStreamNamePrefix,omitempty"`
	OrderBy             *string `json:"orderBy,omitempty"`
	Descending          *bool   `json:"descending,omitempty"`
	NextToken           *string `json:"nextToken,omitempty"`
	Limit               *int32  `json:"limit,omitempty"`
}

// LogStream is one stream in DescribeLogStreams' answer.
type LogStream struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
	UploadSequenceToken string `json:"uploadSequenceToken"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

// DescribeLogStreamsOutput is DescribeLogStreams' answer.
type DescribeLogStreamsOutput struct {
	LogStreams []LogStream `json:"logStreams"`
	NextToken  *string     `json:"nextToken,omitempty"`
}

// DescribeLogStreams lists a group's streams.
func (s *Service) DescribeLogStreams(ctx context.Context, in *DescribeLogStreamsInput) (*DescribeLogStreamsOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	lim, err := limit("limit", in.Limit, 50)
	if err != nil {
		return nil, err
	}
	var q logwatch.StreamQuery
	if in.OrderBy != nil {
		switch *in.OrderBy {
		case "LogStreamName":
		case "LastEventTime":
			q.ByLastEventTime = true
		default:
			return nil, validation("orderBy", "'"+*in.OrderBy+"'", "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
		}
	}
	if in.LogStreamNamePrefix != nil {
		if q.ByLastEventTime {
			return nil, invalidf("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
		q.Prefix = *in.LogStreamNamePrefix
	}
	q.Descending = in.Descending != nil && *in.Descending
	qh := pagetoken.NewHasher().Str(acc).Str(reg).Str(group).Str(q.Prefix).Int(b2i(q.ByLastEventTime)).Int(b2i(q.Descending)).Sum()
	off, err := s.page(pagetoken.KindLogStreams, qh, in.NextToken)
	if err != nil {
		return nil, err
	}
	all, err := s.groups.LogStreams(ctx, acc, reg, group, q)
	if err != nil {
		return nil, wire(err)
	}
	lo, hi, next := window(len(all), off, lim)
	out := &DescribeLogStreamsOutput{LogStreams: []LogStream{}, NextToken: s.issue(pagetoken.KindLogStreams, qh, next)}
	for _, st := range all[lo:hi] {
		ls := LogStream{LogStreamName: st.Name, CreationTime: st.Created.UnixMilli(), StoredBytes: st.StoredBytes,
			Arn:                 logwatch.GroupARN(acc, reg, group) + ":log-stream:" + st.Name,
			UploadSequenceToken: sequenceToken(st.LastIn)}
		ls.FirstEventTimestamp, ls.LastEventTimestamp, ls.LastIngestionTime = millis(st.FirstEvent), millis(st.LastEvent), millis(st.LastIn)
		out.LogStreams = append(out.LogStreams, ls)
	}
	return out, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// InputLogEvent is one PutLogEvents event.
type InputLogEvent struct {
	Timestamp *int64  `json:"timestamp"`
	Message   *string `json:"message"`
}

// PutLogEventsInput is PutLogEvents' request. sequenceToken is accepted
// and ignored, as AWS now does.
type PutLogEventsInput struct {
	LogGroupName  string          `json:"logGroupName"`
	LogStreamName string          `json:"logStreamName"`
	LogEvents     []InputLogEvent `json:"logEvents"`
	SequenceToken *string         `json:"sequenceToken,omitempty"`
}

// RejectedLogEventsInfo tells which events were refused.
type RejectedLogEventsInfo struct {
	TooNewLogEventStartIndex *int32 `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int32 `json:"tooOldLogEventEndIndex,omitempty"`
	ExpiredLogEventEndIndex  *int32 `json:"expiredLogEventEndIndex,omitempty"`
}

// PutLogEventsOutput is PutLogEvents' answer.
type PutLogEventsOutput struct {
	NextSequenceToken     *string                `json:"nextSequenceToken,omitempty"`
	RejectedLogEventsInfo *RejectedLogEventsInfo `json:"rejectedLogEventsInfo,omitempty"`
}

// PutLogEvents appends events to a stream.
func (s *Service) PutLogEvents(ctx context.Context, in *PutLogEventsInput) (*PutLogEventsOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := required("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := required("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	if in.LogEvents == nil {
		return nil, validation("logEvents", "null", "Member must not be null")
	}
	evs := make([]logwatch.InputEvent, len(in.LogEvents))
	for i, e := range in.LogEvents {
		if e.Timestamp == nil {
			return nil, validation("logEvents."+strconv.Itoa(i+1)+".member.timestamp", "null", "Member must not be null")
		}
		if e.Message == nil {
			return nil, validation("logEvents."+strconv.Itoa(i+1)+".member.message", "null", "Member must not be null")
		}
		evs[i] = logwatch.InputEvent{Timestamp: *e.Timestamp, Message: *e.Message}
	}
	rej, err := s.groups.PutLogEvents(ctx, acc, reg, in.LogGroupName, in.LogStreamName, evs)
	if err != nil {
		return nil, wire(err)
	}
	out := &PutLogEventsOutput{}
	if rej.TooNewStart >= 0 || rej.TooOldEnd >= 0 || rej.ExpiredEnd >= 0 {
		out.RejectedLogEventsInfo = &RejectedLogEventsInfo{
			TooNewLogEventStartIndex: index(rej.TooNewStart), TooOldLogEventEndIndex: index(rej.TooOldEnd),
			ExpiredLogEventEndIndex: index(rej.ExpiredEnd)}
	}
	return out, nil
}

func index(i int) *int32 {
	if i < 0 {
		return nil
	}
	v := int32(i)
	return &v
}

// GetLogEventsInput is GetLogEvents' request.
type GetLogEventsInput struct {
	LogGroupName       *string `json:"logGroupName,omitempty"`
	LogGroupIdentifier *string `json:"logGroupIdentifier,omitempty"`
	LogStreamName      string  `json:"logStreamName"`
	StartTime          *int64  `json:"startTime,omitempty"`
	EndTime            *int64  `json:"endTime,omitempty"`
	NextToken          *string `json:"nextToken,omitempty"`
	Limit              *int32  `json:"limit,omitempty"`
	StartFromHead      *bool   `json:"startFromHead,omitempty"`
	Unmask             *bool   `json:"unmask,omitempty"`
}

// OutputLogEvent is one event in GetLogEvents' answer.
type OutputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

// GetLogEventsOutput is GetLogEvents' answer.
type GetLogEventsOutput struct {
	Events            []OutputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

// GetLogEvents reads a stream's events.
func (s *Service) GetLogEvents(ctx context.Context, in *GetLogEventsInput) (*GetLogEventsOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if err := required("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	lim, err := limit("limit", in.Limit, 10000)
	if err != nil {
		return nil, err
	}
	q := logwatch.GetQuery{Start: in.StartTime, End: in.EndTime, Limit: lim, FromHead: in.StartFromHead != nil && *in.StartFromHead}
	if in.NextToken != nil {
		q.Token = *in.NextToken
	}
	res, err := s.groups.GetLogEvents(ctx, acc, reg, group, in.LogStreamName, q)
	if err != nil {
		return nil, wire(err)
	}
	out := &GetLogEventsOutput{Events: []OutputLogEvent{}, NextForwardToken: res.Forward, NextBackwardToken: res.Backward}
	for _, e := range res.Events {
		out.Events = append(out.Events, OutputLogEvent{Timestamp: e.Timestamp, Message: e.Message, IngestionTime: e.Ingest})
	}
	return out, nil
}

// FilterLogEventsInput is FilterLogEvents' request.
type FilterLogEventsInput struct {
	LogGroupName        *string  `json:"logGroupName,omitempty"`
	LogGroupIdentifier  *string  `json:"logGroupIdentifier,omitempty"`
	LogStreamNames      []string `json:"logStreamNames,omitempty"`
	LogStreamNamePrefix *string  `json:"logStreamNamePrefix,omitempty"`
	StartTime           *int64   `json:"startTime,omitempty"`
	EndTime             *int64   `json:"endTime,omitempty"`
	FilterPattern       *string  `json:"filterPattern,omitempty"`
	NextToken           *string  `json:"nextToken,omitempty"`
	Limit               *int32   `json:"limit,omitempty"`
	Interleaved         *bool    `json:"interleaved,omitempty"`
	Unmask              *bool    `json:"unmask,omitempty"`
}

// FilteredLogEvent is one event in FilterLogEvents' answer.
type FilteredLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

// SearchedLogStream says whether a stream was searched to the end.
type SearchedLogStream struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

// FilterLogEventsOutput is FilterLogEvents' answer.
type FilterLogEventsOutput struct {
	Events             []FilteredLogEvent  `json:"events"`
	SearchedLogStreams []SearchedLogStream `json:"searchedLogStreams"`
	NextToken          *string             `json:"nextToken,omitempty"`
}

// FilterLogEvents searches a group's events with a filter pattern.
func (s *Service) FilterLogEvents(ctx context.Context, in *FilterLogEventsInput) (*FilterLogEventsOutput, error) {
	acc, reg, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	lim, err := limit("limit", in.Limit, 10000)
	if err != nil {
		return nil, err
	}
	if in.LogStreamNames != nil && in.LogStreamNamePrefix != nil {
		return nil, invalidf("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	if len(in.LogStreamNames) > 100 {
		return nil, validation("logStreamNames", "'["+strconv.Itoa(len(in.LogStreamNames))+" names]'", "Member must have length less than or equal to 100")
	}
	q := logwatch.FilterQuery{Start: in.StartTime, End: in.EndTime, Streams: in.LogStreamNames, Limit: lim}
	if in.LogStreamNamePrefix != nil {
		q.StreamPrefix = *in.LogStreamNamePrefix
	}
	if in.FilterPattern != nil {
		q.Pattern = *in.FilterPattern
	}
	h := pagetoken.NewHasher().Str(acc).Str(reg).Str(group).Str(q.StreamPrefix).Str(q.Pattern).Int(opt(in.StartTime)).Int(opt(in.EndTime))
	for _, n := range in.LogStreamNames {
		h.Str(n)
	}
	qh := h.Sum()
	if in.NextToken != nil {
		b, err := s.tokens.Open(pagetoken.KindFilterLogEvents, qh, *in.NextToken)
		if err != nil {
			return nil, invalidf("The specified nextToken is invalid.")
		}
		q.After = string(b)
	}
	res, err := s.groups.FilterLogEvents(ctx, acc, reg, group, q)
	if err != nil {
		return nil, wire(err)
	}
	out := &FilterLogEventsOutput{Events: []FilteredLogEvent{}, SearchedLogStreams: []SearchedLogStream{}}
	for _, e := range res.Events {
		out.Events = append(out.Events, FilteredLogEvent{LogStreamName: e.Stream, Timestamp: e.Timestamp, Message: e.Message,
			IngestionTime: e.Ingest, EventID: e.ID})
	}
	for _, n := range res.Searched {
		out.SearchedLogStreams = append(out.SearchedLogStreams, SearchedLogStream{LogStreamName: n, SearchedCompletely: res.Next == ""})
	}
	if res.Next != "" {
		t := s.tokens.Issue(pagetoken.KindFilterLogEvents, qh, []byte(res.Next))
		out.NextToken = &t
	}
	return out, nil
}

func opt(v *int64) int64 {
	if v == nil {
		return -1 << 62
	}
	return *v
}
