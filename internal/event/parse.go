package event

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// strRef locates a decoded string in parser.scratch.
type strRef struct{ off, n int32 }

// resRef is one element of the resources array: its type, and its name
// candidates in order of preference (ARN, ARNPrefix, resourceName, name).
type resRef struct {
	typ   strRef
	names [4]strRef
}

// Bits of fields.seen.
const (
	seenEventVersion = 1 << iota
	seenEventTime
	seenEventID
	seenEventSource
	seenEventName
	seenAWSRegion
	seenInsight
	seenInsightSource
	seenInsightName
	seenReadOnly
	seenManagement
	seenAggID
	seenWindowStart
)

// fields collects what the pass extracts; strings are refs into
// parser.scratch until the Record is built.
type fields struct {
	seen uint32

	eventVersion, eventID, eventSource, eventName, eventType, eventCategory strRef
	awsRegion, sourceIP, userAgent, errorCode, recipient                    strRef
	insightSource, insightName                                              strRef
	// aggID and aggAccount are the top-level eventId and accountId, and
	// windowStart timeWindow.windowStart: aggregated events name these
	// members so (see isAggregated).
	aggID, aggAccount strRef
	windowStart       time.Time

	uiType, uiUserName, uiPrincipal, uiARN, uiAccount, uiAccessKey, uiInvokedBy strRef
	issuerUserName                                                              strRef

	eventTime                 time.Time
	readOnly, managementEvent bool
}

// parser is the state of one Parse call; parsers are pooled.
type parser struct {
	src  []byte
	pos  int
	out  []byte // compact copy of src[:mark]
	mark int    // src[mark:pos] is not yet copied to out
	buf  []byte // out's storage between parsePrefix calls

	str     strSpan    // the string scanned last
	tmp     []byte     // decoded strings that are only checked
	scratch []byte     // decoded strings the Record keeps
	keys    []keyEntry // keys of the open objects, for duplicate detection
	path    [maxDepth + 1]pathElem
	maxPath int
	verr    *ValidationError // first validation error
	f       fields
	res     []resRef
}

var parsers = sync.Pool{New: func() any { return new(parser) }}

// Parse checks that raw is one CloudTrail record as the package comment
// describes and returns it with its indexed fields extracted. raw is
// read once and not retained: Record.Raw is a compact copy. The error is
// one of ErrTooLarge (wrapped), *SyntaxError or *ValidationError.
func Parse(raw []byte) (*Record, error) {
	if len(raw) > MaxRecordSize {
		return nil, fmt.Errorf("record is %d bytes: %w", len(raw), ErrTooLarge)
	}
	p := parsers.Get().(*parser)
	rec, err := p.parse(raw)
	p.release()
	parsers.Put(p)
	return rec, err
}

// release drops every reference to the input so a pooled parser retains
// nothing of it.
func (p *parser) release() {
	clear(p.keys[:cap(p.keys)])
	p.keys = p.keys[:0]
	clear(p.path[:p.maxPath+1])
	p.maxPath = 0
	p.src, p.out, p.verr = nil, nil, nil
	p.pos, p.mark = 0, 0
	p.f = fields{}
	p.res = p.res[:0]
	const keep = 16 << 10
	if cap(p.scratch) > keep {
		p.scratch = nil
	}
	if cap(p.tmp) > keep {
		p.tmp = nil
	}
	if cap(p.buf) > keep {
		p.buf = nil
	}
	p.scratch, p.tmp = p.scratch[:0], p.tmp[:0]
}

func (p *parser) parse(raw []byte) (*Record, error) {
	p.src = raw
	p.out = make([]byte, 0, len(raw))
	p.ws()
	if p.pos < len(raw) && raw[p.pos] != '{' {
		if _, err := p.value(0); err != nil {
			return nil, err
		}
		if err := p.end(); err != nil {
			return nil, err
		}
		return nil, &ValidationError{Reason: "record is not a JSON object"}
	}
	if p.pos >= len(raw) {
		return nil, p.syntaxErr(p.pos, 0, "empty input")
	}
	if err := p.record(); err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	if p.verr != nil {
		return nil, p.verr
	}
	if err := p.checkRequired(); err != nil {
		return nil, err
	}
	out := append(p.out, raw[p.mark:]...)
	if cap(out)-len(out) > len(out)/8 {
		out = append(make([]byte, 0, len(out)), out...)
	}
	return p.build(out), nil
}

// parsePrefix parses the record that starts at src[0], a '{', without
// looking past its end, and returns it with n, the bytes it spans. When the
// record is well-formed JSON but not a valid record, or is over
// MaxRecordSize, rec is nil, n is its length and err is non-nil; when it is
// not well-formed, n is 0. The Record is what Parse(src[:n]) returns.
func (p *parser) parsePrefix(src []byte) (rec *Record, n int, err error) {
	p.src = src
	p.out = p.buf[:0]
	if err := p.record(); err != nil {
		return nil, 0, err
	}
	n = p.pos
	switch {
	case n > MaxRecordSize:
		return nil, n, ErrTooLarge
	case p.verr != nil:
		return nil, n, p.verr
	}
	if err := p.checkRequired(); err != nil {
		return nil, n, err
	}
	out := make([]byte, 0, len(p.out)+n-p.mark)
	out = append(append(out, p.out...), src[p.mark:n]...)
	p.buf = p.out[:0]
	return p.build(out), n, nil
}

// end checks that only whitespace follows the record.
func (p *parser) end() error {
	p.ws()
	if p.pos < len(p.src) {
		return p.syntaxErr(p.pos, 0, "unexpected "+quoteByte(p.src[p.pos])+" after the record")
	}
	return nil
}

// record walks the top-level object.
func (p *parser) record() error {
	const d = 1
	var o objIter
	if err := p.openObject(&o, d); err != nil {
		return err
	}
	f := &p.f
	for {
		key, ok, err := p.nextKey(&o)
		if err != nil || !ok {
			return err
		}
		switch string(key) {
		case "eventVersion":
			err = p.keepChecked(d, &f.eventVersion, seenEventVersion, isVersion,
				"is not a version of the form <major>.<minor>")
		case "eventTime":
			start := p.pos
			if ok, err = p.stringMember(d); ok {
				if f.eventTime, ok = parseTime(p.strBytes()); !ok {
					p.invalid(d, start, "is not an RFC 3339 UTC time")
				}
				f.seen |= seenEventTime
			}
		case "eventID":
			err = p.keepChecked(d, &f.eventID, seenEventID, isEventID,
				"is not 1 to 128 characters of A-Z a-z 0-9 . _ : -")
		case "eventSource":
			err = p.keepString(d, &f.eventSource, seenEventSource)
		case "eventName":
			err = p.keepString(d, &f.eventName, seenEventName)
		case "awsRegion":
			err = p.keepChecked(d, &f.awsRegion, seenAWSRegion, isRegion,
				"is not 1 to 64 characters of a-z 0-9 -")
		case "recipientAccountId":
			err = p.keepChecked(d, &f.recipient, 0, isOptionalAccountID, "is not a 12-digit account ID")
		case "eventType":
			err = p.keepString(d, &f.eventType, 0)
		case "eventCategory":
			err = p.keepString(d, &f.eventCategory, 0)
		case "sourceIPAddress":
			err = p.keepString(d, &f.sourceIP, 0)
		case "userAgent":
			err = p.keepString(d, &f.userAgent, 0)
		case "errorCode":
			err = p.keepString(d, &f.errorCode, 0)
		case "errorMessage", "requestID", "apiVersion", "sharedEventID", "vpcEndpointId",
			"sessionCredentialFromConsole":
			_, err = p.stringMember(d)
		case "readOnly":
			if f.readOnly, ok, err = p.boolMember(d); ok {
				f.seen |= seenReadOnly
			}
		case "managementEvent":
			if f.managementEvent, ok, err = p.boolMember(d); ok {
				f.seen |= seenManagement
			}
		case "requestParameters", "responseElements":
			err = p.objectMember(d, true)
		case "additionalEventData", "serviceEventDetails", "addendum", "edgeDeviceDetails",
			"tlsDetails", "eventContext":
			err = p.objectMember(d, false)
		case "userIdentity":
			if p.at('{') {
				err = p.userIdentity(d + 1)
			} else {
				err = p.objectMember(d, false)
			}
		case "insightDetails":
			if p.at('{') {
				f.seen |= seenInsight
				err = p.insightDetails(d + 1)
			} else {
				err = p.objectMember(d, false)
			}
		case "eventId":
			if p.at('"') {
				err = p.keepString(d, &f.aggID, seenAggID)
			} else {
				_, err = p.value(d)
			}
		case "accountId":
			if p.at('"') {
				err = p.keepString(d, &f.aggAccount, 0)
			} else {
				_, err = p.value(d)
			}
		case "timeWindow":
			if p.at('{') {
				err = p.timeWindow(d + 1)
			} else {
				_, err = p.value(d)
			}
		case "resources":
			if p.at('[') {
				err = p.resources(d + 1)
			} else {
				start := p.pos
				if _, err = p.value(d); err == nil {
					p.invalid(d, start, "is not an array")
				}
			}
		default:
			_, err = p.value(d)
		}
		if err != nil {
			return err
		}
	}
}

// userIdentity walks the userIdentity object at depth d.
func (p *parser) userIdentity(d int) error {
	var o objIter
	if err := p.openObject(&o, d); err != nil {
		return err
	}
	f := &p.f
	for {
		key, ok, err := p.nextKey(&o)
		if err != nil || !ok {
			return err
		}
		switch string(key) {
		case "type":
			err = p.keepString(d, &f.uiType, 0)
		case "userName":
			err = p.keepString(d, &f.uiUserName, 0)
		case "principalId":
			err = p.keepString(d, &f.uiPrincipal, 0)
		case "arn":
			err = p.keepString(d, &f.uiARN, 0)
		case "accessKeyId":
			err = p.keepString(d, &f.uiAccessKey, 0)
		case "invokedBy":
			err = p.keepString(d, &f.uiInvokedBy, 0)
		case "accountId":
			err = p.keepChecked(d, &f.uiAccount, 0, isOptionalAccountID, "is not a 12-digit account ID")
		case "identityProvider", "credentialId":
			_, err = p.stringMember(d)
		case "inScopeOf", "onBehalfOf":
			err = p.objectMember(d, false)
		case "sessionContext":
			if p.at('{') {
				err = p.sessionContext(d + 1)
			} else {
				err = p.objectMember(d, false)
			}
		default:
			_, err = p.value(d)
		}
		if err != nil {
			return err
		}
	}
}

// sessionContext walks userIdentity.sessionContext at depth d.
func (p *parser) sessionContext(d int) error {
	var o objIter
	if err := p.openObject(&o, d); err != nil {
		return err
	}
	for {
		key, ok, err := p.nextKey(&o)
		if err != nil || !ok {
			return err
		}
		switch string(key) {
		case "attributes":
			if p.at('{') {
				err = p.stringsObject(d+1, nil)
			} else {
				err = p.objectMember(d, false)
			}
		case "sessionIssuer":
			if p.at('{') {
				err = p.stringsObject(d+1, &p.f.issuerUserName)
			} else {
				err = p.objectMember(d, false)
			}
		case "webIdFederationData":
			err = p.objectMember(d, false)
		case "sourceIdentity", "ec2RoleDelivery":
			_, err = p.stringMember(d)
		default:
			_, err = p.value(d)
		}
		if err != nil {
			return err
		}
	}
}

// stringsObject walks an object at depth d whose members must all be
// strings (sessionContext.attributes and .sessionIssuer), keeping its
// userName in *userName when userName is not nil.
func (p *parser) stringsObject(d int, userName *strRef) error {
	var o objIter
	if err := p.openObject(&o, d); err != nil {
		return err
	}
	for {
		key, ok, err := p.nextKey(&o)
		if err != nil || !ok {
			return err
		}
		if userName != nil && string(key) == "userName" {
			err = p.keepString(d, userName, 0)
		} else {
			_, err = p.stringMember(d)
		}
		if err != nil {
			return err
		}
	}
}

// insightDetails walks the insightDetails object at depth d.
func (p *parser) insightDetails(d int) error {
	var o objIter
	if err := p.openObject(&o, d); err != nil {
		return err
	}
	f := &p.f
	for {
		key, ok, err := p.nextKey(&o)
		if err != nil || !ok {
			return err
		}
		switch string(key) {
		case "eventSource":
			err = p.keepString(d, &f.insightSource, seenInsightSource)
		case "eventName":
			err = p.keepString(d, &f.insightName, seenInsightName)
		case "state", "insightType", "errorCode":
			_, err = p.stringMember(d)
		case "insightContext":
			err = p.objectMember(d, false)
		default:
			_, err = p.value(d)
		}
		if err != nil {
			return err
		}
	}
}

// timeWindow walks an aggregated event's timeWindow object at depth d,
// keeping windowStart when it is a valid time (checkRequired reports it
// when the record is an aggregated event).
func (p *parser) timeWindow(d int) error {
	var o objIter
	if err := p.openObject(&o, d); err != nil {
		return err
	}
	f := &p.f
	for {
		key, ok, err := p.nextKey(&o)
		if err != nil || !ok {
			return err
		}
		if string(key) == "windowStart" && p.at('"') {
			if ok, err = p.stringMember(d); ok {
				if t, valid := parseTime(p.strBytes()); valid {
					f.windowStart = t
					f.seen |= seenWindowStart
				}
			}
		} else {
			_, err = p.value(d)
		}
		if err != nil {
			return err
		}
	}
}

// at reports whether the next byte is c.
func (p *parser) at(c byte) bool {
	return p.pos < len(p.src) && p.src[p.pos] == c
}

// stringMember scans a member value and reports whether it is a string,
// recording a validation error when it is not.
func (p *parser) stringMember(d int) (bool, error) {
	start := p.pos
	k, err := p.value(d)
	if err != nil {
		return false, err
	}
	if k != kindString {
		p.invalid(d, start, "is not a string")
		return false, nil
	}
	return true, nil
}

// keepString scans a member that must be a string and keeps it in *ref,
// setting seen in p.f.seen.
func (p *parser) keepString(d int, ref *strRef, seen uint32) error {
	ok, err := p.stringMember(d)
	if ok {
		*ref = p.keep()
		p.f.seen |= seen
	}
	return err
}

// keepChecked is keepString for a member whose value must also pass
// valid; reason says what is wrong when it does not.
func (p *parser) keepChecked(d int, ref *strRef, seen uint32, valid func([]byte) bool, reason string) error {
	start := p.pos
	ok, err := p.stringMember(d)
	if ok {
		if !valid(p.strBytes()) {
			p.invalid(d, start, reason)
		}
		*ref = p.keep()
		p.f.seen |= seen
	}
	return err
}

// boolMember scans a member value that must be a boolean.
func (p *parser) boolMember(d int) (v, ok bool, err error) {
	start := p.pos
	k, err := p.value(d)
	if err != nil {
		return false, false, err
	}
	if k != kindBool {
		p.invalid(d, start, "is not a boolean")
		return false, false, nil
	}
	return p.src[start] == 't', true, nil
}

// objectMember scans a member value that must be an object (or null when
// nullOK).
func (p *parser) objectMember(d int, nullOK bool) error {
	start := p.pos
	k, err := p.value(d)
	if err != nil {
		return err
	}
	switch {
	case k == kindObject, k == kindNull && nullOK:
	case nullOK:
		p.invalid(d, start, "is not an object or null")
	default:
		p.invalid(d, start, "is not an object")
	}
	return nil
}

// strBytes returns the last scanned string, unescaped. The result is valid
// until the next call.
func (p *parser) strBytes() []byte {
	s := p.str
	if !s.esc {
		return p.src[s.start:s.end]
	}
	p.tmp = appendUnescaped(p.tmp[:0], p.src[s.start:s.end])
	return p.tmp
}

// keep copies the last scanned string, unescaped, into scratch.
func (p *parser) keep() strRef {
	s := p.str
	off := len(p.scratch)
	if s.esc {
		p.scratch = appendUnescaped(p.scratch, p.src[s.start:s.end])
	} else {
		p.scratch = append(p.scratch, p.src[s.start:s.end]...)
	}
	return strRef{off: int32(off), n: int32(len(p.scratch) - off)}
}

func (p *parser) ref(r strRef) []byte {
	return p.scratch[r.off : r.off+r.n]
}

// invalid records a validation error for the member at depth d whose JSON
// text starts at start and ends at p.pos, unless one is recorded already.
func (p *parser) invalid(d, start int, reason string) {
	if p.verr == nil {
		p.verr = &ValidationError{Field: p.pathString(d), Value: errorValue(p.src[start:p.pos]), Reason: reason}
	}
}

func (p *parser) syntaxErr(off, d int, msg string) error {
	return &SyntaxError{Offset: off, Field: p.pathString(d), Msg: msg}
}

// pathString renders the path to the member at depth d.
func (p *parser) pathString(d int) string {
	var b strings.Builder
	for i := 1; i <= d && i <= maxDepth; i++ {
		e := p.path[i]
		if e.isIdx {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.idx))
			b.WriteByte(']')
			continue
		}
		if i > 1 {
			b.WriteByte('.')
		}
		b.Write(e.key)
	}
	return b.String()
}

// checkRequired reports the first required member that is missing.
func (p *parser) checkRequired() error {
	f := &p.f
	missing := func(field string) error {
		return &ValidationError{Field: field, Reason: "is required"}
	}
	empty := func(field string) error {
		return &ValidationError{Field: field, Value: `""`, Reason: "is empty"}
	}
	if p.isAggregated() {
		return p.checkAggregated()
	}
	switch {
	case f.seen&seenEventVersion == 0:
		return missing("eventVersion")
	case f.seen&seenEventTime == 0:
		return missing("eventTime")
	case f.seen&seenEventID == 0:
		return missing("eventID")
	}
	if p.isInsight() {
		switch {
		case f.seen&seenInsight == 0:
			return &ValidationError{Field: "insightDetails", Reason: "is required in an Insights event"}
		case f.seen&seenInsightSource == 0:
			return missing("insightDetails.eventSource")
		case f.insightSource.n == 0:
			return empty("insightDetails.eventSource")
		case f.seen&seenInsightName == 0:
			return missing("insightDetails.eventName")
		case f.insightName.n == 0:
			return empty("insightDetails.eventName")
		}
	} else {
		switch {
		case f.seen&seenEventSource == 0:
			return missing("eventSource")
		case f.eventSource.n == 0:
			return empty("eventSource")
		case f.seen&seenEventName == 0:
			return missing("eventName")
		case f.eventName.n == 0:
			return empty("eventName")
		}
	}
	if f.seen&seenAWSRegion == 0 {
		return missing("awsRegion")
	}
	if f.recipient.n == 0 && f.uiAccount.n == 0 {
		return &ValidationError{Field: "recipientAccountId", Reason: "is required when userIdentity.accountId is absent or empty"}
	}
	return nil
}

const insightEventType = "AwsCloudTrailInsight"

// AggregatedEventType is the eventType of CloudTrail's aggregated events
// (5-minute summaries of data events), whose records differ from the
// others: eventId, accountId and timeWindow.windowStart take the places of
// eventID, recipientAccountId and eventTime, and there is no eventName.
const AggregatedEventType = "AwsAggregatedEvent"

func (p *parser) isAggregated() bool {
	return string(p.ref(p.f.eventType)) == AggregatedEventType
}

// checkAggregated reports the first required member of an aggregated
// event that is missing or invalid.
func (p *parser) checkAggregated() error {
	f := &p.f
	missing := func(field string) error {
		return &ValidationError{Field: field, Reason: "is required in an aggregated event"}
	}
	switch {
	case f.seen&seenEventVersion == 0:
		return missing("eventVersion")
	case f.seen&seenAggID == 0:
		return missing("eventId")
	case !isEventID(p.ref(f.aggID)):
		return &ValidationError{Field: "eventId", Value: strconv.Quote(string(p.ref(f.aggID))),
			Reason: "is not 1 to 128 characters of A-Z a-z 0-9 . _ : -"}
	case f.seen&seenWindowStart == 0:
		return &ValidationError{Field: "timeWindow.windowStart", Reason: "is required in an aggregated event, as an RFC 3339 time"}
	case f.seen&seenEventSource == 0 || f.eventSource.n == 0:
		return missing("eventSource")
	case f.seen&seenAWSRegion == 0:
		return missing("awsRegion")
	case !isAccountID(p.ref(f.aggAccount)):
		return &ValidationError{Field: "accountId", Value: strconv.Quote(string(p.ref(f.aggAccount))),
			Reason: "is required in an aggregated event, as a 12-digit account ID"}
	}
	return nil
}

func (p *parser) isInsight() bool {
	return string(p.ref(p.f.eventType)) == insightEventType
}

// build assembles the Record from the extracted fields; raw is its Raw.
func (p *parser) build(raw []byte) *Record {
	f := &p.f
	user := p.username()
	blob := string(p.scratch)
	str := func(r strRef) string { return blob[r.off : r.off+r.n] }

	rec := &Record{
		Raw:          raw,
		EventID:      str(f.eventID),
		EventTime:    f.eventTime,
		EventVersion: str(f.eventVersion),
		EventSource:  str(f.eventSource),
		EventName:    str(f.eventName),
		EventType:    str(f.eventType),
		AWSRegion:    str(f.awsRegion),
		SourceIP:     str(f.sourceIP),
		UserAgent:    str(f.userAgent),
		ErrorCode:    str(f.errorCode),
		AccountID:    str(f.recipient),
		AccessKeyID:  str(f.uiAccessKey),
		ReadOnly:     f.readOnly,
		ReadOnlySet:  f.seen&seenReadOnly != 0,
	}
	if rec.AccountID == "" {
		rec.AccountID = str(f.uiAccount)
	}
	switch user.n {
	case userRoot:
		rec.Username = "root"
	default:
		rec.Username = str(user)
	}

	aggregated := rec.EventType == AggregatedEventType
	if aggregated {
		rec.EventID, rec.EventTime = str(f.aggID), f.windowStart
		if rec.AccountID == "" {
			rec.AccountID = str(f.aggAccount)
		}
	}
	insight := rec.EventType == insightEventType
	if insight {
		rec.EventSource = str(f.insightSource)
		rec.EventName = str(f.insightName)
	}
	switch {
	case f.eventCategory.n > 0:
		rec.EventCategory = str(f.eventCategory)
	case insight:
		rec.EventCategory = CategoryInsight
	case aggregated:
		rec.EventCategory = CategoryAggregated
	case f.seen&seenManagement != 0 && !f.managementEvent:
		rec.EventCategory = CategoryData
	default:
		rec.EventCategory = CategoryManagement
	}
	if f.seen&seenManagement != 0 {
		rec.ManagementEvent = f.managementEvent
	} else {
		rec.ManagementEvent = rec.EventCategory == CategoryManagement
	}

	rec.Resources = p.resourceList(str)
	return rec
}

// userRoot is the strRef.n username returns for a Root identity.
const userRoot = -1

// username returns the Username as a ref into scratch, or a ref whose n is
// userRoot.
func (p *parser) username() strRef {
	f := &p.f
	var user strRef
	switch string(p.ref(f.uiType)) {
	case "Root":
		return strRef{n: userRoot}
	case "IAMUser":
		user = f.uiUserName
	case "AssumedRole", "Role":
		user = p.afterPrefix(f.uiARN, ":assumed-role/")
		if user.n > 0 {
			// assumed-role/<role>/<session>: keep <session>.
			s := p.ref(user)
			i := bytes.LastIndexByte(s, '/')
			if i < 0 {
				user = strRef{}
			} else {
				user = strRef{off: user.off + int32(i) + 1, n: user.n - int32(i) - 1}
			}
		}
		if user.n == 0 {
			user = f.issuerUserName
		}
	case "FederatedUser":
		user = p.afterPrefix(f.uiARN, ":federated-user/")
	case "AWSService":
		user = f.uiInvokedBy
	}
	if user.n == 0 {
		user = f.uiUserName
	}
	if user.n == 0 {
		user = f.uiPrincipal
	}
	return user
}

// afterPrefix returns the part of the string r after the first occurrence
// of sep, or an empty ref.
func (p *parser) afterPrefix(r strRef, sep string) strRef {
	s := p.ref(r)
	i := bytes.Index(s, []byte(sep))
	if i < 0 {
		return strRef{}
	}
	i += len(sep)
	return strRef{off: r.off + int32(i), n: r.n - int32(i)}
}
