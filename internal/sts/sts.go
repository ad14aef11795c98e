// Package sts serves the part of AWS Security Token Service that tools
// call before anything else: GetCallerIdentity, which Terraform, SDK
// credential checks and `aws sts get-caller-identity` use to learn who
// the credentials belong to.
//
// STS speaks the AWS query protocol: a form-encoded request (POST body or
// GET query string) naming an Action and a Version, answered with XML in
// the 2011-06-15 namespace. Every STS client in use (botocore's model, the
// AWS CLI's, aws-sdk-go-v2) sends only this protocol. Operations are
// functions func(ctx, *In) (*Out, error) over the small [Caller]
// interface; errors are answered as the query protocol's <ErrorResponse>
// document. Each call is recorded as CloudTrail records it (eventSource
// sts.amazonaws.com, a read-only management event) through an
// [awsapi.Auditor].
package sts

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/opentrail/opentrail/internal/awsapi"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// Namespace is the XML namespace of STS answers.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// Version is the API version STS answers.
const Version = "2011-06-15"

// maxAction bounds the action name echoed in errors and records.
const maxAction = 128

// Identity is the caller an operation answers about.
type Identity struct {
	Account string
	ARN     string
	UserID  string
}

// Caller is what the operations need of a request: who made it. The server
// implements it over the verified SigV4 principal ([FromContext]).
type Caller interface {
	Identity(ctx context.Context) (Identity, error)
}

// FromContext is the Caller of a request that went through the server's
// authentication: the principal of the awsapi.Caller in the context.
type FromContext struct{}

// Identity implements Caller.
func (FromContext) Identity(ctx context.Context) (Identity, error) {
	c := awsapi.CallerFrom(ctx)
	if c == nil || c.Principal == nil {
		return Identity{}, errors.New("sts: request reached the service without a verified caller")
	}
	p := c.Principal
	return Identity{Account: p.AccountID, ARN: p.ARN, UserID: p.PrincipalID}, nil
}

// GetCallerIdentityInput has no members.
type GetCallerIdentityInput struct{}

// GetCallerIdentityOutput is GetCallerIdentity's result. Its members are
// written in the order AWS writes them.
type GetCallerIdentityOutput struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

// Service is the STS operations over a Caller.
type Service struct {
	Caller Caller
}

// GetCallerIdentity answers with the account, ARN and user id of the
// credentials that signed the request.
func (s *Service) GetCallerIdentity(ctx context.Context, _ *GetCallerIdentityInput) (*GetCallerIdentityOutput, error) {
	id, err := s.Caller.Identity(ctx)
	if err != nil {
		return nil, err
	}
	return &GetCallerIdentityOutput{Arn: id.ARN, UserID: id.UserID, Account: id.Account}, nil
}

// Error is an STS error answer.
type Error struct {
	Status  int
	Code    string
	Message string
	// Sender is true for errors the caller must fix (Type Sender), false
	// for the service's own (Type Receiver).
	Sender bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// operation is one registered action, type-erased.
type operation struct {
	readOnly bool
	invoke   func(ctx context.Context, form url.Values) (any, error)
}

func newOperation[In, Out any](readOnly bool, fn func(context.Context, *In) (*Out, error)) *operation {
	return &operation{readOnly: readOnly, invoke: func(ctx context.Context, _ url.Values) (any, error) {
		out, err := fn(ctx, new(In))
		if err != nil {
			return nil, err
		}
		return out, nil
	}}
}

// Options configure a Handler.
type Options struct {
	// Auditor receives the CloudTrail record of every call; nil records
	// nothing.
	Auditor awsapi.Auditor
	Logger  *slog.Logger
	// Caller defaults to FromContext.
	Caller Caller
}

// Handler serves STS requests.
type Handler struct {
	ops     map[string]*operation
	auditor awsapi.Auditor
	log     *slog.Logger
}

// known lists STS's other actions, which opentrail does not serve: they
// are answered InvalidAction with a message saying so.
var known = map[string]bool{
	"AssumeRole": true, "AssumeRoleWithSAML": true, "AssumeRoleWithWebIdentity": true, "AssumeRoot": true,
	"DecodeAuthorizationMessage": true, "GetAccessKeyInfo": true, "GetDelegatedAccessToken": true,
	"GetFederationToken": true, "GetSessionToken": true, "GetWebIdentityToken": true,
}

// New returns a Handler serving GetCallerIdentity.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Caller == nil {
		opts.Caller = FromContext{}
	}
	svc := &Service{Caller: opts.Caller}
	return &Handler{
		ops:     map[string]*operation{"GetCallerIdentity": newOperation(true, svc.GetCallerIdentity)},
		auditor: opts.Auditor,
		log:     opts.Logger,
	}
}

// Serve answers one request whose (verified) body is body. The request
// context must carry an awsapi.Caller.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, body []byte) {
	c := awsapi.CallerFrom(r.Context())
	reqID := awsapi.NewUUID()
	if c != nil && c.RequestID != "" {
		reqID = c.RequestID
	}
	form, perr := parseForm(r, body)
	action := form.Get("Action")
	if len(action) > maxAction {
		action = action[:maxAction]
	}
	var (
		out any
		err error
		op  *operation
	)
	switch {
	case perr != nil:
		err = perr
	case r.Method != http.MethodPost && r.Method != http.MethodGet:
		err = &Error{Status: http.StatusMethodNotAllowed, Code: "InvalidAction", Sender: true,
			Message: fmt.Sprintf("STS is called with POST (or GET), not %s.", r.Method)}
	case action == "":
		err = &Error{Status: http.StatusBadRequest, Code: "MissingAction", Sender: true, Message: "Missing Action"}
	case h.ops[action] == nil && known[action]:
		err = &Error{Status: http.StatusBadRequest, Code: "InvalidAction", Sender: true,
			Message: fmt.Sprintf("Could not find operation %s for version %s: opentrail's STS answers only GetCallerIdentity", action, Version)}
	case h.ops[action] == nil:
		err = &Error{Status: http.StatusBadRequest, Code: "InvalidAction", Sender: true,
			Message: fmt.Sprintf("Could not find operation %s for version %s", action, versionOf(form))}
	default:
		op = h.ops[action]
		out, err = op.invoke(r.Context(), form)
	}
	var e *Error
	if err != nil {
		if !errors.As(err, &e) {
			h.log.ErrorContext(r.Context(), "sts operation failed", slog.String("action", action), slog.String("request_id", reqID), slog.Any("err", err))
			e = &Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "The request processing has failed because of an unknown error, exception or failure."}
		}
	}
	if h.auditor != nil && action != "" && c != nil {
		cc := *c
		cc.RequestID = reqID
		var code, msg string
		if e != nil {
			code, msg = e.Code, e.Message
		}
		readOnly := op == nil || op.readOnly
		if aerr := awsapi.RecordCall(r.Context(), h.auditor, readOnly, awsapi.AuditRecord(&cc, "sts", action, readOnly, nil, nil, code, msg)); aerr != nil {
			h.log.ErrorContext(r.Context(), "self-audit record not stored; answering 503", slog.String("action", action), slog.Any("err", aerr))
			e = &Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: awsapi.AuditUnavailable().Message}
		}
	}
	if e != nil {
		WriteError(w, reqID, e)
		return
	}
	writeResult(w, reqID, action, out)
}

func versionOf(form url.Values) string {
	v := form.Get("Version")
	if v == "" {
		return Version
	}
	if len(v) > 32 {
		v = v[:32]
	}
	return v
}

// parseForm reads the request's parameters: the query string, and a
// form-encoded body.
func parseForm(r *http.Request, body []byte) (url.Values, error) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		form = url.Values{}
	}
	if len(body) == 0 {
		return form, nil
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	if ct != "" && ct != "application/x-www-form-urlencoded" {
		return form, &Error{Status: http.StatusBadRequest, Code: "InvalidParameterValue", Sender: true,
			Message: fmt.Sprintf("STS takes a form-encoded body (application/x-www-form-urlencoded), not %s", truncate(ct, 64))}
	}
	bf, err := url.ParseQuery(string(body))
	if err != nil {
		return form, &Error{Status: http.StatusBadRequest, Code: "MalformedQueryString", Sender: true,
			Message: "The request body is not a valid form: " + err.Error()}
	}
	for k, v := range bf {
		form[k] = append(form[k], v...)
	}
	return form, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// writeResult writes <ActionResponse><ActionResult>…</ActionResult>
// <ResponseMetadata>…</ResponseMetadata></ActionResponse>.
func writeResult(w http.ResponseWriter, reqID, action string, out any) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}}
	err := enc.EncodeToken(start)
	if err == nil {
		err = enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	if err == nil {
		err = enc.EncodeElement(struct {
			RequestID string `xml:"RequestId"`
		}{reqID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	}
	if err == nil {
		err = enc.EncodeToken(start.End())
	}
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		WriteError(w, reqID, &Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "The response could not be encoded."})
		return
	}
	buf.WriteByte('\n')
	writeXML(w, reqID, http.StatusOK, buf.String())
}

// WriteError writes the query protocol's error document.
func WriteError(w http.ResponseWriter, reqID string, e *Error) {
	typ := "Receiver"
	if e.Sender {
		typ = "Sender"
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	body, _ := xml.MarshalIndent(struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		NS      string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string
			Code    string
			Message string
		}
		RequestID string `xml:"RequestId"`
	}{NS: Namespace, Error: struct {
		Type    string
		Code    string
		Message string
	}{typ, e.Code, e.Message}, RequestID: reqID}, "", "  ")
	writeXML(w, reqID, status, string(body)+"\n")
}

func writeXML(w http.ResponseWriter, reqID string, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("x-amzn-RequestId", reqID)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// AuthError turns a signature failure into STS's error: the query
// protocol's codes (InvalidClientTokenId, SignatureDoesNotMatch, ...), not
// the JSON protocols'.
func AuthError(se *sigv4.Error) *Error {
	e := &Error{Status: se.Status("sts"), Sender: true, Message: se.Message}
	switch se.Kind {
	case sigv4.KindMissingAuthentication:
		e.Code = "MissingAuthenticationToken"
	case sigv4.KindIncompleteSignature, sigv4.KindIncompleteBody:
		e.Code = "IncompleteSignature"
	case sigv4.KindUnknownAccessKey:
		e.Code = "InvalidClientTokenId"
	default:
		e.Code = "SignatureDoesNotMatch"
	}
	return e
}
