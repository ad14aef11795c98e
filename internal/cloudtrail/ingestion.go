package cloudtrail

import (
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// ingestionLog keeps each channel's latest PutAuditEvents activity for
// GetChannel's IngestionStatus. It lives in memory and starts empty.
type ingestionLog struct {
	mu sync.Mutex
	m  map[string]*IngestionStatus
}

func newIngestionLog() *ingestionLog {
	return &ingestionLog{m: make(map[string]*IngestionStatus)}
}

// record notes one PutAuditEvents call on channel arn at t. lastID is the
// eventID of the request's last valid event ("" if none), okID that of
// its last stored event ("" if none), errCode a failure code of the
// request ("" if every event succeeded).
func (l *ingestionLog) record(arn string, t time.Time, lastID, okID, errCode string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.m[arn]
	if st == nil {
		st = &IngestionStatus{}
		l.m[arn] = st
	}
	st.LatestIngestionAttemptTime = &awsapi.Time{Time: t}
	st.LatestIngestionAttemptEventID = lastID
	if okID != "" {
		st.LatestIngestionSuccessTime = &awsapi.Time{Time: t}
		st.LatestIngestionSuccessEventID = okID
	}
	if errCode != "" {
		st.LatestIngestionErrorCode = errCode
	}
}

func (l *ingestionLog) get(arn string) IngestionStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.m[arn]; st != nil {
		return *st
	}
	return IngestionStatus{}
}

func (l *ingestionLog) forget(arn string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, arn)
}

// RecordIngestion notes one PutAuditEvents call on channel arn at t, for
// GetChannel's IngestionStatus (internal/cloudtraildata calls it). lastID
// is the eventID of the request's last valid event ("" if none), okID that
// of its last stored event ("" if none), errCode a failure code of the
// request ("" if every event succeeded).
func (s *Service) RecordIngestion(arn string, t time.Time, lastID, okID, errCode string) {
	s.status.record(arn, t, lastID, okID, errCode)
}
