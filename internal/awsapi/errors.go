package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"unicode/utf8"
)

// Error is an error the client sees: Code becomes __type and
// X-Amzn-ErrorType, Message becomes message, Status the HTTP status.
type Error struct {
	Code    string
	Message string
	Status  int // 0 means 400
	// Members are the error shape's other members, written next to
	// __type and message by the JSON protocols (MalformedQueryException's
	// queryCompileError); nil for none.
	Members map[string]any
	// denied marks a refusal made by AccessDenied.
	denied bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus reports the status code e is sent with.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// NewError returns a client error (HTTP 400) with the given code and message.
func NewError(code, message string) *Error {
	return &Error{Code: code, Message: message, Status: http.StatusBadRequest}
}

// Errorf is NewError with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return NewError(code, fmt.Sprintf(format, args...))
}

// Codes the wire layer itself produces.
const (
	CodeSerialization      = "SerializationException"
	CodeUnknownOperation   = "UnknownOperationException"
	CodeInternalFailure    = "InternalFailure"
	CodeThrottling         = "ThrottlingException"
	CodeServiceUnavailable = "ServiceUnavailableException"
	CodeValidation         = "ValidationException"
)

// internalMessage is what clients read for any error that is not an *Error.
const internalMessage = "We encountered an internal error. Please try again."

// Throttled returns the error AWS sends when a rate limit is exceeded.
// SDKs retry it with back-off.
func Throttled() *Error {
	return NewError(CodeThrottling, "Rate exceeded")
}

// Unavailable returns a 503 error; SDKs retry it. Use it when the event
// store cannot accept writes (opentrail fails closed).
func Unavailable(message string) *Error {
	return &Error{Code: CodeServiceUnavailable, Message: message, Status: http.StatusServiceUnavailable}
}

// NotStored is what both ingest doors (PutAuditEvents and POST
// /v1/events) answer when the ingester's Submit fails: whatever the cause
// (a failed commit, the server shutting down), the store did not persist
// the request, so it is 503 ServiceUnavailableException with message,
// which SDKs retry (fail-closed). err stays in the chain for logs.
func NotStored(message string, err error) error {
	return fmt.Errorf("%w (%w)", Unavailable(message), err)
}

// Internal returns the generic InternalFailure error.
func Internal() *Error {
	return &Error{Code: CodeInternalFailure, Message: internalMessage, Status: http.StatusInternalServerError}
}

// AsError maps any error to the *Error the client sees. An *Error anywhere
// in err's chain is returned as is; everything else is logged with its
// detail and becomes Internal().
func AsError(ctx context.Context, logger *slog.Logger, reqID string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger.ErrorContext(ctx, "internal error", slog.String("request_id", reqID), slog.Any("err", err))
	return Internal()
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, contentType, reqID string, e *Error) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-ErrorType", e.Code)
	if reqID != "" {
		h.Set("x-amzn-RequestId", reqID)
	}
	var body any = errorBody{Type: e.Code, Message: e.Message}
	if len(e.Members) > 0 {
		m := make(map[string]any, len(e.Members)+2)
		for k, v := range e.Members {
			m[k] = v
		}
		m["__type"], m["message"] = e.Code, e.Message
		body = m
	}
	b, err := json.Marshal(body)
	if err != nil { // cannot happen for two strings
		b = []byte(`{"__type":"InternalFailure","message":"` + internalMessage + `"}`)
	}
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(b)
}

// WriteJSON11Error writes err as an AWS JSON 1.1 error response. Errors that
// are not *Error are logged with slog's default logger and sent as
// InternalFailure/500.
func WriteJSON11Error(w http.ResponseWriter, reqID string, err error) {
	writeError(w, contentTypeJSON11, reqID, AsError(context.Background(), nil, reqID, err))
}

// WriteRESTJSONError writes err as an AWS REST-JSON error response, mapped
// as in WriteJSON11Error.
func WriteRESTJSONError(w http.ResponseWriter, reqID string, err error) {
	writeError(w, contentTypeJSON, reqID, AsError(context.Background(), nil, reqID, err))
}

const (
	contentTypeJSON11 = "application/x-amz-json-1.1"
	contentTypeJSON10 = "application/x-amz-json-1.0"
	contentTypeJSON   = "application/json"
)

// Clip shortens s, caller input quoted in an error message, to at most n
// bytes, cut at a rune boundary and marked with "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
