package users

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/opentrail/opentrail/internal/event"
)

// HiddenUserName is the userName CloudTrail records for a sign-in by a
// user name it does not know (it may be a password typed into the wrong
// field).
const HiddenUserName = "HIDDEN_DUE_TO_SECURITY_REASONS"

// loginRecord is a ConsoleLogin record, members in CloudTrail's order.
type loginRecord struct {
	EventVersion        string            `json:"eventVersion"`
	UserIdentity        loginIdentity     `json:"userIdentity"`
	EventTime           string            `json:"eventTime"`
	EventSource         string            `json:"eventSource"`
	EventName           string            `json:"eventName"`
	AWSRegion           string            `json:"awsRegion"`
	SourceIPAddress     string            `json:"sourceIPAddress"`
	UserAgent           string            `json:"userAgent"`
	ErrorMessage        string            `json:"errorMessage,omitempty"`
	RequestParameters   json.RawMessage   `json:"requestParameters"`
	ResponseElements    map[string]string `json:"responseElements"`
	AdditionalEventData loginData         `json:"additionalEventData"`
	EventID             string            `json:"eventID"`
	ReadOnly            bool              `json:"readOnly"`
	EventType           string            `json:"eventType"`
	ManagementEvent     bool              `json:"managementEvent"`
	RecipientAccountID  string            `json:"recipientAccountId"`
	EventCategory       string            `json:"eventCategory"`
}

type loginIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

type loginData struct {
	LoginTo       string `json:"LoginTo"`
	MobileVersion string `json:"MobileVersion"`
	MFAUsed       string `json:"MFAUsed"`
}

// maxUserAgent is CloudTrail's limit on userAgent.
const maxUserAgent = 1024

// LoginRecord builds the ConsoleLogin record of one sign-in attempt by u
// (nil for an unknown user name, recorded as HiddenUserName in the home
// account), at the store clock's time: responseElements.ConsoleLogin
// Success or Failure, errorMessage "Failed authentication" on failure,
// additionalEventData.MFAUsed Yes when the attempt reached the MFA code.
func (s *Store) LoginRecord(a Attempt, u *User, success, mfa bool) ([]*event.Record, error) {
	id := loginIdentity{Type: "IAMUser", AccountID: s.cfg.HomeAccount, UserName: HiddenUserName}
	if u != nil {
		p := s.Principal(*u)
		id = loginIdentity{Type: "IAMUser", PrincipalID: p.PrincipalID, ARN: p.ARN, AccountID: p.AccountID, UserName: p.UserName}
	}
	ua := a.UserAgent
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	rec := loginRecord{
		EventVersion: "1.08", UserIdentity: id,
		EventTime:   s.clk.Now().UTC().Format("2006-01-02T15:04:05Z"),
		EventSource: "signin.amazonaws.com", EventName: "ConsoleLogin", AWSRegion: s.cfg.Region,
		SourceIPAddress: a.SourceIP, UserAgent: ua,
		RequestParameters:   json.RawMessage("null"),
		ResponseElements:    map[string]string{"ConsoleLogin": "Success"},
		AdditionalEventData: loginData{LoginTo: a.LoginTo, MobileVersion: "No", MFAUsed: "No"},
		EventID:             newUUID(), EventType: "AwsConsoleSignIn", ManagementEvent: true,
		RecipientAccountID: id.AccountID, EventCategory: "Management",
	}
	if !success {
		rec.ResponseElements["ConsoleLogin"] = "Failure"
		rec.ErrorMessage = "Failed authentication"
	}
	if mfa {
		rec.AdditionalEventData.MFAUsed = "Yes"
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	r, err := event.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("users: ConsoleLogin record: %w", err)
	}
	return []*event.Record{r}, nil
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
