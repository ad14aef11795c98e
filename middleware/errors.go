package middleware

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/opentrail/opentrail/internal/capture"
)

// jsonCodes are the JSON protocols' names of the codes the middleware
// answers with; query services use the query codes.
var jsonCodes = map[string]string{
	"ServiceUnavailable":    "ServiceUnavailableException",
	"RequestEntityTooLarge": "RequestEntityTooLargeException",
	"IncompleteBody":        "SerializationException",
}

var queryCodes = map[string]string{
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"IncompleteSignatureException":        "IncompleteSignature",
}

// writeError answers a call the middleware does not let through: in the
// AWS protocol's own shape for an AWS-protocol service (S3 XML, JSON
// __type, query ErrorResponse), else as JSON {"__type", "message"}.
func writeError(w http.ResponseWriter, r *http.Request, protocol string, aws bool, reqID string, status int, code, message string) {
	h := w.Header()
	if !aws {
		protocol = capture.ProtocolUnknown
	}
	switch protocol {
	case capture.ProtocolS3:
		h.Set("Content-Type", "application/xml")
		h.Set("x-amz-request-id", reqID)
	case capture.ProtocolQuery:
		h.Set("Content-Type", "text/xml")
		h.Set("x-amzn-RequestId", reqID)
	case capture.ProtocolJSON:
		ct := r.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "application/x-amz-json-1.") {
			ct = "application/x-amz-json-1.1"
		}
		h.Set("Content-Type", ct)
		h.Set("x-amzn-RequestId", reqID)
		h.Set("x-amzn-ErrorType", jsonCode(code))
	default:
		h.Set("Content-Type", "application/json")
		h.Set("x-amzn-RequestId", reqID)
		h.Set("x-amzn-ErrorType", jsonCode(code))
	}
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	body := errorBody(protocol, aws, reqID, code, message)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// errorBody is the body writeError sends.
func errorBody(protocol string, aws bool, reqID, code, message string) []byte {
	if !aws {
		protocol = capture.ProtocolUnknown
	}
	switch protocol {
	case capture.ProtocolS3:
		return []byte(xml.Header + "<Error><Code>" + esc(code) + "</Code><Message>" + esc(message) +
			"</Message><RequestId>" + esc(reqID) + "</RequestId></Error>")
	case capture.ProtocolQuery:
		if q, ok := queryCodes[code]; ok {
			code = q
		}
		fault := "Sender"
		if code == "ServiceUnavailable" {
			fault = "Receiver"
		}
		return []byte(`<ErrorResponse><Error><Type>` + fault +
			"</Type><Code>" + esc(code) + "</Code><Message>" + esc(message) + "</Message></Error><RequestId>" +
			esc(reqID) + "</RequestId></ErrorResponse>")
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{jsonCode(code), message})
	return b
}

func jsonCode(code string) string {
	if c, ok := jsonCodes[code]; ok {
		return c
	}
	return code
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
