package gateway

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/opentrail/opentrail/internal/capture"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// apiError is an answer the gateway gives itself, in the error shape of
// the protocol the client speaks.
type apiError struct {
	status        int
	code, message string
	// sender is false for faults of the gateway or the store (query
	// protocol <Type>Receiver</Type>).
	receiver bool
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// unavailable is the answer to a mutating call whose record cannot be
// committed: the upstream never sees the call.
func unavailable(proto, reason string) *apiError {
	code := "ServiceUnavailable"
	if proto == capture.ProtocolJSON || proto == capture.ProtocolRESTJSON || proto == capture.ProtocolUnknown {
		code = "ServiceUnavailableException"
	}
	return &apiError{status: http.StatusServiceUnavailable, code: code, receiver: true,
		message: "The call was not forwarded because its audit record could not be stored: " + reason + ". Retry once the audit store is available."}
}

// badGateway is the answer when the upstream cannot be reached.
func badGateway(proto string, err error) *apiError {
	code := "InternalError"
	if proto != capture.ProtocolS3 && proto != capture.ProtocolQuery {
		code = "InternalFailure"
	}
	return &apiError{status: http.StatusBadGateway, code: code, receiver: true,
		message: "The gateway could not reach its upstream: " + err.Error()}
}

// tooLarge is the answer to a non-S3 request body over max_body_bytes.
func tooLarge(proto string, limit int64) *apiError {
	code := "RequestEntityTooLarge"
	if proto == capture.ProtocolJSON || proto == capture.ProtocolRESTJSON || proto == capture.ProtocolUnknown {
		code = "RequestEntityTooLargeException"
	}
	return &apiError{status: http.StatusRequestEntityTooLarge, code: code,
		message: "The request body is larger than the gateway's limit of " + strconv.FormatInt(limit, 10) + " bytes (gateway.max_body_bytes)."}
}

// authError maps a signature failure to the calling protocol's code:
// sigv4 gives S3's codes and the JSON protocols'; the query protocol (STS,
// IAM, SQS, ...) answers with its own names.
func authError(proto, service string, err error) *apiError {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		return &apiError{status: http.StatusForbidden, code: "AccessDenied", message: err.Error()}
	}
	code := se.Code(service)
	if proto == capture.ProtocolQuery {
		switch code {
		case "UnrecognizedClientException":
			code = "InvalidClientTokenId"
		case "InvalidSignatureException":
			code = "SignatureDoesNotMatch"
		case "MissingAuthenticationTokenException":
			code = "MissingAuthenticationToken"
		case "IncompleteSignatureException":
			code = "IncompleteSignature"
		}
	}
	return &apiError{status: se.Status(service), code: code, message: se.Message}
}

// protocolOf tells which protocol's error shape a request expects, before
// the request is identified (identification may need its body).
func protocolOf(r *http.Request, service string) string {
	switch {
	case service == "s3":
		return capture.ProtocolS3
	case r.Header.Get("X-Amz-Target") != "":
		return capture.ProtocolJSON
	case r.URL.Query().Has("Action"),
		r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		return capture.ProtocolQuery
	}
	return capture.ProtocolRESTJSON
}

type s3ErrorDoc struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
}

type queryErrorDoc struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// writeError answers e in the error shape of proto: S3's XML <Error>, the
// query protocol's <ErrorResponse>, or the JSON protocols' __type/message
// with X-Amzn-ErrorType. This is the one place the gateway's own errors
// take their wire form.
// It returns the body written.
func writeError(w http.ResponseWriter, r *http.Request, proto, reqID string, e *apiError) []byte {
	h := w.Header()
	var body []byte
	switch proto {
	case capture.ProtocolS3:
		body, _ = xml.Marshal(s3ErrorDoc{Code: e.code, Message: e.message, RequestID: reqID})
		body = append([]byte(xml.Header), body...)
		h.Set("Content-Type", "application/xml")
		h.Set("x-amz-request-id", reqID)
	case capture.ProtocolQuery:
		var d queryErrorDoc
		d.Error.Type, d.Error.Code, d.Error.Message, d.RequestID = "Sender", e.code, e.message, reqID
		if e.receiver {
			d.Error.Type = "Receiver"
		}
		body, _ = xml.Marshal(d)
		h.Set("Content-Type", "text/xml")
		h.Set("x-amzn-RequestId", reqID)
	default:
		ct := "application/json"
		if proto == capture.ProtocolJSON {
			ct = "application/x-amz-json-1.1"
			if v := r.Header.Get("Content-Type"); strings.HasPrefix(v, "application/x-amz-json-1.0") {
				ct = "application/x-amz-json-1.0"
			}
		}
		body, _ = json.Marshal(map[string]string{"__type": e.code, "message": e.message})
		h.Set("Content-Type", ct)
		h.Set("X-Amzn-ErrorType", e.code)
		h.Set("x-amzn-RequestId", reqID)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return body
}
