package capture

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/event"
)

// Outcome values of an intent record's additionalEventData.outcome.
const OutcomeUnknown = "unknown"

// maxRecordString is CloudTrail's cap on userAgent, errorCode and
// errorMessage (1 KB); longer values are cut.
const maxRecordString = 1024

type identity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
}

// record is a CloudTrail record, its fields in CloudTrail's order.
type record struct {
	EventVersion        string                 `json:"eventVersion"`
	UserIdentity        identity               `json:"userIdentity"`
	EventTime           string                 `json:"eventTime"`
	EventSource         string                 `json:"eventSource"`
	EventName           string                 `json:"eventName"`
	AWSRegion           string                 `json:"awsRegion"`
	SourceIPAddress     string                 `json:"sourceIPAddress"`
	UserAgent           string                 `json:"userAgent,omitempty"`
	ErrorCode           string                 `json:"errorCode,omitempty"`
	ErrorMessage        string                 `json:"errorMessage,omitempty"`
	RequestParameters   map[string]any         `json:"requestParameters"`
	ResponseElements    map[string]any         `json:"responseElements"`
	AdditionalEventData map[string]any         `json:"additionalEventData,omitempty"`
	RequestID           string                 `json:"requestID,omitempty"`
	EventID             string                 `json:"eventID"`
	ReadOnly            bool                   `json:"readOnly"`
	Resources           []awsapi.AuditResource `json:"resources,omitempty"`
	EventType           string                 `json:"eventType"`
	ManagementEvent     bool                   `json:"managementEvent"`
	RecipientAccountID  string                 `json:"recipientAccountId,omitempty"`
	EventCategory       string                 `json:"eventCategory"`
	TLSDetails          *awsapi.TLSDetails     `json:"tlsDetails,omitempty"`
}

// Record writes the CloudTrail record of ex.Call in compact JSON. With
// ex.Status 0 and no ex.Err it is the call's intent record: what is known
// before the upstream answers, with no errorCode, responseElements null
// and additionalEventData.outcome "unknown". Otherwise it is the final
// record: errorCode and errorMessage from the upstream's error answer
// (S3 and query XML, JSON __type/code and message), responseElements from
// the answer of a successful mutating S3 call, and the bytes transferred.
// A transport error (ex.Err with no status) leaves the outcome unknown and
// says what went wrong in additionalEventData.upstreamError.
//
// The record's eventID is ex.EventID (a fresh one when empty), its
// eventTime ex.Time (now when zero), its recipientAccountId ex.Account or
// else the principal's account, also given to S3 bucket resources without
// one. The record is at most CloudTrail's 256 KB: the largest parameters
// or answer elements are left out, each replaced by a string saying so,
// until it fits.
func Record(ex *Exchange) []byte {
	c := &ex.Call
	t := ex.Time
	if t.IsZero() {
		t = time.Now()
	}
	rec := record{
		EventVersion:      awsapi.AuditEventVersion,
		UserIdentity:      userIdentity(ex),
		EventTime:         t.UTC().Format("2006-01-02T15:04:05Z"),
		EventSource:       c.Source,
		EventName:         c.Name,
		AWSRegion:         ex.Region,
		SourceIPAddress:   ex.SourceIP,
		UserAgent:         cut(ex.UserAgent, maxRecordString),
		RequestParameters: c.Params,
		RequestID:         ex.RequestID,
		EventID:           ex.EventID,
		ReadOnly:          c.ReadOnly,
		EventType:         "AwsApiCall",
		ManagementEvent:   !c.Data,
		EventCategory:     "Management",
		TLSDetails:        ex.TLS,
	}
	if rec.EventSource == "" {
		rec.EventSource = eventSource(c.Service, ex.Host)
	}
	if c.Protocol == ProtocolS3 {
		// S3 writes the user agent in brackets: "[aws-cli/2.18.5 ...]".
		rec.UserAgent = "[" + cut(ex.UserAgent, maxRecordString-2) + "]"
	}
	if c.Data {
		rec.EventCategory = "Data"
	}
	if rec.EventID == "" {
		rec.EventID = awsapi.NewUUID()
	}
	if rec.AWSRegion == "" {
		rec.AWSRegion = defaultRegion
	}
	switch {
	case ex.Account != "":
		rec.RecipientAccountID = ex.Account
	case ex.Principal != nil:
		rec.RecipientAccountID = ex.Principal.AccountID
	}
	for _, r := range c.Resources {
		if r.Type == "AWS::S3::Bucket" && r.AccountID == "" {
			r.AccountID = rec.RecipientAccountID
		}
		rec.Resources = append(rec.Resources, r)
	}
	add := map[string]any{}
	if c.Protocol == ProtocolS3 {
		if ex.SignatureVersion != "" {
			add["SignatureVersion"] = ex.SignatureVersion
		}
		if ex.TLS != nil && ex.TLS.CipherSuite != "" {
			add["CipherSuite"] = ex.TLS.CipherSuite
		}
		if ex.AuthMethod != "" {
			add["AuthenticationMethod"] = ex.AuthMethod
		}
	}
	switch {
	case ex.Status == 0 && ex.Err == nil:
		add["outcome"] = OutcomeUnknown
	case ex.Status == 0:
		add["outcome"] = OutcomeUnknown
		add["upstreamError"] = cut(ex.Err.Error(), maxRecordString)
	default:
		if c.Protocol == ProtocolS3 {
			add["bytesTransferredIn"] = ex.BytesIn
			add["bytesTransferredOut"] = ex.BytesOut
			if id2 := ex.ResponseHeader.Get("x-amz-id-2"); id2 != "" {
				add["x-amz-id-2"] = id2
			}
		}
		if code, msg := upstreamError(ex); code != "" {
			rec.ErrorCode, rec.ErrorMessage = cut(code, maxRecordString), cut(msg, maxRecordString)
		} else if !c.ReadOnly && c.Protocol == ProtocolS3 {
			rec.ResponseElements = s3ResponseElements(c.Name, ex.ResponseHeader, decoded(ex.ResponseHeader, ex.ResponseBody))
		} else if !c.ReadOnly {
			rec.ResponseElements = genericResponseElements(c.Protocol, decoded(ex.ResponseHeader, ex.ResponseBody), c.redact)
		}
	}
	if len(add) > 0 {
		rec.AdditionalEventData = add
	}
	return encodeRecord(&rec)
}

// defaultRegion is the awsRegion of a call signed for no region.
const defaultRegion = "us-east-1"

// encodeRecord writes rec as compact JSON of at most event.MaxRecordSize
// bytes, CloudTrail's cap on a record: while it is larger, the largest
// member of requestParameters or responseElements is replaced by a string
// saying how many bytes were left out.
func encodeRecord(rec *record) []byte {
	b := marshal(rec)
	for len(b) > event.MaxRecordSize {
		if !shrink(rec, len(b)-event.MaxRecordSize) {
			break
		}
		b = marshal(rec)
	}
	return b
}

// shrink replaces the largest member of rec's requestParameters or
// responseElements (copying the map it changes: the call's own are not
// touched); false when there is none left to replace.
func shrink(rec *record, excess int) bool {
	var into *map[string]any
	var key string
	size := 0
	for _, m := range []*map[string]any{&rec.RequestParameters, &rec.ResponseElements} {
		for k, v := range *m {
			if n := len(marshalValue(v)); n > size {
				into, key, size = m, k, n
			}
		}
	}
	if into == nil || size < 64 {
		return false
	}
	copied := make(map[string]any, len(*into))
	for k, v := range *into {
		copied[k] = v
	}
	copied[key] = fmt.Sprintf("%d bytes left out: the record would exceed CloudTrail's 256 KB by %d", size, excess)
	*into = copied
	return true
}

func marshal(rec *record) []byte {
	b := marshalValue(rec)
	if b == nil {
		// Params come from JSON or strings: nothing they hold fails to
		// encode. Keep the call's record without them if one ever does.
		rec.RequestParameters = map[string]any{"unencodable": "the parameters could not be encoded as JSON"}
		rec.ResponseElements = nil
		b = marshalValue(rec)
	}
	return b
}

// marshalValue encodes v as compact JSON without HTML escaping (records
// keep <, > and & as they are); nil when v cannot be encoded.
func marshalValue(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// userIdentity is the record's userIdentity: the verified principal, else
// the access key the call was signed with (type Unknown), else an
// anonymous caller as S3 records one.
func userIdentity(ex *Exchange) identity {
	if p := ex.Principal; p != nil {
		id := identity{Type: p.Type, PrincipalID: p.PrincipalID, ARN: p.ARN, AccountID: p.AccountID,
			AccessKeyID: p.AccessKeyID, UserName: p.UserName}
		if id.AccessKeyID == "" {
			id.AccessKeyID = ex.AccessKeyID
		}
		if id.Type == "" {
			id.Type = "Unknown"
		}
		return id
	}
	if ex.AccessKeyID == "" && ex.AuthMethod == "" {
		// S3 writes accountId "anonymous" (or ANONYMOUS_PRINCIPAL);
		// opentrail's records hold 12-digit account ids only, so an
		// anonymous caller is an AWSAccount without one.
		return identity{Type: "AWSAccount"}
	}
	return identity{Type: "Unknown", AccessKeyID: ex.AccessKeyID}
}

// upstreamError returns the error code and message of a failed call's
// answer: from its body (S3's <Error>, the query protocol's
// <ErrorResponse><Error>, JSON's __type or code and message), from
// x-amzn-ErrorType, or made from the status for an answer without a body
// (a HEAD). A successful answer gives "".
//
// A redirect is an error only when its body is an error document, or for
// S3's 301 and 307 (a bucket in another region, whose HEAD answers carry
// no body); other 3xx answers, 304 included, are answers.
func upstreamError(ex *Exchange) (code, msg string) {
	if ex.Status < 300 || ex.Status == http.StatusNotModified {
		return "", ""
	}
	body := bytes.TrimSpace(decoded(ex.ResponseHeader, ex.ResponseBody))
	if ex.Call.Protocol == ProtocolCBOR {
		if j, err := awsapi.CBORToJSON(body); err == nil {
			body = j
		}
	}
	if len(body) > 0 && body[0] == '<' {
		code, msg = xmlError(body)
	} else if len(body) > 0 && body[0] == '{' {
		code, msg = jsonError(body)
	}
	if code == "" {
		if t := ex.ResponseHeader.Get("x-amzn-ErrorType"); t != "" {
			code, _, _ = strings.Cut(t, ":")
		}
	}
	if code == "" && ex.Status < 400 {
		s3Redirect := ex.Call.Protocol == ProtocolS3 &&
			(ex.Status == http.StatusMovedPermanently || ex.Status == http.StatusTemporaryRedirect)
		if !s3Redirect {
			return "", ""
		}
	}
	if code == "" {
		code = statusCode(ex.Call, ex.Status)
	}
	return code, msg
}

// xmlError reads the first Code and Message of an S3 or query-protocol
// error document.
func xmlError(body []byte) (code, msg string) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var in string
	for {
		tok, err := dec.Token()
		if err != nil {
			return code, msg
		}
		switch t := tok.(type) {
		case xml.StartElement:
			in = t.Name.Local
		case xml.EndElement:
			in = ""
		case xml.CharData:
			switch {
			case in == "Code" && code == "":
				code = strings.TrimSpace(string(t))
			case in == "Message" && msg == "":
				msg = strings.TrimSpace(string(t))
			}
		}
		if code != "" && msg != "" {
			return code, msg
		}
	}
}

// jsonError reads an AWS JSON error: __type (its shape name after any
// namespace#) or code, and message or Message.
func jsonError(body []byte) (code, msg string) {
	var e map[string]any
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	str := func(k string) string { s, _ := e[k].(string); return s }
	code = str("__type")
	if code == "" {
		code = str("code")
	}
	if code == "" {
		code = str("Code")
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	code, _, _ = strings.Cut(code, ":")
	msg = str("message")
	if msg == "" {
		msg = str("Message")
	}
	return code, msg
}

// statusCode names the error of an answer without an error body, as S3
// names it for a HEAD: NoSuchKey, NoSuchBucket, AccessDenied, ...
func statusCode(c Call, status int) string {
	switch status {
	case http.StatusNotFound:
		if c.Protocol == ProtocolS3 {
			if c.Key != "" {
				return "NoSuchKey"
			}
			return "NoSuchBucket"
		}
		return "NotFound"
	case http.StatusForbidden:
		return "AccessDenied"
	case http.StatusMovedPermanently:
		return "PermanentRedirect"
	case http.StatusTemporaryRedirect:
		return "TemporaryRedirect"
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusPreconditionFailed:
		return "PreconditionFailed"
	case http.StatusRequestedRangeNotSatisfiable:
		return "InvalidRange"
	case http.StatusMethodNotAllowed:
		return "MethodNotAllowed"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusInternalServerError:
		return "InternalError"
	}
	if text := http.StatusText(status); text != "" {
		return strings.ReplaceAll(strings.ReplaceAll(text, " ", ""), "-", "")
	}
	return "HTTP" + strconv.Itoa(status)
}

// s3ResponseHeaders are the answer headers CloudTrail logs in a mutating
// S3 call's responseElements.
var s3ResponseHeaders = []string{
	"x-amz-version-id", "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
	"x-amz-server-side-encryption-bucket-key-enabled", "x-amz-delete-marker", "x-amz-copy-source-version-id",
	"x-amz-expiration",
}

// s3ResponseElements is a successful mutating S3 call's responseElements:
// the answer's headers CloudTrail logs and, for the multipart calls and
// CopyObject, the result document's members.
func s3ResponseElements(name string, h http.Header, body []byte) map[string]any {
	out := map[string]any{}
	for _, k := range s3ResponseHeaders {
		if v := h.Get(k); v != "" {
			out[k] = v
		}
	}
	if name == "PutObject" {
		if etag := strings.Trim(h.Get("ETag"), `"`); etag != "" {
			out["ETag"] = etag
		}
	}
	var result string
	switch name {
	case "CreateMultipartUpload":
		result = "CreateMultipartUploadResult"
	case "CompleteMultipartUpload":
		result = "CompleteMultipartUploadResult"
	case "CopyObject":
		result = "CopyObjectResult"
	case "UploadPartCopy":
		result = "CopyPartResult"
	}
	if result != "" && len(body) > 0 {
		if ct, _, _ := mime.ParseMediaType(h.Get("Content-Type")); ct == "" || strings.Contains(ct, "xml") {
			if m := xmlMembers(body); len(m) > 0 {
				out[result] = m
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// xmlMembers returns the members of an XML result document's root
// element, names lower-cameled (UploadId → uploadId; ETag is kept as
// CloudTrail writes it), its namespace left out.
func xmlMembers(body []byte) map[string]any {
	_, v, ok := xmlTree(body)
	root, _ := v.(map[string]any)
	if !ok || root == nil {
		return nil
	}
	out := make(map[string]any, len(root))
	for k, val := range root {
		switch k {
		case "xmlns":
		case "ETag":
			out[k] = val
		default:
			out[awsapi.LowerCamel(k)] = val
		}
	}
	return out
}

// genericResponseElements is a successful mutating call's
// responseElements for the JSON, CBOR, query and REST-JSON protocols: the
// answer's members, lower-cameled and redacted — a JSON object as it is,
// the query protocol's <OpResult> element's members. Null when the answer
// was not kept or is not one of those.
func genericResponseElements(protocol string, body []byte, redact []string) map[string]any {
	var m map[string]any
	switch protocol {
	case ProtocolJSON, ProtocolRESTJSON:
		m = jsonObject(body)
	case ProtocolCBOR:
		m = cborObject(body)
	case ProtocolQuery:
		_, v, ok := xmlTree(body)
		if !ok {
			return nil
		}
		root, _ := v.(map[string]any)
		for k, child := range root {
			if strings.HasSuffix(k, "Result") {
				m, _ = child.(map[string]any)
			}
		}
	}
	if len(m) == 0 {
		return nil
	}
	return newRedactor(redact).params(awsapi.LowerCamelKeys(m).(map[string]any))
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
