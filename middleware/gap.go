package middleware

import (
	"encoding/json"
	"time"

	"github.com/opentrail/opentrail/internal/awsapi"
)

// Gap records: what a CaptureGap record says, as docs/capture.md and
// docs/middleware.md describe it.
const (
	GapEventSource = "capture.opentrail"
	GapEventName   = "CaptureGap"
)

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

type gapRec struct {
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

const recordTime = "2006-01-02T15:04:05Z"

// gapRecord is the CaptureGap record of g, written at now.
func gapRecord(g *gap, region string, now time.Time) []byte {
	b, _ := json.Marshal(gapRec{
		EventVersion:       awsapi.AuditEventVersion,
		UserIdentity:       gapIdentity{AccountID: g.account, InvokedBy: GapEventSource},
		EventTime:          now.UTC().Format(recordTime),
		EventSource:        GapEventSource,
		EventName:          GapEventName,
		AWSRegion:          region,
		SourceIPAddress:    GapEventSource,
		UserAgent:          GapEventSource,
		EventID:            awsapi.NewUUID(),
		EventType:          "AwsServiceEvent",
		ManagementEvent:    true,
		RecipientAccountID: g.account,
		ServiceEventDetails: gapDetails{
			FirstUnrecordedTime:  g.first.UTC().Format(recordTime),
			LastUnrecordedTime:   g.last.UTC().Format(recordTime),
			CallsForwarded:       g.forwarded,
			RecordsRecoveredLate: g.late,
			RecordsLost:          g.lost,
			Reason:               awsapi.Clip(g.reason, 1024),
		},
		EventCategory: "Management",
	})
	return b
}
