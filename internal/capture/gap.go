package capture

import (
	"encoding/json"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// A gap record says that calls were answered while their records could
// not be stored (fail_open, or reads recorded after the fact): once the
// store commits again, the gateway and the middleware write one per
// account affected.
const (
	GapEventSource = "capture.opentrail"
	GapEventName   = "CaptureGap"
)

// Gap is one account's run of calls answered unrecorded.
type Gap struct {
	Account, Region string
	// First and Last are when the first and the last of those calls
	// arrived.
	First, Last time.Time
	// CallsForwarded counts the calls answered while their records could
	// not be stored; RecordsRecoveredLate those whose records were written
	// later from the queue; RecordsLost those whose records were dropped
	// (the queue was full, or the process stopped).
	CallsForwarded, RecordsRecoveredLate, RecordsLost int
	// Reason is the store's error.
	Reason string
}

type gapIdentity struct {
	AccountID string `json:"accountId"`
	InvokedBy string `json:"invokedBy"`
}

type gapDetails struct {
	FirstUnrecordedTime  string `json:"firstUnrecordedTime"`
	LastUnrecordedTime   string `json:"lastUnrecordedTime"`
	CallsForwarded       int    `json:"callsForwarded"`
	RecordsRecoveredLate int    `json:"recordsRecoveredLate"`
	RecordsLost          int    `json:"recordsLost"`
	Reason               string `json:"reason"`
}

type gapRecord struct {
	EventVersion        string      `json:"eventVersion"`
	UserIdentity        gapIdentity `json:"userIdentity"`
	EventTime           string      `json:"eventTime"`
	EventSource         string      `json:"eventSource"`
	EventName           string      `json:"eventName"`
	AWSRegion           string      `json:"awsRegion"`
	SourceIPAddress     string      `json:"sourceIPAddress"`
	UserAgent           string      `json:"userAgent"`
	RequestParameters   any         `json:"requestParameters"`
	ResponseElements    any         `json:"responseElements"`
	EventID             string      `json:"eventID"`
	ReadOnly            bool        `json:"readOnly"`
	EventType           string      `json:"eventType"`
	ManagementEvent     bool        `json:"managementEvent"`
	RecipientAccountID  string      `json:"recipientAccountId"`
	ServiceEventDetails gapDetails  `json:"serviceEventDetails"`
	EventCategory       string      `json:"eventCategory"`
}

// GapRecord is g's CaptureGap record, written at now with eventID (keep it
// across retries, so that a write retried after an unclear failure is
// stored once): eventType AwsServiceEvent, readOnly false, managementEvent
// true, and serviceEventDetails firstUnrecordedTime, lastUnrecordedTime,
// callsForwarded, recordsRecoveredLate, recordsLost and reason. An empty
// Region is us-east-1.
func GapRecord(g Gap, eventID string, now time.Time) []byte {
	if g.Region == "" {
		g.Region = "us-east-1"
	}
	const layout = "2006-01-02T15:04:05Z"
	b, _ := json.Marshal(gapRecord{
		EventVersion:       awsapi.AuditEventVersion,
		UserIdentity:       gapIdentity{AccountID: g.Account, InvokedBy: GapEventSource},
		EventTime:          now.UTC().Format(layout),
		EventSource:        GapEventSource,
		EventName:          GapEventName,
		AWSRegion:          g.Region,
		SourceIPAddress:    GapEventSource,
		UserAgent:          GapEventSource,
		EventID:            eventID,
		EventType:          "AwsServiceEvent",
		ManagementEvent:    true,
		RecipientAccountID: g.Account,
		ServiceEventDetails: gapDetails{
			FirstUnrecordedTime:  g.First.UTC().Format(layout),
			LastUnrecordedTime:   g.Last.UTC().Format(layout),
			CallsForwarded:       g.CallsForwarded,
			RecordsRecoveredLate: g.RecordsRecoveredLate,
			RecordsLost:          g.RecordsLost,
			Reason:               cut(g.Reason, maxRecordString),
		},
		EventCategory: "Management",
	})
	return b
}
